"""Bounty attacks: a validator pays its own puppet, a judge finalizes a challenge before the others have scored, a
spammer fills the state with bounties and entries that cost it nothing, and a churner fills it by recycling its money.

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
bounty_spam               one spammer opens bounties at the cheapest prize the rules accept and has many keys enter
                          every one of them (each entry stored in the state, and replayed by every verifier); an honest
                          sponsor's 100 COR bounty runs beside it (three hunters, three named judges). Until rule 21 a
                          prize of one base unit was accepted and an entry needed no funded key, so the entries cost
                          ~nothing; from rule 21 a prize is at least bounty_min_prize_units and each entry locks
                          bounty_entry_deposit_units (returned at expiry), so the spammer funds its keys and locks money
                          in proportion to what it stores (knob rules=before_deposit runs the rule before 21). The twin:
                          no spam. gain = (the spammer's stored entries per COR it locks) ÷ (one entry per COR, the bound
                          the default deposit sets) − 1; stopped iff gain ≤ 0 and the honest hunters' entries and prizes
                          equal the twin's.
bounty_churn              rule 21 bounds the entries *outstanding* by the money locked, but the deposits and the prize's
                          rest come back at expiry: a churner opens minimum bounties every epoch, has its keys enter
                          them, expires them after the review period and starts again with the same money. Both worlds
                          prune (prune_closed_records = 1, what a node with a database holds; the simulator's default
                          keeps everything), and a probe counts the churner's entries held in the live state mid-round.
                          Under rule 21 (rules=before_retire) expired bounties stay, so that count grows by a round's
                          entries every epoch; from rule 22 an expired bounty leaves at the next close. The twin: no
                          churn. gain = (live entries per COR locked at the last round) ÷ (1 entry per COR) − 1;
                          stopped iff gain ≤ 0, the last round holds no more than the first, and the honest bounty's
                          hunters end with the twin's wallets.

Both count only bounty prizes (statement lines ``bounty_prize``), so the validators' work income, which
differs between the two worlds with their task draws, does not blur the measurement. The puppet is
funded at genesis by default (``puppet_funding = "genesis"``: no link the log can show), so the defence
measured is the k-of-n quorum and the timing; with ``"transfer"`` the attacker funds it on the log and
the link rules apply as well.
"""

from __future__ import annotations

from typing import Any

from ...core.params import Params
from ...core.rules import RULES_BOUNTY_DEPOSIT, RULES_BOUNTY_RETIRE, rules_since
from ...core.state import State
from ...core.state_codec import encode_record
from ...core.streams import Stream
from ...core.units import COR
from ..runner import RunResult
from ..scenarios import Scenario
from ..script import ActorScript, Step
from ..strategies import sha
from .base import Family, Knob, Knobs, Verdict
from .common import (
    Rules,
    SampledScript,
    StakeScript,
    actor,
    cor_units,
    live_probe,
    made,
    node,
    pct,
    population_scenario,
    rounds_scenario,
    sampled_rounds,
)
from .measure import earned

PRIZE_COR = 10_000
CREATE_TICK = 5  # offset in epoch 0 at which the sponsor posts
DEADLINE_TICKS = 40  # from the post to the deadline
VALIDATORS = [f"validator-{i:02d}" for i in range(10)]


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


def _prize_outcome(attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> tuple[float, float, float, list[str]]:
    """Over the seeds of a prize attack (a puppet against an honest hunter): the prizes its actors won beyond the twin's,
    the puppet's and the hunter's pay (each a share of the seeds' prizes), and the refusals."""
    prizes = len(attack) * cor_units(PRIZE_COR)
    gain = sum(a["prizes"] - t["prizes"] for a, t in zip(attack, twin, strict=True)) / prizes
    won = sum(a["puppet_paid"] for a in attack) / prizes
    hunter = sum(a["hunter_paid"] for a in attack) / prizes
    return gain, won, hunter, sorted({r for a in attack for r in a["refused"]})


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
        return population_scenario(self.world_name(twin), 2, tasks=2)

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
        gain, won, hunter, refused = _prize_outcome(attack, twin)
        return Verdict(
            gain,
            gain <= 0,
            {
                "puppet_share_of_prizes": won,
                "hunter_share_of_prizes": hunter,
                "coalition_drawn_per_seed": [a["coalition_drawn"] for a in attack],
                "refused": refused,
            },
            f"a coalition of {k['coalition']} validator(s): its puppet won {pct(won)[1:]} of the prize; against the twin "
            f"{pct(gain)} of the prize ({', '.join(refused[:3]) or 'nothing refused'})",
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
        return population_scenario(self.world_name(twin), 3, tasks=2)

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
        gain, won, hunter, refused = _prize_outcome(attack, twin)
        return Verdict(
            gain,
            gain <= 0,
            {
                "puppet_share_of_prizes": won,
                "hunter_share_of_prizes": hunter,
                "finalized_ticks": [a["finalized_tick"] for a in attack],
                "refused": refused,
            },
            f"finalizing {k['finalize_after_ticks']} tick(s) after the deadline: the puppet won {pct(won)[1:]} of the prize; "
            f"against the twin {pct(gain)} of the prize ({', '.join(refused[:3]) or 'nothing refused'})",
        )


SPAM_PRIZE_TRY = 1  # the spammer's prize under the old rule: one base unit
HONEST_PRIZE_COR = 100
HONEST_HUNTERS = ("honest-0", "honest-1", "honest-2")
SPAM_JUDGES = ("judge-0", "judge-1", "judge-2")
DEPOSIT_RULES = Rules(RULES_BOUNTY_DEPOSIT, "deposit", "before_deposit")


def _honest_world(attacker_name: str, attacker_wallet: int) -> tuple[list[Step], dict[str, int], dict[str, str]]:
    """The honest bounty bounty_spam and bounty_churn run beside their attacker (``attacker_name``, funded with
    ``attacker_wallet`` at genesis): ``sponsor`` posts ``HONEST_PRIZE_COR`` with the three ``SPAM_JUDGES`` named at
    ``CREATE_TICK`` (deadline ``DEADLINE_TICKS`` later), the ``HONEST_HUNTERS`` enter two ticks later, the judges award
    the first hunter the tick after the deadline and the second hunter expires it the tick after that. Returns its steps,
    the genesis wallets (the prize, 2 COR a hunter, the attacker's) and the actor names of the report."""
    sponsor, attacker = actor("sponsor"), actor(attacker_name)
    hunters, judges = [actor(h) for h in HONEST_HUNTERS], [actor(j) for j in SPAM_JUDGES]
    honest = {"prize": str(cor_units(HONEST_PRIZE_COR)), "criteria": "a PoUW prompt set for code", "winners": 1, "reviewers": judges}
    deadline = CREATE_TICK + DEADLINE_TICKS
    steps = [Step(CREATE_TICK, sponsor, "bounty.create", lambda s: {**honest, "deadline_tick": s.tick + DEADLINE_TICKS}, (0,), "honest_create")]
    for i, h in enumerate(hunters):
        steps.append(Step(CREATE_TICK + 2, h, "bounty.submit", _submit(sponsor, f"honest work {i}"), (0,), "honest_submits"))
    for j in judges:
        steps.append(Step(deadline + 1, j, "bounty.award", _approve(j, sponsor, hunters[0]), (0,), "honest_award"))
    steps.append(Step(deadline + 2, hunters[1], "bounty.expire", _of_sponsor(sponsor), (0,), "honest_expire"))
    wallets = {sponsor: cor_units(HONEST_PRIZE_COR), **dict.fromkeys(hunters, 2 * COR), attacker: attacker_wallet}
    names = {"sponsor": sponsor, attacker_name: attacker, **dict(zip(HONEST_HUNTERS, hunters, strict=True))}
    return steps, wallets, names


def _cheapest_prize(state: State) -> int:
    """The least prize ``bounty.create`` accepts under the rules in force (what a spammer pays)."""
    return state.params.bounty_min_prize_units if rules_since(state.params, RULES_BOUNTY_DEPOSIT) else SPAM_PRIZE_TRY


def _entry_deposit(state: State) -> int:
    return state.params.bounty_entry_deposit_units if rules_since(state.params, RULES_BOUNTY_DEPOSIT) else 0


def _spam_bounties(state: State, spammer: str) -> list[Any]:
    return [b for _, b in sorted(state.bounties.items()) if b.sponsor == spammer]


class BountySpam(Family):
    name = "bounty_spam"
    title = "A spammer fills the state with cheap bounties and free entries"
    criterion = (
        "the spammer stores at most one entry per COR it locks (gain = entries per COR ÷ 1 − 1 ≤ 0: the default entry deposit "
        "of 1 COR, and a prize of at least 10 COR), and the honest bounty's entries and prizes equal the twin's"
    )
    description = (
        "one key opens 4 bounties at the cheapest prize accepted and 25 keys enter each (100 stored entries); under the rule "
        "before 21 they lock 4 base units in all (prize 1 unit, entries free: ~2.5e19 entries per COR), from rule 21 the "
        "minimum prizes and the keys' deposits"
    )
    gain_unit = "(the spammer's stored entries per COR it locks) ÷ (1 entry per COR, the default deposit's bound) − 1"
    knobs = (
        Knob("bounties", 4, "bounties the spammer opens", 1, 50),
        Knob("keys", 25, "the spammer's keys, each entering every spam bounty once", 1, 200),
        Knob("budget_cor", 1_000, "the spammer's COR (it funds its keys' deposits from it, as far as it goes)", 0, 1_000_000),
        DEPOSIT_RULES.knob("a minimum prize and an entry deposit", "any prize, free entries"),
    )

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return population_scenario(self.world_name(twin), 2, tasks=2, params=DEPOSIT_RULES.params(k))

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        spammer = actor("spammer")
        keys = [actor(f"spam-key-{i:03d}") for i in range(int(k["keys"]))]
        n = int(k["bounties"])
        steps, wallets, names = _honest_world("spammer", cor_units(k["budget_cor"]))
        if not twin:
            for i in range(n):
                steps.append(Step(CREATE_TICK, spammer, "bounty.create", _spam_create(i), (0,), "spam_create"))
            for key in keys:  # funds its keys' deposits (none needed before rule 21), as far as its wallet goes
                steps.append(Step(CREATE_TICK, spammer, "transfer", _fund_key(spammer, key, n), (0,), "spam_fund_key"))
            for i in range(n):
                for key in keys:
                    steps.append(Step(CREATE_TICK + 1, key, "bounty.submit", _spam_entry(spammer, i, key), (0,), "spam_entry"))
        return StakeScript(steps, watch=[], wallets=wallets, actor_names=names)

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, StakeScript)
        state = script.state
        spammer = actor("spammer")
        keys = {actor(f"spam-key-{i:03d}") for i in range(int(k["keys"]))}
        spam = _spam_bounties(state, spammer)
        entries = [sub for b in state.bounties.values() for sub in b.submissions.values() if sub.hunter in keys]
        honest = _bounty(state, actor("sponsor"))
        hunters = [actor(h) for h in HONEST_HUNTERS]
        return {
            "spam_bounties": len(spam),
            "spam_entries": len(entries),
            "locked": sum(b.prize for b in spam) + sum(sub.deposit for sub in entries),
            "honest_entries": sum(1 for h in hunters if honest is not None and h in honest.submissions),
            "honest_prizes": sum(earned(state, e, h, Stream.BOUNTY_PRIZE) for e in state.epochs for h in hunters),
            "honest_deposits_back": sum(earned(state, e, h, Stream.BOUNTY_ENTRY_DEPOSIT_REFUND) for e in state.epochs for h in hunters),
            "refused": sorted({f"{e.label}: {e.code}" for e in script.log if not e.ok}),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        entries, locked = sum(a["spam_entries"] for a in attack), sum(a["locked"] for a in attack)
        per_cor = 0.0 if not entries else entries * COR / locked  # (an entry is in a bounty: something is locked)
        bound = COR / Params().bounty_entry_deposit_units  # one entry per COR at the default deposit
        gain = per_cor / bound - 1
        unaffected = all(
            (a["honest_entries"], a["honest_prizes"]) == (t["honest_entries"], t["honest_prizes"]) for a, t in zip(attack, twin, strict=True)
        )
        refused = sorted({r for a in attack for r in a["refused"]})
        per_seed = len(attack) or 1
        return Verdict(
            gain,
            gain <= 0 and unaffected,
            {
                "spam_entries_per_seed": entries / per_seed,
                "spam_bounties_per_seed": sum(a["spam_bounties"] for a in attack) / per_seed,
                "locked_cor_per_seed": locked / COR / per_seed,
                "entries_per_cor_locked": per_cor,
                "honest_unaffected": unaffected,
                "honest_prizes": sum(a["honest_prizes"] for a in attack),
                "twin_honest_prizes": sum(t["honest_prizes"] for t in twin),
                "honest_entries": sum(a["honest_entries"] for a in attack),
                "twin_honest_entries": sum(t["honest_entries"] for t in twin),
                "honest_deposits_back": sum(a["honest_deposits_back"] for a in attack),
                "refused": refused,
            },
            f"{k['rules']}: {entries / per_seed:.0f} spam entries in {sum(a['spam_bounties'] for a in attack) / per_seed:.0f} bounties "
            f"locking {locked / COR / per_seed:.4g} COR a seed ({per_cor:.3g} entries per COR); "
            f"honest entries and prizes {'as' if unaffected else 'NOT as'} in the twin ({', '.join(refused[:3]) or 'nothing refused'})",
        )


def _spam_create(i: int) -> Any:
    def body(state: State) -> dict[str, Any] | None:
        return {"prize": str(_cheapest_prize(state)), "criteria": f"spam {i}", "winners": 1, "deadline_tick": state.tick + DEADLINE_TICKS}

    return body


def _fund_key(spammer: str, key: str, n: int) -> Any:
    """A transfer of the deposits ``key`` needs for ``n`` entries, if any are needed and the spammer still has them."""

    def body(state: State) -> dict[str, Any] | None:
        need = _entry_deposit(state) * n
        if not need or state.ledger.balance(f"wallet:{spammer}") < need:
            return None
        return {"to": key, "amount": str(need)}

    return body


def _spam_entry(spammer: str, i: int, key: str) -> Any:
    def body(state: State) -> dict[str, Any] | None:
        spam = _spam_bounties(state, spammer)
        return None if i >= len(spam) else {"bounty": spam[i].id, "content_hash": sha(f"spam {i} {key}")}

    return body


# --- bounty_churn: rule 22 (RULES_BOUNTY_RETIRE) ------------------------------------------------------------------

RETIRE_RULES = Rules(RULES_BOUNTY_RETIRE, "retire", "before_retire")
CHURN_CREATE, CHURN_ENTER, CHURN_PROBE, CHURN_EXPIRE = 2, 3, 30, 40  # offsets in every epoch
CHURN_DEADLINE_TICKS = 10  # from the create to the deadline
CHURN_REVIEW_TICKS = 10  # bounty_review_period_ticks in both worlds (the default 100 is a whole epoch)


def _churn_live(state: State, churner: str) -> tuple[int, int]:
    """The churner's bounties held in the live state: their entries, and the bytes of their canonical records."""
    mine = [b for b in state.bounties.values() if b.sponsor == churner]
    return sum(len(b.submissions) for b in mine), sum(len(encode_record(b)) for b in mine)


class BountyChurn(Family):
    name = "bounty_churn"
    title = "A churner stores bounties and entries without end by recycling the money rule 21 locks"
    criterion = (
        "the live state holds at most one churn entry per COR the churner locks, and no more after N rounds than after the "
        "first (gain = live entries per COR at the last round ÷ 1 − 1 ≤ 0, the last round's entries ≤ the first's), and the "
        "honest bounty's hunters end with the twin's wallets"
    )
    description = (
        "one key opens 5 bounties at the minimum prize (10 COR) every epoch and 10 keys enter each (1 COR deposits): 100 COR "
        "locked, 50 entries a round; after the review period it expires them, gets the prizes and deposits back and "
        "starts again the next epoch. Both worlds run with prune_closed_records = 1 (what a node with a database holds; the "
        "simulator's default keeps everything); rules=before_retire runs rule 21, where expired bounties stay forever"
    )
    gain_unit = "(live churn entries per COR locked at the last round) ÷ (1 entry per COR, rule 21's bound on what is outstanding) − 1"
    knobs = (
        Knob("rounds", 6, "epochs the churner runs a round in (one round an epoch)", 1, 30),
        Knob("bounties", 5, "minimum-prize bounties the churner opens each round", 1, 50),
        Knob("keys", 10, "the churner's keys, each entering every churn bounty of a round", 1, 100),
        RETIRE_RULES.knob("an expired bounty leaves the live state at the next close", "kept forever"),
    )

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        params = RETIRE_RULES.params(k, pruned=True, bounty_review_period_ticks=CHURN_REVIEW_TICKS)
        return rounds_scenario(self.world_name(twin), int(k["rounds"]), params)

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        churner = actor("churner")
        keys = [actor(f"churn-key-{i:03d}") for i in range(int(k["keys"]))]
        n, rounds = int(k["bounties"]), tuple(range(int(k["rounds"])))
        least, deposit = Params().bounty_min_prize_units, Params().bounty_entry_deposit_units
        steps, wallets, names = _honest_world("churner", n * least)
        wallets.update(dict.fromkeys(keys, n * deposit))
        samples: list[tuple[int, int, int]] = []
        if not twin:
            for i in range(n):
                steps.append(Step(CHURN_CREATE, churner, "bounty.create", _churn_create(i), rounds, "churn_create"))
                for key in keys:
                    steps.append(Step(CHURN_ENTER, key, "bounty.submit", _churn_entry(churner, i, key), rounds, "churn_entry"))
                steps.append(Step(CHURN_EXPIRE, churner, "bounty.expire", _churn_expire(churner, i), rounds, "churn_expire"))
            steps.append(Step(CHURN_PROBE, churner, "probe", live_probe(samples, lambda state: _churn_live(state, churner)), rounds, "probe"))
        return SampledScript(steps, samples, watch=[], wallets=wallets, actor_names=names)

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        churn = made(script, SampledScript)
        state = churn.state
        n, keys = int(k["bounties"]), int(k["keys"])
        p = Params()
        return {
            "samples": [list(x) for x in churn.samples],
            "locked": n * p.bounty_min_prize_units + n * keys * p.bounty_entry_deposit_units,
            "churn_refused": sorted({f"{e.label}: {e.code}" for e in churn.log if not e.ok}),
            "honest_wallets": [state.ledger.balance(f"wallet:{actor(h)}") for h in HONEST_HUNTERS],
            "retired": state.pruned.count,
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        per_seed = len(attack) or 1
        first, last, last_bytes, growth = sampled_rounds(attack)
        locked = sum(a["locked"] for a in attack) / per_seed
        per_cor = last * COR / locked if locked else 0.0
        bound = COR / Params().bounty_entry_deposit_units  # rule 21: one outstanding entry per COR at the default deposit
        gain = per_cor / bound - 1
        unaffected = all(a["honest_wallets"] == t["honest_wallets"] for a, t in zip(attack, twin, strict=True))
        refused = sorted({r for a in attack for r in a["churn_refused"]})
        return Verdict(
            gain,
            gain <= 0 and last <= first and unaffected and not refused,
            {
                "live_entries_by_round": growth,
                "live_entries_first_round": first,
                "live_entries_last_round": last,
                "live_churn_bounty_bytes_last_round": last_bytes,
                "locked_cor": locked / COR,
                "live_entries_per_cor_locked": per_cor,
                "honest_unaffected": unaffected,
                "refused": refused,
            },
            f"{k['rules']}: live churn entries by round {growth} ({per_cor:.3g} per COR locked at the last round, "
            f"{last_bytes / 1024:.1f} KiB of bounty records); honest hunters' wallets {'as' if unaffected else 'NOT as'} in the twin"
            f"{' (refused: ' + ', '.join(refused[:3]) + ')' if refused else ''}",
        )


def _churn_create(i: int) -> Any:
    def body(state: State) -> dict[str, Any] | None:
        return {
            "prize": str(state.params.bounty_min_prize_units),
            "criteria": f"churn {i}",
            "winners": 1,
            "deadline_tick": state.tick + CHURN_DEADLINE_TICKS,
        }

    return body


def _churn_round(state: State, churner: str) -> list[Any]:
    """This epoch's churn bounties (created in it), by id."""
    start = state.epoch_start_tick
    return [b for _, b in sorted(state.bounties.items()) if b.sponsor == churner and b.created_tick >= start]


def _churn_entry(churner: str, i: int, key: str) -> Any:
    def body(state: State) -> dict[str, Any] | None:
        mine = _churn_round(state, churner)
        return None if i >= len(mine) else {"bounty": mine[i].id, "content_hash": sha(f"churn {state.epoch} {i} {key}")}

    return body


def _churn_expire(churner: str, i: int) -> Any:
    def body(state: State) -> dict[str, Any] | None:
        mine = _churn_round(state, churner)
        return None if i >= len(mine) else {"bounty": mine[i].id}

    return body


FAMILIES: tuple[Family, ...] = (BountySelfAward(), ChallengeEarlyFinalize(), BountySpam(), BountyChurn())
