"""Nodes: the list (with each node's record, sortable), one node in detail, and the earnings estimator."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Path, Query

from ..app.chooser import DEFAULT_WINDOW_EPOCHS, MAX_NODE_PAGE, MAX_WINDOW_EPOCHS, NODE_PAGE
from ..core.errors import InvalidInput
from ..core.units import parse_cor
from .deps import Service, errors, ok
from .schemas import ADDRESS_PATTERN, EstimateOut, NodeDetailOut, NodesOut

router = APIRouter(tags=["reads"])

WINDOW = Query(DEFAULT_WINDOW_EPOCHS, ge=1, le=MAX_WINDOW_EPOCHS, description="The last N closed epochs the record is taken over.")


@router.get(
    "/v1/nodes",
    summary="The nodes, with their records",
    response_model=None,
    description="Every registered node with its role, self-bond, total stake, commission and state, and its record over the last "
    "`window` closed epochs: realised delegator yield after commission (`delegator_yield_ppb` per epoch, `delegator_apr_bps`), "
    "consensus rate, missed deadlines, recent slashes, jail, and `warnings` for a delegator. Ordered by id, or best first by `sort`. "
    "`state=retired` lists the nodes that retired under rule 23 (each key's last record, read from the database, state `retired`; "
    "a key that registered again is live), `state=all` both; these come a page at a time by address (`limit`, default 100; "
    "`next_after_id` is the `after_id` of the next page) and take no `sort`. The default, `state=live` without `limit` or "
    "`after_id`, is every live node in one answer, as before.",
    responses={**ok(NodesOut, "The nodes."), **errors(400, 409)},
)
def nodes(
    svc: Service,
    role: Literal["miner", "validator", "router"] | None = Query(None, description="Only nodes of this role."),
    sort: Literal["yield", "stake", "consensus"] | None = Query(None, description="Best first: delegator yield, total stake or consensus rate."),
    window: int = WINDOW,
    state: Literal["live", "retired", "all"] = Query("live", description="Live nodes (the default), retired ones (rule 23) or all."),
    limit: int | None = Query(
        None, ge=1, le=MAX_NODE_PAGE, description=f"At most this many nodes (default: every live node; {NODE_PAGE} for retired or all)."
    ),
    after_id: str | None = Query(None, pattern=ADDRESS_PATTERN, description="Only nodes with a larger address (pass `next_after_id`)."),
) -> dict[str, Any]:
    return svc.nodes(role, sort, window, state, limit, after_id)


@router.get(
    "/v1/nodes/{node_id}",
    summary="One node in detail",
    response_model=None,
    description="A node with its delegations, stake positions, unbonding entries, the slashes it received (each with its evidence), "
    "its record over the last `window` closed epochs and its offence counters under the rules in force (`offences`).",
    responses={**ok(NodeDetailOut, "The node."), **errors(400, 404, 409)},
)
def node(svc: Service, node_id: str = Path(..., pattern=ADDRESS_PATTERN, description="The node's address."), window: int = WINDOW) -> dict[str, Any]:
    return svc.node(node_id, window)


@router.get(
    "/v1/estimate",
    summary="Expected COR per epoch for a stake",
    response_model=None,
    description="Either `role` (miner or validator) and `self_bond`: a new node's expected rewards; or `node` and `amount`: a "
    "delegation's expected rewards after commission. From the last `window` closed epochs, with the formula and the assumptions "
    "stated in the answer. Amounts are COR decimal strings.",
    responses={**ok(EstimateOut, "The estimate."), **errors(400, 404, 409)},
)
def estimate(
    svc: Service,
    role: Literal["miner", "validator"] | None = Query(None, description="Estimate for a new node of this role (with `self_bond`)."),
    self_bond: str | None = Query(None, max_length=80, description="COR the new node bonds, e.g. `5000`."),
    node: str | None = Query(None, pattern=ADDRESS_PATTERN, description="Estimate for a delegation to this node (with `amount`)."),
    amount: str | None = Query(None, max_length=80, description="COR to delegate, e.g. `250.5`."),
    window: int = WINDOW,
) -> dict[str, Any]:
    if role is not None and self_bond is not None and node is None and amount is None:
        return svc.estimate_operator(role, parse_cor(self_bond), window)
    if node is not None and amount is not None and role is None and self_bond is None:
        return svc.estimate_delegation(node, parse_cor(amount), window)
    raise InvalidInput("give either role and self_bond (a new node) or node and amount (a delegation)", code="invalid_estimate")
