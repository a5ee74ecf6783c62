"""Canary spotting: a validator that evaluates only where it guesses a canary (docs/rewards.md, "Canaries"); a lazy cartel
holding every validator seat of the canaries it fails (``LazyCartel``, rule 30).

Stopped at its defaults (tests/sim/test_sim_canary_spotting.py asserts the numbers) by two changes, each measured by a
knob that restores what it replaced:
  * the oracle's policy plants a fluent answer to another prompt (``env.canary_output = "offtopic"``), which no lexical
    check tells from a real answer; ``planted=garbage`` plants word salad, the old policy, and the word-salad spotter
    wins again (the measurement of why the policy matters: it is not a consensus rule, a network's oracle must follow it);
  * rule 17 (RULES_USER_CANARIES): the oracle commits on every user task too (``task.canary_commit``), so a task's kind
    no longer tells; ``rules=before_user_canaries`` runs rule 16, where only network tasks carry canaries and the
    spotter that evaluates every network task and guesses on user tasks (``tell=network``) wins again.

canary_spotting  validator-00..(count−1) run the ``canary_spotter`` strategy (``sim/strategies.py``): before committing
                 to a report each looks at what it sees of the task without running the model, and evaluates
                 the task (paying ``validation_cost_units``) only where that *tell* suggests a canary; elsewhere
                 it echoes the reports already public (an escalation round) or guesses the median consensus of
                 earlier tasks. Tells (knob ``tell``): "word_salad", a lexical check flags an output as not
                 language (with planted=garbage the oracle plants word salad, the simulator's garbage cluster;
                 at the defaults only a garbage miner's output is flagged); "length", an output far longer or
                 shorter than the task's others; "network", every network task (under rule 16 user tasks carry no
                 canary); "never". Knob ``on_guess`` "flag": it never evaluates, it reports the suspects as garbage
                 (distance 1, quality 0) and guesses the rest.
                 The twin is the same population with every validator honest (evaluating every report).

                 Judged per unit of work: a validator's *pay* is its task fees and validators-stream emission
                 less slashes and, from rule 33, less what its bond paid for escalations it could not fund
                 (``escalation_unfunded`` lines; its staking APR does not depend on evaluating and is left out); its *work* is
                 the reports it evaluated. With ``kept`` = the spotters' pay ÷ the same validators' pay in
                 the twin and ``done`` = their evaluations ÷ the twin's,

                     break-even cost = (twin pay − pay) ÷ (twin evaluations − evaluations)
                                       (spotting pays whenever an evaluation costs more than this)
                     gain            = kept − (1 + done) ÷ 2
                     passed          = gain ≤ 0, i.e. break-even cost ≥ ½ × the twin's pay per evaluation

                 gain is the spotters' advantage over evaluating every report, as a share of the honest pay,
                 for a validator whose evaluations cost half of what they earn. This is the bar the other lazy
                 validator families keep (``echo_validator``, ``max_reporter``: laziness must forfeit at least
                 half of what evaluating earns; with done = 0 the two agree). The stricter bar "no more pay per
                 evaluation than the honest validator" (break-even ≥ the whole pay per evaluation) is failed by
                 every validator that earns anything without evaluating, a guesser whose canaries catch it
                 included, so it cannot tell a spotted canary from one that works; it is reported
                 (``pays_above_cost_share``: the break-even cost ÷ the twin's pay per evaluation) but not judged.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ...core.rules import RULES_UNEARNED_VALIDATOR_FEE, RULES_USER_CANARIES
from ...core.streams import Stream
from ..runner import RunResult
from ..scenarios import ROUTER, Scenario, validators
from ..script import ActorScript
from ..strategies import Environment
from .base import Family, Knob, Knobs, Verdict
from .common import Rules, final_state, made
from .slashing import Watch
from .validators import BAD_MIX

COR = 10**18
RULES = Rules(RULES_USER_CANARIES, "user_canaries", "before_user_canaries")
FIELDS = ("fees", "network", "staking", "slashes", "evaluated", "served", "assigned", "canaries_failed", "costs")


def _ratio(a: int, b: int) -> float | None:
    return None if not b else a / b


class CanarySpotting(Family):
    name = "canary_spotting"
    title = "Canary spotting: evaluating only where a canary is guessed"
    criterion = (
        "validators that evaluate only where a cheap tell suggests a canary do not out-earn evaluating every report unless an "
        "evaluation costs more than half of what it earns: pay (fees + validators-stream emission − slashes) lost ≥ ½ × the "
        "honest pay per evaluation × evaluations saved (gain = share of pay kept − (1 + share of evaluations done) ÷ 2 ≤ 0)"
    )
    description = (
        "validator-00..02 (30 % of validator stake) evaluate a task only when a lexical check flags one of its outputs as word "
        "salad and otherwise guess the median consensus of earlier tasks (echo the public reports in an escalation round); the "
        "oracle plants fluent off-topic answers, on network and (rule 17) user tasks; miners: 8 honest, 1 lazy, 1 garbage "
        "(before: garbage plants on network tasks only, measured on rule 13: 105.9 % of the honest pay for 17.8 % of the "
        "evaluations, 0 of 146 canary draws failed)"
    )
    gain_unit = (
        "share of the twin's pay kept − (1 + share of its evaluations done) ÷ 2: the advantage per unit of honest pay when evaluating "
        "costs half its pay"
    )
    knobs = (
        Knob("count", 3, "spotting validators (validator-00..), of 10", 1, 5),
        Knob("tell", "word_salad", "what makes it suspect a canary", choices=("word_salad", "length", "network", "never")),
        Knob("on_guess", "evaluate", "where it suspects one: evaluate the task, or flag the suspects as garbage", choices=("evaluate", "flag")),
        Knob(
            "planted",
            "offtopic",
            "what the oracle plants (both worlds, env.canary_output): a fluent answer to another prompt (the policy), or word "
            "salad (the old policy, which a lexical check spots)",
            choices=("offtopic", "garbage"),
        ),
        RULES.knob("user tasks carry the oracle's canary commitment too", "only network tasks do"),
        Knob("epochs", 10, "epochs run", 1, 30),
    )

    def spotters(self, k: Knobs) -> list[str]:
        return [f"validator-{i:02d}" for i in range(int(k["count"]))]

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        options = {"tell": str(k["tell"]), "on_guess": str(k["on_guess"])}
        s = Scenario(
            self.name,
            BAD_MIX + validators("canary_spotter", int(k["count"]), options=options) + ROUTER,
            self.description,
            env=Environment(canary_output=str(k["planted"])),
            epochs=int(k["epochs"]),
            params=RULES.params(k),
        )
        return s.honest_twin() if twin else s

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return Watch()

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        state = final_state(made(script, Watch))
        totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for epoch in result.epochs:
            for name, st in epoch.items():
                for f in FIELDS:
                    totals[name][f] += getattr(st, f)
        address = {n.name: n.address for n in result.nodes.values()}
        for name in self.spotters(k):
            a = address[name]
            seen = [t for t in state.tasks.values() if t.canary == "planted" and a in t.validators]
            totals[name]["canaries_drawn"] = len(seen)
            for t in state.tasks.values():
                if a in t.reports:  # its reports in the first round (committed blind) and in escalation rounds (others' public)
                    part = "round0" if t.validator_round.get(a, 0) == 0 else "escalation"
                    totals[name][f"{part}_reports"] += 1
                    totals[name][f"{part}_agreement_ppb"] += t.agreement_ppb.get(a, 0)
            totals[name]["forfeits"] = sum(1 for r in state.epochs.values() for i in r.items if i.address == a and i.stream == Stream.CANARY_FORFEIT)
        roles = {n.name: n.role for n in result.nodes.values()}
        charged: dict[str, int] = defaultdict(int)  # rules 33-34: escalation_unfunded lines (negative amounts) by address
        for r in state.epochs.values():
            for i in r.items:
                if i.stream == Stream.ESCALATION_UNFUNDED:
                    charged[i.address] -= i.amount
        for name in totals:
            totals[name]["escalation_charged"] = charged[address[name]]
        return {
            "nodes": {n: dict(t) for n, t in totals.items() if roles[n] == "validator"},
            "canaries": sum(t.canaries for t in result.tasks),
            "escalated": sum(t.escalated for t in result.tasks),
            "validations": sum(t.validations for t in result.tasks),
            "epochs": len(result.epochs),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        names = self.spotters(k)

        def total(runs: list[dict[str, Any]], key: str, who: list[str] = names) -> int:
            return sum(r["nodes"][n].get(key, 0) for r in runs for n in who)

        def pay(runs: list[dict[str, Any]]) -> int:
            return total(runs, "fees") + total(runs, "network") - total(runs, "slashes") - total(runs, "escalation_charged")

        got, had = pay(attack), pay(twin)
        done, did = total(attack, "evaluated"), total(twin, "evaluated")
        kept, share = _ratio(got, had), _ratio(done, did)
        gain = None if kept is None or share is None else kept - (1 + share) / 2
        per_eval = None if not done else got // done
        twin_per_eval = None if not did else had // did
        break_even = None if did <= done else (had - got) // (did - done)
        per_seed = [pay([a]) - pay([t]) for a, t in zip(attack, twin)]
        measured = {
            "spotters": names,
            "pay": str(got),
            "twin_pay": str(had),
            "share_of_pay_kept": None if kept is None else round(kept, 6),
            "evaluated": done,
            "twin_evaluated": did,
            "share_of_evaluations_done": None if share is None else round(share, 6),
            "pay_per_evaluation": None if per_eval is None else str(per_eval),
            "twin_pay_per_evaluation": None if twin_per_eval is None else str(twin_per_eval),
            "break_even_cost_per_evaluation": None if break_even is None else str(break_even),
            "pays_above_cost_share": None if break_even is None or not twin_per_eval else round(break_even / twin_per_eval, 4),
            "reports": total(attack, "served"),
            "twin_reports": total(twin, "served"),
            "canaries_drawn": total(attack, "canaries_drawn"),
            "canaries_failed": total(attack, "canaries_failed"),
            "forfeited_epochs": total(attack, "forfeits"),
            "slashes": str(total(attack, "slashes")),
            "twin_slashes": str(total(twin, "slashes")),
            "staking_apr": str(total(attack, "staking")),
            "pay_change_per_seed": [str(x) for x in per_seed],
            "round0_reports": total(attack, "round0_reports"),
            "round0_mean_agreement": round(total(attack, "round0_agreement_ppb") / max(1, total(attack, "round0_reports")) / 1e9, 4),
            "twin_round0_mean_agreement": round(total(twin, "round0_agreement_ppb") / max(1, total(twin, "round0_reports")) / 1e9, 4),
            "escalation_reports": total(attack, "escalation_reports"),
            "twin_escalation_reports": total(twin, "escalation_reports"),
            "escalation_mean_agreement": round(total(attack, "escalation_agreement_ppb") / max(1, total(attack, "escalation_reports")) / 1e9, 4),
            "validations": sum(r["validations"] for r in attack),
            "twin_validations": sum(r["validations"] for r in twin),
            "escalated_tasks": sum(r["escalated"] for r in attack),
            "twin_escalated_tasks": sum(r["escalated"] for r in twin),
            "canaries": sum(r["canaries"] for r in attack),
        }
        summary = (
            f"{len(names)} spotter(s) ({k['tell']}, {k['on_guess']}): kept {'n/a' if kept is None else f'{kept * 100:.1f} %'} of the "
            f"honest pay for {'n/a' if share is None else f'{share * 100:.1f} %'} of the evaluations; "
            f"{total(attack, 'canaries_failed')} of {total(attack, 'canaries_drawn')} canaries drawn failed; spotting pays once an "
            f"evaluation costs more than {'n/a' if break_even is None else f'{break_even / COR:,.4f}'} COR "
            f"(honest pay per evaluation {'n/a' if twin_per_eval is None else f'{twin_per_eval / COR:,.4f}'} COR)"
        )
        return Verdict(gain, gain is not None and gain <= 0, measured, summary)


LAZY_RULES = Rules(RULES_UNEARNED_VALIDATOR_FEE, "unearned_to_treasury", "equal_split")


class LazyCartel(Family):
    """lazy_cartel: a cartel of validators that never evaluate, holding every validator seat of the tasks it sits on.

    validator-00..(count−1) run the ``copier`` strategy (``max_reporter``'s: distance 0 and quality 1.0 of every output,
    without running the model), so each fails every canary it is drawn to: its agreement on the task is 0. On a user task
    whose every reporting validator is the cartel's, Σ agreement_ppb is 0; rules 1-29 then split the validators' part of
    the fee equally among them (paid for proven non-work), rule 30 (``RULES_UNEARNED_VALIDATOR_FEE``) pays them nothing
    and moves the part to the treasury. Measured: the cartel's ``task_fee:validator`` income on the settled user canaries
    it held whole (every reporting validator the cartel's) and failed, gain = that income ÷ the validators' part of those
    tasks' fees (the share of the unearned part it took; stopped at 0: a failed canary pays no fee). Beside it, what the
    validators of the honest twin earn a settled user canary (evaluating, they take its part), and the cartel's fee income
    elsewhere (reported, not judged: on a plain task the cartel's identical reports are the consensus and it
    agrees with itself, which is ``max_reporter``'s question)."""

    name = "lazy_cartel"
    title = "A lazy cartel holding every validator seat is not paid for the canaries it fails"
    criterion = (
        "validators that never evaluate and hold every validator seat of a user canary they fail earn no task fee from it "
        "(gain = their task-fee income on those canaries ÷ the validators' part of those tasks' fees; stopped at 0)"
    )
    description = (
        "all 10 validators run the copier strategy (distance 0, quality 1.0 for every output, never evaluating): every "
        "canary fails all of its validators; miners: 8 honest, 1 lazy, 1 garbage; the oracle plants fluent off-topic "
        "answers on network and user tasks"
    )
    gain_unit = "the cartel's task-fee income on the user canaries it held whole and failed ÷ the validators' part of those fees"
    knobs = (
        Knob("count", 10, "cartel validators (validator-00..), of 10", 1, 10),
        LAZY_RULES.knob(
            "Σ agreement 0 pays no validator, the part goes to the treasury", "Σ agreement 0 splits the part equally among the reporters"
        ),
        Knob("epochs", 10, "epochs run", 1, 30),
    )

    def cartel(self, k: Knobs) -> list[str]:
        return [f"validator-{i:02d}" for i in range(int(k["count"]))]

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        groups = validators("copier", int(k["count"]), options={"distance": 0.0, "quality": 1.0})
        s = Scenario(
            self.name,
            BAD_MIX + tuple(g for g in groups if g.count) + ROUTER,
            self.description,
            epochs=int(k["epochs"]),
            params=LAZY_RULES.params(k),
        )
        return s.honest_twin() if twin else s

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return Watch()

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        state = final_state(made(script, Watch))
        address = {n.name: n.address for n in result.nodes.values()}
        cartel = {address[n] for n in self.cartel(k)}
        canaries = {t.id: t for t in state.tasks.values() if t.kind == "user" and t.canary == "planted" and t.state == "SETTLED"}
        held = {i for i, t in canaries.items() if set(t.agreement_ppb) <= cartel}  # every reporting validator the cartel's
        by_task: dict[int, int] = defaultdict(int)  # the cartel's fee income on each settled user canary
        other = unearned = 0
        for record in state.epochs.values():
            for item in record.items:
                task = item.detail.get("task")
                if item.stream == Stream.TASK_FEE_VALIDATOR and item.address in cartel:
                    if task in canaries:
                        by_task[task] += item.amount
                    else:
                        other += item.amount
                elif item.stream == Stream.TASK_PAYMENT and task in held:
                    unearned += int(item.detail.get("validators_unearned", 0))
        failed = sorted(i for i in held if set(canaries[i].canary_failed) >= set(canaries[i].agreement_ppb))
        return {
            "failed": failed,  # user canaries the cartel held whole and every one of its reporters failed
            "income_by_canary": {str(i): by_task.get(i, 0) for i in sorted(canaries)},
            "part_by_canary": {str(i): canaries[i].split.get("validators", 0) for i in sorted(canaries)},
            "unearned_to_treasury": unearned,
            "other_fee_income": other,
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        got = part = failed = 0
        for a in attack:
            for i in a["failed"]:
                failed += 1
                got += a["income_by_canary"][str(i)]
                part += a["part_by_canary"][str(i)]
        # the twin's seats evaluating: their income per settled user canary (every validator honest: they take its part)
        twin_canaries = sum(len(t["income_by_canary"]) for t in twin)
        evaluating = sum(sum(t["income_by_canary"].values()) for t in twin) // max(1, twin_canaries)
        gain = None if not part else got / part
        n = max(1, len(attack))
        to_treasury = sum(a["unearned_to_treasury"] for a in attack)
        measured = {
            "cartel": self.cartel(k),
            "rules": k["rules"],
            "canaries_failed_by_every_validator": failed,
            "validators_part_of_their_fees": str(part),
            "cartel_income_on_them": str(got),
            "twin_user_canaries": twin_canaries,
            "twin_income_per_user_canary": str(evaluating),
            "unearned_to_treasury": str(to_treasury),
            "other_fee_income_per_seed": str(sum(a["other_fee_income"] for a in attack) // n),
            "twin_other_fee_income_per_seed": str(sum(t["other_fee_income"] for t in twin) // n),
        }
        summary = (
            f"{len(self.cartel(k))} lazy validator(s), {k['rules']}: {failed} user canaries failed by every validator; the "
            f"cartel took {got / COR:,.4f} COR of their {part / COR:,.4f} COR validators' part "
            f"({'n/a' if gain is None else f'{gain * 100:.1f} %'}; evaluating, the twin's validators earn {evaluating / COR:,.4f} "
            f"COR a user canary); {to_treasury / COR:,.4f} COR to the treasury"
        )
        return Verdict(gain, gain is not None and gain <= 0, measured, summary)


FAMILIES = (CanarySpotting(), LazyCartel())
