"""Reward statements and claim proofs of an address in a closed epoch."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query

from .deps import Service, errors, ok
from .schemas import ADDRESS_PATTERN, ProofOut, RewardsOut, StatementOut

router = APIRouter(tags=["rewards"])

MAX_EPOCH = 2**53 - 1


@router.get(
    "/v1/statements/{address}",
    summary="Rewards of an address across epochs",
    response_model=None,
    description="Every closed epoch (from `from_epoch` on) in which the address earned or can claim something: the "
    "statement total, the claimable leaf, whether it was claimed and where it is paid (`engine`: `reward.claim`; "
    "`evm`: the distributor), every line item with its epoch, and the epochs still unclaimed in the engine.",
    responses={**ok(RewardsOut, "The rewards (no epochs: nothing earned yet)."), **errors(409)},
)
def rewards(
    svc: Service,
    address: str = Path(..., pattern=ADDRESS_PATTERN, description="0x address (any case)."),
    from_epoch: int = Query(0, ge=0, le=MAX_EPOCH, description="Only epochs from this one on."),
) -> dict[str, Any]:
    return svc.rewards(address, from_epoch)


@router.get(
    "/v1/statements/{address}/{epoch}",
    summary="Reward statement of an address in an epoch",
    response_model=None,
    description="Every line item of the address in a closed epoch: stream, amount, the formula with its inputs and "
    "the parameters in force, slashes with their evidence, fees; what is claimable and whether it was claimed.",
    responses={**ok(StatementOut, "The statement (no items: the address earned nothing that epoch)."), **errors(404, 409)},
)
def statement(
    svc: Service,
    address: str = Path(..., pattern=ADDRESS_PATTERN, description="0x address (any case)."),
    epoch: int = Path(..., ge=0, le=MAX_EPOCH, description="A closed epoch."),
) -> dict[str, Any]:
    return svc.statement(address, epoch)


@router.get(
    "/v1/proofs/{address}/{epoch}",
    summary="Merkle proof of a claimable reward",
    response_model=None,
    description="The proof of the leaf (address, epoch, amount) under the epoch's root (OpenZeppelin StandardMerkleTree: "
    "keccak256, double-hashed abi-encoded leaves, sorted pairs): sign `reward.claim` with it.",
    responses={**ok(ProofOut, "The proof."), **errors(404, 409)},
)
def proof(
    svc: Service,
    address: str = Path(..., pattern=ADDRESS_PATTERN, description="0x address (any case)."),
    epoch: int = Path(..., ge=0, le=MAX_EPOCH, description="A closed epoch."),
) -> dict[str, Any]:
    return svc.proof(address, epoch)
