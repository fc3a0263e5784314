"""End to end: small networks trained with the PyTorch-style loop learn XOR, two spirals and sin(x)."""
import numpy as np

from bpnet import nn, optim
from bpnet.data import DataLoader


def train(model, criterion, optimizer, loader, epochs):
    model.train()
    for _ in range(epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            model.backward(criterion.backward())
            optimizer.step()
    return loss


def accuracy(model, x, labels):
    model.eval()
    return float(np.mean(model(x).argmax(axis=1) == labels))


def two_spirals(n_per_arm=200, noise=0.2, seed=0):
    """Two interleaved spiral arms, 1.5 turns each; class k is the arm rotated by k * pi."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0.05, 1.0, n_per_arm)) * 3 * np.pi  # angle, denser towards the outside
    xs, ys = [], []
    for k in (0, 1):
        arm = np.column_stack([t * np.cos(t + k * np.pi), t * np.sin(t + k * np.pi)]) / np.pi
        xs.append(arm + rng.normal(0, noise, arm.shape))
        ys.append(np.full(n_per_arm, k))
    return np.concatenate(xs), np.concatenate(ys)


def test_mlp_learns_xor():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(2, 8, generator=rng), nn.Tanh(), nn.Linear(8, 2, generator=rng))
    loss = train(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05),
                 DataLoader(x, y, batch_size=4), epochs=300)
    assert loss < 0.05
    assert accuracy(model, x, y) == 1.0


def test_mlp_separates_two_spirals():
    x, y = two_spirals()
    rng = np.random.default_rng(1)
    model = nn.Sequential(
        nn.Linear(2, 64, generator=rng), nn.ReLU(),
        nn.Linear(64, 64, generator=rng), nn.ReLU(),
        nn.Linear(64, 2, generator=rng),
    )
    loader = DataLoader(x, y, batch_size=32, shuffle=True, seed=2)
    train(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01), loader, epochs=150)
    assert accuracy(model, x, y) >= 0.97


def test_small_net_fits_sine():
    x = np.linspace(-np.pi, np.pi, 256, dtype=np.float32).reshape(-1, 1)
    y = np.sin(x)
    rng = np.random.default_rng(3)
    model = nn.Sequential(nn.Linear(1, 32, generator=rng), nn.Tanh(),
                          nn.Linear(32, 32, generator=rng), nn.Tanh(), nn.Linear(32, 1, generator=rng))
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    loader = DataLoader(x, y, batch_size=32, shuffle=True, seed=4)
    train(model, nn.MSELoss(), optimizer, loader, epochs=150)
    optimizer.lr = 0.001
    train(model, nn.MSELoss(), optimizer, loader, epochs=50)
    model.eval()
    assert nn.MSELoss()(model(x), y) < 1e-3
