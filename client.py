"""The walkthrough's client: enqueue NUM_TASKS calls of do_something on the queue 'tasks'."""

import logging
import os
import random
import sys
import time

import yotaq

logging.basicConfig(level=logging.INFO)
logger = logging.getLogger(__name__)

# The walkthrough sleeps up to 1 s per task; tests shorten it.
MAX_SLEEP_S = float(os.environ.get("YOTAQ_DEMO_MAX_SLEEP", "1"))


def do_something(arg1, arg2):
    """Dummy function that just waits a random amount of time"""
    logger.info("Performing task with arg1=%s and arg2=%s", arg1, arg2)
    time.sleep(random.uniform(0.0, MAX_SLEEP_S))


if __name__ == "__main__":
    try:
        # Configure our redis client
        r = yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0"))
        queue = yotaq.Queue(r, name="tasks", secret=os.environ.get("YOTAQ_SECRET") or None)

        # Generate N tasks
        NUM_TASKS = 100
        logger.info("Generating %i tasks", NUM_TASKS)
        for i in range(NUM_TASKS):
            # Generate two random arguments
            a1 = random.randrange(0, 100)
            a2 = random.randrange(0, 100)
            # Serialize the task and its arguments, and store it in the message broker
            queue.enqueue(do_something, a1, a2)
    except yotaq.YotaqError as exc:  # a malformed URL, Redis unreachable: one line, not a traceback
        sys.exit(f"client.py: {exc}")
