"""Rewrite the generated block of a Markdown file: the text between a begin and an end marker (the doc scripts' shared part)."""

from __future__ import annotations

from pathlib import Path


def rewrite_block(doc: Path, begin: str, end: str, body: str, *, check: bool, script: str) -> int:
    """Put ``body`` between ``begin`` and ``end`` in ``doc`` (or, with ``check``, only say whether it is there already).

    The exit status: 0 written or up to date, 1 out of date (``check``)."""
    text = doc.read_text()
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    new = f"{head}{begin}\n{body}\n{end}{tail}"
    if check:
        print("up to date" if new == text else f"{doc.name} is out of date: run {script}")
        return 0 if new == text else 1
    doc.write_text(new)
    return 0
