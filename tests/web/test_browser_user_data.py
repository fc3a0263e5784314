"""Your own data in a real browser: a CSV file chosen in the form is previewed, then trains (the chart shows its
points, the server's history names the file); a malformed file is named under the field; on the classify page,
clicks and shift-clicks add points of the two classes and Start trains on exactly those."""
import os

import pytest

from support import CHROMEDRIVER, CHROMIUM

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("browser tests need chromium and chromium-driver", allow_module_level=True)
pytest.importorskip("selenium", reason="browser tests need selenium")

import requests  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

from test_accessibility import axe_violations  # noqa: E402
from test_browser import fill, js, open_page, screenshot, start, until, wait_state  # noqa: E402

CURVE = "x,y\n" + "".join(f"{i / 20 - 1.5:.3f},{abs(i / 20 - 1.5) - 0.5:.4f}\n" for i in range(61))


def displayed(driver, selector):
    return js(driver, "var e = document.querySelector(arguments[0]); return !!e && e.offsetParent !== null", selector)


def choose_file(driver, prefix, path):
    driver.find_element(By.ID, f"{prefix}-data-file").send_keys(str(path))


def history(base, driver):
    job = js(driver, "return BP.job.jobId")
    return requests.get(f"{base}/jobs/{job}/history.json", timeout=10).json()["runs"][0]


def test_a_csv_file_is_previewed_then_trains(browser, live_server, tmp_path):
    path = tmp_path / "v-shape.csv"
    path.write_text(CURVE)
    open_page(browser, live_server, "/function")
    fill(browser, "function", epochs=20, hidden="8")
    browser.find_element(By.CSS_SELECTOR, 'input[name="pace"][value="0"]').click()
    choose_file(browser, "function", path)
    until(browser, lambda d: js(d, "return document.querySelector('.field-data').dataset.state") == "ready",
          message="the preview")
    preview = browser.find_element(By.ID, "function-data-preview").text
    assert "v-shape.csv: 61 rows (49 for training, 12 held out for validation)" in preview
    assert "x from -1.5 to 1.5" in preview and "First 8 rows" in preview
    assert not displayed(browser, '.field[data-field="formula"]')  # the generator's settings step aside
    assert axe_violations(browser) == []
    screenshot(browser, "own-data-preview")
    start(browser)
    wait_state(browser, "finished")
    run = history(live_server, browser)
    assert run["dataset"]["config"]["data"]["name"] == "v-shape.csv" and run["dataset"]["config"]["n_samples"] == 61
    shown = js(browser, "var d = document.getElementById('chart-fit').data; return d.map(function (t) { return t.name; })")
    assert "training points" in shown and not any(name.startswith("target") for name in shown)
    screenshot(browser, "own-data")
    browser.refresh()  # the run's data shows again, by its summary
    until(browser, lambda d: js(d, "return !!(BP.job && BP.job.settled && BP.job.state === 'finished')"), message="the run")
    until(browser, lambda d: "v-shape.csv: 61 rows" in d.find_element(By.ID, "function-data-preview").text,
          message="the run's data in the form")
    browser.find_element(By.ID, "btn-reset").click()  # back to generated data
    assert displayed(browser, '.field[data-field="formula"]') and not displayed(browser, "#function-data-preview")


def test_a_malformed_file_is_named_under_the_field(browser, live_server, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(CURVE.replace("-1.450,", "-1.450;"))
    open_page(browser, live_server, "/function")
    choose_file(browser, "function", path)
    until(browser, lambda d: js(d, "return document.querySelector('.field-data').dataset.state") == "error",
          message="the error")
    text = browser.find_element(By.ID, "function-data-error").text
    assert text == "Cannot use this data: line 3 has 1 value; expected 2 (x, y)"
    browser.find_element(By.ID, "function-data-paste-btn").click()
    box = browser.find_element(By.ID, "function-data-text")
    box.send_keys("x,y,z\n1,2,3\n")
    browser.find_element(By.ID, "function-data-read").click()
    until(browser, lambda d: "this page needs 2: x, y" in d.find_element(By.ID, "function-data-error").text,
          message="the pasted text's problem")


def click_at(driver, element, fx, fy, shift=False):
    """Click at a fraction (fx, fy) of the plot area of a Plotly chart (0, 0: its top left)."""
    size = js(driver, "var s = arguments[0]._fullLayout._size, r = arguments[0].getBoundingClientRect();"
                      " return [s.l, s.t, s.w, s.h, r.width, r.height];", element)
    left, top, w, h, width, height = size
    dx, dy = left + fx * w - width / 2, top + fy * h - height / 2  # offsets from the element's centre
    chain = ActionChains(driver)
    if shift:
        chain.key_down(Keys.SHIFT)
    chain.move_to_element_with_offset(element, int(dx), int(dy)).click()
    if shift:
        chain.key_up(Keys.SHIFT)
    chain.perform()


def test_points_clicked_on_the_classify_page_are_what_it_trains_on(browser, live_server):
    open_page(browser, live_server, "/classification")
    fill(browser, "classification", epochs=30, hidden="8")
    browser.find_element(By.CSS_SELECTOR, 'input[name="pace"][value="0"]').click()
    browser.find_element(By.ID, "btn-draw").click()
    chart = browser.find_element(By.ID, "chart-boundary")
    spots = [(0.1 + 0.06 * i, 0.2 + 0.05 * (i % 3)) for i in range(6)]
    for fx, fy in spots:
        click_at(browser, chart, fx, fy)
    for fx, fy in spots:
        click_at(browser, chart, 1 - fx, 1 - fy, shift=True)
    until(browser, lambda d: "12 points (6 blue, 6 orange)" in d.find_element(By.ID, "draw-note").text,
          message="the points counted")
    until(browser, lambda d: "class 0: 6 points, class 1: 6 points" in d.find_element(By.ID, "classification-data-preview").text,
          message="the points in the data field")
    clicked = js(browser, "return BP.clickPoints.points")
    assert axe_violations(browser) == []
    screenshot(browser, "click-points")
    start(browser)
    wait_state(browser, "finished")
    run = history(live_server, browser)
    trained = sorted((round(x, 4), round(y, 4), label) for (x, y), label in
                     zip(run["dataset"]["points"], run["dataset"]["labels"]))
    assert trained == sorted((round(x, 4), round(y, 4), label) for x, y, label in clicked)
    xs = [p[0] for p in clicked]
    assert max(p[0] for p in clicked if p[2] == 1) > min(p[0] for p in clicked if p[2] == 0)  # orange on the right
    assert min(xs) < max(xs)
    screenshot(browser, "click-points-trained")
    browser.find_element(By.ID, "btn-draw-clear").click()
    until(browser, lambda d: "0 points" in d.find_element(By.ID, "draw-note").text, message="the points cleared")
    assert not js(browser, "return BP.page.current.form.values().data || null")
