"""The Lua scripts as text: each step written once, in an include every script that uses it declares, and
each script's KEYS named in its header as the broker builds them (``scripts.KEYS``)."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from yotaq.broker import scripts
from yotaq.broker.keys import FleetKeys, QueueKeys

LUA = Path(scripts.__file__).parent / "lua"
INCLUDES = {path.stem: path for path in sorted((LUA / "include").glob("*.lua"))}
FILES = sorted(LUA.glob("*.lua")) + list(INCLUDES.values())
DECLARED = re.compile(r"^--@include (\w+)$", re.M)
FIXED_KEY = re.compile(r"KEYS\[(\d+)\] (\w+(?:\(\w+\))?)")  # KEYS[3] state, KEYS[1] active(worker)


def code(path: Path) -> str:
    """A Lua file without its comments."""
    return re.sub(r"--.*", "", re.sub(r"--\[\[.*?\]\]", "", path.read_text(), flags=re.S))


def header(path: Path) -> str:
    return re.match(r"--\[\[(.*?)\]\]", path.read_text(), re.S)[1]  # type: ignore[index]


def defined(include: Path) -> set[str]:
    """What an include defines for others: its functions, and its constants."""
    found = re.findall(r"^local function (\w+)|^local ([A-Z_]+) =", code(include), re.M)
    return {name for pair in found for name in pair if name}


def test_every_include_a_script_uses_is_declared_in_it_and_no_other():
    # Each file (a script or an include) names with --@include each include whose functions or constants it
    # uses itself, and only those: what an include needs comes with it, pasted once into a script.
    names = {stem: defined(path) for stem, path in INCLUDES.items()}
    wrong = {}
    for path in FILES:
        text = code(path)
        used = {
            stem
            for stem, defs in names.items()
            if path != INCLUDES.get(stem)
            and any(re.search(rf"\b{name}\(" if name.islower() else rf"\b{name}\b", text) for name in defs)
        }
        declared = set(DECLARED.findall(path.read_text()))
        if used != declared:
            wrong[str(path.relative_to(LUA))] = {"undeclared": used - declared, "unused": declared - used}
    assert wrong == {}


def test_an_include_is_pasted_once_before_what_uses_it():
    # limits.lua and active.lua both need slots.lua: a script that includes both gets it once, first
    ack = scripts.SOURCES["ack"]
    assert ack.count("local function free_slot(") == 1 and ack.count("local function job_id(") == 1
    assert (
        ack.index("local function job_id(")
        < ack.index("local function free_slot(")
        < ack.index("local function leased(")
    )
    assert "--@include" not in "".join(scripts.SOURCES[name] for name in scripts.KEYS)


def roles(path: Path) -> list[tuple[int, str]]:
    """Each redis.call of a file, as '<command> <the key's name>': a key of the script's header by its name,
    one of a table (``lim.scheduled``) by its field, else as written."""
    names = dict(FIXED_KEY.findall(header(path))) if path.parent == LUA else {}
    found = []
    for number, line in enumerate(code(path).splitlines(), 1):
        call = re.search(r"redis\.call\('(\w+)', ([^,)]+)", line)
        if call:
            key = call[2].strip()
            if fixed := re.fullmatch(r"KEYS\[(\d+)\]", key):
                key = names.get(fixed[1], key).split("(")[0]
            found.append((number, f"{call[1]} {key.rsplit('.', 1)[-1]}"))
    return found


def test_one_step_one_include_no_three_commands_on_the_same_keys_are_written_twice():
    # Storing a result (DEL, RPUSH, PEXPIRE), scheduling a job (ZADD scheduled, ZADD marker, HSET ...), and
    # the like are one function each, in an include, rather than copied from script to script.
    places = defaultdict(list)
    for path in FILES:
        calls = roles(path)
        for n in range(len(calls) - 2):
            if calls[n + 2][0] - calls[n][0] <= 4:  # three calls close together: a step
                places[tuple(role for _, role in calls[n : n + 3])].append(f"{path.relative_to(LUA)}:{calls[n][0]}")
    assert {step: where for step, where in places.items() if len(where) > 1} == {}


@pytest.mark.parametrize("path", sorted(LUA.glob("*.lua")), ids=lambda path: path.name)
def test_keys_built_by_name_are_the_keys_each_scripts_header_names(path):
    # The header lists KEYS[1] ... KEYS[k] by name, k being the number in the file's name (ack-17+n.lua:
    # 17, then more for each job), and the broker builds the same ones from scripts.KEYS
    fixed = FIXED_KEY.findall(header(path))
    count = int(re.fullmatch(r".*-(\d+)(\+n)?", path.stem)[1])  # type: ignore[index]
    assert [int(index) for index, _ in fixed] == list(range(1, count + 1))
    name = path.stem.rsplit("-", 1)[0].replace("-", "_")
    assert [key for _, key in fixed] == scripts.KEYS[name].split()
    built = scripts.keys_for(
        name, QueueKeys("q"), FleetKeys("yotaq"), worker="w", job_id="j", kind="failed", list="l", zset="z"
    )
    assert len(built) == count and all(key.startswith(("{yotaq:q}:", "yotaq:")) or key in "lz" for key in built)


def test_every_script_has_its_keys_named_and_a_name_not_given_is_refused():
    assert sorted(scripts.KEYS) == sorted(path.stem.rsplit("-", 1)[0].replace("-", "_") for path in LUA.glob("*.lua"))
    with pytest.raises(KeyError):
        scripts.keys_for("ack", QueueKeys("q"))  # no worker: not a key of some worker called "worker"
