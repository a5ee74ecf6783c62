"""Commands: submit a signed command; the next nonce of an address; the chain and its signing scheme."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request

from .deps import Service, errors, ok
from .schemas import ADDRESS_PATTERN, ChainOut, CommandIn, NonceOut, ReceiptOut

router = APIRouter(tags=["commands"])

SUBMIT_DESCRIPTION = """\
Append one signed command to the event log.

The body carries the command as **canonical JSON text** (`payload`) and an **EIP-191 `personal_sign`
signature** of exactly those bytes by the command's `actor` (`signature`). The command is
`{"chain_id", "kind", "actor", "nonce", "body"}`: keys sorted, no whitespace, ASCII only, integers
below 2**53, amounts as decimal strings of base units (1 COR = 10**18). `chain_id` and the signing
rules come from `GET /v1/chain`; the next `nonce` from `GET /v1/nonce/{address}` (any nonce above the
last accepted one is accepted, each at most once).

Full rules and a complete ethers.js v6 / viem example: [docs/signing.md](docs/signing.md) in the
cor-incentives repository.

A rejected command changes nothing and returns `{"error": code, "message": ...}`: 400 malformed or
non-canonical payload or unknown kind, 401 bad signature / signer is not the actor / wrong chain,
409 nonce already used or the command is not allowed in the current state, 422 the request body
is not `{payload, signature}`.
"""


@router.post(
    "/v1/commands",
    summary="Submit a signed command",
    description=SUBMIT_DESCRIPTION,
    response_model=None,
    responses={**ok(ReceiptOut, "The command was accepted: its place in the log."), **errors(400, 401, 404, 409, 413)},
)
def submit_command(command: CommandIn, request: Request, svc: Service) -> dict[str, Any]:
    receipt = svc.submit(command.payload, command.signature)
    request.state.seq = receipt.seq
    return receipt.to_dict()


@router.get(
    "/v1/nonce/{address}",
    summary="Next nonce of an address",
    response_model=None,
    description="The nonce to put in the address's next command: its last accepted nonce + 1.",
    responses={**ok(NonceOut, "The next nonce."), **errors(400, 409)},
)
def next_nonce(svc: Service, address: str = Path(..., pattern=ADDRESS_PATTERN, description="0x address (any case).")) -> dict[str, Any]:
    return svc.next_nonce(address)


@router.get(
    "/v1/chain",
    summary="Chain id, log head and signing scheme",
    response_model=None,
    description="What a client needs to sign a command: the chain id, the kinds accepted, and the signing rules.",
    responses={**ok(ChainOut, "The chain."), **errors(409)},
)
def chain(svc: Service) -> dict[str, Any]:
    return svc.chain()
