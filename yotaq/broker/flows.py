"""Workflows in Redis: the keys and arguments of a job's part in a workflow, for the scripts that record
outcomes (``lua/include/flows.lua``), the enqueue of a workflow (``workflow-1+n.lua``), and what is kept
about a job's parents and dependents. The functions build and read, and send nothing (as ``commands``,
for both brokers); ``Workflows``, mixed into ``Broker``, sends.

A job's dependents are named ``<queue token> <job id>`` (``QueueKeys.token``), pairs space separated.
Whoever records a job's outcome says what it believes the job's dependents are, with their keys (all
of them in ``KEYS``: on a Redis Cluster they must share the job's slot); a script that finds otherwise
changes nothing and replies with what Redis holds, for the caller to call again (``believed``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from ..exceptions import ConfigurationError, JobIdInUse
from .connection import Client, pairs, transaction
from .keys import QueueKeys
from .scripts import Scripts, keys_for

T = TypeVar("T")
MESSAGE_OPTION = "flow"  # the option in which a message carries its part in a workflow: (after, dependents)
TOKEN_TTL_MS = 60_000  # as an enqueue's (commands.ENQUEUE_TOKEN_TTL_MS): far longer than a producer tries again

Script = tuple[list[str], list[Any]]  # its KEYS and ARGV, as in ``commands``


class Flow(NamedTuple):
    """What a job's message says of its part in a workflow (as its recorder believes it)."""

    after: bool = False  # it is itself a dependent: its record and its parents' outcomes expire with it
    dependents: str = ""  # the jobs waiting for its outcome, '<queue token> <job id>' pairs


NO_FLOW = Flow()


def flow_of(options: dict[str, Any]) -> tuple[Flow, dict[str, Any]]:
    """A message's part in a workflow (``MESSAGE_OPTION``), and its other options."""
    if MESSAGE_OPTION not in options:
        return NO_FLOW, options
    after, dependents = options[MESSAGE_OPTION]
    rest = {name: value for name, value in options.items() if name != MESSAGE_OPTION}
    return Flow(bool(after), str(dependents)), rest


def dependents_of(pairs: str) -> list[tuple[QueueKeys, str]]:
    """The keys and id of each dependent in a ``<queue token> <job id> ...`` string."""
    words = pairs.split()
    return [(QueueKeys.parse(words[n]), words[n + 1]) for n in range(0, len(words) - 1, 2)]


def part_keys(keys: QueueKeys, job_id: str, flow: Flow, *, own: bool = True) -> list[str]:
    """The keys of a job's part in a workflow, in the order ``flow_part`` (``include/flows.lua``) reads
    them; ``own``: with its own record's (a script that has them in its fixed keys says False)."""
    part = [keys.flow(job_id), keys.parents(job_id)] if flow.after and own else []
    if flow.dependents:
        part.append(keys.dependents(job_id))
        for dkeys, dependent in dependents_of(flow.dependents):
            part += [dkeys.flow(dependent), dkeys.parents(dependent), dkeys.pending, dkeys.state]
            part += [dkeys.scheduled, dkeys.scheduled_messages, dkeys.marker]
    return part


def belief(flow: Flow) -> str:
    """A job's part in a workflow as a script's argument: ``'<after> <dependents>'``, or '' for none."""
    if flow == NO_FLOW:
        return ""
    return f"{int(flow.after)} {flow.dependents}".rstrip()


def beliefs(flows: Sequence[Flow]) -> str:
    """Several jobs' ``belief`` as one script argument: each followed by a newline (``include/lines.lua``);
    '' when none of them is in a workflow (the usual batch: nothing for the script to split)."""
    if all(flow == NO_FLOW for flow in flows):
        return ""
    return "".join(f"{belief(flow)}\n" for flow in flows)


def with_actual(flow: Flow, actual: bytes | None) -> Flow:
    """``flow`` with the dependents Redis holds (a script's reply when the belief was wrong)."""
    return flow._replace(dependents=(actual or b"").decode())


def wrong_beliefs(reply: Any) -> Sequence[Any]:
    """What a script that records one job's outcome found of the caller's beliefs: a list
    ``[position, actual, ...]`` when they were wrong (``check_beliefs`` in ``include/flows.lua``), else its
    plain reply."""
    return reply if isinstance(reply, list) else ()


def believed(
    send: Callable[[list[Flow]], T], flows: Sequence[Flow], wrong: Callable[[T], Sequence[Any]] = wrong_beliefs
) -> T:
    """``send(flows)``, the parts in a workflow of the jobs whose outcomes it records as the caller
    believes them, and again with what Redis holds for as long as its script finds some not so (``wrong``
    of its reply: ``[position, actual, ...]``, empty when all hold): dependents were added to a job since its
    message was made, and the script changed nothing. Its reply."""
    flows = list(flows)
    while found := wrong(reply := send(flows)):
        _correct(flows, found)
    return reply


async def believed_async(
    send: Callable[[list[Flow]], Awaitable[T]],
    flows: Sequence[Flow],
    wrong: Callable[[T], Sequence[Any]] = wrong_beliefs,
) -> T:
    """``believed`` for asyncio: ``await send(flows)``, again while some are not so."""
    flows = list(flows)
    while found := wrong(reply := await send(flows)):
        _correct(flows, found)
    return reply


def _correct(flows: list[Flow], wrong: Sequence[Any]) -> None:
    for n in range(0, len(wrong), 2):
        flows[wrong[n] - 1] = with_actual(flows[wrong[n] - 1], wrong[n + 1])


# -- enqueueing a workflow -----------------------------------------------------------------------


class Step(NamedTuple):
    """One job of a workflow to enqueue: where, its message, when, and what it waits for."""

    keys: QueueKeys
    job_id: str
    message: bytes
    unique: bool  # its id is the caller's choice: refused while a job of that id is not finished
    at_ms: int | None
    delay_ms: int | None  # from when its parents are over, for a dependent
    parents: Sequence[int | tuple[QueueKeys, str]]  # an earlier step's index, or a job enqueued before
    allow_failure: bool
    feed: str  # how its parents' results come as its first argument: 'chain', 'chord' or ''
    result_ttl_ms: int


def workflow_script(steps: Sequence[Step], token: str, token_ttl_ms: int) -> Script:
    """``workflow-1+n.lua``: the keys and arguments that enqueue ``steps`` at once; its reply goes to
    ``read_workflow``."""
    groups: dict[QueueKeys, int] = {}
    for step in steps:
        groups.setdefault(step.keys, len(groups) + 1)
        for parent in step.parents:
            if not isinstance(parent, int):
                groups.setdefault(parent[0], len(groups) + 1)
    script_keys = keys_for("workflow", steps[0].keys, job_id=steps[0].job_id)
    for keys in groups:
        script_keys += [keys.pending, keys.state, keys.scheduled, keys.scheduled_messages, keys.marker, keys.flows]
    outside: dict[tuple[QueueKeys, str], int] = {}
    jobs = []
    for step in steps:
        script_keys.append(step.keys.result(step.job_id))
        if step.parents:
            script_keys += [step.keys.flow(step.job_id), step.keys.parents(step.job_id)]
        refs = []
        for parent in step.parents:
            if isinstance(parent, int):
                refs.append(parent + 1)
            else:
                refs.append(-outside.setdefault(parent, len(outside) + 1))
        jobs.append(
            {
                "g": groups[step.keys],
                "id": step.job_id,
                "tok": step.keys.token,
                "unique": int(step.unique),
                "at": -1 if step.at_ms is None else step.at_ms,
                "delay": -1 if step.delay_ms is None else step.delay_ms,
                "parents": refs,
                "allow": int(step.allow_failure),
                "feed": step.feed,
                "ttl": step.result_ttl_ms,
            }
        )
    script_keys += [keys.result(job_id) for keys, job_id in outside]
    ext = [{"g": groups[keys], "id": job_id, "tok": keys.token} for keys, job_id in outside]
    spec = json.dumps({"groups": len(groups), "jobs": jobs, "ext": ext}, separators=(",", ":"))
    return script_keys, [spec, token, token_ttl_ms, *(step.message for step in steps)]


def read_workflow(reply: list[bytes]) -> None:
    """Raises what a refused ``workflow_script`` means.

    Raises:
        JobIdInUse: a job id of the caller's choosing belongs to a job not finished.
        ConfigurationError: a parent is unknown (never enqueued, or everything about it expired).
    """
    if reply[0] == b"exists":
        raise JobIdInUse(f"job id {reply[1].decode()!r} belongs to a job not finished yet: choose another")
    if reply[0] == b"unknown":
        raise ConfigurationError(
            f"depends_on names job {reply[1].decode()!r}, which is neither waiting, pending, scheduled nor "
            "running, and has no outcome kept (never enqueued on that queue, or expired)"
        )


def check_one_slot(steps: Sequence[Step], cluster: bool) -> None:
    """On a Redis Cluster, refuse a workflow whose jobs do not all live in one slot: a script can only
    change the keys of one, and the outcome of each job must reach its dependents atomically.

    Raises:
        ConfigurationError: they live in several.
    """
    if not cluster:
        return
    slots = {step.keys for step in steps} | {p[0] for step in steps for p in step.parents if not isinstance(p, int)}
    if len(slots) > 1:
        names = ", ".join(sorted(keys.token for keys in slots))
        raise ConfigurationError(
            f"on a Redis Cluster the jobs of a workflow must live in one queue (one slot), not in {names}: "
            "use one unsharded queue for them"
        )


# -- what is kept ----------------------------------------------------------------------------------


class Links(NamedTuple):
    """A job's parents and dependents, and for one fed by its parents how many of them are over."""

    parents: list[tuple[str, str]]  # (queue token, job id), in order
    dependents: list[tuple[str, str]]
    parents_over: int


def links_commands(keys: QueueKeys, job_id: str) -> list[tuple[Any, ...]]:
    """One ``MULTI`` that reads what is kept of a job's parents and dependents; its replies go to ``read_links``."""
    return [
        ("HGET", keys.flow(job_id), "parents"),
        ("HLEN", keys.parents(job_id)),
        ("HGET", keys.flows, job_id),
        ("GET", keys.dependents(job_id)),
    ]


def _pairs(text: bytes | None) -> list[tuple[str, str]]:
    words = (text or b"").decode().split()
    return [(words[n], words[n + 1]) for n in range(0, len(words) - 1, 2)]


def read_links(replies: Sequence[Any]) -> Links:
    parents, over, waiting_for, told = replies
    return Links(_pairs(parents), _pairs(waiting_for or told), int(over))


def record_commands(keys: QueueKeys, job_id: str) -> list[tuple[Any, ...]]:
    """One ``MULTI`` that reads a dependent's record and its parents' outcomes, for its worker."""
    return [("HGETALL", keys.flow(job_id)), ("HGETALL", keys.parents(job_id))]


class Workflows:
    """Enqueueing a workflow and reading what is kept of one, for ``Broker``."""

    _scripts: Scripts
    cluster: bool

    if TYPE_CHECKING:

        def _call(self, command: Callable[[Client], T], *, own: bool = False, write: bool = False) -> T: ...

        def _through_outage(
            self, command: Callable[[Client], T], *, blocks_s: float = 0.0, write: bool = False
        ) -> T: ...

    def enqueue_workflow(self, steps: Sequence[Step]) -> None:
        """Enqueue the jobs of a workflow at once, in one script call (``workflow-1+n.lua``).

        Raises:
            ConfigurationError: a parent is unknown, or (on a cluster) the jobs live in several slots.
            JobIdInUse: a job id of the caller's choosing belongs to a job not finished.
        """
        check_one_slot(steps, self.cluster)
        script_keys, args = workflow_script(steps, os.urandom(8).hex(), TOKEN_TTL_MS)
        read_workflow(self._through_outage(lambda c: self._scripts.workflow(script_keys, args, client=c), write=True))

    def links(self, keys: QueueKeys, job_id: str) -> Links:
        """What is kept of a job's parents and dependents."""
        reads = links_commands(keys, job_id)
        return read_links(self._through_outage(lambda c: transaction(c, *reads)))

    def dependent_record(self, keys: QueueKeys, job_id: str) -> tuple[dict[bytes, bytes], dict[bytes, bytes]]:
        """A dependent's record and its parents' outcomes so far, for the worker about to run it."""
        record, parents = self._call(lambda c: transaction(c, *record_commands(keys, job_id)), own=True)
        return dict(pairs(record)), dict(pairs(parents))
