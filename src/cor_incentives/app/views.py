"""Read views: JSON-ready dicts of the state for the CLI (``--json``), the API and the dashboard.

Amounts are COR decimal strings (``"12.5"``) with the exact base units beside them where a client
may compute with them (``*_units``).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from functools import cache
from itertools import islice
from typing import Any

from ..core import allowance
from ..core.epoch_document import WORK_ACCOUNTS, expand_detail
from ..core.errors import InvalidInput, NotFound
from ..core.governance import tally
from ..core.ledger import POOLS, SOURCES, account_owner
from ..core.params import Params, param_schema
from ..core.pricing import model_tier, work_tier
from ..core.prune import model_key
from ..core.records import EarningItem, EpochRecord, Model, Node, Redelegation, SlashRecord
from ..core.rules import RULES_EXPOSED_STAKE, rules_since
from ..core.staking import is_selectable, self_bond, stake_of
from ..core.state import State, json_ready, ticks_to_epoch_end
from ..core.streams import NOT_DRAWN_MODELS, LinePart
from ..core.units import PPB, format_cor
from .archive import (
    closed_epochs,
    epoch_record,
    epoch_records,
    get_model,
    get_task,
    get_tasks,
    model_listings,
    models_by_key,
    param_versions,
    work_index,
)
from .beacon import beacon_view
from .prompts import network_prompt_view
from .proofs import TREES, TreeCache


def account_class(account: str) -> str:
    return account.split(":", 1)[0] if ":" in account else account


def status(state: State) -> dict[str, Any]:
    """Network summary."""
    p = state.params
    by_class: dict[str, int] = defaultdict(int)
    for a, v in state.ledger.balances.items():
        if a not in SOURCES:
            by_class[account_class(a)] += v
    roles: dict[str, dict[str, int]] = {}
    for n in state.nodes.values():
        r = roles.setdefault(n.role, {"registered": 0, "selectable": 0, "jailed": 0})
        r["registered"] += 1
        r["selectable"] += int(is_selectable(state, n))
        r["jailed"] += int(n.jailed)
    bonded_total = sum(n.stake_total for n in state.nodes.values())
    supply = state.genesis_supply + state.minted
    return {
        "chain_id": state.chain_id,
        "oracle": state.oracle,
        "seq": state.seq,
        "head_hash": state.head_hash,
        "tick": state.tick,
        "epoch": state.epoch,
        "epoch_length_ticks": p.epoch_length_ticks,
        "ticks_to_epoch_end": ticks_to_epoch_end(state),
        "supply": format_cor(supply),
        "supply_units": str(supply),
        "burned": format_cor(state.ledger.balance("burned")),
        "treasury": format_cor(state.ledger.balance("treasury")),
        "dust_units": str(state.ledger.balance("dust")),
        "pools": {pool: format_cor(state.ledger.balance(pool)) for pool in POOLS},
        "by_account_class": {k: format_cor(v) for k, v in sorted(by_class.items())},
        "bonded": format_cor(bonded_total),
        "bonded_ratio_bps": bonded_total * 10_000 // supply if supply else 0,
        "bonded_ratio_ppb": bonded_total * PPB // supply if supply else 0,
        "bonded_units": str(bonded_total),
        "nodes": roles,
        "beacon": beacon_view(state),
        "network_prompt": network_prompt_view(state),  # what the next network task must ask (rule 9), or None
        "slashes": len(state.slashes),
        "epochs_closed": closed_epochs(state),
    }


def balance(state: State, address: str) -> dict[str, Any]:
    """Every account of an address, with a total."""
    accounts = {a: v for a, v in sorted(state.ledger.balances.items()) if account_owner(a) == address and not a.startswith(("bonded:", "rewards:"))}
    if address in state.nodes:
        accounts[f"bonded:{address}"] = state.ledger.balance(f"bonded:{address}")
    unbonding = [
        {"id": u.id, "node": u.node, "amount": format_cor(u.amount), "mature_epoch": u.mature_epoch}
        for u in sorted(state.unbondings.values(), key=lambda u: u.id)
        if u.address == address
    ]
    return {
        "address": address,
        "accounts": {a: format_cor(v) for a, v in accounts.items() if v},
        "accounts_units": {a: str(v) for a, v in accounts.items() if v},
        "total": format_cor(sum(accounts.values())),
        "unbonding_entries": unbonding,
        "redelegations": [redelegation(state, r) for r in sorted(state.redelegations.values(), key=lambda r: r.id) if r.address == address],
        "nonce": state.nonces.get(address, 0),
    }


def offence_allowance(state: State, n: Node) -> dict[str, int]:
    """The node's counted-offence allowance over this epoch and the last (rule version 7 on; zeros before)."""
    served, served_prev, forgiven, forgiven_prev = allowance.window(state, n)
    return {"served": served + served_prev, "forgiven": forgiven + forgiven_prev, "left": allowance.allowance(state, n)}


def node(state: State, node_id: str, detail: bool = False, retired: Node | None = None) -> dict[str, Any]:
    """A node's view; ``retired``: the record a retired node left (``archive.retired_node``), shown with state ``retired``."""
    n = retired if retired is not None else state.nodes[node_id]
    status_ = "retired" if retired is not None else "jailed" if n.jailed else ("active" if is_selectable(state, n) else "underbonded")
    out: dict[str, Any] = {
        "id": n.id,
        "role": n.role,
        "self_bond": format_cor(self_bond(state, n.id)),
        "stake_total": format_cor(n.stake_total),
        "delegators": len(n.delegators),
        "commission_bps": n.commission_bps,
        "state": status_,
        "jailed_until_tick": n.jailed_until_tick,
        "reputation_ppb": n.reputation_ppb,
        "slash_count": n.slash_count,
        "models": list(n.models),
        "registered_tick": n.registered_tick,
        "commission_next_bps": n.commission_next_bps,
        "offence_allowance": offence_allowance(state, n),
    }
    if detail:
        out["delegations"] = {a: format_cor(state.ledger.balance(f"delegated:{n.id}:{a}")) for a in sorted(n.delegators)}
        out.update(stake_time(state, node_id, n))
        out["unbonding"] = [
            {
                "id": u.id,
                "address": u.address,
                "amount": format_cor(u.amount),
                "start_tick": u.start_tick,
                "mature_epoch": u.mature_epoch,
                "slashable_for_offences_before_tick": u.start_tick,
            }
            for u in sorted(state.unbondings.values(), key=lambda u: u.id)
            if u.node == n.id
        ]
        out["redelegated_away"] = [  # stake that left this node and still answers for its earlier offences
            redelegation(state, r) for r in sorted(state.redelegations.values(), key=lambda r: r.id) if r.source == n.id
        ]
        out["slashes"] = [slash(s) for s in state.slashes if s.node == n.id]
    return out


def redelegation(state: State, r: Redelegation) -> dict[str, Any]:
    """A move of stake between nodes, while it is still slashable for the source node's earlier offences."""
    return {
        "id": r.id,
        "address": r.address,
        "from": r.source,
        "to": r.node,
        "amount": format_cor(r.amount),
        "start_tick": r.start_tick,
        "mature_epoch": r.mature_epoch,
        "slashable_for_offences_of_from_before_tick": r.start_tick,
        "slashable": r.mature_epoch > state.epoch,
    }


def stake_time(state: State, node_id: str, record: Node | None = None) -> dict[str, Any]:
    """The node's stake × ticks so far this epoch, and each position's: what its stakers' rewards are split by at the close.

    Counted up to the current tick without changing the state (the core brings the counts up to date
    only when a stake changes and at the close); ``share_ppb`` = the position's stake × ticks ÷ the
    node's, the share of the node's staker reward it would take if the epoch closed now. ``record``: the node's record
    when it is not the live one (a retired node's).
    """
    n = record if record is not None else state.nodes[node_id]
    node_ticks = n.stake_ticks + n.stake_total * (state.tick - n.stake_tick_mark)
    idle_ticks = n.idle_stake_ticks  # (rule version 14 on) counted while not selectable: no APR on them
    if rules_since(state.params, RULES_EXPOSED_STAKE) and not is_selectable(state, n):
        idle_ticks += n.stake_total * (state.tick - n.stake_tick_mark)
    positions = []
    for addr in sorted(n.positions, key=lambda a: (a != node_id, a)):
        pos = n.positions[addr]
        stake = stake_of(state, node_id, addr)
        ticks = pos.stake_ticks + stake * (state.tick - pos.mark)
        positions.append(
            {
                "address": addr,
                "kind": "self_bond" if addr == node_id else "delegation",
                "stake": format_cor(stake),
                "stake_ticks_units": str(ticks),
                "share_ppb": ticks * PPB // node_ticks if node_ticks else 0,
            }
        )
    return {
        "stake_epoch": state.epoch,
        "stake_ticks_units": str(node_ticks),
        "idle_stake_ticks_units": str(idle_ticks),
        "stake_ticks_formula": (
            "Σ stake × ticks bonded since the epoch began (units × ticks); a position's reward = node_reward × its stake_ticks // the node's"
        ),
        "positions": positions,
    }


OFFENCE_MEANING = {
    "commit_mismatch": "its reveal did not match its precommit",
    "poi_divergence": "its output was outside the PoI consensus",
    "missed_deadline": "it did not precommit, reveal or report before the deadline",
    "validator_deviation": "its validation report deviated from the consensus",
    "equivocation": "it signed two different statements for one scope",
}


def slash_reason(s: SlashRecord) -> str:
    """One sentence: the offence, its evidence (task or scope), who reported it, when it is dated, what it cost."""
    ev = s.evidence
    msgs = ev.get("messages")
    if isinstance(msgs, list) and msgs and isinstance(msgs[0], dict) and "scope" in msgs[0]:
        where = f" ({msgs[0]['scope']})"
    elif "task" in ev or "tasks" in ev:
        where = f" (task {ev.get('task', ev.get('tasks'))})"
    else:
        where = ""
    found = "found by the core in the task's events" if s.derived else "reported by the oracle or found by the core"
    by = f"reported by {s.reporter}" if s.reporter else found
    return (
        f"{s.offence}: {OFFENCE_MEANING.get(s.offence, s.offence)}{where}; {by}; dated at tick {s.offence_tick}, "
        f"slashed at tick {s.tick}: "
        + (
            f"{s.fraction_bps} bps of every slashable position"
            if s.penalty is None
            else f"a fixed {format_cor(s.penalty)} COR ({s.fraction_bps} bps of the role's minimum self-bond) pro rata"
        )
        + " (unbonding entries started after the offence included)"
    )


def slash(s: SlashRecord) -> dict[str, Any]:
    return {
        "reason": slash_reason(s),
        "slashable": format_cor(s.slashable),
        "penalty": None if s.penalty is None else format_cor(s.penalty),
        "id": s.id,
        "node": s.node,
        "offence": s.offence,
        "offence_tick": s.offence_tick,
        "tick": s.tick,
        "epoch": s.epoch,
        "fraction_bps": s.fraction_bps,
        "total": format_cor(s.total),
        "burned": format_cor(s.burned),
        "to_reporter": format_cor(s.to_reporter),
        "to_treasury": format_cor(s.to_treasury),
        "total_units": str(s.total),
        "burned_units": str(s.burned),
        "to_reporter_units": str(s.to_reporter),
        "to_treasury_units": str(s.to_treasury),
        "slashable_units": str(s.slashable),
        "penalty_units": None if s.penalty is None else str(s.penalty),
        "reporter": s.reporter,
        "evidence_hash": s.evidence_hash,
        "evidence": s.evidence,
        "by_account": {a: format_cor(v) for a, v in s.by_account.items()},
        "jailed_until_tick": s.jailed_until_tick,
    }


def get_slash(state: State, slash_id: int) -> SlashRecord:
    record = next((s for s in state.slashes if s.id == slash_id), None)
    if record is None:
        raise NotFound(f"no slash {slash_id}", code="slash_not_found")
    return record


def _record(state: State, e: int) -> Any:
    record = epoch_record(state, e)
    if record is None:
        raise NotFound(f"epoch {e} is not closed (current epoch: {state.epoch})", code="epoch_not_found")
    return record


def epoch(state: State, e: int) -> dict[str, Any]:
    """Totals per stream, emission streams, APR (target and effective), root and leaves of a closed epoch."""
    record = _record(state, e)
    return {
        "epoch": e,
        "start_tick": record.start_tick,
        "end_tick": record.end_tick,
        "root": record.root,
        "totals": {k: format_cor(v) for k, v in record.totals.items()},
        "totals_units": {k: str(v) for k, v in record.totals.items()},
        "streams": json_ready(record.streams),
        "staking": json_ready(record.staking),
        "leaves": [{"address": a, "epoch": e, "amount": format_cor(v), "amount_units": str(v)} for a, v in record.leaves.items()],
        "claimable_total": format_cor(sum(record.leaves.values())),
        "claimable_total_units": str(sum(record.leaves.values())),
        "onchain": onchain(state, e),
        "skipped": [{"seq": k.seq, "tick": k.tick, "what": k.what, "code": k.code, "message": k.message} for k in record.skipped],
        "reputation_ppb": dict(record.reputation),  # each node's reputation at the close (what its multiplier used)
        "reputation_start_ppb": {  # nodes new this epoch (not in the previous close): the reputation each started at
            n: state.nodes[n].reputation_start_ppb for n in record.reputation if n not in _previous_reputation(state, e) and n in state.nodes
        },
        "lines": [
            {"address": i.address, "stream": i.stream, "amount_units": str(i.amount), "claimable": i.claimable, "detail": json_ready(i.detail)}
            for i in record.items
        ],
    }


def _previous_reputation(state: State, e: int) -> dict[str, int]:
    before = epoch_record(state, e - 1) if e > 0 else None
    return before.reputation if before is not None else {}


def onchain(state: State, e: int) -> dict[str, Any] | None:
    """The epoch's on-chain record (``bridge.post``, then ``bridge.confirm``), or None while it is paid off-chain."""
    b = state.bridged.get(e)
    if b is None:
        return None
    return {
        "epoch": e,
        "status": "posted" if b.tx_hash else "posting",
        "evm_chain_id": b.evm_chain_id,
        "distributor": b.distributor,
        "root": b.root,
        "total": format_cor(b.total),
        "total_units": str(b.total),
        "leaves": len(b.leaves),
        "claimed_offchain": list(b.claimed_offchain),
        "anchor_seq": b.anchor_seq,
        "anchor_hash": b.anchor_hash,
        "posted_tick": b.posted_tick,
        "tx_hash": b.tx_hash,
        "block": b.block,
    }


def chain_status(state: State, e: int) -> str:
    """``no_leaves`` (nothing to claim), ``offchain`` (claimed with ``reward.claim``), ``posting`` or ``posted``."""
    record = _record(state, e)
    if e in state.bridged:
        return "posted" if state.bridged[e].tx_hash else "posting"
    return "offchain" if record.root else "no_leaves"


def chain_epochs(state: State) -> list[dict[str, Any]]:
    """Every closed epoch, oldest first: root, claimable total, payout path and on-chain record."""
    return [
        {
            "epoch": e,
            "root": r.root,
            "claimable_total_units": str(sum(r.leaves.values())),
            "leaves": len(r.leaves),
            "status": chain_status(state, e),
            "onchain": onchain(state, e),
        }
        for e, r in epoch_records(state)
    ]


def proof(state: State, address: str, e: int, trees: TreeCache | None = None) -> dict[str, Any]:
    """The Merkle proof of an address's leaf in an epoch (OpenZeppelin StandardMerkleTree format), from
    the epoch's tree built once and kept (``app.proofs``): O(log n) once the tree is there."""
    record, amount = proof_leaf(state, address, e)
    tree = (trees if trees is not None else TREES).tree(state.chain_id, e, record.root, record.leaves)
    return {
        "address": address,
        "epoch": e,
        "amount": format_cor(amount),
        "amount_units": str(amount),
        "root": record.root,
        "proof": tree.proof(address, amount),
        "claimed": f"{e}|{address}" in state.claimed,
        "leaf_encoding": ["address", "uint256", "uint256"],
        "payout": _payout(state, e),
    }


def proof_leaf(state: State, address: str, e: int) -> tuple[Any, int]:
    """The closed epoch's record and the address's amount in it (``no_leaf`` when it has none); a slim record
    (core/prune.py) has the root and leaves a proof needs."""
    record = state.epochs.get(e) or _record(state, e)
    amount = record.leaves.get(address)
    if amount is None or record.root is None:
        raise NotFound(f"{address} has no claimable reward in epoch {e}", code="no_leaf")
    return record, amount


def _payout(state: State, e: int) -> dict[str, Any]:
    """Where a leaf of the epoch is paid: by ``reward.claim`` (engine), or by ``claim`` on the distributor (evm)."""
    b = state.bridged.get(e)
    if b is None:
        return {"path": "engine"}
    return {"path": "evm", "evm_chain_id": b.evm_chain_id, "distributor": b.distributor, "status": "posted" if b.tx_hash else "posting"}


def statement(state: State, address: str, e: int) -> dict[str, Any]:
    """Every line item of an address in an epoch: stream, amount, formula, inputs, parameters."""
    record = _record(state, e)
    items = [i for i in record.items if i.address == address]
    claimable = record.leaves.get(address, 0)
    return {
        "address": address,
        "epoch": e,
        "start_tick": record.start_tick,
        "end_tick": record.end_tick,
        "items": [
            {
                "stream": i.stream,
                "amount": format_cor(i.amount),
                "amount_units": str(i.amount),
                "claimable": i.claimable,
                "detail": json_ready(detail),
                **slash_link(state, i.detail),
            }
            for i, detail in zip(items, statement_details(state, record, items), strict=True)
        ],
        "total": format_cor(sum(i.amount for i in items)),
        "total_units": str(sum(i.amount for i in items)),
        "claimable": format_cor(claimable),
        "claimable_units": str(claimable),
        "claimed": f"{e}|{address}" in state.claimed,
        "root": record.root,
        "warnings": staking_warnings(state, address),
    }


def statement_details(state: State, record: EpochRecord, items: list[EarningItem]) -> list[dict[str, Any]]:
    """The details of one address's lines with what they cite written out (``core.epoch_document.expand_detail``):
    a statement shows each line's formula, parameters, bonus rows and tasks under every rule version (from rule 28 a
    work node line's tasks are derived from the tasks' records, live or from the database: ``archive.get_task``)."""
    items = indexed_lines(state, record, items)  # lines whose tasks the work index gives carry them, as before rule 28
    found = get_tasks(state, derived_task_ids(record, items))  # the tasks the other lines derive, read in a few queries
    read = cache(lambda t: found[t] if t in found else get_task(state, t))  # (one each: what the bulk read did not find)
    return [expand_detail(record.streams, record.staking, i, items, read) for i in items]


def indexed_lines(state: State, record: EpochRecord, items: list[EarningItem]) -> list[EarningItem]:
    """``items`` with the ``tasks`` of each work node or none line that has none (rule 28) written in from the database's
    work index (``archive.work_index``): the node's counted rows of the epoch, in row order, which is what
    ``epoch_document.node_tasks`` derives from the tasks' records. One read of each family's index for all the lines'
    nodes (``projections.read_node_rows``: their rows only). A line is left as it is (its tasks read from the records)
    when the index does not hold the epoch whole or gives the node another number of rows than the line's
    ``assignments``."""
    derived = derived_task_lines(record, items)
    if not derived:
        return items
    asked: dict[str, dict[str, None]] = {}  # family -> the lines' nodes, in order
    for n in derived:
        asked.setdefault(items[n].stream.rpartition(":")[0], {})[items[n].address] = None
    read = {base: work_index(state, record.epoch, base, list(nodes)) for base, nodes in asked.items()}
    out = list(items)
    for n in derived:
        i = items[n]
        rows = read[i.stream.rpartition(":")[0]]
        if rows is not None:
            tasks, count = rows[i.address]
            if count == i.detail["inputs"].get("assignments"):
                out[n] = dataclasses.replace(i, detail={**i.detail, "tasks": list(tasks)})  # (a list of its own, as before)
    return out


def derived_task_ids(record: EpochRecord, items: list[EarningItem]) -> list[int]:
    """The ids of the tasks ``expand_detail`` reads for ``items``: every task of a work stream's account (its ``tasks``)
    of which one of ``items`` is a node or none line without ``tasks`` (rule 28: ``epoch_document.node_tasks``), each once,
    in order (none for lines that name their tasks: rules 1-27)."""
    out: dict[int, None] = {}
    for n in derived_task_lines(record, items):
        account = record.streams[WORK_ACCOUNTS[items[n].stream.rpartition(":")[0]]]
        out.update(dict.fromkeys(int(t) for t in account.get("tasks") or ()))
    return list(out)


def derived_task_lines(record: EpochRecord, items: list[EarningItem]) -> list[int]:
    """The positions in ``items`` of the work node or none lines without ``tasks`` (rule 28: ``epoch_document.node_tasks``
    derives them) whose stream's account the record holds."""
    out = []
    for n, i in enumerate(items):
        base, _, part = i.stream.rpartition(":")
        account = record.streams.get(WORK_ACCOUNTS[base]) if base in WORK_ACCOUNTS else None
        if account is not None and part in (LinePart.NODE, LinePart.NONE) and "tasks" not in i.detail and "inputs" in i.detail:
            out.append(n)
    return out


def slash_link(state: State, detail: Any) -> dict[str, Any]:
    """For a statement line of a slash: ``{"slash": {id, offence, reason, evidence_hash, evidence, url}}`` (nothing for other lines)."""
    sid = detail.get("slash_id") if isinstance(detail, dict) else None
    if not isinstance(sid, int):
        return {}
    record = next((s for s in state.slashes if s.id == sid), None)
    if record is None:
        return {}
    return {
        "slash": {
            "id": record.id,
            "node": record.node,
            "offence": record.offence,
            "reason": slash_reason(record),
            "evidence_hash": record.evidence_hash,
            "evidence": json_ready(record.evidence),
            "url": f"/v1/slashes/{record.id}",
        }
    }


def worked_models(state: State) -> frozenset[str]:
    """The models of the epoch's work rows so far: a miner serving none of them is left out of the staking APR (rule 14)."""
    return frozenset(state.epoch_work.models.names)


def apr_exposure_warning(state: State, n: Node, who: str, worked: frozenset[str] | None = None) -> str | None:
    """From rule version 14, why node ``n`` would earn no staking APR now (docs/rewards.md, *Staking APR*), or None.
    ``worked``: ``worked_models(state)``, computed once by a caller that asks for many nodes."""
    if not rules_since(state.params, RULES_EXPOSED_STAKE) or n.jailed or not n.stake_total:
        return None
    if n.role == "router":
        return f"{who} {n.id} is a router: it is never drawn, so its stake earns no staking APR (the router part of fees pays it)"
    if not is_selectable(state, n):
        return (
            f"{who} {n.id} is underbonded (self-bond under the {n.role}s' minimum): no task can draw it, so its stake earns no "
            "staking APR while it stays so"
        )
    if n.role != "miner":
        return None
    if (worked if worked is not None else worked_models(state)).isdisjoint(n.models) and not _drawable_last_epoch(state, n.id):
        return (
            f"{who} {n.id} serves no model with a task settled this epoch so far: unless one is before the close, its stake "
            "earns no staking APR for the epoch"
        )
    return None


def _drawable_last_epoch(state: State, node_id: str) -> bool:
    """Whether the last closed epoch (its live record) left the node in the staking APR's model rule: a miner paid then
    is not warned about an epoch that has only begun."""
    record = state.epochs.get(state.epoch - 1)
    staking = record.staking if record is not None else None
    if not staking or node_id not in (staking.get("nodes") or {}):
        return False
    return (staking.get("excluded") or {}).get(node_id) != NOT_DRAWN_MODELS


def staking_warnings(state: State, address: str) -> list[str]:
    """What a staker should act on: each node it has stake in (or unbonds from) that is jailed, or (rule version 14 on)
    whose stake would earn no staking APR if the epoch closed now."""
    out = []
    worked = worked_models(state)
    for node_id in sorted(state.nodes):
        n = state.nodes[node_id]
        if not (address in n.delegators or address == node_id):
            continue
        if n.jailed_until_tick is None:
            warning = apr_exposure_warning(state, n, "your node" if address == node_id else "node", worked)
            if warning:
                out.append(warning)
            continue
        left = n.jailed_until_tick - state.tick
        when = (
            f"for {left} more ticks (until tick {n.jailed_until_tick})"
            if left > 0
            else f"since its jail ended at tick {n.jailed_until_tick}, until it unjails"
        )
        who = "your node" if address == node_id else "node"
        out.append(
            f"{who} {node_id} is jailed {when}: it earns nothing meanwhile, so neither does your stake in it; "
            + ("unjail it (cor node unjail)" if address == node_id else "you may unbond or move your delegation")
        )
    return out


def rewards(state: State, address: str, from_epoch: int = 0) -> dict[str, Any]:
    """What ``address`` earned in every closed epoch from ``from_epoch`` on: each epoch's statement total,
    what is claimable and how (``engine``: ``reward.claim``; ``evm``: ``claim`` on the distributor), every
    line item with its epoch, and the epochs whose claimable leaf is still unclaimed in the engine."""
    epochs: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    for e, record in epoch_records(state, from_epoch):
        mine = [i for i in record.items if i.address == address]
        claimable = record.leaves.get(address, 0)
        if not mine and not claimable:
            continue
        total = sum(i.amount for i in mine)
        payout = _payout(state, e)["path"]
        claimed = f"{e}|{address}" in state.claimed
        epochs.append(
            {
                "epoch": e,
                "start_tick": record.start_tick,
                "end_tick": record.end_tick,
                "total": format_cor(total),
                "total_units": str(total),
                "claimable": format_cor(claimable),
                "claimable_units": str(claimable),
                "claimed": claimed,
                "payout": payout,
                "unclaimed": bool(claimable) and not claimed and payout == "engine",
            }
        )
        items += [
            {
                "epoch": e,
                "end_tick": record.end_tick,
                "stream": i.stream,
                "amount": format_cor(i.amount),
                "amount_units": str(i.amount),
                "claimable": i.claimable,
                "detail": json_ready(detail),
                **slash_link(state, i.detail),
            }
            for i, detail in zip(mine, statement_details(state, record, mine), strict=True)
        ]
    unclaimed = [x for x in epochs if x["unclaimed"]]
    total_units = sum(int(x["total_units"]) for x in epochs)
    unclaimed_units = sum(int(x["claimable_units"]) for x in unclaimed)
    on_chain = [x["epoch"] for x in epochs if x["payout"] == "evm" and int(x["claimable_units"])]
    return {
        "address": address,
        "from_epoch": from_epoch,
        "closed_epochs": closed_epochs(state),
        "epochs": epochs,
        "items": items,
        "total": format_cor(total_units),
        "total_units": str(total_units),
        "unclaimed_epochs": [x["epoch"] for x in unclaimed],
        "unclaimed": format_cor(unclaimed_units),
        "unclaimed_units": str(unclaimed_units),
        "claim_on_chain_epochs": on_chain,
        "warnings": staking_warnings(state, address),
    }


def model(m: Model, params: Params) -> dict[str, Any]:
    """A model's card; ``tier`` prices it (from the card), ``work_tier`` weighs its work (governance's listing)."""
    return {
        "id": m.id,
        "owner": m.owner,
        "parameter_count": m.parameter_count,
        "tier": model_tier(m.parameter_count),
        "work_tier": work_tier(params, m),
        "listed": m.id in params.listed_model_tiers,
        "quantization": m.quantization,
        "context_length": m.context_length,
        "license": m.license,
        "content_hash": m.content_hash,
        "parent": m.parent,
        "registered_tick": m.registered_tick,
        "retired_tick": m.retired_tick,
    }


MODEL_PAGE = 100  # listings a page of retired or all models holds by default
MAX_MODEL_PAGE = 1_000


def model_state(m: Any, retired: bool) -> str:
    """listed, retiring (retired, still in the live state: an open task names it, or from rule 26 a live fine-tune names it
    as its parent) or retired (it left the live state)."""
    return "listed" if m.retired_tick is None else ("retired" if retired else "retiring")


def model_list(s: State, which: str = "live", limit: int | None = None, after: str | None = None) -> dict[str, Any]:
    """Every live model by id (``cor model list``; a retiring one among them); or, with ``which`` retired or all, or a
    ``limit`` or ``after``, one page of listings in key order (``<id>@<registered tick>``: rule 25's retired listings read
    from the database, an id registered again once per listing), ``next_after`` the ``after`` of the next page (None: no
    listing left). A page reads at most ``limit + 1`` listings: the cost is the page's, not the history's."""
    if which == "live" and limit is None and after is None:
        rows = [(m, False) for _, m in sorted(s.models.items())]
        nxt = None
    else:
        limit = MODEL_PAGE if limit is None else limit
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_MODEL_PAGE:
            raise InvalidInput(f"limit must be a whole number in [1, {MAX_MODEL_PAGE}], got {limit!r}", code="invalid_limit")
        page = list(islice(models_by_key(s, which, after, min(limit + 1, 200)), limit + 1))
        rows, nxt = page[:limit], model_key(page[limit - 1][0]) if len(page) > limit else None
    return {"state": which, "models": [{**model(m, s.params), "state": model_state(m, r)} for m, r in rows], "next_after": nxt}


def model_view(s: State, model_id: str, at_tick: int | None = None) -> dict[str, Any]:
    """One model, live or retired (``cor model show``): its card and whether it is listed, retiring or retired (rule 25:
    a retired model that left the live state is read from the database), and ``listings``: every listing of its id,
    oldest first (an id may be registered again once its retired listing left). With ``at_tick``: the listing in force at
    that tick (the last registered at or before it)."""
    m = get_model(s, model_id, at_tick)
    listings = model_listings(s, model_id)
    return {
        **model(m, s.params),
        "state": model_state(m, s.models.get(model_id) is not m),
        "listings": [{"registered_tick": x.registered_tick, "retired_tick": x.retired_tick, "owner": x.owner} for x in listings],
    }


def session(state: State, s: Any) -> dict[str, Any]:
    return {
        "id": s.id,
        "owner": s.owner,
        "mode": s.mode,
        "redundancy": s.redundancy,
        "validators": s.validators,
        "dedicated_miners": list(s.dedicated_miners),
        "open": s.is_open,
        "open_tasks": s.open_tasks,
        "deposit": format_cor(state.ledger.balance(f"escrow:session:{s.id}")),
        "deposit_units": str(state.ledger.balance(f"escrow:session:{s.id}")),
    }


def task_result(t: Any) -> dict[str, Any] | None:
    """The answer the network stands behind once validators have reported: among the outputs in consensus,
    the best quality (then the smallest PoI distance, then the lowest address); None before, or when none is."""
    chosen = [a for a in t.miners if a.in_consensus and a.output_hash]
    if not chosen:
        return None
    best = min(chosen, key=lambda a: (-(a.quality_ppb or 0), a.distance_ppb if a.distance_ppb is not None else 2**63, a.miner))
    return {
        "miner": best.miner,
        "output_hash": best.output_hash,
        "output_tokens": best.output_tokens,
        "quality_ppb": best.quality_ppb,
        "poi_distance_ppb": best.distance_ppb,
        "in_consensus": sum(1 for a in t.miners if a.in_consensus),
        "blob": f"/v1/blobs/{best.output_hash}",
    }


FEE_STREAMS = ("task_fee:miner", "task_fee:validator", "task_fee:router", "task_fee:royalty", "task_fee:royalty_parent")
"""The statement lines a settled user task's price pays (core/fees.py ``settle_fee``), one an address paid."""


def _task_lines(state: State, t: Any) -> list[EarningItem] | None:
    """The statement lines of settled user task ``t``'s settlement (its ``task_payment`` line and every ``task_fee:*``
    line naming it), from the epoch it settled in: the live epoch's lines or a closed epoch's record, searched from the
    epoch it was created in (its settlement's epoch is not stored: the close may share its tick). None if not found."""
    closed = t.closed_tick
    for e in range(t.created_epoch, state.epoch + 1):
        if e == state.epoch:
            items = state.earnings
        else:
            record = epoch_record(state, e)
            if record is None or closed is None or record.end_tick < closed:  # (settled later: the next epoch)
                continue
            if record.start_tick > closed:  # (past it: not found)
                return None
            items = record.items
        found = [i for i in items if i.detail.get("task") == t.id and (i.stream == "task_payment" or i.stream in FEE_STREAMS)]
        if any(i.stream == "task_payment" for i in found):
            return found
    return None


def task_fee(state: State, t: Any) -> dict[str, Any] | None:
    """Who got what of a settled user task's price, from its settlement's statement lines (nothing recomputed): each
    line's address, stream and amount; the treasury's (its split part, the router's when the task named none, and from
    rule 30 the validators' part when no reporting validator agreed: ``validators_unearned``, named on the user's
    ``task_payment`` line); the dust (the split's remainder and the pro-rata floors): the price less all of those.
    None for a task that paid no fee (a network task, or not settled) or whose lines are not found."""
    if t.kind != "user" or t.state != "SETTLED":
        return None
    lines = _task_lines(state, t)
    if lines is None:
        return None
    payment = next(i for i in lines if i.stream == "task_payment")
    unearned = payment.detail.get("validators_unearned")
    paid = [i for i in lines if i.stream != "task_payment"]
    treasury = t.split.get("treasury", 0) + (0 if t.router else t.split.get("router", 0)) + int(unearned or 0)
    dust = t.charged - sum(i.amount for i in paid) - treasury
    return {
        "price": format_cor(t.charged),
        "price_units": str(t.charged),
        "paid": [{"address": i.address, "stream": i.stream, "amount": format_cor(i.amount), "amount_units": str(i.amount)} for i in paid],
        "treasury": format_cor(treasury),
        "treasury_units": str(treasury),
        "treasury_part": format_cor(t.split.get("treasury", 0)),  # the split's own part (task_fee:treasury)
        "router_absent": None if t.router else format_cor(t.split.get("router", 0)),
        "validators_unearned": None if unearned is None else format_cor(int(unearned)),
        "validators_unearned_units": None if unearned is None else str(unearned),
        "dust": format_cor(dust),
        "dust_units": str(dust),
    }


def task(state: State, t: Any, *, fee: bool = True) -> dict[str, Any]:
    """A task with its state machine progress, PoI distances, quality and payments, and its ``result``; with ``fee`` (one
    task's view, not a list's: it reads the lines of the epoch the task settled in) a settled user task's ``fee``: who got
    what of its price (``task_fee``)."""
    return {
        "id": t.id,
        "kind": t.kind,
        "state": t.state,
        "failure": t.failure,
        "user": t.user,
        "session": t.session,
        "router": t.router,
        "model": t.model,
        "prompt_hash": t.prompt_hash,
        "input_tokens": t.input_tokens,
        "max_output_tokens": t.max_output_tokens,
        "settled_input_tokens": t.settled_input_tokens,
        "measured_tokens": t.measured_tokens,  # its rules: validators count the tokens (else miners claim them)
        "spread_rule": t.spread_rule,  # its rules: raw distances and each validator's spread; the core sets the threshold
        "spread_ppb": t.spread_ppb,  # settled: the stake-weighted median of the validators' spreads (spread rule)
        "threshold_ppb": t.threshold_ppb,  # settled: the PoI threshold its miners' distances were compared with (spread rule)
        "output_tokens": t.output_tokens,
        "consensus_output_tokens": t.output_tokens,  # the median of the miners in consensus, capped: what work and the price use
        "redundancy": t.redundancy,
        "seed": t.seed or None,  # the seed its miners were drawn with (the log head's hash on a network without a beacon)
        "created_tick": t.created_tick,
        "deadline_tick": t.deadline_tick if t.closed_tick is None else None,
        "closed_tick": t.closed_tick,
        "escrowed": format_cor(t.escrowed),
        "charged": format_cor(t.charged),
        "refunded": format_cor(t.refunded),
        "escrowed_units": str(t.escrowed),
        "charged_units": str(t.charged),
        "refunded_units": str(t.refunded),
        "split": {k: format_cor(v) for k, v in t.split.items()},
        **({"fee": task_fee(state, t)} if fee else {}),
        "result": task_result(t),
        "miners": [
            {
                "miner": a.miner,
                "precommitted": a.commit is not None,
                "revealed": a.reveal_tick is not None,
                "mismatch": a.mismatch,
                "output_hash": a.output_hash,
                "output_tokens": a.output_tokens,
                "poi_distance_ppb": a.distance_ppb,
                "quality_ppb": a.quality_ppb,
                "in_consensus": a.in_consensus,
                "planted": a.planted,
                "paid": format_cor(a.paid),
                "paid_units": str(a.paid),
                "reveal_tick": a.reveal_tick,
                "reveal_rank": a.reveal_rank,  # reveal order: 0 = first (the latency part of the miner's reputation observation)
            }
            for a in t.miners
        ],
        "round": t.round,
        "validators": [
            {
                "validator": v,
                "round": t.validator_round.get(v, 0),
                "committed": v in t.report_commits,
                "reported": v in t.reports,
                "agreement_ppb": t.agreement_ppb.get(v),
                "canary_failed": v in t.canary_failed,
                # rule 31 (RULES_ESCALATION_PAY): its report made the task escalate, so it pays for the escalation (the key only then)
                **({"dissented": True} if v in t.dissenters else {}),
                # rule 32 (RULES_PANEL_WEIGHTS): its stake at settlement, the weight its reports had in the consensus (the key only then)
                **({"weight": str(t.panel_weights[v])} if v in t.panel_weights else {}),
                "reports": {
                    m: {"poi_distance_ppb": r[0], "quality_ppb": r[1], "output_tokens": t.output_counts.get(v, {}).get(m)}
                    for m, r in t.reports.get(v, {}).items()
                },
                "input_tokens": t.input_counts.get(v),
                "spread_ppb": t.spreads.get(v),
            }
            for v in t.validators
        ],
        "canary": t.canary,
    }


def proposal_view(s: State, p: Any) -> dict[str, Any]:
    """A proposal with its votes and tally (live while voting, with the stake bonded now; final after)."""
    return {
        "id": p.id,
        "kind": p.kind,
        "title": p.title,
        "proposer": p.proposer,
        "status": p.status,
        "result": p.result,
        "body": json_ready(p.body),
        "deposit": format_cor(p.deposit),
        "created_tick": p.created_tick,
        "end_tick": p.end_tick,
        "total_power": format_cor(p.total_power),
        "votes": dict(sorted(p.votes.items())),
        "tally": {k: format_cor(v) for k, v in tally(s, p).items()},
        "quorum_met": p.quorum_met if p.tallied_tick is not None else None,
        "executable_tick": p.executable_tick,
        "executed_epoch": p.executed_epoch,
    }


def money_constants() -> dict[str, Any]:
    """The fixed numbers (not governed parameters) that move money, for an auditor (docs/rewards.md)."""
    from ..core.pricing import CONTEXT_FACTOR_PPB, QUANTIZATION_FACTOR_PPB, TIERS
    from ..core.reputation import MINER_WEIGHTS_BPS
    from ..core.rewards import APR_SCHEDULE_BPS
    from ..core.work_rewards import MAX_COMPLEXITY_UNITS

    return {
        "tier_weights": {name: weight for name, _, weight in TIERS},
        "tier_max_parameters": {name: bound for name, bound, _ in TIERS},
        # the price's factors by the model's card (docs/rewards.md *Task fees*): its quantization, and its context length
        # (the first bound at or above it; the last, bound None, for any longer context)
        "quantization_factor_ppb": dict(QUANTIZATION_FACTOR_PPB),
        "context_factor_ppb": [{"max_context_length": bound, "factor_ppb": factor} for bound, factor in CONTEXT_FACTOR_PPB],
        "max_complexity_units_per_row": MAX_COMPLEXITY_UNITS,
        "apr_schedule_bps": [{"from_month": month, "target_apr_bps": bps} for month, bps in APR_SCHEDULE_BPS],
        "reputation_miner_weights_bps": dict(MINER_WEIGHTS_BPS),
        "units_per_cor": 10**18,
    }


def params_view(s: State) -> dict[str, Any]:
    """The parameters in force, their bounds and documentation, every version by epoch, the controllers."""
    history = param_versions(s)
    return {
        "epoch": s.epoch,
        "in_force": s.params.to_dict(),
        "schema": param_schema(),
        "history": [{"from_epoch": e, "params": p.to_dict()} for e, p in history],
        "constants": money_constants(),
        "controllers": {
            n: {
                "param": c.param,
                "target_bps": c.target_bps,
                "min": json_ready(c.min_value),
                "max": json_ready(c.max_value),
                "max_step": json_ready(c.max_step),
                "enabled": c.enabled,
            }
            for n, c in sorted(s.controllers.items())
        },
    }
