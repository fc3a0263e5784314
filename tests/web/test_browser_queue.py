"""A class on one server, in a real browser: with both slots busy, Start waits in line with its place in the
status bar; the run starts on the page by itself when a slot frees; Stop leaves the line."""
import os

import pytest

from support import CHROMEDRIVER, CHROMIUM, LiveClient, long_config

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("browser tests need chromium and chromium-driver", allow_module_level=True)
pytest.importorskip("selenium", reason="browser tests need selenium")

from selenium.webdriver.common.by import By  # noqa: E402

from test_browser import (clean_console_and_origin, enabled, fill, js, message, open_page, screenshot,  # noqa: E402,F401
                          start, state, until, wait_state)


def pill(driver):
    return js(driver, "return document.getElementById('st-state').textContent")


@pytest.fixture
def two_busy(live_server):
    """Both training slots of the server held by two other sessions' long jobs: [(client, job id)]."""
    held = []
    for _ in range(2):
        c = LiveClient(live_server)
        ack = c.call("start", {"config": long_config(pace=0)})
        assert ack["ok"] and not ack.get("queued"), ack
        held.append((c, ack["job_id"]))
    yield held
    for c, job_id in held:
        c.call("stop", {"job_id": job_id})
        c.wait_state(job_id, "stopped", "finished")
        c.disconnect()


def test_a_queued_run_shows_its_place_and_starts_when_a_slot_frees(browser, live_server, two_busy):
    open_page(browser, live_server, "/function")
    fill(browser, "function", epochs=3, n_samples=40)
    start(browser)
    until(browser, lambda d: state(d) == "queued" and pill(d) == "1st in line", message="the place in line")
    assert js(browser, "return document.getElementById('st-eta').textContent") == "ETA about 3 min"  # the jobs ahead
    assert message(browser).startswith("Every training slot is busy (2 of 2): you are 1st in line (you are next), about ")
    assert enabled(browser, "btn-stop") and not enabled(browser, "btn-start")
    screenshot(browser, "queued")
    holder, job_id = two_busy[0]
    assert holder.call("stop", {"job_id": job_id})["ok"]  # a slot frees: the page takes its run up by itself
    wait_state(browser, "finished")
    assert js(browser, "return BP.job.owner") and js(browser, "return document.getElementById('chart-loss').data[0].x.length") > 0
    assert js(browser, "return document.getElementById('share-url').value").startswith(live_server + "/watch/")


def test_stop_leaves_the_line(browser, live_server, two_busy):
    open_page(browser, live_server, "/function")
    start(browser)
    until(browser, lambda d: state(d) == "queued", message="the place in line")
    browser.find_element(By.ID, "btn-stop").click()
    until(browser, lambda d: message(d) == "You left the line.", message="the line left")
    shown = js(browser, "return BP.job.jobId ? 'finished' : 'idle'")  # the run this tab showed before, if any
    wait_state(browser, shown, timeout=5)  # (the status bar is redrawn on the next animation frame)
    assert enabled(browser, "btn-start")
    assert LiveClient(live_server).get("/healthz").json()["waiting"] == 0
