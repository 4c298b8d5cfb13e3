"""The Lua scripts in ``lua/``, each read once and registered once per Redis client.

Every state change that touches more than one key is one of these scripts, so it is atomic.
A file is named ``<command>-<number of keys>.lua`` and its header documents KEYS and ARGV.
(``ack-4+2n``, ``reap-8+2n`` and ``requeue-3+2n`` take two more keys for each of the n jobs they handle.)
redis-py's ``Script`` runs ``EVALSHA`` and falls back to ``EVAL`` once after a Redis restart.
"""

from __future__ import annotations

from pathlib import Path

import redis
from redis.commands.core import Script

_LUA = {path.stem.rsplit("-", 1)[0]: path.read_text() for path in (Path(__file__).parent / "lua").glob("*.lua")}


class Scripts:
    """The scripts, bound to one Redis client."""

    def __init__(self, client: redis.Redis) -> None:
        self.ack: Script = client.register_script(_LUA["ack"])
        self.bury: Script = client.register_script(_LUA["bury"])
        self.enqueue: Script = client.register_script(_LUA["enqueue"])
        self.heartbeat: Script = client.register_script(_LUA["heartbeat"])
        self.promote: Script = client.register_script(_LUA["promote"])
        self.reap: Script = client.register_script(_LUA["reap"])
        self.release: Script = client.register_script(_LUA["release"])
        self.requeue: Script = client.register_script(_LUA["requeue"])
        self.retry: Script = client.register_script(_LUA["retry"])
        self.unlease: Script = client.register_script(_LUA["unlease"])
