"""A queue spread over 3 shards: the producer spreads the tasks, a worker takes from every shard, and a
producer that counts the shards otherwise is refused. The same on one Redis as on a cluster."""

import os

import yotaq

client = yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0"))
orders = yotaq.Queue(client, "orders", shards=3)

jobs = orders.enqueue_many(pow, [(2, n) for n in range(8)])  # each job goes to the shard its id hashes to
print(orders.info().pending, "pending")  # summed over the shards

yotaq.Worker(client, ["orders"], shards=3, burst=True).run()  # every shard in turn, until none has work
print([job.result(timeout=10) for job in jobs])

try:
    yotaq.Queue(client, "orders", shards=2).enqueue(pow, 2, 8)
except yotaq.ConfigurationError as exc:
    print(exc)
