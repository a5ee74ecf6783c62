"""Bounty attacks: a validator pays its own puppet, and a judge finalizes a challenge before the others have scored.

bounty_self_award         a sponsor posts a 10 000 COR bounty and names no reviewers. A coalition of validators
                          (validator-00 alone at the defaults, 10 % of validator stake) has a puppet submit junk and
                          approves it at once, again after the deadline, and only the puppet; the honest reviewers
                          approve the honest hunter's entry after the deadline. The honest twin: no puppet.
                          gain = (prizes won by the coalition and its puppet − the twin's) ÷ the prize.
challenge_early_finalize  a challenge of 10 000 COR with three named judges; one of them has a puppet enter junk,
                          scores it 1.0 right at the deadline and finalizes at once; the two honest judges score
                          the entries later in the review period (the hunter 0.9, the puppet 0.01). The twin: no
                          puppet, and that judge scores honestly.
                          gain = (prizes won by the judge and its puppet − the twin's) ÷ the prize.

Both count only bounty prizes (statement lines ``bounty_prize``), so the validators' work income, which
differs between the two worlds with their task draws, does not blur the measurement. The puppet is
funded at genesis by default (``puppet_funding = "genesis"``: no link the log can show), so the defence
measured is the k-of-n quorum and the timing; with ``"transfer"`` the attacker funds it on the log and
the link rules apply as well.
"""

from __future__ import annotations

from typing import Any

from ...core.state import State
from ...core.streams import Stream
from ...core.units import COR
from ..runner import RunResult
from ..scenarios import Scenario
from ..script import ActorScript, Step
from ..strategies import sha
from .base import Family, Knob, Knobs, Verdict
from .common import StakeScript, actor, cor_units, made, node, population_scenario
from .measure import earned

PRIZE_COR = 10_000
CREATE_TICK = 5  # offset in epoch 0 at which the sponsor posts
DEADLINE_TICKS = 40  # from the post to the deadline
VALIDATORS = [f"validator-{i:02d}" for i in range(10)]


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:+.1f} %"


def _bounty(state: State, sponsor: str) -> Any:
    return next((b for b in state.bounties.values() if b.sponsor == sponsor), None)


def _approve(reviewer: str, sponsor: str, hunter: str) -> Any:
    """A step body: ``reviewer`` approves ``hunter``'s entry to the sponsor's bounty, if it is one of its reviewers (None: skip)."""

    def body(state: State) -> dict[str, Any] | None:
        b = _bounty(state, sponsor)
        if b is None or hunter not in b.submissions or b.submissions[hunter].rank is not None or (b.reviewers and reviewer not in b.reviewers):
            return None
        return {"bounty": b.id, "submission": hunter}

    return body


def _score(judge: str, sponsor: str, hunter: str, score_ppb: int) -> Any:
    def body(state: State) -> dict[str, Any] | None:
        b = _bounty(state, sponsor)
        return None if b is None or hunter not in b.submissions else {"bounty": b.id, "submission": hunter, "score_ppb": score_ppb}

    return body


def _of_sponsor(sponsor: str) -> Any:
    def body(state: State) -> dict[str, Any] | None:
        b = _bounty(state, sponsor)
        return None if b is None else {"bounty": b.id}

    return body


def _submit(sponsor: str, text: str) -> Any:
    def body(state: State) -> dict[str, Any] | None:
        b = _bounty(state, sponsor)
        return None if b is None else {"bounty": b.id, "content_hash": sha(text)}

    return body


def _funding(k: Knobs, funder: str, puppet: str) -> tuple[dict[str, int], list[Step]]:
    """The puppet's wallet: from genesis (no link on the log), or a transfer from the attacker early in epoch 0 (a link)."""
    if k["puppet_funding"] == "genesis":
        return {puppet: COR}, []
    return {funder: COR}, [Step(1, funder, "transfer", {"to": puppet, "amount": str(COR)}, (0,), "fund_puppet")]


class BountySelfAward(Family):
    name = "bounty_self_award"
    title = "Validators award a bounty to their own puppet"
    criterion = (
        "a coalition of validators below the k-of-n quorum of the drawn reviewers wins nothing for its puppet (gain ≤ 0); "
        "trust assumption: a majority of the drawn reviewers can award any entry, and a coalition draws that majority in "
        "proportion to its share of validator stake × reputation (a 6-of-10 coalition gains: not stopped by design)"
    )
    description = (
        "a 10 000 COR bounty names no reviewers; validator-00 (10 % of validator stake) has a puppet submit junk and awards it "
        "at once (measured on the old rules: it took 100 % of the prize at tick 0, and the honest entry was then refused)"
    )
    gain_unit = "(prizes won by the coalition and its puppet − the twin's) ÷ the prize"
    knobs = (
        Knob("coalition", 1, "validators in the coalition (validator-00 ..)", 1, 10),
        Knob("puppet_funding", "genesis", "how the puppet got its COR", choices=("genesis", "transfer")),
    )

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return population_scenario(self.name + ("~twin" if twin else ""), 2, tasks=2)

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        sponsor, hunter, puppet = actor("sponsor"), actor("hunter"), actor("puppet")
        coalition = [node(v) for v in VALIDATORS[: int(k["coalition"])]]
        honest = [node(v) for v in (VALIDATORS if twin else VALIDATORS[int(k["coalition"]) :])]
        create = {"prize": str(cor_units(PRIZE_COR)), "criteria": "a PoUW prompt set for code", "winners": 1}
        deadline = CREATE_TICK + DEADLINE_TICKS
        steps = [
            Step(CREATE_TICK, sponsor, "bounty.create", lambda s: {**create, "deadline_tick": s.tick + DEADLINE_TICKS}, (0,), "create"),
            Step(CREATE_TICK + 2, hunter, "bounty.submit", _submit(sponsor, "good work"), (0,), "hunter_submits"),
        ]
        if not twin:
            steps.append(Step(CREATE_TICK + 1, puppet, "bounty.submit", _submit(sponsor, "junk"), (0,), "puppet_submits"))
            for v in coalition:
                steps.append(Step(CREATE_TICK + 1, v, "bounty.award", _approve(v, sponsor, puppet), (0,), "early_award"))
                steps.append(Step(deadline + 1, v, "bounty.award", _approve(v, sponsor, puppet), (0,), "coalition_award"))
        for v in honest:
            steps.append(Step(deadline + 2, v, "bounty.award", _approve(v, sponsor, hunter), (0,), "honest_award"))
        wallets, funding = _funding(k, coalition[0], puppet)
        wallets = {**wallets, sponsor: cor_units(PRIZE_COR), hunter: COR}
        return StakeScript(funding + steps, watch=[], wallets=wallets, actor_names={"sponsor": sponsor, "hunter": hunter, "puppet": puppet})

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, StakeScript)
        state = script.state
        coalition = [node(v) for v in VALIDATORS[: int(k["coalition"])]]
        b = _bounty(state, actor("sponsor"))
        return {
            "prizes": sum(earned(state, e, a, Stream.BOUNTY_PRIZE) for e in state.epochs for a in [actor("puppet"), *coalition]),
            "puppet_paid": b.submissions[actor("puppet")].paid if b and actor("puppet") in b.submissions else 0,
            "hunter_paid": b.submissions[actor("hunter")].paid if b and actor("hunter") in b.submissions else 0,
            "reviewers": len(b.reviewers) if b else 0,
            "coalition_drawn": sum(1 for v in coalition if b and v in b.reviewers),
            "refused": sorted({f"{e.label}: {e.code}" for e in script.log if not e.ok}),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        prize = cor_units(PRIZE_COR)
        diff = sum(a["prizes"] - t["prizes"] for a, t in zip(attack, twin, strict=True))
        gain = diff / (len(attack) * prize)
        won = sum(a["puppet_paid"] for a in attack) / (len(attack) * prize)
        refused = sorted({r for a in attack for r in a["refused"]})
        return Verdict(
            gain,
            gain <= 0,
            {
                "puppet_share_of_prizes": won,
                "hunter_share_of_prizes": sum(a["hunter_paid"] for a in attack) / (len(attack) * prize),
                "coalition_drawn_per_seed": [a["coalition_drawn"] for a in attack],
                "refused": refused,
            },
            f"a coalition of {k['coalition']} validator(s): its puppet won {_pct(won)[1:]} of the prize; against the twin "
            f"{_pct(gain)} of the prize ({', '.join(refused[:3]) or 'nothing refused'})",
        )


class ChallengeEarlyFinalize(Family):
    name = "challenge_early_finalize"
    title = "A judge finalizes a challenge before the others score"
    criterion = "a judge cannot close a challenge before the review period ends, and one judge's scores cannot make its puppet win (gain ≤ 0)"
    description = (
        "a 10 000 COR challenge with three named judges; one judge's puppet enters junk, the judge scores it 1.0 at the deadline and "
        "finalizes at once (measured on the old rules: the puppet took the whole prize before the honest judges could score)"
    )
    gain_unit = "(prizes won by the judge and its puppet − the twin's) ÷ the prize"
    knobs = (
        Knob("finalize_after_ticks", 0, "ticks after the deadline at which the judge finalizes", 0, 200),
        Knob("honest_after_ticks", 30, "ticks after the deadline at which the honest judges score", 0, 99),
        Knob("puppet_funding", "genesis", "how the puppet got its COR", choices=("genesis", "transfer")),
    )
    JUDGES = ("judge-0", "judge-1", "judge-2")

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return population_scenario(self.name + ("~twin" if twin else ""), 3, tasks=2)

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        sponsor, hunter, puppet = actor("sponsor"), actor("hunter"), actor("puppet")
        judges = [actor(j) for j in self.JUDGES]
        bad, honest = judges[0], judges[1:]
        create = {"prize": str(cor_units(PRIZE_COR)), "criteria": "the best PoUW prompt set", "winners": 1, "kind": "challenge", "reviewers": judges}
        deadline = CREATE_TICK + DEADLINE_TICKS
        later = deadline + int(k["honest_after_ticks"])
        steps = [
            Step(CREATE_TICK, sponsor, "bounty.create", lambda s: {**create, "deadline_tick": s.tick + DEADLINE_TICKS}, (0,), "create"),
            Step(CREATE_TICK + 2, hunter, "bounty.submit", _submit(sponsor, "good work"), (0,), "hunter_submits"),
        ]
        for j in honest:
            steps.append(Step(later, j, "bounty.score", _score(j, sponsor, hunter, 900_000_000), (0,), "honest_score"))
            steps.append(Step(later, j, "bounty.score", _score(j, sponsor, puppet, 10_000_000), (0,), "honest_score"))
        if twin:
            steps.append(Step(later, bad, "bounty.score", _score(bad, sponsor, hunter, 900_000_000), (0,), "honest_score"))
        else:
            at = deadline + int(k["finalize_after_ticks"])
            epoch, offset = divmod(at, 100)
            steps.append(Step(CREATE_TICK + 1, puppet, "bounty.submit", _submit(sponsor, "junk"), (0,), "puppet_submits"))
            steps.append(Step(deadline, bad, "bounty.score", _score(bad, sponsor, puppet, 1_000_000_000), (0,), "judge_scores_puppet"))
            steps.append(Step(offset, bad, "bounty.finalize", _of_sponsor(sponsor), (epoch,), "early_finalize"))
        # anyone finalizes once the review period is over (epoch 1, after tick 45 + 100)
        steps.append(Step(60, hunter, "bounty.finalize", _of_sponsor(sponsor), (1,), "finalize"))
        wallets, funding = _funding(k, bad, puppet)
        wallets = {**wallets, sponsor: cor_units(PRIZE_COR), hunter: COR}
        names = {"sponsor": sponsor, "hunter": hunter, "puppet": puppet, **{j: actor(j) for j in self.JUDGES}}
        return StakeScript(funding + steps, watch=[], wallets=wallets, actor_names=names)

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, StakeScript)
        state = script.state
        b = _bounty(state, actor("sponsor"))
        puppet, hunter = actor("puppet"), actor("hunter")
        return {
            "prizes": sum(earned(state, e, a, Stream.BOUNTY_PRIZE) for e in state.epochs for a in (puppet, actor(self.JUDGES[0]))),
            "puppet_paid": b.submissions[puppet].paid if b and puppet in b.submissions else 0,
            "hunter_paid": b.submissions[hunter].paid if b and hunter in b.submissions else 0,
            "finalized_tick": b.finalized_tick if b else None,
            "refused": sorted({f"{e.label}: {e.code}" for e in script.log if not e.ok}),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        prize = cor_units(PRIZE_COR)
        diff = sum(a["prizes"] - t["prizes"] for a, t in zip(attack, twin, strict=True))
        gain = diff / (len(attack) * prize)
        won = sum(a["puppet_paid"] for a in attack) / (len(attack) * prize)
        refused = sorted({r for a in attack for r in a["refused"]})
        return Verdict(
            gain,
            gain <= 0,
            {
                "puppet_share_of_prizes": won,
                "hunter_share_of_prizes": sum(a["hunter_paid"] for a in attack) / (len(attack) * prize),
                "finalized_ticks": [a["finalized_tick"] for a in attack],
                "refused": refused,
            },
            f"finalizing {k['finalize_after_ticks']} tick(s) after the deadline: the puppet won {_pct(won)[1:]} of the prize; "
            f"against the twin {_pct(gain)} of the prize ({', '.join(refused[:3]) or 'nothing refused'})",
        )


FAMILIES: tuple[Family, ...] = (BountySelfAward(), ChallengeEarlyFinalize())
