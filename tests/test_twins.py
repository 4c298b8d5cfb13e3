"""The blocking producer and its asyncio twin stay twins: ``AsyncQueue`` has every public name of ``Queue``
with the same parameters and the same results (awaited), and so do ``AsyncJob`` and ``Job``,
``AsyncWithOptions`` and ``WithOptions``, ``AsyncTaskFunction`` and ``TaskFunction``. Nothing here talks
to Redis: a method added to one side only, or a parameter or result that differs, fails here first.
(``tests/test_aio.py`` checks what each async method does, against a real Redis.)
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
import redis
import redis.asyncio

import yotaq

TWINS = [
    (yotaq.Queue, yotaq.AsyncQueue),
    (yotaq.Job, yotaq.AsyncJob),
    (yotaq.WithOptions, yotaq.AsyncWithOptions),
    (yotaq.TaskFunction, yotaq.AsyncTaskFunction),
    (yotaq.Group, yotaq.AsyncGroup),
]

# The one name that differs: asyncio's convention (redis.asyncio's, contextlib's) for a close that is awaited.
RENAMED = {"close": "aclose"}

# The async side's methods that return at once, sending Redis nothing, as their blocking twins do:
# every other public method of an async twin is a coroutine function.
NOT_AWAITED = {"from_url", "options", "job", "task", "periodic", "call"}

# Registering a periodic schedule writes to Redis, so the async side's register is awaited: it is
# ``await aq.periodic(...)(fn)``, not an ``@`` decorator. Nothing else returns otherwise than its twin.
AWAITED_RESULTS = {"periodic": ("Callable[[F], F]", "Callable[[F], Awaitable[F]]")}

# In annotations, what the blocking side names and the async side names instead.
_ASYNC_NAMES = {name: f"Async{name}" for name in ("Queue", "Job", "WithOptions", "TaskFunction", "Client", "Group")}
_NAME = re.compile(r"\b(" + "|".join(_ASYNC_NAMES) + r")\b")


def as_async(annotation: Any) -> Any:
    """A blocking method's annotation as its async twin spells it (annotations are strings here)."""
    if not isinstance(annotation, str):
        return annotation
    return _NAME.sub(lambda match: _ASYNC_NAMES[match[1]], annotation)


def public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def instances() -> list[tuple[Any, Any]]:
    """One of each twin, made without a connection (neither client connects until its first command)."""
    sync_client, async_client = redis.Redis(), redis.asyncio.Redis()
    queue, aq = yotaq.Queue(sync_client, "twins"), yotaq.AsyncQueue(async_client, "twins")
    return [
        (queue, aq),
        (queue.job("some-job"), aq.job("some-job")),
        (queue.options(retries=1), aq.options(retries=1)),
        (queue.task(retries=1)(divmod), aq.task(retries=1)(divmod)),
        (yotaq.Group([queue.job("some-job")]), yotaq.AsyncGroup([aq.job("some-job")])),
    ]


@pytest.mark.parametrize("blocking, asynchronous", TWINS, ids=lambda cls: cls.__name__)
def test_the_async_twin_has_every_public_name_and_no_other(blocking: type, asynchronous: type) -> None:
    expected = {RENAMED.get(name, name) for name in public(blocking)}
    assert public(asynchronous) == expected


def test_the_instances_have_the_same_public_attributes() -> None:
    for blocking, asynchronous in instances():
        names = {name for name in vars(blocking) if not name.startswith("_")}
        assert names == {name for name in vars(asynchronous) if not name.startswith("_")}, type(blocking)


@pytest.mark.parametrize(
    "blocking, asynchronous, name",
    [(blocking, asynchronous, name) for blocking, asynchronous in TWINS for name in sorted(public(blocking))],
    ids=lambda value: value if isinstance(value, str) else value.__name__,
)
def test_each_twin_method_takes_the_same_arguments_and_gives_the_same_result(
    blocking: type, asynchronous: type, name: str
) -> None:
    sync_member = inspect.getattr_static(blocking, name)
    async_member = inspect.getattr_static(asynchronous, RENAMED.get(name, name))

    if isinstance(sync_member, property):
        # A property that reads Redis is, awaited, a method without arguments (``await job.status()``).
        assert sync_member.fget is not None
        assert inspect.iscoroutinefunction(async_member), f"{asynchronous.__name__}.{name} must be awaited"
        assert list(inspect.signature(async_member).parameters) == ["self"]
        assert inspect.signature(async_member).return_annotation == as_async(
            inspect.signature(sync_member.fget).return_annotation
        )
        return

    assert type(sync_member) is type(async_member)  # a classmethod stays one, a plain function too
    sync_fn, async_fn = getattr(blocking, name), getattr(asynchronous, RENAMED.get(name, name))
    assert inspect.iscoroutinefunction(async_fn) is (RENAMED.get(name, name) not in NOT_AWAITED)
    assert not inspect.iscoroutinefunction(sync_fn)

    sync_signature, async_signature = inspect.signature(sync_fn), inspect.signature(async_fn)
    expected = [
        parameter.replace(annotation=as_async(parameter.annotation)) for parameter in sync_signature.parameters.values()
    ]
    assert list(async_signature.parameters.values()) == expected
    returns = as_async(sync_signature.return_annotation)
    if name in AWAITED_RESULTS:
        assert (returns, async_signature.return_annotation) == AWAITED_RESULTS[name]
    else:
        assert async_signature.return_annotation == returns


def test_the_allow_lists_name_only_what_exists() -> None:
    # An entry left over from a method since removed or renamed would let a real drift through.
    assert all(name in public(yotaq.Queue) for name in RENAMED)
    every_async_name = set().union(*(public(asynchronous) for _, asynchronous in TWINS))
    assert NOT_AWAITED | AWAITED_RESULTS.keys() <= every_async_name
