"""Workflows with real workers: call, chain, depends_on (allow_failure), group, chord, cancel downstream,
retried and twice-run members, expiry, bad input, eager mode and the async twins."""

from __future__ import annotations

import asyncio
import operator
import signal
import time

import pytest
import redis.asyncio

import yotaq
from yotaq import Status

from . import tasks
from .helpers import FAST, wait_for


@pytest.fixture
def worker(spawn, queue_name):
    def start(*args: str, **env: str):
        return spawn("-m", "yotaq", "worker", "--queue", queue_name, *FAST, *args, **env)

    return start


def test_call_describes_a_task_and_options_call_carries_every_enqueue_option(queue, r):
    # Given calls described on a queue, one with options
    plain = queue.call(divmod, 7, 2)
    chosen = queue.options(job_id="step-1", retries=3, result_ttl=60).call(divmod, 9, 2)
    # Then nothing is enqueued yet, and each keeps its function, arguments and options
    assert isinstance(plain, yotaq.Call) and (plain.fn, plain.args) == (divmod, (7, 2))
    assert (chosen.options.retries, chosen.options.result_ttl, chosen.enqueue_options.job_id) == (3, 60, "step-1")
    assert not r.exists(queue.keys.pending)
    # When one is a step of a chain, then it is found by the id it was given
    queue.chain(chosen, queue.call(operator.add, (0, 0)))
    assert queue.job("step-1").status is Status.PENDING


def test_a_chain_feeds_each_result_to_the_next_step_first(queue, worker):
    # Given a chain of three steps
    last = queue.chain(queue.call(operator.add, 1, 2), queue.call(operator.mul, 10), queue.call(operator.sub, 5))
    # Then the steps after the first wait for it
    assert last.status is Status.WAITING
    # When a worker runs them, then each got the one before's result as its first argument
    worker()
    assert last.result(timeout=10) == 25


def test_depends_on_runs_once_every_parent_is_done_and_a_failed_parent_cancels_it(queue, worker, journal):
    # Given two parents, one still gated, and a dependent of both; and a dependent of a parent that fails
    gate = journal.with_suffix(".gate")
    first, second = (
        queue.enqueue(tasks.square, str(journal), 2),
        queue.enqueue(tasks.square, str(journal), 3, str(gate)),
    )
    after_both = queue.options(depends_on=[first, second.id]).enqueue(tasks.note, str(journal), "after", "both")
    failing = queue.enqueue(operator.truediv, 1, 0)
    doomed = queue.options(depends_on=[failing]).enqueue(tasks.note, str(journal), "after", "failing")
    allowed = queue.options(depends_on=[failing], allow_failure=True).enqueue(tasks.note, str(journal), "after", "ok")
    worker()
    # When the first parent is done, then the dependent still waits for the second
    assert first.result(timeout=10) == 4
    assert after_both.status is Status.WAITING
    # And once the second is done too, it runs
    gate.touch()
    after_both.result(timeout=10)
    # A failed parent cancels its dependent, whose record names it; allow_failure runs it anyway
    with pytest.raises(yotaq.JobCancelled, match=rf"parent job {failing.id} failed .ZeroDivisionError"):
        doomed.result(timeout=10)
    allowed.result(timeout=10)
    assert sorted(value for value, _ in tasks.events(journal, "after")) == ["both", "ok"]


def test_a_group_gives_its_results_in_member_order(queue, worker):
    group = queue.group([queue.call(operator.add, n, 1) for n in range(5)] + [queue.call(operator.truediv, 1, 0)])
    assert isinstance(group, yotaq.Group) and len(group.jobs) == 6
    worker()
    with pytest.raises(yotaq.JobFailed, match="ZeroDivisionError"):
        group.results(timeout=10)
    *values, failed = group.results(timeout=10, allow_failure=True)
    assert values == [1, 2, 3, 4, 5] and isinstance(failed, yotaq.JobFailed)


def test_a_chord_calls_back_once_with_the_results_in_member_order_after_a_retried_member(
    queue, worker, journal, tmp_path
):
    # Given a chord whose second member fails twice before it succeeds (retried: not final meanwhile)
    flaky = queue.options(retries=2, retry_delay=0.2).call(tasks.flaky, str(tmp_path / "flaky.txt"), 3)
    members = [queue.call(tasks.square, str(journal), n) for n in (1, 2)]
    callback = queue.chord([members[0], flaky, members[1]], queue.call(tasks.collect, str(journal)))
    # When workers run it
    worker()
    worker()
    # Then the callback gets every member's final result, in member order, once, after the retries
    assert callback.result(timeout=20) == [1, 3, 4]
    [(results, _)] = tasks.events(journal, "callback")
    assert results == "[1,3,4]"
    assert len(tasks.events(tmp_path / "flaky.txt", "try")) == 3


def test_a_chord_member_run_twice_after_a_kill_9_calls_back_once_and_not_early(queue, worker, journal):
    # Given a chord of 20 members, one of them gated, so that its worker can be killed while it runs it
    gate = journal.with_suffix(".gate")
    members = [queue.call(tasks.square, str(journal), n) for n in range(20)]
    members[7] = queue.call(tasks.square, str(journal), 7, str(gate))
    callback = queue.chord(members, queue.call(tasks.collect, str(journal)))
    doomed = worker()
    wait_for(lambda: ("7", doomed.pid) in tasks.events(journal, "start"), what="member 7 to start")
    # When that worker is killed with SIGKILL and another one takes over
    doomed.signal(signal.SIGKILL)
    survivor = worker()
    gate.touch()
    # Then member 7 ran twice, and the callback once, after every member was done
    assert callback.result(timeout=30) == [n * n for n in range(20)]
    assert [pid for value, pid in tasks.events(journal, "start") if value == "7"] == [doomed.pid, survivor.pid]
    assert len(tasks.events(journal, "callback")) == 1
    lines = journal.read_text().splitlines()
    assert [line.split()[0] for line in lines].index("callback") == len(lines) - 1
    assert queue.info().redelivered == 1


def test_a_chord_and_a_chain_ride_out_a_redis_restart_mid_run_each_step_once(spawn, own_redis, journal, queue_name):
    # Given a chord of 10 and a chain of 3 on a Redis with an append-only file, one member of each gated
    gate = journal.with_suffix(".gate")
    queue = yotaq.Queue(yotaq.connect(own_redis.url), queue_name)
    members = [queue.call(tasks.square, str(journal), n, str(gate) if n == 5 else "") for n in range(10)]
    callback = queue.chord(members, queue.call(tasks.collect, str(journal)))
    last = queue.chain(
        queue.call(tasks.square, str(journal), 20),
        queue.call(tasks.passed_on, str(journal), str(gate)),
        queue.call(abs),
    )
    running = spawn("-m", "yotaq", "worker", "--queue", queue_name, "--threads", "2", *FAST, url=own_redis.url)
    wait_for(lambda: {"5", "400"} <= {value for value, _ in tasks.events(journal, "start")}, what="both gated")
    # When Redis restarts while they run, and they finish after it is back
    own_redis.stop()
    own_redis.start()
    gate.touch()
    # Then the callback gets every result once, the chain goes on from where it was, and nothing ran twice
    assert callback.result(timeout=30) == [n * n for n in range(10)]
    assert last.result(timeout=30) == 400
    assert len(tasks.events(journal, "callback")) == 1
    started = [value for value, _ in tasks.events(journal, "start")]
    assert sorted(started) == sorted([*map(str, range(10)), "20", "400"])  # the chain's second step got 400
    code = running.stop()
    assert code == 0, running.output()[-3000:]
    queue.redis.close()


def test_a_member_failing_for_good_cancels_the_callback_unless_it_allows_failures(queue, worker):
    failing = [queue.call(operator.add, 1, 1), queue.call(operator.truediv, 1, 0)]
    cancelled = queue.chord(failing, queue.call(sum))
    allowed = queue.chord(failing, queue.options(allow_failure=True).call(repr))
    worker()
    with pytest.raises(yotaq.JobCancelled, match=r"failed .ZeroDivisionError"):
        cancelled.result(timeout=10)
    assert allowed.result(timeout=10).startswith("[2, JobFailed(")


def test_cancel_cancels_everything_downstream_each_with_the_reason(queue, worker, journal):
    # Given a chain of three and a dependent of its first step, none run yet
    first = queue.options(job_id="first").call(tasks.note, str(journal), "ran", 1)
    last = queue.chain(first, queue.call(tasks.note, str(journal), "ran"), queue.call(tasks.note, str(journal), "ran"))
    side = queue.options(depends_on=["first"]).enqueue(tasks.note, str(journal), "ran", "side")
    # When the first step is cancelled
    assert queue.job("first").cancel()
    worker()
    # Then every job downstream of it ends cancelled, naming where it began, and none ran
    for job in (last, side):
        with pytest.raises(yotaq.JobCancelled, match=r"parent job .* was cancelled"):
            job.result(timeout=10)
        assert job.status is Status.CANCELLED
    with pytest.raises(yotaq.JobCancelled, match=r"first: cancelled by Job\.cancel"):
        last.result(timeout=0)
    assert not tasks.events(journal, "ran")


def test_a_waiting_dependent_is_cancelled_at_once(queue, worker, journal):
    gate = journal.with_suffix(".gate")
    parent = queue.enqueue(tasks.square, str(journal), 2, str(gate))
    dependent = queue.options(depends_on=[parent]).enqueue(tasks.note, str(journal), "ran", "dependent")
    assert dependent.cancel()
    assert dependent.status is Status.CANCELLED
    worker()
    gate.touch()
    assert parent.result(timeout=10) == 4
    time.sleep(0.2)  # (what the worker would run next, it has had every chance to)
    assert not tasks.events(journal, "ran")


def test_everything_a_workflow_stores_expires_with_its_result_ttl_once_over(queue, r, queue_name, worker):
    # Given a chord and a chain, over
    callback = queue.chord([queue.call(operator.add, n, 1) for n in range(3)], queue.options(result_ttl=60).call(sum))
    last = queue.chain(queue.call(operator.add, 1, 1), queue.options(result_ttl=60).call(operator.mul, 2))
    worker()
    assert (callback.result(timeout=10), last.result(timeout=10)) == (6, 4)
    wait_for(lambda: not r.hlen(queue.keys.flows) and not r.hlen(queue.keys.state), what="the last outcome")
    # Then every key left of a job has a time to live, none longer than its result's
    whole = set(queue.keys.traces) | {queue.keys.shards}
    left = [key for key in r.scan_iter(match=f"{{yotaq:{queue_name}}}:*") if key.decode() not in whole]
    kinds = {key.decode().split(":")[2] for key in left}
    assert {"flow", "parents", "next", "result"} <= kinds
    assert all(0 < r.pttl(key) <= 86_400_000 for key in left)
    assert all(0 < r.pttl(key) <= 60_000 for key in (queue.keys.flow(callback.id), queue.keys.parents(callback.id)))


def test_bad_input_is_refused_at_enqueue_and_nothing_is_enqueued(queue, r):
    with pytest.raises(yotaq.ConfigurationError, match=r"calls made by queue\.call"):
        queue.chain(queue.call(divmod, 1, 1), divmod)
    with pytest.raises(yotaq.ConfigurationError, match="never enqueued"):
        queue.options(depends_on=["no-such-job"]).enqueue(divmod, 1, 1)
    with pytest.raises(yotaq.ConfigurationError, match="a cycle in depends_on: a -> b -> a"):
        queue.group(
            [
                queue.options(job_id="a", depends_on=["b"]).call(divmod, 1, 1),
                queue.options(job_id="b", depends_on=["a"]).call(divmod, 1, 1),
            ]
        )
    with pytest.raises(yotaq.ConfigurationError, match="a cycle in depends_on: self -> self"):
        queue.options(job_id="self", depends_on=["self"]).enqueue(divmod, 1, 1)
    with pytest.raises(yotaq.ConfigurationError, match="given to two jobs"):
        queue.chain(queue.options(job_id="x").call(divmod, 1, 1), queue.options(job_id="x").call(divmod))
    with pytest.raises(yotaq.ConfigurationError, match="depends_on takes jobs or job ids"):
        queue.options(depends_on=[42])
    assert not r.exists(queue.keys.pending, queue.keys.state, queue.keys.flows)


def test_a_chord_of_ten_thousand_members_calls_back_once(queue, worker):
    callback = queue.chord([queue.call(abs, -n) for n in range(10_000)], queue.call(sum))
    worker()
    assert callback.result(timeout=60) == sum(range(10_000))


def test_a_dependent_with_a_delay_waits_that_long_after_its_parent(queue, worker, journal):
    parent = queue.enqueue(tasks.started_at, str(journal))
    later = queue.options(depends_on=[parent], delay=0.5).enqueue(tasks.started_at, str(journal))
    worker()
    later.result(timeout=10)
    [(first, _), (second, _)] = tasks.events(journal, "start")
    assert float(second) - float(first) >= 0.5


def test_a_dependents_stored_message_is_signed(r, queue_name, worker):
    queue = yotaq.Queue(r, queue_name, secret="s3cret")
    last = queue.chain(queue.call(operator.add, 1, 2), queue.call(operator.mul, 3))
    parked = r.hget(queue.keys.flow(last.id), "message")
    assert parked.split(b" ")[6] != b"-"  # its signature
    worker(YOTAQ_SECRET="s3cret")
    assert last.result(timeout=10) == 9


def test_workflows_on_an_eager_queue_run_at_once(r, queue_name):
    queue = yotaq.Queue(r, queue_name, eager=True)
    assert queue.chain(queue.call(operator.add, 1, 2), queue.call(operator.mul, 10)).result() == 30
    assert queue.chord([queue.call(abs, -n) for n in range(4)], queue.call(sum)).result() == 6
    assert queue.group([queue.call(abs, -1), queue.call(abs, -2)]).results() == [1, 2]
    failed = queue.enqueue(operator.truediv, 1, 0)
    with pytest.raises(yotaq.JobCancelled, match=r"failed .ZeroDivisionError"):
        queue.options(depends_on=[failed]).enqueue(abs, -1).result()
    assert queue.options(depends_on=[failed], allow_failure=True).enqueue(abs, -1).result() == 1
    assert not list(r.scan_iter(match=f"{{yotaq:{queue_name}}}:*"))


def test_the_async_twins_enqueue_the_same_workflows(redis_url, queue_name, worker):
    async def main() -> tuple[object, ...]:
        async with yotaq.AsyncQueue.from_url(redis_url, queue_name) as aq:
            last = await aq.chain(aq.call(operator.add, 1, 2), aq.options(retries=1).call(operator.mul, 10))
            chord = await aq.chord([aq.call(abs, -n) for n in range(5)], aq.call(sum))
            group = await aq.group([aq.call(abs, -1), aq.call(abs, -2)])
            after = await aq.options(depends_on=[last]).enqueue(abs, -7)
            return (
                await last.result(timeout=10),
                await chord.result(timeout=10),
                await group.results(10),
                await after.result(timeout=10),
            )

    worker()
    assert asyncio.run(main()) == (30, 10, [1, 2], 7)


def test_yotaq_job_and_the_dashboard_job_page_show_parents_and_dependents(
    queue, queue_name, r, burst_worker, monkeypatch, redis_url, capsys
):
    import httpx

    from yotaq import cli
    from yotaq.dashboard.app import create_app

    # Given a chord of two members, not run yet
    members = [queue.options(job_id=f"m{n}").call(abs, -n) for n in (1, 2)]
    queue.chord(members, queue.options(job_id="cb").call(sum))
    monkeypatch.setenv("YOTAQ_REDIS_URL", redis_url)

    def shown(job_id: str) -> str:
        assert cli.main(["job", job_id, "--queue", queue_name]) == 0
        return capsys.readouterr().out

    # Then the callback lists its members, none over, and a member its callback
    assert (
        shown("cb") == f"job cb on {queue_name}: waiting\nparents: m1 ({queue_name}) m2 ({queue_name}) (0 of 2 over)\n"
    )
    assert shown("m1") == f"job m1 on {queue_name}: pending\ndependents: cb ({queue_name})\n"
    # And once it has run, every member is over, and the member still names its callback
    burst_worker()
    assert shown("cb").splitlines()[1:] == [f"parents: m1 ({queue_name}) m2 ({queue_name}) (2 of 2 over)", "result: 3"]
    assert shown("m2").splitlines()[1] == f"dependents: cb ({queue_name})"

    # The dashboard's job page links them, with the members done of total
    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(r, queues=[queue_name]))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.get("/job", params={"queue": queue_name, "id": "cb"})

    page = asyncio.run(get())
    assert page.status_code == 200
    assert f'href="/job?queue={queue_name}&amp;id=m1"' in page.text and "(2 of 2 over)" in page.text


def test_on_a_cluster_a_workflow_lives_in_one_slot_or_is_refused(r, queue_name):
    from yotaq.broker.flows import check_one_slot
    from yotaq.workflows import chain_nodes, plan

    # Given a sharded queue: the steps of a chain are given ids in one shard
    sharded = yotaq.Queue(r, queue_name, shards=4)
    steps = plan(sharded, chain_nodes([sharded.call(abs, -n) for n in range(8)])).steps
    assert len({step.keys for step in steps}) == 1
    check_one_slot(steps, cluster=True)
    # A workflow across two queues (or a parent in another shard) is refused on a cluster, not on one Redis
    other = yotaq.Queue(r, queue_name + "-other")
    across = plan(sharded, chain_nodes([sharded.call(abs, -1), other.call(abs, -2)])).steps
    check_one_slot(across, cluster=False)
    with pytest.raises(yotaq.ConfigurationError, match="must live in one queue"):
        check_one_slot(across, cluster=True)


@pytest.mark.parametrize("recorder", ["ack", "fail", "record_cancelled", "cancel", "async cancel"])
def test_every_recorder_of_an_outcome_tells_dependents_added_after_its_message_was_made(queue, r, redis_url, recorder):
    # Given a job leased, then a dependent of it enqueued: the job's message believes it has none
    from yotaq.broker.aio import AsyncBroker
    from yotaq.broker.leases import Ack

    broker, keys = queue.broker, queue.keys
    parent = queue.enqueue(divmod, 7, 2)
    [message] = broker.ack_and_lease(keys, "w1", [], 1).messages
    dependent = queue.options(depends_on=[parent]).enqueue(abs, -1)
    assert r.hget(keys.state, dependent.id) == b"waiting" and r.hget(keys.flows, parent.id)
    # When its outcome is recorded on that belief (each script refuses it, and is called again)
    envelope = b"x failed y"
    if recorder == "ack":
        broker.ack_and_lease(keys, "w1", [Ack(parent.id, envelope, 60_000, 1)], 0)
    elif recorder == "fail":
        ttls = {"record_ttl_ms": 60_000, "result_ttl_ms": 60_000}
        broker.fail(keys, "w1", message, parent.id, kind="failed", envelope=envelope, **ttls)
    elif recorder == "record_cancelled":
        assert broker.record_cancelled(keys, "w1", message, parent.id, envelope, 60_000)
    elif recorder == "cancel":
        assert broker.cancel(keys, parent.id, envelope, 60_000) == "active"
    else:

        async def cancel() -> str | None:
            async with redis.asyncio.from_url(redis_url) as client:
                return await AsyncBroker(client).cancel(keys, parent.id, envelope, 60_000)

        assert asyncio.run(cancel()) == "active"
    # Then the dependent was told all the same: it is on its queue, its parent's field gone
    assert r.hget(keys.state, dependent.id) == b"pending" and not r.hexists(keys.flows, parent.id)
    assert [m for m in r.lrange(keys.pending, 0, -1) if dependent.id.encode() in m]


def test_one_retry_loop_believed_sends_again_with_what_redis_holds_until_every_belief_holds():
    # The one loop that ack, fail, cancelled and cancel (blocking and async) go through: a script's
    # reply [position, actual, ...] names the beliefs that were wrong, to correct and send again
    from yotaq.broker.flows import NO_FLOW, Flow, believed, believed_async

    sent, replies = [], [[2, b"q b"], [1, b"q a", 2, b"q b q c"], 1]

    def send(flows):
        sent.append(list(flows))
        return replies.pop(0)

    assert believed(send, [NO_FLOW, Flow(after=True)]) == 1
    assert sent == [
        [NO_FLOW, Flow(after=True)],
        [NO_FLOW, Flow(True, "q b")],
        [Flow(False, "q a"), Flow(True, "q b q c")],
    ]

    async def send_async(flows):
        return send(flows)

    sent.clear()
    replies[:] = [[1, b"q a"], 0]
    assert asyncio.run(believed_async(send_async, [NO_FLOW])) == 0
    assert sent == [[NO_FLOW], [Flow(False, "q a")]]
