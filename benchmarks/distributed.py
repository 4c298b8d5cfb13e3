"""yotaq past one Redis, measured: a single Redis, a Redis Cluster (a queue of 1 shard and of 3), and a
Sentinel-managed master with one replica (with and without ``replicas=1``), all started here, side by side.

    .venv/bin/python benchmarks/distributed.py [--tasks 10000] [--single 2500] [--runs 5] [--json PATH]

The deployments are tests/clusters.py's (``LocalCluster``: 3 masters; ``LocalSentinel``: master, replica and
3 Sentinels) and an ``EmbeddedRedis``, all from the same redis-server, on 127.0.0.1, append-only files on, all
running for the whole run. Each run measures every setup once, in an order that rotates by one each run; the
table has the medians, and each setup's drain over the single Redis's in the same run (the median of those
ratios: on a shared machine two drains a few seconds apart are steadier next to each other than alone).
For each setup, on an emptied deployment (FLUSHALL and an append-only rewrite on every master), a fresh queue
(on the cluster, named so that its shards are on as many masters as can be: the name decides the slots):

- single enqueue/s: ``--single`` tasks, one ``queue.enqueue`` call each, from this process;
- bulk enqueue/s: the other ``--tasks`` minus ``--single`` tasks in one ``queue.enqueue_many``;
- drain/s: then 2 worker processes, ``python -m yotaq worker --queue Q [--shards S] [--replicas R]``, run the
  ``--tasks`` no-op tasks (each does ``INCR`` on a counter in a Redis of its own, outside the measured
  deployment, polled every 10 ms); timed from the first poll that sees a finished task to the one that sees
  them all (steady state: the workers' start-up does not count);
- Redis CPU µs/task: ``INFO cpu`` used_cpu_sys + used_cpu_user over the same window, summed over every Redis
  that holds data (the cluster's 3 masters; Sentinel's master and its replica; not the Sentinels, which see
  none of the traffic), per task finished in the window; and the busiest node's part of it (what bounds one
  node); the JSON has it node by node;
- Redis cmds/task: ``INFO commandstats`` calls (all but INFO) over the same window, on the masters only
  (what the clients send; a replica replays the master's writes);
- worker CPU µs/task: the 2 workers' user + system CPU (``/proc``), same window.

Tasks are signed (``YOTAQ_SECRET``) and results stored, as in benchmarks/compare.py; the process and CPU
helpers are benchmarks/driver.py's. Then a paper projection, labelled as such: the tasks/s of one queue over K shards
on K free cores if Redis's CPU were the bound. The table goes to stdout, the numbers to ``--json``
(``benchmarks/results/distributed.json``). Every process started here is stopped by its PID at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import shlex
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from redis.cluster import RedisCluster

# This tree's yotaq (here and in the workers, through PYTHONPATH) and tests/clusters.py, whatever is installed
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import driver  # noqa: E402 - benchmarks/driver.py: Workers, INFO, FLUSHALL, cpu_model, venv_info, write_json

import yotaq  # noqa: E402
from tests.clusters import LocalCluster, LocalSentinel  # noqa: E402
from yotaq.server import HOST, EmbeddedRedis  # noqa: E402

RESULTS = driver.RESULTS / "distributed.json"
COUNTER_URL = "BENCH_COUNTER_URL"
COUNTER_KEY = "bench:done"
SECRET = "benchmark-secret"
WORKERS = 2
POLL_S = 0.01
PROJECTED_K = (1, 3, 8, 16)

# -- the task, shipped by value to the workers (its module is __main__ for dill) ---------------------

_counter_client = None


def _counter() -> Any:
    global _counter_client
    if _counter_client is None:
        import os

        import redis

        _counter_client = redis.Redis.from_url(os.environ["BENCH_COUNTER_URL"])
    return _counter_client


def noop() -> int:
    """Nothing but the benchmark's count: INCR on the counter's own Redis."""
    return int(_counter().incr("bench:done"))


def mark(n: int) -> int:
    """The failover run's task: counts itself under its number, so that lost and repeated tasks show."""
    pipe = _counter().pipeline(transaction=False)
    pipe.hincrby("bench:ran", str(n), 1)
    pipe.incr("bench:done")
    return int(pipe.execute()[1])


for _fn in (_counter, noop, mark):
    _fn.__module__ = "__main__"  # by value, whatever imports this file


# -- deployments -------------------------------------------------------------------------------------


@dataclass
class Node:
    """One redis-server holding data, probed for INFO cpu and commandstats, and emptied (driver.py)."""

    label: str
    role: str  # "master" or "replica"
    probe: redis.Redis

    def usage(self) -> tuple[float, int]:
        """Its CPU seconds so far, and the commands it has run (less the INFOs that ask)."""
        return driver.redis_cpu_s(self.probe), sum(driver.command_calls(self.probe).values())


@dataclass
class Deployment:
    name: str
    url: str  # for yotaq.connect and the workers' YOTAQ_REDIS_URL
    nodes: list[Node]

    def empty(self) -> None:
        """FLUSHALL and an append-only rewrite on every master (driver.flush), so that no rewrite's fork
        shares the machine with a measurement; then a rewrite on each replica, once it has the FLUSHALL."""
        for node in self.nodes:
            if node.role == "master":
                driver.flush(node.probe)
        for node in self.nodes:
            if node.role == "replica":
                master = next(n for n in self.nodes if n.role == "master")
                master.probe.execute_command("WAIT", 1, 5000)
                driver.wait_for_rewrite(node.probe)
                with contextlib.suppress(redis.ResponseError):  # one already under way
                    node.probe.bgrewriteaof()
                driver.wait_for_rewrite(node.probe)

    def usage(self) -> dict[str, tuple[float, int]]:
        return {node.label: node.usage() for node in self.nodes}


def _node(label: str, role: str, port: int) -> Node:
    return Node(label, role, redis.Redis.from_url(f"redis://{HOST}:{port}/0"))


@dataclass
class Setup:
    key: str
    name: str
    deployment: str  # "single", "cluster" or "sentinel"
    shards: int = 1
    replicas: int = 0
    results: dict[str, list[float]] = field(default_factory=dict)
    nodes: list[dict[str, float]] = field(default_factory=list)  # Redis CPU µs/task by node, each run
    steady_by_run: dict[int, float] = field(default_factory=dict)  # to set beside the single Redis's
    errors: list[str] = field(default_factory=list)


def setups() -> dict[str, Setup]:
    return {
        setup.key: setup
        for setup in [
            Setup("single", "single Redis", "single"),
            Setup("cluster1", "cluster (3 masters), 1-shard queue", "cluster"),
            Setup("cluster3", "cluster (3 masters), 3-shard queue", "cluster", shards=3),
            Setup("sentinel", "Sentinel (master + 1 replica)", "sentinel"),
            Setup("sentinel-wait", "Sentinel, replicas=1 (WAIT)", "sentinel", replicas=1),
        ]
    }


# -- one measurement ---------------------------------------------------------------------------------


class Failed(Exception):
    pass


def per_task(
    before: dict[str, tuple[float, int]], after: dict[str, tuple[float, int]], deployment: Deployment, tasks: int
) -> tuple[float, float, dict[str, float]]:
    """Redis CPU µs per task (all nodes), commands per task (masters), and CPU µs per task node by node."""
    by_node = {label: 1e6 * (after[label][0] - before[label][0]) / tasks for label in after}
    masters = [node.label for node in deployment.nodes if node.role == "master"]
    commands = sum(after[label][1] - before[label][1] for label in masters) / tasks
    return sum(by_node.values()), commands, by_node


def queue_name(setup: Setup, client: Any) -> tuple[str, int]:
    """A fresh queue name, and on how many nodes its shards are: on a cluster, a name whose shards land on as
    many masters as there can be (which slot, so which node, a shard lands in depends on the name)."""
    for _ in range(1000):
        name = f"bench-{setup.key}-{uuid.uuid4().hex[:6]}"
        if not isinstance(client, RedisCluster):
            return name, 1
        keys = yotaq.Queue(client, name, shards=setup.shards).shards
        nodes = {client.get_node_from_key(shard.pending).name for shard in keys}
        if len(nodes) == min(setup.shards, len(client.get_primaries())):
            return name, len(nodes)
    raise Failed(f"no queue name found whose {setup.shards} shards are on different nodes")


def measure(
    setup: Setup, deployment: Deployment, counter: redis.Redis, args: argparse.Namespace, work: Path, run: int
) -> None:
    deployment.empty()
    counter.delete(COUNTER_KEY)
    client = yotaq.connect(deployment.url)
    try:
        name, nodes = queue_name(setup, client)
        queue = yotaq.Queue(client, name, shards=setup.shards, replicas=setup.replicas, secret=SECRET)
        queue.info()  # Redis agrees on the shards; the connections are made: not timed
        start = time.perf_counter()
        for _ in range(args.single):
            queue.enqueue(noop)
        single = args.single / (time.perf_counter() - start)
        bulk_n = args.tasks - args.single
        start = time.perf_counter()
        queue.enqueue_many(noop, [() for _ in range(bulk_n)])
        bulk = bulk_n / (time.perf_counter() - start)
        if queue.info().pending != args.tasks:
            raise Failed(f"{queue.info().pending} pending for {args.tasks} enqueued")
    finally:
        client.close()
    drain = drain_rate(setup, deployment, counter, name, args, work)
    for key, number in {"single": single, "bulk": bulk, **drain}.items():
        if key != "by_node":
            setup.results.setdefault(key, []).append(number)
    setup.nodes.append(drain["by_node"])
    setup.steady_by_run[run] = drain["steady"]
    setup.results.setdefault("shard_nodes", []).append(nodes)
    print(
        f"  {setup.name}: single {single:,.0f}/s, bulk {bulk:,.0f}/s, drain {drain['steady']:,.0f}/s; per task: "
        f"Redis CPU {drain['rcpu']:.0f} µs, {drain['rcmd']:.2f} cmds, worker CPU {drain['wcpu']:.0f} µs",
        file=sys.stderr,
        flush=True,
    )


def worker_env(url: str, args: argparse.Namespace) -> dict[str, str]:
    """The workers' environment: the deployment, the secret, the counter, and this tree's yotaq first."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return dict(
        os.environ, YOTAQ_REDIS_URL=url, YOTAQ_SECRET=SECRET, PYTHONPATH=path, **{COUNTER_URL: args.counter_url}
    )


def drain_rate(
    setup: Setup, deployment: Deployment, counter: redis.Redis, queue: str, args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    """Start the workers on the full queue; time them from the first finished task to the last."""
    command = [sys.executable, "-m", "yotaq", "worker", "--queue", queue]
    if setup.shards > 1:
        command += ["--shards", str(setup.shards)]
    if setup.replicas:
        command += ["--replicas", str(setup.replicas)]
    env = worker_env(deployment.url, args)
    n = args.tasks
    timeout = 60 + n / 50
    begun = time.perf_counter()
    workers = driver.Workers([command] * WORKERS, env, work, work / f"{setup.key}.log")
    first: tuple[float, int, dict[str, tuple[float, int]], float] | None = None
    try:
        while True:
            done = int(counter.get(COUNTER_KEY) or 0)
            now = time.perf_counter()
            if done >= n:
                break
            if first is None and done > 0:
                usage, cpu = deployment.usage(), workers.cpu_s()
                first = (now, done, usage, cpu)
                first_done = int(counter.get(COUNTER_KEY) or 0)  # by the time the snapshot was complete
            if now - begun > timeout:
                raise Failed(f"{done}/{n} done after {timeout:.0f} s")
            if workers.all_exited():
                raise Failed(f"workers exited: {workers.tail()}")
            time.sleep(POLL_S)
        usage, cpu = deployment.usage(), workers.cpu_s()
    finally:
        workers.stop()
    if first is None:
        raise Failed("every task ran between two polls: give more --tasks")
    ran = int(counter.get(COUNTER_KEY) or 0)
    in_window = done - first_done
    rcpu, rcmd, by_node = per_task(first[2], usage, deployment, in_window)
    return {
        "steady": (n - first[1]) / (now - first[0]),
        "startup": first[0] - begun,
        "rcpu": rcpu,
        "rcpu_max": max(by_node.values()),
        "rcmd": rcmd,
        "wcpu": 1e6 * (cpu - first[3]) / in_window,
        "ran": ran,
        "by_node": by_node,
    }


# -- a failover mid-run ------------------------------------------------------------------------------

FAILOVER_KILL_AFTER_S = 1.0  # after the first finished task
FAILOVER_SETTLE_S = 60.0  # how long to wait, once the producer is done, for every acknowledged task to run


def failover_run(replicas: int, args: argparse.Namespace, counter: redis.Redis, work: Path) -> dict[str, Any]:
    """On a master with 2 replicas and 3 Sentinels: half of ``--failover-tasks`` enqueued first, the other half
    one by one from a thread while 2 workers run them; kill -9 the master 1 s after the first task finished.
    Counts the acknowledged enqueues that never ran (lost), the tasks that ran more than once, and the longest
    time with no task finishing (the workers' pause); every worker must still be the one started."""
    n = args.failover_tasks
    with LocalSentinel(work / f"failover-{replicas}", replicas=2) as sentinel:
        print(f"  failover, replicas={replicas}: Sentinel PIDs {sentinel.pids}", file=sys.stderr, flush=True)
        counter.delete(COUNTER_KEY, "bench:ran")
        name = f"failover-{replicas}"
        client = yotaq.connect(sentinel.url)
        queue = yotaq.Queue(client, name, replicas=replicas, secret=SECRET)
        queue.enqueue_many(mark, [(i,) for i in range(n // 2)])
        acknowledged = list(range(n // 2))
        refused: list[str] = []

        def produce() -> None:
            for i in range(n // 2, n):
                try:
                    queue.enqueue(mark, i)
                    acknowledged.append(i)
                except yotaq.YotaqError as exc:
                    refused.append(str(exc))
                time.sleep(0.002)

        command = [sys.executable, "-m", "yotaq", "worker", "--queue", name, "--replicas", str(replicas)]
        env = worker_env(sentinel.url, args)
        workers = driver.Workers([command] * WORKERS, env, work, work / f"failover-{replicas}.log")
        producer = threading.Thread(target=produce)
        promoted: list[float] = []
        samples: list[tuple[float, int]] = []
        killed_at = first_at = settled_from = None
        try:
            producer.start()
            deadline = time.monotonic() + 120 + n / 50
            while time.monotonic() < deadline:
                now, done = time.monotonic(), int(counter.get(COUNTER_KEY) or 0)
                samples.append((now, done))
                if first_at is None and done:
                    first_at = now
                if killed_at is None and first_at is not None and now - first_at >= FAILOVER_KILL_AFTER_S:
                    sentinel.kill_master()
                    killed_at = time.monotonic()
                    threading.Thread(
                        target=lambda: promoted.append(sentinel.wait_for_failover(60) and time.monotonic())
                    ).start()
                if not producer.is_alive():
                    settled_from = settled_from or now
                    if counter.hlen("bench:ran") >= len(acknowledged) or now - settled_from > FAILOVER_SETTLE_S:
                        break
                time.sleep(POLL_S)
            restarted = [process.pid for process in workers.processes if process.poll() is not None]
        finally:
            producer.join(30)
            workers.stop()
            client.close()
        ran = {int(key): int(count) for key, count in counter.hgetall("bench:ran").items()}
        pause, last_change = 0.0, samples[0]
        for sample in samples[1:]:
            if sample[1] != last_change[1]:
                pause = max(pause, sample[0] - last_change[0]) if killed_at and sample[0] >= killed_at else pause
                last_change = sample
        return {
            "replicas": replicas,
            "tasks": n,
            "acknowledged": len(acknowledged),
            "refused": len(refused),
            "refused_reason": refused[0] if refused else "",
            "lost": len(set(acknowledged) - ran.keys()),
            "ran_twice_or_more": sum(count - 1 for count in ran.values()),
            "ran_unacknowledged": len(ran.keys() - set(acknowledged)),
            "pause_s": pause,
            "failover_s": (promoted[0] - killed_at) if promoted and killed_at else None,
            "workers_exited": len(restarted),
        }


# -- the report --------------------------------------------------------------------------------------

COLUMNS = [
    ("single", "single enqueue/s", "{:,.0f}"),
    ("bulk", "bulk enqueue/s", "{:,.0f}"),
    ("steady", "drain/s", "{:,.0f}"),
    ("ratio", "drain / single Redis's", "{:.2f}x"),
    ("rcpu", "Redis CPU µs/task", "{:.0f}"),
    ("rcpu_max", "of which the busiest node", "{:.0f}"),
    ("rcmd", "Redis cmds/task", "{:.2f}"),
    ("wcpu", "worker CPU µs/task", "{:.0f}"),
    ("shard_nodes", "nodes holding the queue", "{:.0f}"),
]


def median(setup: Setup, key: str) -> float | None:
    values = setup.results.get(key)
    return statistics.median(values) if values else None


def add_ratios(rows: dict[str, Setup]) -> None:
    """Each setup's drain over the single Redis's in the same run."""
    base = rows.get("single")
    if base is None:
        return
    for setup in rows.values():
        runs = sorted(setup.steady_by_run.keys() & base.steady_by_run.keys())
        setup.results["ratio"] = [setup.steady_by_run[run] / base.steady_by_run[run] for run in runs]


def projection(rows: dict[str, Setup]) -> tuple[str, dict[str, Any]]:
    """On paper: K shards on K free cores, if Redis's CPU were the bound."""
    candidates = [rows[key] for key in ("cluster3", "cluster1", "single") if key in rows and median(rows[key], "rcpu")]
    source = candidates[0] if candidates else None
    if source is None:
        return "", {}
    cost = median(source, "rcpu")
    assert cost is not None
    figures = {k: k * 1e6 / cost for k in PROJECTED_K}
    text = (
        f"**Paper projection, not measured**: if Redis's CPU were the only bound, one queue over K shards on K "
        f"free cores (each shard's master on a core of its own; the workers and producers on other cores or "
        f"machines, enough of them; each task costing its shard the {cost:.0f} µs of Redis CPU measured above for "
        f"the {source.name}, a figure that does not grow with K) would reach about K x 1e6 / {cost:.0f} tasks/s: "
        + ", ".join(f"K = {k}: {rate:,.0f}/s" for k, rate in figures.items())
        + ". Network round trips, the workers' own CPU and uneven shards are left out; on this machine the "
        "workers, not Redis, are what saturates the cores."
    )
    return text, {"from": source.key, "redis_cpu_us_per_task": cost, "tasks_per_s_by_k": figures}


def report(rows: dict[str, Setup], args: argparse.Namespace, versions: dict[str, str], projected: str) -> str:
    lines = ["| setup | " + " | ".join(heading for _, heading, _ in COLUMNS) + " |", "|---|" + "---:|" * len(COLUMNS)]
    for setup in rows.values():
        cells = []
        for key, _, shape in COLUMNS:
            number = median(setup, key)
            cells.append(shape.format(number) if number is not None else "n/a")
        note = f" (failed: {setup.errors[-1]})" if setup.errors else ""
        lines.append(f"| {setup.name}{note} | " + " | ".join(cells) + " |")
    lines += ["", projected, ""] if projected else [""]
    cluster3 = rows.get("cluster3")
    if cluster3 and cluster3.nodes:
        shares = [max(node.values()) / sum(node.values()) for node in cluster3.nodes if sum(node.values()) > 0]
        if shares:
            lines += [
                f"3-shard queue: the busiest master did {100 * statistics.median(shares):.0f}% of the "
                "cluster's Redis CPU (an even spread: 33%)",
                "",
            ]
    lines += [
        f"{datetime.date.today().isoformat()}; {os.cpu_count()} cores, {driver.cpu_model()}; Redis {versions['redis']}"
        f" (loopback, appendonly everysec); {versions['venv']}; yotaq {versions['yotaq']}",
        f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}",
        f"medians of {args.runs} run(s); {args.tasks:,} tasks per drain ({args.single:,} enqueued one by one, "
        f"{args.tasks - args.single:,} in bulk), {WORKERS} worker processes; drain/s from the first finished task "
        "to the last; Redis CPU summed over the data nodes (cluster masters; Sentinel's master and replica), "
        "commands on the masters",
    ]
    return "\n".join(lines)


def failover_report(runs: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        "",
        f"Failover: master + 2 replicas + 3 Sentinels (down-after 1 s); {args.failover_tasks:,} tasks, half enqueued "
        f"first, half one by one during the run; kill -9 the master {FAILOVER_KILL_AFTER_S:g} s after the first "
        f"finished task; {WORKERS} workers, never restarted",
        "",
        "| replicas= | enqueues acknowledged | refused (raised) | lost (acknowledged, never ran) | ran twice | "
        "ran though refused | Sentinels named a new master after | no task finished for | workers that exited |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        failover_s = f"{run['failover_s']:.1f} s" if run["failover_s"] is not None else "n/a"
        lines.append(
            f"| {run['replicas']} | {run['acknowledged']:,} | {run['refused']:,} | {run['lost']:,} | "
            f"{run['ran_twice_or_more']:,} | {run['ran_unacknowledged']:,} | {failover_s} | {run['pause_s']:.1f} s | "
            f"{run['workers_exited']} |"
        )
    return "\n".join(lines)


# -- main --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def deployments(work: Path, wanted: set[str]) -> Iterator[tuple[dict[str, Deployment], EmbeddedRedis]]:
    """The counter's Redis and every deployment ``wanted`` needs, all stopped on the way out."""
    with contextlib.ExitStack() as stack:
        counter = stack.enter_context(EmbeddedRedis(work / "counter"))
        found: dict[str, Deployment] = {}
        stack_servers: list[LocalCluster | LocalSentinel] = []
        if "single" in wanted:
            single = stack.enter_context(EmbeddedRedis(work / "single"))
            found["single"] = Deployment("single", single.url, [_node("single", "master", single.port)])
        if "cluster" in wanted:
            cluster = stack.enter_context(LocalCluster(work / "cluster"))
            stack_servers.append(cluster)
            nodes = [_node(f"cluster-{port}", "master", port) for port in cluster.ports]
            found["cluster"] = Deployment("cluster", cluster.url, nodes)
        if "sentinel" in wanted:
            sentinel = stack.enter_context(LocalSentinel(work / "sentinel", replicas=1))
            stack_servers.append(sentinel)
            nodes = [_node("sentinel-master", "master", sentinel.master_port)]
            nodes += [_node(f"sentinel-replica-{port}", "replica", port) for port in sentinel.replica_ports]
            found["sentinel"] = Deployment("sentinel", sentinel.url, nodes)
        pids = [f"counter {counter.process.pid if counter.process else '?'}"]
        for server in stack_servers:
            pids.append(f"{type(server).__name__} {' '.join(map(str, server.pids))}")
        print("started, by PID: " + "; ".join(pids), file=sys.stderr, flush=True)
        yield found, counter


def main() -> None:
    all_setups = setups()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks per setup and run (enqueued, then drained)")
    parser.add_argument("--single", type=int, help="of those, enqueued one by one (default: a quarter)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--setups",
        type=lambda text: [name.strip() for name in text.split(",")],
        default=list(all_setups),
        help="comma-separated, from: " + ", ".join(all_setups),
    )
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where to write the numbers ({RESULTS})")
    parser.add_argument(
        "--failover",
        action="store_true",
        help="then kill -9 a Sentinel-managed master mid-run, with replicas=0 and replicas=1 (about 1 min more)",
    )
    parser.add_argument("--failover-tasks", type=int, default=3_000, help="tasks of each failover run")
    args = parser.parse_args()
    args.single = args.single if args.single is not None else args.tasks // 4
    if not 0 < args.single < args.tasks:
        parser.error("--single must be more than 0 and less than --tasks")
    unknown = [name for name in args.setups if name not in all_setups]
    if unknown:
        parser.error(f"unknown setups: {', '.join(unknown)}")
    rows = {name: all_setups[name] for name in args.setups}
    driver.stop_on_signals()
    with tempfile.TemporaryDirectory(prefix="yotaq-distributed-") as tmp:
        work = Path(tmp)
        with deployments(work, {setup.deployment for setup in rows.values()}) as (found, counter_server):
            args.counter_url = counter_server.url
            counter = redis.Redis.from_url(counter_server.url)
            first = found[next(iter(rows.values())).deployment].nodes[0]
            versions = {
                "redis": first.probe.info("server")["redis_version"],
                "venv": driver.venv_info(sys.executable),
                "yotaq": yotaq.__version__,
            }
            load_before = os.getloadavg()
            order = list(rows.values())
            for run in range(args.runs):
                print(f"run {run + 1}/{args.runs}", file=sys.stderr, flush=True)
                for setup in order[run % len(order) :] + order[: run % len(order)]:
                    try:
                        measure(setup, found[setup.deployment], counter, args, work, run)
                    except Failed as exc:
                        setup.errors.append(str(exc))
                        print(f"  {setup.name}: failed: {exc}", file=sys.stderr, flush=True)
            failovers = []
            if args.failover:
                print("failover runs", file=sys.stderr, flush=True)
                for replicas in (0, 1):
                    failovers.append(failover_run(replicas, args, counter, work))
                    print(f"  {failovers[-1]}", file=sys.stderr, flush=True)
            load_after = os.getloadavg()
            counter.close()
            for deployment in found.values():
                for node in deployment.nodes:
                    node.probe.close()
    add_ratios(rows)
    projected, projection_data = projection(rows)
    print(report(rows, args, versions, projected))
    if failovers:
        print(failover_report(failovers, args))
    document = {
        **driver.header(load_before=load_before, load_after=load_after),
        "versions": versions,
        "settings": {"tasks": args.tasks, "single": args.single, "runs": args.runs, "workers": WORKERS},
        "units": {
            "single": "tasks/s",
            "bulk": "tasks/s",
            "steady": "tasks/s",
            "ratio": "x single Redis",
            "startup": "s",
            "rcpu": "µs/task",
            "rcpu_max": "µs/task",
            "rcmd": "commands/task",
            "wcpu": "µs/task",
            "ran": "tasks",
            "shard_nodes": "masters holding the queue's shards",
        },
        "setups": [
            {
                "key": setup.key,
                "name": setup.name,
                "shards": setup.shards,
                "replicas": setup.replicas,
                "runs": setup.results,
                "median": {key: median(setup, key) for key in setup.results},
                "redis_cpu_us_per_task_by_node": setup.nodes,
                "errors": setup.errors,
            }
            for setup in rows.values()
        ],
        "projection_on_paper": projection_data,
        "failover": failovers,
    }
    driver.write_json(args.json, document)
    print(f"the run's numbers: {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
