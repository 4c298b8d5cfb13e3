"""The walkthrough's worker: run the tasks of the queue 'tasks' until Ctrl-C."""

import logging
import os
import sys

import yotaq

logging.basicConfig(level=logging.INFO)

try:
    # Configure our redis client
    r = yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0"))

    # Wait for tasks on the 'tasks' queue, deserialize and run each one, for ever
    yotaq.Worker(r, queues=["tasks"], secret=os.environ.get("YOTAQ_SECRET") or None).run()
except yotaq.YotaqError as exc:  # a malformed URL, say: one line, not a traceback
    sys.exit(f"worker.py: {exc}")
