"""Incentive checks: each one a criterion, the measured numbers, a verdict, and a fix.

A check is evaluated on the runs of one scenario (all its seeds, all epochs pooled) and, where it
compares, on the runs of its baseline with the *same seeds*. Sums are pooled over nodes, epochs and
seeds before dividing, so rare events weigh by how often they happen. Money is reported as COR
decimal strings; ratios as decimals.

    honest_miners_profit        honest_only: honest miners and validators make a profit.
    honest_vs_lazy              honest miners earn ≥ 3 × what lazy miners earn per task served.
    garbage_loses               garbage miners lose money: slashes > earnings.
    mismatched_loses            mismatched-reveal miners lose money: slashes > earnings.
    offline_unpaid              offline miners earn no fees or network rewards.
    copier_miners_unprofitable  copier miners earn < 1/3 of an honest miner per task served and less net.
    inflation_unprofitable      claiming max_output_tokens does not raise pay per unit of true work (> 2 %).
    copier_validators_earn_less copier validators earn less than honest validators.
    stitching_copier_unprofitable stitching copiers earn < 1/3 of an honest miner per task served and less net.
    borrowing_copier_unprofitable borrowing copiers earn < 1/10 of an honest miner per task served and less net.
    collusion_below_half        a coalition below 50 % of validator stake changes no honest node's pay
                                by more than 5 % (pay per unit of useful work, against the honest twin).
    sybil_no_gain               splitting one operator's stake over many nodes does not raise its income.

Pay per unit of useful work (collusion): a node's network rewards (miner_work / validator_work
emission) minus its slashes, divided by the network work it did (miners: Σ complexity units × true
quality of its valid reveals in network tasks; validators: reports on network tasks). Emission pays
network work only; user tasks pay their fees (~10⁻⁵ of a node's income), so a node's mix of user and
network tasks, which selection decides, would otherwise swing its payout per unit of all work.
Totals of single nodes swing by ±15 % between seeds because selection is random; the rate does not,
which the report shows with a *noise floor*: the same statistic between the honest twin on the
scenario's seeds and on other seeds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from ..core.errors import InvalidInput
from ..core.units import COR, format_cor
from .runner import Earnings, NodeEpoch, NodeInfo, RunResult
from .scenarios import Remedy, Scenario

NULL_SEED_OFFSET = 10_000
TOTAL_FIELDS = [f.name for f in fields(NodeEpoch) if f.name not in ("reputation_ppb", "jailed")]


def cor(units: int) -> str:
    """Exact COR decimal string (for measured numbers)."""
    return format_cor(int(units))


def show(units: int | Decimal) -> str:
    """COR for a sentence: 2 decimals, or 3 significant digits below 0.01 (display only, never summed)."""
    d = Decimal(int(units)) / COR
    if d == 0 or abs(d) >= Decimal("0.01"):
        return f"{d.quantize(Decimal('0.01'), rounding=ROUND_FLOOR):,}"
    return f"{d:.3g}"


def times(r: float | None) -> str:
    return "∞" if r is None else (f"{r:.2f}" if r < 1000 else "> 1000")


def ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def pct(a: float | None) -> str:
    return "n/a" if a is None else f"{a * 100:+.1f} %"


@dataclass
class Totals(Earnings):
    """NodeEpoch fields summed over a set of nodes, epochs and runs; ``node_runs`` = nodes × runs."""

    node_runs: int = 0
    assigned: int = 0
    served: int = 0
    in_consensus: int = 0
    work_offered: int = 0
    network_work: int = 0
    planted: int = 0
    planted_work: int = 0
    planted_network_work: int = 0
    fees: int = 0
    network: int = 0
    staking: int = 0
    other: int = 0
    slashes: int = 0
    slash_count: int = 0
    costs: int = 0
    leaves: int = 0
    received: int = 0
    claims_refused: int = 0
    canaries_failed: int = 0
    evaluated: int = 0

    def add(self, st: NodeEpoch) -> None:
        for name in TOTAL_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(st, name))

    @property
    def payout(self) -> int:
        return self.earnings - self.slashes

    @property
    def net(self) -> int:
        return self.earnings - self.slashes - self.costs

    def per_node(self, value: int) -> int:
        return value // self.node_runs if self.node_runs else 0

    def per_served(self, value: int) -> int:
        return value // self.served if self.served else 0

    def rate(self) -> float | None:
        """Payout per unit of useful work (base units per ppb-unit; only compared, never shown)."""
        return self.payout / self.work_offered if self.work_offered else None

    def work_rate(self) -> float | None:
        """Network rewards minus slashes per unit of network work: what the work emission pays for earns
        (user tasks earn their fees, ~10⁻⁵ of a node's income, and no emission; staking APR pays stake, not work)."""
        return (self.network - self.slashes) / self.network_work if self.network_work else None

    def view(self) -> dict[str, Any]:
        """The numbers a check shows (per node, per task served)."""
        return {
            "nodes_x_seeds": self.node_runs,
            "tasks_served": self.served,
            "in_consensus_rate": ratio(self.in_consensus, self.served),
            "work_earnings_per_node": cor(self.per_node(self.work_earnings)),
            "earnings_per_node": cor(self.per_node(self.earnings)),
            "slashes_per_node": cor(self.per_node(self.slashes)),
            "costs_per_node": cor(self.per_node(self.costs)),
            "net_per_node": cor(self.per_node(self.net)),
            "work_earnings_per_task_served": cor(self.per_served(self.work_earnings)),
            "net_per_task_served": cor(self.per_served(self.net)),
        }


def pool(runs: list[RunResult], select: Callable[[NodeInfo], bool]) -> Totals:
    """Sum over every selected node, epoch and run."""
    t = Totals()
    for r in runs:
        chosen = [n for n in r.nodes.values() if select(n)]
        t.node_runs += len(chosen)
        for epoch in r.epochs:
            for n in chosen:
                t.add(epoch[n.name])
    return t


def per_node(runs: list[RunResult]) -> dict[str, Totals]:
    out: dict[str, Totals] = defaultdict(Totals)
    for r in runs:
        for name in r.nodes:
            out[name].node_runs += 1
            for epoch in r.epochs:
                out[name].add(epoch[name])
    return dict(out)


def is_(role: str, strategy: str) -> Callable[[NodeInfo], bool]:
    return lambda n: n.role == role and n.strategy == strategy and not n.coalition


# --- the context a check reads ----------------------------------------------------------------------


@dataclass
class Context:
    """A scenario, and how to reach its runs, its baseline's and the null comparison's (same seeds)."""

    scenario: Scenario
    runs_of: Callable[[Scenario], list[RunResult]]
    base: Scenario | None = None
    null: Scenario | None = None

    @property
    def runs(self) -> list[RunResult]:
        return self.runs_of(self.scenario)

    def baseline_runs(self) -> list[RunResult]:
        return self.runs_of(self.base) if self.base else []

    def null_runs(self) -> list[RunResult]:
        return self.runs_of(self.null) if self.null else []


def baseline_of(s: Scenario, catalog: dict[str, Scenario], remedy: Remedy | None = None) -> Scenario | None:
    """The scenario ``s`` is compared with, on the same seeds and epochs (with the same remedy, if any)."""
    if not s.baseline:
        return None
    base = s.honest_twin() if s.baseline == "honest_twin" else catalog.get(s.baseline)
    if base is None:
        raise InvalidInput(f"scenario {s.name}: baseline {s.baseline!r} is not a known scenario", code="invalid_scenario")
    if remedy is not None and s.baseline != "honest_twin":
        base = base.with_remedy(remedy)
    return replace(base, seeds=s.seeds, epochs=s.epochs)


def null_of(base: Scenario | None) -> Scenario | None:
    """The baseline on other seeds: how much a statistic moves by chance alone."""
    return replace(base, seeds=tuple(x + NULL_SEED_OFFSET for x in base.seeds)) if base else None


# --- checks ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    criterion: str
    evaluate: Callable[[Context], dict[str, Any]]  # -> {"passed", "summary", "measured", ...}
    fix: str = ""  # the parameter or design change that would meet the criterion when it fails
    uses_baseline: bool = False
    uses_null: bool = False


def _loses(strategy: str) -> Callable[[Context], dict[str, Any]]:
    def evaluate(c: Context) -> dict[str, Any]:
        t = pool(c.runs, is_("miner", strategy))
        honest = pool(c.runs, is_("miner", "honest"))
        passed = t.slashes > t.earnings and t.net < 0
        return {
            "passed": passed,
            "measured": {strategy: t.view(), "honest": honest.view()},
            "summary": f"{strategy} miners: earnings {show(t.per_node(t.earnings))} COR, slashes {show(t.per_node(t.slashes))} COR, "
            f"net {show(t.per_node(t.net))} COR per node over the run (honest: net {show(honest.per_node(honest.net))} COR)",
        }

    return evaluate


def eval_honest_profit(c: Context) -> dict[str, Any]:
    m, v = pool(c.runs, is_("miner", "honest")), pool(c.runs, is_("validator", "honest"))
    return {
        "passed": m.net > 0 and v.net > 0,
        "measured": {"honest miners": m.view(), "honest validators": v.view()},
        "summary": f"net per node over the run: miners {show(m.per_node(m.net))} COR, validators {show(v.per_node(v.net))} COR",
    }


def _free_rider(strategy: str, factor: int = 3) -> Callable[[Context], dict[str, Any]]:
    """``strategy`` earns < 1/``factor`` of an honest miner per task served, and less net per node."""

    def evaluate(c: Context) -> dict[str, Any]:
        h, x = pool(c.runs, is_("miner", "honest")), pool(c.runs, is_("miner", strategy))
        hp, xp = h.per_served(h.work_earnings), x.per_served(x.work_earnings)
        r = ratio(hp, xp)
        passed = (xp == 0 or hp >= factor * xp) and (strategy == "lazy" or x.per_node(x.net) < h.per_node(h.net))
        return {
            "passed": passed,
            "measured": {"honest": h.view(), strategy: x.view(), "ratio_per_task_served": r},
            "summary": f"per task served: honest {show(hp)} COR, {strategy} {show(xp)} COR "
            f"(ratio {times(r)}); net per node: honest {show(h.per_node(h.net))}, {strategy} {show(x.per_node(x.net))} COR",
        }

    return evaluate


def eval_offline(c: Context) -> dict[str, Any]:
    t = pool(c.runs, is_("miner", "offline"))
    return {
        "passed": t.work_earnings == 0 and t.net <= 0,
        "measured": {"offline": t.view()},
        "summary": f"offline miners: fees + network rewards {show(t.per_node(t.work_earnings))} COR, "
        f"slashes {show(t.per_node(t.slashes))} COR, net {show(t.per_node(t.net))} COR per node",
    }


def eval_inflation(c: Context) -> dict[str, Any]:
    h, x = pool(c.runs, is_("miner", "honest")), pool(c.runs, is_("miner", "inflater"))
    hr, xr = h.rate(), x.rate()
    gain = None if not hr or xr is None else round(xr / hr - 1, 4)
    return {
        "passed": gain is not None and gain <= 0.02,
        "measured": {"honest": h.view(), "inflater": x.view(), "gain_per_unit_of_true_work": gain},
        "summary": f"pay per unit of true work: inflaters {pct(gain)} against honest miners; per task served "
        f"{show(x.per_served(x.work_earnings))} vs {show(h.per_served(h.work_earnings))} COR",
    }


def _validators_earn_less(strategy: str) -> Callable[[Context], dict[str, Any]]:
    def evaluate(c: Context) -> dict[str, Any]:
        h, x = pool(c.runs, is_("validator", "honest")), pool(c.runs, is_("validator", strategy))
        he, xe = h.per_node(h.work_earnings), x.per_node(x.work_earnings)
        hn, xn = h.per_node(h.net), x.per_node(x.net)
        margin = ratio(xe, he)
        return {
            "passed": xe < he and xn < hn,
            "measured": {"honest": h.view(), strategy: x.view(), "earnings_ratio": margin},
            "summary": f"per node: {strategy} validators earn {show(xe)} COR (net {show(xn)}), honest {show(he)} COR (net {show(hn)}): "
            f"without evaluating anything, each {strategy} validator keeps "
            f"{'n/a' if margin is None else f'{margin * 100:.1f} %'} of an honest validator's pay",
        }

    return evaluate


def _rate_changes(runs: list[RunResult], base: list[RunResult], honest: set[str]) -> dict[str, dict[str, Any]]:
    a, b = per_node(runs), per_node(base)
    out = {}
    for name in sorted(honest):
        ra, rb = a[name].work_rate(), b[name].work_rate()
        out[name] = {
            "rate_change": None if not rb or ra is None else round(ra / rb - 1, 4),
            "total_change": ratio(a[name].payout - b[name].payout, b[name].payout),
            "payout": cor(a[name].payout),
            "baseline_payout": cor(b[name].payout),
            "slashes": cor(a[name].slashes),
            "assigned": a[name].assigned,
            "baseline_assigned": b[name].assigned,
        }
    return out


def _extreme(changes: dict[str, dict[str, Any]], key: str) -> tuple[float, float, float]:
    xs = [v[key] for v in changes.values() if v[key] is not None]
    return (max((abs(x) for x in xs), default=0.0), min(xs, default=0.0), max(xs, default=0.0))


def eval_collusion(c: Context) -> dict[str, Any]:
    runs, base = c.runs, c.baseline_runs()
    honest = {n.name for n in runs[0].nodes.values() if n.strategy == "honest" and not n.coalition and n.role in ("miner", "validator")}
    changes = _rate_changes(runs, base, honest)
    worst, drop, gain = _extreme(changes, "rate_change")
    worst_total, _, _ = _extreme(changes, "total_change")
    measured: dict[str, Any] = {
        "max_abs_rate_change": worst,
        "max_drop": round(drop, 4),
        "max_gain": round(gain, 4),
        "max_abs_total_change": worst_total,
        "nodes": changes,
    }
    null = c.null_runs()
    if null:
        noise = _rate_changes(null, base, honest)
        measured["noise_floor_rate"] = _extreme(noise, "rate_change")[0]
        measured["noise_floor_total"] = _extreme(noise, "total_change")[0]
    measured["coalition"] = _coalition(runs, base)
    measured["captured_task_share"] = _captured(runs)
    passed = worst <= 0.05
    noise = measured.get("noise_floor_rate")
    share = measured["captured_task_share"]
    summary = (
        f"honest nodes' pay per unit of work: largest drop {pct(drop)}, largest gain {pct(gain)}"
        + (f" (seed noise ±{noise * 100:.1f} %)" if noise is not None else "")
        + f"; no honest node loses > 5 %: {'yes' if drop >= -0.05 else 'no'}; coalition held half the reporting stake in "
        f"{'n/a' if share is None else f'{share * 100:.1f} %'} of tasks; favoured miner payout "
        f"{pct(measured['coalition']['favoured_change'])}, colluding validators {pct(measured['coalition']['colluders_change'])}, "
        f"coalition in total {show(Decimal(measured['coalition']['coalition_payout_change_per_seed']) * COR)} COR per seed"
    )
    return {"passed": passed, "harm_only_passed": drop >= -0.05, "measured": measured, "summary": summary}


def _coalition(runs: list[RunResult], base: list[RunResult]) -> dict[str, Any]:
    """The coalition's own outcome: its favoured miners and its validators, against the same nodes honest."""
    members = {n.name: n.role for n in runs[0].nodes.values() if n.coalition}
    fav = lambda n: members.get(n.name) == "miner"  # noqa: E731
    col = lambda n: members.get(n.name) == "validator"  # noqa: E731
    a_f, b_f, a_c, b_c = pool(runs, fav), pool(base, fav), pool(runs, col), pool(base, col)
    return {
        "favoured_change": ratio(a_f.payout - b_f.payout, b_f.payout),
        "colluders_change": ratio(a_c.payout - b_c.payout, b_c.payout),
        "colluders_slashed_per_node": cor(a_c.per_node(a_c.slashes)),
        "coalition_payout_change_per_seed": cor((a_f.payout + a_c.payout - b_f.payout - b_c.payout) // max(1, len(runs))),
    }


def _captured(runs: list[RunResult]) -> float | None:
    captured = sum(sum(t.captured.values()) for r in runs for t in r.tasks)
    settled = sum(t.settled + t.failed for r in runs for t in r.tasks)
    return ratio(captured, settled)


def eval_sybil(c: Context) -> dict[str, Any]:
    ops = {n.operator for r in c.runs for n in r.nodes.values() if n.operator != n.name}
    op = sorted(ops)[0] if ops else ""
    mine = lambda n: n.operator == op  # noqa: E731
    a, b = pool(c.runs, mine), pool(c.baseline_runs(), mine)
    gain = ratio(a.payout - b.payout, b.payout)
    return {
        "passed": gain is not None and gain <= 0.02,
        "measured": {
            "operator": op,
            "split": a.view(),
            "single": b.view(),
            "income_split": cor(a.payout // len(c.runs)),
            "income_single": cor(b.payout // max(1, len(c.runs))),
            "income_change": gain,
            "assignments_change": ratio(a.assigned - b.assigned, b.assigned),
        },
        "summary": f"operator income per seed: split {show(a.payout // len(c.runs))} COR vs single node "
        f"{show(b.payout // max(1, len(c.runs)))} COR ({pct(gain)}); assignments {pct(ratio(a.assigned - b.assigned, b.assigned))}",
    }


def eval_double_claim(c: Context) -> dict[str, Any]:
    x = pool(c.runs, is_("miner", "double_claimer"))
    h = pool(c.runs, is_("miner", "honest"))
    twin = pool(c.baseline_runs(), lambda n: n.role == "miner")
    books = not any(r.reconcile_errors or r.conservation_errors for r in c.runs)
    passed = x.leaves > 0 and x.received == x.leaves and x.claims_refused > 0 and h.received == h.leaves and twin.received == twin.leaves and books
    return {
        "passed": passed,
        "measured": {
            "double_claimer": {"leaves": cor(x.leaves), "received": cor(x.received), "claims_refused": x.claims_refused},
            "honest": {"leaves": cor(h.leaves), "received": cor(h.received), "claims_refused": h.claims_refused},
            "honest_twin": {"leaves": cor(twin.leaves), "received": cor(twin.received)},
            "paid_per_leaf": {"double_claimer": ratio(x.received, x.leaves), "honest_twin": ratio(twin.received, twin.leaves)},
            "books_reconcile": books,
        },
        "summary": f"double claimers were paid {times(ratio(x.received, x.leaves))} their leaves ({x.claims_refused} claims refused), "
        f"honest miners {times(ratio(h.received, h.leaves))}, the honest twin {times(ratio(twin.received, twin.leaves))}",
    }


CHECKS: dict[str, Check] = {
    c.id: c
    for c in (
        Check(
            "honest_miners_profit",
            "Honest participation pays",
            "honest miners and honest validators make a net profit",
            eval_honest_profit,
            "raise the emission streams or lower costs",
        ),
        Check(
            "honest_vs_lazy",
            "Honest beats lazy",
            "honest miners earn ≥ 3 × what lazy miners earn per task served",
            _free_rider("lazy"),
            "a stricter poi_max_distance_ppb or min_score_bps gate",
        ),
        Check(
            "garbage_loses",
            "Garbage loses money",
            "garbage miners: slashes > earnings (net < 0)",
            _loses("garbage"),
            "a larger slash_fraction_bps.poi_divergence (each divergence costs that share of the miner minimum bond)",
        ),
        Check(
            "mismatched_loses",
            "Mismatched reveals lose money",
            "mismatched-reveal miners: slashes > earnings (net < 0)",
            _loses("mismatched"),
            "a larger slash_fraction_bps.commit_mismatch",
        ),
        Check(
            "offline_unpaid",
            "Offline earns nothing",
            "offline miners earn no fees or network rewards and do not profit",
            eval_offline,
            "a larger slash_fraction_bps.missed_deadline",
        ),
        Check(
            "copier_miners_unprofitable",
            "Copying outputs does not pay",
            "copier miners earn < 1/3 of an honest miner per task served and less net per node",
            _free_rider("copier"),
            "done in the core (rule 9, core/network_prompts.py): the beacon composes each network prompt from the genesis prompt "
            "set, so an earlier answer is practically never the answer to a new prompt; what is left is the copier's guess "
            "passing PoI (a lazy answer within poi_max_distance_ppb)",
        ),
        Check(
            "stitching_copier_unprofitable",
            "Stitching answers does not pay",
            "stitching copiers earn < 1/3 of an honest miner per task served and less net per node",
            _free_rider("stitcher"),
            "the validator's model checks (ai/likelihood.py, ai/quality.py) and its part check (ai/composed.py): the first "
            "part's answer of a stitched output is far likelier after that part alone than after the composed prompt, so it "
            "is flagged stitched and capped under the floor on most tasks",
        ),
        Check(
            "borrowing_copier_unprofitable",
            "Borrowing answers does not pay",
            "borrowing copiers earn < 1/10 of an honest miner per task served and less net per node (a miner that runs no "
            "model should earn an order of magnitude less, not a third)",
            _free_rider("borrower", 10),
            "the validator's borrow check (ai/composed.py): a borrowed first answer passes the part check, but read after this "
            "prompt and after the earlier composed prompt it was sampled after, it is likelier after the earlier one, so it is "
            "flagged borrowed and capped under the floor on most tasks; a lower BORROW_GAIN_MIN_MILLI, or a text replay check",
        ),
        Check(
            "inflation_unprofitable",
            "Claiming more tokens does not pay",
            "a miner claiming output_tokens = max_output_tokens earns ≤ 2 % more per unit of true work",
            eval_inflation,
            "done in the core (rule version 6, core/token_counts.py): a reveal carries no count, the validators count the "
            "prompt and each revealed output with the model's tokenizer and the task settles their stake-weighted medians; "
            "what remains is seed noise in the tasks each miner serves",
        ),
        Check(
            "copier_validators_earn_less",
            "Copier validators earn less",
            "validators that report a constant guess earn less (and less net) than honest validators",
            _validators_earn_less("copier"),
            "more canaries (the oracle's canary rate: env.canary_rate), a smaller agreement_tolerance_ppb, or canary_failures_max 0",
        ),
        Check(
            "collusion_below_half",
            "A minority coalition cannot move honest pay",
            "colluding validators below 50 % of validator stake change no honest node's pay per unit of useful work by more "
            "than 5 % (against the honest twin on the same seeds)",
            eval_collusion,
            "draw more validators per task (validators_per_task; see the remedy runs) or let disputed tasks escalate further "
            "(escalation_rounds_max, escalation_max_validators, a smaller dissent_bound_ppb); and to keep honest validators' pay "
            "unchanged rather than raised, pay the validator stream at a fixed rate per agreement-weighted validation with the "
            "unearned part back to the pool instead of pro rata",
            uses_baseline=True,
            uses_null=True,
        ),
        Check(
            "sybil_no_gain",
            "Splitting stake does not pay",
            "one operator's income with its stake split over many miners is ≤ 2 % above its income with one miner",
            eval_sybil,
            "done in the core with a beacon: every draw (network tasks included, no idle preference) is Sampford's method, "
            "inclusion ∝ stake × reputation; a remaining gain comes from the cap at one slot per task (a node with "
            "k × weight ≥ the pool's total is always drawn, so splitting it adds slots) or from reputation moving faster on "
            "nodes that get more tasks",
            uses_baseline=True,
        ),
        Check(
            "double_claim_pays_once",
            "One payout path per epoch",
            "a miner that claims every leaf in the engine and on the distributor, before and after the post, is paid each leaf "
            "exactly once, like the honest twin",
            eval_double_claim,
            "bridge.post must move the epoch's unclaimed leaves out of claimable:<addr> and reward.claim must refuse a posted "
            "epoch; the post must list the leaves the engine already paid so the distributor marks them claimed",
            uses_baseline=True,
        ),
    )
}


def evaluate(check_id: str, ctx: Context) -> dict[str, Any]:
    """Run one check on a scenario's runs; the fix is attached when it fails."""
    check = CHECKS[check_id]
    out = {
        "id": check.id,
        "title": check.title,
        "scenario": ctx.scenario.name,
        "criterion": check.criterion,
        "baseline": ctx.scenario.baseline or None,
        **check.evaluate(ctx),
    }
    if not out["passed"]:
        out["fix"] = check.fix
    return out
