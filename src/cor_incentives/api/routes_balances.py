"""Balances of an address."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path

from .deps import Service, errors, ok
from .schemas import ADDRESS_PATTERN, BalanceOut

router = APIRouter(tags=["reads"])


@router.get(
    "/v1/balances/{address}",
    summary="Every account of an address",
    response_model=None,
    description="Wallet, stake and delegations, unbonding, claimable: in COR and in base units; unbonding entries; last nonce.",
    responses={**ok(BalanceOut, "The accounts (empty for an address the log has never seen)."), **errors(400, 409)},
)
def balance(svc: Service, address: str = Path(..., pattern=ADDRESS_PATTERN, description="0x address (any case).")) -> dict[str, Any]:
    return svc.balance(address)
