"""Nodes: the list and one node in detail."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Path, Query

from .deps import Service, errors, ok
from .schemas import ADDRESS_PATTERN, NodeDetailOut, NodesOut

router = APIRouter(tags=["reads"])


@router.get(
    "/v1/nodes",
    summary="Every node",
    response_model=None,
    description="Every registered node with its role, self-bond, total stake, commission and state, ordered by id.",
    responses={**ok(NodesOut, "The nodes."), **errors(409)},
)
def nodes(svc: Service, role: Literal["miner", "validator", "router"] | None = Query(None, description="Only nodes of this role.")) -> dict[str, Any]:
    return svc.nodes(role)


@router.get(
    "/v1/nodes/{node_id}",
    summary="One node in detail",
    response_model=None,
    description="A node with its delegations and the slashes it received.",
    responses={**ok(NodeDetailOut, "The node."), **errors(400, 404, 409)},
)
def node(svc: Service, node_id: str = Path(..., pattern=ADDRESS_PATTERN, description="The node's address.")) -> dict[str, Any]:
    return svc.node(node_id)
