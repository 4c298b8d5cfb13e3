"""yotaq.Executor: code written for concurrent.futures runs on a queue's workers."""

import concurrent.futures
import os
import time

import yotaq

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")))


def word_count(text: str) -> int:
    return len(text.split())


def page_number(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"not a page number: {text!r}")
    return int(text)


with yotaq.Executor(queue) as executor:  # was: concurrent.futures.ProcessPoolExecutor()
    print(list(executor.map(word_count, ["one", "two words", "and three words"], timeout=10)))

    futures = [executor.submit(word_count, "a b c " * n) for n in range(1, 4)]
    print(sorted(future.result() for future in concurrent.futures.as_completed(futures, timeout=10)))

    try:
        executor.submit(page_number, "twelve").result(timeout=10)
    except ValueError as error:  # the task's own exception, raised here
        print(f"ValueError: {error}")
        print("remote traceback:", "raise ValueError" in error.__cause__.traceback)

with yotaq.Executor(queue.options(timeout=0.5)) as limited:  # options for every job of the executor
    try:
        limited.submit(time.sleep, 10).result(timeout=10)
    except TimeoutError as error:
        print(f"TimeoutError: {error}")

with yotaq.Executor(queue.options(delay=60)) as later:
    future = later.submit(print, "never printed")
    print(future.cancel(), future.cancelled(), future.job.status)  # the job is cancelled too
