"""`cor gov`: proposals, votes, and the parameters in force with their history."""

from __future__ import annotations

from typing import Any

import typer

from ..api import readviews
from ..app.keys import Keystore
from ..core.errors import InvalidInput
from .common import (
    ApiOption,
    DbOption,
    FromOption,
    JsonOption,
    KeysOption,
    connect,
    console,
    cor_amount,
    emit,
    handle_errors,
    json_option,
    receipt_out,
    signer,
    table,
)
from .render import when

gov_app = typer.Typer(help="Governance: propose, vote, show proposals and parameters.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(gov_app, name="gov")


@gov_app.command("propose")
@handle_errors
def propose(
    kind: str = typer.Option(..., "--kind", help="param_change, treasury_spend, bounty_funding, controller, curator"),
    title: str = typer.Option(..., "--title"),
    set_: list[str] = typer.Option([], "--set", help="NAME=VALUE (param_change; repeatable)"),
    effective_epoch: int | None = typer.Option(None, "--effective-epoch"),
    to: str | None = typer.Option(None, "--to"),
    amount: str | None = typer.Option(None, "--amount", help="COR"),
    body_json: str | None = typer.Option(None, "--body", help="Other fields as a JSON object (controller, curator, bounty)."),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Submit a proposal with its deposit; voting opens at once."""
    net = connect(db, api)
    body: dict[str, Any] = {"kind": kind, "title": title}
    if body_json:
        extra = json_option(body_json, "--body", "invalid_proposal")
        if not isinstance(extra, dict):
            raise InvalidInput("--body must be a JSON object", code="invalid_proposal")
        body.update(extra)
    if set_:
        changes: dict[str, Any] = {}
        for item in set_:
            name, sep, value = item.partition("=")
            if not sep:
                raise InvalidInput(f"--set takes NAME=VALUE, got {item!r}", code="invalid_proposal")
            if value.startswith("{"):
                changes[name] = json_option(value, f"--set {name}", "invalid_proposal")
            else:
                changes[name] = int(value) if value.isascii() and value.isdigit() else value  # "١٢" stays text: the core refuses it
        body["changes"] = changes
    if effective_epoch is not None:
        body["effective_epoch"] = effective_epoch
    if to:
        body["to"] = Keystore(keys_dir).resolve_address(to)
    if amount:
        body["amount"] = str(cor_amount(amount))
    r = net.submit(signer(keys_dir, sender), "gov.propose", body)
    pid = r["ids"][0]
    end_tick = net.read(lambda s: readviews.proposal_detail(s, pid), f"/v1/proposals/{pid}")["end_tick"]
    emit(
        {"ok": True, "proposal": pid, **r},
        as_json,
        lambda: console.print(f"[green]✓[/] proposal {pid} open for votes until tick {end_tick}"),
    )


@gov_app.command("vote")
@handle_errors
def vote(
    proposal: int = typer.Option(..., "--proposal"),
    option: str = typer.Option(..., "--option", help="yes, no, abstain, veto"),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Vote on an open proposal (once)."""
    receipt_out(
        connect(db, api).submit(signer(keys_dir, sender), "gov.vote", {"proposal": proposal, "option": option}),
        as_json,
        f"voted {option} on proposal {proposal}",
    )


@gov_app.command("show")
@handle_errors
def show(proposal: int | None = typer.Argument(None), db: str | None = DbOption, api: str | None = ApiOption, as_json: bool = JsonOption) -> None:
    """One proposal with its tally, or all proposals."""
    net = connect(db, api)
    if proposal is not None:
        data: Any = net.read(lambda s: readviews.proposal_detail(s, proposal), f"/v1/proposals/{proposal}")
        emit(data, as_json, lambda: table(f"proposal {proposal}", ["field", "value"], [[k, v] for k, v in data.items()]))
        return
    data = net.read(lambda s: readviews.proposal_list(s)["proposals"], "/v1/proposals", field="proposals")
    emit(
        data,
        as_json,
        lambda: table(
            "proposals",
            ["id", "kind", "title", "status", "yes", "no", "veto", "ends"],
            [
                [d["id"], d["kind"], d["title"], d["status"], d["tally"]["yes"], d["tally"]["no"], d["tally"]["veto"], when(d, "end_tick")]
                for d in data
            ],
        ),
    )


@gov_app.command("params")
@handle_errors
def params(db: str | None = DbOption, api: str | None = ApiOption, as_json: bool = JsonOption) -> None:
    """The parameters in force, their bounds and documentation, and every version by epoch."""
    data = connect(db, api).read(readviews.params_view, "/v1/params")
    docs = {e["name"]: e for e in data["schema"]}

    def render() -> None:
        table(
            f"parameters in force (epoch {data['epoch']})",
            ["name", "value", "bounds", "what"],
            [
                [k, v, f"[{docs[k].get('min', '')}, {docs[k].get('max', '')}]" if "min" in docs[k] else "", docs[k]["doc"]]
                for k, v in data["in_force"].items()
            ],
        )
        console.print(f"{len(data['history'])} version(s): from epochs {[h['from_epoch'] for h in data['history']]}")

    emit(data, as_json, render)
