"""The one door to Redis: key names (``keys``), Lua scripts (``scripts`` and ``lua/``), connections,
the retry policy and error translation (``connection``), and the commands themselves (``broker``)."""

from .broker import Ack, Broker, Leases, Record
from .connection import Patience
from .keys import QueueKeys, check_name
from .urls import connect

__all__ = ["Ack", "Broker", "Leases", "Patience", "QueueKeys", "Record", "check_name", "connect"]
