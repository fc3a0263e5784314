"""The command line's view of the config schema: one flag per setting, its help (default and limits, read from
bpnet.engine.config, the single source of both), the `fields` table, and the config a command line describes."""
import argparse
import json
import shutil
import textwrap
from pathlib import Path

from ..engine.config import FIELDS, TASKS, ConfigError, field_spec, format_number

__all__ = ["add_config_flags", "config_from", "describe", "fields_table", "as_flags", "NO_LAYERS"]

NO_LAYERS = "none"  # --hidden none: no hidden layer (an empty value is refused: it is more often a slip)


def _value(value, kind):
    """A value as one would type it on the command line."""
    if kind == "bool":
        return "on" if value else "off"
    if kind == "int_list":
        return ",".join(map(str, value)) or NO_LAYERS
    if kind == "data":
        return "none" if value is None else value.get("name", "a file")
    if kind == "float":
        return f"{value:g}"
    return str(value)


def _limits(spec):
    kind = spec["kind"]
    if kind in ("int", "float"):
        return f"{format_number(spec['min'])} to {format_number(spec['max'])}"
    if kind == "choice":
        return ", ".join(spec["choices"])
    if kind == "str":
        return f"at most {spec['max']} characters"
    if kind == "int_list":
        return f"up to {spec['max_len']} numbers, each {format_number(spec['min'])} to {format_number(spec['max'])}"
    if kind == "data":
        return f"a CSV file of {format_number(spec['min'])} to {format_number(spec['max'])} rows, at most {spec['max_bytes'] // 1000} kB"
    return "on or off"


def _per_task(name, render, task=None):
    """render(spec) for the setting, with the tasks where it differs in brackets: '0.01 (mnist: 0.001)'."""
    if task is not None:
        return render(field_spec(name, task))
    base = render(FIELDS[name])
    if name == "task":
        return base
    other = {t: render(field_spec(name, t)) for t in FIELDS[name]["tasks"]}
    differ = [f"{t}: {text}" for t, text in other.items() if text != base]
    return base + (f" ({', '.join(differ)})" if differ else "")


def describe(name, task=None):
    """(default, limits, meaning) of a setting as text; for one task, or for all with per-task differences."""
    spec = FIELDS[name]
    default = _per_task(name, lambda s: _value(s["default"], s["kind"]), task)
    limits = _per_task(name, _limits, task)
    meaning = spec["label"] + (f": {spec['help']}" if spec["help"] else "")
    if task is None and spec["tasks"] != TASKS:
        meaning += f" [{', '.join(spec['tasks'])} only]"
    return default, limits, meaning


def add_config_flags(parser, task=None, base=None):
    """--config, then one flag per setting; its help gives the meaning, limits and default (the task's for the
    task's settings, if one is given; base's where base sets it)."""
    parser.add_argument("--config", type=Path, metavar="FILE", help="a JSON file of settings (flags override it)")
    for name, spec in FIELDS.items():
        flag = "--" + name.replace("_", "-")
        default, limits, meaning = describe(name, task if task in spec["tasks"] else None)
        if base and name in base:
            default = _value(base[name], spec["kind"])
        kind = spec["kind"]
        text = meaning + ("" if kind == "bool" else f"; {'one of' if kind == 'choice' else 'limits'}: {limits}")
        text = f"{text}; default: {default}".replace("%", "%%")
        if kind == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)
        else:
            parser.add_argument(flag, default=None, metavar="FILE" if kind == "data" else kind.upper(), help=text)


def as_flags(config):
    """Settings as the flags that would set them: '--optimizer sgd, --lr 0.05'."""
    return ", ".join(f"--{k.replace('_', '-')} {_value(v, FIELDS[k]['kind'])}" for k, v in config.items())


def _flag_value(name, value):
    """A flag's string as the config takes it: 'none' is an empty list, an empty string an error."""
    if FIELDS[name]["kind"] == "data":  # a file's name: its text is read and checked by the config schema
        path = Path(value)
        try:
            with path.open("rb") as f:
                return {"name": path.name, "csv": f.read(FIELDS[name]["max_bytes"] + 1)}
        except OSError as exc:
            raise ConfigError({name: f"cannot read {value}: {exc.strerror or exc}"})
    if FIELDS[name]["kind"] == "int_list":
        if value.strip().lower() == NO_LAYERS:
            return []
        if not value.strip():
            raise ConfigError({name: f"empty; give a list such as 64,64, or '{NO_LAYERS}' for no layers"})
    return value


def config_from(args, base=None):
    """The settings of a parsed command line: base, then --config's file, then the flags given."""
    config = dict(base or {})
    if args.config:
        loaded = json.loads(args.config.read_text())
        if not isinstance(loaded, dict):
            raise ConfigError({"config": f"{args.config} must hold a JSON object of settings"})
        config.update(loaded)
    config.update({k: _flag_value(k, v) if isinstance(v, str) else v
                   for k, v in vars(args).items() if k in FIELDS and v is not None})
    return config


def fields_table(task=None, width=None):
    """Every setting (or one task's) as a text table: setting, default, limits, meaning."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    names = [n for n in FIELDS if task is None or task in FIELDS[n]["tasks"]]
    widths = [16, 22, 22]
    widths.append(max(30, width - sum(w + 2 for w in widths)))  # the meaning takes the rest of the line
    rows = [("setting", "default", "limits", "meaning")] + [(n, *describe(n, task)) for n in names]
    lines = []
    for row in rows:
        cells = [textwrap.wrap(text, w, break_on_hyphens=False) or [""] for text, w in zip(row, widths)]
        for i in range(max(map(len, cells))):
            lines.append("  ".join((c[i] if i < len(c) else "").ljust(w) for c, w in zip(cells, widths)).rstrip())
    title = f"settings of the {task} task" if task else "settings (per-task differences in brackets)"
    glossary = ["", "what they mean (the dashboard shows the same beside each setting):"]
    for name in names:
        if FIELDS[name]["glossary"]:
            text = f"{name} ({FIELDS[name]['label']}): {FIELDS[name]['glossary']}"
            glossary += textwrap.wrap(text, max(40, width - 2), initial_indent="  ", subsequent_indent="    ")
    return "\n".join([title + "; flags: --name-with-dashes; config files: name", *lines, *glossary])
