"""Lessons and setups as links in a real browser: a lesson's link opens its setup, a link's problems are shown by
label, "Copy link to this setup" reproduces the form exactly, help opens on demand, the verdict at the end of a
run is the engine's, accuracy charts show chance, and the spheres view says it is a slice."""
import os
import re

import pytest

from support import CHROMEDRIVER, CHROMIUM

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("browser tests need chromium and chromium-driver", allow_module_level=True)
pytest.importorskip("selenium", reason="browser tests need selenium")

import requests  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

from test_accessibility import axe_violations  # noqa: E402
from test_browser import (clean_console_and_origin, fill, js, message, open_page, screenshot, start, until,  # noqa: E402,F401
                          wait_state)

FORM = ("var o = BP.page.current.options, f = o.form(), r = BP.$$('input[name=pace]').find(function (x) {"
        " return x.checked; }); return {raw: f.raw(), pace: r ? r.value : null,"
        " extra: o.linkParams ? o.linkParams() : null, hidden: BP.$$('.field.concealed').map(function (e) {"
        " return e.dataset.field; })};")


def settled(driver):
    until(driver, lambda d: js(d, "return !!(window.BP && BP.job && BP.job.connected && BP.job.settled)"),
          message="the page")


def form_state(driver):
    return js(driver, FORM)


def run_from_link(driver, base, link, state="finished"):
    """Open a setup link, press Start, wait for the run to end: (job id, the run's history as the server has it)."""
    driver.get(base + link)
    settled(driver)
    start(driver)
    wait_state(driver, state)
    job = js(driver, "return BP.job.jobId")
    return job, requests.get(f"{base}/jobs/{job}/history.json", timeout=10).json()["runs"][0]


def displayed(driver, selector):
    return js(driver, "var e = document.querySelector(arguments[0]); return !!e && e.offsetParent !== null", selector)


def test_a_lesson_link_opens_its_setup_even_after_a_run_on_that_page(browser, live_server):
    open_page(browser, live_server, "/function")  # a run of this tab on the page: a reload would show it again
    fill(browser, "function", epochs=3, hidden="4")
    browser.find_element(By.CSS_SELECTOR, 'input[name="pace"][value="0"]').click()
    start(browser)
    wait_state(browser, "finished")
    browser.get(live_server + "/lessons/fitting")
    screenshot(browser, "lesson")
    browser.find_element(By.LINK_TEXT, "2 hidden units →").click()
    settled(browser)
    state = form_state(browser)
    assert state["raw"]["formula"] == "sin(2*x)" and state["raw"]["hidden"] == "2"  # the link's, not the last run's
    assert state["raw"]["epochs"] == "1000" and state["pace"] == "250"  # the rest: the page's defaults
    assert set(state["hidden"]) == {"init", "dropout", "batch_norm", "weight_decay", "lr_schedule"}
    assert not displayed(browser, "#function-init") and displayed(browser, "#function-activation")
    note = browser.find_element(By.CSS_SELECTOR, ".concealed-note")
    assert "5 settings are hidden by this lesson's link" in note.text
    banner = browser.find_element(By.ID, "lesson-note")
    assert "Fitting and underfitting" in banner.text and "How many bends" in banner.text
    assert not js(browser, "return BP.job.jobId")  # no run restored over the lesson's setup
    screenshot(browser, "lesson-setup")
    note.find_element(By.TAG_NAME, "button").click()  # "Show them"
    assert displayed(browser, "#function-init") and not browser.find_elements(By.CSS_SELECTOR, ".concealed-note")
    banner.find_element(By.TAG_NAME, "a").click()
    until(browser, lambda d: d.current_url == live_server + "/lessons/fitting", message="back to the lesson")


def test_invalid_and_unknown_parameters_are_shown_on_the_page_by_label(browser, live_server):
    browser.get(live_server + "/function?lr=abc&epochs=3&foo=bar&hidden=4&pace=0")
    settled(browser)
    box = browser.find_element(By.ID, "setup-problems")
    assert "2 settings of this link could not be used" in box.text
    assert "Learning rate: expected a number, got 'abc'; ignored, so it keeps its default" in box.text
    assert "foo: unknown setting; ignored" in box.text
    lr = browser.find_element(By.ID, "function-lr")
    assert lr.get_attribute("value") == "0.01" and lr.get_attribute("aria-invalid") == "true"
    under = browser.find_element(By.ID, "function-lr-error")
    assert under.is_displayed() and "expected a number, got 'abc'" in under.text
    assert lr.get_attribute("aria-describedby") == "function-lr-error"
    assert browser.switch_to.active_element.tag_name == "body"  # the page opened without moving the focus
    assert form_state(browser)["raw"]["epochs"] == "3" and form_state(browser)["pace"] == "0"
    assert not displayed(browser, "#verdict")  # no verdict before a run has ended
    screenshot(browser, "setup-problems")
    assert axe_violations(browser) == []
    start(browser)  # the link's valid settings train, with the default learning rate
    wait_state(browser, "finished")
    job = js(browser, "return BP.job.jobId")
    config = requests.get(f"{live_server}/jobs/{job}/history.json", timeout=10).json()["runs"][0]["dataset"]["config"]
    assert (config["lr"], config["epochs"], config["hidden"], config["pace"]) == (0.01, 3, [4], 0)


@pytest.mark.parametrize("path, changes", [
    ("/classification", {"dataset": "spheres", "hidden": "3,3,2", "activation": "sigmoid", "lr": "0.05",
                         "batch_norm": True, "noise": "0.125", "optimizer": "momentum", "momentum": "0.8"}),
    ("/function", {"formula": "sin(3*x)/(1+x^2)", "x_min": "-2.5", "hidden": "", "lr": "0.0005"}),
])
def test_copy_link_gives_a_url_that_reproduces_the_form_exactly(browser, live_server, path, changes):
    browser.execute_cdp_cmd("Browser.grantPermissions", {"origin": live_server,
                                                         "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    task = path.strip("/")
    open_page(browser, live_server, path)
    fill(browser, task, **changes)
    browser.find_element(By.CSS_SELECTOR, 'input[name="pace"][value="25"]').click()
    before = form_state(browser)
    browser.find_element(By.ID, "btn-setup-link").click()
    until(browser, lambda d: "Link to this setup copied" in message(d), message="the link copied")
    url = browser.execute_async_script("navigator.clipboard.readText().then(arguments[arguments.length - 1])")
    assert url == js(browser, "return document.getElementById('btn-setup-link').dataset.url")
    assert url.startswith(f"{live_server}{path}?") and "pace=25" in url and "task=" not in url
    assert ("formula=sin(3*x)/(1%2Bx%5E2)" in url) if task == "function" else ("hidden=3,3,2" in url)
    assert "epochs=" not in url  # only what differs from the page's defaults
    browser.get(url)
    settled(browser)
    assert form_state(browser) == before
    assert not browser.find_elements(By.ID, "setup-problems")


def test_the_compare_pages_link_carries_its_comparison_and_base(browser, live_server):
    open_page(browser, live_server, "/compare")
    js(browser, "var s = document.getElementById('cmp-name'); s.value = 'dropout'; s.dispatchEvent(new Event('change'));"
                "var t = document.getElementById('cmp-task'); t.value = 'function'; t.dispatchEvent(new Event('change'));")
    fill(browser, "cmp-function", lr="0.002", epochs="50")
    before = form_state(browser)
    browser.find_element(By.ID, "btn-setup-link").click()
    url = until(browser, lambda d: js(d, "return document.getElementById('btn-setup-link').dataset.url"), message="the link")
    assert url.startswith(live_server + "/compare?comparison=dropout&task=function&")
    browser.get(url)
    settled(browser)
    assert form_state(browser) == before and before["extra"] == {"comparison": "dropout", "task": "function"}


def test_help_opens_on_demand_and_escape_closes_it(browser, live_server):
    open_page(browser, live_server, "/mnist")
    helps = browser.find_elements(By.CSS_SELECTOR, "details.chart-help")
    assert len(helps) == 7 and not any(h.get_attribute("open") for h in helps)
    assert not any(p.is_displayed() for p in browser.find_elements(By.CSS_SELECTOR, ".help-panel"))
    confusion = browser.find_element(By.ID, "chart-confusion-title").find_element(By.XPATH, "ancestor::section[1]")
    summary = confusion.find_element(By.TAG_NAME, "summary")
    assert summary.text == "What am I looking at?"
    summary.click()
    panel = confusion.find_element(By.CSS_SELECTOR, ".help-panel")
    assert panel.is_displayed() and panel.text.startswith("Rows are the true digits, columns the network's answers")
    screenshot(browser, "help")
    assert axe_violations(browser) == []
    summary.send_keys(Keys.ESCAPE)
    until(browser, lambda d: not panel.is_displayed(), message="Escape to close the help")
    assert browser.switch_to.active_element == summary
    # the glossary beside a setting: the schema's text, under the setting, on demand
    button = browser.find_element(By.CSS_SELECTOR, '[aria-controls="mnist-optimizer-glossary"]')
    box = browser.find_element(By.ID, "mnist-optimizer-glossary")
    assert not box.is_displayed() and button.get_attribute("aria-expanded") == "false"
    button.click()
    assert box.is_displayed() and box.text.startswith("How each step turns the gradients into weight changes.")
    assert button.get_attribute("aria-expanded") == "true"
    assert axe_violations(browser) == []
    button.send_keys(Keys.ESCAPE)
    assert not box.is_displayed() and button.get_attribute("aria-expanded") == "false"


OVERFITS = "n_samples=40&val_fraction=0.5&noise=0.4&hidden=128,128&batch_size=20&epochs=2000&lr=0.0003"
DIVERGES = "optimizer=sgd&lr=1&epochs=300"
IMPROVING = "formula=sin(3*x)&epochs=200&lr=0.003"


@pytest.mark.parametrize("query, kind, state", [(OVERFITS, "overfitting", "finished"), (DIVERGES, "diverged", "failed"),
                                                (IMPROVING, "still_improving", "finished")])
def test_the_verdict_at_the_end_of_a_run_is_the_engines(browser, live_server, query, kind, state):
    job, run = run_from_link(browser, live_server, f"/function?{query}&pace=0", state)
    verdict = run["verdict"]
    assert verdict["kind"] == kind  # the engine's verdict on this seeded run ...
    line = until(browser, lambda d: displayed(d, "#verdict") and d.find_element(By.CSS_SELECTOR, "#verdict li"),
                 message="the verdict")
    assert line.get_attribute("data-kind") == kind  # ... is the page's, word for word
    assert line.find_element(By.CLASS_NAME, "verdict-kind").text == verdict["title"]
    said = line.find_element(By.CLASS_NAME, "verdict-text").text
    text = verdict["text"]
    if text.lower().startswith(verdict["title"].lower() + ": "):  # (the title is not said twice)
        text = text[len(verdict["title"]) + 2:]
    assert said == text[0].upper() + text[1:]
    if kind == "diverged":
        assert "Try a learning rate 10x lower (0.1 instead of 1)." in said
    if kind == "overfitting":
        assert re.search(r"from step [0-9,]+: overfitting", said)
        screenshot(browser, "verdict")
        browser.refresh()  # a reload shows the run again (the same link), its verdict from the history
        settled(browser)
        until(browser, lambda d: displayed(d, "#verdict"), message="the verdict after a reload")
        assert browser.find_element(By.CSS_SELECTOR, "#verdict .verdict-text").text == said
        assert js(browser, "return BP.job.jobId") == job


def test_accuracy_charts_show_chance_and_a_3d_dataset_says_its_view_is_a_slice(browser, live_server):
    _, run = run_from_link(browser, live_server, "/classification?dataset=spheres&n_samples=200&epochs=3&pace=0")
    dataset = run["dataset"]
    chance = until(browser, lambda d: js(d, "var s = (document.getElementById('chart-acc').layout.shapes || [])"
                                            ".filter(function (s) { return s.line && s.line.dash === 'dash'; });"
                                            " return s.length ? s[0].y0 : null;"), message="the chance line")
    assert chance == dataset["baseline"]["accuracy"]
    note = js(browser, "return document.querySelector('#chart-acc .annotation-text').textContent")
    assert note == f"chance {round(100 * chance)} %"
    sub = browser.find_element(By.CSS_SELECTOR, "#chart-boundary-title + .sub").text
    slice_at = dataset["slice"][0]
    assert sub.startswith("3 features: points drawn by x₁ and x₂; background: the slice at x₃ = ")
    assert float(re.search(r"x₃ = (-?[0-9.e-]+)", sub).group(1)) == pytest.approx(slice_at, abs=0.01)
    screenshot(browser, "spheres")


def test_a_watcher_can_start_their_own_run_with_the_watched_runs_settings(browser, live_server):
    job, _ = run_from_link(browser, live_server, "/function?formula=x^2&hidden=6&epochs=3&pace=0")
    browser.get(f"{live_server}/watch/{job}")
    settled(browser)
    own = browser.find_element(By.ID, "own-run-link")
    until(browser, lambda d: "hidden=6" in own.get_attribute("href"), message="the link with the run's settings")
    own.click()
    settled(browser)
    state = form_state(browser)
    assert (state["raw"]["formula"], state["raw"]["hidden"], state["raw"]["epochs"], state["pace"]) == ("x^2", "6", "3", "0")
    assert not js(browser, "return BP.data.watch")  # the user's own page, with controls


@pytest.mark.parametrize("path", ["/lessons", "/lessons/vanishing-gradients",
                                  "/classification?dataset=spheres&hide=init,dropout&lesson=vanishing-gradients"])
def test_axe_finds_no_serious_violation_on_the_lesson_pages(browser, live_server, path):
    browser.get(live_server + path)
    until(browser, lambda d: js(d, "return document.readyState === 'complete'"), message="the page")
    assert axe_violations(browser) == []
