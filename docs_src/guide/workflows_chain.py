"""A chain: fetch, then parse, then store; each step gets the one before's result first."""

import os

import yotaq

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")))


def fetch(url):
    return f"<title>{url}</title>"


def parse(page, tag):
    return page.removeprefix(f"<{tag}>").removesuffix(f"</{tag}>")


def store(title, table):
    return f"{table}: {title}"


last = queue.chain(
    queue.call(fetch, "example.org"),
    queue.call(parse, "title"),  # parse(<fetch's result>, "title")
    queue.options(job_id="store-example", retries=3).call(store, table="titles"),
)
print(last.id)
print(last.result(timeout=10))
