"""Command line: train any config headless with a progress bar, or run a comparison.

    python -m bpnet train --task function --formula "sin(3*x)" --epochs 500 --save-model fit.npz
    python -m bpnet train --config run.json --save-history history.csv
    python -m bpnet compare activation --epochs 2 --save-history activation.json
    python -m bpnet fields            # every setting, its default, limits and meaning (--json: the schema)
    python -m bpnet predict fit.npz inputs.csv    # a saved model's outputs (inputs from a file or stdin)
    python -m bpnet export fit.npz fit.py         # a PyTorch script building the same network, loading fit.npz

Exit codes: 0 finished, 1 failed, 2 bad settings or output paths (nothing trained), 130 stopped by Ctrl-C.
"""
import argparse
import json
import signal
import sys
from pathlib import Path

from ..engine.config import TASKS, ConfigError, defaults, schema
from ..engine.experiments import BASE, COMPARISONS, comparison_defaults, comparison_runs
from ..engine.job import Job
from .files import history_text, model_paths, output_problems, write_atomically
from .pipe import reader_may_leave
from .predict import add_predict_command, export_command, predict_command
from .progress import Progress
from .settings import add_config_flags, as_flags, config_from, fields_table

__all__ = ["main"]

INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """Usage mistakes in one line (argparse prints the whole usage first)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser():
    parser = _Parser(prog="bpnet", description="Train bpnet networks from the command line.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{train,compare,fields,predict,export}")
    train = sub.add_parser("train", help="train one config", description="Train one config. Every setting's "
                           "default is the function task's; other tasks' differences are in brackets.")
    compare = sub.add_parser("compare", help="train the variants of a classic comparison side by side",
                             description="Train the variants of a classic comparison side by side, on MNIST, from "
                             "the defaults below; " + "; ".join(f"{name} also sets {as_flags(c['suggest'])}"
                                                                 for name, c in COMPARISONS.items() if "suggest" in c))
    compare.add_argument("name", choices=sorted(COMPARISONS))
    add_config_flags(train)
    add_config_flags(compare, "mnist", {**defaults("mnist"), **BASE})
    for command in (train, compare):
        command.add_argument("--save-model", type=Path, metavar="FILE.npz",
                             help="write the trained model's state_dict (a comparison: one file per variant)")
        command.add_argument("--save-history", type=Path, metavar="FILE",
                             help="write the history: .json (every run) or .csv (one row per step and run)")
        command.add_argument("--quiet", action="store_true", help="no progress bar")
        command.add_argument("--verbose", action="store_true", help="print every MNIST evaluation, not one per epoch")
    fields = sub.add_parser("fields", help="print every setting with its default, limits and meaning")
    fields.add_argument("--task", choices=TASKS, help="only this task's settings, with its defaults")
    fields.add_argument("--json", action="store_true", help="the schema as JSON (per task, every field's spec)")
    add_predict_command(sub)
    return parser


def _print_errors(errors):
    for field, message in errors.items():
        print(f"error: {field}: {message}", file=sys.stderr)


def _job(args):
    """The job the command line describes (ConfigError, OSError or JSONDecodeError if it cannot be made)."""
    if args.command == "train":
        return Job(config_from(args))
    runs = comparison_runs(args.name, config_from(args, comparison_defaults(args.name)))
    return Job(runs=runs, kind=f"compare:{args.name}")


def _train(job, args):
    labels = [rec.label for rec in job.recorders]
    if not job.config.get("hidden"):
        print("note: no hidden layer: the " + ("convolutions feed" if job.config.get("model") == "cnn" else
                                               "inputs feed") + " the output layer directly")
    progress = Progress(sum(t.total_steps for t in job.trainers), labels, args.quiet, args.verbose)
    job.subscribe(progress)
    previous = signal.signal(signal.SIGINT, lambda *_: job.stop())  # Ctrl-C stops training; the results are saved
    try:
        job.start()
        while not job.wait(0.2):
            pass
    finally:
        signal.signal(signal.SIGINT, previous)
        progress.close()
    for i, label in enumerate(labels):
        final = progress.done.get(i, {})
        metrics = ", ".join(f"{k} {v:.4%}" if k.endswith("_acc") else f"{k} {v:.6g}"
                            for k, v in final.items() if isinstance(v, (int, float)) and k not in ("run", "seq", "time"))
        prefix = f"[{label}] " if label else ""
        print(f"{prefix}{metrics or final.get('failed', '')}")
        if final.get("verdict"):  # what the run's history says, in words (as the dashboard shows it)
            print(f"{prefix}verdict: {final['verdict']['text']}")
    print(f"job {job.state}{': ' + job.message if job.message else ''}")
    return {"finished": 0, "stopped": INTERRUPTED}.get(job.state, 1)


def _save(job, args):
    """Write the requested files; 0, 1 if one could not be written, INTERRUPTED on Ctrl-C (nothing half-written)."""
    outputs = []
    if args.save_model:
        paths = model_paths(args.save_model, [rec.label for rec in job.recorders])
        outputs += [(path, "model", lambda i=i: job.model_npz(i)) for i, path in enumerate(paths)]
    if args.save_history:
        outputs.append((args.save_history, "history", lambda: history_text(job, args.save_history).encode()))
    code = 0
    for path, what, data in outputs:
        try:
            write_atomically(path, data())
        except KeyboardInterrupt:
            print(f"interrupted: {path} not written", file=sys.stderr)
            return INTERRUPTED
        except OSError as exc:
            print(f"error: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
            code = 1
        else:
            print(f"{what} saved to {path}")
    return code


def main(argv=None):
    args = _parser().parse_args(argv)
    with reader_may_leave():  # (`bpnet ... | head`: no traceback, and the run goes on to save its files)
        return _command(args)


def _command(args):
    if args.command in ("predict", "export"):
        command = predict_command if args.command == "predict" else export_command
        return command(args, lambda message: print(f"error: {message}", file=sys.stderr))
    if args.command == "fields":
        print(json.dumps(schema()[args.task] if args.task else schema(), indent=1) if args.json
              else fields_table(args.task), flush=True)
        return 0
    try:
        labels = ([""] if args.command == "train" else [label for label, _ in COMPARISONS[args.name]["variants"]])
        problems = output_problems(args.save_model, args.save_history, labels)
        if problems:  # before any training: a finished run must not be lost to a typo in a path
            _print_errors(problems)
            return 2
        try:
            job = _job(args)
        except ConfigError as exc:
            _print_errors(exc.errors)
            return 2
        except json.JSONDecodeError as exc:
            print(f"error: --config is not valid JSON: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"error: cannot read --config: {exc}", file=sys.stderr)
            return 2
        code = _train(job, args)
        return max(code, _save(job, args))
    except KeyboardInterrupt:  # e.g. while the data loads (in training, Ctrl-C stops the job; in saving, see _save)
        print("interrupted", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
