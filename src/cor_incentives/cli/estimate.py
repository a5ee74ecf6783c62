"""`cor estimate`: expected COR per epoch for a new node's self-bond or a delegation, from the recent epochs."""

from __future__ import annotations

from typing import Any

import typer

from ..app.chooser import DEFAULT_WINDOW_EPOCHS, check_window, estimate_delegation, estimate_operator
from ..app.keys import Keystore
from ..core.errors import InvalidInput
from .common import ApiOption, DbOption, JsonOption, KeysOption, connect, cor_amount, emit, err_console, handle_errors, table
from .nodes import percent_bps


def register(app: typer.Typer) -> None:
    """Add `cor estimate` to the `cor` app."""
    app.command("estimate")(estimate)


@handle_errors
def estimate(
    role: str | None = typer.Option(None, "--role", help="A new node of this role (miner or validator), with --self-bond."),
    self_bond: str | None = typer.Option(None, "--self-bond", help="COR the new node bonds."),
    delegate: str | None = typer.Option(None, "--delegate", help="A delegation to this node (address or key name), with --amount."),
    amount: str | None = typer.Option(None, "--amount", help="COR to delegate."),
    window: int = typer.Option(DEFAULT_WINDOW_EPOCHS, "--window", help="Learn from the last N closed epochs."),
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Expected COR per epoch (and per year) for a stake, from the recent epochs, with the formula and the assumptions."""
    check_window(window)
    if role is not None and self_bond is not None and delegate is None and amount is None:
        bond = cor_amount(self_bond, "self-bond")
        data = connect(db, api).read(
            lambda s: estimate_operator(s, role, bond, window), "/v1/estimate", {"role": role, "self_bond": self_bond, "window": window}
        )
    elif delegate is not None and amount is not None and role is None and self_bond is None:
        value = cor_amount(amount, "amount")
        node = Keystore(keys_dir).resolve_address(delegate)
        data = connect(db, api).read(
            lambda s: estimate_delegation(s, node, value, window), "/v1/estimate", {"node": node, "amount": amount, "window": window}
        )
    else:
        raise InvalidInput("give --role ROLE --self-bond X (a new node) or --delegate NODE --amount X (a delegation)", code="invalid_estimate")
    emit(data, as_json, lambda: render(data))


def render(d: dict[str, Any]) -> None:
    what = f"a new {d['role']} bonding {d['self_bond']} COR" if d["kind"] == "operator" else f"{d['amount']} COR delegated to {d['node']}"
    rows = [[k.replace("_", " "), v] for k, v in d["per_epoch"].items()]
    rows += [["per year", d["per_year"]], ["APR", percent_bps(d["apr_bps"])]]
    table(f"expected COR per epoch for {what}", ["", "COR"], rows)
    table("how", ["", ""], [["formula", d["formula"]], ["assumptions", "\n".join(f"• {a}" for a in d["assumptions"])]])
    for w in d.get("warnings", []):
        err_console.print(f"[yellow]warning[/]: {w}")
