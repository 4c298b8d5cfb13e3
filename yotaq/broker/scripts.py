"""The Lua scripts in ``lua/``, each read once, when first used, and registered once per Redis client; and
the keys each takes.

Every state change that touches more than one key is one of these scripts, so it is atomic.
A file is named ``<command>-<number of keys>.lua`` (``+n``: more keys, one or more for each job it
handles) and its header documents KEYS, ARGV and what it returns. Redis 6.2 has no includes, so
steps that several scripts share live in ``lua/include/<name>.lua`` and a script (or an include) names
each one it uses on a line ``--@include <name>``, replaced here by that file's text, once per script.
A header names each key as ``KEYS`` below does, and ``keys_for`` builds them from those names.
redis-py's ``Script`` runs ``EVALSHA`` and, on a Redis that does not know the script (after a restart,
a failover), loads it and runs it again: on a Redis Cluster that is an ``EVAL`` instead (see ``_Script``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError
from redis.typing import EncodableT, KeyT

from .keys import FleetKeys, QueueKeys

_LUA = Path(__file__).parent / "lua"
_INCLUDE = re.compile(r"^--@include (\w+)$", re.MULTILINE)


def _source(path: Path) -> str:
    """The script's text, each include it names (or one of those names, and so on) pasted in once, before
    the first text that names it."""
    pasted: set[str] = set()

    def paste(match: re.Match[str]) -> str:
        if match[1] in pasted:
            return ""
        pasted.add(match[1])
        return _INCLUDE.sub(paste, _include(match[1]))

    return _INCLUDE.sub(paste, path.read_text())


@functools.cache
def _include(name: str) -> str:
    return (_LUA / "include" / f"{name}.lua").read_text()


_PATHS = {path.stem.rsplit("-", 1)[0].replace("-", "_"): path for path in _LUA.glob("*.lua")}


class _Sources(dict[str, str]):
    """Each script's source by name, read (its includes expanded) when first asked for: a process loads
    only the scripts it runs (one that enqueues a task and runs it reads a handful of some 30)."""

    def __missing__(self, name: str) -> str:
        source = self[name] = _source(_PATHS[name])
        return source


SOURCES = _Sources()


def loaded() -> dict[str, str]:
    """The sources read so far, by name."""
    return dict(SOURCES)


# The keys every script takes first, in order: the ones its header lists as KEYS[1], KEYS[2], ..., by the
# same names. A name is a key of ``QueueKeys`` (of ``FleetKeys``: ``alive``, ``serves``); ``name(arg)`` is
# that method called with ``arg``, a word (``jobs_of(failed)``) or what ``keys_for`` is given as it
# (``worker=``, ``job_id=``, ``kind=``); ``list`` and ``zset`` are keys the caller chooses. The keys of
# each job a script handles, where it takes those, follow.
KEYS = {
    "ack": "active(worker) pending state deliveries stats holders waiting waiting_messages rates scheduled "
    "scheduled_messages series marker finished(done) finished(cancelled) finished_jobs flows",
    "activate": "state active(worker) pending holders waiting waiting_messages rates scheduled scheduled_messages "
    "deliveries marker",
    "cancel": "state scheduled scheduled_messages result(job_id) deliveries waiting waiting_messages pending "
    "finished(done) finished(cancelled) finished_jobs flows flow(job_id) parents(job_id)",
    "cancelled": "active(worker) state deliveries stats result(job_id) holders waiting waiting_messages pending "
    "finished(done) finished(cancelled) finished_jobs flows",
    "clock": "alive",
    "disable": "schedule_next schedule_disabled",
    "due": "schedule_next schedules",
    "enqueue": "pending scheduled scheduled_messages state result(job_id) jobs_of(failed) messages_of(failed) "
    "reasons_of(failed) jobs_of(dead) messages_of(dead) reasons_of(dead) enqueued(job_id) marker",
    "fail": "active(worker) state deliveries stats jobs_of(kind) messages_of(kind) reasons_of(kind) result(job_id) "
    "holders waiting waiting_messages pending flows",
    "find": "list",
    "forget": "alive serves",
    "give_back": "workers active(worker) pending state holders waiting waiting_messages",
    "info": "pending scheduled workers alive stats jobs_of(failed) jobs_of(dead)",
    "lapsed": "workers alive",
    "page": "zset",
    "promote": "scheduled scheduled_messages pending state schedule_next",
    "push": "pending state stats",
    "reap": "workers alive active(worker) pending state deliveries stats jobs_of(dead) messages_of(dead) "
    "reasons_of(dead) holders waiting waiting_messages flows",
    "records": "jobs_of(kind) reasons_of(kind)",
    "requeue": "jobs_of(kind) messages_of(kind) reasons_of(kind) pending state",
    "retry": "active(worker) scheduled scheduled_messages state stats holders waiting waiting_messages pending marker",
    "schedule": "schedules schedule_timings schedule_next schedule_disabled marker",
    "status": "state result(job_id) jobs_of(failed) reasons_of(failed) jobs_of(dead) reasons_of(dead)",
    "tick": "schedule_next pending state schedules schedule_last schedule_skipped",
    "trim": "jobs_of(failed) messages_of(failed) reasons_of(failed) jobs_of(dead) messages_of(dead) reasons_of(dead) "
    "rates",
    "unlease": "active(worker) pending state holders waiting waiting_messages",
    "workflow": "enqueued(job_id)",
}
_WORDS = {"failed", "dead", "done", "cancelled"}  # the arguments written as they are: the rest are given


def _parsed(name: str) -> tuple[str, str]:
    method, _, arg = name.partition("(")
    return method, arg.rstrip(")")


_NAMES = {script: [_parsed(name) for name in names.split()] for script, names in KEYS.items()}


def keys_for(script: str, keys: QueueKeys | None = None, fleet: FleetKeys | None = None, **given: str) -> list[str]:
    """The keys ``script`` takes first (``KEYS``): of the queue (or shard) ``keys`` and the ``fleet`` its
    workers are alive in, for the worker, job or kind ``given`` (``worker=``, ``job_id=``, ``kind=``)."""
    built = []
    for name, arg in _NAMES[script]:
        if arg:
            built.append(getattr(keys, name)(arg if arg in _WORDS else given[arg]))
        elif name in given:
            built.append(given[name])
        else:
            built.append(getattr(fleet if name in ("alive", "serves") else keys, name))
    return built


class _Script(Script):
    """redis-py's ``Script``, but on a Redis Cluster a script the node does not know runs as ``EVAL`` on
    the node of its keys (which keeps it for the next ``EVALSHA``): redis-py would ``SCRIPT LOAD`` it on
    every master, which fails while one is down, on every shard. Scripts are not replicated, so a
    replica that has just taken over knows none."""

    def __call__(
        self,
        keys: Sequence[KeyT] | None = None,
        args: Iterable[EncodableT] | None = None,
        client: redis.Redis | redis.RedisCluster | None = None,
    ) -> Any:
        client = self.registered_client if client is None else client
        if isinstance(client, redis.Redis):  # one server (or a pipeline of one): redis-py's way
            return super().__call__(keys, args, client)
        keys, args = list(keys or ()), list(args or ())
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return client.eval(cast(str, self.script), len(keys), *keys, *args)  # the sources are str


class _Lazy:
    """A script of ``Scripts``, registered (its source read) on first use: the attribute's name is the
    script's. Once made, it is the instance's own attribute, found before this."""

    def __set_name__(self, owner: type[Scripts], name: str) -> None:
        self._name = name

    def __get__(self, scripts: Scripts, owner: type[Scripts]) -> Script:
        script = scripts.__dict__[self._name] = _Script(scripts.client, SOURCES[self._name])
        return script


class Scripts:
    """The scripts, bound to one Redis client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    ack = _Lazy()
    activate = _Lazy()
    cancel = _Lazy()
    cancelled = _Lazy()
    clock = _Lazy()
    disable = _Lazy()
    due = _Lazy()
    enqueue = _Lazy()
    fail = _Lazy()
    find = _Lazy()
    forget = _Lazy()
    give_back = _Lazy()
    info = _Lazy()
    lapsed = _Lazy()
    page = _Lazy()
    promote = _Lazy()
    push = _Lazy()
    reap = _Lazy()
    records = _Lazy()
    requeue = _Lazy()
    retry = _Lazy()
    schedule = _Lazy()
    status = _Lazy()
    tick = _Lazy()
    trim = _Lazy()
    unlease = _Lazy()
    workflow = _Lazy()
