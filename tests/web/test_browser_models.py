"""Models that travel, in a real browser: a trained MNIST model downloaded, loaded back with "Load model…" (its
page shows what it does on its data and predicts a drawn digit), trained on from its weights, and a file that is
not a model answered on the message line."""
import os

import pytest

from support import CHROMEDRIVER, CHROMIUM

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("browser tests need chromium and chromium-driver", allow_module_level=True)
pytest.importorskip("selenium", reason="browser tests need selenium")

import requests  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

from test_browser import (assert_startable, clean_console_and_origin, draw_a_one, fill, js, message,  # noqa: E402,F401
                          open_page, screenshot, start, state, until, wait_state)

TINY = dict(n_samples=1000, hidden="16", epochs=1, eval_every=5, val_subset=100)


def losses(driver):
    """The training loss curve's (first, last) values."""
    return js(driver, "var d = document.getElementById('chart-loss').data, y = d && d[0].y;"
                      " return y && y.length ? [y[0], y[y.length - 1]] : null")


def test_a_downloaded_model_loads_back_predicts_a_digit_and_trains_on(browser, live_server, tmp_path):
    open_page(browser, live_server, "/mnist")
    fill(browser, "mnist", **TINY)
    start(browser)
    wait_state(browser, "finished", timeout=60)
    source = js(browser, "return BP.job.jobId")
    trained_first, trained_last = until(browser, losses, message="the loss curve")
    href = browser.find_element(By.ID, "dl-npz").get_attribute("href")
    assert browser.find_element(By.ID, "dl-py").get_attribute("href").endswith(f"/jobs/{source}/model.py?run=0")
    path = tmp_path / "digits.npz"
    path.write_bytes(requests.get(href, timeout=30).content)

    browser.find_element(By.ID, "load-model").send_keys(str(path))  # as choosing the file in the dialog
    until(browser, lambda d: js(d, "return location.search.startsWith('?job=') && !!(BP.job && BP.job.settled"
                                   " && BP.job.kind === 'loaded')"), message="the loaded model's page")
    wait_state(browser, "finished")
    until(browser, lambda d: message(d).startswith("Loaded from digits.npz: on this setup's data, validation loss"),
          message="the loaded model's summary")
    assert "test accuracy" in message(browser)
    assert js(browser, "return document.querySelectorAll('#digits .digit canvas').length") == 24
    draw_a_one(browser)
    assert browser.find_element(By.ID, "continue-row").is_displayed()
    screenshot(browser, "model-loaded")

    browser.find_element(By.ID, "continue-model").click()
    start(browser)
    wait_state(browser, "finished", timeout=60)
    assert js(browser, "return BP.job.kind") == "train"
    continued_first, _ = until(browser, losses, message="the continued run's loss")
    assert continued_first < (trained_first + trained_last) / 2  # it began from the trained weights, not afresh
    assert_startable(browser)


def test_a_file_that_is_not_a_model_is_refused_on_the_message_line(browser, live_server, tmp_path):
    open_page(browser, live_server, "/function")
    path = tmp_path / "notes.npz"
    path.write_text("not a model")
    browser.find_element(By.ID, "load-model").send_keys(str(path))
    until(browser, lambda d: message(d).startswith("Could not load the model: notes.npz: this is not a .npz model file"),
          message="the refusal")
    assert js(browser, "return document.getElementById('message').dataset.kind") == "error"
    assert state(browser) == "idle" and not js(browser, "return location.search")
    browser.get_log("browser")  # the refused request's 400 is logged by the browser itself
