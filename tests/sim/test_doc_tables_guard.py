"""docs/simulate.md's three generated tables are what today's code computes (scripts/doc_guard.py), checked in seconds.

The tables take 4, 5 and 25 minutes to run, so CI does not recompute them: each carries an inputs digest (its text and
the fingerprint of the code it was computed by) and ``test_the_generated_tables_match_their_inputs`` fails when either
changed since the script last wrote it. The other tests show the guard would see it: a verdict edited in a copy of the
doc, a change to a module one row runs, to the core every table runs, to a family no table but its own runs.
"""

import importlib
import re
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture(scope="module")
def guard():
    sys.path.insert(0, str(SCRIPTS))
    try:
        yield importlib.import_module("doc_guard")
    finally:
        sys.path.remove(str(SCRIPTS))


def pinned(guard, text: str) -> str:
    """The doc as the three scripts would have written it with today's code, from its tables' current text."""
    for table in ("scenarios", "assignment", "attacks"):
        body = "\n".join(guard.split_inputs(guard.block(table, text))[0])
        if table == "attacks":
            rows = [r for r in body.split("\n") if r.startswith("| `")]
            lines = [guard.row_line(r.split("`")[1], r) for r in rows]
        else:
            lines = [guard.table_line(table, body)]
            assert guard.with_inputs(table, body) == f"{body}\n\n{lines[0]}"
        begin, end = guard.MARKERS[table]
        head, rest = text.split(begin, 1)
        text = f"{head}{begin}\n{body}\n\n" + "\n".join(lines) + f"\n{end}{rest.split(end, 1)[1]}"
    return text


def test_what_the_scripts_write_is_what_the_guard_accepts(guard, tmp_path):
    """The blocks as scripts/scenarios_doc.py and assignment_doc.py write them (doc_block.rewrite_block of with_inputs)."""
    from doc_block import rewrite_block

    doc = tmp_path / "simulate.md"
    doc.write_text(pinned(guard, guard.DOC.read_text()))
    for table in ("scenarios", "assignment"):
        body = "\n".join(guard.split_inputs(guard.block(table, doc.read_text()))[0])
        assert rewrite_block(doc, *guard.MARKERS[table], guard.with_inputs(table, body), check=True, script="s") == 0
        assert rewrite_block(doc, *guard.MARKERS[table], f"{body}\n", check=False, script="s") == 0  # a script without the line
        assert f"{table} table" in guard.stale(doc.read_text())[0]
        rewrite_block(doc, *guard.MARKERS[table], guard.with_inputs(table, body), check=False, script="s")
    assert guard.stale(doc.read_text()) == []


def test_the_generated_tables_match_their_inputs(guard):
    """The guard itself: fails when a table's code changed or a generated cell was edited since its script last ran."""
    assert guard.stale() == [], "\n".join(guard.stale())


def edit(text: str, table_marker: str, old: str, new: str) -> str:
    """``old`` replaced by ``new`` once, inside the named generated block."""
    head, rest = text.split(table_marker, 1)
    assert old in rest.split("generated:end", 1)[0], old
    return head + table_marker + rest.replace(old, new, 1)


def test_an_edited_verdict_is_caught_in_each_table(guard):
    doc = pinned(guard, guard.DOC.read_text())
    assert guard.stale(doc) == []
    begin = {t: m[0] for t, m in guard.MARKERS.items()}
    scen = edit(doc, begin["scenarios"], "| PASS |", "| **FAIL** |")
    assert [m.split(":")[0] for m in guard.stale(scen)] == ["scenarios table"]
    assign = edit(doc, begin["assignment"], "| PASS |", "| **FAIL** |")
    assert [m.split(":")[0] for m in guard.stale(assign)] == ["assignment table"]
    row = next(r for r in guard.block("attacks", doc).split("\n") if r.startswith("| `jit_delegation`"))
    attacks = doc.replace(row, row.replace("| stopped (", "| **open** ("))
    assert attacks != doc
    assert guard.stale(attacks) == ["attack table: 1 row(s) stale or unpinned: run scripts/attacks_doc.py --only jit_delegation"]
    figure = re.search(r"[-+]\d+\.\d %", guard.block("scenarios", doc))  # a number, not only a verdict: the table's first one
    assert figure is not None
    number = edit(doc, begin["scenarios"], figure.group(), figure.group().replace(".", "0."))
    assert [m.split(":")[0] for m in guard.stale(number)] == ["scenarios table"]
    no_pin = doc.replace(guard.row_line("median_skew", next(r for r in guard.block("attacks", doc).split("\n") if "`median_skew`" in r)) + "\n", "")
    assert guard.stale(no_pin) == ["attack table: 1 row(s) stale or unpinned: run scripts/attacks_doc.py --only median_skew"]


@pytest.fixture
def changed(guard, monkeypatch):
    """Pretend one module's code changed (its fingerprint differs) for the rest of the test."""
    real = guard.module_digest

    def change(module: str) -> None:
        monkeypatch.setattr(guard, "module_digest", lambda m: "changed" if m == module else real(m))

    return change


def stale_tables(guard, doc: str) -> tuple[list[str], list[str]]:
    found = guard.stale(doc)
    rows = [m.split("--only ")[1].split(",") for m in found if "--only" in m]
    return [m.split(":")[0] for m in found if "--only" not in m], (rows[0] if rows else [])


def test_a_code_change_makes_exactly_the_rows_that_run_it_stale(guard, changed):
    from cor_incentives.sim.attacks import FAMILIES

    doc = pinned(guard, guard.DOC.read_text())
    changed("cor_incentives.sim.attacks.staking")  # a family module: its rows alone
    staking = [n for n, f in FAMILIES.items() if type(f).__module__ == "cor_incentives.sim.attacks.staking"]
    assert len(staking) >= 5 and stale_tables(guard, doc) == ([], staking)
    changed("cor_incentives.sim.attacks.validators")  # imported by canaries.py too: lazy_cartel's row runs it
    tables, rows = stale_tables(guard, doc)
    assert tables == [] and {"echo_validator", "collusion_49", "canary_spotting", "lazy_cartel"} <= set(rows)
    assert "jit_delegation" not in rows
    changed("cor_incentives.sim.attacks.assignment")  # the assignment table runs it
    tables, rows = stale_tables(guard, doc)
    assert tables == ["assignment table"] and set(rows) == {"assignment_grinding", "cancel_lottery"}
    changed("cor_incentives.core.fees")  # the core: everything
    tables, rows = stale_tables(guard, doc)
    assert tables == ["scenarios table", "assignment table"] and sorted(rows) == sorted(FAMILIES)
    changed("cor_incentives.sim.strategies")  # the simulator: everything
    assert stale_tables(guard, doc)[0] == ["scenarios table", "assignment table"]
    changed("cor_incentives.cli.main")  # code no table runs: nothing
    assert guard.stale(doc) == []


def test_the_script_and_the_data_are_inputs_too(guard, monkeypatch):
    doc = pinned(guard, guard.DOC.read_text())
    monkeypatch.setattr(guard, "data_digest", lambda: "other prompts")
    assert len(guard.stale(doc)) == 3
    monkeypatch.undo()
    real = guard.script_digest
    monkeypatch.setattr(guard, "script_digest", lambda t: "edited" if t == "scenarios" else real(t))
    assert [m.split(":")[0] for m in guard.stale(doc)] == ["scenarios table"]


def test_comments_docstrings_and_blank_lines_do_not_count_code_does(guard):
    src = 'def f(x):\n    """Say why."""\n    return x + 1\n'
    same = '# a comment\ndef f(x):  # trailing\n\n    """Say why, at length,\n    over two lines."""\n    return x + 1   \n'
    assert guard.normalized(src) == guard.normalized(same) == "def f(x):\n    return x + 1"
    assert guard.normalized(src) != guard.normalized(src.replace("x + 1", "x + 2"))
    assert guard.normalized('x = "# not a comment"\n') == 'x = "# not a comment"'
    assert guard.normalized('x = 1\ny = """kept: not a docstring"""\n') == 'x = 1\ny = """kept: not a docstring"""'


def test_the_closure_follows_imports_but_not_the_registry(guard):
    scen = guard.closure(guard.ENTRIES["scenarios"])
    assert "cor_incentives.core.apply" in scen and "cor_incentives.sim.runner" in scen and "cor_incentives.app.prompts" in scen
    assert not [m for m in scen if m.startswith("cor_incentives.sim.attacks.") and m != "cor_incentives.sim.attacks.base"]
    canaries = guard.closure([*guard.ENTRIES["attacks"], "cor_incentives.sim.attacks.canaries"])
    assert "cor_incentives.sim.attacks.validators" in canaries and "cor_incentives.sim.attacks.staking" not in canaries
    assert "cor_incentives.cli.main" not in canaries
