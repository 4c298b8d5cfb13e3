"""Workflows: ``Call`` (a task described, not enqueued), chains, groups, chords and ``depends_on``.

A workflow is planned here as ``Node``s (a call, its parents, how their results feed it) and turned into
the ``Step``s that ``workflow-1+n.lua`` enqueues at once; on an eager queue they run at once, in this
process, in order. Everything after the enqueue happens in Redis and on the workers
(``broker/lua/include/flows.lua``, ``worker/depends.py``); ``docs/guide/workflows.md`` tells the story.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

from .broker import QueueKeys
from .broker.flows import Links, Step
from .exceptions import ConfigurationError, JobIdInUse
from .job import Job, JobHandle, Options, new_job_id
from .producing import ENQUEUE_DEFAULTS, EnqueueOptions, Producer
from .worker.depends import ParentFailed, fed_args

if TYPE_CHECKING:
    from .aio import AsyncJob, AsyncQueue
    from .queue import Queue

Parent = int | JobHandle[Any] | str  # an earlier node's index, a job enqueued before, or its id
H = TypeVar("H", bound=JobHandle[Any])


@dataclass(frozen=True)
class Call:
    """A task described but not enqueued: ``queue.call(fn, *args, **kwargs)``, with options from
    ``queue.options(...).call(...)``: a step of ``queue.chain``, a member of ``queue.group`` or
    ``queue.chord``, or a chord's callback."""

    producer: Producer = field(repr=False)
    fn: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    options: Options = field(repr=False)
    enqueue_options: EnqueueOptions = field(default=ENQUEUE_DEFAULTS, repr=False)


class Node(NamedTuple):
    call: Call
    parents: list[Parent]
    feed: str  # how the parents' results come first: 'chain' (the one), 'chord' (the list) or ''


def calls_of(calls: Iterable[Any], what: str) -> list[Call]:
    """``calls`` as a list, each a ``Call``, at least one.

    Raises:
        ConfigurationError: something else, or none.
    """
    if isinstance(calls, Call) or not isinstance(calls, Iterable):
        raise ConfigurationError(f"{what} takes a list of calls (queue.call(...)), not {calls!r}")
    listed = list(calls)
    for call in listed:
        if not isinstance(call, Call):
            raise ConfigurationError(f"{what} takes calls made by queue.call(...), not {call!r}")
    if not listed:
        raise ConfigurationError(f"{what} needs at least one call")
    return listed


def chain_nodes(calls: Iterable[Any]) -> list[Node]:
    steps = calls_of(calls, "a chain")
    return [
        Node(call, [*([k - 1] if k else []), *call.enqueue_options.depends_on], "chain" if k else "")
        for k, call in enumerate(steps)
    ]


def group_nodes(calls: Iterable[Any]) -> list[Node]:
    return [Node(call, list(call.enqueue_options.depends_on), "") for call in calls_of(calls, "a group")]


def chord_nodes(calls: Iterable[Any], callback: Any) -> list[Node]:
    members = [Node(call, list(call.enqueue_options.depends_on), "") for call in calls_of(calls, "a chord")]
    if not isinstance(callback, Call):
        raise ConfigurationError(f"a chord's callback is a call made by queue.call(...), not {callback!r}")
    return [*members, Node(callback, [*range(len(members)), *callback.enqueue_options.depends_on], "chord")]


class Planned(NamedTuple):
    steps: list[Step]
    nodes: list[Node]
    parents: list[list[Parent]]  # each node's, a parent of this workflow named by id made its index
    order: list[int]  # the nodes, each after its parents


def plan(producer: Producer, nodes: list[Node]) -> Planned:
    """The steps that enqueue ``nodes``: their ids chosen, their messages made.

    Raises:
        ConfigurationError: a job id given twice, a cycle in ``depends_on``, or a call of a queue
            on another client.
        SerializationError: a function or an argument cannot travel.
    """
    for node in nodes:
        if getattr(node.call.producer, "redis", None) is not getattr(producer, "redis", None):
            raise ConfigurationError("every call of a workflow must come from a queue on the same client")
    ids = _ids(nodes)
    parents, order = _checked(nodes, ids)
    keys = [node.call.producer._shard(job_id) for node, job_id in zip(nodes, ids, strict=True)]
    dependents: list[list[str]] = [[] for _ in nodes]
    for n, node_parents in enumerate(parents):
        for parent in node_parents:
            if isinstance(parent, int):
                dependents[parent] += [keys[n].token, ids[n]]
    steps = []
    for n, node in enumerate(nodes):
        call, enqueue_options = node.call, node.call.enqueue_options
        at = EnqueueOptions(enqueue_options.delay_ms, enqueue_options.at_ms, ids[n])
        flow = (bool(parents[n]), " ".join(dependents[n]))
        _, message = call.producer._message(call.fn, call.args, call.kwargs, call.options, at, flow)
        step_parents = [p if isinstance(p, int) else _located(p, keys[n]) for p in parents[n]]
        steps.append(
            Step(
                keys[n],
                ids[n],
                message,
                enqueue_options.job_id is not None,
                enqueue_options.at_ms,
                enqueue_options.delay_ms,
                step_parents,
                enqueue_options.allow_failure,
                node.feed if parents[n] else "",
                call.options.result_ttl_ms,
            )
        )
    return Planned(steps, nodes, parents, order)


def _located(parent: JobHandle[Any] | str, keys: QueueKeys) -> tuple[QueueKeys, str]:
    """A parent enqueued before: a job's keys and id, or an id of a job on ``keys``'s queue and shard."""
    if isinstance(parent, JobHandle):
        return parent._keys, parent.id
    return keys, parent


def _checked(nodes: list[Node], ids: list[str]) -> tuple[list[list[Parent]], list[int]]:
    """Each node's parents, a ``depends_on`` that names a node of the workflow by its id made an edge to
    it, and the nodes in an order that has every parent before its dependents.

    Raises:
        ConfigurationError: a job id given twice, or a cycle.
    """
    where: dict[str, int] = {}
    for n, job_id in enumerate(ids):
        if job_id in where:
            raise ConfigurationError(f"job id {job_id!r} is given to two jobs of one workflow")
        where[job_id] = n
    parents = [[where.get(p, p) if isinstance(p, str) else p for p in node.parents] for node in nodes]
    order: list[int] = []

    def visit(n: int, path: list[int]) -> None:
        if n in path:
            cycle = " -> ".join(ids[m] for m in [*path[path.index(n) :], n])
            raise ConfigurationError(f"a cycle in depends_on: {cycle}")
        if n not in order:
            for parent in parents[n]:
                if isinstance(parent, int):
                    visit(parent, [*path, n])
            order.append(n)

    for n in range(len(nodes)):
        visit(n, [])
    return parents, order


def _ids(nodes: list[Node]) -> list[str]:
    """Each node's job id: its own choice, else a new one; on a sharded queue, new ones go in the shard
    of the workflow's first chosen id or parent (else of its first job), so that on a Redis Cluster the
    workflow shares a slot."""
    anchor: tuple[Producer, str] = (nodes[0].call.producer, new_job_id())
    for node in nodes:
        named = [p if isinstance(p, str) else p.id for p in node.parents if not isinstance(p, int)]
        chosen = node.call.enqueue_options.job_id or next(iter(named), None)
        if chosen is not None:
            anchor = (node.call.producer, chosen)
            break
    ids = []
    for node in nodes:
        job_id = node.call.enqueue_options.job_id or new_job_id()
        if node.call.enqueue_options.job_id is None and anchor[0] is node.call.producer:
            while len(anchor[0].shards) > 1 and anchor[0]._shard(job_id) != anchor[0]._shard(anchor[1]):
                job_id = new_job_id()
        ids.append(job_id)
    return ids


# -- eager ---------------------------------------------------------------------------------------


def eager_message(planned: Planned, n: int, ran: dict[str, tuple[str, bytes]], secret: bytes | None) -> bytes | str:
    """The message of node ``n`` on an eager queue, its parents having run (``ran``: a job id to its
    queue and outcome envelope), with their results fed in; or why it is cancelled instead.

    Raises:
        ConfigurationError: a parent this process did not run (an eager queue keeps nothing else).
    """
    step, call = planned.steps[n], planned.nodes[n].call
    parents = []
    for parent in planned.parents[n]:
        if isinstance(parent, int):
            parents.append((planned.steps[parent].job_id, *ran[planned.steps[parent].job_id]))
        elif isinstance(parent, JobHandle) and parent._eager_result is not None:
            parents.append((parent.id, parent.queue, parent._eager_result))
        else:
            raise ConfigurationError(f"on an eager queue, depends_on takes the jobs it ran, not {parent!r}")
    try:
        args = fed_args(call.args, parents, step.allow_failure, step.feed, secret)
    except ParentFailed as failed:
        return str(failed)
    at = EnqueueOptions(job_id=step.job_id)
    return call.producer._message(call.fn, args, call.kwargs, call.options, at)[1]


def eagerly(planned: Planned, run: Callable[[int, bytes | str], H]) -> list[H]:
    """The jobs of a workflow on an eager queue, each run (``run(n, message)``) or cancelled (``run(n,
    reason)``) as its parents' outcomes say, parents first; in node order."""
    ran: dict[str, tuple[str, bytes]] = {}
    jobs: dict[int, H] = {}
    for n in planned.order:
        step = planned.steps[n]
        jobs[n] = run(n, eager_message(planned, n, ran, planned.nodes[n].call.producer._secret))
        ran[step.job_id] = (step.keys.queue, jobs[n]._eager_result or b"")
    return [jobs[n] for n in range(len(planned.steps))]


async def eagerly_async(planned: Planned, run: Callable[[int, bytes | str], Awaitable[H]]) -> list[H]:
    """``eagerly``, each run awaited."""
    ran: dict[str, tuple[str, bytes]] = {}
    jobs: dict[int, H] = {}
    for n in planned.order:
        step = planned.steps[n]
        jobs[n] = await run(n, eager_message(planned, n, ran, planned.nodes[n].call.producer._secret))
        ran[step.job_id] = (step.keys.queue, jobs[n]._eager_result or b"")
    return [jobs[n] for n in range(len(planned.steps))]


def enqueue_nodes(queue: Queue, nodes: list[Node]) -> list[Job[Any]]:
    """``Queue``'s workflows: enqueue ``nodes`` at once (or run them, on an eager queue); their jobs."""
    planned = plan(queue, nodes)
    producers = cast(list["Queue"], list({id(node.call.producer): node.call.producer for node in nodes}.values()))
    if queue.eager:

        def run(n: int, message: bytes | str) -> Job[Any]:
            step, owner = planned.steps[n], cast("Queue", planned.nodes[n].call.producer)
            if isinstance(message, bytes):
                return owner._run_eagerly(step.job_id, message)
            envelope = owner._eager_envelope(step.job_id, ("cancelled", message))
            return Job(queue.broker, step.keys, step.job_id, owner._secret, eager_result=envelope)

        return eagerly(planned, run)
    for producer in producers:
        producer._keys_of("")  # Redis agrees on its shards
    try:
        queue.broker.enqueue_workflow(planned.steps)
    except JobIdInUse:
        if len(nodes) > 1:
            raise  # (one job of a chosen id already there is that job, as for a plain enqueue)
    return [
        Job(queue.broker, step.keys, step.job_id, node.call.producer._secret, result_ttl_ms=step.result_ttl_ms)
        for step, node in zip(planned.steps, nodes, strict=True)
    ]


async def enqueue_nodes_async(queue: AsyncQueue, nodes: list[Node]) -> list[AsyncJob[Any]]:
    """``enqueue_nodes``, for ``AsyncQueue``."""
    from .aio import AsyncJob

    planned = plan(queue, nodes)
    producers = cast(list["AsyncQueue"], list({id(node.call.producer): node.call.producer for node in nodes}.values()))
    if queue.eager:

        async def run(n: int, message: bytes | str) -> AsyncJob[Any]:
            step, owner = planned.steps[n], cast("AsyncQueue", planned.nodes[n].call.producer)
            if isinstance(message, bytes):
                return await owner._run_eagerly(step.job_id, message)
            envelope = owner._eager_envelope(step.job_id, ("cancelled", message))
            return AsyncJob(queue.broker, step.keys, step.job_id, owner._secret, eager_result=envelope)

        return await eagerly_async(planned, run)
    for producer in producers:
        await producer._keys_of("")  # Redis agrees on its shards
    try:
        await queue.broker.enqueue_workflow(planned.steps)
    except JobIdInUse:
        if len(nodes) > 1:
            raise
    return [
        AsyncJob(queue.broker, step.keys, step.job_id, node.call.producer._secret, result_ttl_ms=step.result_ttl_ms)
        for step, node in zip(planned.steps, nodes, strict=True)
    ]


def links_of(queue: Queue, job_id: str) -> Links:
    """What is kept of a job's parents and dependents (its page, ``yotaq job ID``), as queue and id pairs."""
    links = queue.broker.links(queue._shard(job_id), job_id)
    return links._replace(
        parents=[(QueueKeys.parse(token).queue, parent) for token, parent in links.parents],
        dependents=[(QueueKeys.parse(token).queue, dependent) for token, dependent in links.dependents],
    )
