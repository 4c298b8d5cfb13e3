"""One leased task: run it within its time limit and record how it ended (done, retried, failed for
good, or set aside unrun), whatever goes wrong in this worker's own code on the way."""

from __future__ import annotations

import functools
import logging
import time
import traceback
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from .. import outcomes, serializer
from ..broker import Ack, Broker, QueueKeys
from ..broker.flows import NO_FLOW, Flow, flow_of
from ..broker.leases import shown
from ..current import CurrentJob, Hooks, reset_current, set_current
from ..exceptions import BrokerError, ConfigurationError, Interrupted, InvalidMessage, RedisUnavailable, Retry, describe
from ..functions import FunctionCache, name_of
from ..job import Options, seconds_to_ms
from .batch import Batch
from .timelimit import TaskCancelled, TaskRunner, TimeLimitExceeded

if TYPE_CHECKING:
    from ..info import FailedOrDead

logger = logging.getLogger(__name__)

T = TypeVar("T")

_DEFAULTS = Options()
# The least proto-max-bulk-len Redis can be set to: a result larger than this may be refused.
LARGE_RESULT_BYTES = 1024 * 1024
# A large result's acknowledgement breaking the connection this many times in a row, with Redis
# answering a PING in between, was refused for its size.
REFUSALS = 2
NOT_PENDING = (
    "its job is not pending on this queue: a copy of a job that already ran (a replay), or a message "
    "not enqueued through yotaq; it was not run"
)


class ReadyTask(NamedTuple):
    """A task ready to run (or running): what recording its outcome needs."""

    keys: QueueKeys
    message: bytes
    task: serializer.Task
    options: Options
    current: CurrentJob
    started: float  # time.perf_counter()
    flow: Flow = NO_FLOW  # its part in a workflow


class StopRequested(Interrupted):
    """Raised in the main thread by a signal to stop waiting, or by a second one to stop running."""


class TaskHandler:
    """Runs the tasks a worker leased, one at a time, and records their outcomes.

    ``until_done`` is the worker's way through an outage: recording is retried until it goes
    through, so that finished work is not run again.
    """

    def __init__(
        self,
        broker: Broker,
        worker: str,
        secret: bytes | None,
        batch: Batch,
        runner: TaskRunner,
        until_done: Callable[[Callable[[], bool]], bool],
        counts: Counter[str],
        hooks: Hooks,
    ) -> None:
        self._hooks = hooks
        self._broker = broker
        self._worker = worker
        self._secret = secret
        self._batch = batch
        self._runner = runner
        self._until_done = until_done
        self._functions = FunctionCache()
        self.counts = counts
        self.current: QueueKeys | None = None  # the queue of the task being handled, until it is recorded
        # With concurrency > 1: cancels the job's coroutine if one is in flight (``AsyncPool.cancel``);
        # whether it was. A callable, not the pool, so that the pool depends on this module and not back.
        self.cancel_coroutine: Callable[[str], bool] | None = None
        self._max_bytes: int | None = None  # the largest argument Redis takes, once learned

    def learn_limits(self) -> None:
        """Ask Redis for the largest result it takes, to fail a larger one rather than send it."""
        self._max_bytes = self._broker.max_argument_bytes()

    def process(self, keys: QueueKeys, message: bytes, known: bool) -> None:
        """Run one leased task and record how it ended. Whatever fails in this worker's own code on
        the way is recorded as the task's failure too, and the worker goes on."""
        self.current = keys
        try:
            if not known:
                self._set_aside(keys, message, serializer.invalid_id(message), NOT_PENDING, leased=False)
            else:
                self._run(keys, message)
        except (StopRequested, TimeLimitExceeded, TaskCancelled):
            raise
        except Exception as exc:
            logger.exception("recording the outcome of job %s failed", serializer.message_id(message))
            trace = "".join(traceback.format_exc())
            outcome = ("failed", "WorkerError", f"recording its outcome failed: {describe(exc)}", trace)
            self._fail(keys, message, serializer.message_id(message), _DEFAULTS, outcome)
        self.current = None

    def _run(self, keys: QueueKeys, message: bytes) -> None:
        ready = self.begin(keys, message)
        if ready is None:
            return
        token = set_current(ready.current)
        try:
            value = self._runner.call(ready.task, ready.options.timeout)
        except StopRequested:
            raise
        except BaseException as exc:  # whatever a task raises, it must not take the worker down with it
            self.end(ready, None, exc)
        else:
            self.end(ready, value, None)
        finally:
            reset_current(token)

    def begin(self, keys: QueueKeys, message: bytes) -> ReadyTask | None:
        """Read a leased message and get its task ready to run; None when it was set aside unrun."""
        parent_failed = None
        try:
            task = serializer.decode(message, self._secret, keys.queue, self._functions)
            flow, task_options = flow_of(task.options)
            options = _DEFAULTS.replace(**task_options)
            if flow.after:  # a dependent (workflows): its parents' outcomes, read now, come in its arguments
                from .depends import ParentFailed, fed

                try:
                    task = fed(self._broker, keys, task, self._secret)
                except ParentFailed as failed:
                    parent_failed = str(failed)
        except (InvalidMessage, ConfigurationError) as exc:
            record_id = exc.job_id if isinstance(exc, InvalidMessage) else serializer.message_id(message)
            self._set_aside(keys, message, record_id or serializer.invalid_id(message), str(exc), leased=True)
            return None
        if parent_failed is not None:
            self._cancelled(keys, message, task.id, options, parent_failed, flow)
            return None
        self._batch.start(keys, task.id)
        report = functools.partial(self._broker.set_progress, keys, task.id, ttl_ms=options.result_ttl_ms)
        current = CurrentJob(task.id, keys.queue, task.attempt, report)
        self._hooks.before_task(current)
        return ReadyTask(keys, message, task, options, current, time.perf_counter(), flow)

    def end(self, ready: ReadyTask, value: Any, raised: BaseException | None) -> None:
        """Record how a task ended: it returned ``value``, or raised ``raised``."""
        keys, message, task, options, current, started, flow = ready
        elapsed = time.perf_counter() - started
        self._batch.finish(task.id, elapsed)
        failure = raised
        if isinstance(raised, TimeLimitExceeded):
            failure = TimeoutError(f"task exceeded its time limit of {options.timeout:g} s")
            failure.__traceback__ = raised.__traceback__
        elif isinstance(raised, TaskCancelled):
            self._hooks.after_task(current, "cancelled", None, elapsed)
            what = shown(self._worker, round(elapsed * 1000), name_of(task.fn))
            self._cancelled(keys, message, task.id, options, "cancelled while it ran", flow, what)
            return
        if failure is None:
            kind, envelope = outcomes.encode_result(
                task.id, ("done", value), self._secret, keys.queue, self._worker, self._max_bytes
            )
        else:
            kind, envelope = ("retried" if task.attempt < options.retries else "failed"), b""
        self._hooks.after_task(current, kind, failure, elapsed)
        if failure is None:
            if kind == "done":
                logger.debug("job %s done in %.6f s", task.id, elapsed)
                ran_ms = round(elapsed * 1000)
                what = shown(self._worker, ran_ms, name_of(task.fn))
                ack = Ack(task.id, envelope, options.result_ttl_ms, ran_ms, what, flow)
                if len(envelope) > LARGE_RESULT_BYTES:
                    self._record("done", task.id, lambda: self._acknowledge_alone(keys, message, ack, options))
                    return
                self.counts["done"] += 1
                self._batch.acknowledge(keys, ack)
                return
            logger.error("job %s returned a value that cannot be stored: it fails", task.id)
            self._record(
                "failed",
                task.id,
                lambda: self._record_failed_or_dead(keys, message, task.id, "failed", envelope, options),
            )
        elif task.attempt < options.retries:
            self._retry(keys, message, task, options, failure, elapsed)
        else:
            outcome = outcomes.failure(failure)
            logger.error("job %s failed after %.3f s:\n%s", task.id, elapsed, outcome[3].rstrip())
            self._fail(keys, message, task.id, options, outcome)

    def _acknowledge_alone(self, keys: QueueKeys, message: bytes, ack: Ack, options: Options) -> bool:
        """Acknowledge a result large enough that Redis may refuse it, on its own, so that a refusal
        touches no other job. Results are checked against the limit learned at start; this is for a
        limit that could not be read (``CONFIG`` refused) or has changed since: Redis refuses by
        closing the connection (after replying ``Protocol error: invalid bulk length``, which a client
        still writing never reads), so a call refused so, or that breaks ``REFUSALS`` times in a row while
        Redis answers in between, was refused, and the job fails."""
        for _ in range(REFUSALS):
            try:
                return not self._broker.ack_and_lease(keys, self._worker, [ack], 0).lost
            except RedisUnavailable:
                self._broker.ping()  # raises while Redis is unreachable: an outage, waited out by the caller
            except BrokerError as exc:
                if "invalid bulk length" not in str(exc):
                    raise
                break
        reason = f"result of {len(ack.envelope) / 2**20:.1f} MB refused by the server (over its proto-max-bulk-len)"
        logger.error("job %s: %s: it fails", ack.job_id, reason)
        self.counts["done"] -= 1
        self.counts["failed"] += 1
        failed = outcomes.encode_result(
            ack.job_id, ("failed", "SerializationError", reason, ""), self._secret, keys.queue, self._worker
        )
        return self._record_failed_or_dead(keys, message, ack.job_id, "failed", failed[1], options)

    def _retry(
        self, keys: QueueKeys, message: bytes, task: serializer.Task, options: Options, failure: BaseException, s: float
    ) -> None:
        delay = failure.delay if isinstance(failure, Retry) and failure.delay is not None else None
        delay_s = options.backoff(task.attempt + 1) if delay is None else delay
        logger.warning(
            "job %s failed after %.3f s (try %d of %d), retrying in %.2f s: %s",
            task.id, s, task.attempt + 1, options.retries + 1, delay_s, describe(failure),
        )  # fmt: skip
        body = serializer.message_body(message)
        retry = serializer.with_attempt(task, body, self._secret, keys.queue, time.time() + delay_s)
        delay_ms = seconds_to_ms("retry delay", delay_s)
        self._record(
            "retried", task.id, lambda: self._broker.retry(keys, self._worker, message, retry, task.id, delay_ms)
        )

    def _cancelled(
        self,
        keys: QueueKeys,
        message: bytes,
        job_id: str,
        options: Options,
        reason: str,
        flow: Flow,
        what: str = "- - -",
    ) -> None:
        logger.warning("job %s cancelled: %s", job_id, reason)
        _, envelope = outcomes.encode_result(job_id, ("cancelled", reason), self._secret, keys.queue, self._worker)
        worker, ttl_ms = self._worker, options.result_ttl_ms
        self._record(
            "cancelled",
            job_id,
            lambda: self._broker.record_cancelled(keys, worker, message, job_id, envelope, ttl_ms, what, flow),
        )

    def cancel(self, job_id: str) -> None:
        """Interrupt the task of ``job_id`` if it is still running: its job was cancelled (called from
        the maintenance thread)."""
        if self.cancel_coroutine is None or not self.cancel_coroutine(job_id):
            self._runner.cancel(job_id)

    def _fail(self, keys: QueueKeys, message: bytes, job_id: str, options: Options, outcome: tuple[str, ...]) -> None:
        """Set a task aside as failed, with ``outcome``: ``("failed", type, message, traceback)``."""
        _, envelope = outcomes.encode_result(job_id, outcome, self._secret, keys.queue, self._worker, self._max_bytes)
        self._record(
            "failed", job_id, lambda: self._record_failed_or_dead(keys, message, job_id, "failed", envelope, options)
        )

    def _set_aside(self, keys: QueueKeys, message: bytes, record_id: str, reason: str, *, leased: bool) -> None:
        """Set a message aside as dead, unrun, with the reason, under ``record_id``. One that cannot be
        trusted (recorded under its own digest) but was leased as the job in its header leaves that
        job as it found it: its lease marked the job active, and it goes back to pending."""
        claimed = serializer.message_id(message)
        claimed = claimed if leased and claimed != record_id and not claimed.startswith("invalid-") else ""
        logger.error("job %s set aside as dead: %s", record_id, reason)
        _, envelope = outcomes.encode_result(record_id, ("dead", reason), self._secret, keys.queue, self._worker)
        self._record(
            "invalid",
            record_id,
            lambda: self._record_failed_or_dead(keys, message, record_id, "dead", envelope, _DEFAULTS, claimed),
        )

    def _record_failed_or_dead(
        self,
        keys: QueueKeys,
        message: bytes,
        record_id: str,
        kind: FailedOrDead,
        envelope: bytes,
        options: Options,
        claimed_id: str = "",
    ) -> bool:
        return self._broker.fail(
            keys,
            self._worker,
            message,
            record_id,
            kind=kind,
            envelope=envelope,
            record_ttl_ms=options.failure_ttl_ms,
            result_ttl_ms=options.failed_result_ttl_ms,
            claimed_id=claimed_id,
        )

    def _record(self, outcome: str, job_id: str, step: Callable[[], bool]) -> None:
        """Record how a task ended, retrying through an outage so finished work is not run again."""
        self.counts[outcome] += 1
        if not self._until_done(step):
            self.lost_leases([job_id], outcome)

    def lost_leases(self, job_ids: list[str], outcome: str) -> None:
        for job_id in job_ids:
            logger.warning(
                "job %s: could not record it as %s, its lease was gone: this worker was presumed dead and "
                "the task given back to the queue (where it runs again), or an earlier try at recording it "
                "went through before the connection dropped",
                job_id,
                outcome,
            )

    def install(self) -> object:
        """Take SIGALRM for time limits; returns the handler it replaced."""
        return self._runner.install()

    def close(self) -> None:
        self._runner.close()
