"""The Lua scripts in ``lua/``, each read once and registered once per Redis client.

Every state change that touches more than one key is one of these scripts, so it is atomic.
A file is named ``<command>-<number of keys>.lua`` (``+n``: one more key for each of the n jobs it
handles) and its header documents KEYS, ARGV and what it returns. Redis 6.2 has no includes, so
steps that several scripts share live in ``lua/include/<name>.lua`` and a script names each one
it uses on a line ``--@include <name>``, replaced here by that file's text.
redis-py's ``Script`` runs ``EVALSHA`` and falls back to ``EVAL`` once after a Redis restart.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from redis.commands.core import Script

_LUA = Path(__file__).parent / "lua"
_INCLUDE = re.compile(r"^--@include (\w+)$", re.MULTILINE)


def _source(path: Path) -> str:
    return _INCLUDE.sub(lambda match: (_LUA / "include" / f"{match[1]}.lua").read_text(), path.read_text())


SOURCES = {path.stem.rsplit("-", 1)[0]: _source(path) for path in sorted(_LUA.glob("*.lua"))}


class Scripts:
    """The scripts, bound to one Redis client."""

    def __init__(self, client: Any) -> None:
        self.ack: Script = client.register_script(SOURCES["ack"])
        self.activate: Script = client.register_script(SOURCES["activate"])
        self.cancel: Script = client.register_script(SOURCES["cancel"])
        self.cancelled: Script = client.register_script(SOURCES["cancelled"])
        self.bury: Script = client.register_script(SOURCES["bury"])
        self.disable: Script = client.register_script(SOURCES["disable"])
        self.due: Script = client.register_script(SOURCES["due"])
        self.enqueue: Script = client.register_script(SOURCES["enqueue"])
        self.heartbeat: Script = client.register_script(SOURCES["heartbeat"])
        self.info: Script = client.register_script(SOURCES["info"])
        self.records: Script = client.register_script(SOURCES["records"])
        self.promote: Script = client.register_script(SOURCES["promote"])
        self.push: Script = client.register_script(SOURCES["push"])
        self.reap: Script = client.register_script(SOURCES["reap"])
        self.release: Script = client.register_script(SOURCES["release"])
        self.requeue: Script = client.register_script(SOURCES["requeue"])
        self.retry: Script = client.register_script(SOURCES["retry"])
        self.schedule: Script = client.register_script(SOURCES["schedule"])
        self.tick: Script = client.register_script(SOURCES["tick"])
        self.status: Script = client.register_script(SOURCES["status"])
        self.trim: Script = client.register_script(SOURCES["trim"])
        self.unlease: Script = client.register_script(SOURCES["unlease"])
