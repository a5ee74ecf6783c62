"""Governance attacks: borrowed stake that votes the treasury to itself, and junk proposals that farm the voter stream.

flash_governance  an outside actor delegates stake just before it proposes a treasury_spend of the treasury to
                  itself, undelegates at once (a snapshot-only rule keeps its power), and votes yes while the
                  honest stakers abstain. The honest twin holds the same stake delegated all along and proposes
                  nothing. gain = (the actor's holdings − the twin's) ÷ its stake.
self_proposal     a whale with ``stake_permille`` of all the aged stake over ``keys`` keys opens a proposal every epoch
                  (a param_change to the value in force, at the default) and votes abstain on it with every key
                  (quorum met, threshold not: REJECTED, the deposit back). The honest twin holds the same stake
                  and keys, opens nothing, and votes on the real proposals when there are some.
                  gain = (the whale's holdings − the twin's) ÷ the governance stream of the epochs the
                  proposals are tallied in (a voting period, one epoch, after they open).
voter_farming     an actor with 100 COR delegated over a few addresses opens junk proposals every epoch and
                  votes on all of them (and on the real one the validators vote on). The honest twin has the
                  same addresses and stake and votes on the real proposal only.
                  gain = (the actor's holdings − the twin's) ÷ the governance stream of those epochs.

Both measure an actor's holdings (wallet, claimable, unbonding, bonded and delegated stake) at the end of
the run, read from the ledger; the governance stream and every payout come from the statement lines.
"""

from __future__ import annotations

from typing import Any

from ...core.governance import treasury_spend_cap
from ...core.rules import RULES_VOTER_POWER
from ...core.state import State
from ...core.streams import EmissionStream, Stream
from ...core.units import BPS, COR
from ..runner import RunResult
from ..scenarios import Scenario
from ..script import ActorScript, Step
from .base import Family, Knob, Knobs, Verdict
from .common import POPULATION, Rules, StakeScript, actor, cor_units, made, node, pct, population_scenario
from .measure import earned

HONEST_STAKE_COR = 121_000  # the population's bonded stake: 10 miners × 2 000, validators 100 000, a router 1 000
DEPOSIT_COR = 1_000  # gov_min_deposit_units at the defaults
ATTACK_EPOCH = 3  # the epoch the proposal opens in (leaves room to bond up to 3 epochs before)


def holdings(state: State, who: str) -> int:
    """Everything ``who`` owns in the ledger: wallet, claimable, unbonding, self-bond and delegations."""
    total = sum(state.ledger.balance(f"{kind}:{who}") for kind in ("wallet", "claimable", "unbonding", "bonded"))
    return total + sum(state.ledger.balance(f"delegated:{n}:{who}") for n in sorted(state.nodes) if who in state.nodes[n].delegators)


def _vote(voter: str, proposer: str, title: str, option: str = "yes") -> Any:
    """A step body: ``voter`` votes ``option`` on ``proposer``'s latest open proposal titled ``title`` it has not voted on (None: skip)."""

    def body(state: State) -> dict[str, Any] | None:
        open_ = [
            p for p, x in state.proposals.items() if x.proposer == proposer and x.title == title and x.status == "VOTING" and voter not in x.votes
        ]
        return {"proposal": max(open_), "option": option} if open_ else None

    return body


def _a_change(title: str, to_force: bool = False) -> Any:
    """A step body: a param_change of max_commission_bps to one below the value in force (``to_force``: to that value,
    a no-op, which rule 29 refuses ``param_change_no_op``), effective the next epoch."""

    def body(state: State) -> dict[str, Any]:
        value = state.params.max_commission_bps - (0 if to_force else 1)
        return {"kind": "param_change", "title": title, "changes": {"max_commission_bps": value}, "effective_epoch": state.epoch + 1}

    return body


def _population() -> list[str]:
    """The addresses of the population's nodes."""
    return [node(name) for name, _, _ in population_scenario("population", 1, nodes=POPULATION).node_names()]


def _stream_budgets(state: State, stream: str) -> int:
    return sum(r.streams.get(stream, {}).get("budget", 0) for r in state.epochs.values())


def _real_proposal(voters: list[str], epochs: tuple[int, ...], label: str) -> list[Step]:
    """The steps of a real proposal every epoch in ``epochs``: validator-00 opens it, the population votes yes on it,
    then each of ``voters`` (steps labelled ``label``)."""
    proposer = node("validator-00")
    steps = [Step(1, proposer, "gov.propose", _a_change("real"), epochs, "real")]
    steps += [Step(3, n, "gov.vote", _vote(n, proposer, "real"), epochs, "honest_vote") for n in _population()]
    steps += [Step(4, v, "gov.vote", _vote(v, proposer, "real"), epochs, label) for v in voters]
    return steps


def _delegated(steps: list[Step], prefix: str, keys: list[str], each: int, deposits: int) -> StakeScript:
    """The script of ``steps`` for an actor with ``each`` base units delegated to validator-00 from each of ``keys``
    (named ``prefix``-0, -1, …), the first of them holding ``deposits`` more (the twin too: the same capital, idle)."""
    target = node("validator-00")
    wallets = {key: each for key in keys}
    wallets[keys[0]] += deposits
    return StakeScript(
        steps,
        watch=[(target, key) for key in keys],
        wallets=wallets,
        actor_names={f"{prefix}-{i}": key for i, key in enumerate(keys)},
        setup_commands=[(key, "stake.delegate", {"node": target, "amount": str(each)}) for key in keys],
    )


def _against_twin(attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> tuple[int, int, float | None, float | None, float | None]:
    """The governance stream of the attack's runs, its holdings minus the twin's, that difference as a share of the
    stream (the gain), and the voter rewards of the attack and of the twin as shares of the stream (None: no stream)."""
    stream = sum(a["stream"] for a in attack)
    diff = sum(a["holdings"] - t["holdings"] for a, t in zip(attack, twin, strict=True))
    gain = diff / stream if stream else None
    share = sum(a["voter_reward"] for a in attack) / stream if stream else None
    tshare = sum(t["voter_reward"] for t in twin) / stream if stream else None
    return stream, diff, gain, share, tshare


def _voter_holdings(state: State, keys: list[str]) -> dict[str, int]:
    """What ``keys`` hold together at the end of a run and what they earned from the governance stream."""
    return {
        "holdings": sum(holdings(state, key) for key in keys),
        "voter_reward": sum(earned(state, e, key, Stream.GOVERNANCE) for e in state.epochs for key in keys),
    }


class FlashGovernance(Family):
    name = "flash_governance"
    title = "Flash stake votes the treasury to itself"
    criterion = (
        "stake bonded less than a whole epoch before the proposal, or gone before the tally, moves nothing from the treasury "
        "(gain over the twin ≤ 0); stake that was aged and stayed takes at most gov_treasury_spend_max_bps of it"
    )
    description = (
        "an outside actor with 0.502 × the honest stake delegates it, proposes a treasury_spend of the whole treasury to itself, "
        "undelegates, and votes yes while honest stakers abstain (measured on the old rules: it won, gained 150 000 000 COR, "
        "and its stake was never at risk)"
    )
    gain_unit = "(actor's holdings − the twin's) ÷ its stake"
    knobs = (
        Knob("stake_permille", 502, "the actor's stake in ‰ of the honest stake", 1, 5_000),
        Knob("bond_epochs_before", 0, "epochs before the proposal's epoch in which it delegates (0: the same tick)", 0, ATTACK_EPOCH),
        Knob("unbond", "yes", "whether it undelegates right after proposing", choices=("yes", "no")),
        Knob("amount_bps", 10_000, "what it asks for, in bps of the treasury", 1, BPS),
        Knob("honest", "abstain", "what the honest stakers do", choices=("abstain", "no")),
    )

    def _stake(self, k: Knobs) -> int:
        return HONEST_STAKE_COR * COR * int(k["stake_permille"]) // 1_000

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return population_scenario(self.world_name(twin), ATTACK_EPOCH + 5, tasks=2)

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        who, target, stake = actor("flash"), node("validator-00"), self._stake(k)
        bond_epoch = ATTACK_EPOCH - int(k["bond_epochs_before"])
        delegate = {"node": target, "amount": str(stake)}
        steps = [Step(1, who, "stake.delegate", delegate, (bond_epoch,), "delegate")]
        if not twin:

            def spend(state: State) -> dict[str, Any]:
                amount = state.ledger.balance("treasury") * int(k["amount_bps"]) // BPS
                return {"kind": "treasury_spend", "title": "grant", "to": who, "amount": str(amount)}

            steps.append(Step(2, who, "gov.propose", spend, (ATTACK_EPOCH,), "propose"))
            if k["unbond"] == "yes":
                steps.append(Step(3, who, "stake.undelegate", delegate, (ATTACK_EPOCH,), "undelegate"))
            steps.append(Step(4, who, "gov.vote", _vote(who, who, "grant"), (ATTACK_EPOCH,), "vote"))
            if k["honest"] == "no":
                for n in _population():
                    steps.append(Step(5, n, "gov.vote", _vote(n, who, "grant", "no"), (ATTACK_EPOCH,), "honest_vote"))
        wallet = stake + cor_units(DEPOSIT_COR)
        return StakeScript(steps, watch=[(target, who)], wallets={who: wallet}, actor_names={"flash": who})

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, StakeScript)
        state, who = script.state, actor("flash")
        received = sum(earned(state, e, who, Stream.TREASURY_SPEND) for e in state.epochs)
        return {
            "holdings": holdings(state, who),
            "received": received,
            "cap": treasury_spend_cap(state.params, state.ledger.balance("treasury") + received),  # the treasury never held more
            "refused": {e.label: e.code for e in script.log if not e.ok},
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        stake = self._stake(k)
        diffs = [a["holdings"] - t["holdings"] for a, t in zip(attack, twin, strict=True)]
        gain = sum(diffs) / (len(diffs) * stake)
        received = max(a["received"] for a in attack)
        aged_and_kept = int(k["bond_epochs_before"]) >= 2 and k["unbond"] == "no"
        passed = gain <= 0 or (aged_and_kept and received <= attack[0]["cap"])
        refused = sorted({f"{label}: {code}" for a in attack for label, code in a["refused"].items()})
        return Verdict(
            gain,
            passed,
            {"gain_cor_per_seed": [d // COR for d in diffs], "treasury_received": received, "stake": stake, "refused": refused},
            f"{k['stake_permille']}‰ of the honest stake, bonded {k['bond_epochs_before']} epoch(s) before: took {received // COR:,} COR "
            f"from the treasury; holdings against the twin {pct(gain)} of its stake ({', '.join(refused) or 'nothing refused'})",
        )


class VoterFarming(Family):
    name = "voter_farming"
    title = "Junk proposals farm the voter stream"
    criterion = "an actor that opens junk proposals and votes on them earns no more than its twin that votes honestly (gain ≤ 0)"
    description = (
        "100 COR delegated over 4 addresses; every epoch one of them opens 10 junk proposals and all 4 vote on every proposal "
        "(measured on the old rules: it took 9.2–100 % of the governance stream, and the deposits came back)"
    )
    gain_unit = "(actor's holdings − the twin's) ÷ the governance stream of the run"
    knobs = (
        Knob("stake_cor", 100, "COR delegated, split over the addresses", 1, 100_000),
        Knob("addresses", 4, "addresses it splits its stake over", 1, 20),
        Knob("junk", 10, "junk proposals it opens per epoch", 0, 50),
        Knob("real", "yes", "whether the validators open and vote on a real proposal every epoch", choices=("yes", "no")),
        Knob("epochs", 3, "epochs with proposals", 1, 10),
    )
    FIRST = 2  # proposals from the epoch the stake has aged

    def _addresses(self, k: Knobs) -> list[str]:
        return [actor(f"farmer-{i}") for i in range(int(k["addresses"]))]

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return population_scenario(self.world_name(twin), self.FIRST + int(k["epochs"]) + 1, tasks=2)

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        farmers = self._addresses(k)
        each = cor_units(int(k["stake_cor"])) // len(farmers)
        epochs = tuple(range(self.FIRST, self.FIRST + int(k["epochs"])))
        junk = 0 if twin else int(k["junk"])
        steps = _real_proposal(farmers, epochs, "farmer_vote") if k["real"] == "yes" else []
        for j in range(junk):
            steps.append(Step(5 + j, farmers[0], "gov.propose", _a_change("junk"), epochs, "junk"))
            for f in farmers:
                steps.append(Step(5 + j, f, "gov.vote", _vote(f, farmers[0], "junk"), epochs, "junk_vote"))
        return _delegated(steps, "farmer", farmers, each, cor_units(DEPOSIT_COR) * int(k["junk"]) * int(k["epochs"]))

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, StakeScript)
        state, farmers = script.state, self._addresses(k)
        return {
            **_voter_holdings(state, farmers),
            "stream": _stream_budgets(state, EmissionStream.GOVERNANCE),
            "paid": sum(r.streams.get(EmissionStream.GOVERNANCE, {}).get("paid", 0) for r in state.epochs.values()),
            "junk_opened": len(script.applied("junk")),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        _, diff, gain, share, tshare = _against_twin(attack, twin)
        return Verdict(
            gain,
            gain is not None and gain <= 0,
            {
                "share_of_stream": share,
                "twin_share_of_stream": tshare,
                "holdings_minus_twin_cor": diff // COR,
                "junk_proposals_opened": sum(a["junk_opened"] for a in attack),
            },
            f"{k['stake_cor']} COR over {k['addresses']} address(es) with {k['junk']} junk proposal(s) per epoch took {pct(share)[1:]} of "
            f"the governance stream (the honest twin {pct(tshare)[1:]}); holdings against the twin {pct(gain)} of the stream",
        )


VOTER_POWER_RULES = Rules(RULES_VOTER_POWER, "voter_power", "before_voter_power")


class SelfProposal(Family):
    name = "self_proposal"
    title = "A whale's own proposals farm the voter stream"
    criterion = (
        "the whale's keys earn at most its stake's share of the governance stream (what voting on a real proposal pays "
        "any staker), whatever it proposes and however its keys vote"
    )
    description = (
        "a whale with 40 % of the aged stake, delegated over 4 keys, opens a param_change to the value in force every epoch "
        "and abstains on it with every key (quorum met, threshold not: REJECTED, deposit back); the twin: the same stake and "
        "keys, no proposal; rules=before_voter_power runs rule 28 (measured there: 100 % of the stream, 4 caps of 25 %)"
    )
    gain_unit = "(the whale's holdings − the twin's) ÷ the governance stream of the epochs its proposals are tallied in"
    knobs = (
        Knob("stake_permille", 400, "the whale's stake in ‰ of all the aged stake (the population's and its own)", 1, 900),
        Knob("keys", 4, "keys it splits its stake over", 1, 20),
        Knob("change", "noop", "what its proposal sets: max_commission_bps to the value in force (noop) or one below", choices=("noop", "other")),
        Knob("vote", "abstain", "how its keys vote on it: all abstain, or the first no and the rest abstain", choices=("abstain", "no")),
        Knob(
            "real", "no", "whether the validators open a real proposal every epoch that everyone (its keys too) votes yes on", choices=("no", "yes")
        ),
        Knob("epochs", 3, "epochs with proposals", 1, 10),
        VOTER_POWER_RULES.knob(
            "weight over all the aged stake, abstain-only proposals unpaid, no-op param_change refused",
            "weight over the voters' weights",
        ),
    )
    FIRST = 2  # proposals from the epoch the stake has aged

    def _keys(self, k: Knobs) -> list[str]:
        return [actor(f"whale-{i}") for i in range(int(k["keys"]))]

    def _stake(self, k: Knobs) -> int:
        permille = int(k["stake_permille"])
        return HONEST_STAKE_COR * COR * permille // (1_000 - permille)

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return population_scenario(self.world_name(twin), self.FIRST + int(k["epochs"]) + 1, tasks=2, params=VOTER_POWER_RULES.params(k))

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        keys = self._keys(k)
        each = self._stake(k) // len(keys)
        epochs = tuple(range(self.FIRST, self.FIRST + int(k["epochs"])))
        steps = _real_proposal(keys, epochs, "whale_real_vote") if k["real"] == "yes" else []
        if not twin:
            steps.append(Step(5, keys[0], "gov.propose", _a_change("own", k["change"] == "noop"), epochs, "own"))
            for i, key in enumerate(keys):
                option = "no" if k["vote"] == "no" and i == 0 else "abstain"
                steps.append(Step(6, key, "gov.vote", _vote(key, keys[0], "own", option), epochs, "own_vote"))
        return _delegated(steps, "whale", keys, each, cor_units(DEPOSIT_COR) * int(k["epochs"]))

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, StakeScript)
        state, keys = script.state, self._keys(k)
        shares = [  # the whale's share of each snapshot it could vote in, in ppb (rounded up: the rewards floor)
            -(-sum(pos.get(key, 0) for pos in prop.positions.values() for key in keys) * 10**9 // prop.total_power)
            for _, prop in sorted(state.proposals.items())
            if prop.total_power
        ]
        return {
            **_voter_holdings(state, keys),
            "stream": sum(  # the epochs the proposals are tallied in (a voting period after they open)
                state.epochs[e].streams.get(EmissionStream.GOVERNANCE, {}).get("budget", 0)
                for e in range(self.FIRST + 1, self.FIRST + 1 + int(k["epochs"]))
            ),
            "stake_share_ppb": max(shares, default=None),
            "own_opened": len(script.applied("own")),
            "refused": sorted({f"{e.label}: {e.code}" for e in script.log if not e.ok}),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        _, diff, gain, share, tshare = _against_twin(attack, twin)
        known = [r["stake_share_ppb"] for r in attack + twin if r["stake_share_ppb"] is not None]
        stake_share = max(known) / 10**9 if known else int(k["stake_permille"]) / 1_000
        refused = sorted({r for a in attack for r in a["refused"]})
        return Verdict(
            gain,
            share is not None and share <= stake_share,
            {
                "share_of_stream": share,
                "twin_share_of_stream": tshare,
                "stake_share": stake_share,
                "holdings_minus_twin_cor": diff // COR,
                "own_proposals_opened": sum(a["own_opened"] for a in attack),
                "refused": refused,
            },
            f"{k['rules']}: {k['stake_permille']}‰ of the stake over {k['keys']} key(s), its own proposal ({k['change']}, keys vote "
            f"{k['vote']}) took {pct(share)[1:]} of the governance stream against a stake share of {stake_share * 100:.1f} % (the twin "
            f"{pct(tshare)[1:]}); holdings against the twin {pct(gain)} of the stream ({', '.join(refused) or 'nothing refused'})",
        )


FAMILIES: tuple[Family, ...] = (FlashGovernance(), SelfProposal(), VoterFarming())
