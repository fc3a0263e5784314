"""Jobs in a pool of worker processes (spawn), relayed to the browsers by threads of the web process.

Each worker hosts one job at a time (bpnet.engine.host) and sends its messages, batched, through one
Manager queue (a proxy per process: a worker killed mid-write cannot jam the others); each job has its own
request queue. A router thread here hands the messages to their RemoteJob, a watch thread flushes the
relays and fails the jobs whose worker has died (the pool starts a new one).

multiprocessing.Pool has one flaw here: its idle workers take turns holding the lock of the task queue
while they wait for a task, so a worker killed while idle (the OOM killer, an operator) may take that lock
with it and no task is ever handed out again. After any worker's death the watch thread sends a probe task;
if it is not taken in time while a worker is free, the lock is held and a task lies unread in the pipe (a
live holder would be reading it), the holder is dead and the lock is released for it.
"""
import logging
import multiprocessing
import os
import queue
import socket
import threading
import time
from multiprocessing.managers import SyncManager

from bpnet import optim
from bpnet.engine.heap import give_back
from bpnet.engine.host import build_job, host_job
from bpnet.engine.priority import TRAINING_NICENESS

from .backends import LocalBackend, RemoteJob, ServiceError
from .lifeline import exit_with_parent

__all__ = ["ProcessBackend", "run_in_worker"]

log = logging.getLogger("bpnet.web")
START_PATIENCE = 60  # seconds a job may wait for a worker process to take it before it is failed
PROBE_PATIENCE = 10  # seconds a probe task may wait (with a worker free) before the pool is deemed jammed
WORKER_NICENESS = TRAINING_NICENESS  # added to the worker processes' niceness (a job's thread in one: unchanged)
BATCH_WAIT = 0.02  # seconds a worker gathers messages before sending them as one (fewer, larger writes)
MANAGER_DIED = ("the server's message queue (its worker pool's manager process) died, cutting this job off; the "
                "job is lost: start again")


class _Batcher:
    """A worker's outgoing messages, in order, sent in batches by a thread: one queue write per batch."""

    def __init__(self, outbox):
        self.outbox, self.pending, self.written = outbox, queue.Queue(), threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def send(self, message):
        self.pending.put(message)

    def close(self, timeout=30):
        """Write out everything sent so far, then end the thread."""
        self.send(None)
        self.written.wait(timeout)

    def _run(self):
        while not self.written.is_set():
            batch = [self.pending.get()]
            time.sleep(BATCH_WAIT)
            while True:
                try:
                    batch.append(self.pending.get_nowait())
                except queue.Empty:
                    break
            messages = [m for m in batch if m is not None]
            try:
                if messages:
                    self.outbox.put(messages)
            except (EOFError, OSError):  # the web process is gone: nobody to tell
                batch.append(None)
            if batch[-1] is None:
                self.written.set()


def _init_worker(level, parent):
    """Pool worker start-up: log like the web process (one line per job start and end), give way to it, and
    end with it (even if it is killed).

    Training is CPU-bound and there may be more jobs than cores: at a lower priority (nice 10) the workers
    share what the web process and the queue manager leave, so pages and event relaying stay prompt.
    """
    exit_with_parent(parent)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")
    try:
        os.nice(WORKER_NICENESS)
    except OSError:  # not allowed here: run at the same priority
        pass
    optim.warm_up()  # compile the fused Adam update before the first job's first step


def run_in_worker(job_id, spec, outbox, inbox):
    """Pool task: build and host one job in this worker process."""
    batcher = _Batcher(outbox)
    try:
        _host(job_id, spec, batcher.send, inbox)
    finally:
        batcher.close()
        give_back()  # this worker process hosts the next job: return the last one's memory first


def _host(job_id, spec, send, inbox):
    def receive(timeout):
        try:
            return inbox.get(timeout=timeout)
        except queue.Empty:
            return None
        except (EOFError, OSError):  # the web's queue manager is gone: nobody can watch or control the job
            time.sleep(timeout)
            return {"op": "stop", "req": None, "args": [MANAGER_DIED, True]}
    # say where the job runs before building it (loading data takes a while): a death from now on is noticed
    send({"kind": "host", "job_id": job_id, "pid": os.getpid(), "hostname": socket.gethostname()})
    try:
        job = build_job(job_id, spec)
    except Exception as exc:  # noqa: BLE001 - reported to the user as the job's failure
        send({"kind": "event", "job_id": job_id, "event": {
            "type": "state", "job_id": job_id, "seq": 1, "run": 0, "state": "failed",
            "message": f"could not start: {exc}"}})
        return
    host_job(job, send, receive, poll=0.1)


class ProcessBackend:
    """Jobs train in a multiprocessing pool (spawn); a router thread here relays their messages.

    A worker that dies (even by SIGKILL) fails its job with a clear message; the pool starts a new worker.
    """

    def __init__(self, emit, spawn, workers, flush_interval=0.1):
        self.emit, self.flush_interval = emit, flush_interval
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):  # one BLAS thread per worker process
            os.environ.setdefault(var, "1")
        ctx = multiprocessing.get_context("spawn")
        self._ctx, self._manager_down = ctx, None  # when the queue manager was found dead (None: it is alive)
        self._start_manager()
        self._pool = ctx.Pool(workers, initializer=_init_worker, initargs=(logging.getLogger().level, os.getpid()))
        self._jobs, self._procs, self._dead = {}, {}, set()
        self._probe, self.unjammed = None, 0  # (pending probe task, when sent); times a dead worker's lock was freed
        self._may_unjam = False  # a worker has died since the lock was last released
        self._running = True
        spawn(self._route)
        spawn(self._watch)

    def _start_manager(self):
        """The Manager process whose queues carry every message between this process and the workers."""
        self._mp = SyncManager(ctx=self._ctx)
        self._mp.start(exit_with_parent, (os.getpid(),))  # (ends with this process, even if it is killed)
        self._outbox = self._mp.Queue()

    def _check_manager(self):
        """Watch the queue manager as the workers are watched: if it has died, fail the jobs it carried (their
        workers, cut off, stop them) and start a new one; until then the server reports itself unavailable."""
        if self._manager_down is None and self._mp._process.is_alive():
            return
        if self._manager_down is None:
            self._manager_down = time.monotonic()
            log.error("the worker pool's queue manager (pid %s) died: failing its jobs and starting a new one",
                      self._mp._process.pid)
            for job in list(self._jobs.values()):
                if not job._ended.is_set():
                    job.fail(MANAGER_DIED)
        try:
            self._start_manager()
        except Exception:  # noqa: BLE001 - tried again at the next watch
            log.exception("could not start a new queue manager")
            return
        log.info("a new queue manager is running (pid %s)", self._mp._process.pid)
        self._manager_down = None

    def active_owners(self, local_entries):
        if self._manager_down is not None:
            raise ServiceError("the worker pool is restarting its message queue after a failure; try again in a "
                               "moment")
        return LocalBackend.active_owners(local_entries)

    def launch(self, job_id, spec, configs, owner):
        inbox = self._mp.Queue()
        kind = f"compare:{spec['comparison']}" if spec.get("comparison") else "train"
        job = RemoteJob(job_id, kind, configs, inbox.put, self.emit, self.flush_interval)
        self._jobs[job_id] = job
        self._pool.apply_async(run_in_worker, (job_id, spec, self._outbox, inbox))
        return job

    def _route(self):
        """Deliver every message from the workers to its job, in order."""
        while self._running:
            try:
                batch = self._outbox.get(timeout=0.2)
            except queue.Empty:
                continue
            except (EOFError, OSError):  # the manager is gone: shutting down, or the watch thread replaces it
                time.sleep(0.1)
                continue
            for message in batch:
                job = self._jobs.get(message["job_id"])
                try:
                    if job is not None:
                        job.receive(message)
                except Exception:  # noqa: BLE001 - one bad message must not stop the relaying of all jobs
                    log.exception("job %s: could not handle a message from its worker", message.get("job_id"))

    def _watch(self):
        """Flush the relays every interval; fail the jobs whose worker process has died."""
        while self._running:
            time.sleep(self.flush_interval)
            for p in list(getattr(self._pool, "_pool", [])):  # the pool's worker processes (kept once seen,
                if self._procs.get(p.pid) is not p:           # so a dead one's exit code can still be read;
                    self._procs[p.pid] = p                    # a new process may reuse a dead one's pid)
                    self._dead.discard(p.pid)
            try:
                self._check_manager()
                self._check_pool()
            except Exception:  # noqa: BLE001 - this thread also flushes every relay: it must go on
                log.exception("checking the worker pool failed")
            for job_id, job in list(self._jobs.items()):
                job.relay.flush()
                if job.archive is not None or job._ended.is_set():
                    continue
                pid = (job.host or {}).get("pid")
                if pid is None and time.monotonic() - job.created > START_PATIENCE:
                    log.error("no worker process took job %s in %d s: is the pool stuck?", job_id, START_PATIENCE)
                    job.fail("no worker process took this job within a minute; the server may need a restart")
                    continue
                proc = self._procs.get(pid)
                if proc is not None and (proc.exitcode is not None or not proc.is_alive()):
                    code = proc.exitcode
                    how = f" (killed by signal {-code})" if code is not None and code < 0 else ""
                    if not job.done:  # (else it died after its job's end, before sending the archive)
                        log.warning("worker process %s running job %s died%s", pid, job_id, how)
                    job.fail(f"the worker process training this job died{how}; the job is lost. "
                             "The server has started a new worker: you can start again.")

    def _check_pool(self):
        """After a worker's death, make sure the pool still hands out tasks (see the module's doc)."""
        live = [j for j in list(self._jobs.values()) if not j._ended.is_set()]
        hosting = {(j.host or {}).get("pid") for j in live}
        for pid, proc in list(self._procs.items()):
            if pid not in self._dead and not proc.is_alive():
                self._dead.add(pid)
                if pid not in hosting:  # (the death of one hosting a job is reported with the job)
                    log.warning("idle worker process %s died (exit code %s): checking that the pool still takes "
                                "jobs", pid, proc.exitcode)
                try:  # even a worker that had a job may have gone back to wait (holding the lock) as it died
                    self._probe = (self._pool.apply_async(os.getpid), time.monotonic())
                except ValueError:  # the pool is shutting down
                    return
                self._may_unjam = True  # (only a death can leave the lock held: one release per death at most)
        if self._probe is None:
            return
        probe, sent = self._probe
        free = sum(p.is_alive() for p in list(self._pool._pool)) - sum(1 for j in live if j.host)
        if probe.ready():
            self._probe = None
        elif self._may_unjam and free > 0 and time.monotonic() - sent > PROBE_PATIENCE and self._release_task_lock():
            log.warning("the pool took no task for %d s: a dead worker held its task queue's lock; released it",
                        PROBE_PATIENCE)
            self.unjammed += 1
            self._may_unjam = False  # a worker slow to read the task now holds it: releasing again would break it
            self._probe = (probe, time.monotonic())

    def _release_task_lock(self, check_unread=True):
        """Release the pool's task-queue lock if it is held while a task waits unread in the queue's pipe: its
        holder is dead (a live holder is blocked reading that pipe and would have taken the task)."""
        inqueue = self._pool._inqueue
        lock = inqueue._rlock
        try:
            if lock._semlock._get_value() != 0 or (check_unread and not inqueue._reader.poll(0)):
                return False
            lock.release()
        except (AttributeError, NotImplementedError, ValueError):  # not this platform's Pool: leave it
            return False
        return True

    def forget(self, job_id):
        self._jobs.pop(job_id, None)

    lookup = staticmethod(LocalBackend.lookup)

    def shutdown(self):
        self._running = False
        closer = threading.Thread(target=self._pool.terminate, daemon=True)
        closer.start()
        closer.join(3)
        if closer.is_alive():  # Pool.terminate waits for the task lock: a dead worker may hold it
            workers = list(self._pool._pool)
            for p in workers:  # end them all first: then whoever holds the lock is dead and it can be freed
                p.terminate()
            for p in workers:
                p.join(2)
            self._release_task_lock(check_unread=False)
            closer.join(5)
        self._mp.shutdown()
