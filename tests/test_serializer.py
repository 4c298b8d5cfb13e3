"""The wire format: what travels, what is refused at enqueue, what a worker refuses to unpickle."""

import hashlib
import io
import os
import pickle
import socket
import threading
import time
import zlib

import dill
import pytest

from yotaq import InvalidMessage, SerializationError, functions, serializer
from yotaq.producing import ENQUEUE_DEFAULTS, Producer
from yotaq.serializer import PYTHON_VERSION, Task, decode, encode, message_id

from .helpers import forge

SECRET = b"s3cret"
QUEUE = "tasks"


def roundtrip(fn, *args, secret=None, **kwargs):
    task = decode(encode(Task("id1", fn, args, kwargs), secret, QUEUE), secret, QUEUE)
    return task.fn(*task.args, **task.kwargs)


def test_a_closure_and_a_lambda_travel_by_value():
    offset = 10

    def add(x, y=0):
        return x + y + offset

    assert roundtrip(add, 1, y=2) == 13
    assert roundtrip(lambda x: x * 3, 4) == 12


def test_the_header_is_readable_and_carries_the_job_id_and_when_it_expires():
    before = int(time.time())
    message = encode(Task("0123abcd", print, ("hi",), {}), None, QUEUE)
    after = int(time.time())
    assert message.startswith(b"yq1 " + PYTHON_VERSION + b" 0123abcd 0 ")
    expires, limit, signature = message.split(b" ", 7)[4:7]
    assert limit == b"-"
    assert signature == b"-"
    assert before + serializer.MESSAGE_VALIDITY_S <= int(expires) <= after + serializer.MESSAGE_VALIDITY_S
    assert message_id(message) == "0123abcd"


def test_a_bulk_enqueue_makes_the_very_messages_single_enqueues_would():
    function = functions.dumps_function(pow)
    options = {"retries": 2}
    bulk = serializer.encode_calls(function, ["id1", "id2"], [(2, 5), (3, 2)], options, SECRET, QUEUE)
    expires = int(bulk[0].split(b" ", 7)[4])
    single = [
        encode(Task(job_id, pow, args, {}, options, expires=expires), SECRET, QUEUE, function)
        for job_id, args in (("id1", (2, 5)), ("id2", (3, 2)))
    ]
    assert bulk == single
    tasks = [decode(message, SECRET, QUEUE) for message in bulk]
    assert [task.fn(*task.args) for task in tasks] == [32, 9]


def test_a_retry_re_signs_the_same_body_under_a_new_attempt():
    message = encode(Task("id1", pow, (2, 5), {}), SECRET, QUEUE)
    task = decode(message, SECRET, QUEUE)
    run_at = time.time() + 3600
    retry = serializer.with_attempt(task, serializer.message_body(message), SECRET, QUEUE, run_at)
    assert serializer.message_body(retry) == serializer.message_body(message)
    retried = decode(retry, SECRET, QUEUE)
    assert retried.attempt == 1
    assert retried.expires == int(run_at) + serializer.MESSAGE_VALIDITY_S  # valid from when it runs


def test_a_message_without_a_header_gets_an_id_from_its_bytes():
    assert message_id(b"garbage") == message_id(b"garbage")
    assert message_id(b"garbage").startswith("invalid-")


def test_a_signed_message_verifies_with_the_same_secret():
    assert roundtrip(pow, 2, 5, secret=SECRET) == 32


def test_the_signature_is_keyed_blake2b_over_the_body_then_the_header_then_the_queue():
    message = encode(Task("id1", pow, (2, 5), {}), SECRET, QUEUE)
    expires = message.split(b" ", 7)[4]
    head = b"yq1 " + PYTHON_VERSION + b" id1 0 " + expires + b" - "
    signature, body = message.removeprefix(head).split(b" ", 1)
    mac = hashlib.blake2b(body + head + QUEUE.encode(), key=SECRET, digest_size=32)
    assert signature == mac.hexdigest().encode()


def test_a_secret_longer_than_a_blake2b_key_signs_and_is_told_apart_from_another():
    long_secret = b"s" * 100
    assert roundtrip(pow, 2, 5, secret=long_secret) == 32
    with pytest.raises(InvalidMessage, match="signature does not match"):
        decode(encode(Task("id1", print, (), {}), long_secret, QUEUE), long_secret[:-1] + b"t", QUEUE)


@pytest.mark.parametrize(
    "make_offender, type_name",
    [
        (threading.Lock, "lock"),
        (threading.RLock, "RLock"),
        (socket.socket, "socket"),
        (lambda: open(__file__), "TextIOWrapper"),  # noqa: SIM115 - closed below
        (lambda: open(__file__, "rb"), "BufferedReader"),  # noqa: SIM115 - closed below
        (lambda: (n for n in range(3)), "generator"),
    ],
)
def test_what_cannot_travel_is_refused_at_enqueue_naming_its_type(make_offender, type_name):
    offender = make_offender()
    try:
        with pytest.raises(SerializationError, match=type_name):
            encode(Task("id1", print, (offender,), {}), None, QUEUE)
    finally:
        if hasattr(offender, "close"):
            offender.close()


def test_a_function_that_closes_over_a_lock_is_refused_too():
    lock = threading.Lock()

    def guarded():
        with lock:
            return 1

    with pytest.raises(SerializationError, match="lock"):
        encode(Task("id1", guarded, (), {}), None, QUEUE)


def test_in_memory_objects_still_travel():
    assert roundtrip(lambda buffer: buffer.getvalue(), io.BytesIO(b"data")) == b"data"


PRINT = dill.dumps(print)


def _uncompressed(message: bytes) -> bytes:
    """The message with its function part as the bare pickle, the way it was before compression."""
    compressed = zlib.compress(PRINT)
    return message.replace(b"%d %s" % (len(compressed), compressed), b"%d %s" % (len(PRINT), PRINT))


@pytest.mark.parametrize(
    "message, reason",
    [
        (b"\x00\x01garbage bytes", "not a yotaq message"),
        (b"", "not a yotaq message"),
        (forge(PRINT).replace(b" 0 ", b" x ", 1), "not a yotaq message"),
        (forge(PRINT, job_id=b"\xff\xfe"), "bad job id"),
        (forge(PRINT, job_id=b"{tag}"), "bad job id"),
        (forge(PRINT)[:-7], "cannot rebuild the task"),
        (forge(PRINT).replace(b" - - ", b" - - 99999 ", 1), "malformed task"),
        (forge(PRINT, pickle.dumps({"fn": print})), "malformed task"),
        (forge(PRINT, pickle.dumps(([1, 2], {}, {}))), "malformed task"),
        (forge(dill.dumps("not callable")), "malformed task"),
        (forge(b"cno_such_module_for_yotaq\nfn\n."), "cannot rebuild the task: ModuleNotFoundError"),
        (forge(PRINT, version=b"3.7"), "enqueued by Python 3.7"),
        (_uncompressed(forge(PRINT)), "cannot rebuild the task: error: Error -3 while decompressing"),
    ],
    ids=[
        "garbage", "empty", "bad-attempt", "non-ascii-id", "braces-id", "truncated", "bad-size", "dict",
        "list-args", "not-callable", "missing-module", "python-3.7", "uncompressed",
    ],
)  # fmt: skip
def test_a_bad_message_is_refused_with_its_reason(message, reason):
    with pytest.raises(InvalidMessage, match=reason):
        decode(message, None, QUEUE)


def test_with_a_secret_unsigned_and_tampered_messages_are_refused():
    signed = encode(Task("id1", print, (), {}), SECRET, QUEUE)
    with pytest.raises(InvalidMessage, match="bad signature: unsigned"):
        decode(encode(Task("id1", print, (), {}), None, QUEUE), SECRET, QUEUE)
    with pytest.raises(InvalidMessage, match="bad signature: signature does not match"):
        decode(signed[:-1] + bytes([signed[-1] ^ 1]), SECRET, QUEUE)
    with pytest.raises(InvalidMessage, match="bad signature"):
        decode(signed.replace(b"id1", b"id2"), SECRET, QUEUE)
    with pytest.raises(InvalidMessage, match="bad signature"):
        decode(signed, b"another secret", QUEUE)
    with pytest.raises(InvalidMessage, match=r"bad signature: signature does not match \(or another queue's\)"):
        decode(signed, SECRET, "another-queue")


class _CreatesFile:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_a_malicious_pickle_is_never_unpickled_by_a_worker_with_a_secret(tmp_path):
    evidence = tmp_path / "pwned"
    body = pickle.dumps(_CreatesFile(str(evidence)))
    for signature in (b"-", b"0" * 64):
        with pytest.raises(InvalidMessage, match="bad signature"):
            decode(forge(body, signature=signature), SECRET, QUEUE)
    assert not evidence.exists()
    # The same bytes do run code when unpickled: the check above is what stops it.
    with pytest.raises(InvalidMessage, match="malformed task"):
        decode(forge(body), None, QUEUE)
    assert evidence.exists()


@pytest.mark.parametrize("secret", ["", b"", 42])
def test_an_empty_or_odd_secret_is_a_configuration_error(secret):
    with pytest.raises(ValueError, match="secret"):
        serializer.as_secret(secret)


# -- caches on the hot path: safe reuse of pickled and rebuilt functions --------------------------

GREETING = "hello"
SETTINGS = {"greeting": "hello"}


def run_pickled(data, *args):
    return dill.loads(zlib.decompress(data))(*args)


def as_main(fn):
    """The function as if defined in a producer's ``__main__``: dill pickles it by value."""
    fn.__module__ = "__main__"
    return fn


def test_a_function_pickle_is_reused_while_what_it_captured_is_unchanged(monkeypatch):
    pickles = functions.FunctionPickles()
    fn = as_main(lambda name: f"{GREETING}, {name}")
    first = pickles.dumps(fn)
    assert pickles.dumps(fn) is first
    # Rebinding a global the function uses makes a new pickle, with the new value
    monkeypatch.setitem(globals(), "GREETING", "bonjour")
    second = pickles.dumps(fn)
    assert second is not first and run_pickled(second, "Ada") == "bonjour, Ada"


def test_a_function_that_captures_something_mutable_is_pickled_every_time():
    pickles = functions.FunctionPickles()
    fn = as_main(lambda name: f"{SETTINGS['greeting']}, {name}")
    before = pickles.dumps(fn)
    SETTINGS["greeting"] = "hola"
    try:
        after = pickles.dumps(fn)
        assert run_pickled(before, "Ada") == "hello, Ada" and run_pickled(after, "Ada") == "hola, Ada"
    finally:
        SETTINGS["greeting"] = "hello"


def test_closures_and_defaults_are_part_of_what_is_compared():
    pickles = functions.FunctionPickles()

    def make(suffix):
        return as_main(lambda name, punctuation="!": f"{name}{suffix}{punctuation}")

    first, second = make("-1"), make("-2")
    assert run_pickled(pickles.dumps(first), "a") == "a-1!"
    assert run_pickled(pickles.dumps(second), "a") == "a-2!"
    first.__defaults__ = ("?",)
    assert run_pickled(pickles.dumps(first), "a") == "a-1?"


def _helper():
    return GREETING


def test_what_functions_taken_along_capture_is_compared_too(monkeypatch):
    pickles = functions.FunctionPickles()
    helper = as_main(_helper)
    monkeypatch.setitem(globals(), "_helper", helper)
    fn = as_main(lambda name: f"{_helper()}, {name}")
    first = pickles.dumps(fn)
    assert pickles.dumps(fn) is first
    monkeypatch.setitem(globals(), "GREETING", "salut")  # a global of the helper, not of fn
    assert run_pickled(pickles.dumps(fn), "Ada") == "salut, Ada"


def test_a_global_that_appears_later_or_a_keyword_default_changed_in_place_makes_a_new_pickle(monkeypatch):
    pickles = functions.FunctionPickles()
    fn = as_main(lambda items, *, sep=", ": sep.join(sorted(items)))
    assert run_pickled(pickles.dumps(fn), ["b", "a"]) == "a, b"
    monkeypatch.setitem(globals(), "sorted", lambda items: list(reversed(items)))  # shadows the builtin
    assert run_pickled(pickles.dumps(fn), ["a", "b"]) == "b, a"
    fn.__kwdefaults__["sep"] = "+"
    assert run_pickled(pickles.dumps(fn), ["a", "b"]) == "b+a"


class _Doubler:
    __slots__ = ()  # no weak references to it

    def __call__(self, n):
        return 2 * n


def test_any_callable_gets_pickled_not_only_functions():
    pickles = functions.FunctionPickles()
    assert run_pickled(pickles.dumps(as_main(_Doubler)()), 4) == 8
    assert run_pickled(pickles.dumps(len), "abc") == 3


def _countdown(n):
    return [] if n == 0 else [n, *_countdown(n - 1)]


def test_a_recursive_function_pickle_is_reused():
    pickles = functions.FunctionPickles()
    countdown = as_main(_countdown)
    first = pickles.dumps(countdown)
    assert pickles.dumps(countdown) is first and run_pickled(first, 3) == [3, 2, 1]


def test_a_worker_rebuilds_a_function_once_per_distinct_pickle():
    cache = functions.FunctionCache()
    message = encode(Task("id1", as_main(lambda: 1), (), {}), None, QUEUE)
    assert decode(message, None, QUEUE, cache).fn is decode(message, None, QUEUE, cache).fn
    other = encode(Task("id2", as_main(lambda: 2), (), {}), None, QUEUE)
    assert decode(other, None, QUEUE, cache).fn() == 2


def _enqueued(producer, fn, *args):
    """What a worker of ``producer``'s queue runs from the message an enqueue of ``fn(*args)`` makes:
    its result, after every check (the signature too)."""
    _, message = producer._message(fn, args, {}, producer.defaults, ENQUEUE_DEFAULTS)
    task = decode(message, producer._secret, producer.name)
    return task.fn(*task.args, **task.kwargs)


def test_a_closure_whose_captured_value_changed_between_two_enqueues_runs_with_the_new_value():
    # Given a producer that has enqueued a closure once (its pickle, sized and signed start cached)
    producer = Producer(QUEUE, secret=SECRET, eager=True, shards=1, defaults={})
    greeting = "hello"
    fn = as_main(lambda name: f"{greeting}, {name}")
    assert _enqueued(producer, fn, "Ada") == "hello, Ada"
    # When the value in its closure's cell is rebound, and it is enqueued again
    greeting = "bonjour"
    # Then the worker runs it with the new value, from a message whose signature still holds
    assert _enqueued(producer, fn, "Ada") == "bonjour, Ada"
    greeting = "hello"  # and back: the first pickle's bytes again, signed as before
    assert _enqueued(producer, fn, "Ada") == "hello, Ada"


def test_one_function_enqueued_on_two_queues_with_two_secrets_is_signed_for_each():
    fn = as_main(lambda n: n + 1)
    producers = [Producer(name, secret=secret, eager=True, shards=1, defaults={}) for name, secret in QUEUES_SECRETS]
    for _ in range(2):  # the second time from what the first cached
        assert [_enqueued(producer, fn, 1) for producer in producers] == [2, 2, 2]
    other = producers[1]
    _, message = other._message(fn, (1,), {}, other.defaults, ENQUEUE_DEFAULTS)
    with pytest.raises(InvalidMessage, match="bad signature"):
        decode(message, SECRET, other.name)  # signed with its own secret, not this one


QUEUES_SECRETS = [("plain", None), ("signed", b"another secret"), ("tasks", SECRET)]
