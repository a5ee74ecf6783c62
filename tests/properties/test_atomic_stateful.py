"""Random traffic over every command kind, valid and invalid, on a network with a beacon: oracle ticks
(with good and wrong checkpoints) and epoch closes, slash reports (the same evidence twice, the
evidence an automatic slash will use), nodes and stake, sessions and tasks through commit-reveal and
validation, claims, governance (parameter changes to bound values, treasury spends, controllers,
curators) with votes, bounties, community, bridge posts, and hostile bodies; the model registry
(listings, fine-tunes, retires, tasks naming any of four models), at the latest rules or at rule 24
(a passed ``param_change`` to the highest rule version moves it to 25 mid-life), pruning on or off.

After every step:
  - a refused command left the whole state fingerprint (the derived draw index included) identical;
  - the live state equals a replay of the log so far (an unjournaled replay kept in step);
  - conservation holds (``support.chain.Chain`` checks it after every accepted event);
  - every open task names the live model record it was opened on (``support.models``).
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from cor_incentives.app.views import proof
from cor_incentives.core.apply import apply, conservation_holds, replay
from cor_incentives.core.commands import OFFENCES
from cor_incentives.core.community import KINDS as CONTRIBUTION_KINDS
from cor_incentives.core.errors import EngineError
from cor_incentives.core.params import PARAM_FIELDS, Params, param_bounds
from cor_incentives.core.rules import LATEST, RULES_MODEL_BOND
from cor_incentives.core.state import State
from cor_incentives.core.state_codec import encode_state
from cor_incentives.core.tasks import commitment
from cor_incentives.core.units import COR
from cor_incentives.core.validation import canary_commitment
from support.chain import ORACLE, addr
from support.market import h, market
from support.models import MODEL_IDS, REGISTRY_CMDS, open_tasks_name_live_models, registry_command

STEPS = int(os.environ.get("COR_ATOMIC_STEPS", "50"))
EXAMPLES = int(os.environ.get("COR_ATOMIC_EXAMPLES", "25"))
PEOPLE = ["m0", "m1", "m2", "m3", "v0", "v1", "v2", "router", "user", "dev", "d0", "stranger"]
OUTPUTS = ["Paris", "Paris is the capital.", "zzq"]
INT_PARAMS = sorted(n for n, f in PARAM_FIELDS.items() if "min" in f.metadata and n != "mint_enabled")
AMOUNTS = st.sampled_from(["0", "1", "01", "١٢", str(COR), str(500 * COR), str(3_000 * COR), str(10**40), "-5", "1e3", 12])
HOSTILE = st.sampled_from([{"x": 1}, {"amount": [[[]]]}, {"task": "1"}, {"task": 2**64}, {"node": "0xABC"}, {}, {"ticks": 0}])


def fingerprint(state: State) -> str:
    """The whole state: its canonical view, the derived draw index and the derived indexes of entries."""
    sel = state.selection
    index = None
    if sel is not None:
        index = {
            "trees": {k: [t.slots(), t.total, t.count, list(t.fen), list(t.mx)] for k, t in sorted(sel.trees.items())},
            "weights": sorted(sel.weights.items()),
            "marked": sorted(sel.marked),
            "bonds": sel.bonds,
        }
    # ``encode_state``: the snapshot's bytes, which keep every dict's key order (the core iterates in it, and the state
    # hash holds it); ``to_dict`` compared with sorted keys would not see a refusal or a replay that reorders keys
    entries = state.entry_indexes()  # derived too (unbondings and redelegations by address and node): refusals and replays keep them
    return json.dumps(
        {"state": state.to_dict(), "index": index, "entries": entries, "encoded": encode_state(state).decode()}, sort_keys=True, default=str
    )


def bound_value(name: str, high: bool) -> int:
    lo, hi = param_bounds(name)
    v = hi if high else lo
    return v if v <= 2**53 - 1 else str(v)  # type: ignore[return-value]


class AtomicMachine(RuleBasedStateMachine):
    @initialize(prune=st.booleans(), rule_version=st.sampled_from([LATEST, LATEST, RULES_MODEL_BOND - 1]))
    def genesis(self, prune: bool, rule_version: int) -> None:
        """The latest rules or the one before the model deposit (a passed ``param_change`` moves it up mid-life), with
        closed records pruned (retired models, sessions, nodes and bounties leave the state) or kept."""
        self.people = list(PEOPLE)
        self.c = market(
            n_miners=4,
            n_validators=3,
            beacon=True,
            params={
                "epoch_length_ticks": 12,
                "gov_voting_period_ticks": 6,
                "gov_min_deposit_units": str(10 * COR),
                "prune_closed_records": int(prune),
                "rule_version": rule_version,
            },
        )
        self.c.oracle("community.appoint", {"curator": addr("dev")})
        self.shadow = replay(self.c.events)  # an unjournaled replay, kept in step with the log
        event(f"genesis: rule_version={rule_version} prune={prune}")

    # --- driving ---------------------------------------------------------------------------------

    def send(self, actor: str, kind: str, body: Any) -> None:
        before = fingerprint(self.c.state)
        n = len(self.c.events)
        try:
            if actor == ORACLE:
                self.c.oracle(kind, body)
            else:
                self.c.submit(actor, kind, body)
        except EngineError as e:
            assert fingerprint(self.c.state) == before, f"refused {kind} ({e.code}) changed the state"
            event(f"{kind}: {e.code}")  # coverage, shown by --hypothesis-show-statistics
            return
        for accepted in self.c.events[n:]:
            apply(self.shadow, accepted, atomic=False)
        event(f"{kind}: accepted")

    def who(self, i: int) -> str:
        return addr(self.people[i % len(self.people)])

    def task(self, i: int):
        ids = sorted(self.c.state.tasks)
        return self.c.state.tasks[ids[i % len(ids)]] if ids else None

    # --- oracle time --------------------------------------------------------------------------------

    @rule(n=st.integers(1, 8), cite=st.sampled_from(["none", "good", "wrong", "old"]))
    def tick(self, n: int, cite: str) -> None:
        s = self.c.state
        body: dict[str, Any] = {"ticks": n}
        if cite == "good":
            body["checkpoint"] = {"seq": s.seq, "hash": s.head_hash}
        elif cite == "wrong":
            body["checkpoint"] = {"seq": s.seq, "hash": "0x" + "ab" * 32}
        elif cite == "old":
            body["checkpoint"] = {"seq": s.seq + 5, "hash": s.head_hash}
        self.send(ORACLE, "tick", body)

    @rule()
    def epoch_close(self) -> None:
        self.send(ORACLE, "epoch.close", {})

    @rule(i=st.integers(0, 20), offence=st.sampled_from(OFFENCES), t=st.integers(0, 6), by=st.integers(0, 20))
    def slash_report(self, i: int, offence: str, t: int, by: int) -> None:
        """Small evidence domains, so the same evidence comes twice and the oracle reports what an
        automatic missed-deadline slash will also find (``{"tasks": [id], "window_epochs": 1}``)."""
        node = self.who(i)
        evidence = {"tasks": [t], "window_epochs": 1} if offence == "missed_deadline" else {"task": t}
        actor = ORACLE if by % 3 else self.who(by)
        self.send(actor, "slash.report", {"node": node, "offence": offence, "evidence": evidence})

    # --- money and stake ----------------------------------------------------------------------------

    @rule(i=st.integers(0, 20), j=st.integers(0, 20), amount=AMOUNTS)
    def transfer(self, i: int, j: int, amount: Any) -> None:
        self.send(self.who(i), "transfer", {"to": self.who(j), "amount": amount})

    @rule(
        i=st.integers(0, 20),
        kind=st.sampled_from(
            ["stake.bond", "stake.unbond", "stake.withdraw", "stake.delegate", "stake.undelegate", "stake.redelegate", "stake.cancel_unbond"]
        ),
        j=st.integers(0, 20),
        amount=AMOUNTS,
    )
    def stake(self, i: int, kind: str, j: int, amount: Any) -> None:
        body: dict[str, Any] = {} if kind == "stake.withdraw" else {"amount": amount}
        if kind in ("stake.delegate", "stake.undelegate"):
            body["node"] = self.who(j)
        if kind == "stake.redelegate":
            body.update({"from": self.who(j), "to": self.who(j + 1)})
        if kind == "stake.cancel_unbond":  # an entry of anyone's (others' are refused), all of it or ``amount``
            ids = sorted(self.c.state.unbondings)
            body = {"id": ids[j % len(ids)] if ids else j, **({"amount": amount} if j % 2 else {})}
        self.send(self.who(i), kind, body)

    @rule(
        i=st.integers(0, 20),
        kind=st.sampled_from(["node.register", "node.unjail", "node.set_commission"]),
        role=st.sampled_from(["miner", "validator", "router"]),
        amount=AMOUNTS,
        bps=st.integers(0, 10_000),
    )
    def node(self, i: int, kind: str, role: str, amount: Any, bps: int) -> None:
        body: dict[str, Any] = {
            "node.register": {"role": role, "self_bond": amount, "models": MODEL_IDS[: 1 + bps % 4] if role == "miner" else []},
            "node.unjail": {},
            "node.set_commission": {"commission_bps": bps},
        }[kind]
        self.send(self.who(i), kind, body)

    # --- the market -------------------------------------------------------------------------------------

    @rule(kind=st.sampled_from(["session.open", "session.deposit", "session.close"]), i=st.integers(0, 20), amount=AMOUNTS, s=st.integers(1, 4))
    def session(self, kind: str, i: int, amount: Any, s: int) -> None:
        body: dict[str, Any] = {
            "session.open": {"deposit": amount, "redundancy": 1 + s % 3},
            "session.deposit": {"session": s, "amount": amount},
            "session.close": {"session": s},
        }[kind]
        self.send(addr("user") if i % 3 else self.who(i), kind, body)

    @rule(cmds=REGISTRY_CMDS)
    def registry(self, cmds: list[tuple[str, int, int, int]]) -> None:
        """Listings, fine-tunes and retires (``support.models.registry_command``); an id pruned is listed again."""
        for kind, k, parent, by in cmds:
            self.send(*registry_command(self.c.state, kind, k, parent, by, self.who(by)))

    @rule()
    def fresh_miner(self) -> None:
        """A funded miner serving every model of ``MODEL_IDS`` (the market's serve only its own), acting from then on."""
        name = f"x{len(self.people)}"
        self.send(addr("user"), "transfer", {"to": addr(name), "amount": str(3_000 * COR)})
        self.send(addr(name), "node.register", {"role": "miner", "self_bond": str(2_000 * COR), "models": MODEL_IDS})
        if addr(name) in self.c.state.nodes:
            self.people.append(name)

    @rule(net=st.booleans(), max_out=st.integers(1, 300), s=st.integers(1, 3), k=st.sampled_from([0, 0, 1, 2, 3]))
    def submit(self, net: bool, max_out: int, s: int, k: int) -> None:
        inputs = {"model": MODEL_IDS[k], "prompt_hash": h("p"), "prompt_bytes": 20, "input_tokens": 12, "max_output_tokens": max_out}
        if net:
            self.send(ORACLE, "task.network", inputs)
        else:
            self.send(addr("user"), "task.submit", {"session": s, **inputs})

    @rule(i=st.integers(0, 30), outs=st.lists(st.sampled_from(OUTPUTS), min_size=4, max_size=4), lie=st.integers(0, 7))
    def commit_reveal(self, i: int, outs: list[str], lie: int) -> None:
        t = self.task(i)
        if t is None:
            return
        for k, a in enumerate(list(t.miners)):
            self.send(a.miner, "task.precommit", {"task": t.id, "commit": commitment(t.id, a.miner, h(outs[k % 4]), "s")})
        for k, a in enumerate(list(t.miners)):
            shown = h(outs[k % 4] + "!") if k == lie else h(outs[k % 4])
            self.send(a.miner, "task.reveal", {"task": t.id, "output_hash": shown, "salt": "s"})  # validators count the tokens

    @rule(i=st.integers(0, 30), d=st.integers(0, 2 * 10**9), q=st.integers(0, 10**9), skip=st.integers(0, 3), tokens=st.integers(0, 300))
    def validate(self, i: int, d: int, q: int, skip: int, tokens: int) -> None:
        t = self.task(i)
        if t is None:
            return
        for j, v in enumerate(list(t.validators)):
            if j == skip:
                continue
            miners = [a.miner for a in t.miners if a.reveal_tick is not None and not a.mismatch]
            reports = [
                {"miner": m, "poi_distance_ppb": (d * (k + 1)) % (2 * 10**9), "quality_ppb": q, "output_tokens": (tokens + 7 * j) % 301}
                for k, m in enumerate(miners)
            ]
            spread = {"spread_ppb": (d * (j + 1)) % (2 * 10**9 + 1)} if t.spread_rule else {}  # rule 12: each validator's spread
            self.send(v, "task.validate", {"task": t.id, "input_tokens": tokens + j, "reports": reports} | spread)

    @rule(i=st.integers(0, 30), planted=st.sampled_from([None, *OUTPUTS]), opening=st.booleans())
    def canary(self, i: int, planted: str | None, opening: bool) -> None:
        """The oracle commits to a task's canary (rule 17: user tasks, before any reveal) or opens one, in any state."""
        t = self.task(i)
        if t is None:
            return
        plant = h(planted) if planted is not None else None
        if opening:
            self.send(ORACLE, "task.canary", {"task": t.id, "salt": f"c{t.id}", **({"planted": plant} if plant else {})})
        else:
            self.send(ORACLE, "task.canary_commit", {"task": t.id, "canary": canary_commitment(t.prompt_hash, plant, f"c{t.id}")})

    @rule(i=st.integers(0, 30))
    def cancel(self, i: int) -> None:
        t = self.task(i)
        if t is not None:
            self.send(addr("user"), "task.cancel", {"task": t.id})

    @rule(i=st.integers(0, 50), tamper=st.booleans())
    def claim(self, i: int, tamper: bool) -> None:
        closed = sorted(self.c.state.epochs)
        if not closed:
            return
        e = closed[i % len(closed)]
        leaves = sorted(self.c.state.epochs[e].leaves.items())
        if not leaves:
            return
        who, amount = leaves[i % len(leaves)]
        p = proof(self.c.state, who, e)["proof"]
        self.send(ORACLE, "reward.claim", {"address": who, "epoch": e, "amount": str(amount + tamper), "proof": p})

    # --- governance, bounties, community, bridge ------------------------------------------------------

    @rule(
        i=st.integers(0, 20),
        kind=st.sampled_from(["param_change", "param_change", "treasury_spend", "bounty_funding", "controller", "curator"]),
        p=st.sampled_from(INT_PARAMS),
        high=st.booleans(),
        amount=AMOUNTS,
    )
    def propose(self, i: int, kind: str, p: str, high: bool, amount: Any) -> None:
        """A parameter at its min or max (refused when another rule ties it), or another kind."""
        content: dict[str, Any] = {
            "param_change": {"changes": {p: bound_value(p, high)}, "effective_epoch": self.c.state.epoch + 1},
            "treasury_spend": {"to": self.who(i), "amount": amount},
            "bounty_funding": {"bounty": 1 + i % 5, "amount": amount},
            "controller": {"controller": "redundancy" if high else "nope", "target_bps": 5000, "enabled": high},
            "curator": {"action": "appoint" if high else "remove", "curator": self.who(i)},
        }[kind]
        self.send(self.who(i), "gov.propose", {"kind": kind, "title": f"{kind} {p}", **content})

    @rule(option=st.sampled_from(["yes", "yes", "no", "abstain", "veto"]), pid=st.integers(0, 10))
    def vote_all(self, option: str, pid: int) -> None:
        props = sorted(self.c.state.proposals)
        if not props:
            return
        target = props[pid % len(props)]
        for name in ("m0", "m1", "m2", "v0", "v1", "v2", "router", "d0"):
            self.send(addr(name), "gov.vote", {"proposal": target, "option": option})

    @rule(
        kind=st.sampled_from(["bounty.create", "bounty.submit", "bounty.award", "bounty.score", "bounty.finalize", "bounty.expire"]),
        i=st.integers(0, 20),
        b=st.integers(1, 40),
        amount=AMOUNTS,
        challenge=st.booleans(),
    )
    def bounty(self, kind: str, i: int, b: int, amount: Any, challenge: bool) -> None:
        ids = sorted(self.c.state.bounties)
        bid = ids[b % len(ids)] if ids and b % 7 else b
        body: dict[str, Any] = {
            "bounty.create": {
                "prize": amount,
                "criteria": "c",
                "deadline_tick": self.c.state.tick + b % 15,
                "winners": 1 + b % 2,
                "kind": "challenge" if challenge else "bounty",
            },
            "bounty.submit": {"bounty": bid, "content_hash": h(str(i))},
            "bounty.award": {"bounty": bid, "submission": self.who(i)},
            "bounty.score": {"bounty": bid, "submission": self.who(i), "score_ppb": b * 10**7},
            "bounty.finalize": {"bounty": bid},
            "bounty.expire": {"bounty": bid},
        }[kind]
        actor = addr("user") if kind in ("bounty.create", "bounty.award", "bounty.finalize") and i % 2 else self.who(i)
        if kind == "bounty.score":
            actor = addr(("v0", "v1", "v2")[i % 3])
        self.send(actor, kind, body)

    @rule(kind=st.sampled_from(["community.appoint", "community.remove", "community.attest"]), i=st.integers(0, 20), pts=st.integers(0, 120))
    def community(self, kind: str, i: int, pts: int) -> None:
        if kind == "community.attest":
            body = {"member": self.who(i), "kind": CONTRIBUTION_KINDS[pts % len(CONTRIBUTION_KINDS)], "points": pts, "reference": "r"}
            self.send(addr("dev") if i % 2 else self.who(i), kind, body)
        else:
            self.send(ORACLE, kind, {"curator": self.who(i)})

    @rule(e=st.integers(0, 5), confirm=st.booleans())
    def bridge(self, e: int, confirm: bool) -> None:
        if confirm:
            self.send(ORACLE, "bridge.confirm", {"epoch": e, "tx_hash": h(str(e)), "block": e})
        else:
            self.send(ORACLE, "bridge.post", {"epoch": e, "evm_chain_id": 31337, "distributor": addr("distributor")})

    @rule(
        kind=st.sampled_from(["transfer", "tick", "task.validate", "gov.propose", "stake.bond", "slash.report", "genesis", "beacon.anchor", "nope"]),
        body=HOSTILE,
        oracle=st.booleans(),
    )
    def hostile(self, kind: str, body: dict[str, Any], oracle: bool) -> None:
        self.send(ORACLE if oracle else addr("stranger"), kind, body)

    # --- checks -----------------------------------------------------------------------------------

    @invariant()
    def live_equals_replay(self) -> None:
        if not hasattr(self, "c"):
            return
        conservation_holds(self.c.state)
        open_tasks_name_live_models(self.c.state)
        assert fingerprint(self.shadow) == fingerprint(self.c.state), "the live state differs from a replay of its log"

    def teardown(self) -> None:
        if not hasattr(self, "c"):
            return
        assert fingerprint(replay(self.c.events, check_each=True)) == fingerprint(self.c.state)


AtomicMachine.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
TestAtomicMachine = AtomicMachine.TestCase


def test_bound_values_cover_every_integer_parameter() -> None:
    assert set(INT_PARAMS) | {"mint_enabled"} >= {n for n, f in PARAM_FIELDS.items() if "min" in f.metadata}
    assert all(isinstance(getattr(Params(), n), int) for n in INT_PARAMS)
