"""Session attacks: sessions that cost nothing fill the live state.

session_spam  two attackers beside the simulator's honest user (its session, its tasks): a *spammer*, a key with an
              empty wallet, sends ``opens`` session.open without a deposit every epoch, and a *churner*, funded with
              ``sessions`` x the minimum deposit, opens ``sessions`` sessions at the minimum every epoch, closes them
              later in the epoch (the deposit comes back) and opens them again the next. Both worlds prune
              (prune_closed_records = 1, what a node with a database holds); a probe counts the attackers' sessions held
              in the live state mid-round (after the opens, before the closes). Under rule 23 (rules=before_bound) a
              session needs no deposit and closed ones stay forever: the spammer's sessions grow with its events and the
              churner's with its rounds, neither with money. From rule 24 the spammer is refused
              (session_deposit_below_minimum) and a closed session leaves at the next close, so the live state holds the
              churner's current round only: one session per session_min_deposit_units it locks. The twin: no attackers.
              gain = (attackers' live sessions per COR they lock at the last round) ÷ (1 per COR, the default minimum's
              bound) − 1; stopped iff gain ≤ 0, the last round holds no more than the first and the honest user's wallet
              and tasks are the twin's.
"""

from __future__ import annotations

from typing import Any

from ...core.params import Params
from ...core.rules import RULES_SESSION_BOUND
from ...core.state import State
from ...core.state_codec import encode_record
from ...core.units import COR
from ..runner import RunResult
from ..scenarios import Scenario
from ..script import ActorScript, Step
from .base import Family, Knob, Knobs, Verdict
from .common import Rules, SampledScript, actor, live_probe, made, rounds_scenario, sampled_rounds

RULES = Rules(RULES_SESSION_BOUND, "bound", "before_bound")
OPEN, PROBE, CLOSE = 2, 30, 40  # offsets in every epoch


def _attackers() -> tuple[str, str]:
    return actor("spammer"), actor("churner")


def _live(state: State) -> tuple[int, int]:
    """The attackers' sessions held in the live state, and the bytes of their canonical records."""
    mine = [s for s in state.sessions.values() if s.owner in _attackers()]
    return len(mine), sum(len(encode_record(s)) for s in mine)


class SessionSpam(Family):
    name = "session_spam"
    title = "Free sessions, and sessions reopened with the same money, fill the live state"
    criterion = (
        "the live state holds at most one attacker session per COR the attackers lock, and no more after N rounds than "
        "after the first (gain = live sessions per COR at the last round ÷ 1 − 1 ≤ 0, the last round's ≤ the first's), "
        "and the honest user's wallet and tasks are the twin's"
    )
    description = (
        "an unfunded key sends 20 session.open without a deposit every epoch, and a churner with 5 COR opens 5 sessions at "
        "the minimum every epoch, closes them mid-epoch and reopens them the next; both worlds prune "
        "(prune_closed_records = 1); rules=before_bound runs rule 23 (any deposit, closed sessions kept)"
    )
    gain_unit = "(the attackers' live sessions per COR they lock at the last round) ÷ (1 session per COR, the default minimum) − 1"
    knobs = (
        Knob("rounds", 6, "epochs the attackers run a round in (one round an epoch)", 1, 30),
        Knob("opens", 20, "session.open without a deposit the unfunded spammer sends each round", 0, 1_000),
        Knob("sessions", 5, "sessions the churner opens (at the minimum deposit) and closes each round", 0, 100),
        RULES.knob("a minimum first deposit, closed sessions leave at the next close", "free sessions, kept forever"),
    )

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return rounds_scenario(self.world_name(twin), int(k["rounds"]), RULES.params(k, pruned=True))

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        spammer, churner = _attackers()
        n, rounds = int(k["sessions"]), tuple(range(int(k["rounds"])))
        wallets = {churner: n * Params().session_min_deposit_units} if n else {}
        samples: list[tuple[int, int, int]] = []
        steps: list[Step] = []
        if not twin:
            steps += [Step(OPEN, spammer, "session.open", {}, rounds, "spam_open") for _ in range(int(k["opens"]))]
            for _ in range(n):
                steps.append(Step(OPEN, churner, "session.open", _churn_open(), rounds, "churn_open"))
                steps.append(Step(CLOSE, churner, "session.close", _churn_close(), rounds, "churn_close"))
            steps.append(Step(PROBE, churner, "probe", live_probe(samples, _live), rounds, "probe"))
        names = {"spammer": spammer, "churner": churner}
        return SampledScript(steps, samples, watch=[], wallets=wallets, actor_names=names)

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        spam = made(script, SampledScript)
        state = spam.state
        user = next((s.owner for s in state.sessions.values() if s.owner not in _attackers()), None)
        user_tasks = sorted((t.id, t.state) for t in state.tasks.values() if t.user == user)
        return {
            "samples": [list(x) for x in spam.samples],
            "locked": int(k["sessions"]) * Params().session_min_deposit_units,
            "spam_refused": sum(1 for e in spam.log if not e.ok and e.label == "spam_open"),
            "spam_accepted": sum(1 for e in spam.log if e.ok and e.label == "spam_open"),
            "churn_refused": sorted({f"{e.label}: {e.code}" for e in spam.log if not e.ok and e.label != "spam_open"}),
            "refusal_codes": sorted({e.code for e in spam.log if not e.ok}),
            "user_wallet": state.ledger.balance(f"wallet:{user}") if user else 0,
            "user_tasks": len(user_tasks),
            "retired": state.pruned.count,
            "nonces": len(state.nonces),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        per_seed = len(attack) or 1
        first, last, last_bytes, growth = sampled_rounds(attack)
        locked = sum(a["locked"] for a in attack) / per_seed
        per_cor = last * COR / max(locked, 1)  # (nothing locked: counted as one base unit)
        bound = COR / Params().session_min_deposit_units  # one session per COR at the default minimum
        gain = per_cor / bound - 1
        unaffected = all((a["user_wallet"], a["user_tasks"]) == (t["user_wallet"], t["user_tasks"]) for a, t in zip(attack, twin, strict=True))
        refused = sorted({r for a in attack for r in a["churn_refused"]})
        accepted = sum(a["spam_accepted"] for a in attack) / per_seed
        return Verdict(
            gain,
            gain <= 0 and last <= first and unaffected and not refused,
            {
                "live_sessions_by_round": growth,
                "live_sessions_first_round": first,
                "live_sessions_last_round": last,
                "live_attacker_session_bytes_last_round": last_bytes,
                "locked_cor": locked / COR,
                "live_sessions_per_cor_locked": per_cor,
                "spam_opens_accepted": accepted,
                "spam_opens_refused": sum(a["spam_refused"] for a in attack) / per_seed,
                "refusal_codes": sorted({c for a in attack for c in a["refusal_codes"]}),
                "honest_unaffected": unaffected,
                "refused": refused,
            },
            f"{k['rules']}: live attacker sessions by round {growth} ({per_cor:.3g} per COR locked at the last round, "
            f"{last_bytes / 1024:.1f} KiB of session records; {accepted:.0f} free opens accepted); honest user "
            f"{'as' if unaffected else 'NOT as'} in the twin{' (refused: ' + ', '.join(refused[:3]) + ')' if refused else ''}",
        )


def _churn_open() -> Any:
    def body(state: State) -> dict[str, Any] | None:
        return {"deposit": str(state.params.session_min_deposit_units)}

    return body


def _churn_close() -> Any:
    """Closes the churner's first session still open that it opened this epoch (None: none is left)."""

    def body(state: State) -> dict[str, Any] | None:
        _, churner = _attackers()
        start = state.epoch_start_tick
        mine = [s for _, s in sorted(state.sessions.items()) if s.owner == churner and s.is_open and s.opened_tick >= start]
        return {"session": mine[0].id} if mine else None

    return body


FAMILIES: tuple[Family, ...] = (SessionSpam(),)
