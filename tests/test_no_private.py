"""yotaq uses its dependencies through their public API only: their private names (``_name``) change
without notice from one release to the next (STYLE.md). Read from yotaq's source with ``ast``, nothing run."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "yotaq"

# The standard library's documented names that start with an underscore.
PUBLIC_UNDERSCORED = {"_asdict", "_exit", "_field_defaults", "_fields", "_make", "_replace"}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _dependency(module: str | None) -> bool:
    """A module of a package yotaq depends on, not of yotaq or the standard library."""
    top = (module or "").partition(".")[0]
    return bool(top) and top != "yotaq" and top not in sys.stdlib_module_names


def _from_dependencies(tree: ast.Module) -> set[str]:
    """The names a module binds by importing from its dependencies (``redis``, ``Script``, ...)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {(a.asname or a.name).partition(".")[0] for a in node.names if _dependency(a.name)}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _dependency(node.module):
            names |= {a.asname or a.name for a in node.names}
    return names


def _chain(node: ast.expr) -> list[str]:
    """``a.b.c`` as ``["a", "b", "c"]``; empty when it is not rooted at a plain name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return [node.id, *reversed(parts)] if isinstance(node, ast.Name) else []


def _derives_from_dependency(node: ast.ClassDef, dependency_names: set[str]) -> bool:
    return any((_chain(base) or [""])[0] in dependency_names for base in node.bases)


def yotaqs_own(trees: dict[Path, ast.Module]) -> set[str]:
    """The underscored names yotaq defines: its functions, classes, module and class attributes, and
    the attributes its classes set on ``self``, except in a class derived from a dependency's (where
    such an attribute may be the dependency's own)."""
    own: set[str] = set()
    for tree in trees.values():
        dependency_names = _from_dependencies(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                own.add(node.name)
            if isinstance(node, ast.alias):
                own.add(node.asname or node.name.rpartition(".")[2])
        for scope in [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef))]:
            for statement in scope.body:
                targets = statement.targets if isinstance(statement, ast.Assign) else []
                if isinstance(statement, ast.AnnAssign):
                    targets = [statement.target]
                own |= {target.id for target in targets if isinstance(target, ast.Name)}
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            if _derives_from_dependency(cls, dependency_names):
                continue
            for node in ast.walk(cls):
                if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and _chain(node)[:1] == ["self"]:
                    own.add(node.attr)
    return {name for name in own if _private(name)}


def problems(trees: dict[Path, ast.Module]) -> Iterator[str]:
    """Each use of a dependency's private name, as ``path:line: what``."""
    own = yotaqs_own(trees) | PUBLIC_UNDERSCORED
    for path, tree in trees.items():
        dependency_names = _from_dependencies(tree)
        for node in ast.walk(tree):
            where = f"{path}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if _dependency(alias.name) and any(map(_private, alias.name.split("."))):
                        yield f"{where}: imports {alias.name}"
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and _dependency(node.module):
                module = node.module or ""
                if any(map(_private, module.split("."))):
                    yield f"{where}: imports from {module}"
                for alias in node.names:
                    if _private(alias.name):
                        yield f"{where}: imports {alias.name} from {module}"
            elif isinstance(node, ast.Attribute):
                chain = _chain(node)
                if chain[:1] and chain[0] in dependency_names and any(map(_private, chain[1:])):
                    yield f"{where}: {'.'.join(chain)}"
                elif _private(node.attr) and node.attr not in own:
                    yield f"{where}: .{node.attr}, which yotaq does not define"
            elif isinstance(node, ast.Call) and (name := _attribute_named(node)) and name not in own:
                yield f"{where}: {ast.unparse(node.func)}(..., {name!r}), which yotaq does not define"


def _attribute_named(call: ast.Call) -> str | None:
    """The private name ``getattr(obj, "_name")`` (or ``setattr``, ``hasattr``, ``delattr``) asks for."""
    if not (isinstance(call.func, ast.Name) and call.func.id in ("getattr", "setattr", "hasattr", "delattr")):
        return None
    name = call.args[1] if len(call.args) > 1 else None
    if isinstance(name, ast.Constant) and isinstance(name.value, str) and _private(name.value):
        return name.value
    return None


def _parse(sources: dict[str, str]) -> dict[Path, ast.Module]:
    return {Path(name): ast.parse(text) for name, text in sources.items()}


def test_yotaq_uses_no_private_name_of_its_dependencies() -> None:
    trees = {path.relative_to(SOURCE.parent): ast.parse(path.read_text()) for path in sorted(SOURCE.rglob("*.py"))}
    assert len(trees) > 30
    assert list(problems(trees)) == []


@pytest.mark.parametrize(
    "source",
    [
        "from dill._dill import MetaCatchingDict",
        "import dill._dill",
        "import dill\nx = dill._dill.MetaCatchingDict",
        "from redis._parsers import _RESP2Parser",
        "from redis.connection import _HiredisParser",
        "import redis\nparser = redis._parsers",
        "def f(connection):\n    return connection._sock",
        "def f(connection):\n    connection._sock.settimeout(1)",
        "def f(connection):\n    return getattr(connection, '_sock', None)",
        "import redis\nclass C(redis.Redis):\n    def f(self):\n        self._sock = None\n        return self._sock",
    ],
)
def test_the_check_finds_a_private_name_that_comes_back(source: str) -> None:
    assert list(problems(_parse({"yotaq/x.py": source}))), source


@pytest.mark.parametrize(
    "source",
    [
        "class C:\n    def __init__(self):\n        self._client = 1\n\n"
        "    def f(self, other):\n        return other._client",
        "import os\nos._exit(1)",
        "def f(point):\n    return point._replace(x=1)",
        "import dill\nclass P(dill.Pickler):\n    def _save(self):\n        return self._save",
    ],
)
def test_the_check_leaves_yotaqs_own_names_alone(source: str) -> None:
    assert list(problems(_parse({"yotaq/x.py": source}))) == []
