"""Lessons and setup links over HTTP and sockets: the lesson pages, a page opened from a setup link (its settings
for the form, every problem listed by label), help on every chart and the glossary beside settings, the verdict
in the 'done' event and the history."""
import html
import json
import logging
import re

import pytest
from markupsafe import escape

from bpnet.engine import lessons
from bpnet.engine.config import FIELDS, schema
from bpnet.engine.setups import lesson_setups
from support import fast_config

EXPERIMENTS = ["/function", "/surface", "/classification", "/mnist", "/compare"]


def esc(value):
    return str(escape(value))  # as the templates escape it


def text(resp):
    assert resp.status_code == 200, resp.data[:300]
    return resp.get_data(as_text=True)


def page_data(page):
    return json.loads(re.search(r'<script id="bp-data" type="application/json">(.*?)</script>', page, re.S).group(1))


def no_tracebacks(caplog):
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


# --- the lesson pages --------------------------------------------------------------------------------
def test_the_lessons_are_listed_and_linked_from_the_home_page_and_the_nav(http):
    index = text(http.get("/lessons"))
    for i, lesson in enumerate(lessons.LESSONS):
        assert f'href="/lessons/{lesson["slug"]}"' in index and esc(lesson["title"]) in index
    home = text(http.get("/"))
    assert 'href="/lessons"' in home and all(f'/lessons/{lesson["slug"]}' in home for lesson in lessons.LESSONS)
    for path in EXPERIMENTS:
        assert '<a href="/lessons">Lessons</a>' in text(http.get(path))  # in every page's nav


@pytest.mark.parametrize("lesson", lessons.LESSONS, ids=lambda lesson: lesson["slug"])
def test_a_lesson_page_holds_its_paragraphs_setup_links_and_question(http, lesson):
    page = text(http.get(f"/lessons/{lesson['slug']}"))
    for paragraph in lesson["paragraphs"]:
        assert f"<p>{esc(paragraph)}</p>" in page
    for link in lesson_setups(lesson):
        assert f'href="{esc(link["url"])}"' in page and esc(link["label"]) in page
    assert esc(lesson["question"]) in page


def test_an_unknown_lesson_is_a_404_page(http, caplog):
    resp = http.get("/lessons/" + "x" * 300)
    assert resp.status_code == 404 and resp.mimetype == "text/html"
    assert "There is no lesson called" in resp.get_data(as_text=True)
    no_tracebacks(caplog)


# --- a page opened from a setup link ---------------------------------------------------------------------
def test_a_setup_link_gives_the_page_its_settings_and_lists_every_problem_by_label(http):
    page = text(http.get("/function?formula=sin(3*x)&hidden=8,8&lr=abc&epochs=200&foo=1&lesson=fitting"))
    setup = page_data(page)["setup"]
    assert setup["values"] == {"formula": "sin(3*x)", "hidden": [8, 8], "epochs": 200}
    problems = re.search(r'<section class="card setup-problems".*?</section>', page, re.S).group(0)
    assert "2 settings of this link could not be used" in problems
    assert "<b>Learning rate</b>: expected a number, got &#39;abc&#39;; ignored, so it keeps its default" in problems
    assert "<b>foo</b>: unknown setting; ignored" in problems
    note = re.search(r'<section class="card lesson-note".*?</section>', page, re.S).group(0)
    lesson = lessons.get("fitting")
    assert 'href="/lessons/fitting"' in note and esc(lesson["question"]) in note


def test_a_page_without_a_setup_shows_no_notes_and_a_watch_page_reads_none(http, manager):
    page = text(http.get("/function"))
    assert "setup-problems" not in page.split("</main>")[0].split("<main")[1].replace("setup_notes", "")
    assert page_data(page)["setup"]["given"] is False
    job = manager.start("someone", config=fast_config())
    assert job.wait(20)
    assert page_data(text(http.get(f"/watch/{job.id}?lr=abc")))["setup"] is None


@pytest.mark.parametrize("query", ["x" * 6000 + "=1", "&".join(f"p{i}={i}" for i in range(2000)),
                                   "lr=%00%ff%fe&hidden=" + "9," * 3000, "formula=" + "(" * 5000,
                                   "comparison=%3Cscript%3E&task=%3Cb%3E"])
def test_a_hostile_link_is_answered_with_the_page_and_its_problems(http, query, caplog):
    for path in ("/function", "/compare"):
        page = text(http.get(f"{path}?{query}"))
        assert "could not be used" in page and "<script>" not in page.split("bp-data")[0]
    no_tracebacks(caplog)


# --- help on demand ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", EXPERIMENTS)
def test_every_chart_has_what_am_i_looking_at(http, path):
    page = text(http.get(path))
    cards = re.findall(r'<section class="card (?:chart-card|digits-card|draw-card|results-card|wide norms-multi)'
                       r'.*?</header>', page, re.S)
    assert cards
    for card in cards:
        help_text = re.search(r'<details class="chart-help"><summary><span class="help-label">What am I looking at\?'
                              r'</span></summary>\s*<p class="help-panel">(.+?)</p></details>', card, re.S)
        assert help_text and len(help_text.group(1)) > 150, card[:200]


def test_the_settings_glossary_is_the_schemas(http):
    specs = schema()["function"]
    page = text(http.get("/function"))
    for name in ("optimizer", "init", "batch_norm", "dropout", "lr_schedule"):
        assert specs[name]["glossary"] == FIELDS[name]["glossary"] and specs[name]["glossary"]
        assert f'aria-controls="function-{name}-glossary"' in page
        box = re.search(rf'<p class="glossary" id="function-{name}-glossary" role="note" hidden>(.*?)</p>', page, re.S)
        assert html.unescape(box.group(1)) == specs[name]["glossary"]


# --- the verdict over the socket --------------------------------------------------------------------------
def test_the_done_event_and_a_late_watchers_history_carry_the_verdict(socket_client):
    owner = socket_client()
    ack = owner.call("start", {"config": fast_config(formula="100*x^3", x_min=-10, x_max=10, optimizer="sgd", lr=10)})
    assert ack["ok"], ack
    done = owner.wait_event(ack["job_id"], "done")
    assert done["verdict"]["kind"] == "diverged" and "10x lower (1 instead of 10)" in done["verdict"]["text"]
    owner.wait_state(ack["job_id"], "failed")
    watcher = socket_client()
    assert watcher.call("watch", {"job_id": ack["job_id"]})["ok"]
    history = watcher.histories(ack["job_id"])[0]
    assert history["runs"][0]["verdict"] == done["verdict"]
