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
"""

from __future__ import annotations

from .records import Node
from .rules import RULES_OFFENCE_ALLOWANCE, rules_since
from .state import State
from .units import BPS


def window(state: State, node: Node) -> tuple[int, int, int, int]:
    """The node's counters as of the current epoch: (served, served_prev, forgiven, forgiven_prev); reads only."""
    if node.allowance_epoch == state.epoch:
        return node.served, node.served_prev, node.forgiven, node.forgiven_prev
    if node.allowance_epoch == state.epoch - 1:
        return 0, node.served, 0, node.forgiven
    return 0, 0, 0, 0


def _window(state: State, node: Node) -> None:
    """Move the node's counters to the current epoch (what the epoch before counted becomes ``*_prev``)."""
    if node.allowance_epoch != state.epoch:
        node.served, node.served_prev, node.forgiven, node.forgiven_prev = window(state, node)
        node.allowance_epoch = state.epoch


def allowance(state: State, node: Node) -> int:
    """Counted offences the node may still have forgiven: floor(served × offence_allowance_bps / 10 000) − forgiven, over the window (reads only)."""
    served, served_prev, forgiven, forgiven_prev = window(state, node)
    earned = (served + served_prev) * state.params.offence_allowance_bps // BPS
    return max(0, earned - forgiven - forgiven_prev)


def count_served(state: State, node_id: str) -> None:
    """The node served a task well (rule version 7 on; nothing is counted before)."""
    if not rules_since(state.params, RULES_OFFENCE_ALLOWANCE):
        return
    node = state.nodes[node_id]
    _window(state, node)
    node.served += 1


def forgive(state: State, node_id: str) -> bool:
    """Forgive one counted offence of ``node_id`` if its allowance has room (rule version 7 on); whether it did."""
    if not rules_since(state.params, RULES_OFFENCE_ALLOWANCE):
        return False
    node = state.nodes[node_id]
    if allowance(state, node) <= 0:
        return False
    _window(state, node)
    node.forgiven += 1
    return True
