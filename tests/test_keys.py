import pytest

from yotaq import ConfigurationError
from yotaq.keys import QueueKeys


def test_every_key_of_a_queue_shares_one_hash_tag():
    keys = QueueKeys("tasks")
    assert keys.pending == "{yotaq:tasks}:pending"
    assert keys.active("host.12.ab") == "{yotaq:tasks}:active:host.12.ab"
    assert keys.workers == "{yotaq:tasks}:workers"
    assert keys.heartbeats == "{yotaq:tasks}:heartbeats"
    assert keys.deliveries == "{yotaq:tasks}:deliveries"
    assert keys.dead == "{yotaq:tasks}:dead"
    assert keys.dead_reasons == "{yotaq:tasks}:dead:reasons"
    assert keys.stats == "{yotaq:tasks}:stats"


@pytest.mark.parametrize("name", ["", "two words", "tab\there", "new\nline", "{braces}", "half}", None, 3])
def test_a_name_that_cannot_be_part_of_a_key_is_refused(name):
    with pytest.raises(ConfigurationError, match="invalid queue name"):
        QueueKeys(name)


def test_a_worker_name_is_checked_too():
    with pytest.raises(ConfigurationError, match="invalid worker name"):
        QueueKeys("tasks").active("has space")
