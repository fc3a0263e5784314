"""Accessible and usable on any screen, checked in headless Chromium: one live region, the keyboard focus kept
on a control, a text alternative per chart, a phone's first screen, and axe-core's checks on every page.

axe-core is vendored like the Socket.IO client (scripts/fetch_vendor.py --tests: pinned version, integrity
hash from the npm registry) into tests/web/vendor/, and injected by the test: no page a user loads has it."""
import os
import re
from pathlib import Path

import pytest

from support import CHROMEDRIVER, CHROMIUM

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("browser tests need chromium and chromium-driver", allow_module_level=True)
pytest.importorskip("selenium", reason="browser tests need selenium")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

from test_browser import (clean_console_and_origin, enabled, fill, js, open_page, start, until, wait_state)  # noqa: E402,F401

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
PAGES = ["/function", "/surface", "/classification", "/mnist", "/compare"]
PHONE, DESKTOP = (390, 844), (1440, 1000)


@pytest.fixture
def phone(browser):
    """The browser's page at an iPhone-sized viewport (390 x 844 CSS pixels) for one test: set through the
    DevTools protocol, which applies it exactly and at once (resizing the window took effect some time later, so
    the frame's size read back could still be the desktop's)."""
    width, height = PHONE
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    yield browser
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def axe_violations(driver, impacts=("serious", "critical")):
    """axe-core's violations of the page once its CSS transitions have ended (a button fading in as it is
    enabled is half-transparent for 0.12 s): [(rule, impact, [selectors])]."""
    assert AXE.exists(), f"{AXE} is missing: run python scripts/fetch_vendor.py --tests"
    until(driver, lambda d: js(d, "return document.getAnimations().every(function (a) {"
                                  " return !(a instanceof CSSTransition) || a.playState !== 'running'; })"),
          message="the page's transitions to end")
    if not js(driver, "return !!window.axe"):
        driver.execute_script(AXE.read_text())
    found = driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(function (r) { done(r.violations.map(function (v) {"
        " return [v.id, v.impact, v.nodes.map(function (n) { return n.target.join(' '); })]; })); },"
        " function (e) { done([['axe failed', 'critical', [String(e)]]]); });")
    return [v for v in found if v[1] in impacts]


# --- axe-core -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/runs"] + PAGES)
def test_axe_finds_no_serious_violation_on_any_page(browser, live_server, path):
    if path in ("/", "/runs"):
        browser.get(live_server + "/")
    else:
        open_page(browser, live_server, path)
    assert axe_violations(browser) == []


def test_axe_finds_none_on_a_page_full_of_results_or_in_the_phone_layout(browser, live_server):
    open_page(browser, live_server, "/function")
    fill(browser, "function", epochs=20)
    browser.find_element(By.CSS_SELECTOR, 'input[name="pace"][value="0"]').click()
    start(browser)
    wait_state(browser, "finished")
    assert axe_violations(browser) == []
    browser.get(live_server + "/watch/" + js(browser, "return BP.job.jobId"))  # the read-only page of that run
    until(browser, lambda d: js(d, "return !!(window.BP && BP.job && BP.job.settled)"), message="the watch page")
    assert axe_violations(browser) == []


def test_axe_finds_none_on_a_phone(phone, live_server):
    phone.get(live_server + "/")
    until(phone, lambda d: js(d, "return document.readyState === 'complete'"), message="the page")
    assert axe_violations(phone) == []
    phone.get(live_server + "/classification")
    until(phone, lambda d: js(d, "return !!(window.BP && BP.job && BP.job.connected && BP.job.settled)")
          and enabled(d, "btn-start"), message="Start enabled")
    assert axe_violations(phone) == []


# --- live regions and focus ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", PAGES)
def test_only_the_message_line_is_a_live_region(browser, live_server, path):
    open_page(browser, live_server, path)
    live = js(browser, "return Array.from(document.querySelectorAll('[aria-live], [role=alert], [role=status], [role=log],"
                       " [role=marquee], [role=timer]')).filter(function (e) { return e.getAttribute('aria-live') !== 'off'; })"
                       ".map(function (e) { return e.id || e.className; })")
    assert live == ["message"]


def active(driver):
    return js(driver, "var a = document.activeElement; return a ? (a.id || a.tagName) : null")


def test_the_keyboard_focus_stays_on_a_control_after_start_and_stop(browser, live_server):
    open_page(browser, live_server, "/function")
    fill(browser, "function", epochs=5000)
    start_button = browser.find_element(By.ID, "btn-start")
    start_button.send_keys(Keys.ENTER)  # from the keyboard
    wait_state(browser, "running")
    until(browser, lambda d: active(d) == "btn-pause", message="the focus on Pause")
    browser.find_element(By.ID, "btn-stop").send_keys(Keys.ENTER)
    wait_state(browser, "stopped")
    until(browser, lambda d: active(d) == "btn-start", message="the focus back on Start")
    assert active(browser) not in ("BODY", None)


# --- text alternatives -------------------------------------------------------------------------------------
def alt_texts(driver):
    """{chart id: its text alternative} of every interactive Plotly chart on the page."""
    return js(driver, "var out = {}; document.querySelectorAll('.js-plotly-plot').forEach(function (el) {"
                      " if (el._context && el._context.staticPlot) return;"
                      " var a = document.getElementById(el.id + '-alt'); out[el.id] = a ? a.textContent : null; }); return out")


@pytest.mark.parametrize("path", PAGES)
def test_every_chart_has_a_text_alternative(browser, live_server, path):
    open_page(browser, live_server, path)
    texts = alt_texts(browser)
    assert texts and all(texts.values()), texts


def test_the_text_alternatives_say_what_the_charts_show_and_follow_the_run(browser, live_server):
    open_page(browser, live_server, "/function")
    fill(browser, "function", epochs=5000)
    browser.find_element(By.CSS_SELECTOR, 'input[name="pace"][value="250"]').click()
    start(browser)
    wait_state(browser, "running")
    pattern = re.compile(r"^Loss: training [-0-9.e+]+ at step ([0-9,]+)(, (falling|rising|steady))?; validation ")
    first = until(browser, lambda d: pattern.match(alt_texts(d)["chart-loss"] or ""), message="the loss summary")
    step = int(first.group(1).replace(",", ""))
    later = until(browser, lambda d: (lambda m: m and int(m.group(1).replace(",", "")) > step and m)(
        pattern.match(alt_texts(d)["chart-loss"])), message="the summary to follow the run")
    assert later
    texts = until(browser, lambda d: (lambda t: "mean squared distance" in (t["chart-fit"] or "") and t)(alt_texts(d)),
                  message="the fit's summary")
    assert re.match(r"^The network's fit at step [0-9,]+: target sin\(x\) on x from -3\.14 to 3\.14, mean squared", texts["chart-fit"])
    assert texts["chart-norms"].startswith("Gradient norms per layer: Dense 1 ")


# --- a phone ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", PAGES)
def test_on_a_phone_the_status_and_the_first_chart_are_on_the_first_screen(phone, live_server, path):
    phone.get(live_server + path)
    until(phone, lambda d: js(d, "return !!(window.BP && BP.job && BP.job.settled)"), message="the page")
    assert js(phone, "return [window.innerWidth, window.innerHeight]") == list(PHONE)
    assert js(phone, "return document.documentElement.scrollWidth") <= PHONE[0]  # nothing wider than the phone
    rects = js(phone, "function r(el) { var b = el.getBoundingClientRect(); return [b.top, b.bottom, b.height]; }"
                      " var chart = document.querySelector('.charts .chart');"
                      " return {status: r(document.getElementById('runbar')), chart: r(chart), start: r(document.getElementById('btn-start')),"
                      " settings: document.getElementById('settings').open};")
    height = PHONE[1]
    assert rects["status"][1] <= height, rects  # the whole status bar
    assert rects["start"][1] <= height, rects  # Start
    top, bottom, h = rects["chart"]
    assert top < height and min(bottom, height) - top >= 0.6 * h, rects  # most of the first chart
    assert rects["settings"] is False  # the settings are folded away below the charts, one tap to open
    phone.find_element(By.CSS_SELECTOR, "#settings > summary").click()
    assert js(phone, "return document.getElementById('settings').open")
