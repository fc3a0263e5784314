"""The default run of each page ends in a fit a learner is pleased with."""
import numpy as np
import pytest

from bpnet.engine.config import defaults
from bpnet.engine.trainer import Trainer


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_classification_default_ends_above_95_percent_with_a_calm_validation_loss(seed):
    trainer = Trainer({**defaults("classification"), "seed": seed})
    val_loss = np.array([record["val_loss"] for record in trainer.steps()])
    final = trainer.final_metrics(0)
    assert final["val_acc"] >= 0.95, final
    tenth = len(val_loss) // 10
    last, before = val_loss[-tenth:].mean(), val_loss[-2 * tenth:-tenth].mean()
    assert last <= 1.05 * before, (before, last)  # not rising at the end
    assert final["val_loss"] < 0.1
