"""scripts/attacks_doc.py --only: one family's row rewritten in place, every other row as it was, the count line recounted.

Fails if --only dropped or reordered other rows, left the count line stale, wrote a row for a family the table lacks, or
left a rerun row's inputs digest (scripts/doc_guard.py) as it was or touched another row's.
"""

import importlib
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture(scope="module")
def doc():
    sys.path.insert(0, str(SCRIPTS))
    try:
        yield importlib.import_module("attacks_doc")
    finally:
        sys.path.remove(str(SCRIPTS))


def _result(name: str, verdict: str) -> dict:
    u = {"exact": False, "pass_share": 0.5, "seeds": 20, "gain_interval": [-0.1, 0.1]}
    return {
        "name": name,
        "description": "d",
        "bounds": {"epochs": {"lo": 1, "hi": 3}},
        "knobs": {"epochs": 2},
        "gain": 0.0,
        "gain_unit": "u",
        "uncertainty": u,
        "verdict": verdict,
        "summary": "s",
        "books": {"ok": True, "errors": []},
    }


def test_only_rewrites_the_named_rows_and_recounts(doc):
    a, b, c = "jit_delegation", "jit_bonding", "idle_stake"  # registered families: a row's inputs line names its family's code
    block = doc.table([_result(a, "stopped"), _result(b, "stopped"), _result(c, "undecided")])
    lines, pins = doc.split_inputs(block)
    assert lines[-1].startswith("2 stopped, 0 open, 1 undecided; every attack over seeds 1–N")
    assert [doc.LINE.match(p).group("row") for p in pins] == [a, b, c]  # one inputs line per row, in row order
    new = doc.replace_rows(f"\n{block}\n", [_result(b, "open")])
    (old_rows, old_pins), (new_rows, new_pins) = (lines, pins), doc.split_inputs(new)
    assert [r.split("`")[1] for r in new_rows[2:5]] == [a, b, c]  # order kept
    assert new_rows[2] == old_rows[2] and new_rows[4] == old_rows[4] and "**open** (50 % of resamples pass; 20 seeds)" in new_rows[3]
    assert new_rows[-1].startswith("1 stopped, 1 open, 1 undecided;")
    assert new_pins[0] == old_pins[0] and new_pins[2] == old_pins[2]  # the rows not rerun keep their inputs lines
    assert new_pins[1] != old_pins[1] and new_pins[1] == doc.row_line(b, new_rows[3])  # the rerun row's is rewritten
    assert doc.replace_rows(f"\n{block}\n", []) == block  # nothing run: the block as it was
    unpinned = "\n".join(lines)  # a table written before the inputs lines: --only pins the rows it reruns, only those
    assert doc.split_inputs(doc.replace_rows(unpinned, [_result(c, "stopped")]))[1] == [doc.row_line(c, doc.row(_result(c, "stopped")))]
    assert doc.replace_rows(unpinned, []) == unpinned
    with pytest.raises(SystemExit, match="no row yet"):
        doc.replace_rows(block, [_result("d", "stopped")])
    broken = doc.table([_result(a, "stopped")]).replace("stopped (50 %", "passed (50 %")
    with pytest.raises(SystemExit, match="no verdict cell"):
        doc.replace_rows(broken, [])


def test_the_docs_table_is_one_this_script_reads(doc):
    current = doc.DOC.read_text().split(doc.BEGIN, 1)[1].split(doc.END, 1)[0]
    assert doc.replace_rows(current, []) == current.strip("\n")  # every row's verdict recounted to the same count line
