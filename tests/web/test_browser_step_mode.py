"""Step mode in a real browser, end to end: the page's own job, stepped with Step, the key S and Step epoch, shows
the engine's X-ray (GET /jobs/<id>/xray.json) number for number; Rewind repeats the same steps bit for bit, or
at another learning rate; on each experiment page a paused run's step shows in the folded panel; the open panel
follows a running job.
"""
import re

import numpy as np
import pytest
from selenium.webdriver.common.by import By

from test_browser import clean_console_and_origin, enabled, fill, js, open_page, screenshot, second_tab, until  # noqa: F401
from test_browser_xray import NUMBER, chain_text, close, node_values


def xray_json(base, job_id):
    import json
    import urllib.request

    with urllib.request.urlopen(f"{base}/jobs/{job_id}/xray.json") as resp:
        return json.load(resp)


def step_and_wait(driver, button, step):
    until(driver, lambda d: enabled(d, button), message=f"{button} to be enabled")  # the job is ours (its ack came)
    driver.find_element(By.ID, button).click()
    until(driver, lambda d: js(d, "return document.getElementById('xray-badge').textContent") == f"step {step}"
          and js(d, "return BP.job.state") == "paused", message=f"the X-ray of step {step}")


def shown_loss(driver):
    return re.search(r"minibatch loss (" + NUMBER + ")", js(driver, "return document.getElementById('xray-summary').textContent")).group(1)


def test_step_three_times_and_the_page_shows_the_jobs_xray_then_rewind_repeats_it(browser, live_server):
    open_page(browser, live_server, "/backprop")
    browser.find_element(By.ID, "btn-start").click()
    until(browser, lambda d: js(d, "return BP.job.state") == "paused", message="the job paused at step 0")
    until(browser, lambda d: "No step has run yet" in js(d, "return document.getElementById('xray-note').textContent"),
          message="the panel to say there is no step yet")
    step_and_wait(browser, "btn-step", 1)
    browser.find_element(By.TAG_NAME, "body").send_keys("s")  # the key S steps too
    until(browser, lambda d: js(d, "return document.getElementById('xray-badge').textContent") == "step 2"
          and js(d, "return BP.job.state") == "paused", message="the X-ray of step 2 (key S)")
    step_and_wait(browser, "btn-step", 3)
    job_id = js(browser, "return BP.job.jobId")
    xr = xray_json(live_server, job_id)
    assert xr["step"] == 3 and close(shown_loss(browser), xr["loss"])
    js(browser, "BP.xrayPanel.select({kind: 'weight', l: 1, j: 2, i: 0})")  # one displayed gradient
    grad = re.search(r"^backward: dL/dW1\[3,1\] = .* = (" + NUMBER + ")$", chain_text(browser), re.M).group(1)
    assert close(grad, xr["layers"][0]["params"]["weight"]["grad"][2][0])
    nodes = node_values(browser)
    assert close(nodes[(2, 1)]["z"], float(np.mean(np.array(xr["layers"][2]["output"])[:, 1])))
    screenshot(browser, "backprop-step")
    # Rewind: a new job from the same initial weights and data order, paused at step 0; its step 3 is the same
    until(browser, lambda d: enabled(d, "btn-rewind"), message="Rewind to be enabled")
    browser.find_element(By.ID, "btn-rewind").click()
    until(browser, lambda d: js(d, "return BP.job.jobId") not in (None, job_id) and js(d, "return BP.job.state") == "paused",
          message="the rewound job")
    until(browser, lambda d: "No step has run yet" in js(d, "return document.getElementById('xray-note').textContent"),
          message="the panel emptied of the old job's step")
    assert js(browser, "return document.querySelectorAll('#xray-diagram .net-node').length") == 0
    for step in (1, 2, 3):
        step_and_wait(browser, "btn-step", step)
    again = xray_json(live_server, js(browser, "return BP.job.jobId"))
    assert again["loss"] == xr["loss"] and again["layers"][0]["params"]["weight"]["grad"] == xr["layers"][0]["params"]["weight"]["grad"]
    # Step epoch: to the end of the first epoch
    spe = js(browser, "return BP.job.runs[0].spe")
    step_and_wait(browser, "btn-step-epoch", spe)
    assert xray_json(live_server, js(browser, "return BP.job.jobId"))["step"] == spe
    # Rewind with another learning rate: the same start, stepped at that rate
    previous = js(browser, "return BP.job.jobId")
    lr = browser.find_element(By.ID, "live-lr")
    lr.clear()
    lr.send_keys("0.25")
    browser.find_element(By.ID, "btn-rewind").click()
    until(browser, lambda d: js(d, "return BP.job.jobId") not in (None, previous) and js(d, "return BP.job.state") == "paused",
          message="the job rewound at lr 0.25")
    step_and_wait(browser, "btn-step", 1)
    assert xray_json(live_server, js(browser, "return BP.job.jobId"))["lr"] == 0.25
    assert "lr 0.25" in js(browser, "return document.getElementById('xray-summary').textContent")


def test_a_class_follows_the_teachers_steps_on_the_step_by_step_page_through_its_share_link(browser, live_server):
    open_page(browser, live_server, "/backprop?task=function")
    browser.find_element(By.ID, "btn-start").click()
    step_and_wait(browser, "btn-step", 1)
    share = until(browser, lambda d: js(d, "return document.getElementById('share-url').value"), message="the share link")
    assert share.endswith("?view=backprop"), share
    with second_tab(browser) as teacher:
        browser.get(share)
        until(browser, lambda d: js(d, "return document.getElementById('xray-badge').textContent") == "step 1",
              message="the watcher's X-ray of step 1")
        assert js(browser, "return document.getElementById('controls').hidden")  # watching, not stepping
        assert js(browser, "return document.getElementById('xray').open")
        watcher = browser.current_window_handle
        browser.switch_to.window(teacher)
        step_and_wait(browser, "btn-step", 2)
        browser.switch_to.window(watcher)
        until(browser, lambda d: js(d, "return document.getElementById('xray-badge').textContent") == "step 2",
              message="the watcher's X-ray of the teacher's next step")
        assert close(shown_loss(browser), xray_json(live_server, js(browser, "return BP.job.jobId"))["loss"])
        screenshot(browser, "backprop-watch")


@pytest.mark.parametrize("path", ["/function", "/surface", "/classification", "/mnist"])
def test_the_panel_on_an_experiment_page_shows_a_paused_runs_step(browser, live_server, path):
    open_page(browser, live_server, path)
    assert not js(browser, "return document.getElementById('xray').open")  # folded: it asks for nothing
    assert js(browser, "return document.getElementById('step-buttons').hidden")
    task = path.strip("/")
    if task == "mnist":  # 1,000 digits: 8 steps an epoch, so 50 epochs take 16 s at 25 steps a second
        fill(browser, "mnist", n_samples=1000, hidden="16", epochs=50)
    browser.find_element(By.CSS_SELECTOR, 'input[name="pace"][value="25"]').click()  # slow: Pause comes before the end
    browser.find_element(By.ID, "btn-start").click()
    until(browser, lambda d: js(d, "return BP.job.state") == "running", message="the run")
    browser.find_element(By.ID, "btn-pause").click()
    until(browser, lambda d: js(d, "return BP.job.state") == "paused" and
          not js(d, "return document.getElementById('step-buttons').hidden"), message="the step buttons while paused")
    browser.find_element(By.CSS_SELECTOR, "#xray > summary").click()
    step = js(browser, "return BP.job.runs[0].step")
    step_and_wait(browser, "btn-step", step + 1)
    xr = xray_json(live_server, js(browser, "return BP.job.jobId"))
    assert close(shown_loss(browser), xr["loss"])
    if xr["summary"]:  # MNIST: pictures of the weights and gradients, a table of norms
        assert js(browser, "return document.querySelectorAll('#xray-images canvas').length") >= 2
        assert "too big to draw unit by unit" in js(browser, "return document.getElementById('xray-note').textContent")
    else:
        assert js(browser, "return document.querySelectorAll('#xray-diagram .net-node').length") > 0
        assert js(browser, "return document.querySelectorAll('#units-grid figure').length") > 0
    screenshot(browser, f"xray-{task}")


def test_the_open_panel_follows_a_running_job(browser, live_server):
    open_page(browser, live_server, "/function")
    browser.find_element(By.CSS_SELECTOR, 'input[name="pace"][value="25"]').click()
    browser.find_element(By.ID, "btn-start").click()
    until(browser, lambda d: js(d, "return BP.job.state") == "running", message="the run")
    browser.find_element(By.CSS_SELECTOR, "#xray > summary").click()  # opened: it asks, the job records

    def shown_step(d):
        m = re.fullmatch(r"step (\d+)", js(d, "return document.getElementById('xray-badge').textContent"))
        return int(m.group(1)) if m else 0
    first = until(browser, shown_step, message="a first X-ray of the running job")
    until(browser, lambda d: shown_step(d) > first, message="a later step's X-ray")
