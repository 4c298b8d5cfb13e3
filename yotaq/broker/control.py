"""The broker's commands for reaching into a job from outside: cancelling it, and its progress.
Mixed into ``Broker``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from . import commands
from .connection import Client
from .keys import QueueKeys
from .scripts import Scripts

T = TypeVar("T")


class Control:
    """Cancel and progress, for ``Broker``."""

    _scripts: Scripts

    if TYPE_CHECKING:

        def _call(self, command: Callable[[Client], T], *, own: bool = False, write: bool = False) -> T: ...

        def _patient(self, command: Callable[[Client], T], *, blocks_s: float = 0.0, write: bool = False) -> T: ...

    def cancel(self, keys: QueueKeys, job_id: str, envelope: bytes, result_ttl_ms: int) -> str | None:
        """Cancel a job (see ``cancel-8.lua``); its state before, or None when it was not there."""
        script_keys, args = commands.cancel_script(keys, job_id, envelope, result_ttl_ms)
        return commands.read_cancel(self._patient(lambda c: self._scripts.cancel(script_keys, args, client=c)))

    def state_of(self, keys: QueueKeys, job_id: str) -> str | None:
        """A job's state (``pending``, ``scheduled``, ``active``, ``cancelling``, ...), if not finished."""
        state = self._call(lambda c: c.hget(keys.state, job_id))
        return None if state is None else state.decode()  # type: ignore[union-attr]

    def record_cancelled(
        self, keys: QueueKeys, worker: str, message: bytes, job_id: str, envelope: bytes, result_ttl_ms: int
    ) -> bool:
        """Take a running job this worker interrupted because it was cancelled off its active list."""
        script_keys = [keys.active(worker), keys.state, keys.deliveries, keys.stats, keys.result(job_id)]
        script_keys += [*keys.slots, keys.pending]
        args: list[Any] = [message, job_id, envelope, result_ttl_ms]
        return bool(self._call(lambda c: self._scripts.cancelled(script_keys, args, client=c), write=True))

    def set_progress(self, keys: QueueKeys, job_id: str, progress: bytes, ttl_ms: int) -> None:
        self._call(lambda c: c.set(keys.progress(job_id), progress, px=ttl_ms), own=True)

    def progress(self, keys: QueueKeys, job_id: str) -> bytes | None:
        return cast(bytes | None, self._patient(lambda c: c.get(keys.progress(job_id))))
