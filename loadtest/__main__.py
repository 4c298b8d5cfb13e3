"""``python -m loadtest``: the load test's front door.

``python -m loadtest --help`` shows the load test's own options (``--workers``, ``--task``, ``--queue``,
``--shards``, ``--replicas``),
which ``locust --help`` cannot: locust prints its help before it loads a locustfile. Anything else runs
``locust -f loadtest`` with the same arguments. (locust skips files whose names start with ``_`` when it
loads a directory, so this one is not mistaken for a scenario.)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
USAGE = (
    "python -m loadtest [LOCUST OPTIONS] [--workers N] [--task noop|sleep|cpu] [--queue NAME] [--shards N] "
    "[--replicas N]"
)
EXAMPLES = """\
examples:
  python -m loadtest --headless -u 50 -r 50 -t 30s --workers 4 --csv out    # 25 users of each class
  python -m loadtest                                  # the web UI on http://localhost:8089
  python -m loadtest --headless -u 10 -t 20s RoundTripUser   # latency with an empty queue
  YOTAQ_REDIS_URL=redis+cluster://10.0.0.1:7000 python -m loadtest --headless -u 50 -t 30s --shards 3
  python -m loadtest --headless -u 200 -r 50 -t 60s --processes 4   # 4 locust worker processes

Every locust option works too (locust -f loadtest --help lists them). Redis: $YOTAQ_REDIS_URL (redis://,
rediss://, redis+cluster:// or redis+sentinel://), or one the load test starts; tasks are signed with
$YOTAQ_SECRET when it is set. See loadtest/README.md.
"""


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The description and examples as written; each option with its default."""


def help_text() -> str:
    """The load test's own options, from the very function that adds them to locust's parser."""
    import locust  # noqa: F401 - first, as when locust runs it: it patches the standard library for gevent

    sys.path.insert(0, str(HERE))  # as locust does: the locustfile imports _cluster and _tasks
    from locustfile import _add_arguments

    parser = argparse.ArgumentParser(
        prog="python -m loadtest",
        usage=USAGE,
        description="Load test for yotaq: locust users that enqueue tasks (EnqueueUser) and that wait for\n"
        "their results (RoundTripUser), half of each, against worker processes it starts itself.",
        epilog=EXAMPLES,
        formatter_class=_Formatter,
    )
    _add_arguments(parser.add_argument_group("the load test's options"))
    return parser.format_help()


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in ("-h", "--help"):
        os.execv(sys.executable, [sys.executable, "-m", "locust", "-f", str(HERE), *argv])
    print(help_text(), end="")


if __name__ == "__main__":
    main(sys.argv[1:])
