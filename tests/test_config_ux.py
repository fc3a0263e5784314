"""What the config schema tells a person: labels in messages, help that fits the page, formulas that are poor
targets on their domain."""
import math

import pytest

from bpnet.engine.config import ConfigError, formula_warning, schema, validate_config
from bpnet.engine.recorder import Recorder
from bpnet.engine.trainer import Trainer


def errors_of(raw):
    with pytest.raises(ConfigError) as err:
        validate_config(raw)
    return err.value.errors


def test_domain_errors_name_the_fields_as_the_form_labels_them():
    assert errors_of({"x_min": 5, "x_max": 1})["x_max"] == "must be greater than “x from” (5)"
    assert "“y from”" in errors_of({"task": "surface", "y_min": 2, "y_max": 1})["y_max"]


def test_help_texts_speak_of_the_page_they_are_on():
    s = schema()
    for task in ("function", "surface", "classification"):
        assert "MNIST" not in s[task]["n_samples"]["help"] and "CNN" not in s[task]["hidden"]["help"]
    assert "images" in s["mnist"]["n_samples"]["help"] and "CNN" in s["mnist"]["hidden"]["help"]


@pytest.mark.parametrize("formula, lo, hi", [("1/x", -math.pi, math.pi), ("tan(x)", -3.14159, 3.14159),
                                              ("1/(x - 0.3)", -1, 1)])
def test_a_pole_on_the_domain_is_warned_about(formula, lo, hi):
    c = validate_config({"formula": formula, "x_min": lo, "x_max": hi})  # valid: the check grid misses the pole
    text = formula_warning(c)
    assert text and "pole" in text and formula in text


def test_a_huge_range_is_warned_about_and_a_pole_of_a_surface_too():
    assert "1e+09" in formula_warning(validate_config({"formula": "x^3", "x_min": -1000, "x_max": 1000}))
    assert "pole" in formula_warning(validate_config({"task": "surface", "formula": "1/(x - 0.013)"}))


@pytest.mark.parametrize("formula, lo, hi", [("sin(x)", -math.pi, math.pi), ("exp(x)", -10, 10), ("x^2", -1000, 1000),
                                              ("1/(x^2 + 0.001)", -1, 1), ("exp(-1000000*x^2)", -1, 1),
                                              ("1/x", 1, 3), ("sin(3*x)*exp(-x^2)", -3, 3), ("abs(x)", -1, 1)])
def test_ordinary_targets_are_not_warned_about(formula, lo, hi):
    assert formula_warning(validate_config({"formula": formula, "x_min": lo, "x_max": hi})) is None


def test_every_default_and_example_of_the_pages_is_a_fine_target():
    for task in ("function", "surface", "classification", "mnist"):
        assert formula_warning(validate_config({"task": task})) is None
    for f in ("sin(x)*cos(y)", "x^2 - y^2", "exp(-(x^2 + y^2))", "sin(3*sqrt(x^2 + y^2))", "abs(x) + abs(y)"):
        assert formula_warning(validate_config({"task": "surface", "formula": f})) is None


def test_the_warning_reaches_the_page_in_the_dataset_event():
    rec = Recorder("", Trainer({"formula": "1/x", "n_samples": 20, "hidden": [4], "epochs": 1}))
    assert "pole near x = " in rec.dataset_event()["warning"]
    assert Recorder("", Trainer({"n_samples": 20, "hidden": [4], "epochs": 1})).dataset_event()["warning"] is None
