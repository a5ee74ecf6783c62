"""Governance: proposals with their tallies, and the parameters in force with their history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path

from .deps import Service, errors, ok
from .schemas import ParamsOut, ProposalOut, ProposalsOut

router = APIRouter(tags=["governance"])

MAX_ID = 2**53 - 1


@router.get(
    "/v1/proposals",
    summary="Every proposal",
    response_model=None,
    description="Every governance proposal with its votes and tally (live while voting), ordered by id.",
    responses={**ok(ProposalsOut, "The proposals."), **errors(409)},
)
def proposals(svc: Service) -> dict[str, Any]:
    return svc.proposals()


@router.get(
    "/v1/proposals/{proposal_id}", summary="One proposal", response_model=None, responses={**ok(ProposalOut, "The proposal."), **errors(404, 409)}
)
def proposal(svc: Service, proposal_id: int = Path(..., ge=0, le=MAX_ID, description="Proposal id.")) -> dict[str, Any]:
    return svc.proposal(proposal_id)


@router.get(
    "/v1/params",
    summary="Parameters in force and their history",
    response_model=None,
    description="What `cor gov params --json` prints: the parameters in force, their bounds and documentation, "
    "every version with the epoch it applies from, and the controllers' settings.",
    responses={**ok(ParamsOut, "The parameters."), **errors(409)},
)
def params(svc: Service) -> dict[str, Any]:
    return svc.params()
