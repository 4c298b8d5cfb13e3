"""The one door to Redis: key names (``keys``), Lua scripts (``scripts`` and ``lua/``), connections,
the retry policy and error translation (``connection``), URLs (``urls``), and the commands themselves:
``broker`` (with ``leases``, ``upkeep``, ``control``, ``reads`` and ``flows`` mixed in), ``commands``
and its asyncio twin ``aio``."""

from .broker import Broker
from .commands import Record
from .connection import OutageRetry
from .keys import FleetKeys, QueueKeys, check_name
from .leases import Ack, Leases
from .urls import connect

__all__ = ["Ack", "Broker", "FleetKeys", "Leases", "OutageRetry", "QueueKeys", "Record", "check_name", "connect"]
