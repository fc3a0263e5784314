"""The dashboard in a real browser: headless Chromium drives every page against the real server.

Each test sets a tiny config through the form, starts a run, waits until the charts gain points (read from
the Plotly divs), and checks the controls return to a startable state. After every test: no SEVERE entry in
the browser console and no request to another origin. Screenshots go to artifacts/screenshots/<page>.png.
"""
import contextlib
import math
import os
import time
from pathlib import Path

import pytest

from bpnet.engine.config import defaults
from support import CHROMEDRIVER, CHROMIUM

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip(f"browser tests need {CHROMIUM} and {CHROMEDRIVER} (Debian: chromium, chromium-driver)",
                allow_module_level=True)
pytest.importorskip("selenium", reason="browser tests need selenium")

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
WAIT = 40.0  # generous for two busy cores; a passing wait returns as soon as its condition holds


# --- helpers ------------------------------------------------------------------------------------
def until(driver, condition, timeout=WAIT, message="condition"):
    """Poll condition(driver) until it is truthy (returned), else fail with the page's message line."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition(driver)
        if value:
            return value
        if time.monotonic() > deadline:
            msg = driver.execute_script("var m = document.getElementById('message'); return m ? m.textContent : ''")
            pytest.fail(f"timed out after {timeout:g} s waiting for {message} (page message: {msg!r})")
        time.sleep(0.1)


def js(driver, script, *args):
    return driver.execute_script(script, *args)


def points(driver, chart_id, trace=None):
    """Number of x values per trace of a Plotly chart (or of one trace)."""
    counts = js(driver, "var el = document.getElementById(arguments[0]);"
                        "return el && el.data ? el.data.map(function (t) { return t.x ? t.x.length : 0; }) : [];", chart_id)
    return counts if trace is None else (counts[trace] if trace < len(counts) else 0)


def ranges(driver, chart_id):
    """The x and y ranges a Plotly chart shows."""
    return js(driver, "var l = document.getElementById(arguments[0])._fullLayout;"
                      " return [l.xaxis.range.slice(), l.yaxis.range.slice()];", chart_id)


def last_x(driver, chart_id, trace):
    """The last x value of a trace (the latest step drawn; the point count itself shrinks when thinned)."""
    return js(driver, "var t = (document.getElementById(arguments[0]).data || [])[arguments[1]];"
                      " return t && t.x.length ? t.x[t.x.length - 1] : 0;", chart_id, trace)


def trace_points(driver, chart_id, name):
    """Number of x values of the trace called `name`."""
    return js(driver, "var name = arguments[1]; var t = (document.getElementById(arguments[0]).data || [])"
                      ".filter(function (t) { return t.name === name; })[0]; return t ? t.x.length : 0;", chart_id, name)


def state(driver):
    return js(driver, "return document.getElementById('st-state').dataset.state")


def message(driver):
    return js(driver, "return document.getElementById('message').textContent")


def enabled(driver, element_id):
    return js(driver, "var b = document.getElementById(arguments[0]); return !!b && !b.disabled"
                      " && b.offsetParent !== null", element_id)


def set_field(driver, form_prefix, name, value):
    """Set a generated form field like a user would (select option, checkbox or typed text)."""
    el = driver.find_element(By.ID, f"{form_prefix}-{name}")
    if el.tag_name == "select":
        Select(el).select_by_value(str(value))
    elif el.get_attribute("type") == "checkbox":
        if el.is_selected() != bool(value):
            el.click()
    else:
        el.clear()
        el.send_keys(str(value))


def fill(driver, form_prefix, **values):
    for name, value in values.items():
        set_field(driver, form_prefix, name, value)


def open_page(driver, base, path):
    driver.get(base + path)
    until(driver, lambda d: js(d, "return !!(window.BP && BP.job && BP.job.connected && BP.job.settled)"),
          message="the socket to connect")
    # a run this tab started on the same page before is shown again (sessionStorage): wait until it is startable
    until(driver, lambda d: enabled(d, "btn-start") or not js(d, "return !!BP.job.jobId"), message="a startable page")
    if enabled(driver, "btn-reset"):  # that run's settings were put back in the form: start from the defaults
        driver.find_element(By.ID, "btn-reset").click()


def draw_a_one(driver):
    """Draw a "1" on the MNIST page's pad with the mouse; the model's probabilities (10, summing to 1)."""
    pad = driver.find_element(By.ID, "draw-canvas")
    (ActionChains(driver).move_to_element_with_offset(pad, 0, -70).click_and_hold()
     .move_by_offset(4, 40).move_by_offset(4, 40).move_by_offset(2, 40).release().perform())
    probs = until(driver, lambda d: js(d, "var d = document.getElementById('chart-probs').data;"
                                          " return d && d.length === 1 && d[0].y"), message="the probability bars")
    assert len(probs) == 10 and math.isclose(sum(probs), 1.0, abs_tol=1e-3)
    return probs


def start(driver):
    until(driver, lambda d: enabled(d, "btn-start"), message="Start to be enabled")
    driver.find_element(By.ID, "btn-start").click()


def wait_state(driver, *states, timeout=WAIT):
    return until(driver, lambda d: state(d) in states and state(d), timeout, f"state {' or '.join(states)}")


def assert_startable(driver):
    """A finished/stopped/failed job gives the controls back: Start on, Pause/Stop/Apply off, form editable."""
    until(driver, lambda d: enabled(d, "btn-start"), message="Start to be enabled again")
    assert not enabled(driver, "btn-pause") and not enabled(driver, "btn-stop") and not enabled(driver, "btn-lr")
    assert not js(driver, "return document.querySelector('form.settings:not([hidden]) .settings-body').disabled")


@contextlib.contextmanager
def second_tab(driver):
    """Open a new tab and switch to it; yields the first tab's handle; closes every other tab afterwards."""
    owner = driver.current_window_handle
    driver.switch_to.new_window("tab")
    try:
        yield owner
    finally:
        for handle in driver.window_handles:
            if handle != owner:
                driver.switch_to.window(handle)
                driver.close()
        driver.switch_to.window(owner)


def screenshot(driver, name):
    """Full-height screenshot of the page as it is now."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = js(driver, "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
    driver.set_window_size(1440, min(max(1000, height + 140), 2600))
    time.sleep(0.8)  # Plotly redraws charts at the new size
    driver.save_screenshot(str(SHOTS / f"{name}.png"))
    driver.set_window_size(1440, 1000)


@pytest.fixture(autouse=True)
def clean_console_and_origin(browser, live_server):
    """After each test: no SEVERE console entry, and every resource came from the app's own origin."""
    browser.get_log("browser")  # drop what earlier tests left
    yield
    origin = js(browser, "return location.origin")  # the test's server (live_server or another one)
    assert origin.startswith("http://127.0.0.1:"), origin
    urls = js(browser, "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"
                       ".concat([location.href])") or []
    foreign = [u for u in urls if not (u.startswith(origin + "/") or u == origin)]
    assert not foreign, f"requests outside the app's origin: {foreign}"
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, f"browser console errors: {severe}"
    # leave no run behind: the next test's Start would be refused ("you already have a job running")
    js(browser, "if (window.BP && BP.job && BP.job.jobId && ['running','paused'].includes(BP.job.state))"
                " BP.job.control('stop');")
    if js(browser, "return !!(window.BP && BP.job)"):
        until(browser, lambda d: js(d, "return !['running','paused','created','starting'].includes(BP.job.state)"),
              message="the run to stop")


# --- pages --------------------------------------------------------------------------------------
def test_home_links_every_experiment(browser, live_server):
    browser.get(live_server + "/")
    cards = js(browser, "return Array.from(document.querySelectorAll('.exp-card')).map(function (a) {"
                        " return a.getAttribute('href'); })")
    assert cards == ["/function", "/surface", "/classification", "/mnist", "/compare"]
    nav = js(browser, "return Array.from(document.querySelectorAll('.nav a')).map(function (a) { return a.textContent; })")
    assert nav == ["Home", "Lessons", "Backprop step by step", "1-D function", "2-D surface", "Classify", "MNIST", "Compare",
                   "Runs"]
    screenshot(browser, "home")
    browser.get(live_server + "/watch/no-such-job")
    assert "No such job" in browser.find_element(By.TAG_NAME, "body").text
    browser.get_log("browser")  # the 404 page's own status line is expected here


def test_function_run_pause_lr_stop(browser, live_server):
    open_page(browser, live_server, "/function")
    # the form is generated from the schema: limits and defaults come from the server
    n = browser.find_element(By.ID, "function-n_samples")
    assert (n.get_attribute("min"), n.get_attribute("max"), n.get_attribute("step")) == ("10", "20000", "1")
    assert browser.find_element(By.ID, "function-activation").tag_name == "select"
    assert browser.find_element(By.ID, "function-batch_norm").get_attribute("type") == "checkbox"
    fill(browser, "function", optimizer="adam", n_samples=2000, hidden="32", epochs=5000)
    assert not browser.find_element(By.CSS_SELECTOR, '#form-function [data-field="momentum"]').is_displayed()
    browser.find_element(By.CSS_SELECTOR, '[data-example="sin(3*x)*exp(-x^2)"]').click()  # fills and starts
    wait_state(browser, "running")
    first = until(browser, lambda d: points(d, "chart-loss", 0) > 5 and last_x(d, "chart-loss", 1), message="loss points")
    until(browser, lambda d: last_x(d, "chart-loss", 1) > first, message="the loss curve to grow")
    until(browser, lambda d: points(d, "chart-fit-net", 0) == 200, message="the network's curve")
    until(browser, lambda d: points(d, "chart-norms", 0) > 1, message="gradient norms")
    assert js(browser, "return document.getElementById('chart-norms').layout.yaxis.type") == "log"
    assert js(browser, "return document.getElementById('share-url').value").startswith(live_server + "/watch/")
    assert js(browser, "return document.getElementById('dl-csv').getAttribute('aria-disabled')") is None
    assert "/history.csv?run=0" in js(browser, "return document.getElementById('dl-csv').href")
    assert not enabled(browser, "btn-start")
    # log toggle and smoothing
    browser.find_element(By.ID, "chart-loss-log").click()
    until(browser, lambda d: js(d, "return document.getElementById('chart-loss').layout.yaxis.type") == "linear",
          message="a linear loss axis")
    # pause, change the learning rate, resume
    browser.find_element(By.ID, "btn-pause").click()
    wait_state(browser, "paused")
    assert js(browser, "return document.querySelector('#btn-pause span').textContent") == "Resume"
    lr = browser.find_element(By.ID, "live-lr")
    lr.clear()
    lr.send_keys("0.002")
    browser.find_element(By.ID, "btn-lr").click()
    until(browser, lambda d: "Learning rate set to 0.002" in message(d), message="the lr ack")
    browser.find_element(By.ID, "btn-pause").click()
    wait_state(browser, "running")
    until(browser, lambda d: js(d, "return (document.getElementById('chart-loss').layout.annotations || [])"
                                   ".some(function (a) { return a.text.indexOf('0.002') >= 0; })"), message="the lr marker")
    screenshot(browser, "function")
    browser.find_element(By.ID, "btn-stop").click()
    wait_state(browser, "stopped")
    assert_startable(browser)
    assert "Stopped" in message(browser)


def test_bad_formula_shows_parser_message_inline(browser, live_server):
    open_page(browser, live_server, "/function")
    fill(browser, "function", formula="sine(x)")
    before = js(browser, "return [BP.job.jobId, BP.job.state]")
    start(browser)
    err = until(browser, lambda d: js(d, "var e = document.getElementById('function-formula-error');"
                                         " return !e.hidden && e.textContent"), message="the formula error")
    assert err == "unknown function 'sine' at column 1; did you mean 'sin'?"
    assert js(browser, "return [BP.job.jobId, BP.job.state]") == before  # nothing started
    assert enabled(browser, "btn-start")


def test_out_of_range_field_shows_field_error(browser, live_server):
    open_page(browser, live_server, "/function")
    fill(browser, "function", n_samples=5, hidden="8,0")
    before = js(browser, "return [BP.job.jobId, BP.job.state]")
    start(browser)
    err = until(browser, lambda d: js(d, "var e = document.getElementById('function-n_samples-error');"
                                         " return !e.hidden && e.textContent"), message="the field error")
    assert err == "must be between 10 and 20000, got 5"
    assert "must be between 1 and 1024, got 0" in js(browser, "return document.getElementById('function-hidden-error').textContent")
    assert "settings need fixing" in message(browser)
    assert js(browser, "return [BP.job.jobId, BP.job.state]") == before and enabled(browser, "btn-start")
    fill(browser, "function", n_samples=200)  # typing clears that field's error
    assert not js(browser, "return document.getElementById('function-n_samples').closest('.field').classList.contains('invalid')")


def test_a_job_over_the_budget_names_the_settings_to_shrink(browser, live_server):
    open_page(browser, live_server, "/function")
    fill(browser, "function", n_samples=20000, hidden=",".join(["1024"] * 8), batch_size=8, epochs=1000)
    start(browser)
    err = until(browser, lambda d: js(d, "var e = document.getElementById('function-epochs-error');"
                                         " return !e.hidden && e.textContent"), message="the budget's field error")
    assert "would take about" in err and "use fewer epochs" in err, err
    assert "fewer samples" in js(browser, "return document.getElementById('function-n_samples-error').textContent")
    assert "settings need fixing" in message(browser) and enabled(browser, "btn-start")
    screenshot(browser, "function-over-budget")


def test_diverging_run_explains_and_gives_controls_back(browser, live_server):
    open_page(browser, live_server, "/function")
    fill(browser, "function", formula="100*x^3", x_min=-10, x_max=10, optimizer="sgd", lr=10, epochs=50)
    start(browser)
    wait_state(browser, "failed")
    text = message(browser)
    assert "diverged" in text and "lower learning rate" in text, text
    assert js(browser, "return document.getElementById('message').dataset.kind") == "error"
    assert_startable(browser)
    screenshot(browser, "function-diverged")


def test_surface_run_to_the_end(browser, live_server):
    open_page(browser, live_server, "/surface")
    fill(browser, "surface", n_samples=400, hidden="24,24", epochs=60)
    start(browser)
    until(browser, lambda d: points(d, "chart-loss", 0) > 10, message="loss points")
    until(browser, lambda d: js(d, "var d = document.getElementById('chart-surface').data || [];"
                                   " return d.length === 2 && d[1].type === 'surface' && d[1].name === 'network' && d[1].z.length === 40"),
          message="the predicted surface")
    until(browser, lambda d: js(d, "var d = document.getElementById('chart-error').data || [];"
                                   " return d.length === 1 && d[0].z.length === 40"), message="the error map")
    wait_state(browser, "finished")
    # once both show the last snapshot, the 3-D view's network - target is the error map, point for point; and it
    # is drawn from the grid's own 40x40 points (Plotly's interpolation to ~120 a side is off: see surface.js)
    until(browser, lambda d: js(d, """
        var s = document.getElementById('chart-surface').data, e = document.getElementById('chart-error').data[0];
        for (var i = 0; i < 40; i++) for (var j = 0; j < 40; j++)
          if (Math.abs(s[1].z[i][j] - s[0].z[i][j] - e.z[i][j]) > 1e-9) return false;
        return true;"""), message="the 3-D surface minus the target to be the error map")
    assert js(browser, "return Object.values(document.getElementById('chart-surface')._fullLayout.scene._scene.traces)"
                       ".map(t => [t.refineData, t.dataScaleX, t.dataScaleY])") == [[False, 1, 1]] * 2
    assert js(browser, "return document.getElementById('chart-surface').layout.uirevision") is not None
    wait_state(browser, "finished")
    assert_startable(browser)
    assert message(browser).startswith("Finished in")
    screenshot(browser, "surface")


def test_classification_run_to_the_end(browser, live_server):
    open_page(browser, live_server, "/classification")
    fill(browser, "classification", dataset="moons", noise=0.15, epochs=80)
    start(browser)
    until(browser, lambda d: points(d, "chart-loss", 0) > 10, message="loss points")
    until(browser, lambda d: points(d, "chart-acc", 0) > 10, message="accuracy points")
    until(browser, lambda d: js(d, "var d = document.getElementById('chart-boundary').data || [];"
                                   " return d.length === 2 && d[0].type === 'heatmap' && d[0].z.length === 60"),
          message="the decision boundary")
    wait_state(browser, "finished", timeout=120)  # 80 epochs: ~15 s alone on this machine, far more when it is busy
    assert_startable(browser)
    acc = js(browser, "var y = document.getElementById('chart-acc').data[0].y; return y[y.length - 1]")
    assert acc > 0.8, acc
    screenshot(browser, "classification")


def test_mnist_run_digits_confusion_and_drawing(browser, live_server):
    open_page(browser, live_server, "/mnist")
    # before a run, the charts' axes run from 0 to 1 (not Plotly's empty -1 to 4: a negative loss, 400% accuracy)
    assert ranges(browser, "chart-loss") == ranges(browser, "chart-acc") == [[0, 1], [0, 1]]
    # fields irrelevant to the chosen options are hidden
    field = lambda name: browser.find_element(By.CSS_SELECTOR, f'#form-mnist [data-field="{name}"]')  # noqa: E731
    set_field(browser, "mnist", "model", "cnn")
    assert field("conv_channels").is_displayed() and field("hidden").is_displayed()  # dense layers after the convs
    set_field(browser, "mnist", "model", "mlp")
    assert not field("conv_channels").is_displayed()
    set_field(browser, "mnist", "optimizer", "momentum")
    assert field("momentum").is_displayed()
    fill(browser, "mnist", optimizer="adam", n_samples=4000, hidden="64", epochs=2, eval_every=10, val_subset=500)
    start(browser)
    until(browser, lambda d: points(d, "chart-acc", 1) >= 2, timeout=60, message="validation accuracy points")
    wait_state(browser, "finished", timeout=60)
    assert_startable(browser)
    batch = defaults("mnist")["batch_size"]  # (the form's own)
    assert points(browser, "chart-loss", 0) == 2 * (4000 // batch)  # every training step (of full batches)
    (x0, x1), (y0, y1) = ranges(browser, "chart-acc")  # the axes now fit the points
    assert x1 >= 2 * (4000 // batch) and y1 < 1.2 and x0 < 20
    assert points(browser, "chart-acc", 2) == 2  # the full-split evaluations, marked apart
    assert js(browser, "return document.querySelectorAll('#digits .digit canvas').length") == 24
    wrong = js(browser, "return document.querySelectorAll('#digits .digit.wrong').length")
    assert f"{24 - wrong} / 24 right" == js(browser, "return document.getElementById('digits-score').textContent")
    conf = js(browser, "return document.getElementById('chart-confusion').data[0].text")
    assert len(conf) == 10 and sum(map(sum, conf)) == 10000  # the last evaluation: the whole validation split
    draw_a_one(browser)
    assert "Looks like a" in js(browser, "return document.getElementById('draw-guess').textContent")
    ink = js(browser, "var c = document.getElementById('draw-preview').getContext('2d').getImageData(0, 0, 28, 28).data;"
                      " var n = 0; for (var i = 0; i < c.length; i += 4) if (c[i] > 40) n++; return n")
    assert 10 < ink < 200, ink  # the stroke, scaled into the 28x28 box
    screenshot(browser, "mnist")
    browser.find_element(By.ID, "btn-clear").click()
    assert js(browser, "return document.getElementById('chart-probs').data.length") == 0


@pytest.mark.parametrize("server", ["live_server", "live_server_processes"])
def test_compare_activation_runs_side_by_side(browser, server, request):
    """Also with worker processes, where a job's runs are announced after its first (empty) history."""
    open_page(browser, request.getfixturevalue(server), "/compare")
    Select(browser.find_element(By.ID, "cmp-name")).select_by_value("activation")
    assert "vanishing" in browser.find_element(By.ID, "cmp-shows").text
    assert browser.find_element(By.ID, "cmp-mnist-activation").get_attribute("disabled")  # set per run
    assert browser.find_element(By.ID, "cmp-mnist-hidden").get_attribute("value") == "128,128,128,128"  # its defaults
    fill(browser, "cmp-mnist", n_samples=2000, hidden="32,32,32", epochs=3, eval_every=8, val_subset=200)
    start(browser)
    labels = ["sigmoid", "tanh", "ReLU"]
    until(browser, lambda d: all(trace_points(d, "chart-loss", n) > 1 for n in labels), timeout=60, message="3 loss curves")
    wait_state(browser, "finished", timeout=60)
    assert_startable(browser)
    legend = js(browser, "return document.getElementById('chart-loss').data.filter(function (t) {"
                         " return t.showlegend !== false; }).map(function (t) { return t.name; })")
    assert legend == labels
    assert all(trace_points(browser, "chart-acc", n) >= 2 for n in labels)
    assert all(trace_points(browser, "chart-loss", n + " · validation") >= 2 for n in labels)
    assert js(browser, "return document.querySelectorAll('#results tbody tr').length") == 3
    for i in range(3):
        assert points(browser, f"norms-run-{i}", 0) > 1 and len(points(browser, f"norms-run-{i}")) == 4
    assert js(browser, "return document.getElementById('dl-run').options.length") == 3
    if server == "live_server":
        screenshot(browser, "compare")


def test_watch_page_is_read_only_and_live(browser, live_server):
    open_page(browser, live_server, "/function")
    fill(browser, "function", formula="sin(2*x)", n_samples=400, hidden="32", epochs=5000)
    start(browser)
    wait_state(browser, "running")
    share = until(browser, lambda d: js(d, "return document.getElementById('share-url').value"), message="the share link")
    with second_tab(browser) as owner:
        browser.get(share)
        until(browser, lambda d: points(d, "chart-loss", 0) > 0, message="the watcher's charts")
        seen = last_x(browser, "chart-loss", 1)
        until(browser, lambda d: last_x(d, "chart-loss", 1) > seen, message="live events for the watcher")
        assert js(browser, "return document.getElementById('controls').hidden")
        assert not js(browser, "return document.getElementById('readonly-note').hidden")
        assert js(browser, "return document.querySelector('form.settings .settings-body').disabled")
        assert js(browser, "return document.getElementById('function-formula').value") == "sin(2*x)"
        assert not any(enabled(browser, b) for b in ("btn-start", "btn-pause", "btn-stop", "btn-lr"))
        assert state(browser) == "running"
        screenshot(browser, "watch")
        browser.switch_to.window(owner)
        browser.find_element(By.ID, "btn-stop").click()
        wait_state(browser, "stopped")
        browser.switch_to.window([h for h in browser.window_handles if h != owner][0])
        wait_state(browser, "stopped")  # the watcher follows the owner's stop
        assert not any(enabled(browser, b) for b in ("btn-start", "btn-pause", "btn-stop", "btn-lr"))
        severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not severe, severe


def test_reconnect_catches_up_and_keeps_control(browser, live_server):
    open_page(browser, live_server, "/function")
    fill(browser, "function", n_samples=400, hidden="32", epochs=5000)
    start(browser)
    wait_state(browser, "running")
    until(browser, lambda d: points(d, "chart-loss", 0) > 5, message="loss points")
    job_id = js(browser, "return BP.job.jobId")
    js(browser, "BP.job.socket.io.engine.close()")  # the transport drops; Socket.IO reconnects by itself
    until(browser, lambda d: js(d, "return BP.job.connected === false"), timeout=5, message="the disconnect")
    until(browser, lambda d: js(d, "return BP.job.connected"), message="the reconnect")
    # closing mid-stream may cut off a frame the server was sending: Chrome logs that, and only that, here
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert all("Data frame received after close" in m for m in severe), severe
    seen = last_x(browser, "chart-loss", 1)
    until(browser, lambda d: last_x(d, "chart-loss", 1) > seen, message="events after the reconnect")
    assert js(browser, "return BP.job.jobId") == job_id
    until(browser, lambda d: enabled(d, "btn-stop"), message="the owner's controls after the reconnect")
    browser.find_element(By.ID, "btn-stop").click()
    wait_state(browser, "stopped")
    assert_startable(browser)
    # the history after the reconnect and the events agree: steps strictly increase, none twice
    steps = js(browser, "return document.getElementById('chart-loss').data[1].x")
    assert all(b > a for a, b in zip(steps, steps[1:]))


def test_refusals_show_in_the_message_area(browser, live_server):
    """A second Start from the same browser session (another tab) is refused with a visible reason."""
    open_page(browser, live_server, "/function")
    fill(browser, "function", n_samples=400, hidden="32", epochs=5000)
    start(browser)
    wait_state(browser, "running")
    owner = browser.current_window_handle
    browser.switch_to.new_window("tab")
    try:
        open_page(browser, live_server, "/classification")
        start(browser)
        text = until(browser, lambda d: js(d, "var m = document.getElementById('message');"
                                              " return m.dataset.kind === 'error' && m.textContent"), message="the refusal")
        assert "already have a job running" in text
        wait_state(browser, "idle", timeout=5)  # the status line is redrawn on the next animation frame
        assert enabled(browser, "btn-start")  # still startable once the other ends
    finally:
        browser.close()
        browser.switch_to.window(owner)
    browser.find_element(By.ID, "btn-stop").click()
    wait_state(browser, "stopped")


def test_a_message_over_the_size_limit_is_explained_and_the_page_reconnects(browser, live_server):
    """The server closes the websocket with code 1009 and the reason; the page says so, then reconnects."""
    open_page(browser, live_server, "/function")
    js(browser, "BP.job.socket.emit('ping', {x: 'x'.repeat(250000)})")
    text = until(browser, lambda d: js(d, "var m = document.getElementById('message');"
                                          " return m.dataset.kind === 'error' && m.textContent"), message="the reason")
    assert "message too large" in text and "250" in text, text
    until(browser, lambda d: js(d, "return BP.job.connected"), message="the page to reconnect")
    screenshot(browser, "message-too-large")
