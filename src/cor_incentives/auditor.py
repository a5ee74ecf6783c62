"""An outside auditor's recomputation of an epoch's payouts, from published JSON and docs/rewards.md only.

This module is the auditor's code, not the engine's: it imports nothing from ``cor_incentives``
(only the Python standard library; a test and an import-linter contract hold it to that), and every
formula in it was written from ``docs/rewards.md``, section by section, never from the source.
Its inputs are what the product publishes, the same JSON as ``cor ... --json`` and the HTTP API:

    epoch     cor epoch show N --json          GET /v1/epochs/N        (streams, staking, lines, leaves, root, reputation)
    previous  cor epoch show N-1 --json        GET /v1/epochs/N-1      (the reputation at the previous close)
    params    cor gov params --json            GET /v1/params          (every version by epoch, and the constants)
    tasks     cor task show ID --json          GET /v1/tasks/ID        (each task behind the epoch's work streams)
    models    cor model list --json            GET /v1/models          (owners and parents, for the marketplace)
    slashes   cor slash list --json            GET /v1/slashes         (each slash's total and its split)
    nodes     cor node list --json             GET /v1/nodes           (each node's role and models, for the staking APR)

Parameter *values* come from the published JSON; the *formulas* are written here. If the engine's
formula changes and the document does not, the recomputation stops matching; if the document changes,
``DOC_SECTIONS`` (the sha256 of each section this code was written against) no longer matches
``docs/rewards.md`` and the audit test says which section to re-read. Run it standalone::

    python auditor.py --api http://127.0.0.1:8000 1
    python auditor.py --bundle epoch1.json            # {"epoch": ..., "previous": ..., "params": ..., "tasks": {...}, "models": ...}

The report: for every quantity, ``matched`` of ``total`` and the mismatches by name.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# sha256 of each "## " section of docs/rewards.md (its heading line to the next heading, stripped) that
# this code implements. Change the document, re-read the section, update the code, then the hash.
DOC_SECTIONS = {
    "Auditing": "dc4f81cb88c98e725cda0a9e046432cc08c2e181e7631646fa5b49f4c75e4206",
    "Order of the epoch steps": "658257aa0f36ae5195e255b5c9a8713a99e32f8a0bfe519fa98f027bf1bc8ae4",
    "Emission": "3acc6a1b7e080974e5bf6c420536f67931929f2d7de0384abc0d1b59efb4fc86",
    "Network work: the rate and the budget (miners and validators streams)": "bcd83ed978b536e293ef767061fb1a7d7a6e64f704ed598eb2c87fc260f5d28d",
    "The user-task bonus": "eb1a8865ccf046bf4716dc5910905002a70493263694f6d041587084dcd6c0a8",
    "Task fees": "7d62bc5fc4b463fca374977282a726a9653db7465fd34d771b06ee13fc61101f",
    "Who is drawn, and what a draw costs": "406a58d1068677d4c17ea08503a8fac68e3e3d40410904d536005d7533c8f54e",
    "Marketplace stream": "864a99ab91ecd99bf8545f7f98d60b142eb9d87b08ae6ec3e08fc35fce0b9b7e",
    "Work units and tiers": "dddc9b20d498d74dbae144b71dbeaa9dd37fb37df71d026f593374db393e5cba",
    "Stakers' rewards: stake × time": "a502f3c2f933434ec3e91b8baea565fbceb785466fccc2bd234bbd1ec81e0c00",
    # a refusal (rule 20): nothing an epoch document carries to recompute
    "Stake positions: the minimum (rule 20)": "71bfbf667149694eb48b951bc29f934a1f7447cd019706abfd60bd5dd290a11d",
    "Staking APR": "32a904aeeb70139a7fa58e1a4fd9712b3a90ba105c52fe9eba23c054828b18ae",
    "Reputation": "5c3a584a29218b2918d7000eed04957c0293743898441a6b41b906619febb29c",
    "Commission": "029b8052be177a8bdb943b9cc4a8a8d32a2072048a5514ca0cd48fc81bd456d4",
    "Slashing": "3d4eeb554cd1d6d20b632fb088ac74721a8b85775568186d46aab9d9fee8932c",
    "Moving stake: redelegation and cancelled unbonding": "c23903738d159c4966ad624843092343300d21f9a13351799754b3bd4f9f426f",
    "Claims and the move of an epoch on chain": "a84fb0cb683fe16d0f21f3b824a933f98b90d93ee956898a6ff5783c64baa9cc",
    "Governance: voting power": "e500b66033b95267798aca96c8ce04a19cd468a2132df68de366f80e81c59d27",
    "Governance: deposits": "e301d48804456dbed6da9d6521c811d9c4df6fea0f40ad5467cfe49030c70eec",
    "Governance: treasury spends": "4c94ef55b274b07683a00d6e1faf71e75d73cf8f6d8c343aed68bef4da0e50d4",
    "Governance: voter rewards": "3b74dc5570add2fd68e6e212405ce68fb77cf6e6f28499356846861cdb64554a",
    "Community stream": "134698addb6713815cbfd653ba0d11a5875d114998ecb6c25f803ca7d2db521c",
    "Bounties and challenges": "8118903893a6da9f5f63ac168c43db612d087a45fb6beb0a35b031a31640723a",
    "Transfers": "aaafb534a1eff1aef9cc8f7932a969b405276373065d431f6d372f52dd476f62",
    "Validators: what they report and how it is scored": "9942a53f528ff082f780cdfcaea85e35794665914c369cb381d9f41a3e888839",
    "Validator pay": "ece63b02942620d81a3bfd4659f1f7a04afaf4050fd7d3cb61a84feeacc89ac0",
}

BPS = 10_000
PPB = 10**9


def doc_sections(text: str) -> dict[str, str]:
    """sha256 of each ``## `` section of a markdown document (heading to the next heading, stripped)."""
    out: dict[str, str] = {}
    title, body = None, []  # type: ignore[var-annotated]
    for row in text.splitlines() + ["## "]:
        if row.startswith("## "):
            if title is not None:
                out[title] = hashlib.sha256("\n".join(body).strip().encode()).hexdigest()
            title, body = row[3:].strip(), []
        elif title is not None:
            body.append(row)
    return out


# --- keccak-256 (the Merkle tree's hash), in plain Python --------------------------------------

_RC = [
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000, 0x000000000000808B, 0x0000000080000001,
    0x8000000080008081, 0x8000000000008009, 0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003, 0x8000000000008002, 0x8000000000000080,
    0x000000000000800A, 0x800000008000000A, 0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
]  # fmt: skip
_ROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61], [28, 55, 25, 21, 56], [27, 20, 39, 8, 14]]
_M = (1 << 64) - 1


def _keccak_f(a: list[list[int]]) -> None:
    for rc in _RC:
        c = [a[x][0] ^ a[x][1] ^ a[x][2] ^ a[x][3] ^ a[x][4] for x in range(5)]
        d = [c[(x - 1) % 5] ^ (((c[(x + 1) % 5] << 1) | (c[(x + 1) % 5] >> 63)) & _M) for x in range(5)]
        for x in range(5):
            for y in range(5):
                a[x][y] ^= d[x]
        b = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                r = _ROT[x][y]
                b[y][(2 * x + 3 * y) % 5] = ((a[x][y] << r) | (a[x][y] >> (64 - r))) & _M if r else a[x][y]
        for x in range(5):
            for y in range(5):
                a[x][y] = b[x][y] ^ ((~b[(x + 1) % 5][y]) & b[(x + 2) % 5][y])
        a[0][0] ^= rc


def keccak256(data: bytes) -> bytes:
    """Keccak-256 as Ethereum uses it (padding 0x01 ... 0x80, rate 136 bytes)."""
    rate = 136
    padded = bytearray(data) + b"\x01" + b"\x00" * ((-len(data) - 1) % rate)
    padded[-1] |= 0x80
    a = [[0] * 5 for _ in range(5)]
    for off in range(0, len(padded), rate):
        block = padded[off : off + rate]
        for i in range(rate // 8):
            x, y = i % 5, i // 5
            a[x][y] ^= int.from_bytes(block[8 * i : 8 * i + 8], "little")
        _keccak_f(a)
    return b"".join(a[i % 5][i // 5].to_bytes(8, "little") for i in range(4))


def merkle_root(epoch: int, leaves: dict[str, int]) -> str | None:
    """OpenZeppelin StandardMerkleTree root of the ``(address, uint256 epoch, uint256 amount)`` leaves (docs/claims.md)."""
    if not leaves:
        return None
    hashes = []
    for addr, amount in leaves.items():
        encoded = bytes(12) + bytes.fromhex(addr[2:]) + epoch.to_bytes(32, "big") + amount.to_bytes(32, "big")
        hashes.append(keccak256(keccak256(encoded)))
    hashes.sort()
    n = len(hashes)
    tree: list[bytes] = [b""] * (2 * n - 1)
    for k, h in enumerate(hashes):
        tree[2 * n - 2 - k] = h
    for i in range(n - 2, -1, -1):
        left, right = tree[2 * i + 1], tree[2 * i + 2]
        tree[i] = keccak256(left + right if left <= right else right + left)
    return "0x" + tree[0].hex()


# --- the report -------------------------------------------------------------------------------


@dataclass
class Quantity:
    matched: int = 0
    total: int = 0
    mismatches: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Report:
    epoch: int
    quantities: dict[str, Quantity] = field(default_factory=dict)
    not_recomputed: list[str] = field(default_factory=list)

    def check(self, quantity: str, what: str, recomputed: Any, published: Any) -> bool:
        q = self.quantities.setdefault(quantity, Quantity())
        q.total += 1
        if recomputed == published:
            q.matched += 1
            return True
        q.mismatches.append({"what": what, "recomputed": _show(recomputed), "published": _show(published)})
        return False

    @property
    def ok(self) -> bool:
        return all(q.matched == q.total for q in self.quantities.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "ok": self.ok,
            "matched": sum(q.matched for q in self.quantities.values()),
            "total": sum(q.total for q in self.quantities.values()),
            "quantities": {
                name: {"matched": q.matched, "total": q.total, "mismatches": q.mismatches[:20]} for name, q in sorted(self.quantities.items())
            },
            "not_recomputed": self.not_recomputed,
        }


def _show(v: Any) -> Any:
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


# --- reading the published JSON ---------------------------------------------------------------


def params_for_epoch(params_json: dict[str, Any], epoch: int) -> dict[str, Any]:
    """The parameter version in force in ``epoch``: the last of ``history`` whose from_epoch ≤ epoch."""
    chosen = None
    for version in params_json.get("history") or []:
        if version["from_epoch"] <= epoch:
            chosen = version["params"]
    return _numbers(chosen if chosen is not None else params_json["in_force"])


def _numbers(v: Any) -> Any:
    """Amounts are published as decimal strings (exact beyond 2**53): read them back as integers."""
    if isinstance(v, dict):
        return {k: _numbers(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_numbers(x) for x in v]
    if isinstance(v, str) and (v.isdigit() or (v[:1] == "-" and v[1:].isdigit())):
        return int(v)
    return v


def _int(v: Any) -> int:
    return int(v) if v is not None else 0


def lines_of(epoch_json: dict[str, Any], stream: str) -> list[dict[str, Any]]:
    return [x for x in epoch_json["lines"] if x["stream"] == stream]


# --- the recomputation, section by section of docs/rewards.md ----------------------------------


@dataclass
class Row:
    """One assignment of the epoch (docs/rewards.md, *Network work*)."""

    task: int
    node: str
    network: bool
    units: int  # complexity units, capped (0 when not in consensus)
    quality_ppb: int
    in_consensus: bool
    precommitted: bool
    model: str
    fee_units: int = 0
    counted_ppb: int | None = None  # *Validator pay*, rule 29: the quality its work counts at (None: quality_ppb)


def work_units(task: dict[str, Any], p: dict[str, Any], constants: dict[str, Any]) -> int:
    """*Work units and tiers*: (settled input + consensus output tokens) × the listed tier's weight, capped per row."""
    tier = (p.get("listed_model_tiers") or {}).get(task["model"], "tiny")
    settled = task.get("settled_input_tokens")
    inputs = task["input_tokens"] if settled is None else settled
    units = (inputs + (task.get("consensus_output_tokens") or 0)) * constants["tier_weights"][tier]
    return min(units, constants["max_complexity_units_per_row"])


PAID_PLANTER_RULES = 18  # *Canaries*: from this rule version a canary's planter is paid
SLIM_NODE_LINES_RULES = 28  # *Auditing*: from this rule version a work node line names no tasks (its rows: streams.*.tasks)
SELF_REPORT_RULES = 29  # core/rules.py RULES_SELF_REPORT: a reporter is paid from the operator's own pieces
UNEARNED_VALIDATOR_FEE_RULES = 30  # *Task fees*: from this rule version Σ agreement 0 pays no validator (the part: treasury)
STAKE_TICKS_COMMISSION_RULES = 31  # *Commission*: from this rule version "no stake" (all commission) is stake × ticks 0
COMMUNITY_RATE_RULES = 31  # *Community stream*: from this rule version a point earns a rate, capped per member, pro rata when binding
MARKETPLACE_RATE_RULES = 31  # *Marketplace stream*: from this rule version a model earns its usage at the rate (pro rata when binding)
ESCALATION_SHARE_RULES = 29  # *Validator pay*: from this rule version a network task's validations are paid once (escalations share)
ESCALATION_PAY_RULES = 31  # *Validator pay*: from this rule version an escalation is paid by the reports that made it
ESCALATION_FUNDED_RULES = 33  # *Validator pay*: from this rule version what a dissenter's rows cannot pay comes from its bond
ESCALATION_UNBONDING_RULES = 34  # *Validator pay*: from this rule version the charge reaches its unbonding entries of the epoch
ESCALATION_PRICED_RULES = 35  # *Validator pay*: from this rule version a funded validation costs rate × reputation_multiplier_max_ppb
UNOPENED_CANARY_RULES = 36  # *Reputation*: from this rule version an unopened canary moves no out-of-consensus miner
PANEL_WEIGHTS_RULES = 32  # *Consensus*: from this rule version a task view carries each reporting validator's ``weight``


def planter_quality_ppb(qualities: list[int]) -> int:
    """*Canaries*: the median of the in-consensus miners' qualities, the floored mean of the two middle ones for an even count."""
    q = sorted(qualities)
    n = len(q)
    return q[n // 2] if n % 2 else (q[n // 2 - 1] + q[n // 2]) // 2


def paid_planter(t: dict[str, Any], p: dict[str, Any]) -> tuple[dict[str, Any], int] | None:
    """*Canaries*: the settled canary's planter (its one miner marked planted, rule 18 on) and its credited quality."""
    if p.get("rule_version", 1) < PAID_PLANTER_RULES or t.get("canary") != "planted" or t["state"] != "SETTLED":
        return None
    planted = [m for m in t["miners"] if m.get("planted")]
    winners = [m["quality_ppb"] or 0 for m in t["miners"] if m["in_consensus"]]
    if len(planted) != 1 or not winners:
        return None
    return planted[0], planter_quality_ppb(winners)


def miner_rows(tasks: list[dict[str, Any]], p: dict[str, Any], constants: dict[str, Any]) -> list[Row]:
    rows = []
    for t in tasks:
        planter = paid_planter(t, p)
        for m in t["miners"]:
            if planter is not None and m is planter[0]:  # *Canaries*: the task's units at the in-consensus median quality
                units = work_units(t, p, constants)
                rows.append(
                    Row(
                        t["id"],
                        m["miner"],
                        t["kind"] == "network",
                        units,
                        planter[1],
                        True,
                        bool(m["precommitted"]),
                        t["model"],
                        _int(m.get("paid_units")),
                    )
                )
                continue
            if m.get("planted"):  # a canary's planted output is no assignment of its miner (*Canaries*), nor paid before rule 18
                continue
            ok = bool(m["in_consensus"])
            rows.append(
                Row(
                    t["id"],
                    m["miner"],
                    t["kind"] == "network",
                    work_units(t, p, constants) if ok else 0,
                    (m["quality_ppb"] or 0) if ok else 0,
                    ok,
                    bool(m["precommitted"]),
                    t["model"],
                    _int(m.get("paid_units")),
                )
            )
    return rows


def escalation_charge(units: int, p: dict[str, Any]) -> int:
    """*An escalation a dissenter cannot pay for is charged to its bond (rule 33)*: ceil(units × rate / 1e9), rate =
    network_validation_rate_units; from rule 35 (*… priced at the most a payee can be paid*) ceil(units × rate ×
    reputation_multiplier_max_ppb / 1e18). The parameters from the published params, not from the line."""
    rate = _int(p.get("network_validation_rate_units", 0))
    if p.get("rule_version", 1) >= ESCALATION_PRICED_RULES:
        return -(-(units * rate * _int(p["reputation_multiplier_max_ppb"])) // (PPB * PPB))
    return -(-(units * rate) // PPB)


def validator_rows(tasks: list[dict[str, Any]], p: dict[str, Any], bond: dict[str, int] | None = None, r: Report | None = None) -> list[Row]:
    """*Validator pay*: one row per assigned validation; past canary_failures_max failed canaries, every row at agreement 0.
    ``bond`` (rule 33): each node's validation units paid from its self-bond, from its ``escalation_unfunded`` line."""
    failures: dict[str, int] = {}
    for t in tasks:
        for v in t["validators"]:
            if v.get("canary_failed"):
                failures[v["validator"]] = failures.get(v["validator"], 0) + 1
    forfeit = {n for n, k in failures.items() if k > p.get("canary_failures_max", 0)}
    if p.get("rule_version", 1) >= ESCALATION_PAY_RULES:
        return _escalation_paid_rows(tasks, forfeit, bond if p.get("rule_version", 1) >= ESCALATION_FUNDED_RULES else None, r)
    rows = []
    shared = p.get("rule_version", 1) >= ESCALATION_SHARE_RULES
    cap = p.get("validators_per_task", 0)
    for t in tasks:
        agreement = [0 if v["validator"] in forfeit else (v["agreement_ppb"] or 0) for v in t["validators"]]
        counted: list[int | None] = [None] * len(agreement)
        if shared and t["kind"] == "network" and len(agreement) > cap:
            # rule 29: the first cap validators (draw order) count whole; the later share what they left of cap validations
            first, later = t["validators"][:cap], t["validators"][cap:]
            left = cap * PPB - sum(a for v, a in zip(first, agreement) if v["reported"])
            each = left // max(1, sum(1 for v in later if v["reported"]))
            counted = [None] * cap + [min(a, each) for a in agreement[cap:]]
        for v, a, c in zip(t["validators"], agreement, counted):
            rows.append(Row(t["id"], v["validator"], t["kind"] == "network", 1, a, bool(v["reported"]), bool(v["reported"]), t["model"], 0, c))
    return rows


def _escalation_paid_rows(tasks: list[dict[str, Any]], forfeit: set[str], bond: dict[str, int] | None = None, r: Report | None = None) -> list[Row]:
    """*An escalation is paid by the reports that made it (rule 31)*, from the tasks (in the order the stream lists them)
    and each validator's ``round`` and ``dissented`` in the task's record: a dissenter's row counts 0; the later rounds'
    others share left + funded in proportion to agreement, in full when that covers them; each dissenter owes
    (Σ − left) // D and pays it, task by task, from its network rows' counts (before any charge) in row order. Rule 33
    (*An escalation a dissenter cannot pay for is charged to its bond*): ``bond`` adds each dissenter's units charged to its
    self-bond (its ``escalation_unfunded`` line) to its capacity after its rows; checked to be at most what its rows could
    not pay (``escalation_unfunded.within_debt``; the bond at the close itself is not published: not recomputed)."""
    flat = []  # (task, validator, network, agreement, reported, round, dissented)
    spans = []  # each task's rows: (task, first row, end)
    for t in tasks:
        network = t["kind"] == "network"
        start = len(flat)
        for v in t["validators"]:
            a = 0 if v["validator"] in forfeit else (v["agreement_ppb"] or 0)
            flat.append((t, v["validator"], network, a, bool(v["reported"]), int(v.get("round") or 0), bool(v.get("dissented"))))
        spans.append((t, start, len(flat)))
    counted = [a if on else 0 for _, _, _, a, on, _, _ in flat]
    plans = []
    for t, start, end in spans:
        mine = range(start, end)
        if t["kind"] != "network" or not any(flat[i][5] > 0 for i in mine):
            continue
        first = [i for i in mine if flat[i][5] == 0]
        later = [i for i in mine if flat[i][5] > 0 and not flat[i][6]]
        dissenters = [i for i in mine if flat[i][6]]
        for i in dissenters:
            counted[i] = 0
        left = len(first) * PPB - sum(flat[i][3] for i in first if flat[i][4] and not flat[i][6])
        total = sum(flat[i][3] for i in later if flat[i][4])
        for i in later:
            if flat[i][4] and left < total:
                counted[i] = flat[i][3] * left // total
        owed = max(0, total - left) // len(dissenters) if dissenters else 0
        plans.append((later, left, total, owed, [flat[i][1] for i in dissenters]))
    owing = {n for *_, nodes in plans for n in nodes}
    own: dict[str, list[int]] = {n: [] for n in owing}  # each dissenter's network rows, in row order
    for i, x in enumerate(flat):
        if x[2] and x[1] in own:
            own[x[1]].append(i)
    rows_capacity = {n: sum(counted[i] for i in rows) for n, rows in own.items()}
    capacity = dict(rows_capacity)
    if bond is not None:
        debts: dict[str, int] = {}
        for *_, owed, nodes in plans:
            for n in nodes:
                debts[n] = debts.get(n, 0) + owed
        for n, units in sorted(bond.items()):
            short = max(0, debts.get(n, 0) - rows_capacity.get(n, 0))
            if r is not None:
                r.check("escalation_unfunded.within_debt", n, True, 0 < units <= short)
            if n in capacity:
                capacity[n] += min(units, short)
    paid = dict.fromkeys(capacity, 0)
    for later, left, total, owed, nodes in plans:
        funded = 0
        for n in nodes:
            take = min(owed, capacity[n] - paid[n])
            paid[n], funded = paid[n] + take, funded + take
        for i in later:
            if flat[i][4] and left < total:
                counted[i] = flat[i][3] if left + funded >= total else flat[i][3] * (left + funded) // total
    for n, due in paid.items():
        due = min(due, rows_capacity[n])  # the rows pay first; the rest came from the bond
        for i in own[n]:
            take = min(due, counted[i])
            counted[i], due = counted[i] - take, due - take
    return [Row(t["id"], v, network, 1, a, on, on, t["model"], 0, c) for (t, v, network, a, on, _, _), c in zip(flat, counted)]


def audit_work_stream(
    r: Report, epoch_json: dict[str, Any], stream: str, line_name: str, rows: list[Row], p: dict[str, Any], rate_param: str, bonus_param: str | None
) -> dict[str, int]:
    """*Network work: the rate and the budget* and *The user-task bonus*; returns each node's reward."""
    s = epoch_json["streams"][stream]
    budget = _int(s["budget"])
    rate = p[rate_param]
    bonus_bps = p[bonus_param] if bonus_param else 0
    rep = epoch_json["reputation_ppb"]
    nodes = sorted({x.node for x in rows})
    per: dict[str, dict[str, Any]] = {}
    rows_of: dict[str, dict[int, dict[str, int]]] = {}  # node -> task -> its bonus row, recomputed
    for n in nodes:
        mine = [x for x in rows if x.node == n]
        assignments = len(mine)
        precommit = sum(1 for x in mine if x.precommitted) * BPS // assignments
        score = sum(x.quality_ppb for x in mine if x.in_consensus) * BPS // (assignments * PPB)
        eligible = precommit >= p["min_precommit_rate_bps"] and score >= p["min_score_bps"]
        work = sum(x.units * (x.quality_ppb if x.counted_ppb is None else x.counted_ppb) for x in mine if x.in_consensus and x.network)
        lo, hi = p["reputation_multiplier_min_ppb"], p["reputation_multiplier_max_ppb"]
        multiplier = lo + (hi - lo) * rep[n] // PPB
        weighted = work * multiplier // PPB if eligible else 0
        network_claim = weighted * rate // PPB
        bonus = 0
        bonus_rows: dict[int, dict[str, int]] = {}
        if bonus_param and eligible:
            for x in mine:
                if not x.network and x.in_consensus:
                    equivalent = x.units * x.quality_ppb * multiplier // PPB * rate // PPB
                    cap = x.fee_units * bonus_bps // BPS
                    bonus += min(equivalent, cap)
                    bonus_rows[x.task] = {
                        "task": x.task,
                        "units": x.units,
                        "quality_ppb": x.quality_ppb,
                        "fee_units": x.fee_units,
                        "equivalent": equivalent,
                        "cap": cap,
                        "bonus": min(equivalent, cap),
                    }
        rows_of[n] = bonus_rows
        per[n] = {
            "assignments": assignments,
            "precommit_rate_bps": precommit,
            "score_bps": score,
            "eligible": eligible,
            "work": work,
            "multiplier_ppb": multiplier,
            "weighted": weighted,
            "network_claim": network_claim,
            "bonus": bonus,
            "claim": network_claim + bonus,
        }
    claims = sum(v["claim"] for v in per.values())
    for v in per.values():
        v["reward"] = v["claim"] if claims <= budget else budget * v["claim"] // claims
    node_lines = {x["address"]: x["detail"] for x in epoch_json["lines"] if x["stream"] in (f"{line_name}:node", f"{line_name}:none")}
    published = {n: d["inputs"] for n, d in node_lines.items()}
    for n, mine in per.items():
        got = published.get(n)
        if got is None:
            r.check(f"{line_name}.line", n, "a node or none line", None)
            continue
        for key, value in mine.items():
            r.check(f"{line_name}.{key}", n, value, got.get(key) if key != "reward" else _int(got.get(key)))
        if bonus_param:
            shown = {row["task"]: row for row in published_bonus_rows(s, node_lines[n])}
            r.check(f"{line_name}.bonus_rows", n, sorted(rows_of[n]), sorted(shown))
            for task, row in sorted(rows_of[n].items()):  # its inputs, and its equivalent, cap and bonus where published
                if task in shown:
                    r.check(f"{line_name}.bonus_row", f"{n} task {task}", {k: row[k] for k in shown[task]}, shown[task])
    if "formula" in s:  # *Auditing*: the stream-wide inputs, stated once in the stream's account
        r.check(f"{stream}.rate_units", stream, rate, s.get("rate_units"))
        r.check(f"{stream}.bonus_fee_bps", stream, bonus_bps, s.get("bonus_fee_bps"))
        r.check(f"{stream}.total_weighted", stream, sum(v["weighted"] for v in per.values()), _int(s.get("total_weighted")))
    for n in published:
        if n not in per:
            r.check(f"{line_name}.line", n, None, "a line for a node without rows")
    paid = sum(v["reward"] for v in per.values())
    if per:
        r.check(f"{stream}.claims", stream, claims, _int(s.get("claims")))
        r.check(f"{stream}.budget_binding", stream, claims > budget, s.get("budget_binding"))
    r.check(f"{stream}.paid", stream, paid, _int(s["paid"]))
    r.check(f"{stream}.back_to_pool", stream, budget - paid, _int(s["back_to_pool"]))
    return {n: v["reward"] for n, v in per.items()}


def published_bonus_rows(account: dict[str, Any], detail: dict[str, Any]) -> list[dict[str, Any]]:
    """*Auditing*: a node line's bonus rows: its ``bonus_rows_at`` = [first, count] in the columns of its stream's
    ``bonus_rows`` (task, units, quality_ppb, fee_units), or (a document of rule versions 1-10) the ``bonus_rows`` list
    in its inputs (with equivalent, cap and bonus)."""
    if "bonus_rows_at" not in detail:
        return list(detail["inputs"].get("bonus_rows") or [])
    first, count = detail["bonus_rows_at"]
    columns = account["bonus_rows"]
    return [{name: values[i] for name, values in columns.items()} for i in range(first, first + count)]


def audit_node_reward_split(r: Report, epoch_json: dict[str, Any], line_name: str, rewards: dict[str, int], p: dict[str, Any]) -> int:
    """*Stakers' rewards: stake × time* and *Commission*: commission, each position's share, the dust line. Returns Σ lines.
    A node with no stake takes all of its reward as commission: from rule 31 no stake × ticks in the epoch, before it no
    stake at the close."""
    nodes = epoch_json["staking"].get("nodes") or {}
    no_stake_by = "stake_ticks" if p.get("rule_version", 1) >= STAKE_TICKS_COMMISSION_RULES else "stake"
    total = 0
    commission_lines = {x["address"]: x for x in lines_of(epoch_json, f"{line_name}:commission")}
    node_line_rewards = {(x["address"], x["stream"]): _int(x["detail"]["inputs"].get("reward")) for x in lines_of(epoch_json, f"{line_name}:node")}
    stake_lines = lines_of(epoch_json, f"{line_name}:stake")
    dust_lines = {x["detail"]["node"]: _int(x["amount_units"]) for x in lines_of(epoch_json, f"{line_name}:dust")}
    for n, reward in sorted(rewards.items()):
        if not reward:
            continue
        info = nodes.get(n, {})
        bps = info.get("commission_bps", 0)
        commission = reward * bps // BPS if _int(info.get(no_stake_by, 0)) > 0 else reward
        line = commission_lines.get(n)
        r.check("commission.amount", f"{line_name} {n}", commission, _int(line["amount_units"]) if line else 0)
        if line:
            d = line["detail"]
            r.check("commission.rate_in_force", f"{line_name} {n}", bps, d["commission_bps"])
            r.check("commission.node_reward", f"{line_name} {n}", reward, _int(d["node_reward"]))
            if "node_line" in d:  # *Auditing*: the commission line cites the node line its node_reward is the reward of
                cited = node_line_rewards.get((n, d["node_line"]))
                r.check("commission.node_line_cited", f"{line_name} {n}", reward, cited)
            else:
                r.check("commission.node_reward_formula_kept", f"{line_name} {n}", True, bool(d.get("node_reward_formula")))
        rest = reward - commission
        node_stake_ticks = _int(info.get("stake_ticks"))
        shares = 0
        for x in stake_lines:
            d = x["detail"]
            if d["node"] != n:
                continue
            r.check("stake_share.node_reward", f"{line_name} {n} → {x['address']}", rest, _int(d["node_reward"]))
            r.check("stake_share.node_stake_ticks", f"{line_name} {n} → {x['address']}", node_stake_ticks, _int(d["node_stake_ticks"]))
            share = rest * _int(d["stake_ticks"]) // node_stake_ticks if node_stake_ticks else 0
            r.check("stake_share.amount", f"{line_name} {n} → {x['address']}", share, _int(x["amount_units"]))
            shares += share
        r.check("stake_share.dust", f"{line_name} {n}", rest - shares, dust_lines.get(n, 0))
        total += commission + shares + (rest - shares)
    return total


def audit_emission(r: Report, epoch_json: dict[str, Any], p: dict[str, Any]) -> None:
    """*Emission*: the schedule, the pool cap, the split and its remainder."""
    e = epoch_json["epoch"]
    em = epoch_json["streams"]["emission"]
    scheduled = p["emission_per_epoch_units"] * p["emission_decay_ppb"] ** e // PPB**e
    r.check("emission.scheduled", "scheduled", scheduled, _int(em["scheduled"]))
    emission = min(scheduled, _int(em["pool_balance"]))
    r.check("emission.budget", "emission", emission, _int(em["budget"]))
    split = p["emission_split_bps"]
    parts = {s: emission * bps // BPS for s, bps in split.items()}
    r.check("emission.split_remainder", "remainder", emission - sum(parts.values()), _int(em["split_remainder"]))
    for s, v in parts.items():
        r.check("emission.stream_budget", s, v, _int(epoch_json["streams"][s]["budget"]))


def audit_staking_apr(
    r: Report,
    epoch_json: dict[str, Any],
    p: dict[str, Any],
    constants: dict[str, Any],
    rows: list[Row],
    node_models: dict[str, tuple[str, list[str]]] | None,
) -> dict[str, int]:
    """*Staking APR*: the schedule by network age, each node's due, the budget guard, the effective APR; from rule version
    14 each due on the stake × ticks while selectable, a miner left out as not drawable has no row this epoch and, when
    the bundle lists the nodes (``node_models``: id -> (role, models)), a miner is left out exactly when none of its
    models is a model of the epoch's rows, and every router with stake is left out."""
    st = epoch_json["staking"]
    e = epoch_json["epoch"]
    months = e * 12 // p["epochs_per_year"]
    apr = 0
    for band in constants["apr_schedule_bps"]:
        if months >= band["from_month"]:
            apr = band["target_apr_bps"]
    r.check("apr.target_apr_bps", "target", apr, st["target_apr_bps"])
    nodes = st.get("nodes") or {}
    ticks_total = sum(_int(v["stake_ticks"]) for v in nodes.values())
    r.check("apr.stake_ticks", "Σ node stake_ticks", ticks_total, _int(st["stake_ticks"]))
    denominator = BPS * p["epochs_per_year"] * p["epoch_length_ticks"]
    excluded = st.get("excluded") or {}
    exposed = p.get("rule_version", 1) >= 14  # only stake exposed to work earns the APR

    def exposed_ticks(v: dict[str, Any]) -> int:
        return _int(v["stake_ticks"]) - (_int(v.get("idle_stake_ticks", 0)) if exposed else 0)

    if exposed:
        worked_by = {x.node for x in rows}
        worked = {x.model for x in rows}
        for n, why in sorted(excluded.items()):
            if why.startswith("not drawable: serves no model"):  # a miner with a row of the epoch served a worked model
                r.check("apr.not_drawable_has_no_row", n, False, n in worked_by)
            elif why.startswith("not drawable: not selectable"):
                r.check("apr.not_selectable_all_epoch", n, 0, exposed_ticks(nodes.get(n) or {"stake_ticks": 0}))
        for n, (role, served) in sorted((node_models or {}).items()):
            why = excluded.get(n)
            if (
                n not in nodes
                or not _int(nodes[n]["stake_ticks"])
                or (why is not None and not why.startswith(("not drawable: serves", "not drawable: a router")))
            ):
                continue  # no stake this epoch, or left out for another reason (slashed, jailed, not selectable)
            if role == "router":  # never drawn: never paid the APR
                r.check("apr.router_left_out", n, True, why is not None)
            elif role == "miner":
                r.check("apr.left_out_iff_no_worked_model", n, worked.isdisjoint(served), why is not None)
    due = {n: exposed_ticks(v) * apr // denominator for n, v in sorted(nodes.items()) if n not in excluded and _int(v["stake_ticks"])}
    due_total = sum(due.values())
    r.check("apr.due", "Σ due", due_total, _int(st["due"]))
    budget = _int(st["pool_balance"]) * p["max_epoch_drain_bps"] // BPS
    r.check("apr.budget", "budget", budget, _int(st["budget"]))
    binding = due_total > budget
    r.check("apr.budget_binding", "binding", binding, st["budget_binding"])
    paid = {n: (d * budget // due_total if binding else d) for n, d in due.items()}
    r.check("apr.paid", "Σ paid", sum(paid.values()), _int(st["paid"]))
    effective = sum(paid.values()) * p["epochs_per_year"] * p["epoch_length_ticks"] * BPS // ticks_total if ticks_total else 0
    r.check("apr.effective_apr_bps", "effective", effective, st["effective_apr_bps"])
    published = {x["address"]: x["detail"]["inputs"] for x in lines_of(epoch_json, "staking_apr:node")}
    for n, v in paid.items():
        if v:
            got = published.get(n, {})
            r.check("apr.node_due", n, due[n], _int(got.get("due")))
            r.check("apr.node_reward", n, v, _int(got.get("reward")))
    return paid


def audit_marketplace(r: Report, epoch_json: dict[str, Any], rows: list[Row], p: dict[str, Any], models: dict[str, dict[str, Any]]) -> None:
    """*Marketplace stream*: each model's usage in network tasks, its owner's share, a fine-tune's parent royalty; from rule 31
    a model's share is its claim at ``marketplace_usage_rate_units`` per unit of usage (pro rata only when the claims
    exceed the budget), not the whole stream by usage."""
    s = epoch_json["streams"]["marketplace"]
    budget = _int(s["budget"])
    usage: dict[str, int] = {}
    for x in rows:
        if x.in_consensus and x.network and x.model in models:
            usage[x.model] = usage.get(x.model, 0) + x.units * x.quality_ppb
    total = sum(usage.values())
    rated = p.get("rule_version", 1) >= MARKETPLACE_RATE_RULES
    if rated:  # claim = usage × rate // 1e9, in full while Σ claims fit the budget, else budget × claim // Σ claims
        rate = _int(p["marketplace_usage_rate_units"])
        claim = {m: u * rate // PPB for m, u in usage.items()}
        claims = sum(claim.values())
        share_of = {m: c if claims <= budget else budget * c // claims for m, c in claim.items()}
        r.check("marketplace.rate_units", "marketplace", rate, _int(s.get("rate_units")))
        r.check("marketplace.claims", "marketplace", claims if budget else 0, _int(s.get("claims")))
        if total and budget:
            r.check("marketplace.budget_binding", "marketplace", claims > budget, s.get("budget_binding"))
    else:
        share_of = {m: budget * u // total for m, u in usage.items()} if total else {}
    expected: dict[tuple[str, str], int] = {}
    for m in sorted(usage):
        share = share_of[m]
        model = models[m]
        parent = model.get("parent")
        if parent and parent in models:
            to_parent = share * p["parent_royalty_bps"] // BPS
            expected[(m, "owner")] = share - to_parent
            expected[(m, "parent_owner")] = to_parent
        else:
            expected[(m, "owner")] = share
    published = {
        (x["detail"]["inputs"]["model"], x["detail"]["inputs"]["role"]): _int(x["amount_units"]) for x in lines_of(epoch_json, "marketplace")
    }
    for key in sorted(set(expected) | set(published)):
        if expected.get(key, 0) or key in published:
            r.check("marketplace.share", f"{key[0]} {key[1]}", expected.get(key, 0), published.get(key, 0))
    paid = sum(expected.values()) if total and budget else 0
    r.check("marketplace.paid", "marketplace", paid, _int(s["paid"]))


def _by_bound(table: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """A table of (key, upper bound) rows in increasing bound, the unbounded row (bound None) last."""
    return sorted(table, key=lambda x: (x[1] is None, x[1] or 0))


def task_price(t: dict[str, Any], p: dict[str, Any], constants: dict[str, Any], model: dict[str, Any] | None) -> int | None:
    """*Task fees*, the price of a settled user task: the quote at its settled token counts, at most its escrow:

        tier      = the first of constants.tier_max_parameters (in increasing bound) with parameter_count < bound (None: any)
        per_miner = (base_fee_<tier>_units + settled_input × input_price_per_token_units
                     + consensus_output × output_price_per_token_units)
                    × quantization_factor_ppb[quantization] // 10**9 × context_factor_ppb(context_length) // 10**9
        total     = (per_miner × (redundancy − unpaid planted outputs) + validation_fee_units) × price_factor_ppb // 10**9
        price     = min(total, escrowed)

    the context factor the first row of constants.context_factor_ppb (in increasing bound) whose max_context_length ≥ the
    card's (None: any). An unpaid planted output (*Canaries*: a user canary from rule 17, a planter not paid as its miner)
    is left out of the redundancy. None when the card or the factor tables are not published (not recomputable)."""
    quantization, contexts = constants.get("quantization_factor_ppb"), constants.get("context_factor_ppb")
    if model is None or quantization is None or contexts is None or model.get("quantization") not in quantization:
        return None
    size, length = model["parameter_count"], model["context_length"]
    tiers = _by_bound(list(constants["tier_max_parameters"].items()))
    tier = next(name for name, bound in tiers if bound is None or size < bound)
    factors = _by_bound([(x["factor_ppb"], x["max_context_length"]) for x in contexts])
    context = int(next(f for f, bound in factors if bound is None or length <= bound))
    planted = sum(1 for m in t["miners"] if m.get("planted")) - (paid_planter(t, p) is not None)
    raw = p[f"base_fee_{tier}_units"] + _int(t.get("settled_input_tokens")) * p["input_price_per_token_units"]
    raw += _int(t.get("consensus_output_tokens")) * p["output_price_per_token_units"]
    per_miner = raw * quantization[model["quantization"]] // PPB * context // PPB
    total = (per_miner * (t["redundancy"] - planted) + p["validation_fee_units"]) * p["price_factor_ppb"] // PPB
    return min(total, _int(t["escrowed_units"]))


def audit_task_fees(
    r: Report,
    epoch_json: dict[str, Any],
    tasks: list[dict[str, Any]],
    p: dict[str, Any],
    models: dict[str, dict[str, Any]],
    constants: dict[str, Any],
) -> int:
    """*Task fees*: each settled user task's price (``task_fee.charged_units``: the quote at its settled token counts, at
    most its escrow, ``task_price``; the user's task_payment line −price, ``task_fee.payment``) and its split: miners and
    validators pro rata, router, royalties, all from the recomputed price; from rule 30 a task whose reporting validators
    all have agreement 0 pays none of them and its task_payment line names the part (unearned). Returns the number of
    tasks whose price could not be recomputed (no card or factor table published: their charged_units taken as given)."""
    unpriced = 0
    payments: dict[int, int] = {}
    fee_lines: dict[tuple[int, str, str], int] = {}
    other_lines: dict[tuple[int, str], int] = {}
    unearned_named: dict[int, int] = {}  # task -> the validators' part its task_payment line names as unearned (rule 30)
    for x in epoch_json["lines"]:
        if x["stream"] == "task_payment":
            payments[x["detail"].get("task")] = payments.get(x["detail"].get("task"), 0) + _int(x["amount_units"])
        if x["stream"] == "task_payment" and "validators_unearned" in x["detail"]:
            unearned_named[x["detail"].get("task")] = _int(x["detail"]["validators_unearned"])
        if x["stream"] in ("task_fee:router", "task_fee:royalty", "task_fee:royalty_parent"):
            key2 = (x["detail"].get("task"), x["stream"])
            other_lines[key2] = other_lines.get(key2, 0) + _int(x["amount_units"])
        if x["stream"] in ("task_fee:miner", "task_fee:validator"):
            key = (x["detail"].get("task"), x["stream"], x["address"])
            fee_lines[key] = fee_lines.get(key, 0) + _int(x["amount_units"])
    for t in tasks:
        if t["kind"] != "user" or t["state"] != "SETTLED":
            continue
        price = task_price(t, p, constants, models.get(t["model"]))
        if price is None:
            unpriced += 1
            price = _int(t["charged_units"])
        else:
            r.check("task_fee.charged_units", f"task {t['id']}", price, _int(t["charged_units"]))
        r.check("task_fee.payment", f"task {t['id']}", -price, payments.get(t["id"]))
        parts = {k: price * bps // BPS for k, bps in p["fee_split_bps"].items()}
        planter = paid_planter(t, p)  # *Canaries*: a paid planter shares at its credited quality
        winners = [(m, m["quality_ppb"] or 0) for m in t["miners"] if m["in_consensus"] or (planter is not None and m is planter[0])]
        winners = [(m, planter[1] if planter is not None and m is planter[0] else q) for m, q in winners]
        total_q = sum(q for _, q in winners)
        for m, q in winners:
            share = parts["miners"] * q // total_q if total_q else parts["miners"] // len(winners)
            r.check("task_fee.miner", f"task {t['id']} {m['miner']}", share, fee_lines.get((t["id"], "task_fee:miner", m["miner"]), 0))
        if t.get("router"):
            r.check("task_fee.router", f"task {t['id']}", parts["router"], other_lines.get((t["id"], "task_fee:router"), 0))
        royalty = parts["model_royalty"]
        parent = (models.get(t["model"]) or {}).get("parent")
        if parent:
            to_parent = royalty * p["parent_royalty_bps"] // BPS
            r.check("task_fee.royalty_parent", f"task {t['id']}", to_parent, other_lines.get((t["id"], "task_fee:royalty_parent"), 0))
            royalty -= to_parent
        r.check("task_fee.royalty", f"task {t['id']}", royalty, other_lines.get((t["id"], "task_fee:royalty"), 0))
        reported = [v for v in t["validators"] if v["reported"]]
        total_a = sum(v["agreement_ppb"] or 0 for v in reported)
        unearned = not total_a and p.get("rule_version", 1) >= UNEARNED_VALIDATOR_FEE_RULES
        if unearned or t["id"] in unearned_named:  # no validator agreed: the part went to the treasury, the payment line says so
            r.check("task_fee.validators_unearned", f"task {t['id']}", parts["validators"] if unearned else None, unearned_named.get(t["id"]))
        for v in reported:
            if unearned:
                share = 0
            else:
                share = parts["validators"] * (v["agreement_ppb"] or 0) // total_a if total_a else parts["validators"] // len(reported)
            r.check(
                "task_fee.validator", f"task {t['id']} {v['validator']}", share, fee_lines.get((t["id"], "task_fee:validator", v["validator"]), 0)
            )
    return unpriced


def audit_community(r: Report, epoch_json: dict[str, Any], p: dict[str, Any]) -> None:
    """*Community stream*: rules 1-30 reward(m) = stream × points(m) // Σ points; from rule 31 claim(m) = min(points(m) × rate,
    stream × member_cap_bps // 10 000), paid in full when Σ claims ≤ stream, else stream × claim(m) // Σ claims; over every
    member line (paid or none), the rate and the cap from the parameters in force, not from the lines."""
    budget = _int(epoch_json["streams"]["community"]["budget"])
    members = [x for x in epoch_json["lines"] if x["stream"] in ("community", "community:none")]
    if not members:
        return
    total = sum(_int(x["detail"]["points"]) for x in members)
    at_rate = p.get("rule_version", 1) >= COMMUNITY_RATE_RULES
    claims: dict[str, int] = {}
    if at_rate:
        rate, cap = _int(p["community_rate_per_point_units"]), budget * p["community_member_cap_bps"] // BPS
        claims = {x["address"]: min(_int(x["detail"]["points"]) * rate, cap) for x in members}
        account = epoch_json["streams"]["community"]
        r.check("community.rate_units", "streams.community", rate, _int(account.get("rate_units", -1)))
        r.check("community.claims", "streams.community", sum(claims.values()), _int(account.get("claims", -1)))
    all_claims = sum(claims.values())
    for x in members:
        d = x["detail"]
        r.check("community.budget", x["address"], budget, _int(d["budget"]))
        r.check("community.total_points", x["address"], total, _int(d["total_points"]))
        if at_rate:
            claim = claims[x["address"]]
            r.check("community.claim", x["address"], claim, _int(d.get("claim", -1)))
            reward = claim if all_claims <= budget else budget * claim // all_claims
        else:
            reward = budget * _int(d["points"]) // total if total else 0
        r.check("community.reward", x["address"], reward, _int(x["amount_units"]))


def audit_voter_rewards(r: Report, epoch_json: dict[str, Any], p: dict[str, Any]) -> None:
    """*Governance: voter rewards*: min(stream × weight // total_weight, stream × cap_bps // 10 000), once per address."""
    budget = _int(epoch_json["streams"]["governance"]["budget"])
    voters = lines_of(epoch_json, "governance")
    for x in voters:
        i = x["detail"]["inputs"]
        weight, total = _int(i["weight"]), _int(i["total_weight"])
        r.check("governance.stream", x["address"], budget, _int(i["stream"]))
        r.check("governance.cap_bps", x["address"], p["gov_voter_reward_cap_bps"], _int(i["cap_bps"]))
        r.check("governance.weight_of_positions", x["address"], weight, sum(_int(v) for v in (x["detail"].get("positions") or {}).values()))
        reward = min(budget * weight // total, budget * p["gov_voter_reward_cap_bps"] // BPS) if total else 0
        r.check("governance.reward", x["address"], reward, _int(x["amount_units"]))
    if voters:
        r.check("governance.once_per_address", "voters", len({x["address"] for x in voters}), len(voters))


def audit_slashes(r: Report, epoch_json: dict[str, Any], slashes: list[dict[str, Any]], p: dict[str, Any]) -> None:
    """*Slashing*: each slash's fraction, its pieces, the burn / reporter / treasury split; no APR for a slashed node."""
    lines = epoch_json["lines"]
    for x in slashes:
        sid = x["id"]
        r.check("slash.fraction_bps", f"slash {sid}", p["slash_fraction_bps"][x["offence"]], x["fraction_bps"])
        pieces = -sum(_int(y["amount_units"]) for y in lines if y["stream"] == "slash" and y["detail"].get("slash_id") == sid)
        total = _int(x["total_units"])
        r.check("slash.total", f"slash {sid}", pieces, total)
        if x.get("penalty_units") is not None:  # a counted offence: a fixed penalty pro rata over the slashable positions
            penalty, slashable = _int(x["penalty_units"]), _int(x["slashable_units"])
            bonds = {p[f"min_self_bond_{role}_units"] * x["fraction_bps"] // BPS for role in ("miner", "validator", "router")}
            r.check("slash.penalty", f"slash {sid}", True, penalty in bonds)
            r.check("slash.counted_total", f"slash {sid}", True, total <= min(penalty, slashable))  # each piece floors
        burned = total * p["slash_burn_bps"] // BPS
        own = -sum(
            _int(y["amount_units"]) for y in lines if y["stream"] == "slash" and y["detail"].get("slash_id") == sid and y["address"] == x["node"]
        )  # the operator's own pieces: its self-bond's, its unbonding entries' and redelegations'
        base = own if p.get("rule_version", 1) >= SELF_REPORT_RULES else total
        to_reporter = base * p["slash_reporter_bps"] // BPS if x["reporter"] else 0
        r.check("slash.burned", f"slash {sid}", burned, _int(x["burned_units"]))
        r.check("slash.to_reporter", f"slash {sid}", to_reporter, _int(x["to_reporter_units"]))
        r.check("slash.to_treasury", f"slash {sid}", total - burned - to_reporter, _int(x["to_treasury_units"]))
        if to_reporter:
            paid = sum(_int(y["amount_units"]) for y in lines if y["stream"] == "slash_reporter_reward" and y["detail"].get("slash_id") == sid)
            r.check("slash.reporter_line", f"slash {sid}", to_reporter, paid)
        r.check("apr.slashed_excluded", f"slash {sid} {x['node']}", True, x["node"] in (epoch_json["staking"].get("excluded") or {}))


def audit_reputation(
    r: Report, epoch_json: dict[str, Any], previous: dict[str, Any] | None, tasks: list[dict[str, Any]], p: dict[str, Any], constants: dict[str, Any]
) -> None:
    """*Reputation*: from the previous close, one EWMA step per task and node, in the order the tasks closed."""
    rep = dict(previous["reputation_ppb"]) if previous else {}
    start = epoch_json.get("reputation_start_ppb") or {}  # nodes new this epoch: where each started
    for n, ppb in sorted(start.items()):
        r.check("reputation.start_at_most_initial", n, True, 0 <= ppb <= p["reputation_initial_ppb"])
        if p.get("rule_version", 1) >= 13:  # no other node's record puts a new node below the floor
            r.check("reputation.start_at_least_floor", n, True, ppb >= min(p["reputation_initial_ppb"], p["reputation_newcomer_floor_ppb"]))
        rep.setdefault(n, ppb)
    half = p["reputation_half_life_tasks"]
    lo, hi = 0, PPB
    while lo < hi:  # floor(10**9 × 2^(−1/h)) by bisection
        mid = (lo + hi + 1) // 2
        if 2 * mid**half <= PPB**half:
            lo = mid
        else:
            hi = mid - 1
    alpha = PPB - lo

    def step(n: str, obs: int, network: bool) -> None:
        old = rep.get(n, p["reputation_initial_ppb"])
        new = old + alpha * (obs - old) // PPB if obs >= old else old - alpha * (old - obs) // PPB
        rep[n] = new if network else min(old, new)

    w = constants["reputation_miner_weights_bps"]
    for t in tasks:
        network = t["kind"] == "network"
        if t["state"] == "SETTLED":
            n = len(t["miners"])
            unopened = t.get("canary") == "unopened" and p.get("rule_version", 1) >= UNOPENED_CANARY_RULES
            for m in t["miners"]:
                if m.get("planted"):  # a canary's planted output: its miner's reputation does not move
                    continue
                if unopened and m["revealed"] and not m["mismatch"] and not m["in_consensus"]:
                    continue  # perhaps the oracle's planted output, never opened: nobody is judged by it
                rank = m.get("reveal_rank")
                latency = PPB if rank is None or n <= 1 else PPB * (n - 1 - min(rank, n - 1)) // (n - 1)
                success = bool(m["precommitted"] and not m["mismatch"] and m["in_consensus"])
                q = m["quality_ppb"] or 0
                obs = ((PPB if success else 0) * w["success"] + q * w["quality"] + (latency if m["revealed"] else 0) * w["latency"]) // BPS
                step(m["miner"], obs, network)
        if t["state"] == "SETTLED" or t.get("failure") == "no_consensus":
            for v in t["validators"]:
                step(v["validator"], v["agreement_ppb"] or 0, network)
    for n, published in sorted(epoch_json["reputation_ppb"].items()):
        r.check("reputation", n, rep.get(n, p["reputation_initial_ppb"]), published)


def audit_consensus(r: Report, tasks: list[dict[str, Any]], p: dict[str, Any]) -> None:
    """*Consensus*: on a task of the spread rule, its threshold from its spread, and each miner in consensus exactly when
    its consensus distance ≤ the threshold and its quality ≥ the floor (the spread a median of the revealed ones)."""
    for t in tasks:
        planter = paid_planter(t, p)
        if planter is not None:  # *Canaries*: the quality the task view credits its planter with
            r.check("canary.planter_quality", f"task {t['id']} {planter[0]['miner']}", planter[1], planter[0]["quality_ppb"])
        if not t.get("spread_rule") or t.get("threshold_ppb") is None:
            continue
        spread, threshold = t["spread_ppb"], t["threshold_ppb"]
        revealed = [v["spread_ppb"] for v in t["validators"] if v.get("reported") and v.get("spread_ppb") is not None]
        r.check("consensus.spread_among_revealed", f"task {t['id']}", True, bool(revealed) and min(revealed) <= spread <= max(revealed))
        expected = max(p["poi_max_distance_ppb"], min(p["poi_spread_cap_ppb"], spread * p["poi_spread_factor_bps"] // BPS))
        r.check("consensus.threshold", f"task {t['id']}", expected, threshold)
        for m in t["miners"]:
            if m.get("planted") or m.get("poi_distance_ppb") is None:
                continue
            inside = m["poi_distance_ppb"] <= threshold and (m["quality_ppb"] or 0) >= p["consensus_min_quality_ppb"]
            r.check("consensus.in_consensus", f"task {t['id']} {m['miner']}", inside, bool(m["in_consensus"]))


def weighted_median(values: list[tuple[int, int, str]]) -> int:
    """*Consensus*: sort by (value, validator); the first value at which 2 × cumulative weight ≥ total weight (with no
    weight at all, the lower middle value)."""
    ordered = sorted(values, key=lambda x: (x[0], x[2]))
    total = sum(w for _, w, _ in ordered)
    if total == 0:
        return ordered[(len(ordered) - 1) // 2][0]
    cumulative = 0
    for value, weight, _ in ordered:
        cumulative += weight
        if 2 * cumulative >= total:
            return value
    return ordered[-1][0]  # (not reached: the last value's cumulative is the total)


def audit_validation(r: Report, tasks: list[dict[str, Any]], p: dict[str, Any], recounted: dict[int, dict[str, Any]] | None = None) -> int:
    """*Consensus*, *Agreement* and (rule 31) *Validator pay*'s dissenters, recomputed from each task's reports and its
    validators' published ``weight`` (their stakes at settlement, rule 32): per miner the two-step weighted medians of the
    distances and of the qualities, per reporting validator its agreement, and who dissented. A task of an earlier rule
    publishes no weight: not recomputable (counted, returned), not a failure. ``recounted`` (when given) receives each
    weighed, counting task's recomputed settled counts (``audit_settled_counts``), for the checks that pay from them."""
    bound, tolerance = p["dissent_bound_ppb"], p["agreement_tolerance_ppb"]
    escalation_pay = p.get("rule_version", 1) >= ESCALATION_PAY_RULES
    unweighed = 0
    for t in tasks:
        rows = t["validators"]
        reporting = [v for v in rows if v.get("reported")]
        weighed = [v for v in rows if "weight" in v]
        if not weighed:
            unweighed += bool(reporting) and t.get("failure") in (None, "no_consensus")
            continue
        name = f"task {t['id']}"
        if not r.check("validation.weights", name, [v["validator"] for v in reporting], [v["validator"] for v in weighed]):
            continue  # a weight for exactly each reporting validator, or nothing to recompute with
        weight = {v["validator"]: _int(v["weight"]) for v in weighed}
        reports = {v["validator"]: v["reports"] for v in reporting}
        miners = [m for m in t["miners"] if m.get("revealed") and not m.get("mismatch") and not m.get("planted")]
        consensus: dict[str, tuple[int, int]] = {}
        dissenting: set[str] = set()
        for m in miners:
            values = []
            for key in ("poi_distance_ppb", "quality_ppb"):
                column = [(x[m["miner"]][key], weight[v], v) for v, x in reports.items()]
                first = weighted_median(column)
                values.append(weighted_median([c for c in column if abs(c[0] - first) <= bound]))
                dissenting |= {v for value, _, v in column if abs(value - first) > bound}
            consensus[m["miner"]] = (values[0], values[1])
            r.check("validation.consensus", f"{name} {m['miner']}", consensus[m["miner"]], (m["poi_distance_ppb"], m["quality_ppb"]))
        for v in reporting:
            if v.get("canary_failed"):
                agreement = 0
            elif not consensus:
                agreement = PPB
            else:
                scores = 0
                for miner, (d, q) in consensus.items():
                    x = v["reports"][miner]
                    deviation = (abs(x["quality_ppb"] - q) + abs(x["poi_distance_ppb"] - d)) // 2
                    scores += PPB - min(PPB, deviation * deviation * PPB // (tolerance * tolerance))
                agreement = scores // len(consensus)
            r.check("validation.agreement", f"{name} {v['validator']}", agreement, v.get("agreement_ppb"))
        if escalation_pay:  # *Validator pay*: drawn before the last round of a settled escalated task, dissenting
            last = t.get("round") or 0
            settled = t["state"] == "SETTLED" and last > 0
            named = [v["validator"] for v in rows if settled and v["validator"] in dissenting and (v.get("round") or 0) < last]
            r.check("validation.dissented", name, named, [v["validator"] for v in rows if v.get("dissented")])
        counts = audit_settled_counts(r, t, name, weight, miners)
        if counts is not None and recounted is not None:
            recounted[t["id"]] = counts
    return unweighed


def audit_settled_counts(r: Report, t: dict[str, Any], name: str, weight: dict[str, int], miners: list[dict[str, Any]]) -> dict[str, Any] | None:
    """*Consensus* and *Work units and tiers*, from the reporting validators' published ``weight`` (rule 32): the task's
    spread (rule 12 on: the weighted median of the revealed spreads, ``validation.spread``) and its settled token counts
    (rule 6 on, ``validation.tokens``): the prompt's, min(weighted median of the validators' counts, ``input_tokens``);
    each valid, unplanted reveal's, the weighted median of the validators' counts of it; the task's output, once settled,
    min(lower median of the counts of the miners in consensus, ``max_output_tokens``) (none when it failed). Returns the
    recomputed ``settled_input_tokens`` and ``consensus_output_tokens`` (None: a task that does not count its tokens)."""
    reporting = [v for v in t["validators"] if v.get("reported")]
    if t.get("spread_rule"):
        spreads = [(v["spread_ppb"], weight[v["validator"]], v["validator"]) for v in reporting if v.get("spread_ppb") is not None]
        r.check("validation.spread", name, weighted_median(spreads) if spreads else None, t.get("spread_ppb"))
    if not t.get("measured_tokens"):
        return None
    inputs = [(v["input_tokens"], weight[v["validator"]], v["validator"]) for v in reporting if v.get("input_tokens") is not None]
    settled_input = min(weighted_median(inputs), t["input_tokens"]) if inputs else None
    r.check("validation.tokens", f"{name} settled_input_tokens", settled_input, t.get("settled_input_tokens"))
    measured: dict[str, int | None] = {}
    for m in miners:
        counts = [
            (x[m["miner"]]["output_tokens"], weight[v["validator"]], v["validator"])
            for v in reporting
            for x in [v["reports"]]
            if m["miner"] in x and x[m["miner"]].get("output_tokens") is not None
        ]
        measured[m["miner"]] = weighted_median(counts) if counts else None
        r.check("validation.tokens", f"{name} {m['miner']} output_tokens", measured[m["miner"]], m.get("output_tokens"))
    winners = sorted(_int(measured[m["miner"]]) for m in miners if m.get("in_consensus"))
    settled_output = min(winners[(len(winners) - 1) // 2], t["max_output_tokens"]) if t["state"] == "SETTLED" and winners else None
    r.check("validation.tokens", f"{name} consensus_output_tokens", settled_output, t.get("consensus_output_tokens"))
    return {"settled_input_tokens": settled_input, "consensus_output_tokens": settled_output}


def audit_charge_pieces(r: Report, x: dict[str, Any], epoch_json: dict[str, Any], reach: bool) -> None:
    """*Validator pay* (rule 34): an ``escalation_unfunded`` line names where its amount came from: ``from_bond_units`` and
    each unbonding entry's piece (``from_unbonding``), which add up to the amount, each positive, from entries that started
    within the epoch's ticks, oldest first (``escalation_unfunded.pieces``). Rules 33 and before: the line names no pieces
    (its amount is the self-bond's). The balances behind them at the close are not published: not recomputed."""
    d = x["detail"]
    who = x["address"]
    if not reach:
        r.check("escalation_unfunded.pieces", who, "none (the self-bond's)", "none (the self-bond's)" if "from_unbonding" not in d else "named")
        return
    pieces = d.get("from_unbonding")
    if not isinstance(pieces, list) or "from_bond_units" not in d:
        r.check("escalation_unfunded.pieces", who, "from_bond_units and from_unbonding", "missing")
        return
    start, end = _int(epoch_json["start_tick"]), _int(epoch_json["end_tick"])
    parts = [_int(d["from_bond_units"])] + [_int(y["amount_units"]) for y in pieces]
    r.check("escalation_unfunded.pieces", f"{who} sum", -_int(x["amount_units"]), sum(parts))
    r.check("escalation_unfunded.pieces", f"{who} each positive, the bond's at least 0", True, parts[0] >= 0 and all(v > 0 for v in parts[1:]))
    ticks = [_int(y["unbonding_start_tick"]) for y in pieces]
    r.check("escalation_unfunded.pieces", f"{who} entries started in the epoch", True, all(start <= t <= end for t in ticks))
    ids = [_int(y["unbonding_id"]) for y in pieces]
    r.check("escalation_unfunded.pieces", f"{who} entries oldest first", sorted(set(ids)), ids)


def audit_epoch(bundle: dict[str, Any]) -> Report:
    """Recompute one epoch from its published JSON (see the module docstring for the bundle's parts)."""
    bundle = _numbers(bundle)
    epoch_json = bundle["epoch"]
    e = epoch_json["epoch"]
    r = Report(e)
    p = params_for_epoch(bundle["params"], e)
    constants = bundle["params"]["constants"]
    streams = epoch_json["streams"]
    order = list(dict.fromkeys(list(streams["miners"].get("tasks") or []) + list(streams["validators"].get("tasks") or [])))
    tasks = [bundle["tasks"][str(t)] for t in order]
    models = {m["id"]: m for m in bundle["models"]}

    audit_emission(r, epoch_json, p)
    # *Order of the epoch steps*: a skipped step paid nothing, so the formulas below would not hold for it: name it
    for k in epoch_json.get("skipped") or []:
        r.check("epoch.step_skipped", f"{k.get('what')} (seq {k.get('seq')})", "not skipped", f"skipped: {k.get('code')}")
    # *Auditing*: a task belongs to the epoch in which it closed; every task a node line names is among them
    for t in tasks:
        closed = t.get("closed_tick")
        inside = t["state"] in ("SETTLED", "FAILED") and closed is not None and epoch_json["start_tick"] <= closed <= epoch_json["end_tick"]
        r.check("task.closed_in_epoch", f"task {t['id']}", True, inside)
    work_lines = [x for x in epoch_json["lines"] if x["stream"].endswith((":node", ":none")) and not x["stream"].startswith("staking_apr")]
    slim = p.get("rule_version", 1) >= SLIM_NODE_LINES_RULES
    if slim:  # the lines name no task to check: say so, and that none does
        naming = sum(1 for x in work_lines if "tasks" in x["detail"])
        r.check("node_line.names_no_tasks", f"{len(work_lines)} work node and none lines (rule version 28)", 0, naming)
    named = {n for x in work_lines for n in (x["detail"].get("tasks") or [])}
    for t in sorted(named - set(order)):
        r.check("task.closed_in_epoch", f"task {t} (named on a node line)", "listed in streams.*.tasks", "missing")
    audit_consensus(r, tasks, p)
    recounted: dict[int, dict[str, Any]] = {}
    unweighed = audit_validation(r, tasks, p, recounted)
    # *Work units and tiers*, *Task fees*: the work rows and the prices below count each weighed task's tokens as
    # recomputed (validation.tokens), not as published: a published count that is wrong fails there, and the money
    # checks fail only where money moved by counts other than the recomputed ones
    tasks = [t | recounted[t["id"]] if t["id"] in recounted else t for t in tasks]
    m_rows = miner_rows(tasks, p, constants)
    bond: dict[str, int] = {}
    for x in lines_of(epoch_json, "escalation_unfunded"):  # rule 33: the units each charge paid, checked against its amount
        units = _int(x["detail"]["validation_units_ppb"])
        bond[x["address"]] = bond.get(x["address"], 0) + units
        r.check("escalation_unfunded.amount", x["address"], escalation_charge(units, p), -_int(x["amount_units"]))
        audit_charge_pieces(r, x, epoch_json, p.get("rule_version", 1) >= ESCALATION_UNBONDING_RULES)
    v_rows = validator_rows(tasks, p, bond, r)
    miner_rewards = audit_work_stream(r, epoch_json, "miners", "miner_work", m_rows, p, "network_work_rate_units", "user_task_bonus_fee_bps")
    validator_rewards = audit_work_stream(r, epoch_json, "validators", "validator_work", v_rows, p, "network_validation_rate_units", None)
    unpriced = audit_task_fees(r, epoch_json, tasks, p, models, constants)
    audit_marketplace(r, epoch_json, m_rows, p, models)
    listed = bundle.get("nodes")  # (a bundle without the node list skips the checks of who is drawable)
    node_models = None if listed is None else {x["id"]: (x.get("role"), list(x.get("models") or [])) for x in listed}
    apr = audit_staking_apr(r, epoch_json, p, constants, m_rows, node_models)
    for line_name, stream, rewards in (("miner_work", "miners", miner_rewards), ("validator_work", "validators", validator_rewards)):
        split = audit_node_reward_split(r, epoch_json, line_name, rewards, p)
        r.check("stream.paid_equals_lines", stream, split, _int(streams[stream]["paid"]))
    split = audit_node_reward_split(r, epoch_json, "staking_apr", apr, p)
    r.check("stream.paid_equals_lines", "staking", split, _int(epoch_json["staking"]["paid"]))
    for stream in ("community", "governance"):
        r.check("stream.paid_equals_lines", stream, sum(_int(x["amount_units"]) for x in lines_of(epoch_json, stream)), _int(streams[stream]["paid"]))
    audit_reputation(r, epoch_json, bundle.get("previous"), tasks, p, constants)
    audit_slashes(r, epoch_json, bundle.get("slashes") or [], p)
    audit_community(r, epoch_json, p)
    audit_voter_rewards(r, epoch_json, p)
    for x in lines_of(epoch_json, "task_cancel_fee"):  # *Who is drawn, and what a draw costs*
        d = x["detail"]
        r.check("task_cancel_fee", f"task {d.get('task')}", -(_int(d["escrowed"]) * p["cancel_fee_bps"] // BPS), _int(x["amount_units"]))
    transfers = lines_of(epoch_json, "transfer")
    if transfers:
        r.check("transfer.balanced", "Σ transfer lines", 0, sum(_int(x["amount_units"]) for x in transfers))

    # *Claims*: one leaf per address = Σ of its claimable lines; the root over the leaves
    leaves: dict[str, int] = {}
    for x in epoch_json["lines"]:
        if x["claimable"] and _int(x["amount_units"]):
            leaves[x["address"]] = leaves.get(x["address"], 0) + _int(x["amount_units"])
    published_leaves = {x["address"]: _int(x["amount_units"]) for x in epoch_json["leaves"]}
    for a in sorted(set(leaves) | set(published_leaves)):
        r.check("leaf", a, leaves.get(a, 0), published_leaves.get(a, 0))
    r.check("merkle_root", f"epoch {e}", merkle_root(e, dict(sorted(leaves.items()))), epoch_json["root"])
    totals: dict[str, int] = {}
    for x in epoch_json["lines"]:
        totals[x["stream"]] = totals.get(x["stream"], 0) + _int(x["amount_units"])
    for name, v in sorted((epoch_json.get("totals_units") or {}).items()):
        r.check("stream_total", name, totals.get(name, 0), _int(v))
    r.not_recomputed = [
        "each position's stake_ticks (Σ stake × ticks between stake changes): taken from the stake lines, checked against the node's total",
        "which tasks belong to the epoch: streams.*.tasks (the order they closed), checked only against their close ticks",
        *(
            [
                f"not recomputable: the price (charged_units) of {unpriced} user task(s) whose model card or the price's factor tables "
                "(constants.quantization_factor_ppb, constants.context_factor_ppb) are not published: taken from the task"
            ]
            if unpriced
            else []
        ),
        "community points (a member's points from its attestations) and voting power (each position's counted power): taken from the lines",
        "each slashed position's balance at the slash: only the pieces' sum is checked against the slash's total (and, for a counted "
        "offence, the penalty against the role minimums and the total against min(penalty, slashable))",
        "the self-bond at the close behind an escalation_unfunded charge (rule 33) and, from rule 34, the unbonding entries its "
        "pieces name: its validation_units_ppb taken from the line, checked to be at most what the dissenter's rows could not "
        "pay and its amount against ceil(units × rate / 1e9) (from rule 35 ceil(units × rate × reputation_multiplier_max_ppb / 1e18)); "
        "the pieces checked to add up to it, from entries started in the epoch, oldest first",
        "which counted offences the allowance forgave (rule version 7 on: no slash record; cor verify replays the counters)",
        "a new node's starting reputation (reputation_start_ppb): only checked to be at most reputation_initial_ppb and, from rule "
        "version 13, at least min(reputation_initial_ppb, reputation_newcomer_floor_ppb)",
        "governance deposits and treasury spends; bounties and challenges (paid from escrows, not at the close)",
        "the draws of miners and validators (cor verify replays them) and the dedicated session fee",
        *(
            [
                "which tasks each work node line counted: from rule version 28 the lines name none, so task.closed_in_epoch checks "
                "no named id; each node's rows are rebuilt from streams.*.tasks and the tasks' records as before"
            ]
            if slim
            else []
        ),
        "escalation (which tasks drew more validators) and canary openings: each validator's round and canary_failed taken from the task",
        *(
            [
                f"not recomputable: the consensus, agreement_ppb, dissented, spread and token counts of {unweighed} task(s) that "
                f"publish no validator weight (settled under a rule version before {PANEL_WEIGHTS_RULES}, or on a network without a beacon): "
                "taken from the task"
            ]
            if unweighed
            else []
        ),
    ]
    return r


# --- fetching the published JSON --------------------------------------------------------------


def fetch_bundle(get: Callable[[str], Any], epoch: int) -> dict[str, Any]:
    """The bundle of an epoch through ``get(path)`` (an API path, e.g. ``/v1/epochs/1``)."""
    epoch_json = get(f"/v1/epochs/{epoch}")
    streams = epoch_json["streams"]
    ids = list(dict.fromkeys(list(streams["miners"].get("tasks") or []) + list(streams["validators"].get("tasks") or [])))
    models = get("/v1/models")
    tasks = {str(t): get(f"/v1/tasks/{t}") for t in ids}
    listed = {m["id"]: m for m in (models["models"] if isinstance(models, dict) else models)}
    named = [(t["model"], int(t["created_tick"])) for t in tasks.values()]
    return {
        "epoch": epoch_json,
        "previous": get(f"/v1/epochs/{epoch - 1}") if epoch > 0 else None,
        "params": get("/v1/params"),
        "tasks": tasks,
        "models": list((listed | _models_in_force(get, named, listed)).values()),
        "slashes": [x for x in get("/v1/slashes")["slashes"] if x["epoch"] == epoch],
        "nodes": _nodes(get("/v1/nodes")),
    }


def _models_in_force(get: Callable[[str], Any], named: list[tuple[str, int]], listed: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The card of each model the epoch's tasks name (``named``: (model, the task's created tick)) that ``GET /v1/models``
    does not hold as it was then, and their parents likewise (their owners were paid in the epoch): rule 25 retires a model
    and its id may be registered again with another owner and parent, so such a card is read back from ``GET
    /v1/models/{id}?at_tick=`` (the listing in force at the task's tick). A live card registered by then is that listing.
    An epoch's tasks name one listing of an id: one leaves the live state only at a close with no open task naming it."""
    out: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    todo = list(named)
    while todo:
        model_id, tick = todo.pop(0)
        if model_id in seen:
            continue
        seen.add(model_id)
        card = listed.get(model_id)
        if card is None or int(card.get("registered_tick") or 0) > tick:
            try:
                card = get(f"/v1/models/{model_id}?at_tick={tick}")
            except Exception:  # (not found anywhere: the audit reports what it cannot recompute)
                continue
            out[model_id] = card
        if card.get("parent"):
            todo.append((card["parent"], tick))
    return out


def _nodes(body: Any) -> list[dict[str, Any]]:
    """The node list of ``GET /v1/nodes`` (a node's models are fixed at its registration)."""
    return list(body["nodes"] if isinstance(body, dict) else body)


def api_getter(base: str) -> Callable[[str], Any]:
    def get(path: str) -> Any:
        with urllib.request.urlopen(base.rstrip("/") + path, timeout=30) as response:
            return json.loads(response.read())

    return get


def render(report: dict[str, Any]) -> str:
    out = [f"epoch {report['epoch']}: {report['matched']}/{report['total']} matched ({'ok' if report['ok'] else 'MISMATCH'})"]
    for name, q in report["quantities"].items():
        out.append(f"  {name:<40} {q['matched']:>5}/{q['total']:<5}" + ("" if q["matched"] == q["total"] else "  MISMATCH"))
        for m in q["mismatches"][:5]:
            out.append(f"      {m['what']}: recomputed {m['recomputed']}, published {m['published']}")
    out += [f"  {x}" for x in report.get("not_recomputed") or [] if x.startswith("not recomputable")]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Recompute an epoch's payouts from published JSON and docs/rewards.md.")
    parser.add_argument("epoch", type=int, nargs="?")
    parser.add_argument("--api", help="base URL of a cor API")
    parser.add_argument("--bundle", help="a JSON file holding the bundle")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--doc-sections", metavar="FILE", help="print the sha256 of each section of FILE (docs/rewards.md), for DOC_SECTIONS")
    args = parser.parse_args(argv)
    if args.doc_sections:
        with open(args.doc_sections) as f:
            for title, digest in doc_sections(f.read()).items():
                print(f'    {title!r}: "{digest}",')
        return 0
    if args.bundle:
        with open(args.bundle) as f:
            bundle = json.load(f)
    elif args.api and args.epoch is not None:
        bundle = fetch_bundle(api_getter(args.api), args.epoch)
    else:
        parser.error("give --bundle FILE, or --api URL and an EPOCH")
    report = audit_epoch(bundle).to_dict()
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
