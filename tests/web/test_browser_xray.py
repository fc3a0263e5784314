"""The X-ray of a step in a real browser: the step-by-step page shows a real X-ray (made by the library's hooks in
tests/xray_fixture.py: a real network, real training steps) and every number it writes is that X-ray's: the
diagram's units in each view, the chain rule (whose arithmetic, typed into a calculator, gives its result), the
unit's table and its weights before / dL/dw / after with the optimiser's state. Play runs forward then backward
layer by layer; units are reached with the keyboard; axe-core finds nothing serious.
"""
import re

import numpy as np
import pytest

from test_accessibility import axe_violations
from test_browser import clean_console_and_origin, js, open_page, screenshot, until  # noqa: F401
from xray_fixture import CONFIGS, make_xray

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

NUMBER = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"


@pytest.fixture(scope="module")
def xrays():
    return {task: make_xray(config, steps=3) for task, config in CONFIGS.items()}


def close(shown, value, digits=4):
    """A number as the page wrote it (4 significant digits) is the X-ray's value."""
    return abs(float(shown) - value) <= 0.6 * 10 ** -(digits - 1) * max(abs(value), 1e-300) + 1e-300


def show(driver, base, xray, task="classification"):
    open_page(driver, base, "/backprop?task=" + task)
    js(driver, "BP.xrayPanel.show(arguments[0])", xray)


def node_values(driver):
    """{(l, j): {label: number text}} of every node of the diagram, read from its accessible name."""
    labels = js(driver, "return Array.from(document.querySelectorAll('#xray-diagram .net-node')).map(function (g) {"
                        " return [+g.dataset.l, +g.dataset.j, g.getAttribute('aria-label')]; })")
    out = {}
    for l, j, label in labels:
        values = label.split(": ", 1)[1] if ": " in label else ""
        out[(l, j)] = dict(re.findall(r"(\S+) (" + NUMBER + r")(?:,|$)", values))
    return out


def set_view(driver, view):
    driver.find_element(By.CSS_SELECTOR, f'input[name="xray-view"][value="{view}"]').click()


def linears(xray):
    """The X-ray's Linear layers, each with the activation module after it (or None)."""
    mods, out = xray["layers"], []
    for k, m in enumerate(mods):
        if m["type"] == "Linear":
            act = mods[k + 1] if k + 1 < len(mods) and mods[k + 1]["type"] in ("Tanh", "Sigmoid", "ReLU") else None
            out.append((m, act))
    return out


def chain_text(driver):
    return js(driver, "return document.querySelector('#xray-chain .cr-text').textContent")


def evaluate(arithmetic):
    """The value of the chain rule's ASCII arithmetic, as a calculator reads it, e.g. '(0.41 * (-0.12) + 0.2) * 0.83'
    or '0.5 - 0.01 * 0.3 / (sqrt(0.0004) + 1e-08)' ('^' is a power)."""
    assert re.fullmatch(r"(?:sqrt|[-+*/(). 0-9e^])+", arithmetic), arithmetic
    return eval(arithmetic.replace("^", "**"), {"__builtins__": {}, "sqrt": np.sqrt})  # noqa: S307 - checked above


def update_lines(text):
    """{name: (terms, result)} of the lines under the chain rule's 'update:' ('m = β1 · m_before + ... = 0.9 * 0.01
    + 0.1 * (-0.3) = -0.021' gives m: ('0.9 * 0.01 + 0.1 * (-0.3)', '-0.021'))."""
    block = text.split("\nupdate: ", 1)[1].splitlines()[1:]
    out = {}
    for line in block:
        parts = line.strip().split(";  ")[0].split(" = ")
        out[parts[0]] = (parts[-2], parts[-1].split(" ")[0])
    return out


# --- the numbers ------------------------------------------------------------------------------------------
def test_the_diagram_shows_the_xrays_numbers_in_every_view(browser, live_server, xrays):
    xr = xrays["classification"]
    show(browser, live_server, xr)
    summary = js(browser, "return document.getElementById('xray-summary').textContent")
    loss = re.search(r"minibatch loss (" + NUMBER + ")", summary).group(1)
    assert close(loss, xr["loss"]) and f"step {xr['step']}" in summary
    layers = linears(xr)
    for sample in ("batch", 2):
        js(browser, "BP.xrayPanel.setSample(arguments[0])", sample)
        set_view(browser, "forward")
        nodes = node_values(browser)
        x = np.array(xr["x"])
        for i in range(x.shape[1]):
            assert close(nodes[(0, i)]["x"], x[:, i].mean() if sample == "batch" else x[sample, i])
        for l, (lin, act) in enumerate(layers, 1):
            z = np.array(lin["output"])
            for j in range(z.shape[1]):
                pick = z[:, j].mean() if sample == "batch" else z[sample, j]
                assert close(nodes[(l, j)].get("z", nodes[(l, j)].get("out")), pick), (l, j, sample)
                if act:
                    a = np.array(act["output"])
                    assert close(nodes[(l, j)]["a"], a[:, j].mean() if sample == "batch" else a[sample, j])
        set_view(browser, "backward")
        nodes = node_values(browser)
        for l, (lin, act) in enumerate(layers, 1):
            delta = np.array(lin["grad_output"])
            for j in range(delta.shape[1]):
                assert close(nodes[(l, j)]["δ"], delta[:, j].sum() if sample == "batch" else delta[sample, j]), (l, j)
    set_view(browser, "update")
    nodes = node_values(browser)
    bias = layers[0][0]["params"]["bias"]
    assert close(nodes[(1, 0)]["b"], bias["before"][0]) and close(nodes[(1, 0)]["→"], bias["after"][0])
    screenshot(browser, "backprop-update")


def test_the_chain_rule_of_a_hidden_unit_is_the_networks_arithmetic(browser, live_server, xrays):
    xr = xrays["classification"]
    show(browser, live_server, xr)
    js(browser, "BP.xrayPanel.setSample(1); BP.xrayPanel.select({kind: 'unit', l: 2, j: 1})")
    text = chain_text(browser)
    lin, act = linears(xr)[1]
    forward = re.search(r"^forward: z_2,2 = .+? = (.+) = (" + NUMBER + ")$", text, re.M)
    assert close(forward.group(2), lin["output"][1][1])
    assert abs(evaluate(forward.group(1)) - lin["output"][1][1]) < 1e-3  # the terms typed in give z
    back = re.search(r"^backward: δ_2,2 = .+? = (\(.+\) \* \(?" + NUMBER + r"\)?) = (" + NUMBER + ")$", text, re.M)
    delta = lin["grad_output"][1][1]
    assert close(back.group(2), delta)
    assert abs(evaluate(back.group(1)) - delta) <= 2e-3 * abs(delta) + 1e-9
    assert re.search(r"dL/da_2,2 = .* = (" + NUMBER + ")$", text, re.M).group(1) == js(
        browser, "return BP.xray.num(arguments[0])", act["grad_output"][1][1])


def test_a_weights_chain_rule_and_tables_show_its_gradient_and_update(browser, live_server, xrays):
    xr = xrays["function"]  # Adam: the update is not lr * grad, and its moments are shown
    show(browser, live_server, xr, task="function")
    js(browser, "BP.xrayPanel.select({kind: 'weight', l: 2, j: 0, i: 3})")
    text = chain_text(browser)
    w = linears(xr)[1][0]["params"]["weight"]
    grad = re.search(r"^backward: dL/dW2\[1,4\] = .* = (" + NUMBER + ")$", text, re.M).group(1)
    assert close(grad, w["grad"][0][3])
    update = re.search(r"^update: W2\[1,4\]: (" + NUMBER + ") -> (" + NUMBER + r") ", text, re.M)
    assert close(update.group(1), w["before"][0][3]) and close(update.group(2), w["after"][0][3])
    assert close(update_lines(text)["m"][1], w["state"]["exp_avg"][0][3])
    # the tables of the unit picked (unit 2,1): every sample's delta, and its weights before / grad / after / m / v
    js(browser, "BP.xrayPanel.select({kind: 'unit', l: 2, j: 0})")
    rows = js(browser, "return Array.from(document.querySelectorAll('#xray-weight-table tbody tr')).map(function (r) {"
                       " return Array.from(r.children).map(function (c) { return c.textContent; }); })")
    head = js(browser, "return Array.from(document.querySelectorAll('#xray-weight-table thead th')).map(function (c) { return c.textContent; })")
    assert head == ["weight", "from", "before", "dL/dw", "after", "change", "Adam m", "Adam v"]
    for i, row in enumerate(rows[:-1]):
        assert row[0] == f"W2[1,{i + 1}]"
        for shown, value in zip(row[2:], [w["before"][0][i], w["grad"][0][i], w["after"][0][i], None,
                                          w["state"]["exp_avg"][0][i], w["state"]["exp_avg_sq"][0][i]]):
            if value is not None:
                assert close(shown, value), (i, row)
    deltas = js(browser, "return Array.from(document.querySelectorAll('#xray-unit-table tbody tr')).map(function (r) {"
                         " return r.lastElementChild.textContent; })")
    lin = linears(xr)[1][0]
    assert len(deltas) == len(xr["x"]) + 1
    for s, shown in enumerate(deltas[:-1]):
        assert close(shown, lin["grad_output"][s][0])
    assert close(deltas[-1], lin["params"]["bias"]["grad"][0], digits=3)  # the batch's sum is the bias gradient


STATE_LINES = {"momentum_buffer": "buf", "exp_avg": "m", "exp_avg_sq": "v", "sum": "sum", "square_avg": "v"}


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"])
def test_each_optimisers_update_is_written_out_and_typed_into_a_calculator_gives_the_networks_numbers(
        browser, live_server, optimizer):
    xr = make_xray({**CONFIGS["function"], "optimizer": optimizer, "weight_decay": 0.01}, steps=3)
    show(browser, live_server, xr, task="function")
    js(browser, "BP.xrayPanel.select({kind: 'weight', l: 2, j: 0, i: 3})")
    lines, w = update_lines(chain_text(browser)), linears(xr)[1][0]["params"]["weight"]
    expected = {"after": w["after"][0][3], **{STATE_LINES[k]: v[0][3] for k, v in w["state"].items() if k != "step"}}
    assert set(expected) <= set(lines), lines
    for name, value in expected.items():
        terms, shown = lines[name]
        assert close(shown, value), (name, shown, value)
        assert abs(evaluate(terms) - value) <= 3e-3 * abs(value) + 1e-7, (name, terms, value)


def test_with_batch_norm_a_unit_shows_its_activation_and_the_batch_norm_in_its_chain_rule(browser, live_server, xrays):
    xr = xrays["batch_norm"]
    assert [m["type"] for m in xr["layers"][:3]] == ["Linear", "BatchNorm1d", "Tanh"]
    show(browser, live_server, xr)
    js(browser, "BP.xrayPanel.setSample(0); BP.xrayPanel.select({kind: 'unit', l: 1, j: 0})")
    nodes = node_values(browser)
    assert close(nodes[(1, 0)]["z"], xr["layers"][0]["output"][0][0]) and close(nodes[(1, 0)]["a"], xr["layers"][2]["output"][0][0])
    text = chain_text(browser)
    assert "a_1,1 = tanh(batchnorm1d(z_1,1))" in text and "through BatchNorm1d" in text
    assert close(re.search(r"^backward: δ_1,1 = dL/dz_1,1 = (" + NUMBER + ")", text, re.M).group(1), xr["layers"][0]["grad_output"][0][0])


# --- interaction --------------------------------------------------------------------------------------------
def test_play_runs_forward_then_backward_layer_by_layer(browser, live_server, xrays):
    show(browser, live_server, xrays["surface"], task="surface")
    browser.find_element(By.ID, "xray-play").click()
    until(browser, lambda d: js(d, "return document.getElementById('xray').dataset.playing === 'true'"), message="Play")
    until(browser, lambda d: js(d, "return !document.getElementById('xray').dataset.playing"), message="the end of Play")
    assert js(browser, "return BP.xrayPanel.played") == ["forward 0", "forward 1", "forward 2", "forward 3",
                                                         "backward 3", "backward 2", "backward 1", "update"]
    assert js(browser, "return document.querySelector('input[name=xray-view]:checked').value") == "update"


def test_units_are_reached_and_picked_with_the_keyboard(browser, live_server, xrays):
    show(browser, live_server, xrays["classification"])
    node = browser.find_element(By.CSS_SELECTOR, '#xray-diagram .net-node[data-l="1"][data-j="2"]')
    node.send_keys(Keys.ENTER)
    until(browser, lambda d: "Unit 1,3" in js(d, "return document.querySelector('#xray-chain .cr-title').textContent"),
          message="the chain rule of unit 1,3")
    assert js(browser, "return document.activeElement.getAttribute('aria-label')").startswith("Unit 1,3")
    node.send_keys(Keys.TAB)  # the next unit
    assert js(browser, "return document.activeElement.getAttribute('aria-label')").startswith("Unit 2,1")


def test_the_mouse_over_a_weight_previews_its_chain_rule_and_leaving_it_brings_the_selection_back(browser, live_server, xrays):
    show(browser, live_server, xrays["classification"])
    js(browser, "BP.xrayPanel.select({kind: 'unit', l: 2, j: 0})")
    title = lambda d: js(d, "return document.querySelector('#xray-chain .cr-title').textContent")  # noqa: E731
    edge = browser.find_element(By.CSS_SELECTOR, '#xray-diagram .net-edge[data-l="3"][data-j="1"][data-i="2"] .net-edge-hit')
    ActionChains(browser).move_to_element(edge).perform()
    until(browser, lambda d: title(d).startswith("Weight W3[2,3]"), message="the weight's chain rule under the mouse")
    ActionChains(browser).move_to_element(browser.find_element(By.ID, "xray-summary")).perform()
    until(browser, lambda d: title(d).startswith("Unit 2,1"), message="the selected unit's chain rule again")


def test_axe_finds_no_serious_violation_with_an_xray_shown(browser, live_server, xrays):
    show(browser, live_server, xrays["classification"])
    js(browser, "BP.xrayPanel.select({kind: 'unit', l: 2, j: 0})")
    assert axe_violations(browser) == []
    screenshot(browser, "backprop")


def test_each_hidden_units_picture_is_drawn(browser, live_server, xrays):
    xr = xrays["function"]
    show(browser, live_server, xr, task="function")
    captions = js(browser, "return Array.from(document.querySelectorAll('#units-grid figcaption')).map(function (c) { return c.textContent; })")
    values = [v for layer in xr["units"]["layers"] for v in layer["values"]]
    assert len(captions) == len(values) == 5 + 4
    lo, hi = re.search(r"from (" + NUMBER + ") to (" + NUMBER + ")", captions[0]).groups()
    assert close(lo, min(values[0])) and close(hi, max(values[0]))
