"""`cor model`, `cor quote`, `cor session`, `cor task`: the inference market from the command line."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import typer

from ..ai.tokens import count_tokens
from ..api import readviews
from ..app import views
from ..app.archive import MODEL_STATES, get_session, get_task
from ..app.keys import Keystore
from ..app.prompts import load_prompt_set, next_network_prompt
from ..core.errors import Conflict, InvalidInput
from ..core.rules import RULES_MODEL_BOND, RULES_SESSION_BOUND
from ..core.units import format_cor
from .common import (
    ApiOption,
    DbOption,
    FromOption,
    JsonOption,
    KeysOption,
    Net,
    connect,
    console,
    cor_amount,
    emit,
    err_console,
    get_blob,
    handle_errors,
    receipt_out,
    signer,
    table,
)

model_app = typer.Typer(help="Model marketplace: register (a deposit from rule 25), retire, show and list models.", no_args_is_help=True)
session_app = typer.Typer(help="User sessions: open with a deposit, top up, close.", no_args_is_help=True)
task_app = typer.Typer(help="Inference tasks: submit, show, list; network tasks (oracle).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the market commands to the `cor` app."""
    app.add_typer(model_app, name="model")
    app.add_typer(session_app, name="session")
    app.add_typer(task_app, name="task")
    app.command("quote")(quote)


@model_app.command("register")
@handle_errors
def model_register(
    model_id: str = typer.Option(..., "--id"),
    parameter_count: int = typer.Option(..., "--parameter-count"),
    quantization: str = typer.Option(..., "--quantization"),
    context_length: int = typer.Option(..., "--context-length"),
    license_: str = typer.Option("apache-2.0", "--license"),
    content_hash: str | None = typer.Option(None, "--content-hash", help="sha256 of the weights (0x…)"),
    weights: Path | None = typer.Option(None, "--weights", help="Weights file; its sha256 is the content hash."),
    parent: str | None = typer.Option(None, "--parent", help="Base model of a fine-tune."),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """List a model (the signer is its owner and earns its royalties). From rule 25 the listing locks
    model_listing_deposit_units (10 COR at genesis) from the signer's wallet until `cor model retire`."""
    if weights is not None:
        if not weights.is_file():
            raise InvalidInput(f"weights file {weights} does not exist", code="invalid_model")
        content_hash = "0x" + hashlib.sha256(weights.read_bytes()).hexdigest()
    if content_hash is None:
        raise InvalidInput("give --content-hash or --weights", code="invalid_model")
    net = connect(db, api)
    body: dict[str, Any] = {
        "id": model_id,
        "parameter_count": parameter_count,
        "quantization": quantization,
        "context_length": context_length,
        "license": license_,
        "content_hash": content_hash,
    }
    if parent:
        body["parent"] = parent
    deposit = model_listing_deposit(net)
    locked = f" ({format_cor(deposit)} COR locked in escrow:model:{model_id} until `cor model retire`)" if deposit else ""
    receipt_out(net.submit(signer(keys_dir, sender), "model.register", body), as_json, f"model {model_id} registered{locked}")


def model_listing_deposit(net: Net) -> int:
    """The deposit ``model.register`` locks under the rules in force (``model_listing_deposit_units`` from rule 25, else 0)."""
    in_force = net.read(readviews.params_view, "/v1/params")["in_force"]
    return int(in_force["model_listing_deposit_units"]) if int(in_force["rule_version"]) >= RULES_MODEL_BOND else 0


@model_app.command("retire")
@handle_errors
def model_retire(
    model_id: str = typer.Argument(..., help="The model's id."),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Retire a model you own (rule 25): its listing deposit returns to your wallet, no new task or fine-tune may name it,
    and it leaves the live state at the first epoch close at which no open task names it and (rule 26, which accepts the
    retire while others' fine-tunes name the model) no live fine-tune names it as its parent."""
    net = connect(db, api)
    receipt_out(
        net.submit(signer(keys_dir, sender), "model.retire", {"model": model_id}), as_json, f"model {model_id} retired (its listing deposit returned)"
    )


@model_app.command("show")
@handle_errors
def model_show(
    model_id: str,
    at_tick: int | None = typer.Option(
        None, "--at-tick", min=0, help="The listing in force at this tick (an id retired and registered again has several)."
    ),
    db: str | None = DbOption,
    api: str | None = ApiOption,
    as_json: bool = JsonOption,
) -> None:
    """A model's card and owner, and whether it is listed, retiring or retired (a retired one is read from the database),
    and every listing of its id (a retired id may be registered again); --at-tick reads the one in force at a tick."""
    data = connect(db, api).read(lambda s: readviews.model_view(s, model_id, at_tick), f"/v1/models/{model_id}", params={"at_tick": at_tick})
    listings = lambda: ", ".join(  # noqa: E731
        f"{x['registered_tick']}-{x['retired_tick'] if x['retired_tick'] is not None else ''} {x['owner']}" for x in data["listings"]
    )
    emit(
        data,
        as_json,
        lambda: table(
            f"model {model_id}",
            ["field", "value"],
            [[k, v] for k, v in data.items() if k != "listings"] + [["listings (ticks registered-retired, owner)", listings()]],
        ),
    )


@model_app.command("list")
@handle_errors
def model_list(
    state: str = typer.Option(
        "live", "--state", help="live (the default), retired (rule 25: listings that retired and left, read from the database) or all."
    ),
    limit: int | None = typer.Option(
        None,
        "--limit",
        min=1,
        max=readviews.MAX_MODEL_PAGE,
        help=f"At most this many (default: every live model; {readviews.MODEL_PAGE} with --state retired or all).",
    ),
    after: str | None = typer.Option(None, "--after", help="Only listings with a larger key <id>@<registered tick>: the page before's last."),
    db: str | None = DbOption,
    api: str | None = ApiOption,
    as_json: bool = JsonOption,
) -> None:
    """Every live model (a retiring one among them); --state retired or all lists the listings that retired and left the
    live state too (an id registered again once per listing), a page at a time (--limit, --after)."""
    if state not in MODEL_STATES:
        raise InvalidInput(f"--state must be one of {', '.join(MODEL_STATES)}, got {state!r}", code="invalid_model_state")
    params = {"state": state if state != "live" else None, "limit": limit, "after": after}
    page = connect(db, api).read(lambda s: readviews.model_list(s, state, limit, after), "/v1/models", params=params)
    data = page["models"]
    emit(
        data,
        as_json,
        lambda: table(
            "models" if state == "live" else f"models ({state})",
            ["id", "tier", "work tier", "parameters", "quant", "context", "owner", "parent", "registered", "state"],
            [
                [d["id"], d["tier"], d["work_tier"] + ("" if d["listed"] else " (not listed)"), d["parameter_count"], d["quantization"]]
                + [d["context_length"], d["owner"], d["parent"] or "", d["registered_tick"]]
                + [d["state"] + (f" at {d['retired_tick']}" if d["retired_tick"] is not None else "")]
                for d in data
            ],
        ),
    )
    if page["next_after"] is not None:
        err_console.print(f"more: the next page is --after {page['next_after']}")


@handle_errors
def quote(
    model: str = typer.Option(..., "--model"),
    input_tokens: int = typer.Option(..., "--input-tokens"),
    max_output_tokens: int = typer.Option(..., "--max-output-tokens"),
    redundancy: int | None = typer.Option(None, "--redundancy"),
    db: str | None = DbOption,
    api: str | None = ApiOption,
    as_json: bool = JsonOption,
) -> None:
    """The price of a task, with every input of the formula."""
    params = {"model": model, "input_tokens": input_tokens, "max_output_tokens": max_output_tokens, "redundancy": redundancy}
    data = connect(db, api).read(lambda s: readviews.quote_view(s, model, input_tokens, max_output_tokens, redundancy), "/v1/quote", params)
    units = lambda k: format_cor(int(data[k]))  # noqa: E731
    ratio = lambda k: f"{int(data[k]) / 1e9:g}"  # noqa: E731
    emit(
        data,
        as_json,
        lambda: table(
            f"quote: {model}",
            ["term", "value"],
            [
                ["tier", data["tier"]],
                ["base fee per miner", units("base_fee_units")],
                ["input", f"{input_tokens} × {units('input_price_per_token_units')}"],
                ["output", f"{max_output_tokens} × {units('output_price_per_token_units')}"],
                ["quantization factor", ratio("quantization_factor_ppb")],
                ["context factor", ratio("context_factor_ppb")],
                ["per miner", units("per_miner_units")],
                ["redundancy", data["redundancy"]],
                ["validation fee", units("validation_fee_units")],
                ["price factor", ratio("price_factor_ppb")],
                ["[bold]total[/]", f"[bold]{units('total_units')} COR[/]"],
            ],
        ),
    )


def minimum_session_deposit(net: Net) -> int:
    """The least deposit ``session.open`` takes under the rules in force (``session_min_deposit_units`` from rule 24)."""
    in_force = net.read(readviews.params_view, "/v1/params")["in_force"]
    return int(in_force["session_min_deposit_units"]) if int(in_force["rule_version"]) >= RULES_SESSION_BOUND else 0


@session_app.command("open")
@handle_errors
def session_open(
    deposit: str | None = typer.Option(
        None, "--deposit", help="COR to lock in the session (default: the governed minimum session_min_deposit_units, 1 COR at genesis)."
    ),
    redundancy: int | None = typer.Option(None, "--redundancy"),
    validators: int | None = typer.Option(None, "--validators"),
    mode: str = typer.Option("ephemeral", "--mode"),
    nodes: int | None = typer.Option(None, "--nodes", help="Dedicated miners to reserve (mode dedicated)."),
    model: str | None = typer.Option(None, "--model", help="Model the dedicated miners must serve."),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Open a session with a deposit (validators: at least the governed minimum; dedicated: a fee per reserved miner)."""
    net = connect(db, api)
    units = cor_amount(deposit, "deposit") if deposit is not None else minimum_session_deposit(net)
    body: dict[str, Any] = {"deposit": str(units), "mode": mode}
    for k, v in (("redundancy", redundancy), ("validators", validators), ("nodes", nodes), ("model", model)):
        if v is not None:
            body[k] = v
    r = net.submit(signer(keys_dir, sender), "session.open", body)
    sid = r["ids"][0]
    emit({"ok": True, "session": sid, **r}, as_json, lambda: console.print(f"[green]✓[/] session {sid} opened (event {r['seq']})"))


@session_app.command("deposit")
@handle_errors
def session_deposit(
    session: int = typer.Option(..., "--session"),
    amount: str = typer.Option(..., "--amount"),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Add COR to a session's deposit."""
    r = connect(db, api).submit(signer(keys_dir, sender), "session.deposit", {"session": session, "amount": str(cor_amount(amount))})
    receipt_out(r, as_json, f"deposited {amount} COR into session {session}")


@session_app.command("close")
@handle_errors
def session_close(
    session: int = typer.Option(..., "--session"),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Close a session; the remaining deposit returns to the wallet."""
    r = connect(db, api).submit(signer(keys_dir, sender), "session.close", {"session": session})
    receipt_out(r, as_json, f"session {session} closed")


@session_app.command("show")
@handle_errors
def session_show(session: int, db: str | None = DbOption, api: str | None = ApiOption, as_json: bool = JsonOption) -> None:
    """A session's settings and deposit."""
    data = connect(db, api).read(lambda s: views.session(s, get_session(s, session)), f"/v1/sessions/{session}")
    emit(data, as_json, lambda: table(f"session {session}", ["field", "value"], [[k, v] for k, v in data.items()]))


@task_app.command("submit")
@handle_errors
def task_submit(
    session: int = typer.Option(..., "--session"),
    model: str = typer.Option(..., "--model"),
    prompt: str | None = typer.Option(None, "--prompt"),
    prompt_file: Path | None = typer.Option(None, "--prompt-file"),
    input_tokens: int | None = typer.Option(
        None,
        "--input-tokens",
        help="The most input tokens you pay for (the validators count them; default: the prompt's count with the model's tokenizer).",
    ),
    max_output_tokens: int = typer.Option(128, "--max-output-tokens"),
    router: str | None = typer.Option(None, "--router"),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Submit an inference task: the quote at max_output_tokens is escrowed; its miners are drawn by the next tick's beacon value."""
    if (prompt is None) == (prompt_file is None):
        raise InvalidInput("give exactly one of --prompt or --prompt-file", code="invalid_prompt")
    text = prompt if prompt is not None else prompt_file.read_text()  # type: ignore[union-attr]
    if not text.strip():
        raise InvalidInput("the prompt is empty", code="invalid_prompt")
    data = text.encode("utf-8")
    net = connect(db, api)
    body: dict[str, Any] = {
        "session": session,
        "model": model,
        "prompt_hash": "0x" + hashlib.sha256(data).hexdigest(),
        "prompt_bytes": len(data),
        "input_tokens": input_tokens or count_tokens(text),
        "max_output_tokens": max_output_tokens,
    }
    if router:
        body["router"] = Keystore(keys_dir).resolve_address(router)
    r = net.submit(signer(keys_dir, sender), "task.submit", body)
    net.put_blob(data)
    tid = r["ids"][0]
    t = net.read(lambda s: views.task(s, get_task(s, tid)), f"/v1/tasks/{tid}")
    miners = [m["miner"] for m in t["miners"]]
    drawn = f"miners {', '.join(m[:10] for m in miners)}" if miners else "miners drawn at the next tick"
    emit(
        {"ok": True, "task": tid, "state": t["state"], "escrowed": t["escrowed"], "miners": miners, **r},
        as_json,
        lambda: console.print(f"[green]✓[/] task {tid} submitted: {t['escrowed']} COR escrowed, {drawn}"),
    )


@task_app.command("cancel")
@handle_errors
def task_cancel(
    task: int,
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Cancel a task before its miners are drawn (the next tick draws them); the whole escrow returns to the session."""
    r = connect(db, api).submit(signer(keys_dir, sender), "task.cancel", {"task": task})
    receipt_out(r, as_json, f"task {task} cancelled")


@task_app.command("network")
@handle_errors
def task_network(
    model: str = typer.Option(..., "--model"),
    prompt_id: str | None = typer.Option(None, "--prompt-id"),
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Issue a network task (oracle): its prompt is the one the beacon composed from the genesis prompt set
    (shown by `cor status --json` as network_prompt); on a network without a prompt set, from the bundled set."""
    net = connect(db, api)
    key = net.oracle(keys_dir)
    text, label, max_out = next_network_prompt(net.local_engine.state, load_prompt_set(), prompt_id)
    data = text.encode()
    h = net.put_blob(data)
    r = net.submit(
        key,
        "task.network",
        {
            "model": model,
            "prompt_hash": h,
            "prompt_bytes": len(data),
            "input_tokens": count_tokens(text),
            "max_output_tokens": max_out,
        },
    )
    tid = r["ids"][0]
    emit({"ok": True, "task": tid, "prompt_id": label, **r}, as_json, lambda: console.print(f"[green]✓[/] network task {tid} ({label})"))


@task_app.command("show")
@handle_errors
def task_show(task: int, db: str | None = DbOption, api: str | None = ApiOption, as_json: bool = JsonOption) -> None:
    """A task: state, assignments, PoI distances, quality, payments; a settled user task's fee: who got what of its price."""
    data = connect(db, api).read(lambda s: views.task(s, get_task(s, task)), f"/v1/tasks/{task}")

    def render() -> None:
        console.print(
            f"task {task} [bold]{data['state']}[/] {data['failure'] or ''} · model {data['model']} · "
            f"escrowed {data['escrowed']} · charged {data['charged']} · refunded {data['refunded']}"
        )
        if data.get("threshold_ppb") is not None:  # the spread rule: why an output is in or out
            console.print(
                f"PoI threshold {data['threshold_ppb'] / 1e9:.3f} from the validators' median spread {data['spread_ppb'] / 1e9:.3f} "
                "(in consensus: distance ≤ threshold and quality ≥ the floor)"
            )
        table(
            "miners",
            ["miner", "precommit", "reveal", "distance", "quality", "consensus", "paid"],
            [
                [
                    m["miner"],
                    m["precommitted"],
                    "mismatch" if m["mismatch"] else m["revealed"],
                    m["poi_distance_ppb"],
                    m["quality_ppb"],
                    m["in_consensus"],
                    m["paid"],
                ]
                for m in data["miners"]
            ],
        )
        # rule 32 (RULES_PANEL_WEIGHTS): each reporting validator's weight in the consensus (its stake at settlement, COR)
        weighed = any("weight" in v for v in data["validators"])
        table(
            "validators",
            ["validator", "reported", "agreement", "spread"] + (["weight"] if weighed else []),
            [
                [v["validator"], v["reported"], v["agreement_ppb"], v.get("spread_ppb")]
                + ([format_cor(int(v["weight"])) if "weight" in v else ""] if weighed else [])
                for v in data["validators"]
            ],
        )
        fee = data.get("fee")
        if fee:  # a settled user task: who got what of its price (its statement lines)
            rows = [[x["address"], x["stream"], x["amount"]] for x in fee["paid"]]
            rows.append(["treasury", "task_fee:treasury", fee["treasury_part"]])
            if fee.get("router_absent"):
                rows.append(["treasury", "task_fee:router_absent", fee["router_absent"]])
            if fee.get("validators_unearned"):
                rows.append(["treasury", "task_fee:validators_unearned", fee["validators_unearned"]])
            rows.append(["dust", "task_fee:rounding", fee["dust"]])
            table(f"fee {fee['price']} (the treasury's: {fee['treasury']})", ["to", "what", "amount"], rows)
            if fee.get("validators_unearned"):
                console.print(
                    f"no reporting validator agreed (rule 30): the validators' part {fee['validators_unearned']} went to the treasury, "
                    "unearned (task_fee:validators_unearned)"
                )

    emit(data, as_json, render)


@task_app.command("result")
@handle_errors
def task_result(task: int, db: str | None = DbOption, api: str | None = ApiOption, as_json: bool = JsonOption) -> None:
    """A task's answer: the output the network stands behind (in consensus, best quality), as text."""
    net = connect(db, api)
    data = net.read(lambda s: views.task(s, get_task(s, task)), f"/v1/tasks/{task}")
    result = data["result"]
    if result is None:
        why = f"it failed ({data['failure']})" if data["failure"] else f"it is {data['state']}; validators have not agreed on an output yet"
        raise Conflict(f"task {task} has no result: {why}", code="no_result", state=data["state"])
    text = get_blob(net, result["output_hash"]).decode("utf-8", errors="replace")
    emit(
        {"task": task, "state": data["state"], "result": result, "text": text},
        as_json,
        lambda: (
            console.print(
                f"[dim]task {task} · {data['state']} · miner {result['miner']} · quality {result['quality_ppb'] / 1e7:.1f}% · "
                f"{result['in_consensus']} output(s) in consensus · {result['output_hash']}[/]",
                highlight=False,
            ),
            print(text),
        ),
    )


@task_app.command("list")
@handle_errors
def task_list(
    state: str | None = typer.Option(None, "--state"),
    limit: int = typer.Option(50, "--limit", min=1, max=1_000_000, help="At most this many, newest first (live or pruned)."),
    db: str | None = DbOption,
    api: str | None = ApiOption,
    as_json: bool = JsonOption,
) -> None:
    """Recent tasks (newest first)."""
    data = connect(db, api).read(
        lambda s: readviews.task_list(s, state, None, None, limit, None)["tasks"], "/v1/tasks", {"state": state, "limit": limit}, field="tasks"
    )
    emit(
        data,
        as_json,
        lambda: table(
            "tasks",
            ["id", "kind", "state", "model", "charged", "failure"],
            [[d["id"], d["kind"], d["state"], d["model"], d["charged"], d["failure"] or ""] for d in data],
        ),
    )
