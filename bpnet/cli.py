"""Command line: train any config headless with a progress bar, or run a comparison.

    python -m bpnet train --task function --formula "sin(3*x)" --epochs 500 --save-model fit.npz
    python -m bpnet train --config run.json --save-history history.csv
    python -m bpnet compare activation --epochs 2 --save-history activation.json
    python -m bpnet fields            # every setting, its default and limits
"""
import argparse
import json
import signal
import sys
from pathlib import Path

from tqdm import tqdm

from .engine.config import FIELDS, ConfigError, schema
from .engine.experiments import COMPARISONS, comparison_defaults, compare_job
from .engine.job import Job

__all__ = ["main"]


def _add_config_flags(parser):
    parser.add_argument("--config", type=Path, help="a JSON file of settings (flags override it)")
    for name, spec in FIELDS.items():
        flag = "--" + name.replace("_", "-")
        if spec["kind"] == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=spec["label"])
        else:
            hint = f" ({'|'.join(spec['choices'])})" if spec["choices"] else ""
            parser.add_argument(flag, default=None, metavar=spec["kind"].upper(), help=spec["label"] + hint)
    parser.add_argument("--save-model", type=Path, help="write the trained model's state_dict (.npz)")
    parser.add_argument("--save-history", type=Path, help="write the history (.json, or .csv for one run)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _config_from(args, base=None):
    config = dict(base or {})
    if args.config:
        loaded = json.loads(args.config.read_text())
        if not isinstance(loaded, dict):
            raise ConfigError({"config": f"{args.config} must hold a JSON object of settings"})
        config.update(loaded)
    config.update({k: v for k, v in vars(args).items() if k in FIELDS and v is not None})
    return config


class _Progress:
    """A tqdm bar fed by the job's events."""

    def __init__(self, total, quiet):
        self.bar = tqdm(total=total, unit="step", disable=quiet, dynamic_ncols=True)
        self.done = {}

    def __call__(self, event):
        if event["type"] == "steps":
            self.bar.update(len(event["step"]))
            post = {"loss": f"{event['loss'][-1]:.4g}" if event["loss"][-1] is not None else "nan"}
            if event.get("val_loss"):
                post["val"] = f"{event['val_loss'][-1]:.4g}"
            self.bar.set_postfix(post, refresh=False)
            if self.bar.n >= self.bar.total:  # the final metrics (on MNIST, three passes over 10,000+ images) follow
                self.bar.set_description_str("training done; final evaluation")
        elif event["type"] == "eval":
            self.bar.write(f"step {event['step']:>6}  val loss {event['val_loss']:.4f}  val acc "
                           f"{event['val_acc']:.2%} ({event['split']})")
        elif event["type"] == "done":
            self.done[event["run"]] = event


def _run(job, args):
    total = sum(t.total_steps for t in job.trainers)
    progress = _Progress(total, args.quiet)
    job.subscribe(progress)
    previous = signal.signal(signal.SIGINT, lambda *_: job.stop())
    try:
        job.start()
        while not job.wait(0.2):
            pass
    finally:
        signal.signal(signal.SIGINT, previous)
        progress.bar.close()
    for i, rec in enumerate(job.recorders):
        final = progress.done.get(i, {})
        head = f"[{rec.label}] " if rec.label else ""
        metrics = ", ".join(f"{k} {v:.4%}" if k.endswith("_acc") else f"{k} {v:.6g}"
                            for k, v in final.items() if isinstance(v, (int, float)) and k not in ("run", "seq", "time"))
        print(f"{head}{metrics or final.get('failed', '')}")
    print(f"job {job.state}{': ' + job.message if job.message else ''}")
    if args.save_model:
        args.save_model.write_bytes(job.model_npz())
        print(f"model saved to {args.save_model}")
    if args.save_history:
        if args.save_history.suffix == ".csv":
            args.save_history.write_text(job.history_csv())
        else:
            args.save_history.write_text(json.dumps(job.history()))
        print(f"history saved to {args.save_history}")
    return {"finished": 0, "stopped": 130}.get(job.state, 1)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bpnet", description="Train bpnet networks from the command line.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_config_flags(sub.add_parser("train", help="train one config"))
    compare = sub.add_parser("compare", help="train the variants of a classic comparison side by side")
    compare.add_argument("name", choices=sorted(COMPARISONS))
    _add_config_flags(compare)
    sub.add_parser("fields", help="print every setting with its default and limits")
    args = parser.parse_args(argv)
    if args.command == "fields":
        print(json.dumps(schema(), indent=1))
        return 0
    try:
        if args.command == "train":
            job = Job(_config_from(args))
        else:
            job = compare_job(args.name, _config_from(args, comparison_defaults(args.name)))
    except ConfigError as exc:
        for field, message in exc.errors.items():
            print(f"error: {field}: {message}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as exc:
        print(f"error: --config is not valid JSON: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot read --config: {exc}", file=sys.stderr)
        return 2
    return _run(job, args)


if __name__ == "__main__":
    sys.exit(main())
