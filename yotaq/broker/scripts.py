"""The Lua scripts in ``lua/``, each read once, when first used, and registered once per Redis client.

Every state change that touches more than one key is one of these scripts, so it is atomic.
A file is named ``<command>-<number of keys>.lua`` (``+n``: one more key for each of the n jobs it
handles) and its header documents KEYS, ARGV and what it returns. Redis 6.2 has no includes, so
steps that several scripts share live in ``lua/include/<name>.lua`` and a script names each one
it uses on a line ``--@include <name>``, replaced here by that file's text.
redis-py's ``Script`` runs ``EVALSHA`` and, on a Redis that does not know the script (after a restart,
a failover), loads it and runs it again: on a Redis Cluster that is an ``EVAL`` instead (see ``_Script``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError
from redis.typing import EncodableT, KeyT

_LUA = Path(__file__).parent / "lua"
_INCLUDE = re.compile(r"^--@include (\w+)$", re.MULTILINE)


def _source(path: Path) -> str:
    return _INCLUDE.sub(lambda match: (_LUA / "include" / f"{match[1]}.lua").read_text(), path.read_text())


_PATHS = {path.stem.rsplit("-", 1)[0]: path for path in _LUA.glob("*.lua")}


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
    info = _Lazy()
    lapsed = _Lazy()
    page = _Lazy()
    promote = _Lazy()
    push = _Lazy()
    reap = _Lazy()
    records = _Lazy()
    release = _Lazy()
    requeue = _Lazy()
    retry = _Lazy()
    schedule = _Lazy()
    status = _Lazy()
    tick = _Lazy()
    trim = _Lazy()
    unlease = _Lazy()
    workflow = _Lazy()
