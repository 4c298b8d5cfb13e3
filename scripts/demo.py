"""`make demo`: the walkthrough in one command.

Starts a redis-server of its own (on a free loopback port, data in a temporary directory), three
`python worker.py` and one `python client.py`, waits until the client's 100 tasks are done, prints
a summary and stops everything it started, whatever happens.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import yotaq
from yotaq.server import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 3
NUM_TASKS = 100
TIMEOUT_S = 300
DONE = re.compile(r"stopped: \{'done': (\d+)")


def relay(name: str, process: subprocess.Popen[str], done: Counter[str]) -> None:
    """Print a child's output, prefixed with its name, and note how many tasks it says it did."""
    assert process.stdout is not None
    for line in process.stdout:
        if found := DONE.search(line):
            done[name] = int(found[1])
        print(f"[{name}] {line}", end="", flush=True)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="yotaq-demo-") as data, EmbeddedRedis(Path(data)) as redis_server:
        print(f"demo: redis-server on {redis_server.url}", flush=True)
        env = dict(os.environ, YOTAQ_REDIS_URL=redis_server.url, PYTHONUNBUFFERED="1")
        done: Counter[str] = Counter()
        children: dict[str, subprocess.Popen[str]] = {}
        relays = []
        try:
            started = time.monotonic()
            for name in [f"worker {n}" for n in range(1, WORKERS + 1)] + ["client"]:
                script = "client.py" if name == "client" else "worker.py"
                children[name] = subprocess.Popen(
                    [sys.executable, script],
                    cwd=ROOT,
                    env=env,
                    text=True,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
                relays.append(threading.Thread(target=relay, args=(name, children[name], done)))
                relays[-1].start()
            queue = yotaq.Queue(yotaq.connect(redis_server.url), "tasks")
            while queue.info().done < NUM_TASKS:
                if time.monotonic() - started > TIMEOUT_S or children["client"].poll() not in (None, 0):
                    print("demo: FAILED: the tasks did not finish", file=sys.stderr)
                    return 1
                time.sleep(0.1)
            elapsed = time.monotonic() - started
        finally:
            for process in children.values():
                if process.poll() is None:
                    process.terminate()
            codes = {name: process.wait() for name, process in children.items()}
            for thread in relays:
                thread.join()
        per_worker = ", ".join(f"{name}: {done[name]}" for name in children if name != "client")
        total = sum(done.values())
        print(f"\ndemo: {total}/{NUM_TASKS} tasks done in {elapsed:.1f} s by {WORKERS} workers ({per_worker})")
        info = queue.info()
        print(f"demo: Redis says {info.done} done, {info.pending} pending, {info.active} active, {info.failed} failed")
        stopped = all(code == 0 for code in codes.values())
        print(f"demo: every process stopped cleanly: {'yes' if stopped else codes}")
        return 0 if stopped and total == NUM_TASKS == info.done else 1


if __name__ == "__main__":
    sys.exit(main())
