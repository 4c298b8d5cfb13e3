"""Count what one task's path loads (issue 28): enqueue one task, run it in a burst worker, and list the yotaq
modules then in ``sys.modules`` with their lines of code, and the Lua scripts the process read.

Code lines: lines holding a token other than a comment or a docstring (a string that is a statement of its
own); blank lines do not count. Lua lines: those of each script read (``--@include`` files expanded), not
blank and not comments. ``yotaq.server`` (the Redis this script starts) is left out.

    python scripts/one_task_path.py            # the table
    python scripts/one_task_path.py --names    # only the module names, one a line
    python scripts/one_task_path.py --entries  # how often each step enters each module (main thread only)
"""

from __future__ import annotations

import collections
import io
import logging
import sys
import tempfile
import tokenize
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import yotaq
from yotaq.server import EmbeddedRedis

NOT_COUNTED = {"yotaq.server"}  # started by this script, not by the process it stands for
SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
STATEMENT_START = {tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.NL}


def code_lines(source: str) -> int:
    """Lines of Python code in ``source``: not blank, not only a comment, not part of a docstring."""
    lines: set[int] = set()
    previous = None
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        standing_alone = previous is None or previous.type in STATEMENT_START
        previous = token
        if token.type in SKIPPED or (token.type == tokenize.STRING and standing_alone):
            continue  # (a string standing alone as a statement: a docstring)
        lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines)


def lua_lines(source: str) -> int:
    """Lines of Lua in ``source``: not blank, not a ``--`` comment (block comments included)."""
    count, in_block = 0, False
    for raw in source.splitlines():
        line = raw.strip()
        if in_block:
            in_block = "]]" not in line
            continue
        if line.startswith("--[["):
            in_block = "]]" not in line
            continue
        if line and not line.startswith("--"):
            count += 1
    return count


def one_task(phase: Callable[[str, Callable[[], Any]], Any] = lambda name, step: step()) -> None:
    """Enqueue one task, run it in a burst worker, read its result: each of the three steps through ``phase``."""

    def noop() -> int:
        return 1

    with tempfile.TemporaryDirectory() as directory, EmbeddedRedis(Path(directory) / "redis") as server:
        client = yotaq.connect(server.url)
        queue = yotaq.Queue(client, "path")
        job = phase("enqueue", lambda: queue.enqueue(noop))
        phase("worker", lambda: yotaq.Worker(client, ["path"], burst=True).run())
        assert phase("result", lambda: job.result(timeout=5)) == 1
        client.close()


def entries() -> None:
    """How many times the main thread enters a yotaq module in each step: a call (or a generator resumed)
    in a module from code outside it, yotaq's or a dependency's calling back; and into how many modules."""
    counted: dict[str, list[str]] = {}

    def phase(name: str, step: Callable[[], Any]) -> Any:
        entered = counted[name] = []

        def profile(frame: FrameType, event: str, arg: object) -> None:
            module = frame.f_globals.get("__name__", "")
            if event != "call" or module.split(".")[0] != "yotaq" or module in NOT_COUNTED:
                return
            if frame.f_back is None or frame.f_back.f_globals.get("__name__") != module:
                entered.append(module)

        sys.setprofile(profile)
        try:
            return step()
        finally:
            sys.setprofile(None)

    one_task(phase)
    for name, entered in counted.items():
        print(f"{name}: entered {len(entered):,} times, {len(set(entered))} modules")
        for module, times in collections.Counter(entered).most_common():
            print(f"  {times:5d}  {module}")
    every = {module for entered in counted.values() for module in entered}
    print(f"the whole path: {sum(map(len, counted.values())):,} entries, {len(every)} modules")


def main() -> None:
    logging.disable(logging.WARNING)  # the no-secret warnings
    if "--entries" in sys.argv:
        entries()
        return
    one_task()
    names = sorted(name for name in sys.modules if name.split(".")[0] == "yotaq" and name not in NOT_COUNTED)
    if "--names" in sys.argv:
        print("\n".join(names))
        return
    total = 0
    for name in names:
        lines = code_lines(Path(sys.modules[name].__file__ or "").read_text())
        total += lines
        print(f"{lines:6d}  {name}")
    from yotaq.broker import scripts

    lua = {name: lua_lines(source) for name, source in scripts.loaded().items()}
    print(f"{len(names)} yotaq modules, {total:,} lines of Python code")
    print(f"{len(lua)} Lua scripts read ({', '.join(sorted(lua))}): {sum(lua.values()):,} lines of Lua code")
    print(f"together: {total + sum(lua.values()):,} lines")


if __name__ == "__main__":
    main()
