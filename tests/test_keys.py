import functools

import pytest

from yotaq import ConfigurationError
from yotaq.broker.keys import INVALIDATIONS, KINDS, FleetKeys, QueueKeys, check_name, stop_channel, watch_channel
from yotaq.serializer import MAX_ID_LENGTH


def test_workers_say_they_are_alive_once_on_one_redis_and_in_each_queue_s_slot_on_a_cluster():
    one_redis = FleetKeys.of(QueueKeys("tasks"), cluster=False)
    assert (one_redis.alive, one_redis.serves) == ("yotaq:alive", "yotaq:serves")
    assert FleetKeys.of(QueueKeys("mail"), cluster=False) == one_redis
    assert one_redis.worker("host.12.ab") == "yotaq:worker:host.12.ab"
    shard = FleetKeys.of(QueueKeys("tasks", 3), cluster=True)
    assert (shard.alive, shard.serves) == ("{yotaq:tasks#3}:alive", "{yotaq:tasks#3}:serves")
    assert [QueueKeys.parse(keys.token) for keys in QueueKeys.of("tasks", 2)] == QueueKeys.of("tasks", 2)


def test_every_key_of_a_queue_shares_one_hash_tag():
    keys = QueueKeys("tasks")
    assert keys.pending == "{yotaq:tasks}:pending"
    assert keys.active("host.12.ab") == "{yotaq:tasks}:active:host.12.ab"
    assert keys.state == "{yotaq:tasks}:state"
    assert keys.scheduled == "{yotaq:tasks}:scheduled"
    assert keys.scheduled_messages == "{yotaq:tasks}:scheduled:messages"
    assert keys.workers == "{yotaq:tasks}:workers"
    assert keys.trim == "{yotaq:tasks}:trim"
    assert keys.deliveries == "{yotaq:tasks}:deliveries"
    assert keys.jobs_of("failed") == "{yotaq:tasks}:failed"
    assert keys.messages_of("failed") == "{yotaq:tasks}:failed:messages"
    assert keys.reasons_of("failed") == "{yotaq:tasks}:failed:reasons"
    assert keys.jobs_of("dead") == "{yotaq:tasks}:dead"
    assert keys.messages_of("dead") == "{yotaq:tasks}:dead:messages"
    assert keys.reasons_of("dead") == "{yotaq:tasks}:dead:reasons"
    assert keys.result("job-1") == "{yotaq:tasks}:result:job-1"
    assert keys.enqueued("job-1") == "{yotaq:tasks}:enqueued:job-1"
    assert keys.stats == "{yotaq:tasks}:stats"
    assert keys.finished_keys == ["{yotaq:tasks}:done", "{yotaq:tasks}:cancelled", "{yotaq:tasks}:finished:jobs"]
    assert keys.marker == "{yotaq:tasks}:marker"
    assert keys.control == "{yotaq:tasks}:control"
    assert keys.schedule_keys == [
        "{yotaq:tasks}:periodic",
        "{yotaq:tasks}:periodic:timing",
        "{yotaq:tasks}:periodic:next",
        "{yotaq:tasks}:periodic:last",
        "{yotaq:tasks}:periodic:skipped",
        "{yotaq:tasks}:periodic:disabled",
    ]


def test_the_traces_of_a_queue_are_every_key_of_it_as_a_whole_but_its_shard_count():
    keys = QueueKeys("tasks")
    whole = {
        value
        for name in dir(QueueKeys)
        if isinstance(getattr(QueueKeys, name), (property, functools.cached_property))
        and not name.startswith("_")
        and name != "traces"
        for value in (getattr(keys, name) if isinstance(getattr(keys, name), list) else [getattr(keys, name)])
    }
    whole |= {key for kind in KINDS for key in keys.keys_of(kind)}
    assert set(keys.traces) == whole - {keys.shards, keys.control, keys.token}  # (a token names it: no key)
    assert len(keys.traces) == len(set(keys.traces)) == 30
    assert all(key.startswith("{yotaq:tasks}:") for key in keys.traces)
    assert {key.startswith("{yotaq:tasks#2}:") for key in QueueKeys("tasks", 2).traces} == {True}


def test_the_per_job_marker_keys_and_the_old_dead_attributes_are_gone():
    keys = QueueKeys("tasks")
    for gone in ("unique", "dead", "dead_reasons"):
        assert not hasattr(keys, gone), gone


TOO_LONG = "x" * (MAX_ID_LENGTH + 1)


@pytest.mark.parametrize(
    "name", ["", "two words", "tab\there", "new\nline", "{braces}", "half}", "{half", "café", TOO_LONG, None, 3]
)
def test_a_name_that_cannot_be_part_of_a_key_is_refused(name):
    with pytest.raises(ConfigurationError, match="invalid queue name"):
        QueueKeys(name)


def test_a_name_of_the_longest_length_allowed_is_taken():
    assert MAX_ID_LENGTH == 200
    longest = "x" * MAX_ID_LENGTH
    assert QueueKeys(longest).pending == "{yotaq:" + longest + "}:pending"
    assert check_name("job id", "a.b-c_d:e|f~g!") == "a.b-c_d:e|f~g!"


def test_a_worker_name_is_checked_too():
    with pytest.raises(ConfigurationError, match="invalid worker name"):
        QueueKeys("tasks").active("has space")


@pytest.mark.parametrize("job_id", ["has space", "café", "{x}", TOO_LONG])
def test_a_job_id_is_checked_too(job_id):
    with pytest.raises(ConfigurationError, match="invalid job id"):
        QueueKeys("tasks").result(job_id)


def test_an_executors_result_watch_listens_on_redis_s_invalidations_and_a_wake_channel_of_its_own():
    assert INVALIDATIONS == "__redis__:invalidate"
    assert watch_channel("ab12") == "yotaq:watch:ab12"
    with pytest.raises(ConfigurationError):
        watch_channel("a b")


def test_a_worker_s_stop_channel_is_named_for_it_and_checked():
    assert stop_channel("vm.12.ab") == "yotaq:stop:vm.12.ab"
    with pytest.raises(ConfigurationError):
        stop_channel("a b")
