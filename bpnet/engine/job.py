"""A training job in a background thread: state machine, controls, rate-limited events, full history.

    job = Job({"task": "function", "formula": "sin(3*x)"})
    unsubscribe = job.subscribe(print)     # first call: a 'history' event; then live events
    job.start(); job.pause(); job.set_lr(0.001); job.set_pace(30); job.resume(); job.stop(); job.wait()

Step mode: Job(config, paused=True).start() makes the data and the model and waits at step 0 ('paused');
job.step(5) runs five minibatches and pauses again, job.step("epoch") runs to the end of the epoch.

Controls (job_controls.py) only set flags that the training loop here reads between steps; a thread is never
killed. Listeners are called outside the job's locks (job_events.py), so a listener may call any method of the
job. Results (X-rays, the model, the history, predictions: job_results.py) are taken between two steps. A job may
hold several runs (a comparison): their steps are interleaved round-robin in the one thread, so all curves grow
together.
"""
import logging
import secrets
import threading
import time

from .budget import check as check_budget
from .config import validate_config
from .job_controls import MAX_STEP_COUNT, STATES, STOPPED_BY_USER, TERMINAL, JobControls, JobError, step_count
from .job_events import JobEvents
from .job_results import JobResults
from .recorder import Recorder
from .saved import check_continuation, read as read_saved
from .trainer import Diverged, Interrupted, Trainer
from .verdict import judge
from .xray_schedule import XRaySchedule

__all__ = ["Job", "JobError", "STATES", "TERMINAL", "STOPPED_BY_USER", "MAX_STEP_COUNT", "OUT_OF_MEMORY",
           "step_count"]

log = logging.getLogger("bpnet.engine")
OUT_OF_MEMORY = ("the server ran out of memory training this job: try a smaller batch size, fewer samples or "
                 "smaller layers (or start it when fewer jobs are running)")


class Job(JobEvents, JobControls, JobResults):
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
        self._init_events()  # self._lock: state, subscribers, seq, histories (job_events.py)
        self._model_lock = threading.RLock()  # the models: held by a training step; never taken inside _lock
        self._resume = threading.Event()
        self._resume.set()
        self._wake = threading.Event()  # set by stop() and set_pace(): ends a pace sleep at once
        self._stop, self._stop_end = False, None
        self._pace = self.config.get("pace", 0)  # steps (rounds of steps) per second at most; 0: no limit
        self._pending_lr = None
        self.start_paused = bool(paused)
        self._stepping = None  # while stepping: the steps each run still has to make before pausing again
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
            self.wait_delivered()
            return
        except Exception as exc:  # noqa: BLE001 - an engine bug must end the job, not the thread silently
            log.exception("job %s crashed", self.id)
            with self._lock:
                if self.state not in TERMINAL:
                    self._set_state("failed", f"internal error: {type(exc).__name__}: {exc}")
            self.wait_delivered()
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
        self.wait_delivered()  # the thread ends once every listener has had every event
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
