"""The dashboard's controls as a person meets them in a browser (headless Chromium): the speed beside Start,
the 3-D camera during a run, no "share to the cloud" anywhere, a second run refused with a way to the first,
and boxes and messages that agree with the run."""
import math
import os

import numpy as np
import pytest

from support import CHROMEDRIVER, CHROMIUM

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("browser tests need chromium and chromium-driver", allow_module_level=True)
pytest.importorskip("selenium", reason="browser tests need selenium")

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from test_browser import (clean_console_and_origin, enabled, fill, js, last_x, message, open_page, points,  # noqa: E402,F401
                          second_tab, start, state, until, wait_state)

PAGES = ["/function", "/surface", "/classification", "/mnist", "/compare"]


def click(driver, css):
    driver.find_element(By.CSS_SELECTOR, css).click()


def pace_button(value):
    return f'input[name="pace"][value="{value}"]'


def status(driver, stat):
    return js(driver, f"return document.querySelector('#st-{stat} span').textContent")


# --- Plotly: nothing goes to the cloud, the mode bar stays out of the way --------------------------------
def plotly_charts(driver):
    return js(driver, "return Array.from(document.querySelectorAll('.js-plotly-plot')).length")


@pytest.mark.parametrize("path", PAGES)
def test_no_chart_offers_to_send_itself_to_plotly_cloud(browser, live_server, path):
    open_page(browser, live_server, path)
    if path == "/compare":  # its per-run charts are made when a run begins
        Select(browser.find_element(By.ID, "cmp-task")).select_by_value("function")
        fill(browser, "cmp-function", epochs=10)
        start(browser)
        wait_state(browser, "finished")
        assert plotly_charts(browser) == 2 + 3
    charts = js(browser, "return Array.from(document.querySelectorAll('.js-plotly-plot')).map(function (el) {"
                         " var c = el._context || {}; return {id: el.id, cloud: c.showSendToCloud, studio: c.showEditInChartStudio,"
                         " bar: Array.from(el.querySelectorAll('.modebar-btn')).map(function (b) {"
                         "   return [b.getAttribute('data-title') || '', b.getAttribute('data-val') || '', b.tabIndex]; })}; })")
    assert len(charts) >= 3, charts
    for c in charts:
        assert not c["cloud"] and not c["studio"], c
        titles = " ".join(t + " " + v for t, v, _ in c["bar"]).lower()
        assert "share" not in titles and "cloud" not in titles and "studio" not in titles, c
        assert all(tab == -1 for *_, tab in c["bar"]), c  # the tool buttons are not in the tab order


# --- the 3-D camera ------------------------------------------------------------------------------
def test_the_surface_can_be_rotated_while_it_trains_and_stays_rotated(browser, live_server):
    open_page(browser, live_server, "/surface")
    fill(browser, "surface", n_samples=400, hidden="16", epochs=3000)
    click(browser, pace_button(25))  # slow: many redraws to come
    start(browser)
    until(browser, lambda d: js(d, "var d = document.getElementById('chart-surface').data || [];"
                                   " return d.length === 2 && d[1].type === 'surface' && d[1].name === 'network'"), message="the predicted surface")
    eye = "var s = document.getElementById('chart-surface')._fullLayout.scene._scene; var e = s.getCamera().eye;" \
          " return [e.x, e.y, e.z].map(function (v) { return Math.round(v * 1000) / 1000; })"
    before = js(browser, eye)
    chart = browser.find_element(By.ID, "chart-surface")
    # a slow drag, as a hand makes it: the run goes on (events and snapshots arrive) between its moves
    ActionChains(browser).move_to_element(chart).click_and_hold().perform()
    away = []
    for _ in range(6):
        ActionChains(browser).move_by_offset(4, 0).perform()
        seq = js(browser, "return BP.job.lastSeq")
        until(browser, lambda d: js(d, "return BP.job.lastSeq") > seq + 3, message="the run to go on")
        away.append(js(browser, eye))
    ActionChains(browser).release().perform()
    turn = np.diff(np.unwrap([math.atan2(e[1], e[0]) for e in [before] + away]))
    assert (turn > 0.02).all() or (turn < -0.02).all(), away  # the view followed the hand all along
    dragged = until(browser, lambda d: (lambda e: e != before and e)(js(d, eye)), message="the camera to move")
    assert state(browser) == "running"
    # the surface keeps being redrawn; the view stays where the user left it
    seen = js(browser, "return document.getElementById('chart-surface').data[1].z[5][5]")
    until(browser, lambda d: js(d, "return document.getElementById('chart-surface').data[1].z[5][5]") != seen,
          message="the surface to be redrawn")
    step = last_x(browser, "chart-loss", 1)
    until(browser, lambda d: last_x(d, "chart-loss", 1) > step + 10, message="more steps")
    assert js(browser, eye) == pytest.approx(dragged, abs=2e-3)
    assert js(browser, "return document.getElementById('chart-surface').layout.scene.camera.eye.x") == \
        pytest.approx(dragged[0], abs=2e-3)


# --- the speed beside Start -------------------------------------------------------------------------
def test_the_speed_is_set_before_start_and_changed_live_with_one_click_to_the_fastest(browser, live_server):
    open_page(browser, live_server, "/function")
    default = js(browser, "return BP.data.schema['function'].pace.watch_default")
    assert js(browser, f"return document.querySelector('{pace_button(default)}').checked")  # from the schema
    assert not browser.find_elements(By.ID, "function-pace")  # not hidden at the bottom of the form any more
    fill(browser, "function", n_samples=200, hidden="16", epochs=250)  # 1,250 steps
    click(browser, pace_button(25))  # 50 s at this speed
    start(browser)
    wait_state(browser, "running")
    until(browser, lambda d: js(d, "return BP.job.runs[0] && BP.job.runs[0].step > 0"), message="the first steps")
    assert js(browser, "return document.getElementById('btn-start').disabled")
    click(browser, pace_button(0))  # as fast as possible: one click
    until(browser, lambda d: "Speed set: as fast as the server can" in message(d) or state(d) == "finished",
          message="the speed ack")
    wait_state(browser, "finished")  # the rest of the run took a moment, not 45 s
    assert js(browser, f"return document.querySelector('{pace_button(0)}').checked")


def test_a_refused_speed_change_puts_the_buttons_back(browser, live_server):
    open_page(browser, live_server, "/function")
    fill(browser, "function", epochs=5000)
    click(browser, pace_button(25))
    start(browser)
    wait_state(browser, "running")
    # someone else's limits: the server refuses a value outside the schema (a tampered button)
    js(browser, "var r = document.querySelector(arguments[0]); r.value = '5000'; r.click();", pace_button(1000))
    until(browser, lambda d: "Speed not changed: it must be between 0 and 1000, got 5000" in message(d),
          message="the refusal")
    assert js(browser, f"return document.querySelector('{pace_button(25)}').checked")


# --- a second run from another page -------------------------------------------------------------------
def test_a_second_start_offers_to_go_to_or_stop_the_first_run(browser, live_server):
    open_page(browser, live_server, "/function")
    fill(browser, "function", epochs=5000)
    start(browser)
    wait_state(browser, "running")
    job_id = js(browser, "return BP.job.jobId")
    browser.get(live_server + "/classification")  # the same browser, another page
    until(browser, lambda d: js(d, "return !!(window.BP && BP.job && BP.job.connected && BP.job.settled)"),
          message="the page")
    start(browser)
    until(browser, lambda d: js(d, "return !document.getElementById('elsewhere').hidden"), message="the other run's box")
    assert "already have a job running" in message(browser)
    assert "1-D function page" in browser.find_element(By.ID, "elsewhere-what").text
    go = browser.find_element(By.ID, "elsewhere-go")
    assert go.get_attribute("href") == f"{live_server}/function?job={job_id}"
    assert js(browser, "return document.activeElement.id") == "elsewhere-go"  # focus moved to the way out
    go.click()  # go to it: that run with its controls
    until(browser, lambda d: js(d, "return !!(window.BP && BP.job && BP.job.jobId === arguments[0])", job_id),
          message="the running job's page")
    wait_state(browser, "running")
    until(browser, lambda d: enabled(d, "btn-stop"), message="the owner's Stop")
    browser.get(live_server + "/classification")
    until(browser, lambda d: js(d, "return !!(window.BP && BP.job && BP.job.connected && BP.job.settled)"),
          message="the page")
    start(browser)
    until(browser, lambda d: js(d, "return !document.getElementById('elsewhere').hidden"), message="the other run's box")
    click(browser, "#elsewhere-stop")  # stop it: and Start works here
    until(browser, lambda d: "Your other run was stopped" in message(d), message="the stop")
    assert js(browser, "return document.getElementById('elsewhere').hidden")
    fill(browser, "classification", epochs=3)
    start(browser)
    wait_state(browser, "finished")


# --- boxes and messages that agree with the run ----------------------------------------------------------
def test_a_rejected_learning_rate_is_explained_and_the_box_shows_the_rate_in_use(browser, live_server):
    open_page(browser, live_server, "/function")
    fill(browser, "function", epochs=5000)
    start(browser)
    wait_state(browser, "running")
    box = browser.find_element(By.ID, "live-lr")
    for typed, words in (("100", "Learning rate not changed: it must be between 1e-06 and 10, got 100."),
                         ("-1", "got -1."), ("0", "got 0."), ("abc", "type a number from 1e-06 to 10")):
        box.click()  # as a person does: the box has the focus, so the live rate no longer overwrites it
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(typed)
        click(browser, "#btn-lr")
        until(browser, lambda d: words in message(d), message=f"the refusal of {typed!r}")
        assert "invalid settings" not in message(browser) and "got ''" not in message(browser)
        assert box.get_attribute("value") == "0.01"  # the rate the run uses, not the rejected one


def test_pause_message_and_counter_agree_and_a_watcher_is_not_told_to_change_settings(browser, live_server):
    open_page(browser, live_server, "/function")
    fill(browser, "function", epochs=5000)
    click(browser, pace_button(0))
    start(browser)
    wait_state(browser, "running")
    until(browser, lambda d: js(d, "return BP.job.runs[0] && BP.job.runs[0].step > 100"), message="steps")
    click(browser, "#btn-pause")
    wait_state(browser, "paused")
    counter = lambda d: status(d, "step").split(" / ")[0]  # noqa: E731
    until(browser, lambda d: f"Paused at step {counter(d)}:" in message(d), message="the message to match the counter")
    share = js(browser, "return document.getElementById('share-url').value")
    with second_tab(browser) as owner:
        browser.get(share)
        until(browser, lambda d: js(d, "return !!(window.BP && BP.job && BP.job.settled)"), message="the watch page")
        wait_state(browser, "paused")
        assert "change the learning rate" not in message(browser)
        browser.switch_to.window(owner)
        click(browser, "#btn-stop")
        wait_state(browser, "stopped")
        browser.switch_to.window([h for h in browser.window_handles if h != owner][0])
        wait_state(browser, "stopped")
        assert "Stopped" in message(browser) and "Change the settings" not in message(browser)


def test_a_reloaded_run_shows_no_zero_eta_before_its_next_report(browser, live_server):
    open_page(browser, live_server, "/function")
    # a run restored from its history has no estimate yet: the bar says so rather than "0 s"
    eta = js(browser, "var bar = new BP.StatusBar(); bar._render('running', [{step: 40, total: 100, epoch: 1, epochs: 5,"
                      " sps: null, eta: null, progress: 0.4}]); return document.querySelector('#st-eta span').textContent")
    assert eta == "–"


def test_the_form_shows_what_fits_and_only_this_page_s_help(browser, live_server):
    open_page(browser, live_server, "/function")
    x_from = browser.find_element(By.ID, "function-x_min")
    assert x_from.get_attribute("value") == "-3.14159"
    assert js(browser, "var e = document.getElementById('function-x_min'); return e.scrollWidth <= e.clientWidth")
    hints = js(browser, "return Array.from(document.querySelectorAll('#form-function .hint')).map(function (h) {"
                        " return h.textContent; }).join(' ')")
    assert "MNIST" not in hints and "CNN" not in hints
    fill(browser, "function", x_min=5, x_max=1)
    start(browser)
    err = until(browser, lambda d: js(d, "var e = document.getElementById('function-x_max-error');"
                                         " return !e.hidden && e.textContent"), message="the field error")
    assert err == "must be greater than “x from” (5)"


def test_a_formula_with_a_pole_trains_but_finishes_with_a_warning(browser, live_server):
    open_page(browser, live_server, "/function")
    fill(browser, "function", formula="1/x", x_min=-3, x_max=3.1, epochs=20)  # the check grid misses x = 0
    click(browser, pace_button(0))
    start(browser)
    wait_state(browser, "finished")
    assert "pole near x = " in message(browser)
    assert js(browser, "return document.getElementById('message').dataset.kind") == "warn"  # not a green success
