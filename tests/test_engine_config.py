"""The job-config schema: complete defaults per task, coercion of form/CLI strings, and one clear message per bad
field, all bad fields reported at once."""
import json
import math
import re

import pytest

from bpnet.engine.config import (FIELDS, MAX_STEPS, TASKS, ConfigError, defaults, field_spec, schema, validate_field,
                                 validate_config)
from bpnet.formula import FormulaError, parse_formula


def errors_of(raw):
    """The per-field errors validate_config reports for raw (fails the test if it accepts raw)."""
    with pytest.raises(ConfigError) as info:
        validate_config(raw)
    return info.value.errors


# ----------------------------------------------------------------------------- defaults and schema

@pytest.mark.parametrize("task", TASKS)
def test_defaults_of_each_task_are_complete_and_valid(task):
    d = defaults(task)
    assert d["task"] == task
    expected = {name for name, spec in FIELDS.items() if task in spec["tasks"]}
    assert set(d) == expected
    assert validate_config(d) == d
    assert validate_config({"task": task}) == d  # a bare task gets every default


def test_per_task_defaults_differ_where_the_schema_says():
    assert defaults("surface")["formula"] == "sin(x)*cos(y)"
    assert defaults("mnist")["lr"] == 0.002 and defaults("function")["lr"] == 0.01
    assert defaults("mnist")["hidden"] == [512, 512]
    assert "formula" not in defaults("mnist") and "eval_every" not in defaults("function")
    assert "y_min" in defaults("surface") and "y_min" not in defaults("function")


def test_validated_config_is_a_fixed_point_and_json_ready():
    c = validate_config({"task": "surface", "formula": " x*y ", "hidden": "8,4"})
    assert validate_config(c) == c
    assert json.loads(json.dumps(c)) == c
    assert c["formula"] == "x*y"


def test_schema_covers_every_task_with_limits_for_forms():
    s = schema()
    assert set(s) == set(TASKS)
    for task in TASKS:
        assert s[task]["task"]["default"] == task
        for name, spec in s[task].items():
            assert spec["default"] == defaults(task)[name]
            assert {"kind", "label", "min", "max", "choices"} <= spec.keys()
    assert s["mnist"]["n_samples"]["min"] == 1000 and s["function"]["n_samples"]["min"] == 10
    assert s["mnist"]["epochs"]["max"] == 100
    json.dumps(s)


# ----------------------------------------------------------------------------- coercion of strings

def test_strings_from_forms_are_coerced():
    c = validate_config({"task": "function", "lr": "0.01", "hidden": "64, 64", "batch_norm": "true",
                         "epochs": " 12 ", "x_min": "-1.5", "normalize_inputs": "off", "dropout": "0"})
    assert c["lr"] == 0.01 and isinstance(c["lr"], float)
    assert c["hidden"] == [64, 64]
    assert c["batch_norm"] is True and c["normalize_inputs"] is False
    assert c["epochs"] == 12 and isinstance(c["epochs"], int)
    assert c["x_min"] == -1.5


@pytest.mark.parametrize("text, value", [("true", True), ("on", True), ("1", True), ("yes", True),
                                         ("False", False), ("0", False), ("no", False)])
def test_bool_strings(text, value):
    assert validate_config({"batch_norm": text})["batch_norm"] is value


def test_whole_floats_are_accepted_for_ints_and_ints_for_floats():
    c = validate_config({"epochs": 3.0, "lr": 1})
    assert c["epochs"] == 3 and isinstance(c["epochs"], int)
    assert c["lr"] == 1.0 and isinstance(c["lr"], float)


def test_empty_hidden_list_is_a_linear_model():
    assert validate_config({"hidden": ""})["hidden"] == []


# ----------------------------------------------------------------------------- one message per bad field

@pytest.mark.parametrize("field, value", [
    ("lr", 0.0), ("lr", 11), ("lr", "-1"), ("momentum", 1.0), ("weight_decay", -0.1), ("dropout", 0.95),
    ("batch_size", 0), ("batch_size", 4097), ("epochs", 0), ("epochs", 5001), ("n_samples", 9),
    ("n_samples", 20001), ("noise", -1), ("noise", 11), ("val_fraction", 0.01), ("val_fraction", 0.6),
    ("seed", -1), ("seed", 2**31), ("x_min", -1001), ("x_max", 1e4),
])
def test_out_of_range_values_name_the_field_and_the_limits(field, value):
    errors = errors_of({"task": "function", field: value})
    assert list(errors) == [field]
    spec = field_spec(field, "function")
    numbers = [float(n) for n in re.findall(r"-?[0-9][0-9.e+-]*", errors[field])]
    assert "between" in errors[field] and spec["min"] in numbers and spec["max"] in numbers


def test_every_bad_field_is_reported_at_once_with_one_message_each():
    errors = errors_of({"task": "classification", "lr": "fast", "epochs": -3, "activation": "swish",
                        "hidden": "8,x", "batch_norm": "maybe", "dataset": "cats", "seed": 1.5})
    assert set(errors) == {"lr", "epochs", "activation", "hidden", "batch_norm", "dataset", "seed"}
    assert all(isinstance(m, str) and m for m in errors.values())
    assert "number" in errors["lr"] and "'fast'" in errors["lr"]
    assert "whole number" in errors["seed"]
    assert "relu" in errors["activation"] and "swish" in errors["activation"]
    assert "moons" in errors["dataset"]
    assert "true or false" in errors["batch_norm"]


def test_config_error_is_a_value_error_whose_text_lists_fields():
    with pytest.raises(ValueError) as info:
        validate_config({"lr": 0, "epochs": 0})
    assert "lr:" in str(info.value) and "epochs:" in str(info.value)


@pytest.mark.parametrize("value", ["nan", "inf", float("nan"), float("-inf")])
def test_non_finite_numbers_are_rejected(value):
    assert "finite" in errors_of({"lr": value})["lr"]


@pytest.mark.parametrize("value", [True, None, [0.1], {"v": 1}])
def test_numbers_must_be_numbers(value):
    assert list(errors_of({"lr": value})) == ["lr"]


def test_choices_are_checked():
    assert "must be one of" in errors_of({"optimizer": "lbfgs"})["optimizer"]
    assert "must be one of" in errors_of({"init": "orthogonal"})["init"]
    assert "must be one of" in errors_of({"task": "mnist", "model": "resnet"})["model"]
    assert "must be one of" in errors_of({"lr_schedule": "step"})["lr_schedule"]


def test_bools_are_checked():
    assert list(errors_of({"normalize_inputs": 2})) == ["normalize_inputs"]
    assert list(errors_of({"batch_norm": "sometimes"})) == ["batch_norm"]


def test_unknown_task_is_one_error_on_task():
    errors = errors_of({"task": "regression", "lr": -1})
    assert list(errors) == ["task"] and "function" in errors["task"]


def test_unknown_settings_are_rejected_by_name():
    errors = errors_of({"task": "function", "learning_rate": 0.1, "lr": 0.1})
    assert errors == {"learning_rate": "unknown setting"}


def test_input_that_is_not_an_object_is_rejected():
    for raw in (None, [("lr", 0.1)], "lr=0.1", 3):
        assert list(errors_of(raw)) == ["config"]


# ----------------------------------------------------------------------------- sizes are capped

def test_hidden_layers_are_capped_in_count_and_units():
    assert "at most 8 layers" in errors_of({"hidden": [4] * 9})["hidden"]
    assert validate_config({"hidden": [4] * 8})["hidden"] == [4] * 8
    assert "1024" in errors_of({"hidden": [1025]})["hidden"]
    assert list(errors_of({"hidden": [8, 0]})) == ["hidden"]
    assert list(errors_of({"hidden": 64})) == ["hidden"]


def test_conv_channels_are_capped():
    assert list(errors_of({"task": "mnist", "model": "cnn", "conv_channels": [8] * 4})) == ["conv_channels"]
    assert list(errors_of({"task": "mnist", "model": "cnn", "conv_channels": [65]})) == ["conv_channels"]
    assert "conv block" in errors_of({"task": "mnist", "model": "cnn", "conv_channels": ""})["conv_channels"]


def test_mnist_caps_are_its_own():
    assert list(errors_of({"task": "mnist", "n_samples": 999})) == ["n_samples"]
    assert list(errors_of({"task": "mnist", "n_samples": 50001})) == ["n_samples"]
    assert list(errors_of({"task": "mnist", "epochs": 101})) == ["epochs"]
    assert list(errors_of({"task": "mnist", "val_subset": 99})) == ["val_subset"]
    assert list(errors_of({"task": "mnist", "eval_every": 0})) == ["eval_every"]


def test_total_steps_are_capped():
    # 16000 training samples one at a time for 200 epochs: 3.2 million steps
    errors = errors_of({"task": "function", "n_samples": 20000, "batch_size": 1, "epochs": 200})
    assert list(errors) == ["epochs"]
    assert f"{MAX_STEPS:,}" in errors["epochs"] and "3,200,000" in errors["epochs"]
    # the same work in larger batches is fine
    validate_config({"task": "function", "n_samples": 20000, "batch_size": 2, "epochs": 200})


def test_total_steps_count_full_batches_only():
    # 20000 samples, 16000 for training, in batches of 3: 5333 full batches (the last sample is dropped);
    # 375 epochs are 1,999,875 steps, within the limit (counting the incomplete batch would make it 2,000,250)
    validate_config({"task": "function", "n_samples": 20000, "batch_size": 3, "epochs": 375})
    assert "2,005,208" in errors_of({"task": "function", "n_samples": 20000, "batch_size": 3, "epochs": 376})["epochs"]


def test_batch_norm_needs_two_samples_per_batch():
    errors = errors_of({"task": "function", "batch_norm": True, "batch_size": 1})
    assert list(errors) == ["batch_size"] and "batch norm" in errors["batch_size"]
    validate_config({"task": "function", "batch_norm": True, "batch_size": 2})
    validate_config({"task": "function", "batch_norm": False, "batch_size": 1})
    validate_config({"task": "function", "batch_norm": True, "batch_size": 1, "hidden": []})  # no hidden layer to norm
    # a CNN's BatchNorm2d normalises over the pixels too, but its hidden dense layers are batch-normed per sample
    validate_config({"task": "mnist", "model": "cnn", "batch_norm": True, "batch_size": 1, "hidden": []})
    assert list(errors_of({"task": "mnist", "model": "cnn", "batch_norm": True, "batch_size": 1})) == ["batch_size"]


# ----------------------------------------------------------------------------- formula and domain

def test_bad_formula_carries_the_parsers_column_message():
    with pytest.raises(FormulaError) as parser:
        parse_formula("sin(3*x", ("x",))
    errors = errors_of({"task": "function", "formula": "sin(3*x"})
    assert list(errors) == ["formula"]
    assert errors["formula"] == str(parser.value) and "column" in errors["formula"]


def test_surface_formula_may_use_y_but_a_function_formula_may_not():
    assert validate_config({"task": "surface", "formula": "x*y"})["formula"] == "x*y"
    assert "y" in errors_of({"task": "function", "formula": "x*y"})["formula"]


def test_formula_not_finite_on_the_domain_is_rejected():
    errors = errors_of({"task": "function", "formula": "log(x)", "x_min": -1, "x_max": 1})
    assert list(errors) == ["formula"] and "not finite" in errors["formula"]
    validate_config({"task": "function", "formula": "log(x)", "x_min": 0.5, "x_max": 2})
    errors = errors_of({"task": "surface", "formula": "sqrt(x*y)", "x_min": -1, "x_max": 1})
    assert list(errors) == ["formula"]


def test_formula_too_long_is_rejected():
    assert "200" in errors_of({"formula": "x+" * 100 + "x"})["formula"]


@pytest.mark.parametrize("lo, hi", [(1.0, 1.0), (2.0, -2.0)])
def test_domain_must_be_increasing(lo, hi):
    errors = errors_of({"task": "function", "x_min": lo, "x_max": hi})
    assert list(errors) == ["x_max"] and "greater than “x from”" in errors["x_max"]
    errors = errors_of({"task": "surface", "y_min": lo, "y_max": hi})
    assert list(errors) == ["y_max"]


def test_reversed_domain_is_not_also_blamed_on_the_formula():
    # log(x - 1.5) is fine on [2, 3]; on the "domain" [2, 1] only the domain is wrong
    assert errors_of({"task": "function", "formula": "log(x-1.5)", "x_min": 2, "x_max": 1}).keys() == {"x_max"}


def test_a_bad_bound_skips_the_formula_check_instead_of_guessing():
    errors = errors_of({"task": "function", "formula": "log(x)", "x_min": "low", "x_max": 1})
    assert list(errors) == ["x_min"]


def test_defaults_domain_is_pi_for_functions():
    d = defaults("function")
    assert d["x_min"] == -math.pi and d["x_max"] == math.pi


# ----------------------------------------------------------------------------- numbers as a person types them
@pytest.mark.parametrize("name, text", [("lr", "0_1"), ("lr", "1_000"), ("epochs", "1_0"), ("lr", "٣"),
                                        ("epochs", "٣"), ("lr", "0x10"), ("lr", "1e"), ("lr", ".")])
def test_numbers_python_reads_but_a_person_would_not_type_are_refused(name, text):
    assert "expected a" in validate_field_errors(name, text)


@pytest.mark.parametrize("name, text, value", [("lr", "0.1", 0.1), ("lr", ".5", 0.5), ("lr", "1e-3", 0.001),
                                               ("lr", "+2.", 2.0), ("lr", " 3E0 ", 3.0), ("epochs", "+12", 12)])
def test_numbers_as_typed_are_read(name, text, value):
    assert validate_field(name, text) == value


def test_a_number_of_thousands_of_digits_is_too_large_not_a_crash():
    assert "too large" in validate_field_errors("seed", "9" * 5000)


def validate_field_errors(name, text):
    with pytest.raises(ConfigError) as info:
        validate_field(name, text)
    return info.value.errors[name]
