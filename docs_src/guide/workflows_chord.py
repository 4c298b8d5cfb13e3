"""A chord: fan out 1,000 pages and sum them; the callback runs once, after every member is over."""

import os

import yotaq

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")))


def words_on(page):
    return len(f"page {page} has a few words".split())


def total(counts, label):
    return f"{label}: {sum(counts)}"


def kinds(results):
    return [type(result).__name__ for result in results]


pages = [queue.options(retries=2).call(words_on, page) for page in range(1_000)]
summed = queue.chord(pages, queue.call(total, "words"))  # total(<results in member order>, "words")
print(summed.result(timeout=30))

failing = queue.chord([queue.call(divmod, 1, 1), queue.call(divmod, 1, 0)], queue.call(print))
try:
    failing.result(timeout=10)
except yotaq.JobCancelled as error:
    print(error.reason)
forgiving = queue.chord(
    [queue.call(divmod, 1, 1), queue.call(divmod, 1, 0)], queue.options(allow_failure=True).call(kinds)
)
print(forgiving.result(timeout=10))
