"""Model attacks: model listings that cost nothing fill the live state; a stranger's fine-tune holds a listing's deposit.

model_spam  two attackers beside the simulator's honest user and model developer: a *spammer*, a key with an empty wallet,
            sends ``registers`` model.register (each a fresh id) every epoch, and a *lister* with ``funds`` COR sends
            ``registers`` model.register every epoch and, later in the epoch, model.retire for each of its models still
            listed (from rule 25 the deposit comes back; under rule 24 the message is refused: there is nothing to
            retire). Both worlds prune (prune_closed_records = 1, what a node with a database holds); a probe counts the
            attackers' models held in the live state mid-round (after the registrations, before the retires). Under
            rule 24 (rules=before_bond) a listing is free and kept forever: both attackers' models grow with their
            events, not with money. From rule 25 the spammer is refused (model_deposit_unfunded), the lister lists as
            many as its funds lock (one per model_listing_deposit_units), and a retired model leaves at the next close,
            so the live state holds the lister's current round only. The twin: no attackers.
            gain = (attackers' live models per COR they hold at the last round) ÷ (0.1 per COR, the default deposit's
            bound) − 1; stopped iff gain ≤ 0, the last round holds no more than the first and the honest user's wallet
            and tasks are the twin's.

fine_tune_hold  an *owner* lists a model in the first epoch (one deposit) and sends model.retire every epoch; a *stranger*
            registers ``fine_tunes`` fine-tunes of it at once (a deposit each) and retires them after ``hold`` epochs. Under
            rule 25 (rules=before_release) model.retire is refused model_has_fine_tunes while a live model names the model
            as its parent, and only a fine-tune's owner may retire it: the owner's deposit stays locked as long as the
            stranger likes, the stranger's own deposit locked as long and returned whole. From rule 26 (rules=release,
            RULES_FINE_TUNE_RELEASE) the retire is accepted at once and the deposit comes back; the retired model stays
            live while the fine-tune names it (its royalty reads the owner) and leaves at the close after the fine-tune.
            The twin: no stranger (the owner retires at once). gain = (the owner's deposit COR·epochs locked beyond the
            twin's) ÷ (the stranger's COR·epochs locked); stopped iff the owner's deposit is locked no epoch longer than
            the twin's and the honest user is unaffected.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ...core.models import QUANTIZATIONS
from ...core.params import Params
from ...core.rules import RULES_FINE_TUNE_RELEASE, RULES_MODEL_BOND
from ...core.state import State
from ...core.state_codec import encode_record
from ...core.units import COR
from ..runner import RunResult
from ..scenarios import Scenario
from ..script import ActorScript, Step
from .base import Family, Knob, Knobs, Verdict
from .common import Rules, SampledScript, actor, live_probe, made, rounds_scenario, sampled_rounds

BOND_RULES = Rules(RULES_MODEL_BOND, "bond", "before_bond")
REGISTER, PROBE, RETIRE = 2, 30, 40  # offsets in every epoch


def _attackers() -> tuple[str, str]:
    return actor("model_spammer"), actor("model_lister")


def _live(state: State) -> tuple[int, int]:
    """The attackers' models held in the live state, and the bytes of their canonical records."""
    mine = [m for m in state.models.values() if m.owner in _attackers()]
    return len(mine), sum(len(encode_record(m)) for m in mine)


class ModelSpam(Family):
    name = "model_spam"
    title = "Free model listings fill the live state"
    criterion = (
        "the live state holds at most one attacker model per model_listing_deposit_units the attackers hold, and no more "
        "after N rounds than after the first (gain = live models per COR at the last round ÷ 0.1 − 1 ≤ 0, the last "
        "round's ≤ the first's), and the honest user's wallet and tasks are the twin's"
    )
    description = (
        "an unfunded key sends 20 model.register every epoch, and a lister with 50 COR sends 20 model.register every epoch "
        "and retires its models mid-epoch; both worlds prune (prune_closed_records = 1); rules=before_bond runs rule 24 "
        "(free listings, kept forever, no model.retire)"
    )
    gain_unit = "(the attackers' live models per COR they hold at the last round) ÷ (0.1 model per COR, the default deposit) − 1"
    knobs = (
        Knob("rounds", 6, "epochs the attackers run a round in (one round an epoch)", 1, 30),
        Knob("registers", 20, "model.register each attacker sends each round (each a fresh id)", 0, 1_000),
        Knob("funds", 50, "COR the lister holds (the spammer holds none)", 0, 10_000),
        BOND_RULES.knob("a listing deposit, model.retire, retired models leave at the next close", "free listings, kept forever"),
    )

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return rounds_scenario(self.world_name(twin), int(k["rounds"]), BOND_RULES.params(k, pruned=True))

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        spammer, lister = _attackers()
        n, rounds = int(k["registers"]), tuple(range(int(k["rounds"])))
        funds = int(k["funds"]) * COR
        wallets = {lister: funds} if funds else {}
        samples: list[tuple[int, int, int]] = []
        steps: list[Step] = []
        if not twin:
            for who, label in ((spammer, "spam_register"), (lister, "list_register")):
                card = _card(who)
                steps += [Step(REGISTER, who, "model.register", card, rounds, label) for _ in range(n)]
            steps.append(Step(PROBE, lister, "probe", live_probe(samples, _live), rounds, "probe"))
            steps += [Step(RETIRE, lister, "model.retire", _retire(), rounds, "list_retire") for _ in range(n)]
        names = {"model_spammer": spammer, "model_lister": lister}
        return SampledScript(steps, samples, watch=[], wallets=wallets, actor_names=names)

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        spam = made(script, SampledScript)
        state = spam.state
        attackers = _attackers()
        user = next((s.owner for s in state.sessions.values() if s.owner not in attackers), None)
        user_tasks = sorted((t.id, t.state) for t in state.tasks.values() if t.user == user)
        log = spam.log

        def count(label: str, ok: bool) -> int:
            return sum(1 for e in log if e.ok == ok and e.label == label)

        return {
            "samples": [list(x) for x in spam.samples],
            "funds": int(k["funds"]) * COR,
            "spam_accepted": count("spam_register", True),
            "spam_refused": count("spam_register", False),
            "list_accepted": count("list_register", True),
            "retired_accepted": count("list_retire", True),
            "refusal_codes": sorted({e.code for e in log if not e.ok}),
            "lister_wallet": state.ledger.balance(f"wallet:{attackers[1]}"),
            "user_wallet": state.ledger.balance(f"wallet:{user}") if user else 0,
            "user_tasks": len(user_tasks),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        per_seed = len(attack) or 1
        first, last, last_bytes, growth = sampled_rounds(attack)
        funds = sum(a["funds"] for a in attack) / per_seed
        per_cor = last * COR / max(funds, 1)  # (no money: counted as one base unit)
        gain = last * Params().model_listing_deposit_units / max(funds, 1) - 1  # live models ÷ (one per default deposit held)
        unaffected = all((a["user_wallet"], a["user_tasks"]) == (t["user_wallet"], t["user_tasks"]) for a, t in zip(attack, twin, strict=True))
        accepted = sum(a["spam_accepted"] for a in attack) / per_seed
        money_back = all(a["lister_wallet"] == a["funds"] or a["retired_accepted"] == 0 for a in attack)
        return Verdict(
            gain,
            gain <= 0 and last <= first and unaffected,
            {
                "live_models_by_round": growth,
                "live_models_first_round": first,
                "live_models_last_round": last,
                "live_attacker_model_bytes_last_round": last_bytes,
                "attacker_cor": funds / COR,
                "live_models_per_cor": per_cor,
                "spam_registers_accepted": accepted,
                "spam_registers_refused": sum(a["spam_refused"] for a in attack) / per_seed,
                "lister_registers_accepted": sum(a["list_accepted"] for a in attack) / per_seed,
                "lister_retires_accepted": sum(a["retired_accepted"] for a in attack) / per_seed,
                "lister_deposits_back": money_back,
                "refusal_codes": sorted({c for a in attack for c in a["refusal_codes"]}),
                "honest_unaffected": unaffected,
            },
            f"{k['rules']}: live attacker models by round {growth} ({per_cor:.3g} per COR held at the last round, "
            f"{last_bytes / 1024:.1f} KiB of model records; {accepted:.0f} free listings accepted); honest user "
            f"{'as' if unaffected else 'NOT as'} in the twin",
        )


def _card(who: str) -> Any:
    """A fresh model card each call (ids ``<key prefix>-<n>``, n counting this attacker's registrations)."""
    sent = [0]
    prefix = who[2:10]

    def body(state: State) -> dict[str, Any] | None:
        sent[0] += 1
        model_id = f"spam-{prefix}-{sent[0]}"
        return {
            "id": model_id,
            "parameter_count": 1_000_000,
            "quantization": QUANTIZATIONS[0],
            "context_length": 2048,
            "license": "mit",
            "content_hash": "0x" + hashlib.sha256(model_id.encode()).hexdigest(),
        }

    return body


def _retire() -> Any:
    """Retires the lister's first model still listed and not retired (None: none is left)."""

    def body(state: State) -> dict[str, Any] | None:
        _, lister = _attackers()
        mine = [m for _, m in sorted(state.models.items()) if m.owner == lister and m.retired_tick is None]
        return {"model": mine[0].id} if mine else None

    return body


VICTIM_MODEL = "victim-model"
RELEASE_RULES = Rules(RULES_FINE_TUNE_RELEASE, "release", "before_release")
LIST, HOLD, RELEASE, OWNER_RETIRE, LOCK_PROBE = 2, 4, 30, 40, 45  # offsets in an epoch


def _owner_and_holder() -> tuple[str, str]:
    return actor("model_owner"), actor("fine_tune_holder")


class FineTuneHold(Family):
    name = "fine_tune_hold"
    title = "A stranger's fine-tune holds a model's listing deposit"
    criterion = (
        "the model owner's model.retire returns its listing deposit when the twin's does (no epoch of extra lock), whatever "
        "fine-tunes others register of its model, and the honest user's wallet and tasks are the twin's"
    )
    description = (
        "an owner lists a model (10 COR locked) in the first epoch and sends model.retire every epoch; a stranger holding "
        "10 COR registers a fine-tune of it at once (its own 10 COR locked, back whenever it retires it) and retires it "
        "after `hold` epochs (never within the run at the default); the twin: no stranger; rules=before_release runs rule 25 "
        "(model.retire refused while a live fine-tune names the model)"
    )
    gain_unit = "(the owner's deposit COR·epochs locked beyond the twin's) ÷ (the COR·epochs the stranger locks)"
    knobs = (
        Knob("rounds", 6, "epochs the owner tries to retire its model (one model.retire an epoch while it is listed)", 1, 30),
        Knob("fine_tunes", 1, "fine-tunes the stranger registers of the owner's model (each locks one deposit)", 0, 10),
        Knob("hold", 6, "epochs the stranger keeps its fine-tunes before retiring them (≥ rounds: never within the run)", 0, 30),
        RELEASE_RULES.knob(
            "model.retire accepted while fine-tunes name the model, the retired parent live until they left",
            "refused model_has_fine_tunes",
        ),
    )

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return rounds_scenario(self.world_name(twin), int(k["rounds"]), RELEASE_RULES.params(k, pruned=True))

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        owner, holder = _owner_and_holder()
        deposit, n, rounds = Params().model_listing_deposit_units, int(k["fine_tunes"]), tuple(range(int(k["rounds"])))
        wallets = {owner: deposit} | ({} if twin or not n else {holder: n * deposit})
        samples: list[tuple[int, int, int]] = []
        steps = [Step(LIST, owner, "model.register", _victim_card(), (0,), "owner_register")]
        if not twin:
            fine_tune = _fine_tune(holder)  # one counter: each step a fresh id
            steps += [Step(HOLD, holder, "model.register", fine_tune, (0,), "holder_register") for _ in range(n)]
            release = tuple(e for e in rounds if e == int(k["hold"]))
            steps += [Step(RELEASE, holder, "model.retire", _holder_retire(), release, "holder_retire") for _ in range(n)]
        steps.append(Step(OWNER_RETIRE, owner, "model.retire", _owner_retire(), rounds, "owner_retire"))
        steps.append(Step(LOCK_PROBE, owner, "probe", live_probe(samples, _locked), rounds, "probe"))
        # no actor_names: the books reconcile an actor's holdings (wallet, stake, claimable) with its reward statements, and
        # these two keep COR in escrow:model:<id> across closes while earning nothing (no task names their models);
        # conservation is still checked at every close
        return SampledScript(steps, samples, watch=[], wallets=wallets)

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        run = made(script, SampledScript)
        state, log = run.state, run.log
        owner, holder = _owner_and_holder()
        attackers = (owner, holder)
        user = next((s.owner for s in state.sessions.values() if s.owner not in attackers), None)
        holder_escrow = sum(state.ledger.balance(f"escrow:model:{m.id}") for m in state.models.values() if m.owner == holder)
        return {
            "samples": [list(x) for x in run.samples],
            "deposit": Params().model_listing_deposit_units,
            "owner_refusals": sorted({e.code for e in log if e.label == "owner_retire" and not e.ok}),
            "owner_retired_epoch": next((e.epoch for e in log if e.label == "owner_retire" and e.ok), None),
            "holder_registered": sum(1 for e in log if e.label == "holder_register" and e.ok),
            "holder_funds": int(k["fine_tunes"]) * Params().model_listing_deposit_units if not twin else 0,
            "holder_left": state.ledger.balance(f"wallet:{holder}") + holder_escrow,
            "owner_wallet": state.ledger.balance(f"wallet:{owner}"),
            "owner_model_held_live": VICTIM_MODEL in state.models,  # at the end (retired or not)
            "user_wallet": state.ledger.balance(f"wallet:{user}") if user else 0,
            "user_tasks": sum(1 for t in state.tasks.values() if t.user == user),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        per_seed = len(attack) or 1

        def locked_epochs(runs: list[dict[str, Any]]) -> float:  # epochs whose probe (after the owner's retire) saw the deposit held
            return sum(sum(1 for s in a["samples"] if s[1]) for a in runs) / per_seed

        extra = locked_epochs(attack) - locked_epochs(twin)
        deposit = Params().model_listing_deposit_units
        holder_cor_epochs = sum(a["holder_registered"] * deposit * min(int(k["hold"]), int(k["rounds"])) for a in attack) / per_seed / COR
        extra_cor_epochs = extra * deposit / COR
        gain = extra_cor_epochs / holder_cor_epochs if holder_cor_epochs else (0.0 if extra_cor_epochs == 0 else None)
        spent = sum(a["holder_funds"] - a["holder_left"] for a in attack) / per_seed
        unaffected = all((a["user_wallet"], a["user_tasks"]) == (t["user_wallet"], t["user_tasks"]) for a, t in zip(attack, twin, strict=True))
        retired = [a["owner_retired_epoch"] for a in attack]
        held_note = (
            f"; retired in epoch {retired[0]}, its record live to the end (the fine-tune names it)"
            if retired and retired[0] is not None and all(a["owner_model_held_live"] for a in attack)
            else ""
        )
        return Verdict(
            gain,
            extra == 0 and unaffected,
            {
                "owner_deposit_locked_epochs": locked_epochs(attack),
                "twin_owner_deposit_locked_epochs": locked_epochs(twin),
                "extra_locked_cor_epochs": extra_cor_epochs,
                "holder_locked_cor_epochs": holder_cor_epochs,
                "holder_cor_spent": spent / COR,
                "owner_retired_epoch": retired[0] if retired else None,
                "twin_owner_retired_epoch": twin[0]["owner_retired_epoch"] if twin else None,
                "owner_refusal_codes": sorted({c for a in attack for c in a["owner_refusals"]}),
                "owner_wallet_cor": sum(a["owner_wallet"] for a in attack) / per_seed / COR,
                "owner_model_held_live": all(a["owner_model_held_live"] for a in attack),
                "twin_owner_model_held_live": any(t["owner_model_held_live"] for t in twin),
                "honest_unaffected": unaffected,
            },
            f"{k['rules']}: the owner's {deposit / COR:g} COR deposit locked {locked_epochs(attack):g} of {k['rounds']} epochs (twin "
            f"{locked_epochs(twin):g}; retire refused {sorted({c for a in attack for c in a['owner_refusals']})}), the "
            f"stranger locking {holder_cor_epochs:g} COR·epochs and spending {spent / COR:g} COR"
            f"{held_note}; honest user {'as' if unaffected else 'NOT as'} in the twin",
        )


def _locked(state: State) -> tuple[int, int]:
    """(1 while the owner's listing deposit is held in its model's escrow, else 0; the units held)."""
    held = state.ledger.balance(f"escrow:model:{VICTIM_MODEL}")
    return int(held > 0), held


def _victim_card() -> Any:
    def body(state: State) -> dict[str, Any] | None:
        return {
            "id": VICTIM_MODEL,
            "parameter_count": 1_000_000,
            "quantization": QUANTIZATIONS[0],
            "context_length": 2048,
            "license": "mit",
            "content_hash": "0x" + hashlib.sha256(VICTIM_MODEL.encode()).hexdigest(),
        }

    return body


def _fine_tune(holder: str) -> Any:
    """A fresh fine-tune of the owner's model each call."""
    card = _card(holder)

    def body(state: State) -> dict[str, Any] | None:
        out = card(state)
        return None if out is None else {**out, "id": out["id"].replace("spam-", "ft-"), "parent": VICTIM_MODEL}

    return body


def _holder_retire() -> Any:
    def body(state: State) -> dict[str, Any] | None:
        _, holder = _owner_and_holder()
        mine = [m for _, m in sorted(state.models.items()) if m.owner == holder and m.retired_tick is None]
        return {"model": mine[0].id} if mine else None

    return body


def _owner_retire() -> Any:
    """The owner's model.retire while its model is listed and not retired (None after)."""

    def body(state: State) -> dict[str, Any] | None:
        m = state.models.get(VICTIM_MODEL)
        return {"model": VICTIM_MODEL} if m is not None and m.retired_tick is None else None

    return body


FAMILIES: tuple[Family, ...] = (ModelSpam(), FineTuneHold())
