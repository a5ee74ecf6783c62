"""Community attack: one balance passed from puppet to puppet makes many members for a corrupt curator.

curator_puppets  an attacker holds 1 000 COR (the minimum balance) and is friends with a curator. Every epoch it
                 passes the balance through its puppets, one after the other, and the curator attests each puppet
                 for the most points a member may earn, while the balance sits with it. Ten honest members
                 (1 000 COR each) are attested by an honest curator. The honest twin: the same capital in one
                 address, which the friendly curator attests for the most points a member may earn (what one
                 member's capital can fairly be paid for at most).
                 gain = (the attacker's community rewards − the twin's) ÷ the twin's.
"""

from __future__ import annotations

from typing import Any

from ...core.state import State
from ...core.streams import EmissionStream, Stream
from ...core.units import COR
from ..runner import RunResult
from ..scenarios import Scenario
from ..script import ActorScript, Step
from .base import Family, Knob, Knobs, Verdict
from .common import StakeScript, actor, cor_units, made, pct, population_scenario
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


FAMILIES: tuple[Family, ...] = (CuratorPuppets(),)
