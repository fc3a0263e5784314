"""A training job in a background thread: state machine, controls, rate-limited events, full history.

    job = Job({"task": "function", "formula": "sin(3*x)"})
    unsubscribe = job.subscribe(print)     # first call: a 'history' event; then live events
    job.start(); job.pause(); job.set_lr(0.001); job.set_pace(30); job.resume(); job.stop(); job.wait()

Step mode: Job(config, paused=True).start() makes the data and the model and waits at step 0 ('paused');
job.step(5) runs five minibatches and pauses again, job.step("epoch") runs to the end of the epoch.

Controls only set flags that the training loop reads between steps; a thread is never killed. Listeners are
called outside the job's locks (events are queued under the lock, delivered in order once it is released), so a
listener may call any method of the job. A job may hold
several runs (a comparison): their steps are interleaved round-robin in the one thread, so all curves grow
together.
"""
import collections
import logging
import secrets
import threading
import time

from .budget import check as check_budget
from .config import validate_config, validate_field
from .tasks import digit_inputs, outputs
from .events import clean
from .recorder import Recorder
from .saved import check_continuation, describe, pack, read as read_saved
from .trainer import Diverged, Interrupted, Trainer
from .verdict import judge
from .xray_schedule import XRaySchedule

__all__ = ["Job", "JobError", "STATES", "TERMINAL", "STOPPED_BY_USER", "MAX_STEP_COUNT", "step_count"]

log = logging.getLogger("bpnet.engine")
STATES = ("created", "running", "paused", "finished", "stopped", "failed")
TERMINAL = ("finished", "stopped", "failed")
STOPPED_BY_USER = "stopped by the user"
OUT_OF_MEMORY = ("the server ran out of memory training this job: try a smaller batch size, fewer samples or "
                 "smaller layers (or start it when fewer jobs are running)")
MAX_STEP_COUNT = 1000  # minibatches one step() may ask for


class JobError(ValueError):
    """A control that does not apply in the job's current state (e.g. pausing a finished job)."""


def step_count(steps):
    """A step() request read: a whole number of minibatches from 1 to MAX_STEP_COUNT, or "epoch"."""
    if isinstance(steps, str) and steps.strip().lower() == "epoch":
        return "epoch"
    if isinstance(steps, str) and steps.strip().isascii() and steps.strip().isdigit():
        steps = int(steps.strip())
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEP_COUNT:
        shown = repr(steps)[:40]
        raise ValueError(f"steps must be a whole number of minibatches from 1 to {MAX_STEP_COUNT}, or 'epoch' "
                         f"(to the end of the epoch); got {shown}")
    return steps


class _EventLock:
    """A re-entrant lock that calls on_release() when its holder leaves the outermost `with` (then unlocked)."""

    def __init__(self, on_release):
        self._lock, self._depth, self._on_release = threading.RLock(), threading.local(), on_release

    def __enter__(self):
        self._lock.acquire()
        self._depth.n = getattr(self._depth, "n", 0) + 1
        return self

    def __exit__(self, *exc):
        self._depth.n -= 1
        outermost = self._depth.n == 0
        self._lock.release()
        if outermost:
            self._on_release()


class Job:
    """Runs one config, or several labelled configs side by side (runs=[(label, config), ...]).

    paused=True: start() makes the job wait at step 0, paused, for step() or resume()."""

    def __init__(self, config=None, runs=None, job_id=None, report_interval=0.05, snapshot_interval=0.1,
                 kind="train", budget=None, paused=False, initial=None):
        """budget: the Limits its runs must fit together (engine/budget.py; None: from the environment, False:
        none, for a job whose configs were checked where it was requested). paused: start() waits at step 0.
        initial: a saved model's .npz bytes to train on (one run; its network must be the config's: ConfigError
        otherwise)."""
        if (config is None) == (runs is None):
            raise ValueError("give either a config or a list of runs")
        runs = [("", config)] if runs is None else list(runs)
        configs = [validate_config(c) for _, c in runs]
        if budget is not False:
            check_budget(configs, budget)
        self.id = job_id or secrets.token_urlsafe(12)
        self.kind = kind
        saved = None
        if initial is not None:
            if len(configs) != 1:
                raise ValueError("only a single run can continue a saved model")
            saved = read_saved(initial)
            check_continuation(saved, configs[0])
        self.trainers = [Trainer(cfg, initial=saved) for cfg in configs]
        self.recorders = [Recorder(label, t) for (label, _), t in zip(runs, self.trainers)]
        self._xrays = XRaySchedule(self.trainers)  # which steps are x-rayed or sampled (engine/xray_schedule.py)
        self.state, self.message = "created", ""
        self.report_interval, self.snapshot_interval = report_interval, snapshot_interval
        self._lock = _EventLock(self._deliver)  # state, subscribers, seq, histories: held briefly; the events
        # made under it are delivered once it is released, so a listener runs outside it
        self._model_lock = threading.RLock()  # the models: held by a training step; never taken inside _lock
        self._outbox = collections.deque()  # (event, callbacks, delivered) in seq order, delivered by _deliver
        self._delivering = threading.Lock()  # held by the one thread delivering the outbox
        self._deliverer = None
        self._resume = threading.Event()
        self._resume.set()
        self._wake = threading.Event()  # set by stop() and set_pace(): ends a pace sleep at once
        self._stop, self._stop_end = False, None
        self._pace = self.config.get("pace", 0)  # steps (rounds of steps) per second at most; 0: no limit
        self._pending_lr = None
        self.start_paused = bool(paused)
        self._stepping = None  # while stepping: the steps each run still has to make before pausing again
        self._subscribers = {}
        self._seq = 0
        self._thread = None
        self.started_at = self.finished_at = None

    @property
    def config(self):
        return self.trainers[0].config

    @property
    def run_count(self):
        return len(self.trainers)

    @property
    def configs(self):
        return [t.config for t in self.trainers]

    # --- events -------------------------------------------------------------------------------
    def subscribe(self, callback):
        """Call callback(event) with a 'history' event now, then with every new event; returns unsubscribe().

        Listeners are called outside the job's locks, one event at a time in seq order (from whichever thread
        made the event or is delivering): a listener may call any method of the job, predict() included."""
        token = object()
        with self._lock:
            self._queue(self.history_event(), [(token, callback)])
            self._subscribers[token] = callback
        self._wait_delivered()
        subscribers = self._subscribers
        return lambda: subscribers.pop(token, None)  # (holds the dict, not the job: an ended job can be freed)

    def _emit(self, type_, run=0, **payload):
        """Queue an event for every current subscriber (called with _lock held: delivered once it is released)."""
        with self._lock:
            self._seq += 1
            event = clean({"type": type_, "job_id": self.id, "seq": self._seq, "run": run, "time": time.time(),
                           **payload})
            self._queue(event, list(self._subscribers.items()))

    def _queue(self, event, callbacks):
        self._outbox.append((event, callbacks, threading.Event()))

    def _deliver(self):
        """Deliver the outbox in order, unless another thread is doing so (it then delivers ours too)."""
        while self._outbox:
            if not self._delivering.acquire(blocking=False):
                return
            self._deliverer = threading.get_ident()
            try:
                while self._outbox:
                    event, callbacks, delivered = self._outbox.popleft()
                    for token, callback in callbacks:
                        if token is not None and token not in self._subscribers:
                            continue  # unsubscribed (or dropped) since the event was made
                        try:
                            callback(event)
                        except Exception:  # a broken listener must not stop training
                            log.exception("event listener failed; unsubscribing it")
                            self._subscribers.pop(token, None)
                    delivered.set()
            finally:
                self._deliverer = None
                self._delivering.release()

    def _wait_delivered(self):
        """Block until everything queued so far has been delivered (by this thread or the one delivering)."""
        with self._lock:
            last = self._outbox[-1][2] if self._outbox else None
        if last is not None and not self._delivering_here():
            last.wait()

    def _delivering_here(self):
        return self._delivering.locked() and self._deliverer == threading.get_ident()

    def send_history(self, send):
        """send(history event) in order with the events: after every event made before it, before any later one."""
        with self._lock:
            self._queue(self.history_event(), [(None, send)])
        self._wait_delivered()

    def history_event(self):
        """Everything so far, for a late or reconnecting subscriber (long series thinned to 5000 points)."""
        with self._lock:
            return clean({"type": "history", "job_id": self.id, "seq": self._seq, "run": 0, "kind": self.kind,
                          "state": self.state, "message": self.message, "pace": self._pace,
                          "runs": [r.summary(limit=5000, reported_only=True) for r in self.recorders]})

    # --- controls -----------------------------------------------------------------------------
    def start(self):
        """Start training in a thread (or, for a job made with paused=True, wait at step 0 in state 'paused')."""
        with self._lock:
            if self.state != "created":
                raise JobError(f"job already {self.state}")
            if self.start_paused:
                self._resume.clear()
                self._set_state("paused", steps=[0] * self.run_count)
            else:
                self._set_state("running")
            self._thread = threading.Thread(target=self._run, name=f"bpnet-job-{self.id[:8]}", daemon=True)
            self._thread.start()
        return self

    def pause(self):
        """Pause after the step under way: once this returns no step runs until resume(), and the 'paused'
        state event says at which step each run stopped (`steps`), the last step the job will report."""
        with self._model_lock:  # (a step holds this lock: waiting for it makes the paused step count final)
            with self._lock:
                if self.state != "running":
                    raise JobError(f"cannot pause a job that is {self.state}")
                self._stepping = None  # a pause while stepping ends the stepping too
                self._resume.clear()
                self._set_state("paused", steps=[t.step for t in self.trainers])

    def step(self, steps=1):
        """From 'paused': run `steps` minibatches (1 to MAX_STEP_COUNT) in every run, or "epoch" (each run up to
        the end of its current epoch), then pause again: state events 'running', then 'paused' with `steps`, the
        step each run stopped at (a run that reaches its last step finishes instead). Returns {"state", "until"}:
        the steps the runs will pause at."""
        steps = step_count(steps)
        with self._model_lock, self._lock:
            if self.state != "paused":
                hint = " (pause it first)" if self.state == "running" else ""
                raise JobError(f"cannot step a job that is {self.state}{hint}")
            stepping = [t.steps_per_epoch - t.step % t.steps_per_epoch if steps == "epoch" else steps
                        for t in self.trainers]
            until = [min(t.step + n, t.total_steps) for t, n in zip(self.trainers, stepping)]
            self._stepping = stepping
            self._set_state("running")
            self._resume.set()
        return {"state": "running", "until": until}

    def resume(self):
        with self._lock:
            if self.state != "paused":
                raise JobError(f"cannot resume a job that is {self.state}")
            self._set_state("running")
            self._resume.set()

    def stop(self, message=STOPPED_BY_USER, failed=False):
        """Ask the loop to stop after the current step; it then ends 'stopped' (or 'failed') with `message`, which
        says who stopped it (the user, the grace period, a server shutdown...). A no-op on a job that has ended."""
        with self._lock:
            if self.state in TERMINAL:
                return
            if self.state == "created":
                self._set_state("failed" if failed else "stopped",
                                message if message != STOPPED_BY_USER else "stopped before it started")
                return
            if not self._stop:
                self._stop, self._stop_end = True, ("failed" if failed else "stopped", message)
            for trainer in self.trainers:  # a step or an evaluation in progress ends at its next layer
                trainer.stop_requested = True
            self._resume.set()
            self._wake.set()

    def end_now(self, message):
        """End the job at once, in state 'stopped' with `message`, even if its thread is still in a step (a
        server that shuts down: its watchers learn how the job ended). The thread, asked to stop, ends quietly."""
        with self._lock:
            if self.state in TERMINAL:
                return
            self.stop(message)
            self._set_state("stopped", message)

    def set_lr(self, lr):
        """Change the learning rate of every run from the next step on (limits from the config schema)."""
        lr = validate_field("lr", lr, self.config["task"])
        with self._lock:
            if self.state in TERMINAL:
                raise JobError(f"cannot change the learning rate of a job that is {self.state}")
            self._pending_lr = lr
        return lr

    def set_pace(self, pace):
        """Change the speed limit (steps per second at most, 0: none) from the next step on (limits from the
        config schema); announced in a 'pace' event."""
        pace = validate_field("pace", pace, self.config["task"])
        with self._lock:
            if self.state in TERMINAL:
                raise JobError(f"cannot change the speed of a job that is {self.state}")
            self._pace = pace
            self._emit("pace", pace=pace, step=self.trainers[0].step)
        self._wake.set()  # a long sleep of the old pace ends now
        return pace

    def wait(self, timeout=None):
        """Block until the job has ended (True) or the timeout passed (False)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.state in TERMINAL

    @property
    def done(self):
        return self.state in TERMINAL

    def _set_state(self, state, message="", **payload):
        self.state, self.message = state, message
        if state in TERMINAL:
            self.finished_at = time.time()
        self._emit("state", state=state, message=message, **payload)

    # --- the loop -----------------------------------------------------------------------------
    def _run(self):
        self.started_at = time.time()
        log.info("job %s started: %s", self.id, [r.trainer.config for r in self.recorders])
        try:
            for i, rec in enumerate(self.recorders):
                self._emit("dataset", run=i, **rec.dataset_event())
                rec.begin()
            self._loop()
        except MemoryError:
            log.error("job %s ran out of memory", self.id)
            with self._lock:
                if self.state not in TERMINAL:
                    self._set_state("failed", OUT_OF_MEMORY)
            self._wait_delivered()
            return
        except Exception as exc:  # noqa: BLE001 - an engine bug must end the job, not the thread silently
            log.exception("job %s crashed", self.id)
            with self._lock:
                if self.state not in TERMINAL:
                    self._set_state("failed", f"internal error: {type(exc).__name__}: {exc}")
            self._wait_delivered()
            return
        with self._lock:
            failed = [r for r in self.recorders if r.failure]
            if self.state in TERMINAL:  # ended by end_now() while this thread was finishing its step
                pass
            elif self._stop:
                self._set_state(*self._stop_end)
            elif failed and len(failed) == len(self.recorders):
                self._set_state("failed", failed[0].failure)
            else:
                note = "; ".join(f"{r.label}: {r.failure}" for r in failed)
                self._set_state("finished", note)
        self._wait_delivered()  # the thread ends once every listener has had every event
        log.info("job %s %s %s", self.id, self.state, self.message)

    def _loop(self):
        live = [(i, rec, rec.trainer.steps()) for i, rec in enumerate(self.recorders)]
        last_report = last_snapshot = next_round = time.monotonic()
        while live and not self._stop:
            pace = self._pace
            if pace:  # a speed limit: one round of steps every 1/pace seconds
                next_round = max(next_round + 1.0 / pace, time.monotonic() - 0.5)
                if self._wake.wait(max(0.0, next_round - time.monotonic())) and not self._stop:
                    self._wake.clear()  # the pace changed: go on at the new one
                    next_round = time.monotonic()
            else:
                next_round = time.monotonic()
            if not self._resume.is_set():
                self._flush(live)  # the dashboard shows every step done before the pause
                paused_at = time.monotonic()
                self._resume.wait()
                for _, rec, _ in live:
                    rec.exclude_pause(time.monotonic() - paused_at)
                continue
            self._apply_pending_lr()
            stepping = self._stepping
            for entry in list(live):
                i, rec, steps = entry
                if stepping is not None and stepping[i] <= 0:  # stepping: this run has made its steps
                    continue
                with self._model_lock:
                    if self._stop or not self._resume.is_set():  # paused or stopped since the round began
                        break
                    why = self._xrays.before(i, None if stepping is None else stepping[i])
                    try:
                        record = next(steps)
                    except StopIteration:
                        record = None
                    except Diverged as exc:
                        rec.failure = str(exc)
                        record = None
                    except Interrupted:  # stopped within the step: the runs end below, 'stopped'
                        self._xrays.abandon(i)
                        break
                    if record is not None and why:
                        self._report_xray(i, record, why)
                    if record is None:
                        self._xrays.abandon(i)
                        live.remove(entry)
                        self._finish_run(i, rec)
                        continue
                    with self._lock:
                        rec.add(record)
                        if stepping is not None and stepping is self._stepping:
                            stepping[i] -= 1
                    if "eval" in record:
                        with self._lock:  # record and announce together: a new subscriber sees it once
                            self._emit("eval", run=i, **rec.eval_event(record["eval"]))
                            self._emit("snapshot", run=i, **rec.snapshot(record["eval"]))
            if stepping is not None and live and all(stepping[i] <= 0 for i, _, _ in live):
                self._end_stepping(live, stepping)
                continue
            now = time.monotonic()
            if now - last_report >= self.report_interval:
                snap = now - last_snapshot >= self.snapshot_interval
                with self._model_lock:
                    for i, rec, _ in live:
                        self._report(i, rec, snapshot=snap)
                last_report = now
                last_snapshot = now if snap else last_snapshot
        if self._stop:
            self._flush(live)  # the steps since the last report of the runs cut short
            with self._lock:
                for i, rec, _ in live:
                    self._emit("done", run=i, stopped=True, steps=rec.trainer.step)

    # --- X-rays and distributions -----------------------------------------------------------------
    def _report_xray(self, i, record, why):
        events = self._xrays.after(i, record, why)
        with self._lock:
            for type_, payload in events:
                if type_ == "dists":
                    self.recorders[i].dists.append(payload)
                self._emit(type_, run=i, **payload)

    def xray(self, run=0):
        """The X-ray of run `run`'s latest recorded step (docs/xray.md; JSON-ready); a running job records
        X-rays for a few seconds after each call ('xray_ready' events announce them)."""
        if not 0 <= run < self.run_count:
            raise JobError(f"this job has no run {run} (it has {self.run_count})")
        self._xrays.asked()
        shot = self._xrays.latest(run)
        if shot is None:
            if self.state in TERMINAL:
                raise JobError(f"this job {self.state} and no X-ray was recorded (a job records them when it is "
                               "stepped or someone looks at them while it runs)")
            if self.trainers[run].step == 0:
                raise JobError("no step has run yet" + (": press Step to run one minibatch and see it"
                                                        if self.state == "paused" else ""))
            raise JobError("the X-ray of the next step is being recorded: an 'xray_ready' event announces it")
        return clean(shot)

    def _end_stepping(self, live, stepping):
        """The runs have made the steps step() asked for: report them, then pause ('paused' with `steps`)."""
        self._flush(live)
        with self._lock:
            if self._stepping is stepping and self.state == "running" and not self._stop:
                self._stepping = None
                self._resume.clear()
                self._set_state("paused", steps=[t.step for t in self.trainers])

    def _flush(self, live):
        with self._model_lock:
            for i, rec, _ in live:
                self._report(i, rec, snapshot=True)

    def _report(self, i, rec, snapshot):
        """Steps since the last report, gradient norms and (every snapshot_interval) the model's picture.

        Called by the training thread holding the model lock. Recording and emitting happen under one hold
        of the lock, so a subscriber's history never overlaps or misses its next events."""
        with self._lock:
            steps = rec.pending_steps()
            if steps:
                self._emit("steps", run=i, **steps)
            for norms in rec.pending_norms():
                self._emit("norms", run=i, **norms)
            if snapshot and not rec.evaluates_periodically:
                self._emit("snapshot", run=i, **rec.snapshot())

    def _finish_run(self, i, rec):
        """Last report and final metrics of a run (training thread, model lock held)."""
        self._report(i, rec, snapshot=not rec.failure)
        if rec.failure:
            with self._lock:
                rec.verdict = judge(rec)
                self._emit("done", run=i, failed=rec.failure, steps=rec.trainer.step, verdict=rec.verdict)
            return
        if rec.evaluates_periodically:
            with self._lock:
                self._emit("snapshot", run=i, **rec.snapshot())
        try:
            final = rec.trainer.final_metrics(rec.active_seconds())
        except Interrupted:  # stopped during the final evaluation: no final metrics
            self._emit("done", run=i, stopped=True, steps=rec.trainer.step)
            return
        with self._lock:
            rec.final = final
            rec.verdict = judge(rec)
            self._emit("done", run=i, **final, verdict=rec.verdict)

    def _apply_pending_lr(self):
        with self._lock:
            lr, self._pending_lr = self._pending_lr, None
            if lr is None:
                return
            for i, rec in enumerate(self.recorders):
                rec.trainer.set_lr(lr)
                rec.lr_changes.append((rec.trainer.step, lr))
                self._emit("lr", run=i, step=rec.trainer.step, lr=lr)

    # --- results ------------------------------------------------------------------------------
    def model_npz(self, run=0):
        """The run's model as .npz bytes: its state_dict (taken between two steps) and, in the zip comment, what
        bpnet.load needs to use it (engine/saved.py)."""
        trainer = self.trainers[run]
        with self._model_lock:
            state = trainer.model.state_dict()
        return pack(state, describe(trainer.config, trainer.task))

    def history(self):
        """The full, unthinned history of every run (JSON-ready)."""
        with self._lock:
            return clean({"job_id": self.id, "state": self.state, "message": self.message,
                          "runs": [r.summary(limit=None) for r in self.recorders]})

    def history_csv(self, run=0):
        with self._lock:
            return self.recorders[run].csv()

    def predict_digit(self, pixels, run=0):
        """Class probabilities (10,) of an MNIST run's current model for 784 grey levels in [0, 1]."""
        return self.predict(digit_inputs(pixels, self.trainers[run].config), run)[0]

    def predict(self, x, run=0):
        """Class probabilities (or outputs) of the current model for inputs x, taken between two steps."""
        with self._model_lock:
            return outputs(self.trainers[run].model, self.trainers[run].config, x)
