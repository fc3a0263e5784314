"""Your own data: a CSV file (or pasted text) read into the points a task trains on, with a clear message for
every file that cannot be used.

    1-D function     x, y            surface     x, y, z            classification    x1, x2, label

A header row is optional (a first row that is not numbers is one); columns named as above may come in any order.
Commas, semicolons or tabs separate the values; blank lines and lines starting with # are skipped. The limits
(rows, bytes, the size of a value) come from the config schema (bpnet/engine/config.py, field ``data``), passed
in as `spec`. What a config holds once checked (`check`):

    {"name": "points.csv", "values": [[x, y], ...], "classes": ["cat", "dog"]}   (classes: classification only)

Labels may be any two distinct values (0/1, -1/1, cat/dog): sorted, the first is class 0. Nothing here touches
the disk: the data lives in the job's config.
"""
import csv
import hashlib
import io
import json
import math
import re

import numpy as np

__all__ = ["DataError", "NUMBER", "COLUMNS", "parse_csv", "check", "summary", "digest", "shuffled", "preview",
           "public_config"]

NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)  # as a person types one: no 1_000, no nan
COLUMNS = {"function": ("x", "y"), "surface": ("x", "y", "z"), "classification": ("x1", "x2", "label")}
MAX_PROBLEMS = 3  # line-by-line problems named in one message
MAX_NAME = 80


class DataError(ValueError):
    """Data that cannot be trained on, with a message saying why (and where, for a file)."""


def _columns(spec):
    return tuple(spec["columns"])


def _size(n):
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB" if n >= 1000 else f"{n} bytes"


def _clean_name(name):
    text = "".join(c for c in str(name or "") if c.isprintable()).strip()
    return (text or "pasted data")[:MAX_NAME]


def _decode(data, spec):
    if isinstance(data, str):
        size = len(data.encode("utf-8", "surrogatepass"))
    elif isinstance(data, (bytes, bytearray)):
        size = len(data)
    else:
        raise DataError(f"expected the text of a CSV file, got {type(data).__name__}")
    if size > spec["max_bytes"]:
        raise DataError(f"the file is {_size(size)}; the limit is {_size(spec['max_bytes'])}")
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DataError("this is not a text (UTF-8) file: save it as CSV")
    if "\x00" in data:
        raise DataError("this is not a text file (it holds NUL bytes): save it as CSV")
    if not data.strip():
        raise DataError("the file is empty")
    return data.lstrip("\ufeff")


def _delimiter(line):
    for d in ("\t", ";", ","):
        if d in line:
            return d
    return None  # one value per line, or values separated by spaces


def _rows(text):
    """(line number, cells) of every line that holds data."""
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), "")
    delim = _delimiter(first)
    if delim is None:
        for i, ln in enumerate(lines, 1):
            if ln.strip() and not ln.lstrip().startswith("#"):
                yield i, ln.split()
        return
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    try:
        for cells in reader:
            if not cells or (len(cells) == 1 and not cells[0].strip()) or cells[0].lstrip().startswith("#"):
                continue
            yield reader.line_num, [c.strip() for c in cells]
    except csv.Error as exc:
        raise DataError(f"line {reader.line_num}: {exc}")


def _number(cell):
    """A finite float from a cell, or the reason it is not one."""
    if cell == "":
        return None, "empty (every value is needed)"
    if cell.lower().lstrip("+-") in ("nan", "inf", "infinity", "na", "n/a", "null", "none"):
        return None, f"{cell[:12]!r} is not a finite number (every value is needed)"
    if not NUMBER.fullmatch(cell):
        hint = " (use a point as the decimal separator)" if re.fullmatch(r"[+-]?\d+,\d+", cell) else ""
        return None, f"{cell[:20]!r} is not a number{hint}"
    value = float(cell)
    if not math.isfinite(value):
        return None, f"{cell[:20]!r} is too large"
    return value, None


def _is_header(cells, n_numeric):
    """A first row of names: none of its (numeric) columns holds a number ("x,y"; but "0,abc" is a bad row)."""
    return all(_number(c)[1] is not None for c in cells[:n_numeric])


def _order(header, names):
    """Column indices of `names` in a header row (by name in any order, else by position), and a note."""
    lowered = [h.lower() for h in header]
    if sorted(lowered) == sorted(names) and len(set(lowered)) == len(lowered):
        return [lowered.index(n) for n in names], None
    if len(header) != len(names):
        shown = ", ".join(h[:20] for h in header[:6]) + (", …" if len(header) > 6 else "")
        raise DataError(f"the header has {len(header)} column{'s' * (len(header) != 1)} ({shown}); this page needs "
                        f"{len(names)}: {', '.join(names)}")
    return list(range(len(names))), f"columns read as {', '.join(names)} (the header says {', '.join(h[:20] for h in header)})"


def _problems(found, more):
    text = "; ".join(found)
    return text + (f"; and {more} more line{'s' * (more != 1)} like these" if more else "")


def _classes(labels):
    """(class names sorted, class index per row): numbers as numbers (1.0 is 1), anything else as text."""
    def key(v):
        number, problem = _number(v)
        return (0, number, "") if problem is None else (1, 0.0, v)
    canon = {}
    for v in labels:
        number, problem = _number(v)
        canon[v] = (f"{number:g}" if problem is None else v)
    names = sorted(set(canon.values()), key=key)
    index = {n: i for i, n in enumerate(names)}
    return names, [index[canon[v]] for v in labels]


def parse_csv(data, task, spec, name=None):
    """The checked data (see the module doc) of a CSV file's text or bytes for `task`; DataError saying what is
    wrong, naming lines and columns."""
    names = _columns(spec)
    text = _decode(data, spec)
    classify = task == "classification"
    n_numeric = len(names) - 1 if classify else len(names)
    rows, found, more, header, note, order = [], [], 0, None, None, list(range(len(names)))
    for line, cells in _rows(text):
        if header is None and not rows and not found and _is_header(cells, n_numeric):
            header = cells
            order, note = _order(cells, names)
            continue
        if len(rows) >= spec["max"]:
            raise DataError(f"the file has more than {spec['max']:,} rows; the limit is {spec['max']:,}")
        if len(cells) != len(names):
            problem = f"line {line} has {len(cells)} value{'s' * (len(cells) != 1)}; expected {len(names)} ({', '.join(names)})"
        else:
            cells = [cells[i] for i in order]
            problem, row = None, []
            for col, cell in zip(names, cells):
                if classify and col == "label":
                    if cell == "":
                        problem = f"line {line}: the label is empty"
                    row.append(cell[:40])
                    continue
                value, why = _number(cell)
                if why:
                    problem = f"line {line}, column {col}: {why}"
                    break
                row.append(value)
        if problem:
            if len(found) < MAX_PROBLEMS:
                found.append(problem)
            else:
                more += 1
            continue
        rows.append(row)
    if found:
        raise DataError(_problems(found, more))
    if not rows:
        raise DataError("the file has a header but no rows of data" if header else "the file holds no data")
    out = {"name": _clean_name(name), "values": rows}
    if classify:
        out["classes"], labels = _classes([r[-1] for r in rows])
        if len(out["classes"]) > 2:
            raise _classes_error(out["classes"])
        out["values"] = [r[:-1] + [c] for r, c in zip(rows, labels)]
    checked = check(out, task, spec)
    if note:
        checked["note"] = note
    return checked


def _finite_row(row, width):
    return (isinstance(row, (list, tuple)) and len(row) == width
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in row))


def check(value, task, spec):
    """Data as a config holds it, checked as if it came from a stranger: its canonical form, or DataError."""
    names = _columns(spec)
    if not isinstance(value, dict):
        raise DataError("expected your own data as uploaded (its points), got " + type(value).__name__)
    if "csv" in value:
        return parse_csv(value["csv"], task, spec, value.get("name"))
    unknown = set(value) - {"name", "values", "classes", "note"}
    if unknown:
        raise DataError(f"unknown part {sorted(map(str, unknown))[0][:30]!r} (expected name, values, classes)")
    rows = value.get("values")
    if not isinstance(rows, list):
        raise DataError("values must be a list of rows")
    if len(rows) > spec["max"]:
        raise DataError(f"{len(rows):,} rows; the limit is {spec['max']:,}")
    if len(rows) < spec["min"]:
        raise DataError(f"only {len(rows)} row{'s' * (len(rows) != 1)}; at least {spec['min']} are needed "
                        "(some are held out for validation)")
    bad = next((i for i, r in enumerate(rows) if not _finite_row(r, len(names))), None)
    if bad is not None:
        raise DataError(f"row {bad + 1} must be {len(names)} finite numbers ({', '.join(names)})")
    x = np.asarray(rows, dtype=np.float64)
    limit = spec["max_value"]
    if np.abs(x).max() > limit:
        i, j = np.unravel_index(int(np.argmax(np.abs(x))), x.shape)
        raise DataError(f"row {i + 1}, column {names[j]}: {x[i, j]:g} is too large to train on (at most ±{limit:g})")
    out = {"name": _clean_name(value.get("name")), "values": [[float(v) for v in r] for r in rows]}
    if task == "classification":
        return _check_classes(value, x, out)
    inputs = names[:-1]
    for j, col in enumerate(inputs):
        if x[:, j].min() == x[:, j].max():
            raise DataError(f"every {col} is {x[0, j]:g}: a fit needs at least two different values of {col}")
    return out


def _check_classes(value, x, out):
    labels = x[:, -1]
    if not np.all((labels == 0) | (labels == 1)):
        raise DataError("labels must be 0 or 1 (class names are given in classes)")
    counts = np.bincount(labels.astype(int), minlength=2)
    classes = value.get("classes", ["0", "1"])
    if (not isinstance(classes, list) or not all(isinstance(c, str) for c in classes)
            or not 1 <= len(classes) <= 2 or len(set(classes)) != len(classes)):
        raise DataError("classes must be the names of the two classes")
    if len(classes) == 1 or counts.min() == 0:
        only = classes[0] if len(classes) == 1 else classes[int(counts.argmax())]
        raise DataError(f"every point is of one class ({only[:40]}): a classifier needs points of two classes")
    if len(classes) > 2:
        raise DataError(f"found {len(classes)} classes; this page classifies two")
    out["values"] = [r[:-1] + [int(r[-1])] for r in out["values"]]
    out["classes"] = [c[:40] for c in classes]
    return out


def _classes_error(names):
    shown = ", ".join(n[:20] for n in names[:5]) + (", …" if len(names) > 5 else "")
    return DataError(f"found {len(names)} classes ({shown}); this page classifies two")


def digest(data):
    """A short fingerprint of the points (the same data uploaded twice has the same one)."""
    blob = json.dumps([data["values"], data.get("classes")], separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def summary(data, task):
    """What a page shows of the data without its points: name, rows, columns, class names and counts, ranges."""
    x = np.asarray(data["values"], dtype=np.float64)
    names = COLUMNS[task]
    out = {"name": data["name"], "rows": len(x), "columns": list(names), "digest": digest(data),
           "ranges": {n: [float(x[:, j].min()), float(x[:, j].max())] for j, n in enumerate(names) if n != "label"}}
    if task == "classification":
        out["classes"] = data["classes"]
        out["counts"] = np.bincount(x[:, -1].astype(int), minlength=2).tolist()
    return out


def public_config(config):
    """A config as its events show it: one's own data by its summary (the points travel in the dataset event)."""
    if not isinstance(config.get("data"), dict) or "values" not in config["data"]:  # none, or a summary already
        return config
    return {**config, "data": summary(config["data"], config["task"])}


def preview(data, task, n_val, head=8):
    """The summary, the first rows and the split, for the page to show before training."""
    return {**summary(data, task), "head": data["values"][:head], "validation": n_val,
            "training": len(data["values"]) - n_val, "note": data.get("note")}


def shuffled(data, seed):
    """(inputs (n, k), last column (n,)) of the points in a seeded random order, float64: a task holds out the
    first ones for validation (the order of a file says nothing: a sorted file would otherwise hold out one end)."""
    x = np.asarray(data["values"], dtype=np.float64)
    x = x[np.random.default_rng(seed).permutation(len(x))]
    return x[:, :-1], x[:, -1]
