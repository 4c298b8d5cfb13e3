"""A dependent about to run (a step of a chain, a chord's callback, a job enqueued with ``depends_on``):
its parents' outcomes, read from Redis once, become its first argument, or the reason it is cancelled
unrun when one of them failed (see ``docs/guide/workflows.md``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import outcomes, serializer
from ..broker import Broker, QueueKeys
from ..exceptions import InvalidMessage, JobCancelled, JobFailed


class ParentFailed(Exception):
    """Raised when a parent of a dependent that does not allow failures failed, was set aside or cancelled."""


def fed(broker: Broker, keys: QueueKeys, task: serializer.Task, secret: bytes | None) -> serializer.Task:
    """``task`` with its parents' results as its first argument, read from Redis (see ``fed_args``).

    Raises:
        ParentFailed: a parent ended otherwise than done, and the dependent does not allow it.
        InvalidMessage: its record is gone, or a parent's outcome is forged.
    """
    record, outcome_of = broker.dependent_record(keys, task.id)
    if b"parents" not in record:
        raise InvalidMessage(f"job {task.id}: its parents' outcomes are gone (expired)", task.id)
    words = record[b"parents"].decode().split()
    parents = [
        (words[n + 1], QueueKeys.parse(words[n]).queue, outcome_of.get(words[n + 1].encode()))
        for n in range(0, len(words) - 1, 2)
    ]
    allow, feed = record.get(b"allow") == b"1", record.get(b"feed", b"").decode()
    return task._replace(args=fed_args(task.args, parents, allow, feed, secret))


def fed_args(
    args: tuple[Any, ...],
    parents: Sequence[tuple[str, str, bytes | None]],
    allow_failure: bool,
    feed: str,
    secret: bytes | None,
) -> tuple[Any, ...]:
    """A dependent's arguments, its parents' outcomes (``(job id, queue, envelope)`` each, in order; None
    for one not over) fed in: a chain's step gets the one result first, a chord's callback the list of
    them; a failed parent's ``JobFailed`` (or ``JobCancelled``) in its place when ``allow_failure``.

    Raises:
        ParentFailed: a parent ended otherwise than done, and the dependent does not allow it.
        InvalidMessage: a parent's outcome is forged.
    """
    values: list[Any] = []
    for parent, queue, envelope in parents:
        if envelope is None:
            values.append(None)  # not over: the dependent was enqueued because another one failed
            continue
        try:
            values.append(outcomes.decode_result(parent, envelope, secret, queue))
        except (JobFailed, JobCancelled) as failed:
            if not allow_failure:
                raise ParentFailed(f"parent job {parent} {_ended(failed)}") from None
            values.append(failed)
    if feed == "chain":
        return (values[0], *args)
    if feed == "chord":
        return (values, *args)
    return args


def _ended(failed: JobFailed | JobCancelled) -> str:
    """How a parent ended, for the reason its dependent is cancelled: one cancelled because of its own
    parent names where it began, so that a long chain's reasons do not nest."""
    if isinstance(failed, JobCancelled):
        began = failed.reason.split(FIRST, 1)[-1] if failed.reason.startswith("parent job ") else failed.reason
        return f"was cancelled{FIRST}{began}"
    if failed.type == "Dead":
        return f"was set aside as dead ({failed.message})"
    return f"failed ({failed.type}: {failed.message})"


FIRST = "; first: "
