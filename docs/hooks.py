"""mkdocs hooks: the pages quote yotaq's own files at build time, so the quotes cannot drift.

Markers, each alone on a line of a page (indented as the block it stands for):

- ``<!-- source: yotaq/worker/stopping.py Stopping._on_signal -->``: that def, class or assignment (or several
  names, one after the other), found with ``ast`` in the file as it is now; ``<!-- source: PATH -->``
  quotes a whole file (a Lua script, say), ``<!-- source: PATH header -->`` a Lua script's opening
  ``--[[ ... ]]`` comment and ``<!-- source: PATH __doc__ -->`` a module's docstring. A name that no
  longer exists fails the build.
- ``<!-- example: docs_src/guide/results.py -->``: an example file, and under it what it prints, from the
  ``.out`` file beside it (``tests/test_docs.py`` runs every example and compares). In a ``.out`` file,
  ``[[2.4]]`` shows as ``2.4`` but matches anything (a duration, say).
- ``<!-- session: docs_src/guide/cli.console -->``: a terminal session, commands after ``$ `` and what
  each prints (``tests/test_docs.py`` runs them in order and compares); a line ``...`` stands for any lines.

The marker of a file under docs_src/ (an example, a session, a quoted file) is followed by a copy of its
blocks and closed by ``<!-- /example -->`` (``<!-- /session -->``, ``<!-- /source -->``), so the page
reads whole on a code host too; the build fails when a copy differs
from its file, and ``python docs/hooks.py sync`` (``make docs-sync``) writes the copies afresh.
- ``<!-- cli: worker -->``: ``python -m yotaq worker --help``, from the parser itself (``<!-- cli: -->`` for
  the top level: a page that has it must have every command's, or the build fails);
  ``<!-- loadtest-help -->``: ``python -m loadtest --help``.
- ``<!-- bench-table: benchmarks/results/latest.json -->``: the results table of a ``benchmarks/compare.py``
  run, from its JSON (``benchmarks/charts.py`` draws the charts from the same file);
  ``<!-- fleet-table: benchmarks/results/fleet.json -->``: the same for a ``benchmarks/fleet.py`` run, and
  ``<!-- wakeups-table: benchmarks/results/wakeups.json -->`` for a ``benchmarks/wakeups.py`` run.

Before the build, every ``docs/img/*.dot`` must have its ``.svg`` beside it, drawn from that very text
(its hash is in the SVG): ``python docs/hooks.py diagrams`` (``make diagrams``) draws them with Graphviz.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
KINDS = "source|example|session|cli|loadtest-help|bench-table|fleet-table|wakeups-table"
MARKER = re.compile(rf"^(?P<indent>[ \t]*)<!-- (?P<kind>{KINDS}):?(?P<arg>[^>]*?) ?-->[ \t]*$", re.M)
# The markers of files under docs_src/ (examples, sessions, quoted files) are followed by a copy of their
# blocks on the page, up to a closing marker; yotaq's own source is only quoted at build time.
COPIED = ("example", "session", "source")
COPY = re.compile(
    rf"^(?P<indent>[ \t]*)<!-- (?P<kind>{'|'.join(COPIED)}): (?P<arg>docs_src/[^>]*?) ?-->[ \t]*\n"
    rf"(?P<copy>.*?)^(?P=indent)<!-- /(?P=kind) -->[ \t]*$",
    re.M | re.S,
)
PLACEHOLDER = re.compile(r"\[\[(.*?)\]\]")
DIAGRAM_HASH = re.compile(r"<!-- dot sha256: ([0-9a-f]{64}) -->")
HELP_COLUMNS = "100"
LANGUAGES = {".py": "python", ".lua": "lua", ".yml": "yaml", ".yaml": "yaml", ".service": "ini"}


class QuoteError(Exception):
    """A marker that points at nothing (a file or a name that is gone)."""


# -- quoting source ------------------------------------------------------------------------------


def _find(tree: ast.AST, dotted: str) -> ast.stmt:
    """The def, class or assignment named ``dotted`` (``Class.method``) in ``tree``."""
    scope: list[ast.stmt] = list(tree.body)  # type: ignore[attr-defined]
    node: ast.stmt | None = None
    for part in dotted.split("."):
        node = None
        for candidate in scope:
            if isinstance(candidate, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = [candidate.name]
            elif isinstance(candidate, ast.Assign):
                names = [target.id for target in candidate.targets if isinstance(target, ast.Name)]
            elif isinstance(candidate, ast.AnnAssign) and isinstance(candidate.target, ast.Name):
                names = [candidate.target.id]
            else:
                continue
            if part in names:
                node = candidate
                break
        if node is None:
            raise QuoteError(f"no {dotted!r} (no {part!r}) in it")
        scope = list(getattr(node, "body", []))
    assert node is not None
    return node


def quote_python(path: Path, dotted: str) -> tuple[str, int]:
    """The source of ``dotted`` in ``path``, dedented, and its first line number."""
    text = path.read_text()
    node = _find(ast.parse(text), dotted)
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    lines = text.splitlines()[first - 1 : node.end_lineno]
    return textwrap.dedent("\n".join(lines)), first


def lua_header(text: str) -> str:
    match = re.match(r"\s*--\[\[.*?\]\]", text, re.S)
    if match is None:
        raise QuoteError("no --[[ ... ]] header at its top")
    return match.group(0).strip()


def render_source(arg: str) -> str:
    parts = arg.split()
    if not parts:
        raise QuoteError("expected <!-- source: PATH [NAME...|header] -->")
    relative = parts[0]
    path = ROOT / relative
    if not path.is_file():
        raise QuoteError(f"no file {relative}")
    language = {".py": "python", ".lua": "lua", ".yml": "yaml", ".yaml": "yaml", ".service": "ini"}.get(
        path.suffix, "text"
    )
    if len(parts) == 1:
        return f'```{language} title="{relative}"\n{path.read_text().rstrip()}\n```'
    if parts[1] == "header" and language == "lua":
        return f'```lua title="{relative} (its header)"\n{lua_header(path.read_text())}\n```'
    if parts[1:] == ["__doc__"]:  # a module's own description of itself
        docstring = ast.get_docstring(ast.parse(path.read_text()))
        if not docstring:
            raise QuoteError("it has no module docstring")
        return f'```text title="{relative}: the module\'s docstring"\n{docstring}\n```'
    if len(parts) == 2:
        code, first = quote_python(path, parts[1])
        return f'```python title="{relative}: {parts[1]}" linenums="{first}"\n{code.rstrip()}\n```'
    codes = "\n".join(quote_python(path, name)[0].rstrip() for name in parts[1:])  # several constants, say
    return f'```python title="{relative}"\n{codes}\n```'


# -- examples ------------------------------------------------------------------------------------


def shown_output(expected: str) -> str:
    """A ``.out`` file as the page shows it: ``[[x]]`` as ``x``."""
    return PLACEHOLDER.sub(lambda match: match[1], expected)


def output_pattern(expected: str) -> re.Pattern[str]:
    """A ``.out`` file as a pattern for what the example prints: ``[[x]]`` matches any text on its line."""
    lines = []
    for line in expected.rstrip("\n").split("\n"):
        if line == "...":
            lines.append(r"(?:[^\n]*\n)*?")
            continue
        pieces = PLACEHOLDER.split(line)
        lines.append("".join(re.escape(p) if i % 2 == 0 else r"[^\n]*?" for i, p in enumerate(pieces)) + r"\n")
    return re.compile("".join(lines))


def session_steps(text: str) -> list[tuple[str, str]]:
    """A ``.console`` file as (command, what it prints) pairs."""
    steps: list[tuple[str, str]] = []
    for line in text.rstrip("\n").split("\n"):
        if line.startswith("$ "):
            steps.append((line[2:], ""))
        elif steps:
            steps[-1] = (steps[-1][0], steps[-1][1] + line + "\n")
        else:
            raise QuoteError("a session must start with a command line ($ ...)")
    return steps


def render_session(arg: str) -> str:
    relative = arg.strip()
    path = ROOT / relative
    if not path.is_file():
        raise QuoteError(f"no session file {relative}")
    session_steps(path.read_text())
    return f"```console\n{shown_output(path.read_text()).rstrip()}\n```"


def render_example(arg: str) -> str:
    relative = arg.strip()
    path = ROOT / relative
    if not path.is_file() or path.suffix != ".py":
        raise QuoteError(f"no example file {relative}")
    block = f'```python title="{relative}"\n{path.read_text().rstrip()}\n```'
    out = path.with_suffix(".out")
    if out.is_file():
        block += f'\n\n```text title="what it prints"\n{shown_output(out.read_text()).rstrip()}\n```'
    return block


# -- command lines -------------------------------------------------------------------------------


def cli_parsers() -> dict[str, argparse.ArgumentParser]:
    """The parser of ``python -m yotaq`` (under ``""``) and of each of its commands, in their order."""
    sys.path.insert(0, str(ROOT))
    from yotaq.cli.parser import parser as yotaq_parser

    parser = yotaq_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {"": parser, **subparsers.choices}


def cli_help(command: str) -> str:
    """``python -m yotaq [COMMAND] --help``, as the parser prints it in a terminal 100 columns wide."""
    os.environ["COLUMNS"] = HELP_COLUMNS  # argparse reads it for its line width
    parsers = cli_parsers()
    if command not in parsers:
        raise QuoteError(f"python -m yotaq has no command {command!r}")
    return parsers[command].format_help().rstrip()


def commands_left_out(markdown: str) -> list[str]:
    """The commands of ``python -m yotaq`` without a ``<!-- cli: COMMAND -->`` on a page that shows the
    top level (``<!-- cli: -->``): such a page is the reference, and a new command must be on it."""
    shown = {match["arg"].strip() for match in MARKER.finditer(markdown) if match["kind"] == "cli"}
    return [] if "" not in shown else [command for command in cli_parsers() if command not in shown]


def loadtest_help() -> str:
    """``python -m loadtest --help``, run as a reader would run it."""
    done = subprocess.run(
        [sys.executable, "-m", "loadtest", "--help"],
        cwd=ROOT,
        env=dict(os.environ, COLUMNS=HELP_COLUMNS),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise QuoteError(f"python -m loadtest --help failed:\n{done.stderr}")
    return done.stdout.rstrip()


def bench_table(arg: str) -> str:
    path = ROOT / arg
    if not path.is_file():
        raise QuoteError(f"no {arg}: run benchmarks/compare.py (make bench)")
    return bench_table_of(json.loads(path.read_text()))


def bench_table_of(document: dict[str, Any]) -> str:
    """The results table of a ``benchmarks/compare.py`` run, made by ``benchmarks/charts.py``."""
    return str(_charts().table(document))


def fleet_table(arg: str) -> str:
    path = ROOT / arg
    if not path.is_file():
        raise QuoteError(f"no {arg}: run benchmarks/fleet.py")
    return fleet_table_of(json.loads(path.read_text()))


def fleet_table_of(document: dict[str, Any]) -> str:
    """The table of a ``benchmarks/fleet.py`` run (idle fleets), made by ``benchmarks/charts.py``."""
    return str(_charts().fleet_table(document))


def wakeups_table(arg: str) -> str:
    path = ROOT / arg
    if not path.is_file():
        raise QuoteError(f"no {arg}: run benchmarks/wakeups.py")
    return str(_charts().wakeups_table(json.loads(path.read_text())))


def _charts() -> Any:
    spec = importlib.util.spec_from_file_location("bench_charts", ROOT / "benchmarks" / "charts.py")
    assert spec is not None and spec.loader is not None
    charts = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(charts)
    return charts


def render(kind: str, arg: str) -> str:
    arg = arg.strip()
    if kind == "source":
        return render_source(arg)
    if kind == "example":
        return render_example(arg)
    if kind == "session":
        return render_session(arg)
    if kind == "cli":
        title = " ".join(["python -m yotaq", arg, "--help"]).replace("  ", " ")
        return f'```text title="{title}"\n{cli_help(arg)}\n```'
    if kind == "bench-table":
        return bench_table(arg)
    if kind == "fleet-table":
        return fleet_table(arg)
    if kind == "wakeups-table":
        return wakeups_table(arg)
    return f'```text title="python -m loadtest --help"\n{loadtest_help()}\n```'


def rendered(match: re.Match[str], where: str) -> str:
    """What the marker ``match`` stands for, indented as the marker is."""
    try:
        block = render(match["kind"], match["arg"])
    except QuoteError as exc:
        raise QuoteError(f"{where}: {match[0].splitlines()[0].strip()}: {exc}") from None
    return textwrap.indent(block, match["indent"], lambda line: True)


def stale_copies(markdown: str, where: str = "a page") -> list[str]:
    """The examples and sessions whose copy on the page is not what their file renders as."""
    return [match["arg"].strip() for match in COPY.finditer(markdown) if match["copy"] != rendered(match, where) + "\n"]


def uncopied(markdown: str) -> list[str]:
    """The examples and sessions whose marker stands alone, without the copy of its blocks."""
    copied = {match.start() for match in COPY.finditer(markdown)}
    return [m["arg"].strip() for m in MARKER.finditer(markdown) if _copied(m) and m.start() not in copied]


def _copied(marker: re.Match[str]) -> bool:
    return marker["kind"] in COPIED and marker["arg"].strip().startswith("docs_src/")


def expand(markdown: str, where: str = "a page") -> str:
    """``markdown`` with every marker (and a copy with its closing marker) replaced by what it stands for."""
    if stale := stale_copies(markdown, where):
        raise QuoteError(f"{where}: the copy of {', '.join(stale)} differs from the file (run: make docs-sync)")
    markdown = COPY.sub(lambda match: rendered(match, where), markdown)
    return MARKER.sub(lambda match: rendered(match, where), markdown)


def synced(markdown: str, where: str = "a page") -> str:
    """``markdown`` with each example's and session's copy written afresh from its file."""

    def copy(match: re.Match[str]) -> str:
        marker = match[0].splitlines()[0] if "copy" in match.groupdict() else match[0]
        closing = f"{match['indent']}<!-- /{match['kind']} -->"
        return f"{marker}\n{rendered(match, where)}\n{closing}"

    markdown = COPY.sub(copy, markdown)
    copied = [(m.start(), m.end()) for m in COPY.finditer(markdown)]
    return MARKER.sub(
        lambda m: m[0] if not _copied(m) or any(a <= m.start() < b for a, b in copied) else copy(m),
        markdown,
    )


def sync_pages() -> None:
    """Write every page's copies of its examples and sessions afresh (``make docs-sync``)."""
    for page in sorted(DOCS.rglob("*.md")):
        where = str(page.relative_to(DOCS))
        text = page.read_text()
        if (new := synced(text, where)) != text:
            page.write_text(new)
            print(f"synced docs/{where}")


# -- diagrams ------------------------------------------------------------------------------------


def dot_hash(dot: Path) -> str:
    return hashlib.sha256(dot.read_bytes()).hexdigest()


def stale_diagrams() -> list[str]:
    """The ``docs/img/*.dot`` whose ``.svg`` is missing or was drawn from other text."""
    stale = []
    for dot in sorted((DOCS / "img").glob("*.dot")):
        svg = dot.with_suffix(".svg")
        found = DIAGRAM_HASH.search(svg.read_text()) if svg.is_file() else None
        if found is None or found[1] != dot_hash(dot):
            stale.append(str(dot.relative_to(ROOT)))
    return stale


def draw_diagrams() -> None:
    """Draw every ``docs/img/*.dot`` as SVG with Graphviz, its hash inside."""
    for dot in sorted((DOCS / "img").glob("*.dot")):
        svg = subprocess.run(["dot", "-Tsvg", str(dot)], check=True, capture_output=True, text=True).stdout
        svg = svg.replace("<svg", f"<!-- dot sha256: {dot_hash(dot)} -->\n<svg", 1)
        dot.with_suffix(".svg").write_text(svg)
        print(f"drew {dot.with_suffix('.svg').relative_to(ROOT)}")


# -- mkdocs's hooks ------------------------------------------------------------------------------


def on_pre_build(config: object) -> None:
    from mkdocs.exceptions import PluginError

    if stale := stale_diagrams():
        raise PluginError(f"diagram(s) out of date with their .dot: {', '.join(stale)} (run: make diagrams)")


def on_page_markdown(markdown: str, page: object, config: object, files: object) -> str:
    from mkdocs.exceptions import PluginError

    where = getattr(getattr(page, "file", None), "src_uri", "a page")
    if left_out := commands_left_out(markdown):
        raise PluginError(f"{where}: no <!-- cli: COMMAND --> for {', '.join(left_out)}: add a section for each")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return expand(markdown, where)
    except QuoteError as exc:
        raise PluginError(str(exc)) from None


if __name__ == "__main__":
    if sys.argv[1:] == ["diagrams"]:
        draw_diagrams()
    elif sys.argv[1:] == ["sync"]:
        sync_pages()
    else:
        sys.exit("usage: python docs/hooks.py diagrams|sync")
