"""Rule versions: every consensus rule that changed after launch, by number (docs/design.md §3).

A network's rules are a parameter, ``rule_version``, versioned by epoch like every other
(``ParamHistory``): the genesis names the version it starts with, and a passed ``param_change``
proposal activates a later one from its ``effective_epoch``. Both are in the log, so replay runs
every event under the rules in force at its epoch, and a log recorded under version 1 replays the
same after version 2 is activated. A genesis without ``rule_version`` runs version 1; a new genesis
(``app/genesis.py``, the simulator, the test chains) names ``LATEST``. Versions only go up.

To change a consensus rule: add a version here saying what changed, and branch on
``rules_since(p, N)`` where the rule is applied (keep the old branch: old logs replay on it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .params import Params

RULE_VERSIONS: dict[int, str] = {
    1: "the rules at launch (when versions were introduced): the beacon's draws and the validators' commit-reveal on a "
    "network whose genesis commits a beacon (without one: the open draws and plain reports of the development builds), "
    "stakers' rewards by stake x time, governance power bonded a whole epoch; logs written by the development builds "
    "before launch are not an input any version replays",
    2: "controllers step from the value the next epoch would have, so a governance change of the same parameter "
    "executed at that close is moved from, not overwritten (1: from the closing epoch's value)",
    3: "a Sampford step that has used SAMPFORD_BUDGET (2**16) random numbers stops and takes the heaviest node as "
    "certain, so no choice of weights can stall a draw (1-2: the step runs until it succeeds)",
    4: "slashing can't be dodged and its evidence is re-derived: offences dated at their task's creation, counted offences "
    "slashed one by one at a fixed share of the role's minimum bond, oracle task-offence reports answered from the core's "
    "record, canonical equivocation evidence, a new node starts never above a jailed node of its role "
    "(1-3: core/slashing_first.py: per-node thresholds in a window, the oracle's tick and reporter, every new node at reputation_initial_ppb)",
    5: "an oracle checkpoint that cites the head may carry the hash of the state after it (``state``: "
    "core/state_codec.py); the core recomputes it, refuses a wrong one and keeps it (state_anchors), so a stored "
    "snapshot with that hash is anchored (1-4: a checkpoint is (seq, hash) only)",
    6: "work units are measured: each validator's revealed report carries its token counts of the prompt and of "
    "each output, the core settles their stake-weighted medians, a reveal claims no count and a task's input_tokens "
    "is only a bound (1-5: the miners' claimed output_tokens and the requester's input_tokens)",
    7: "an honest node's isolated misses are forgiven and a fresh key starts no better than a recently slashed node: a counted "
    "offence is not slashed while the node's forgiven offences of this epoch and the last stay below "
    "floor(tasks served well in them x offence_allowance_bps / 10000) (core/allowance.py); a new node starts never above a node "
    "of its role slashed in the last reputation_memory_epochs epochs (1-6: every counted offence slashed; the start is capped "
    "by nodes serving a jail only)",
    8: "stake.cancel_unbond charges a spared counted offence its exact pro-rata share of the fixed penalty, "
    "penalty x returning // (slashable + returning), and an address may hold at most max_entries maturing unbonding "
    "entries per node and young redelegations per source node (1-7: returning x fraction_bps // 10000 for every "
    "spared slash; no limit on entries)",
    9: "a network task's prompt is composed by the beacon: on a network whose genesis holds a prompt set "
    "(``network_prompts``), the core draws network_prompt_parts distinct base prompts from the last revealed beacon "
    "value and the oracle's nonce, composes them (core/network_prompts.py) and refuses any other prompt, so network "
    "prompts (practically) never repeat and nobody picks them (1-8: the oracle names the prompt)",
    10: "closed work leaves the live state (core/prune.py): after each epoch close, closed tasks older than the unbonding "
    "period, the records of earlier closed epochs and superseded parameter versions move to the database, folded into a "
    "running hash the state keeps (``pruned``); an earlier epoch keeps only its root and leaves while a leaf is unclaimed "
    "(1-9: kept forever)",
    11: "the epoch document states each input once: a work stream's formula, parameters, stream-wide inputs and the "
    "formulas of its commission, stake and dust lines are in its stream account (``streams.<stream>``), the inputs of its "
    "user-task bonus rows are columns there (``bonus_rows``), a node line carries its own inputs and cites its rows "
    "(``bonus_rows_at``), and a commission line cites its node line (``node_line``) instead of repeating it; the APR's "
    "formula, parameters and shared inputs are in ``staking`` (1-10: every line repeats them all)",
    12: "the PoI threshold follows the task's spread in the core: each revealed report carries raw distances and the "
    "validator's measured spread of the task (``spread_ppb``, committed with the reports); the task's spread is the "
    "stake-weighted median of the revealed spreads and its threshold max(poi_max_distance_ppb, min(poi_spread_cap_ppb, "
    "spread x poi_spread_factor_bps // 10000)) (core/spread.py), recorded on the task (1-11: validators report each "
    "distance less their own spread allowance and the core compares with poi_max_distance_ppb)",
    13: "no other node's record pushes a new node's start below reputation_newcomer_floor_ppb: start = "
    "min(reputation_initial_ppb, max(reputation_newcomer_floor_ppb, the lowest reputation of the nodes of its role serving "
    "a jail or slashed in the last reputation_memory_epochs epochs)) (staking.starting_reputation), so a node kept failing "
    "and slashed cannot hold newcomers down, and a jailed key below the floor gains at most the floor by re-registering "
    "(4-12: the lowest such reputation however low, so one failing node held every newcomer of its role near 0)",
    14: "the staking APR pays stake exposed to work: a node's stake x ticks while it is not selectable (self-bond under its "
    "role's minimum, or jailed) are counted apart (``idle_stake_ticks``) and earn no APR, a miner none of whose models "
    "has a task settled in the epoch (a work row) earns no APR for it, and a router (never drawn: the "
    "fees of the tasks naming it pay its work) earns none (core/rewards.py process_staking_apr) "
    "(1-13: every node not slashed this epoch nor jailed at the close was paid on all its stake x ticks, so stake parked "
    "in a node no task can draw earned the full APR: attack idle_stake)",
    15: "a counted offence is judged by its task's epoch: for a task created in epoch e and judged in epoch E, the allowance "
    "counts the tasks served well and the offences forgiven in epochs max(e - 1, E - 2) to E (core/allowance.py; the node "
    "keeps a third pair of counters, ``served_prev2`` and ``forgiven_prev2``), so a judgment moved past an epoch close (a "
    "dissent that escalates the task, a draw waiting for the next beacon value) does not drop the allowance the node had "
    "when the task began (7-14: always this epoch and the one before, whatever the task's epoch)",
    16: "a task's service and its forgiven offence are counted in the task's epoch: a task created in epoch e and settled "
    "in epoch E > e adds its served-well count and its forgiveness to the counters of epoch e (at most two epochs back: "
    "``served_prev``/``forgiven_prev`` for e = E - 1, ``*_prev2`` before), so a late judgement's forgiveness leaves the "
    "window when its task's epoch does and cannot use up the allowance a later miss needs (core/allowance.py) "
    "(7-15: counted in the epoch that judged the task)",
    17: "user tasks carry canaries: the oracle may commit to a user task's canary with task.canary_commit {task, canary} "
    "while no miner of the task has revealed (CREATED, PREPARED or STARTED), once; the task then goes through AUDITING and "
    "task.canary like a network task, and a user task with a planted output is charged for its real outputs only (the "
    "quote at redundancy minus the planted outputs) (1-16: only network tasks carry a commitment, from task.network, and "
    "validators could tell a user task from a canary by its kind: attack canary_spotting, tell=network)",
    18: "a canary's planter is paid: the miner whose valid reveal is the planted output of an opened canary (canary "
    "planted) of a settled task earns for it as a typical in-consensus miner of the task: a work row with the task's "
    "complexity units and the median quality of the task's in-consensus miners (the planted output's own size and "
    "quality never count), and for a user task a fee share by that quality; its reputation does not move and it counts "
    "no offence (1-17: the planted output earned nothing, so a miner told to plant lost the task's pay and gained it "
    "back by ignoring the oracle's private instruction, which left the canary void: attack plant_refusal)",
    19: "an escalation draws a disputed task's extra validators from the validators' pool in the selection index, the "
    "task's validators (of every round so far) left out of the draw (their weights 0 for it, put back after it: "
    "WeightTree.draw excluding them): O((k + the task's validators) x log n) per escalation, no scan of every node; each "
    "selectable validator not on the task is still drawn with probability ∝ its weight, but the draw runs over the "
    "pool's slots (the order validators first got a weight) instead of id order, so other validators are drawn "
    "(1-18: over a tree built for each escalation from every selectable validator not on the task, sorted by id: "
    "O(n) per escalation, which a dissenting validator could force on every replay)",
    # --- rule 20 (RULES_MIN_POSITION): a minimum stake position ---
    20: "a stake position (a self-bond or a delegation) holds 0 or at least min_position_units: node.register, stake.bond, "
    "stake.delegate, stake.redelegate (its destination), stake.cancel_unbond that would leave a position above 0 and below "
    "the minimum are refused (position_below_minimum), and so are stake.unbond, stake.undelegate and stake.redelegate (its "
    "source) unless they leave 0 or at least the minimum; a slash may leave less (the holder's next change must then reach "
    "the minimum or take it all), positions held before the rule stay as they are, so the positions a governance snapshot "
    "or a slash reads are bounded by the stake locked in them; max_entries counts every unbonding entry not withdrawn, "
    "matured ones too (1-19: no minimum: a 1-base-unit delegation was a position, attack dust_positions; 8-19: max_entries "
    "counted maturing entries, so matured ones left in place piled up without end)",
    # --- rule 21 (RULES_BOUNTY_DEPOSIT): bounties and their entries lock real money ---
    21: "bounties and their entries lock real money: bounty.create refuses a prize below bounty_min_prize_units "
    "(prize_below_minimum), and bounty.submit moves bounty_entry_deposit_units from the hunter's wallet to the bounty's "
    "escrow (refused without it: entry_deposit_unfunded), returned whole to every entrant when the challenge is finalized "
    "or the bounty expires, whatever the reviewers decided (1-20: any prize of at least one base unit, and an entry needed "
    "no funded key: one key made up to MAX_OPEN_BOUNTIES x bounty_max_submissions stored entries for ~nothing: attack "
    "bounty_spam)",
    # --- rule 22 (RULES_BOUNTY_RETIRE): an expired bounty leaves the live state ---
    22: "an expired bounty leaves the live state with its entries (core/prune.py): at the first epoch close after "
    "bounty.expire (with pruning on, and no reviewer draw of it still waiting for the beacon), its whole record is folded "
    "into ``pruned`` and moved to the database like a closed task; a message or a bounty_funding proposal naming it is then "
    "refused with bounty_not_found, and a funding proposal passed before it executes as failed (1-21: kept forever, so "
    "the deposits rule 21 returns at expiry could be spent on new bounties and entries again and again and the stored "
    "entries grew with money x time: attack bounty_churn)",
    23: "a node with nothing left leaves the live state (core/prune.py retire_nodes): at an epoch close (with pruning on), "
    "a node without stake, positions, unbonding entries or redelegations from or to it, named by no live task (closed "
    "tasks stay while evidence about them can be reported), open session, voting proposal's snapshot or offence count, "
    "with no jail or slash record of its key, is folded into ``pruned`` and moved to the database; a message naming it "
    "is refused node_not_found and the key may register again as a fresh node (1-22: kept forever, so a self-bond "
    "unbonded, withdrawn and registered under a new key again and again grew the node records with money x time: "
    "attack node_churn)",
    # --- rule 24 (RULES_SESSION_BOUND): sessions bounded by money ---
    24: "a session locks real money and leaves when closed: session.open needs a first deposit of at least "
    "session_min_deposit_units (refused session_deposit_below_minimum, nothing written; a dedicated session's fee is on "
    "top), and a closed session leaves the live state at the next epoch close's prune (core/prune.py retire_sessions, "
    "with pruning on, unless its dedicated miners' draw still waits for the beacon), folded into ``pruned`` and moved to "
    "the database; a message naming it is then refused session_not_found (1-23: any deposit, 0 by default, and closed "
    "sessions kept forever, so an unfunded key opened sessions without end and a funded one opened, closed and reopened "
    "them: attack session_spam)",
    # --- rule 25 (RULES_MODEL_BOND): model listings bounded by money ---
    25: "a model listing locks real money and may leave: model.register moves model_listing_deposit_units from the owner's "
    "wallet to escrow:model:<id> (refused model_deposit_unfunded, nothing written), and model.retire (owner only; refused "
    "while a live fine-tune names it as its parent) returns the deposit and stops new tasks and fine-tunes naming it "
    "(model_retired); the retired model leaves the live state at the first epoch close's prune at which no open task "
    "names it (core/prune.py retire_models, with pruning on), folded into ``pruned`` and moved to the database; a "
    "message naming it is then refused model_not_found and its id may be registered again (1-24: registration free and "
    "records kept forever, so an unfunded key listed models without end: attack model_spam)",
    # --- rule 26 (RULES_FINE_TUNE_RELEASE): a fine-tune no longer holds its parent's owner ---
    26: "model.retire is no longer refused while live fine-tunes name the model as their parent: the owner takes the "
    "deposit back at once; the retired parent stays in the live state while a live model (retired or not) names it as its "
    "parent (a fine-tune's settlement and marketplace share pay the parent's owner its royalty), and leaves at the first "
    "epoch close's prune at which no open task names it and no model staying names it as parent (core/prune.py "
    "retire_models: a fine-tune leaving at that close releases its parent at the same close); new fine-tunes of it are "
    "refused model_retired as before (25: refused model_has_fine_tunes while a live model named it, and only a "
    "fine-tune's owner may retire that fine-tune, so a stranger's fine-tune kept a model's owner from retiring it and held "
    "its listing deposit as long as the stranger liked, at no cost: attack fine_tune_hold)",
    # --- rule 27 (RULES_TASK_STUB): a closed task keeps only a stub ---
    27: "with pruning on (prune_closed_records = 1), the event that closes a task (cancel, fail, settle) retires its whole "
    "record at its end (folded into pruned as task:<id>, its bytes handed to the database in that event's transaction) "
    "and leaves a closed-task stub (State.closed_tasks: id, kind, user, state, created epoch and tick, router, the miners' "
    "addresses, the validators, whether it carried a canary commitment), what the window's readers read: the refusals of "
    "a command naming it, equivocation evidence and task-offence reports, the node counts; the stub leaves at the epoch "
    "close past the window (unbonding_period_epochs) without a second fold (10-26: the whole record stayed live until "
    "that close, ~25 kB of memory a task whatever its size, so the live state grew with what users put in their tasks: "
    "attack closed_task_bloat)",
    # --- rule 28 (RULES_SLIM_NODE_LINES): a work stream's node lines without their task ids ---
    28: "a work stream's node and none lines (miner_work, validator_work) carry no ``tasks``: the node's tasks whose row is "
    "in consensus (on time, for a validator) follow from the stream account's ``tasks`` (every task behind the stream's "
    "rows, in the order they closed) and the tasks' records, and a statement derives them on read "
    "(core/epoch_document.py node_tasks); the close no longer groups every row by node (epoch_rows.tasks_by_node). No "
    "amount, balance, claimable, root or refusal moves (no attack scenario: nothing to gain); only the epoch record's node "
    "lines, so its state hash and the stored document (1-27: each node line listed its task ids, 9.39 M ids at 1 M tasks "
    "x 10 k nodes, ~0.4 s of a 2.4 s close)",
    # --- rule 29 (RULES_SELF_REPORT, RULES_VOTER_POWER, RULES_ESCALATION_SHARE): no profit from reporting one's own
    # equivocation; the voter stream; a network task's validations paid once ---
    29: "an equivocation reporter's share is slash_reporter_bps of the operator's own pieces of the slash (its self-bond, "
    "its own unbonding entries and redelegations), not of the whole slash, so a report from the operator's own second key "
    "returns at most a tenth of what the operator loses; and an equivocation committed before the node was jailed by an "
    "earlier slash (its task older than that slash) falls on the operator's own positions only, so each double-signed "
    "scope still costs the operator but the delegators pay one lapse once (core/slashing.py; 4-28: the reporter took "
    "slash_reporter_bps of the whole slash, delegators' pieces included, and every scope slashed every position, so an "
    "operator with delegations above ~9x its self-bond gained by signing two statements per scope and reporting them "
    "from an unlinked key: attack self_report)"
    "; and (RULES_VOTER_POWER) the governance stream pays a voter stream x weight // max(the sum of the weights, the largest total_power of the "
    "epoch's rewarded proposals), total_power being all the aged stake in the proposal's snapshot, so the share of the "
    "stake that did not vote stays in pool:network_incentives and splitting stake over keys earns nothing more; a "
    "proposal on which nobody voted yes, no or veto (abstain only) pays no voter; and a param_change that sets a "
    "parameter to the value in force (and no scheduled version changes it) is refused param_change_no_op (1-28: "
    "stream x weight // the sum of the voters' "
    "weights, capped per address at gov_voter_reward_cap_bps, for any proposal tallied with quorum, so a staker with "
    "the quorum's stake over 4 keys took the whole stream every epoch with a no-op proposal it abstained on: attack "
    "self_proposal)"
    "; and (RULES_ESCALATION_SHARE) a network task's validations are paid once: its first ``validators_per_task`` validators (draw order: its first "
    "round) earn from the validators stream as before, and the validators after them (its escalation rounds) share what the "
    "first left of ``validators_per_task`` whole validations, each at most its agreement: min(agreement, left // L) "
    "(core/epoch_rows.py escalation_shared; the gates still read the agreement). 1-28: every round's row earned a whole "
    "validation, so one validator's deliberate dissent (past dissent_bound_ppb, under validator_deviation_max_ppb: no slash) "
    "doubled a task's paid validations (attack escalation_cartel)",
    30: "when every reporting validator of a settled user task has agreement 0 (Σ agreement_ppb = 0: each failed the task's "
    "canary, or each report is at least the tolerance from the consensus), no validator is paid from its fee: the validators' "
    "part goes to the treasury in one posting, reason ``task_fee:validators_unearned``, and the user's ``task_payment`` line "
    "names it (``validators_unearned``) (core/fees.py settle_fee). 1-29 split the part equally among the reporting "
    "validators, so a cartel holding every validator seat of a task was paid for failing its canary (attack lazy_cartel)",
    31: "several money rules, each named by its constant: (RULES_STAKE_TICKS_COMMISSION) a node reward's commission is all of it only when no stake "
    "was bonded to the node for a tick of the epoch (its stake × ticks, ``node_stake_ticks``, is 0); otherwise commission_bps of it, the rest to "
    "every position of the epoch by stake × ticks, including those that left before the close (core/staking.py NodePay.credit). 1-30 read the "
    "node's stake at the close, so an operator that unbonded at the last tick after its delegators left took their whole share as commission "
    "(finding S1, attack last_tick_unbond); (RULES_COMMUNITY_RATE) the community stream pays each member a rate per attested point, capped per "
    "member: claim = min(points x community_rate_per_point_units, stream x community_member_cap_bps // 10000), paid in full while the claims fit "
    "the stream and pro rata (stream x claim // claims) only when they exceed it; what is not claimed stays in pool:network_incentives "
    "(core/community.py). 1-30: stream x points // the epoch's points, so one 1-point attestation in an epoch with no other took the whole stream"
    " (3 996 COR, where a point of a 900-point epoch earned 4.44 COR) and a curator with one unlinked address took the stream every quiet epoch "
    "(attack community_one_point); (RULES_MARKETPLACE_RATE) the marketplace stream pays a model's usage at a rate: claim = usage x "
    "marketplace_usage_rate_units // 10**9 (usage = Σ units x quality_ppb of the model's in-consensus rows of network tasks), paid in full, or "
    "budget x claim // Σ claims when the claims exceed the stream's budget; what is not earned stays in pool:network_incentives (core/rewards.py "
    "marketplace_shares). 1-30 split the whole stream by usage, so one network task paid its model's owner the whole stream, as much as ten "
    "(attack marketplace_one_task); (RULES_ESCALATION_PAY) an escalated network task's escalation validators are paid at their agreement, as a "
    "first round's are, and the validators whose report made it escalate pay for it (those drawn before its last round whose report dissents from"
    " the whole panel's first medians: Task.dissenters, recorded at settlement): their row of the task counts 0 and what the escalation rows earn"
    " beyond what the first round left is cut from the rest of their validations of the epoch, as far as those reach (core/epoch_rows.py "
    "escalation_paid; the first round is the task's round-0 rows, read from the rows' recorded round, not from validators_per_task at the close)."
    " 29-30 paid the escalation rows only what the first round left, so the honest validators a provoked escalation drew did its work for "
    "~nothing (attack spread_inflation: honest validators' pay per unit of work -6.9 %, past its 5 % bound)",
    32: "(RULES_PANEL_WEIGHTS) a settled or consensus-failed task records the weights its consensus was taken with, each reporting "
    "validator's stake at settlement (Task.panel_weights, published on the task view's validator rows as ``weight``), so the "
    "outside auditor recomputes each miner's consensus distance and quality, each validator's agreement_ppb and the dissenters "
    "instead of taking them from the task; moves no money (1-31: the weights were published nowhere)",
    33: "(RULES_ESCALATION_FUNDED) what a dissenter owes for an escalation and its other validations of the epoch cannot pay is "
    "charged from its self-bond at the close (at network_validation_rate_units per validation, rounded up, at most the bond), "
    "moved to pool:network_incentives and funds the escalation, so the honest validators it drew are paid as in a first round; "
    "31-32 charged the validations only, so a bloc dissenting on every panel left its escalations short-funded (population "
    "check collusion_below_half failed, honest validators' pay per unit of work -8.4 %)",
    34: "(RULES_ESCALATION_UNBONDING) the escalation charge of rule 33 reaches, after the self-bond, the operator's own unbonding "
    "entries from its node started in the epoch being closed (oldest first), so unbonding at the epoch's last tick and "
    "cancelling after the close no longer escapes it; 33 charged the bond at the close only (attack escalation_unbond_dodge: "
    "the bloc charged nothing, honest validators' pay per unit of work -10.3 %)",
    35: "(RULES_ESCALATION_PRICED) the escalation charge of rules 33-34 prices a validation at the most a payee can be paid "
    "for it, network_validation_rate_units x reputation_multiplier_max_ppb (a bond counts (bond + entries) x 10**18 // "
    "(rate x max) validation units, the charge is ceil(units x rate x max / 10**18)), so the pool never pays part of a "
    "funded escalation; 33-34 priced it at multiplier 1.0 while the honest rows it funds are paid at their reputation "
    "multipliers (escalation_cartel: the validators stream paid +17.4 % against the twin net of the cartel's charges; under "
    "35 +2.3 %)",
    # --- rule 36 (RULES_UNOPENED_CANARY): an unopened canary judges no miner out of its consensus ---
    36: "(RULES_UNOPENED_CANARY) a task whose canary commitment the oracle did not open by canary_open_deadline_ticks "
    "settles as canary ``unopened``: any of its miners may have revealed the oracle's planted output as it was told, and "
    "the core cannot tell which without the opening, so no miner of the task counts a poi_divergence for it (settled or "
    "failed) and no miner out of its consensus has its reputation moved by it; pay, fees, the other miners' reputations "
    "and the validators' judgment follow its consensus as before (1-35: settled as no canary, so the miner that revealed "
    "the planted output as the oracle asked was judged on it: out of consensus, unpaid, its reputation lowered and a "
    "poi_divergence counted, slashed unless its allowance forgave it: attack canary_unopened)",
}
STATE_ANCHOR_RULES = 5
"""The rules from which a checkpoint may anchor a state snapshot (``core.apply.checked_state_anchor``)."""
LATEST = max(RULE_VERSIONS)
RULES_SLASHING = 4
"""Slashing that can't be dodged (core/slashing.py); earlier versions run core/slashing_first.py."""

RULES_MEASURED_TOKENS = 6  # token counts are the validators' (core/token_counts.py)
RULES_PRUNE = 10
"""Closed tasks, earlier epoch records and superseded parameter versions leave the live state after each close (core/prune.py)."""
RULES_EPOCH_DOCUMENT = 11
"""The epoch document states each input once (core/epoch_document.py): formulas and parameters per stream, bonus rows
in columns, commission lines citing their node line."""
RULES_TASK_SPREAD = 12
"""The task's PoI threshold from the validators' revealed spreads (core/spread.py); earlier: poi_max_distance_ppb."""
RULES_NEWCOMER_FLOOR = 13
"""A new node's start is never below ``reputation_newcomer_floor_ppb`` (nor above ``reputation_initial_ppb``), whatever
another node's record (staking.starting_reputation)."""
RULES_EXPOSED_STAKE = 14
"""The staking APR pays only stake exposed to work: not while the node is unselectable (``Node.idle_stake_ticks``), not a
miner serving no model with a task settled in the epoch, not a router (rewards.process_staking_apr)."""
RULES_OFFENCE_BY_TASK_EPOCH = 15
"""The allowance's window starts at the epoch before the offending task's creation (at most two epochs back)
(core/allowance.py)."""
RULES_COUNTED_IN_TASK_EPOCH = 16
"""The allowance counts a task's service and forgiveness in the task's epoch, not the judging one (core/allowance.py)."""
RULES_USER_CANARIES = 17
"""User tasks carry the oracle's canary commitment (``task.canary_commit``, core/tasks.py); a user task with a planted
output is charged for its real outputs only (core/fees.py)."""
RULES_PAID_PLANTER = 18
"""A canary's planter is paid as a typical in-consensus miner of its task (core/tasks.py ``planter_quality_ppb``)."""
RULES_ESCALATION_FROM_POOL = 19
"""An escalation draws from the validators' pool tree with the task's validators left out (tasks.draw_escalation,
selection.draw's ``excluding``); earlier: a tree built from every selectable validator, in id order."""
RULES_MIN_POSITION = 20
"""A stake position holds 0 or at least ``min_position_units`` after any change its holder makes (staking.check_position),
and ``max_entries`` counts every unbonding entry not withdrawn (staking._start_unbonding); earlier: any amount, so one key
holder with many keys made a position per base unit (attack dust_positions), and only maturing entries counted."""
RULES_BOUNTY_DEPOSIT = 21
"""A bounty's prize is at least ``bounty_min_prize_units`` and an entry deposits ``bounty_entry_deposit_units`` in the
bounty's escrow, returned to every entrant at finalize or expiry (core/bounties.py); earlier: any prize, free entries."""
RULES_BOUNTY_RETIRE = 22
"""An expired bounty and its entries leave the live state at the next epoch close's prune (core/prune.py ``BOUNTY``),
into ``pruned`` and the database; earlier: kept forever, so stored entries grew with money x time (attack bounty_churn)."""
RULES_NODE_RETIRE = 23
"""A node with nothing left (no stake, entries, live task, open session, jail or slash record, voting snapshot) leaves the
live state at the epoch close's prune (core/prune.py ``retire_nodes``), into ``pruned`` and the database; the key may
register again as a fresh node. Earlier: kept forever, so node records grew with money x time (attack node_churn)."""
RULES_SESSION_BOUND = 24
"""``session.open`` needs a first deposit of at least ``session_min_deposit_units`` (core/sessions.py), and a closed session
leaves the live state at the next epoch close's prune (core/prune.py ``retire_sessions``), into ``pruned`` and the database.
Earlier: any deposit (0 by default) and closed sessions kept forever, so sessions grew with events, not money (attack
session_spam)."""
RULES_MODEL_BOND = 25
"""``model.register`` locks ``model_listing_deposit_units`` in ``escrow:model:<id>`` (core/models.py); ``model.retire``
returns it and the retired model leaves the live state at the first epoch close's prune at which no open task names it
(core/prune.py ``retire_models``), into ``pruned`` and the database. Earlier: registration free and models kept forever,
so model records grew with events, not money (attack model_spam)."""
RULES_FINE_TUNE_RELEASE = 26
"""``model.retire`` is accepted while live fine-tunes name the model (core/models.py): the deposit comes back at once, and
the retired parent stays live while a live model names it as its parent (their royalty reads its owner), leaving at the
first close's prune at which no open task and no model staying names it (core/prune.py ``retire_models``, from
``State.fine_tune_counts``). Earlier (25): refused ``model_has_fine_tunes``, so a stranger's fine-tune held the owner's
deposit without end (attack fine_tune_hold)."""
RULES_TASK_STUB = 27
"""With pruning on, a closed task's whole record leaves the live state at the end of the event that closes it (core/prune.py
``retire_closed_tasks``), into ``pruned`` and the database, and a ``ClosedTask`` stub stays in ``State.closed_tasks`` until
the close past the window drops it (no second fold). Earlier: the whole record stayed until that close."""
RULES_SLIM_NODE_LINES = 28
"""A work stream's node and none lines carry no ``tasks`` (core/rewards.py ``_pay_stream``); a statement derives them from the
stream account's ``tasks`` and the tasks' records (core/epoch_document.py ``node_tasks``). Moves no money (no attack
scenario). Earlier: each line listed the node's in-consensus task ids (``epoch_rows.tasks_by_node`` at every close)."""
RULES_SELF_REPORT = 29
"""An equivocation's reporter is paid ``slash_reporter_bps`` of the operator's own pieces only (core/slashing.py
``own_pieces``), and an equivocation dated before a slash that jailed the node takes the operator's own positions only
(``slashing.jailed_since``). Earlier (4-28): the reporter's share was of the whole slash, every scope took every
position, so an operator reporting its own double-signs from a second key profited off its delegators (attack self_report)."""
RULES_VOTER_POWER = 29
"""The governance stream weighs each voter against all the stake that could vote (core/governance.py
``voter_reward_base``: max(Σ weights, the largest ``total_power`` of the epoch's rewarded proposals)), pays nothing for an
abstain-only proposal (``rewarded_proposals``), and ``gov.propose`` refuses a ``param_change`` to the value in force
(``param_change_no_op``). Earlier: stream x weight // Σ weights, so a quorum's stake over 4 keys took the whole stream
with a no-op proposal it abstained on (attack self_proposal)."""
RULES_UNEARNED_VALIDATOR_FEE = 30
"""When the reporting validators' agreements of a settled user task sum to 0, the validators' part of its fee goes to the
treasury (``task_fee:validators_unearned``, core/fees.py ``settle_fee``) and the user's ``task_payment`` line names it;
earlier (1-29): ``pool // number of reporting validators`` each, so validators who all failed the task's canary were paid
(attack lazy_cartel)."""
RULES_STAKE_TICKS_COMMISSION = 31
"""A node reward (work streams, APR) is all commission only when the node's stake × ticks of the epoch is 0
(core/staking.py ``has_stake_ticks``); otherwise ``commission_bps`` of it and the rest to the epoch's positions by
stake × ticks. Earlier (1-30): all commission when the node's stake AT THE CLOSE was 0, so an operator unbonding at the
last tick took its departed delegators' share (finding S1, attack last_tick_unbond)."""
RULES_COMMUNITY_RATE = 31
"""The community stream pays ``community_rate_per_point_units`` per attested point, at most ``community_member_cap_bps`` of
the stream per member, pro rata only when the claims exceed the stream; the rest stays in ``pool:network_incentives``
(core/community.py ``community_claim``). Earlier (1-30): ``stream x points // Σ points``, so one point in an otherwise
quiet epoch took the whole stream (attack community_one_point)."""
RULES_MARKETPLACE_RATE = 31
"""The marketplace stream pays each model ``marketplace_usage_rate_units`` per unit of usage (core/rewards.py
``marketplace_shares``), pro rata only when the claims exceed the budget; the rest stays in ``pool:network_incentives``.
Earlier (1-30): the whole stream by usage, so one network task of a model paid its owner the whole stream (attack
marketplace_one_task)."""
RULES_ESCALATION_PAY = 31
"""An escalation is paid by the reports that made it: an escalated network task's rows of its later rounds count at their
agreement (a whole validation, as its first round's), the rows of the validators whose report made it escalate (drawn
before its last round, dissenting from the whole panel's first medians; recorded at settlement: ``Task.dissenters``,
each row's ``dissented``) count 0, and what the escalation rows earn beyond what the first
round left of its rows' validations is cut from the dissenters' other validations of the epoch, as far as those reach
(core/epoch_rows.py ``escalation_paid``). The first round is the rows recorded in round 0 (``ValidationRow.drawn_round``), not
``validators_per_task`` at the close. Earlier (29-30, ``RULES_ESCALATION_SHARE``): the escalation rows shared what the
first round left, so a provoked escalation's honest validators were paid ~nothing for its work (attack spread_inflation)."""
RULES_PANEL_WEIGHTS = 32
"""A task whose consensus is taken (settled, or failed ``no_consensus``) on a network with a beacon records the weights it
was taken with: ``Task.panel_weights``, each reporting validator's stake (``stake_total``) at that moment, the stakes the
consensus, the agreement, the token counts, the spread and (rule 31) the dissenters weighed the reports by (core/tasks.py
``_finalize``). Published on the task view (each validator row's ``weight``), so the auditor recomputes the naming
(auditor.py ``audit_validation``). Moves no money, so no attack family. Earlier (1-31): the weights were published nowhere
and the auditor took ``agreement_ppb``, ``dissented`` and the miners' consensus from the task view unchecked."""
RULES_ESCALATION_FUNDED = 33
"""What a dissenter owes for the escalations of the epoch (``RULES_ESCALATION_PAY``) beyond what its other validations of the
epoch pay is charged from its self-bond at the close: its bond counts ``bond × 10**9 // network_validation_rate_units``
validations of capacity after its rows, the part of its debts they pay funds the escalation (its later rows count in full
as far as rows + bond reach), and ``ceil(units × rate / 10**9)`` base units move from its self-bond to
pool:network_incentives (the pool that pays the rows; the round-up, < 1 base unit, is the dissenter's), line
``escalation_unfunded`` (core/rewards.py ``charge_unfunded``). Earlier (31-32): a bloc dissenting on every panel had no
capacity, so its escalations were short-funded and the honest validators they drew did the work for ~what the first round
left (population check collusion_below_half, attack unfunded_escalation)."""
RULES_ESCALATION_UNBONDING = 34
"""The charge of ``RULES_ESCALATION_FUNDED`` reaches, after the self-bond, the operator's own unbonding entries from its node
that started in the epoch being closed (``start_tick >= epoch_start_tick``, at any tick of the epoch, the previous close's
tick included; entries by id, oldest first; core/rewards.py ``reachable_unbonding``): they count in its capacity
(``(bond + Σ entries) × 10**9 // rate``) and pay what the bond cannot, each entry's ``amount`` shrinking by its piece
(unbonding:<operator> → pool:network_incentives, the same ``escalation_unfunded`` line, which names the pieces). Slashing
reaches the same kind of stake (entries started after the offence). The operator's self-bond cannot be redelegated
(``stake.redelegate`` refuses ``self_delegation``), so no redelegation is reached. Earlier (33): only the bond at the close
was charged, so a dissenter that unbonded its bond at the epoch's last tick and cancelled the entry after the close was
charged nothing (attack escalation_unbond_dodge: honest validators' pay per unit of work -10.3 %)."""
RULES_ESCALATION_PRICED = 35
"""The charge of ``RULES_ESCALATION_FUNDED`` (and ``RULES_ESCALATION_UNBONDING``'s reach) prices one whole validation at
``network_validation_rate_units × reputation_multiplier_max_ppb / 10**9`` base units, the most the stream can pay an honest
row it funds (the multipliers themselves are computed after ``escalation_paid`` runs, so the bound, not the payees'
actual multipliers): a bond and its reachable entries count ``(bond + Σ entries) × 10**18 // (rate × max)`` validation
units and the charge is ``ceil(units × rate × max / 10**18)`` (core/rewards.py ``EscalationPrice``); what the dissenter
pays beyond its payees' multipliers (at most max / actual − 1) stays in pool:network_incentives, nothing is burned.
Earlier (33-34): at multiplier 1.0, ``bond × 10**9 // rate`` and ``ceil(units × rate / 10**9)``, so the pool still paid
part of every funded escalation, the payees being paid at their reputation multipliers (the validators stream net of the
bond charges against the honest twin, ``stream_net_excess``, seeds 1-5: escalation_cartel +17.39 %, under 35 +2.34 %;
unfunded_escalation +6.41 %, under 35 +1.99 %)."""
RULES_UNOPENED_CANARY = 36
"""A task left in AUDITING past ``canary_open_deadline_ticks`` (its commitment not opened) settles with ``canary =
"unopened"`` (core/tasks.py ``_finalize``): its out-of-consensus miners count no ``poi_divergence`` (in a settled or a
failed task) and their reputations do not move for it, since the planter, if the oracle planted, is one of them and the
core cannot tell which without the opening; the in-consensus miners, the pay and the validators are judged as before.
Earlier (1-35): settled as no canary, so the miner told to plant was out of consensus, unpaid, its reputation lowered
and counted a ``poi_divergence`` (attack canary_unopened)."""
RULES_ESCALATION_SHARE = 29
"""A network task's validations are paid once: its first ``validators_per_task`` rows (draw order) count at their agreement,
the later ones (escalation rounds) at ``min(agreement, left // L)`` of what the first left of ``validators_per_task`` whole
validations (core/epoch_rows.py ``escalation_shared``, rewards.VALIDATOR_STREAM); the gates read the agreement as before.
Earlier: every round's rows earned in full, so a manufactured escalation doubled the task's paid validations (attack
escalation_cartel)."""

RULES_NETWORK_PROMPTS = 9  # network prompts are composed by the beacon from the genesis prompt set (core/network_prompts.py)

RULES_OFFENCE_ALLOWANCE = 7
"""Counted offences within the served-work allowance are forgiven (core/allowance.py); a new node starts never above a
recently slashed node of its role (staking.starting_reputation)."""
RULES_MOVING_LIMITS = 8
"""Exact spared-penalty share on cancel_unbond; ``max_entries`` unbonding / redelegation entries (core/redelegation.py)."""


def rules_since(p: Params, version: int) -> bool:
    """Whether the rules of ``version`` (or a later one) are in force under the parameters ``p``."""
    return p.rule_version >= version
