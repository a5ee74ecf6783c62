"""Nodes: the list (with each node's record, sortable), one node in detail, and the earnings estimator."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Path, Query

from ..app.chooser import DEFAULT_WINDOW_EPOCHS, MAX_WINDOW_EPOCHS
from ..core.errors import InvalidInput
from ..core.units import parse_cor
from .deps import Service, errors, ok
from .schemas import ADDRESS_PATTERN, EstimateOut, NodeDetailOut, NodesOut

router = APIRouter(tags=["reads"])

WINDOW = Query(DEFAULT_WINDOW_EPOCHS, ge=1, le=MAX_WINDOW_EPOCHS, description="The last N closed epochs the record is taken over.")


@router.get(
    "/v1/nodes",
    summary="Every node, with its record",
    response_model=None,
    description="Every registered node with its role, self-bond, total stake, commission and state, and its record over the last "
    "`window` closed epochs: realised delegator yield after commission (`delegator_yield_ppb` per epoch, `delegator_apr_bps`), "
    "consensus rate, missed deadlines, recent slashes, jail, and `warnings` for a delegator. Ordered by id, or best first by `sort`.",
    responses={**ok(NodesOut, "The nodes."), **errors(400, 409)},
)
def nodes(
    svc: Service,
    role: Literal["miner", "validator", "router"] | None = Query(None, description="Only nodes of this role."),
    sort: Literal["yield", "stake", "consensus"] | None = Query(None, description="Best first: delegator yield, total stake or consensus rate."),
    window: int = WINDOW,
) -> dict[str, Any]:
    return svc.nodes(role, sort, window)


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
