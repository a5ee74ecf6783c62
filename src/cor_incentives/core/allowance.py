"""The counted-offence allowance: an honest node's isolated misses cost nothing (docs/rewards.md "Slashing").

From rule version 7 (``RULES_OFFENCE_ALLOWANCE``). PoI's consensus puts about 2 % of honest outputs
out of consensus (docs/poi-calibration.md), and from rule version 4 every counted offence is slashed
at once, so honest miners paid for the measure's false positives. A counted offence
(``poi_divergence``, ``missed_deadline``, ``validator_deviation``) is *forgiven* — not slashed, its
evidence marked used so it is never slashed later — while

    forgiven (this epoch and the one before) < floor(served (this epoch and the one before) × offence_allowance_bps / 10 000)

``served`` counts the tasks the node served well: as a miner, a settled task whose output it
committed and revealed and that was in consensus; as a validator, a task it reported on without a
counted offence. The allowance is earned by useful work only, so a node that serves nothing well
(garbage, offline) has none, and splitting a node's work over several keys never raises it:
Σ floor(sᵢ × a) ≤ floor(Σ sᵢ × a). The window is two epochs so an offence early in an epoch can use
the allowance earned in the one before; nothing older carries over, so a node cannot bank a long
record and spend it on a burst. The task an offence is about still pays nothing: a forgiven offence
only saves the fixed penalty.

From rule version 15 (``RULES_OFFENCE_BY_TASK_EPOCH``) an offence is judged by its task's epoch: for a task created
in epoch e and judged in epoch E, the window is epochs max(e − 1, E − 2) … E, so a judgment pushed past an epoch close
(a validator's dissent escalates the task; the draw waits for the next beacon value) keeps the allowance the node had
when the task began. The node keeps a third pair of counters (``served_prev2``, ``forgiven_prev2``); the look-back is
capped at two epochs before the judgment, so a node still cannot bank an old record. Before 15 the window is always
E − 1 … E.

From rule version 16 (``RULES_COUNTED_IN_TASK_EPOCH``) what a task adds is counted in its task's epoch: a task created
in epoch e and settled in epoch E > e adds its served-well count and its forgiveness to the counters of epoch e
(``*_prev`` for e = E − 1, ``*_prev2`` for e ≤ E − 2). Before 16 both went to epoch E, so a late-judged forgiveness stayed
in the window one epoch longer than its task and could use up the allowance a later miss needed (measured with the
``late_judgement`` simulation: 1 honest slash in seeds 1–5, 3 in seeds 1–20, 7 at miss_rate_bps 200).
"""

from __future__ import annotations

from .records import Node
from .rules import RULES_COUNTED_IN_TASK_EPOCH, RULES_OFFENCE_ALLOWANCE, RULES_OFFENCE_BY_TASK_EPOCH, rules_since
from .state import State
from .units import BPS


def counters(state: State, node: Node) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """The node's counters as of the current epoch E, reads only: (served in E, E − 1, E − 2), (forgiven in E, E − 1,
    E − 2). The E − 2 pair is kept from rule version 15 on (0 before)."""
    held = (node.served, node.served_prev, node.served_prev2), (node.forgiven, node.forgiven_prev, node.forgiven_prev2)
    lag = state.epoch - node.allowance_epoch
    if lag <= 0:
        return held
    if lag > 2:
        return (0, 0, 0), (0, 0, 0)
    three = rules_since(state.params, RULES_OFFENCE_BY_TASK_EPOCH)

    def shift(c: tuple[int, int, int]) -> tuple[int, int, int]:
        moved = (0, c[0], c[1]) if lag == 1 else (0, 0, c[0])
        return moved if three else (moved[0], moved[1], 0)

    return shift(held[0]), shift(held[1])


def window(state: State, node: Node) -> tuple[int, int, int, int]:
    """The node's counters as of the current epoch: (served, served_prev, forgiven, forgiven_prev); reads only."""
    served, forgiven = counters(state, node)
    return served[0], served[1], forgiven[0], forgiven[1]


def _window(state: State, node: Node) -> None:
    """Move the node's counters to the current epoch (what the epoch before counted becomes ``*_prev``; from rule version
    15 what it held as ``*_prev`` becomes ``*_prev2``)."""
    if node.allowance_epoch != state.epoch:
        served, forgiven = counters(state, node)
        node.served, node.served_prev, node.forgiven, node.forgiven_prev = served[0], served[1], forgiven[0], forgiven[1]
        if rules_since(state.params, RULES_OFFENCE_BY_TASK_EPOCH):
            node.served_prev2, node.forgiven_prev2 = served[2], forgiven[2]
        node.allowance_epoch = state.epoch


def allowance(state: State, node: Node, task_epoch: int | None = None) -> int:
    """Counted offences the node may still have forgiven: floor(served × offence_allowance_bps / 10 000) − forgiven, over
    the window (reads only): this epoch and the one before; from rule version 15, for an offence about a task created in
    ``task_epoch``, epochs max(task_epoch − 1, E − 2) … E."""
    served, forgiven = counters(state, node)
    back = 2 if task_epoch is not None and task_epoch < state.epoch and rules_since(state.params, RULES_OFFENCE_BY_TASK_EPOCH) else 1
    earned = sum(served[: back + 1]) * state.params.offence_allowance_bps // BPS
    return max(0, earned - sum(forgiven[: back + 1]))


def counting_epoch_age(state: State, task_epoch: int | None) -> int:
    """How many epochs before the current one a task created in ``task_epoch`` is counted (0 = this epoch, 1 = the one
    before, 2 = two before): from rule version 16 its epoch's, capped at 2 (the oldest counter kept); before, always 0."""
    if task_epoch is None or not rules_since(state.params, RULES_COUNTED_IN_TASK_EPOCH):
        return 0
    return min(max(state.epoch - task_epoch, 0), 2)


SERVED = ("served", "served_prev", "served_prev2")
FORGIVEN = ("forgiven", "forgiven_prev", "forgiven_prev2")
"""A node's counters by age: this epoch, the one before, two before."""


def _count(state: State, node: Node, counters_by_age: tuple[str, str, str], task_epoch: int | None) -> None:
    """Add 1 to the counter of the epoch a task of ``task_epoch`` is counted in, once the counters are moved to the
    current epoch."""
    _window(state, node)
    name = counters_by_age[counting_epoch_age(state, task_epoch)]
    setattr(node, name, getattr(node, name) + 1)


def count_served(state: State, node_id: str, task_epoch: int | None = None) -> None:
    """The node served a task (created in ``task_epoch``) well (rule version 7 on; nothing is counted before)."""
    if not rules_since(state.params, RULES_OFFENCE_ALLOWANCE):
        return
    _count(state, state.nodes[node_id], SERVED, task_epoch)


def forgive(state: State, node_id: str, task_epoch: int | None = None) -> bool:
    """Forgive one counted offence of ``node_id`` (about a task created in ``task_epoch``) if its allowance has room (rule
    version 7 on); whether it did. From rule version 16 the forgiveness is counted in the task's epoch."""
    if not rules_since(state.params, RULES_OFFENCE_ALLOWANCE):
        return False
    node = state.nodes[node_id]
    if allowance(state, node, task_epoch) <= 0:
        return False
    _count(state, node, FORGIVEN, task_epoch)
    return True
