"""Waiting for many lists to hold something, in one blocking read (``ListWatch``): the result lists of
``yotaq.Executor``'s futures, and the pending lists of a worker's queues (``worker.watch.QueueWatcher``).

Redis blocks on the lists of one slot only, and ``BLMPOP`` over several pops what it returns. ``Job.result``
waits in Redis on its job's one result list (``BLMOVE``): one blocking call per job, so an executor with a
thousand futures would need a thousand connections, or a poll of each in turn; a worker of ten queues, a
wait on each queue (``BLMOVE q q``, taking nothing), begun again every 30 s. Instead both use Redis's
client-side caching (``CLIENT TRACKING``, Redis 6.0+): a connection with tracking on that reads a key is
told when that key next changes, here on a second connection subscribed to ``__redis__:invalidate``
(``REDIRECT``). So a watch reads each list once (``LINDEX``; an element already there is found then), and
its one listening connection waits without a command for as long as nothing happens; when a worker
stores a result, or a producer pushes a message, Redis names the list to the listener, which reads it once
more. Per list: one read when watched (pipelined for many at once) and one when it changes; while they
all wait, nothing (a ``PING`` on the listener every ``KEEPALIVE_S``, so a connection gone dead is noticed),
whatever the number of lists. Measured with 100 futures waiting: 0 commands/s, against 20/s for 100
threads in ``Job.result`` (one ``BLMOVE`` per future per 5 s, and a connection each: redis-py's default
pool holds 100).

Why not the others: ``BLMPOP``/``BZMPOP`` pop what they return, so a result would be gone for
``Job.result``, ``status`` and the dashboard, and a message lost if this process died before putting it
back. A list that the scripts recording an outcome push to would add a key to each of five scripts (ack,
fail, reap, cancel, cancelled) and a write per job to the worker's path, and a marker per queue a command
to each enqueue; tracking costs the producers and workers nothing and stores nothing, so nothing has to
expire.

On a Redis Cluster each node holding watched lists gets its own pair of connections and thread: the lists
of one queue (shard) are in one slot, so on one node. A tracking table that Redis trims
(``tracking-table-max-keys``) or a flush tells the listener too; the lists named are then read again,
which costs a read and loses nothing (a table too small for them all, where each read evicts another, is
read less often: see ``_Node._heard``). After a connection drops, both are made again and every list
watched there read again: an element pushed meanwhile is found then. The reader's end (a ``CLIENT KILL``,
Redis's ``timeout``) tells the listener nothing: it is found by its keepalive, ``KEEPALIVE_S`` at most.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, cast

import redis
from redis.cluster import RedisCluster

from .connection import FIRST_PAUSE_S, MAX_PAUSE_S, Client, packed
from .keys import INVALIDATIONS, watch_channel

logger = logging.getLogger(__name__)

KEEPALIVE_S = 30.0  # a listener that heard nothing this long PINGs, and looks at its reader: are both connected?
_FAILURES = (redis.RedisError, OSError)
CHURN_S = 0.05  # news of a change this soon after a read, that finds nothing, may be Redis evicting what it read
# The longest such news then waits before its read: it may also be other workers taking each message first,
# and this one, idle, joins them that much later when messages are left
CHURN_WAIT_S = 1.0


Thread = Callable[[Callable[[], None], str], threading.Thread]  # makes a (daemon) thread: (target, name)


def _daemon(target: Callable[[], None], name: str) -> threading.Thread:
    return threading.Thread(target=target, name=name, daemon=True)


class ListWatch:
    """Watches lists and calls ``on_element(key, element)`` once for each when it holds something (its
    first element): in ``watch``'s caller for one that holds something already, else in a listening thread
    of this watch's, made by ``thread``. ``close()`` stops it.

    A list is watched until it held something or it is ``forget``-ten. A result list whose result expired
    unread stays watched: the job's result is gone for ``Job.result`` too.
    """

    def __init__(self, client: Client, on_element: Callable[[str, bytes], None], thread: Thread | None = None) -> None:
        self._client = client
        self._on_element = on_element
        self._thread = thread or _daemon
        self._channel = watch_channel(os.urandom(8).hex())
        self._nodes: dict[str, _Node] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def watch(self, keys: Iterable[str]) -> None:
        """Watch these lists: one read for all of them (per node). Never raises for an outage: the lists
        are read again once Redis answers."""
        by_node: dict[_Node, list[str]] = {}
        for key in keys:
            by_node.setdefault(self._node_of(key), []).append(key)
        for node, node_keys in by_node.items():
            node.watch(node_keys)

    def forget(self, key: str) -> None:
        """Stop watching a list: what comes to it is not read."""
        for node in list(self._nodes.values()):
            node.forget(key)

    def close(self, timeout: float | None = None) -> None:
        """Stop every listening thread, waiting for each (but the caller's own) ``timeout`` seconds in all
        at most, and give the connections back."""
        self._closed.set()
        nodes = list(self._nodes.values())
        if not nodes:
            return
        # One command wakes every listener; with Redis down, each wakes from its pause and sees it closed.
        with contextlib.suppress(*_FAILURES):
            self._client.publish(self._channel, b"")
        joined_by = None if timeout is None else time.monotonic() + timeout
        for node in nodes:
            node.join(None if joined_by is None else max(joined_by - time.monotonic(), 0.0))

    def _node_of(self, key: str) -> _Node:
        if isinstance(self._client, RedisCluster):
            cluster_node: Any = self._client.get_node_from_key(key)  # type: ignore[no-untyped-call]
            name, pool = cluster_node.name, cluster_node.redis_connection.connection_pool
        else:
            name, pool = "", self._client.connection_pool
        with self._lock:
            node = self._nodes.get(name)
            if node is None:
                node = self._nodes[name] = _Node(pool, self._channel, self._on_element, self._closed, self._thread)
            return node


class _Node:
    """The watch on one Redis server: a reader with tracking on, a listener told of the lists it read
    that changed, and the thread that listens."""

    def __init__(
        self,
        pool: redis.ConnectionPool,
        channel: str,
        on_element: Callable[[str, bytes], None],
        closed: threading.Event,
        thread: Thread,
    ) -> None:
        self._pool = pool
        self._channel = channel.encode()
        self._on_element = on_element
        self._closed = closed
        self._watched: set[str] = set()
        self._lock = threading.Lock()  # the reader and _watched: watch() runs in any thread
        self._reader: Any = None  # both taken from the pool by the listening thread, as it connects
        self._listener: Any = None
        self._tracking = False  # whether the reader's reads are tracked now (both connections up)
        self._listener_id: Any = None  # the listener's connection id, where the reader's changes are told
        self._read_at = 0.0  # when the reader last read lists (time.monotonic())
        self._backoff = 0.0  # how long news of a change right after a read waits before its read (see _heard)
        self._thread = thread(self._listen, "yotaq-list-watch")
        self._thread.start()

    def watch(self, keys: list[str]) -> None:
        """Watch these lists, reading those not watched already (Redis tells of a change to the others)."""
        with self._lock:
            new = [key for key in keys if key not in self._watched]
            self._watched.update(new)
            found = self._read(new) if self._tracking and new else {}
        self._deliver(found)

    def forget(self, key: str) -> None:
        with self._lock:
            self._watched.discard(key)

    def join(self, timeout: float | None) -> None:
        if self._thread is not threading.current_thread():  # closed by a callback of its own thread
            self._thread.join(timeout)

    def _listen(self) -> None:
        try:
            self._listen_until_closed()
        finally:
            with self._lock:
                self._tracking = False
                for connection in (self._reader, self._listener):
                    if connection is not None:
                        connection.disconnect()
                        self._pool.release(connection)

    def _listen_until_closed(self) -> None:
        pause = FIRST_PAUSE_S
        while not self._closed.is_set():
            try:
                if not self._tracking:
                    self._connect()
                    pause = FIRST_PAUSE_S
                    if self._closed.is_set():  # closed before the subscription: its wake-up went unheard
                        break
                if not self._listener.can_read(timeout=KEEPALIVE_S):
                    self._listener.send_command("PING", check_health=False)
                    self._keep_reader()
                    continue
                self._heard(self._messages())
            except _FAILURES as exc:
                with self._lock:
                    self._tracking = False
                    for connection in (self._reader, self._listener):
                        if connection is not None:
                            connection.disconnect()
                if not self._closed.is_set():
                    logger.warning("watching lists: %s; connecting again in %.2f s", exc, pause)
                self._closed.wait(pause)
                pause = min(pause * 2, MAX_PAUSE_S)

    def _connect(self) -> None:
        """Subscribe the listener, turn tracking on for the reader with the listener as its target, and
        read every list watched here (an element pushed while neither was up is found now)."""
        if self._listener is None:
            self._listener = self._pool.get_connection()
        with self._lock:
            if self._reader is None:
                self._reader = self._pool.get_connection()
        listener = self._listener
        # RESP2 on the listener, whatever the client speaks: news of a change then comes as a plain
        # pub/sub message (in RESP3 it would be a push that redis-py hands to no one but a cache of its own).
        listener.send_command("HELLO", 2, check_health=False)
        listener.read_response()
        listener.send_command("CLIENT", "ID", check_health=False)
        self._listener_id = listener.read_response()
        listener.send_command("SUBSCRIBE", INVALIDATIONS, self._channel, check_health=False)
        listener.read_response()  # one confirmation per channel
        listener.read_response()
        with self._lock:
            self._reader.disconnect()  # a new connection: the old one's tracking told the old listener
            self._track()
            found = self._lindex(list(self._watched))
        self._deliver(found)

    def _track(self) -> None:
        """Under the lock: the reader's reads are tracked from now on, its changes told to the listener."""
        self._reader.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", self._listener_id, check_health=False)
        self._reader.read_response()
        self._tracking = True

    def _messages(self) -> list[Any]:
        """The listener's next message, and those that came with it: read together, their lists at once."""
        messages = [self._listener.read_response()]
        while self._listener.can_read(timeout=0):
            messages.append(self._listener.read_response())
        return messages

    def _heard(self, messages: list[Any]) -> None:
        """Messages on the listener: the lists that changed (all of them, for a flush), read again.

        A Redis tracking more keys than ``tracking-table-max-keys`` evicts some from its table, telling of
        each as of a change: with more lists watched than it keeps, each read evicts another, told at once,
        and reading it again evicts the next, as fast as Redis answers. So news of a change that comes
        right after a read (``CHURN_S``) and finds nothing makes the next such news wait before its read,
        twice as long each time (``CHURN_WAIT_S`` at most); news later than that, or an element found, ends
        the waits. What comes meanwhile is read then (nothing is lost: the lists named are read at last)."""
        heard_at = time.monotonic()
        changed = self._changed(messages)
        if changed is not None and not changed:
            return  # a PING's reply, the wake-up of close(), or no list
        churning = changed is not None and heard_at - self._read_at < CHURN_S
        if churning and self._backoff and not self._closed.wait(self._backoff):
            more = self._changed(self._messages()) if self._listener.can_read(timeout=0) else set()
            changed = None if more is None or changed is None else changed | more
        with self._lock:
            keys = list(self._watched) if changed is None else [key for key in changed if key in self._watched]
            found = self._read(keys) if keys else {}
        if churning and keys and not found:
            if not self._backoff:
                logger.warning(
                    "lists watched change as soon as they are read, and hold nothing (Redis evicting the keys it "
                    "tracks, see tracking-table-max-keys, or other workers taking each message first): reading "
                    "them at most once every %g s while that lasts",
                    CHURN_WAIT_S,
                )
            self._backoff = min(max(self._backoff * 2, FIRST_PAUSE_S), CHURN_WAIT_S)
        elif keys:
            self._backoff = 0.0
        self._deliver(found)

    def _changed(self, messages: list[Any]) -> set[str] | None:
        """The lists these messages name as changed (None: all of them, a flush)."""
        changed: set[str] = set()
        for reply in messages:
            if not isinstance(reply, list) or len(reply) < 3 or reply[0] != b"message" or reply[1] == self._channel:
                continue  # a PING's reply, or the wake-up of close()
            if reply[2] is None:
                return None
            changed.update(key.decode() if isinstance(key, bytes) else str(key) for key in reply[2])
        return changed

    def _keep_reader(self) -> None:
        """The reader's keepalive, beside the listener's. Nothing tells the listener of the reader's end
        (killed, or closed by Redis's ``timeout`` as it sends nothing while its lists wait), and the tracking
        of its reads ends with it: so a reader gone is found here, and connected, tracked and read again.
        Redis closing it leaves it readable (its end), which is looked at without a command: a network
        that fails both connections is found by the listener's ``PING``."""
        with self._lock:
            found = self._read([], check=True) if self._tracking else {}
        self._deliver(found)

    def _read(self, keys: list[str], *, check: bool = False) -> dict[str, bytes]:
        """Under the lock: each list's first element (see ``_lindex``), after a look at whether the reader was
        closed if ``check``. Should the reader have dropped, it is connected again and tracked, and every list
        watched here read again (the reads tracked on the old connection went with it); should that fail too,
        the listening thread connects both anew."""
        try:
            if check and self._reader.can_read(timeout=0):  # a reply nobody asked for: not a reader to trust
                raise redis.ConnectionError("the list watch's reader holds a reply it did not ask for")
            return self._lindex(keys)
        except _FAILURES:
            self._reader.disconnect()
        try:
            self._track()
            return self._lindex(list(self._watched))
        except _FAILURES:
            self._tracking = False
            self._reader.disconnect()
            return {}

    def _lindex(self, keys: list[str]) -> dict[str, bytes]:
        """Under the lock: each list's first element, in one round trip; those found are no longer watched.
        Reading a list (even one not there) is what makes Redis tell the listener of its next change."""
        if not keys:
            return {}
        self._reader.send_packed_command([packed(*(("LINDEX", key, 0) for key in keys))], check_health=False)
        replies = [self._reader.read_response() for _ in keys]
        self._read_at = time.monotonic()
        found = {key: cast(bytes, reply) for key, reply in zip(keys, replies, strict=True) if reply is not None}
        self._watched.difference_update(found)
        return found

    def _deliver(self, found: dict[str, bytes]) -> None:
        for key, element in found.items():
            try:
                self._on_element(key, element)
            except Exception:  # one bad callback must not stop the watch of the others
                logger.exception("handling what came to %s", key)
