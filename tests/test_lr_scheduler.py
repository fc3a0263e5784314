"""Learning-rate schedulers give torch.optim.lr_scheduler's rates (and momenta) step by step."""
import math

import numpy as np
import pytest

from bpnet import nn, optim
from bpnet.optim import lr_scheduler
from twins import one_torch_thread, torch  # noqa: F401

SCHEDULES = {  # name: (class name, keyword arguments, steps)
    "step": ("StepLR", {"step_size": 3, "gamma": 0.5}, 12),
    "multistep": ("MultiStepLR", {"milestones": [2, 5, 5, 9], "gamma": 0.3}, 12),
    "exponential": ("ExponentialLR", {"gamma": 0.9}, 10),
    "cosine": ("CosineAnnealingLR", {"T_max": 7}, 7),
    "cosine_eta_min_and_beyond": ("CosineAnnealingLR", {"T_max": 5, "eta_min": 0.001}, 23),
    "lambda": ("LambdaLR", {"lr_lambda": lambda epoch: 1 / (1 + epoch) ** 0.5}, 10),
    "lambda_per_group": ("LambdaLR", {"lr_lambda": [lambda e: 0.9 ** e, lambda e: 1 + e]}, 6),
    "onecycle": ("OneCycleLR", {"max_lr": 0.1, "total_steps": 20}, 20),
    "onecycle_per_group_linear": ("OneCycleLR", {"max_lr": [0.1, 0.3], "epochs": 3, "steps_per_epoch": 4,
                                                 "anneal_strategy": "linear", "pct_start": 0.25}, 12),
    "onecycle_three_phase": ("OneCycleLR", {"max_lr": 0.05, "total_steps": 15, "three_phase": True,
                                            "div_factor": 10.0, "final_div_factor": 100.0}, 15),
    "onecycle_no_momentum": ("OneCycleLR", {"max_lr": 0.1, "total_steps": 9, "cycle_momentum": False}, 9),
}


def optimizers(kind):
    """The same two-group optimizer in both libraries (the groups' rates differ)."""
    ours, theirs = [nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))], [torch.ones(2), torch.ones(3)]
    if kind == "adam":
        return (optim.Adam([{"params": ours[:1]}, {"params": ours[1:], "lr": 0.02}], lr=0.01),
                torch.optim.Adam([{"params": theirs[:1]}, {"params": theirs[1:], "lr": 0.02}], lr=0.01))
    return (optim.SGD([{"params": ours[:1]}, {"params": ours[1:], "lr": 0.2}], lr=0.1, momentum=0.9),
            torch.optim.SGD([{"params": theirs[:1]}, {"params": theirs[1:], "lr": 0.2}], lr=0.1, momentum=0.9))


def hyper(opt):
    """Each group's rate and momentum (or betas), in one flat list."""
    return [v for g in opt.param_groups for v in (g["lr"], *np.atleast_1d(g.get("momentum", g.get("betas"))))]


def run(ours, theirs, steps, between=None):
    """Step both (optimizer then scheduler, as torch advises) and compare every rate and momentum each step."""
    assert hyper(ours.optimizer) == hyper(theirs.optimizer)
    for epoch in range(steps):
        ours.optimizer.step()
        theirs.optimizer.step()
        ours.step()
        theirs.step()
        if between is not None:
            between(epoch, ours.optimizer, theirs.optimizer)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-15, abs=1e-18), epoch
        assert hyper(ours.optimizer) == pytest.approx(hyper(theirs.optimizer), rel=1e-15), epoch


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("name", SCHEDULES)
def test_the_lr_sequence_is_torchs(name, kind):
    cls, kwargs, steps = SCHEDULES[name]
    ours_opt, theirs_opt = optimizers(kind)
    ours = getattr(lr_scheduler, cls)(ours_opt, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, cls)(theirs_opt, **kwargs)
    run(ours, theirs, steps)


@pytest.mark.parametrize("name", ["step", "exponential", "cosine_eta_min_and_beyond", "multistep"])
def test_a_rate_changed_by_hand_is_carried_on_as_torch_carries_it(name):
    cls, kwargs, steps = SCHEDULES[name]
    ours_opt, theirs_opt = optimizers("sgd")
    ours = getattr(lr_scheduler, cls)(ours_opt, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, cls)(theirs_opt, **kwargs)

    def change(epoch, a, b):
        if epoch == 3:
            a.param_groups[0]["lr"] = b.param_groups[0]["lr"] = 0.7

    run(ours, theirs, steps, change)


def test_onecycle_refuses_steps_beyond_its_total_as_torch():
    ours = lr_scheduler.OneCycleLR(optimizers("sgd")[0], max_lr=0.1, total_steps=3)
    for _ in range(2):
        ours.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        ours.step()
        ours.step()


@pytest.mark.parametrize("kwargs", [{}, {"mode": "max", "factor": 0.5, "patience": 1},
                                    {"threshold_mode": "abs", "threshold": 0.05, "patience": 0, "cooldown": 2},
                                    {"patience": 1, "min_lr": [0.05, 0.01], "factor": 0.2},
                                    {"patience": 0, "eps": 0.05, "factor": 0.9}])
def test_reduce_on_plateau_is_torchs(kwargs):
    ours_opt, theirs_opt = optimizers("sgd")
    ours = lr_scheduler.ReduceLROnPlateau(ours_opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs_opt, **kwargs)
    metrics = [1.0, 0.9, 0.9, 0.95, 0.9, 0.89999, 0.7, 0.8, 0.8, 0.8, 0.8, 0.75, 0.8, 0.8, 0.8, 0.8] * 2
    for m in metrics + [math.nan, 0.1]:
        ours.step(m)
        theirs.step(m)
        assert ours.get_last_lr() == theirs.get_last_lr()
        assert [ours.best, ours.num_bad_epochs, ours.cooldown_counter] == \
               [theirs.best, theirs.num_bad_epochs, theirs.cooldown_counter]


@pytest.mark.parametrize("name", ["cosine", "onecycle", "multistep"])
def test_a_scheduler_state_dict_resumes_the_sequence(name):
    cls, kwargs, steps = SCHEDULES[name]
    straight_opt, resumed_opt = optimizers("sgd")[0], optimizers("sgd")[0]
    straight = getattr(lr_scheduler, cls)(straight_opt, **kwargs)
    for _ in range(3):
        straight.step()
    checkpoint, opt_checkpoint = straight.state_dict(), straight_opt.state_dict()
    resumed_opt.load_state_dict(opt_checkpoint)
    resumed = getattr(lr_scheduler, cls)(resumed_opt, **kwargs, last_epoch=2) if name != "onecycle" else \
        getattr(lr_scheduler, cls)(resumed_opt, **kwargs)
    resumed.load_state_dict(checkpoint)
    resumed_opt.load_state_dict(opt_checkpoint)
    for _ in range(steps - 3):
        straight.step()
        resumed.step()
        assert resumed.get_last_lr() == straight.get_last_lr()


def test_a_scheduler_needs_an_optimizer():
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=2)
