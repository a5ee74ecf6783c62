"""`cor slash`: report an offence with its evidence; list slashes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ..app import views
from ..app.keys import Keystore
from ..core.slashing import OFFENCES
from .common import ApiOption, DbOption, JsonOption, KeysOption, connect, emit, handle_errors, json_option, receipt_out, signer, table

slash_app = typer.Typer(help="Slashing: report offences with evidence; list slashes.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add `cor slash` to the `cor` app."""
    app.add_typer(slash_app, name="slash")


@slash_app.command("report")
@handle_errors
def slash_report(
    node: str = typer.Option(..., "--node"),
    offence: str = typer.Option(..., "--offence", help=", ".join(OFFENCES)),
    evidence: str = typer.Option(
        ...,
        "--evidence",
        help='Evidence as a JSON object (or @file.json): equivocation {"messages": [two statements signed by the node for one '
        'scope task:<id>:precommit|reveal|report]}; a task offence {"task": <id>} (oracle).',
    ),
    sender: str | None = typer.Option(None, "--from", help="Signer, and reporter of an equivocation (default: the oracle key)."),
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Report an offence with its evidence: anyone reports equivocation; the core dates it from the evidence.

    Task offences (commit_mismatch, poi_divergence, missed_deadline, validator_deviation) are found and
    slashed by the core itself; an oracle report of one is answered from the core's record.
    """
    net = connect(db, api)
    if evidence.startswith("@"):
        evidence = Path(evidence[1:]).read_text()
    ev = json_option(evidence, "--evidence", "invalid_evidence")
    ks = Keystore(keys_dir)
    body: dict[str, Any] = {"node": ks.resolve_address(node), "offence": offence, "evidence": ev}
    key = signer(keys_dir, sender) if sender else net.oracle(keys_dir)
    r = net.submit(key, "slash.report", body)
    receipt_out(r, as_json, f"{offence} reported against {body['node']}")


@slash_app.command("list")
@handle_errors
def slash_list(db: str | None = DbOption, api: str | None = ApiOption, as_json: bool = JsonOption) -> None:
    """Every slash with its evidence hash and split."""
    data = connect(db, api).read(lambda st: [views.slash(s) for s in st.slashes], "/v1/slashes", field="slashes")
    emit(
        data,
        as_json,
        lambda: table(
            "slashes",
            ["id", "node", "offence", "total COR", "burned", "reporter", "treasury", "jailed until", "reason"],
            [
                [d["id"], d["node"], d["offence"], d["total"], d["burned"], d["to_reporter"], d["to_treasury"], d["jailed_until_tick"], d["reason"]]
                for d in data
            ],
        ),
    )


@slash_app.command("show")
@handle_errors
def slash_show(
    slash_id: int = typer.Argument(..., min=0), db: str | None = DbOption, api: str | None = ApiOption, as_json: bool = JsonOption
) -> None:
    """One slash: why, its evidence (tasks or signed statements) and hash, and what each position lost."""
    d = connect(db, api).read(lambda st: views.slash(views.get_slash(st, slash_id)), f"/v1/slashes/{slash_id}")

    def render() -> None:
        table(f"slash {d['id']} of node {d['node']}", ["field", "value"], [[k, v] for k, v in d.items() if k not in ("evidence", "by_account")])
        table("evidence", ["field", "value"], [[k, v] for k, v in d["evidence"].items()])
        table("taken from", ["position", "COR"], [[k, v] for k, v in d["by_account"].items()])

    emit(d, as_json, render)
