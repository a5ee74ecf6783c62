"""Attack families for ``cor simulate``: parametrised actor scripts against an honest twin (see ``base.py``).

Every family is registered here, in one place; a module per area:

    staking.py    jit_delegation, jit_bonding, operator_dilution, commission_switch, idle_stake (stopped by rule 14),
                  dust_positions (stopped by rule 20), node_churn (stopped by rule 23), last_tick_unbond (rule 31)
    slashing.py   slash_dodge_unbond, threshold_split, reregister_after_jail, newcomer_griefing
    evidence.py   equivocation_rewrap, oracle_fabricated_slash
    wash.py       wash_trading, model_tier_farming, declared_tokens
    governance.py flash_governance, self_proposal, voter_farming
    bounties.py   bounty_self_award, challenge_early_finalize, bounty_spam (stopped by rule 21), bounty_churn (stopped by rule 22)
    community.py  curator_puppets, community_one_point (stopped by rule 31)
    assignment.py assignment_grinding, cancel_lottery
    validators.py echo_validator, max_reporter, collusion_49
    spread.py     spread_inflation
    moving.py     redelegate_dodge, cancel_unbond_dodge, redelegate_hop
    misses.py     honest_misses (what PoI's false positives cost an honest miner)
    judgement.py  late_judgement (stopped by rule 15)
    canaries.py   canary_spotting (stopped from rule 17 with fluent plants; its knobs measure the old holes)
    planting.py   plant_refusal (stopped by rule 18), canary_unopened (stopped by rule 36)
    routers.py    self_router
    sessions.py   session_spam (stopped by rule 24)
    models.py     model_spam (stopped by rule 25)
    closed_tasks.py closed_task_bloat (stopped by rule 27)
    escalation.py escalation_cartel (stopped by rule 29), median_skew (open: honest validators named dissenters),
                  unfunded_escalation (stopped by rule 33), escalation_unbond_dodge (stopped by rule 34)
    marketplace.py marketplace_one_task (stopped by rule 31)

Add a family: write ``sim/attacks/<area>.py`` with ``FAMILIES = (...)`` and add it to the list below.
"""

from . import (
    assignment,
    bounties,
    canaries,
    closed_tasks,
    community,
    escalation,
    evidence,
    governance,
    judgement,
    marketplace,
    misses,
    models,
    moving,
    planting,
    routers,
    sessions,
    slashing,
    spread,
    staking,
    validators,
    wash,
)
from .base import FAMILIES, Attack, Family, Knob, Verdict, bootstrap, builtin_attacks, evaluate, evaluate_many, family, register

_MODULES = (
    staking,
    slashing,
    evidence,
    wash,
    governance,
    bounties,
    community,
    assignment,
    validators,
    spread,
    moving,
    misses,
    judgement,
    canaries,
    planting,
    routers,
    sessions,
    models,
    closed_tasks,
    escalation,
    marketplace,
)
for _module in _MODULES:
    register(*_module.FAMILIES)

__all__ = ["FAMILIES", "Attack", "Family", "Knob", "Verdict", "bootstrap", "builtin_attacks", "evaluate", "evaluate_many", "family", "register"]
