"""The table of runs in a real browser: two runs started on an experiment page appear on the Runs page, the
settings they differ in shown, ticked runs overlay their curves (the numbers the server recorded), and the
table survives a restart of the server (same directory, same address: the page keeps its table's key)."""
import os
import sys

import pytest

from support import CHROMEDRIVER, CHROMIUM, free_port, wait_healthy

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("browser tests need chromium and chromium-driver", allow_module_level=True)
pytest.importorskip("selenium", reason="browser tests need selenium")

import requests  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

from test_accessibility import axe_violations  # noqa: E402
from test_browser import fill, js, open_page, screenshot, start, until, wait_state  # noqa: E402


class Server:
    """`python app.py` on one port with its own table directory, restartable."""

    def __init__(self, processes, runs_dir):
        self.processes, self.port, self.proc = processes, free_port(), None
        self.env = {"BPNET_RUNS_DIR": str(runs_dir), "BPNET_LOG_LEVEL": "WARNING", "BPNET_MAX_JOBS": "2"}
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self):
        self.proc = self.processes.start(f"runs-server-{self.port}", [sys.executable, "app.py", "--port", str(self.port)],
                                         env=self.env)
        wait_healthy(self.url, self.proc)
        return self

    def restart(self):
        self.processes.stop(self.proc)
        return self.start()


def run_once(driver, url, **settings):
    open_page(driver, url, "/function")
    fill(driver, "function", **settings)
    driver.find_element(By.CSS_SELECTOR, 'input[name="pace"][value="0"]').click()
    start(driver)
    wait_state(driver, "finished")
    job = js(driver, "return BP.job.jobId")
    until(driver, lambda d: js(d, "return BP.loggedRuns.has(arguments[0])", job), message="the run in the table")
    return job


def table_rows(driver):
    return js(driver, "return BP.$$('#runs-body tr').map(function (tr) { return [tr.dataset.run,"
                      " tr.querySelector('td.settings').textContent]; })")


def overlaid(driver):
    return js(driver, "var d = document.getElementById('runs-chart').data || [];"
                      " return d.map(function (t) { return [t.name, t.y.length, t.y[t.y.length - 1]]; })")


def test_the_table_overlays_two_runs_and_survives_a_server_restart(browser, processes, tmp_path):
    server = Server(processes, tmp_path / "runs").start()
    jobs = [run_once(browser, server.url, epochs=20, hidden="8", lr=lr) for lr in ("0.01", "0.05")]
    browser.get(server.url + "/runs")
    until(browser, lambda d: js(d, "return document.body.dataset.runs") == "2", message="two runs in the table")
    assert [r[0] for r in table_rows(browser)] == [f"{jobs[0]}:0", f"{jobs[1]}:0"]
    assert [r[1] for r in table_rows(browser)] == ["the baseline", "lr 0.05"]
    for box in browser.find_elements(By.CSS_SELECTOR, "#runs-body input[type=checkbox]"):
        box.click()
    until(browser, lambda d: len(overlaid(d)) == 2, message="two curves on the chart")
    recorded = [requests.get(f"{server.url}/jobs/{j}/history.json", timeout=10).json()["runs"][0] for j in jobs]
    curves = overlaid(browser)
    assert [c[0] for c in curves] == ["#1 (baseline)", "#2"]
    assert [c[2] for c in curves] == [r["steps"]["val_loss"][-1] for r in recorded]  # the server's numbers
    seeds = browser.find_element(By.ID, "runs-seeds")
    seeds.clear()
    seeds.send_keys("2")
    browser.find_element(By.ID, "runs-repeat").click()  # the baseline (seed 0) again with seeds 1 and 2
    until(browser, lambda d: js(d, "return document.body.dataset.runs") == "4", timeout=120, message="two more seeds")
    group = browser.find_element(By.ID, "runs-groups-list").text
    assert group.startswith("Runs #1, #3, #4 (function, seeds 0, 1, 2): validation loss ") and "over 3 runs" in group
    assert overlaid(browser) == curves  # the ticked runs stay ticked
    assert axe_violations(browser) == []
    screenshot(browser, "runs")

    server.restart()  # nothing in memory: the jobs are gone, the table is on disk
    assert requests.get(f"{server.url}/jobs/{jobs[0]}/history.json", timeout=10).status_code == 404
    browser.get(server.url + "/runs")
    until(browser, lambda d: js(d, "return document.body.dataset.runs") == "4", message="the table after the restart")
    browser.find_element(By.CSS_SELECTOR, "#runs-body tr:nth-child(2) input[type=radio]").click()  # pin run 2
    assert [r[1] for r in table_rows(browser)][:2] == ["lr 0.01", "the baseline"]
    for box in browser.find_elements(By.CSS_SELECTOR, "#runs-body input[type=checkbox]")[:2]:
        box.click()
    until(browser, lambda d: len(overlaid(d)) == 2, message="the curves after the restart")
    assert [c[2] for c in overlaid(browser)] == [c[2] for c in curves]
    assert [c[0] for c in overlaid(browser)] == ["#1", "#2 (baseline)"]
