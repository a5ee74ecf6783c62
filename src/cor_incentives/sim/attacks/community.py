"""Community attack: one balance passed from puppet to puppet makes many members for a corrupt curator.

curator_puppets  an attacker holds 1 000 COR (the minimum balance) and is friends with a curator. Every epoch it
                 passes the balance through its puppets, one after the other, and the curator attests each puppet
                 for the most points a member may earn, while the balance sits with it. Ten honest members
                 (1 000 COR each) are attested by an honest curator. The honest twin: the same capital in one
                 address, which the friendly curator attests for the most points a member may earn (what one
                 member's capital can fairly be paid for at most).
                 gain = (the attacker's community rewards − the twin's) ÷ the twin's.

community_one_point  (rule 31, RULES_COMMUNITY_RATE; s33 finding C1) a curator attests its one unlinked address (1 000 COR
                 from the genesis, so eligible and not linked to it) for ``points`` points (default 1) every epoch, in
                 epochs where the ordinary members are attested for ``others`` points in all (default 0: quiet epochs,
                 which the curator sees before the close). The honest twin: an ordinary epoch of 900 points (the
                 finding's second epoch), of which the curator gives its ``points`` to member-0, a member with ordinary
                 activity, and an honest curator the rest to member-1..9 (up to 100 each). Measured: what one of the
                 curator's points earns its address
                 against what it earns member-0 in the twin;
                 gain = (the address's reward per point) ÷ (member-0's reward per point in the twin) − 1.
                 Under rule 30 (``rules=before_rate``) the stream is split by points, so the one point takes the whole
                 stream; from rule 31 a point earns ``community_rate_per_point_units`` in either world.
"""

from __future__ import annotations

from typing import Any

from ...core.rules import RULES_COMMUNITY_RATE
from ...core.state import State
from ...core.streams import EmissionStream, Stream
from ...core.units import COR
from ..runner import RunResult
from ..scenarios import Scenario
from ..script import ActorScript, Step
from .base import Family, Knob, Knobs, Verdict
from .common import Rules, StakeScript, actor, cor_units, made, pct, population_scenario
from .measure import earned

MEMBERS = 10
BALANCE_COR = 1_000  # community_min_balance_units at the defaults
FIRST = 1  # the epoch the attestations start (the genesis wallets are one epoch old)


def _pass_on(holder: str, to: str) -> Any:
    """A step body: ``holder`` passes its whole wallet to ``to`` (None when it holds nothing)."""

    def body(state: State) -> dict[str, Any] | None:
        have = state.ledger.balance(f"wallet:{holder}")
        return {"to": to, "amount": str(have)} if have else None

    return body


def _attest(member: str, points: int, ref: str) -> Any:
    def body(state: State) -> dict[str, Any]:
        return {"member": member, "kind": "forum", "points": points, "reference": f"{ref}/e{state.epoch}"}

    return body


class CuratorPuppets(Family):
    name = "curator_puppets"
    title = "One balance, many community members"
    criterion = "the attacker's capital earns no more community reward than one member attested for the most points (gain ≤ 0.02)"
    description = (
        "1 000 COR passed through 20 puppets every epoch, each attested by a friendly curator while it holds the balance "
        "(measured on the old rules: the 20 puppets took 67 % of the community stream)"
    )
    gain_unit = "(attacker's community rewards − the twin's) ÷ the twin's"
    knobs = (
        Knob("puppets", 20, "puppets the balance passes through", 1, 100),
        Knob("points", 100, "points per attestation (3 per puppet per epoch)", 1, 100),
        Knob("epochs", 3, "epochs of attestations", 1, 10),
    )

    def _owner(self, k: Knobs) -> str:
        return actor("holder")

    def _puppets(self, k: Knobs) -> list[str]:
        return [actor(f"puppet-{i:02d}") for i in range(int(k["puppets"]))]

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return population_scenario(self.world_name(twin), FIRST + int(k["epochs"]), tasks=2)

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        curator, honest, owner = actor("curator"), actor("honest-curator"), self._owner(k)
        members = [actor(f"member-{i}") for i in range(MEMBERS)]
        epochs = tuple(range(FIRST, FIRST + int(k["epochs"])))
        steps: list[Step] = []
        for i, m in enumerate(members):
            steps.append(Step(1 + i, honest, "community.attest", _attest(m, 100, "honest"), epochs, "honest_attest"))
        chain = [owner] if twin else [owner, *self._puppets(k)]
        for i, holder in enumerate(chain):  # all at one tick, in this order: attest the holder, then it passes the balance on
            for r in range(3):
                steps.append(Step(20, curator, "community.attest", _attest(holder, int(k["points"]), f"r{r}"), epochs, "puppet_attest"))
            if not twin:
                steps.append(Step(20, holder, "transfer", _pass_on(holder, chain[(i + 1) % len(chain)]), epochs, "pass_on"))
        wallets = {owner: cor_units(BALANCE_COR), honest: COR, curator: COR, **{m: cor_units(BALANCE_COR) for m in members}}
        names = {"curator": curator, "holder": owner, **{f"puppet-{i:02d}": p for i, p in enumerate(self._puppets(k))}}
        setup = [("oracle", "community.appoint", {"curator": c}) for c in (curator, honest)]
        return _OracleSetup(steps, watch=[], wallets=wallets, actor_names=names, setup_commands=setup)

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, StakeScript)
        state = script.state
        mine = [self._owner(k), *self._puppets(k)]
        return {
            "reward": sum(earned(state, e, a, Stream.COMMUNITY) for e in state.epochs for a in mine),
            "stream": sum(r.streams.get(EmissionStream.COMMUNITY, {}).get("budget", 0) for r in state.epochs.values()),
            "attested": len(script.applied("puppet_attest")),
            "refused": sorted({f"{e.label}: {e.code}" for e in script.log if not e.ok}),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        got, fair = sum(a["reward"] for a in attack), sum(t["reward"] for t in twin)
        stream = sum(a["stream"] for a in attack)
        gain = None if not fair else got / fair - 1
        refused = sorted({r for a in attack for r in a["refused"]})
        return Verdict(
            gain,
            gain is not None and gain <= 0.02,
            {
                "share_of_stream": got / stream if stream else None,
                "twin_share_of_stream": fair / stream if stream else None,
                "attestations_applied_per_seed": [a["attested"] for a in attack],
                "refused": refused,
            },
            f"{k['puppets']} puppet(s) sharing {BALANCE_COR} COR took {pct(got / stream if stream else None)[1:]} of the community stream "
            f"(one member at the cap: {pct(fair / stream if stream else None)[1:]}); against it {pct(gain)} "
            f"({', '.join(refused[:3]) or 'nothing refused'})",
        )


class _OracleSetup(StakeScript):
    """A StakeScript whose setup commands named "oracle" are sent by the oracle."""

    def setup(self, world: Any) -> None:
        self.world = world
        self.clock.attach(world.chain)
        for who, kind, body in self.setup_commands:
            self.send(world, world.state.oracle if who == "oracle" else who, kind, body, f"setup:{kind}")


RATE_RULES = Rules(RULES_COMMUNITY_RATE, "rate_per_point", "before_rate")
ORDINARY = 9  # the ordinary members (member-1..9), attested up to 100 points each by the honest curator
ORDINARY_POINTS = 900  # the twin's epoch: 900 points in all, the curator's to member-0 among them (the finding's second epoch)


def _attest_points(member: str, points: int, ref: str) -> list[Any]:
    """Bodies attesting ``member`` for ``points`` in all, 100 at most each (``MAX_POINTS``), each with its own reference."""
    return [_attest(member, min(100, points - i), f"{ref}-{i // 100}") for i in range(0, points, 100)]


class CommunityOnePoint(Family):
    name = "community_one_point"
    title = "One attested point takes the community stream"
    criterion = (
        "a curator's points earn its own address no more than the same points earn a member with ordinary activity in an "
        "ordinary epoch (gain = reward per point ÷ the twin's − 1 ≤ 0.02)"
    )
    description = (
        "a curator attests its one unlinked address (1 000 COR) for 1 point in each of 3 otherwise quiet epochs; the twin "
        "gives that point to a member in an ordinary epoch of 900 points (measured on rule 30: the point took the whole "
        "stream, ~3 992 COR an epoch, 900 times the 4.44 COR it earned the twin's member)"
    )
    gain_unit = "the curator's address's community reward per point ÷ the twin's member-0's − 1"
    knobs = (
        Knob("points", 1, "points the curator gives its address each epoch (in attestations of at most 100)", 1, 300),
        Knob("others", 0, "points the ordinary members are attested for in all, each epoch of the attack world (0: quiet)", 0, 900),
        RATE_RULES.knob(
            "a rate per point, at most community_member_cap_bps of the stream a member, pro rata only when the claims exceed it",
            "the stream split by points",
        ),
        Knob("epochs", 3, "epochs of attestations", 1, 10),
    )

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return population_scenario(self.world_name(twin), FIRST + int(k["epochs"]), tasks=2, params=RATE_RULES.params(k))

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        curator, honest, address = actor("curator"), actor("honest-curator"), actor("address")
        members = [actor(f"member-{i}") for i in range(MEMBERS)]
        epochs = tuple(range(FIRST, FIRST + int(k["epochs"])))
        others = ORDINARY_POINTS - int(k["points"]) if twin else int(k["others"])  # the twin: 900 points with the curator's
        steps: list[Step] = []
        for i, m in enumerate(members[1 : 1 + ORDINARY]):  # the ordinary activity: up to 100 points each, in order
            pts = min(100, max(0, others - 100 * i))
            if pts:
                steps.append(Step(1 + i, honest, "community.attest", _attest(m, pts, "ordinary"), epochs, "ordinary_attest"))
        recipient = members[0] if twin else address
        for j, body in enumerate(_attest_points(recipient, int(k["points"]), "curator")):  # late in the epoch: it saw the rest
            steps.append(Step(90 + j, curator, "community.attest", body, epochs, "curator_attest"))
        wallets = {address: cor_units(BALANCE_COR), honest: COR, curator: COR, **{m: cor_units(BALANCE_COR) for m in members}}
        names = {"curator": curator, "address": address, "member-0": members[0]}
        setup = [("oracle", "community.appoint", {"curator": c}) for c in (curator, honest)]
        return _OracleSetup(steps, watch=[], wallets=wallets, actor_names=names, setup_commands=setup)

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, StakeScript)
        state = script.state
        recipient = actor("member-0") if twin else actor("address")
        lines = (Stream.COMMUNITY, f"{Stream.COMMUNITY}:none")
        points = sum(int(i.detail.get("points", 0)) for r in state.epochs.values() for i in r.items if i.address == recipient and i.stream in lines)
        return {
            "reward": sum(earned(state, e, recipient, Stream.COMMUNITY) for e in state.epochs),
            "points": points,
            "stream": sum(r.streams.get(EmissionStream.COMMUNITY, {}).get("budget", 0) for e, r in state.epochs.items() if e >= FIRST),
            "paid": sum(r.streams.get(EmissionStream.COMMUNITY, {}).get("paid", 0) for e, r in state.epochs.items() if e >= FIRST),
            "refused": sorted({f"{e.label}: {e.code}" for e in script.log if not e.ok}),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        got, pts = sum(a["reward"] for a in attack), sum(a["points"] for a in attack)
        fair, fair_pts = sum(t["reward"] for t in twin), sum(t["points"] for t in twin)
        stream = sum(a["stream"] for a in attack)
        per_point = got / pts if pts else None
        twin_per_point = fair / fair_pts if fair_pts else None
        gain = None if not per_point or not twin_per_point else per_point / twin_per_point - 1
        refused = sorted({r for a in attack + twin for r in a["refused"]})
        n = max(1, len(attack))
        return Verdict(
            gain,
            gain is not None and gain <= 0.02,
            {
                "rules": k["rules"],
                "reward_per_seed": str(got // n),
                "points_per_seed": pts // n,
                "reward_per_point": str(got // pts) if pts else None,
                "twin_reward_per_point": str(fair // fair_pts) if fair_pts else None,
                "share_of_stream": got / stream if stream else None,
                "stream_paid_share": sum(a["paid"] for a in attack) / stream if stream else None,  # (epochs of attestations)
                "refused": refused,
            },
            f"{k['points']} point(s) a quiet epoch ({k['others']} other points), {k['rules']}: the curator's address took "
            f"{got / n / COR:,.2f} COR a seed, {pct(got / stream if stream else None)[1:]} of the stream, "
            f"{(per_point or 0) / COR:,.4f} COR a point against {(twin_per_point or 0) / COR:,.4f} for a member of an ordinary "
            f"epoch ({pct(gain)}; {', '.join(refused[:3]) or 'nothing refused'})",
        )


FAMILIES: tuple[Family, ...] = (CuratorPuppets(), CommunityOnePoint())
