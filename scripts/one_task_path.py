"""Count what one task's path loads (issue 28): enqueue one task, run it in a burst worker, and list the yotaq
modules then in ``sys.modules`` with their lines of code, and the Lua scripts the process read.

Code lines: lines holding a token other than a comment or a docstring (a string that is a statement of its
own); blank lines do not count. Lua lines: those of each script read (``--@include`` files expanded), not
blank and not comments. ``yotaq.server`` (the Redis this script starts) is left out.

    python scripts/one_task_path.py            # the table
    python scripts/one_task_path.py --names    # only the module names, one a line
"""

from __future__ import annotations

import io
import logging
import sys
import tempfile
import tokenize
from pathlib import Path

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


def one_task() -> None:
    def noop() -> int:
        return 1

    with tempfile.TemporaryDirectory() as directory, EmbeddedRedis(Path(directory) / "redis") as server:
        client = yotaq.connect(server.url)
        queue = yotaq.Queue(client, "path")
        job = queue.enqueue(noop)
        yotaq.Worker(client, ["path"], burst=True).run()
        assert job.result(timeout=5) == 1
        client.close()


def main() -> None:
    logging.disable(logging.WARNING)  # the no-secret warnings
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
