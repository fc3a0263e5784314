"""The command line's progress: a tqdm bar fed by the job's events, with evaluation lines written through it."""
import sys

from tqdm import tqdm

__all__ = ["Progress"]


class Progress:
    """Steps advance the bar; evaluations print one line each, above the bar (tqdm.write): on MNIST only the
    whole validation split's, once per epoch, unless verbose; a comparison's lines name their run."""

    def __init__(self, total, labels, quiet=False, verbose=False):
        self.bar = tqdm(total=total, unit="step", disable=quiet, dynamic_ncols=True)
        self.heads = [f"[{label}] " if label else "" for label in labels]
        self.verbose = verbose
        self.done = {}

    def __call__(self, event):
        if event["type"] == "steps":
            self.bar.update(len(event["step"]))
            post = {"loss": f"{event['loss'][-1]:.4g}" if event["loss"][-1] is not None else "nan"}
            if event.get("val_loss"):  # (None where the loss was not finite: the run diverged)
                post["val"] = f"{event['val_loss'][-1]:.4g}" if event["val_loss"][-1] is not None else "nan"
            self.bar.set_postfix(post, refresh=False)
            if self.bar.n >= self.bar.total:  # the final metrics (on MNIST, three passes over 10,000+ images) follow
                self.bar.set_description_str("training done; final evaluation")
        elif event["type"] == "eval" and (self.verbose or event["split"] == "full"):
            where = f"epoch {round(event['epoch'])}, full" if event["split"] == "full" else event["split"]
            tqdm.write(f"{self.heads[event['run']]}step {event['step']:>6}  val loss {event['val_loss']:.4f}  "
                       f"val acc {event['val_acc']:.2%} ({where})", file=sys.stdout)
        elif event["type"] == "done":
            self.done[event["run"]] = event

    def close(self):
        self.bar.close()
