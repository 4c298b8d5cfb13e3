"""A TCP proxy in front of Redis that can lose one reply: the command reaches Redis and is applied, and
the connection drops before its reply reaches the client, as when a network fails at the worst moment."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

_CHUNK = 65_536


class ReplyDropper:
    """Listens on 127.0.0.1 and forwards every connection to ``upstream`` (host, port).

    ``drop_next_reply_to(marker)``: the next command whose bytes contain ``marker`` goes through to
    Redis, and the connection that sent it is closed as soon as Redis answers, the answer unsent.
    ``drop_next_reply_with(marker)``: the same for the next answer that contains ``marker``.
    ``dropped`` is set once that happened.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self._upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._marker: bytes | None = None
        self._reply_marker: bytes | None = None
        self.dropped = threading.Event()
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def drop_next_reply_to(self, marker: bytes) -> None:
        with self._lock:
            self._marker = marker
            self.dropped.clear()

    def drop_next_reply_with(self, marker: bytes) -> None:
        with self._lock:
            self._reply_marker = marker
            self.dropped.clear()

    def close(self) -> None:
        self._closed = True
        with self._lock:
            for sock in [self._listener, *self._sockets]:
                _close(sock)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._upstream)
            with self._lock:
                self._sockets += [client, server]
            doomed = threading.Event()  # a command to lose the reply of has gone to Redis
            threading.Thread(target=self._requests, args=(client, server, doomed), daemon=True).start()
            threading.Thread(target=self._replies, args=(server, client, doomed), daemon=True).start()

    def _requests(self, client: socket.socket, server: socket.socket, doomed: threading.Event) -> None:
        while data := _recv(client):
            with self._lock:
                if self._marker is not None and self._marker in data:
                    self._marker = None
                    doomed.set()
            try:
                server.sendall(data)
            except OSError:
                break
        _close(server)

    def _replies(self, server: socket.socket, client: socket.socket, doomed: threading.Event) -> None:
        while data := _recv(server):
            with self._lock:
                if self._reply_marker is not None and self._reply_marker in data:
                    self._reply_marker = None
                    doomed.set()
            if doomed.is_set():
                _close(client)
                _close(server)
                self.dropped.set()
                return
            try:
                client.sendall(data)
            except OSError:
                break
        _close(client)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(_CHUNK)
    except OSError:
        return b""


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@contextmanager
def reply_dropper(redis_url: str) -> Iterator[ReplyDropper]:
    """A ``ReplyDropper`` in front of the Redis at ``redis_url`` (redis://host:port/...), closed after."""
    host, port = redis_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    proxy = ReplyDropper((host, int(port)))
    try:
        yield proxy
    finally:
        proxy.close()
