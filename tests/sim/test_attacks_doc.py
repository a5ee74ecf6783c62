"""scripts/attacks_doc.py --only: one family's row rewritten in place, every other row as it was, the count line recounted.

Fails if --only dropped or reordered other rows, left the count line stale, or wrote a row for a family the table lacks.
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
    block = doc.table([_result("a", "stopped"), _result("b", "stopped"), _result("c", "undecided")])
    assert block.split("\n")[-1].startswith("2 stopped, 0 open, 1 undecided; every attack over seeds 1–N")
    new = doc.replace_rows(f"\n{block}\n", [_result("b", "open")])
    old_rows, new_rows = block.split("\n"), new.split("\n")
    assert [r.split("`")[1] for r in new_rows[2:5]] == ["a", "b", "c"]  # order kept
    assert new_rows[2] == old_rows[2] and new_rows[4] == old_rows[4] and "**open** (50 % of resamples pass; 20 seeds)" in new_rows[3]
    assert new_rows[-1].startswith("1 stopped, 1 open, 1 undecided;")
    assert doc.replace_rows(f"\n{block}\n", []) == block  # nothing run: the block as it was
    with pytest.raises(SystemExit, match="no row yet"):
        doc.replace_rows(block, [_result("d", "stopped")])
    broken = doc.table([_result("a", "stopped")]).replace("stopped (50 %", "passed (50 %")
    with pytest.raises(SystemExit, match="no verdict cell"):
        doc.replace_rows(broken, [])


def test_the_docs_table_is_one_this_script_reads(doc):
    current = doc.DOC.read_text().split(doc.BEGIN, 1)[1].split(doc.END, 1)[0]
    assert doc.replace_rows(current, []) == current.strip("\n")  # every row's verdict recounted to the same count line
