"""The Lua scripts in ``lua/``, each read once and registered once per Redis client.

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


SOURCES = {path.stem.rsplit("-", 1)[0]: _source(path) for path in sorted(_LUA.glob("*.lua"))}


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


class Scripts:
    """The scripts, bound to one Redis client."""

    def __init__(self, client: Any) -> None:
        self.ack: Script = _Script(client, SOURCES["ack"])
        self.activate: Script = _Script(client, SOURCES["activate"])
        self.fail: Script = _Script(client, SOURCES["fail"])
        self.cancel: Script = _Script(client, SOURCES["cancel"])
        self.cancelled: Script = _Script(client, SOURCES["cancelled"])
        self.disable: Script = _Script(client, SOURCES["disable"])
        self.due: Script = _Script(client, SOURCES["due"])
        self.enqueue: Script = _Script(client, SOURCES["enqueue"])
        self.find: Script = _Script(client, SOURCES["find"])
        self.forget: Script = _Script(client, SOURCES["forget"])
        self.clock: Script = _Script(client, SOURCES["clock"])
        self.info: Script = _Script(client, SOURCES["info"])
        self.lapsed: Script = _Script(client, SOURCES["lapsed"])
        self.page: Script = _Script(client, SOURCES["page"])
        self.promote: Script = _Script(client, SOURCES["promote"])
        self.push: Script = _Script(client, SOURCES["push"])
        self.reap: Script = _Script(client, SOURCES["reap"])
        self.records: Script = _Script(client, SOURCES["records"])
        self.release: Script = _Script(client, SOURCES["release"])
        self.requeue: Script = _Script(client, SOURCES["requeue"])
        self.retry: Script = _Script(client, SOURCES["retry"])
        self.schedule: Script = _Script(client, SOURCES["schedule"])
        self.status: Script = _Script(client, SOURCES["status"])
        self.tick: Script = _Script(client, SOURCES["tick"])
        self.trim: Script = _Script(client, SOURCES["trim"])
        self.unlease: Script = _Script(client, SOURCES["unlease"])
        self.workflow: Script = _Script(client, SOURCES["workflow"])
