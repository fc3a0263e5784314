"""Setups as links: a page's query string read into settings and problems, and settings written as a link.

    /function?formula=sin(3*x)&hidden=8,8&lr=0.03&epochs=200

Parameters are named as the config fields and hold the values as typed in the form; each is checked by the
config schema's own validation (validate_field, then validate_config for what depends on several fields), so
a link accepts exactly what Start accepts. Every parameter that is not used is reported, naming the setting by
its label and saying why (``Learning rate: expected a number, got 'abc'; ignored, so it keeps its default``),
unknown ones too: a link never fails silently. Beside the settings a link may carry ``hide`` (settings a lesson
hides, e.g. ``hide=optimizer,init``), ``lesson`` (the lesson it belongs to) and ``job`` (a run to show, which
the page itself handles); on the compare page ``comparison`` and ``task`` (its base experiment).
"""
from urllib.parse import quote

from . import lessons
from .config import FIELDS, TASKS, ConfigError, field_spec, validate_config, validate_field
from .experiments import BASE_TASKS, COMPARISONS, comparison_defaults, comparison_runs

__all__ = ["read_setup", "setup_query", "setup_url", "lesson_setups", "PAGE_PARAMS", "MAX_PARAMS"]

PAGE_PARAMS = ("hide", "lesson", "job")
MAX_PARAMS = 60  # a form has ~25 settings: more parameters than this are not a setup


def _name(raw):
    """A parameter's name as it may be shown: printable, at most 40 characters."""
    text = "".join(c if c.isprintable() else "?" for c in str(raw))
    return text if len(text) <= 40 else text[:39] + "…"


class _Problems(list):
    def add(self, field, label, message):
        self.append({"field": field, "label": label, "message": message})


def _page_params(task, pairs, problems):
    """(hide, lesson) of the link, each checked."""
    hide, lesson = [], None
    for name, value in pairs:
        if name == "hide":
            for item in filter(None, (v.strip() for v in value.split(","))):
                if item in FIELDS and item not in ("task", "pace") and task in FIELDS[item]["tasks"]:  # the form's
                    hide.append(item)
                else:
                    problems.add("hide", "Hidden settings", f"{_name(item)!r} is not a setting of this page; ignored")
        elif name == "lesson":
            found = lessons.get(value)
            if found is None:
                problems.add("lesson", "Lesson", f"there is no lesson called {_name(value)!r}; ignored")
            else:
                lesson = {"slug": found["slug"], "title": found["title"], "question": found["question"],
                          "url": f"/lessons/{found['slug']}"}
    return list(dict.fromkeys(hide)), lesson


def _base(page, pairs, problems):
    """(task, comparison, base config) of the page: the compare page's come from its parameters."""
    if page != "compare":
        return page, None, None
    given = dict(pairs)
    comparison = given.get("comparison", "activation")
    if comparison not in COMPARISONS:
        problems.add("comparison", "What to compare",
                     f"must be one of {', '.join(COMPARISONS)}; got {_name(comparison)!r}; ignored")
        comparison = "activation"
    task = given.get("task", "mnist")
    if task not in BASE_TASKS:
        problems.add("task", "Base experiment", f"must be one of {', '.join(BASE_TASKS)}; got {_name(task)!r}; ignored")
        task = "mnist"
    return task, comparison, comparison_defaults(comparison, task)


def read_setup(page, pairs):
    """The setup a page's link asks for: pairs are the query's (name, value) in order (repeats included).

    Returns {"task", "comparison" (compare page; else None), "values": {setting: value} (validated, as the
    config takes them), "hide": [settings], "lesson": {slug, title, question, url} or None, "problems":
    [{"field", "label", "message"}], "given": whether the link asks for anything}."""
    if page not in TASKS + ("compare",):
        raise ValueError(f"no page {page!r}")
    pairs = [(str(k), str(v)) for k, v in pairs]
    problems = _Problems()
    if len(pairs) > MAX_PARAMS:
        problems.add(None, "Link", f"it has {len(pairs)} parameters; only the first {MAX_PARAMS} are read")
        pairs = pairs[:MAX_PARAMS]
    first = [(n, v) for i, (n, v) in enumerate(pairs) if all(n != m for m, _ in pairs[:i])]  # each name once
    task, comparison, base = _base(page, first, problems)
    varies = {n for _, changes in COMPARISONS[comparison]["variants"] for n in changes} if comparison else set()
    values, seen = {}, set()
    for name, raw in pairs:
        if name in seen:
            label = field_spec(name, task)["label"] if name in FIELDS and task in FIELDS[name]["tasks"] else _name(name)
            problems.add(name, label, "given twice: the first value is used")
            continue
        seen.add(name)
        if name in PAGE_PARAMS or (comparison and name in ("comparison", "task")):
            continue
        if name not in FIELDS:
            problems.add(name, _name(name), "unknown setting; ignored")
            continue
        spec = field_spec(name, task)
        if task not in spec["tasks"] or name == "task":
            where = f"a comparison on {task}" if comparison else "this page"
            problems.add(name, spec["label"] if name != "task" else "Experiment", f"not a setting of {where}; ignored")
        elif spec["kind"] == "data":
            problems.add(name, spec["label"], "one's own data cannot travel in a link: upload it on the page; ignored")
        elif name in varies:
            problems.add(name, spec["label"], "set per run by this comparison; ignored")
        else:
            try:
                values[name] = validate_field(name, raw, task)
            except ConfigError as exc:
                problems.add(name, spec["label"], f"{exc.errors[name]}; ignored, so it keeps its default")
    hide, lesson = _page_params(task, first, problems)
    # what depends on several settings (x from < x to, the formula on its domain, the total work): as Start
    # would say it, with the link's values kept in the form
    config = {**(base or {"task": task}), **values}
    try:
        if comparison:
            for _, run in comparison_runs(comparison, config):
                validate_config(run)
        else:
            validate_config(config)
    except ConfigError as exc:
        reported = {p["field"] for p in problems}
        for name, message in exc.errors.items():
            if name not in reported:
                problems.add(name, field_spec(name, task)["label"] if name in FIELDS else _name(name), message)
    return {"task": task, "comparison": comparison, "values": values, "hide": hide, "lesson": lesson,
            "problems": list(problems), "given": bool(pairs)}


def _typed(value):
    """A setting's value as a person types it in the form: 8,8 for a list, true/false, 0.03."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def setup_query(params):
    """The query string of a setup ({name: value}, in order), escaped only where a URL needs it, so that it
    stays readable: formula=sin(3*x)&hidden=8,8. Unset values (one's own data: None) are left out."""
    return "&".join(f"{quote(str(k), safe='_')}={quote(_typed(v), safe='(),*-._~!/:')}" for k, v in params.items()
                    if v is not None)


def setup_url(page, params):
    """The link of a setup on a page: /function?formula=sin(3*x)&hidden=8,8."""
    query = setup_query(params)
    return f"/{page}" + (f"?{query}" if query else "")


def lesson_setups(lesson):
    """A lesson's setups as links to their pages (each naming the lesson): [{"label", "page", "url"}]."""
    return [{"label": label, "page": page, "url": setup_url(page, {**params, "lesson": lesson["slug"]})}
            for label, page, params in lesson["setups"]]
