"""Closed epochs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path

from .deps import Service, errors, ok
from .schemas import ChainEpochsOut, EpochOut

router = APIRouter(tags=["reads"])

MAX_EPOCH = 2**53 - 1


@router.get(
    "/v1/epochs/{n}",
    summary="A closed epoch",
    response_model=None,
    description="Totals by stream, the Merkle root of claimable rewards, and every statement item.",
    responses={**ok(EpochOut, "The epoch."), **errors(404, 409)},
)
def epoch(svc: Service, n: int = Path(..., ge=0, le=MAX_EPOCH, description="Epoch number.")) -> dict[str, Any]:
    return svc.epoch(n)


@router.get(
    "/v1/chain/epochs",
    summary="Every closed epoch's payout path and on-chain record",
    response_model=None,
    description="For each closed epoch, oldest first: its root, claimable total and status — `no_leaves`, `offchain` "
    "(leaves paid by `reward.claim`), `posting` or `posted` (moved to an EVM chain: the RewardsDistributor "
    "pays its leaves, with the log anchor, transaction hash and block).",
    responses={**ok(ChainEpochsOut, "The epochs."), **errors(409)},
)
def chain_epochs(svc: Service) -> dict[str, Any]:
    return svc.chain_epochs()
