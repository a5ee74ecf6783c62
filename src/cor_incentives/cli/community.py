"""`cor bounty`, `cor community`: funded bounties and challenges, curators and attested contributions."""

from __future__ import annotations

import hashlib
from itertools import islice
from pathlib import Path
from typing import Any

import typer

from ..app.archive import get_bounty, newest_bounties
from ..app.keys import Keystore
from ..core.bounties import bounty_account, prize_for_rank, ranking, review_end_tick, review_quorum
from ..core.community import KINDS as ATTESTATION_KINDS
from ..core.community import curator_points_given
from ..core.errors import InvalidInput
from ..core.records import Bounty
from ..core.state import State
from ..core.units import format_cor
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
    fraction_ppb,
    handle_errors,
    local_only,
    receipt_out,
    signer,
    table,
)

bounty_app = typer.Typer(help="Bounties and challenges: a prize in escrow, submissions, reviewers' awards, refunds.", no_args_is_help=True)
community_app = typer.Typer(
    help="Community engagement: curators attest contributions; the community stream is split by points.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add the bounty and community commands to the `cor` app."""
    app.add_typer(bounty_app, name="bounty")
    app.add_typer(community_app, name="community")


# --- views -----------------------------------------------------------------------------------


def bounty_view(state: State, b: Bounty, detail: bool = True) -> dict[str, Any]:
    """A bounty with its escrow, ranks, entries and payments (amounts in COR and base units)."""
    escrow = state.ledger.balance(bounty_account(b.id))
    data: dict[str, Any] = {
        "id": b.id,
        "kind": b.kind,
        "status": b.status,
        "sponsor": b.sponsor,
        "criteria": b.criteria,
        "deadline_tick": b.deadline_tick,
        "review_ends_tick": review_end_tick(state, b),
        "winners": b.winners,
        "awards": b.award_count,
        "reviewers": list(b.reviewers),
        "reviewers_drawn": b.drawn,
        "drawn_tick": b.drawn_tick,
        "review_quorum": review_quorum(b) if b.reviewers else b.review_quorum,  # approvals a bounty entry needs
        "prize": format_cor(b.prize),
        "prize_units": str(b.prize),
        "escrow": format_cor(escrow),  # the prize not yet paid or refunded, plus the entry deposits held
        "escrow_units": str(escrow),
        "deposits_held": format_cor(b.deposits_held),  # rule 21: entry deposits, returned at finalize or expiry
        "paid": format_cor(b.paid),
        "refunded": format_cor(b.refunded),
        "refunded_to_treasury": format_cor(b.refunded_to_treasury),
        "treasury_funding": format_cor(b.treasury_funding),
        "submissions": len(b.submissions),
        "payout_bps": list(b.payout_bps) or None,
        "prizes_by_rank": [format_cor(prize_for_rank(b, r)) for r in range(1, b.winners + 1)],
    }
    if detail:
        order = {s.hunter: i for i, s in enumerate(ranking(state, b), start=1)} if b.kind == "challenge" else {}
        data["entries"] = [
            {
                "hunter": s.hunter,
                "content_hash": s.content_hash,
                "tick": s.tick,
                "score_ppb": s.score_ppb,
                "scores": len(s.scores),
                "approvals": list(s.approvals),
                "standing": order.get(s.hunter),
                "rank": s.rank,
                "paid": format_cor(s.paid),
                "deposit": format_cor(s.deposit),
                "awarded_by": list(s.awarded_by),
            }
            for s in b.submissions.values()
        ]
    return data


def community_view(state: State) -> dict[str, Any]:
    """Curators, this epoch's points and attestations, and the rules in force."""
    return {
        "epoch": state.epoch,
        "curators": sorted(state.curators),
        "points": dict(sorted(state.community_points.items())),
        "total_points": sum(state.community_points.values()),
        "attestations": [
            {"curator": a.curator, "member": a.member, "kind": a.kind, "points": a.points, "reference": a.reference, "tick": a.tick}
            for a in state.attestations
        ],
        "eligible": len(state.community_eligible),
        "curator_points": {c: curator_points_given(state, c) for c in sorted(state.curators)},
        "rules": {
            "min_stake": format_cor(state.params.community_min_stake_units),
            "min_balance": format_cor(state.params.community_min_balance_units),
            "min_account_age_epochs": state.params.community_min_account_age_epochs,
            "max_points_per_member_epoch": state.params.community_max_points_per_member_epoch,
            "curator_points_per_epoch": state.params.community_curator_points_per_epoch,
        },
    }


def _send(kind: str, body: dict[str, Any], sender: str, db: str | None, api: str | None, keys_dir: str | None, as_json: bool, message: str) -> None:
    receipt_out(connect(db, api).submit(signer(keys_dir, sender), kind, body), as_json, message)


# --- bounty ----------------------------------------------------------------------------------


@bounty_app.command("create")
@handle_errors
def bounty_create(
    prize: str = typer.Option(..., "--prize", help="COR escrowed from your wallet, e.g. 250.5"),
    criteria: str | None = typer.Option(None, "--criteria", help="What a winning submission must do (≤ 2000 characters)."),
    criteria_file: Path | None = typer.Option(None, "--criteria-file"),
    deadline_tick: int | None = typer.Option(None, "--deadline-tick", help="Tick at which submissions close."),
    duration_ticks: int | None = typer.Option(None, "--duration-ticks", help="Or: submissions close this many ticks from now."),
    winners: int = typer.Option(1, "--winners", help="Prizes (ranks), 1-32."),
    reviewer: list[str] = typer.Option(
        [], "--reviewer", help="Reviewer address or key name (repeatable, at least bounty_review_quorum; none: drawn from the validators)."
    ),
    kind: str = typer.Option("bounty", "--kind", help="bounty (reviewers award) or challenge (reviewers score, ranked)."),
    payout_bps: str | None = typer.Option(None, "--payout-bps", help="Share of each rank, e.g. 6000,3000,1000 (default: equal)."),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Fund a bounty or challenge: the prize (from rule 21 at least bounty_min_prize_units, 10 COR by default) moves
    into escrow until it is awarded or refunded."""
    if (criteria is None) == (criteria_file is None):
        raise InvalidInput("give exactly one of --criteria or --criteria-file", code="invalid_criteria")
    text = criteria if criteria is not None else criteria_file.read_text()  # type: ignore[union-attr]
    if (deadline_tick is None) == (duration_ticks is None):
        raise InvalidInput("give exactly one of --deadline-tick or --duration-ticks", code="invalid_deadline")
    net = connect(db, api)
    ks = Keystore(keys_dir)
    tick = net.read(lambda s: s.tick, "/v1/chain", field="tick") if duration_ticks is not None else 0
    body: dict[str, Any] = {
        "prize": str(cor_amount(prize, "prize")),
        "criteria": text,
        "winners": winners,
        "kind": kind,
        "deadline_tick": deadline_tick if deadline_tick is not None else tick + duration_ticks,  # type: ignore[operator]
        "reviewers": [ks.resolve_address(r) for r in reviewer],
    }
    if payout_bps is not None:
        try:
            body["payout_bps"] = [int(x) for x in payout_bps.split(",")]
        except ValueError:
            raise InvalidInput("--payout-bps must be integers separated by commas, e.g. 6000,4000", code="invalid_payout") from None
    r = net.submit(signer(keys_dir, sender), "bounty.create", body)
    bid = r["ids"][0]
    emit(
        {"ok": True, "bounty": bid, "deadline_tick": body["deadline_tick"], **r},
        as_json,
        lambda: console.print(
            f"[green]✓[/] {kind} {bid} funded with {prize} COR; submissions close at tick {body['deadline_tick']} (event {r['seq']})"
        ),
    )


@bounty_app.command("submit")
@handle_errors
def bounty_submit(
    bounty: int = typer.Option(..., "--bounty"),
    content_hash: str | None = typer.Option(None, "--content-hash", help="sha256 of your work (0x…)."),
    file: Path | None = typer.Option(None, "--file", help="Your work; its sha256 is the content hash (stored locally)."),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Enter a bounty or challenge (once, before its deadline); from rule 21 the entry locks bounty_entry_deposit_units
    (1 COR by default) in the bounty's escrow, returned when the challenge is finalized or the bounty expires."""
    if (content_hash is None) == (file is None):
        raise InvalidInput("give exactly one of --content-hash or --file", code="invalid_hash")
    data = None
    if file is not None:
        if not file.is_file():
            raise InvalidInput(f"file {file} does not exist", code="invalid_hash")
        data = file.read_bytes()
        content_hash = "0x" + hashlib.sha256(data).hexdigest()
    net = connect(db, api)
    r = net.submit(signer(keys_dir, sender), "bounty.submit", {"bounty": bounty, "content_hash": content_hash})
    if data is not None:
        net.put_blob(data)
    emit(
        {"ok": True, "bounty": bounty, "content_hash": content_hash, **r},
        as_json,
        lambda: console.print(f"[green]✓[/] submitted {content_hash} to bounty {bounty} (event {r['seq']})"),
    )


@bounty_app.command("award")
@handle_errors
def bounty_award(
    bounty: int = typer.Option(..., "--bounty"),
    submission: str = typer.Option(..., "--submission", help="The hunter's address or key name."),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Approve a submission (a reviewer, after the deadline); the k-th approval pays it the best rank still free."""
    hunter = Keystore(keys_dir).resolve_address(submission)
    _send(
        "bounty.award", {"bounty": bounty, "submission": hunter}, sender, db, api, keys_dir, as_json, f"approved {hunter}'s entry to bounty {bounty}"
    )


@bounty_app.command("score")
@handle_errors
def bounty_score(
    bounty: int = typer.Option(..., "--bounty"),
    submission: str = typer.Option(..., "--submission", help="The hunter's address or key name."),
    score: str | None = typer.Option(None, "--score", help="Score as a fraction of 1, e.g. 0.8 (up to 9 decimals)."),
    score_ppb: int | None = typer.Option(None, "--score-ppb", help="Or: the score in parts per billion, 0-1000000000."),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Score a challenge entry (a reviewer, once per entry)."""
    if (score is None) == (score_ppb is None):
        raise InvalidInput("give exactly one of --score (e.g. 0.8) or --score-ppb", code="invalid_score")
    ppb = fraction_ppb(score, "--score") if score is not None else score_ppb
    hunter = Keystore(keys_dir).resolve_address(submission)
    _send(
        "bounty.score",
        {"bounty": bounty, "submission": hunter, "score_ppb": ppb},
        sender,
        db,
        api,
        keys_dir,
        as_json,
        f"scored {hunter}'s entry to challenge {bounty}",
    )


@bounty_app.command("finalize")
@handle_errors
def bounty_finalize(
    bounty: int = typer.Option(..., "--bounty"),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Rank a challenge's entries by score and pay its prizes (anyone, once the review period is over)."""
    _send("bounty.finalize", {"bounty": bounty}, sender, db, api, keys_dir, as_json, f"challenge {bounty} finalized")


@bounty_app.command("expire")
@handle_errors
def bounty_expire(
    bounty: int = typer.Option(..., "--bounty"),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Close a bounty whose deadline has passed; what is left in escrow returns to the sponsor."""
    _send("bounty.expire", {"bounty": bounty}, sender, db, api, keys_dir, as_json, f"bounty {bounty} expired; the rest is refunded")


@bounty_app.command("show")
@handle_errors
def bounty_show(bounty: int, db: str | None = DbOption, api: str | None = ApiOption, as_json: bool = JsonOption) -> None:
    """A bounty: prize, escrow, reviewers, entries with scores, ranks and payments."""
    engine = local_only(db, api, "cor bounty show")
    data = bounty_view(engine.state, get_bounty(engine.state, bounty))

    def render() -> None:
        console.print(
            f"{data['kind']} {bounty} [bold]{data['status']}[/] · prize {data['prize']} · escrow {data['escrow']} · "
            f"paid {data['paid']} · refunded {data['refunded']} · deadline tick {data['deadline_tick']}"
        )
        console.print(f"criteria: {data['criteria']}")
        if data["reviewers_drawn"] and data["drawn_tick"] is None:
            who = "drawn from the validators at the deadline"
        else:
            who = ", ".join(data["reviewers"]) or "none (nobody could be drawn)"
        console.print(f"reviewers (k = {data['review_quorum']}): {who}")
        table(
            "entries",
            ["hunter", "content hash", "score ppb", "standing", "rank", "paid"],
            [
                [
                    e["hunter"],
                    e["content_hash"][:18] + "…",
                    e["score_ppb"] if e["score_ppb"] is not None else "",
                    e["standing"] or "",
                    e["rank"] or "",
                    e["paid"],
                ]
                for e in data["entries"]
            ],
        )

    emit(data, as_json, render)


@bounty_app.command("list")
@handle_errors
def bounty_list(
    status: str | None = typer.Option(None, "--status", help="open, finalized or expired"),
    limit: int = typer.Option(50, "--limit", min=1, max=1_000_000, help="At most this many, newest first (live or retired)."),
    db: str | None = DbOption,
    api: str | None = ApiOption,
    as_json: bool = JsonOption,
) -> None:
    """Bounties and challenges, newest first."""
    engine = local_only(db, api, "cor bounty list")
    bs = list(islice((b for b in newest_bounties(engine.state) if status is None or b.status == status), limit))  # live or retired
    data = [bounty_view(engine.state, b, detail=False) for b in bs]
    emit(
        data,
        as_json,
        lambda: table(
            "bounties",
            ["id", "kind", "status", "prize", "escrow", "winners", "awards", "entries", "deadline"],
            [
                [d["id"], d["kind"], d["status"], d["prize"], d["escrow"], d["winners"], d["awards"], d["submissions"], d["deadline_tick"]]
                for d in data
            ],
        ),
    )


# --- community -------------------------------------------------------------------------------


@community_app.command("appoint")
@handle_errors
def community_appoint(
    curator: str = typer.Option(..., "--curator", help="Address or key name."),
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Appoint a curator (oracle; governance later)."""
    net = connect(db, api)
    who = Keystore(keys_dir).resolve_address(curator)
    receipt_out(net.submit(net.oracle(keys_dir), "community.appoint", {"curator": who}), as_json, f"{who} is a curator")


@community_app.command("remove")
@handle_errors
def community_remove(
    curator: str = typer.Option(..., "--curator", help="Address or key name."),
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Remove a curator (oracle; governance later)."""
    net = connect(db, api)
    who = Keystore(keys_dir).resolve_address(curator)
    receipt_out(net.submit(net.oracle(keys_dir), "community.remove", {"curator": who}), as_json, f"{who} is no longer a curator")


@community_app.command("attest")
@handle_errors
def community_attest(
    member: str = typer.Option(..., "--member", help="Address or key name of the contributor."),
    kind: str = typer.Option(..., "--kind", help=", ".join(ATTESTATION_KINDS)),
    points: int = typer.Option(..., "--points", help="1-100"),
    reference: str = typer.Option(..., "--reference", help="Link or id of the contribution (≤ 200 characters)."),
    sender: str = FromOption,
    db: str | None = DbOption,
    api: str | None = ApiOption,
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Attest a member's contribution with points (a curator)."""
    who = Keystore(keys_dir).resolve_address(member)
    _send(
        "community.attest",
        {"member": who, "kind": kind, "points": points, "reference": reference},
        sender,
        db,
        api,
        keys_dir,
        as_json,
        f"{points} point(s) to {who} for {kind} {reference}",
    )


@community_app.command("show")
@handle_errors
def community_show(db: str | None = DbOption, api: str | None = ApiOption, as_json: bool = JsonOption) -> None:
    """Curators, this epoch's points and attestations, and the eligibility rules."""
    engine = local_only(db, api, "cor community show")
    data = community_view(engine.state)

    def render() -> None:
        console.print(f"epoch {data['epoch']} · {len(data['curators'])} curator(s) · {data['total_points']} point(s) attested")
        table("points this epoch", ["member", "points"], [[m, p] for m, p in data["points"].items()])
        table(
            "attestations",
            ["curator", "member", "kind", "points", "reference"],
            [[a["curator"], a["member"], a["kind"], a["points"], a["reference"]] for a in data["attestations"]],
        )
        table("rules", ["parameter", "value"], [[k, v] for k, v in data["rules"].items()])

    emit(data, as_json, render)
