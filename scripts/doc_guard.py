"""Whether docs/simulate.md's generated tables are still what the code computes, in a second, without running them.

    .venv/bin/python scripts/doc_guard.py        # lists every stale table or row and the command that rewrites it

The three generated tables take 4, 5 and 25 minutes to recompute, too slow for CI. Instead each script writes, under its
table, an **inputs digest**: a sha256 of the table's text (the attack table: of each row's) together with a fingerprint
of every piece of code the numbers came from. ``tests/sim/test_doc_tables_guard.py`` recomputes the digests from today's
code and the text in the file and fails if one differs: a change to the code a table depends on, or a hand edit of a
generated cell, fails CI until the script has been run again.

The code a table depends on is found, not listed: the static import closure inside ``cor_incentives`` of the modules it
runs (every ``import``/``from ... import`` anywhere in a module, followed to the modules of the package it names), plus the
package data (``src/cor_incentives/data``) and the generating script with ``doc_block.py``. The attack registry
(``sim/attacks/__init__.py``) imports every family module to register it; those edges are not followed, so an attack row
depends on its own family's module and what that imports, and the other tables on no family they do not run (the set of
rows is checked against the registry instead). A module's fingerprint ignores comments, docstrings and blank lines
(edits that cannot move a number); any other change, formatting included, counts. Not covered: third-party packages and
the Python version (pinned by requirements.lock and the venv).
"""

from __future__ import annotations

import ast
import hashlib
import io
import re
import sys
import tokenize
from collections.abc import Iterable
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
SCRIPTS = ROOT / "scripts"
DOC = ROOT / "docs" / "simulate.md"
PACKAGE = "cor_incentives"
REGISTRY = "cor_incentives.sim.attacks"  # imports every family module only to register it
DATA = SRC / PACKAGE / "data"

# the entry modules of each table (besides, for the attack table, each row's family module)
ENTRIES = {
    "attacks": ("cor_incentives.sim.attacks.base",),
    "scenarios": ("cor_incentives.sim.report", "cor_incentives.sim.scenarios"),
    "assignment": ("cor_incentives.sim.attacks.assignment", "cor_incentives.sim.report", "cor_incentives.sim.scenarios"),
}
SCRIPT = {"attacks": "attacks_doc.py", "scenarios": "scenarios_doc.py", "assignment": "assignment_doc.py"}
MARKERS = {t: (f"<!-- {t}:generated:begin -->", f"<!-- {t}:generated:end -->") for t in SCRIPT}
LINE = re.compile(r"^<!-- inputs (?:`(?P<row>[^`]+)` )?sha256:(?P<digest>[0-9a-f]{16}) -->$")


def module_file(name: str) -> Path | None:
    base = SRC.joinpath(*name.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


def normalized(source: str) -> str:
    """The source without comments, docstrings, trailing spaces and blank lines."""
    lines = source.splitlines()
    cut: list[tuple[int, int, int, int]] = []  # (start line, start col, end line, end col), 1-based lines
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            cut.append((tok.start[0], tok.start[1], tok.end[0], tok.end[1]))
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                assert first.end_lineno is not None and first.end_col_offset is not None
                cut.append((first.lineno, first.col_offset, first.end_lineno, first.end_col_offset))
    for l0, c0, l1, c1 in sorted(cut, reverse=True):  # from the end, so earlier positions stay valid
        head, tail = lines[l0 - 1][:c0], lines[l1 - 1][c1:]
        lines[l0 - 1 : l1] = [head + tail]
    return "\n".join(s.rstrip() for s in lines if s.strip())


@cache
def imports(name: str) -> tuple[str, ...]:
    """The ``cor_incentives`` modules ``name`` imports anywhere in its body (static)."""
    path = module_file(name)
    assert path is not None, name
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            targets = [mod, *(f"{mod}.{a.name}" for a in node.names)]
        for t in targets:
            if t.split(".")[0] == PACKAGE and module_file(t) is not None:
                found.add(t)
    if name == REGISTRY:  # the registry: follow only its own code (base), not the family modules it lists
        found = {t for t in found if t == f"{REGISTRY}.base"}
    found.discard(name)
    return tuple(sorted(found))


def closure(entries: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    todo = list(entries)
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(imports(m))
    return sorted(seen)


@cache
def module_digest(name: str) -> str:
    path = module_file(name)
    assert path is not None, name
    return hashlib.sha256(normalized(path.read_text()).encode()).hexdigest()


@cache
def script_digest(table: str) -> str:
    text = "\n".join(normalized((SCRIPTS / s).read_text()) for s in (SCRIPT[table], "doc_block.py"))
    return hashlib.sha256(text.encode()).hexdigest()


@cache
def data_digest() -> str:
    h = hashlib.sha256()
    for p in sorted(DATA.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(f"{p.relative_to(DATA)}\n".encode() + p.read_bytes())
    return h.hexdigest()


def code_fingerprint(table: str, extra: Iterable[str] = ()) -> str:
    """The fingerprint of the code a table (or one attack row, with its family module in ``extra``) is computed by."""
    mods = closure([*ENTRIES[table], *extra])
    parts = [f"{m} {module_digest(m)}" for m in mods] + [f"data {data_digest()}", f"script {script_digest(table)}"]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def family_module(family: str) -> str:
    """The module that defines an attack family (the one its row depends on)."""
    from cor_incentives.sim.attacks import FAMILIES

    return type(FAMILIES[family]).__module__


def digest(table: str, text: str, family: str | None = None) -> str:
    """The inputs digest of a table's text (or of one attack row's, with ``family``): 16 hex digits of a sha256."""
    code = code_fingerprint(table, [family_module(family)] if family else [])
    return hashlib.sha256(f"{table}\n{family or ''}\n{code}\n{text}".encode()).hexdigest()[:16]


def table_line(table: str, text: str) -> str:
    return f"<!-- inputs sha256:{digest(table, text)} -->"


def with_inputs(table: str, body: str) -> str:
    """A population or assignment table's generated block as its script writes it: the table, then its inputs line."""
    return f"{body}\n\n{table_line(table, body)}"


def row_line(name: str, row: str) -> str:
    return f"<!-- inputs `{name}` sha256:{digest('attacks', row, name)} -->"


def block(table: str, doc_text: str | None = None) -> str:
    begin, end = MARKERS[table]
    text = DOC.read_text() if doc_text is None else doc_text
    return text.split(begin, 1)[1].split(end, 1)[0].strip("\n")


def split_inputs(body: str) -> tuple[list[str], list[str]]:
    """A generated block as (its text lines, its inputs lines): the inputs lines are the trailing ``<!-- inputs`` ones."""
    lines = body.strip("\n").split("\n")
    n = len(lines)
    while n and lines[n - 1].startswith("<!-- inputs"):
        n -= 1
    text = lines[:n]
    while text and text[-1] == "":
        text.pop()
    return text, lines[n:]


def stale(doc_text: str | None = None) -> list[str]:
    """Every table or attack row whose inputs digest is missing or differs from today's code and text: one message each."""
    out: list[str] = []
    for table in ("scenarios", "assignment"):
        text, inputs = split_inputs(block(table, doc_text))
        want = table_line(table, "\n".join(text))
        if inputs != [want]:
            out.append(f"{table} table: inputs digest {inputs or 'missing'} is not {want}: run scripts/{SCRIPT[table]}")
    from cor_incentives.sim.attacks import FAMILIES

    text, inputs = split_inputs(block("attacks", doc_text))
    rows = [r for r in text if r.startswith("| `")]
    pinned: dict[str, str] = {}
    for line in inputs:
        m = LINE.match(line)
        if not m or not m.group("row"):
            out.append(f"attack table: unreadable inputs line {line!r}: run scripts/attacks_doc.py")
            continue
        pinned[m.group("row")] = line
    names = [r.split("`")[1] for r in rows]
    if sorted(names) != sorted(FAMILIES):
        gone, new = sorted(set(names) - set(FAMILIES)), sorted(set(FAMILIES) - set(names))
        out.append(f"attack table: rows {gone} not registered, families {new} without a row: run scripts/attacks_doc.py")
    redo = [n for n, r in zip(names, rows, strict=True) if n in FAMILIES and pinned.get(n) != row_line(n, r)]
    if redo:
        out.append(f"attack table: {len(redo)} row(s) stale or unpinned: run scripts/attacks_doc.py --only {','.join(redo)}")
    extra = sorted(set(pinned) - set(names))
    if extra:
        out.append(f"attack table: inputs lines for rows it lacks {extra}: run scripts/attacks_doc.py")
    return out


def main() -> int:
    sys.path.insert(0, str(SRC))
    found = stale()
    for line in found:
        print(line)
    print(f"{DOC.name}: {len(found)} stale" if found else f"{DOC.name}: every generated table matches its inputs")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
