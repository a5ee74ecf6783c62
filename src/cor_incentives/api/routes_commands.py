"""Commands: submit a signed command; the next nonce of an address; the chain and its signing scheme."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ValidationError

from ..app.engine import Receipt
from ..core.errors import EngineError, InvalidInput
from ..core.events import parse_json
from .deps import Service, errors, ok
from .middleware import MAX_BODY_BYTES
from .schemas import ADDRESS_PATTERN, MAX_COMMANDS_PER_BATCH, BatchOut, ChainOut, CommandBatchIn, CommandIn, NonceOut, ReceiptOut
from .service import ApiService

if TYPE_CHECKING:
    from .writer_link import WriterLink

router = APIRouter(tags=["commands"])

SUBMIT_DESCRIPTION = """\
Append one signed command to the event log.

The body carries the command as **canonical JSON text** (`payload`) and an **EIP-191 `personal_sign`
signature** of exactly those bytes by the command's `actor` (`signature`). The command is
`{"chain_id", "kind", "actor", "nonce", "body"}`: keys sorted, no whitespace, ASCII only, integers
below 2**53, amounts as decimal strings of base units (1 COR = 10**18). `chain_id` and the signing
rules come from `GET /v1/chain`; the next `nonce` from `GET /v1/nonce/{address}` (any nonce above the
last accepted one, by at most 1 000 000, is accepted, each at most once).

Full rules and a complete ethers.js v6 / viem example: [docs/signing.md](docs/signing.md) in the
cor-incentives repository.

Every kind has one exact body schema (`GET /v1/chain` lists them): unknown fields, wrong types,
amounts that are not ASCII digits without leading zeros, addresses that are neither lower case nor
valid EIP-55, and bodies nested deeper than 8 levels are refused. The signature must be in its one
canonical encoding (lower-case hex, low s, v = 27 or 28), and a nonce may run at most 1 000 000 past
the last accepted one.

A rejected command changes nothing and returns `{"error": code, "message": ...}`: 400 malformed,
non-canonical or over-deep payload, a body that does not fit its kind's schema, or unknown kind;
401 bad signature / signer is not the actor / wrong chain, 409 nonce already used or the command is
not allowed in the current state, 413 too large, 422 the request body is not `{payload, signature}`.
"""


class InvalidRequest(InvalidInput):
    """The request body is not ``{payload, signature}`` with two strings."""

    code = "invalid_request"
    http_status = 422


def parse_command_request(raw: bytes) -> CommandIn:
    """The request body as ``CommandIn``: size and nesting bounded before any parsing, then exactly two strings."""
    return _parse(raw, CommandIn, "{payload, signature} with two strings")


def parse_batch_request(raw: bytes) -> CommandBatchIn:
    """The request body as ``CommandBatchIn``: ``{"commands": [{payload, signature}, …]}``, 1 to 256 of them."""
    return _parse(raw, CommandBatchIn, f"{{commands: [{{payload, signature}}, …]}} with 1 to {MAX_COMMANDS_PER_BATCH} commands")


M = TypeVar("M", bound=BaseModel)


def _parse(raw: bytes, model: type[M], shape: str) -> M:
    try:
        obj = parse_json(raw, max_bytes=MAX_BODY_BYTES)
    except InvalidInput as exc:
        raise InvalidRequest(f"the body must be JSON {shape}: {exc.message} ({exc.code})", code="invalid_request") from None
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())) or 'body'}: {e.get('msg', '')}" for e in exc.errors()[:5])
        raise InvalidRequest(f"the body must be {shape}: {problems}", code="invalid_request") from None


@router.post(
    "/v1/commands",
    summary="Submit a signed command",
    description=SUBMIT_DESCRIPTION,
    response_model=None,
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": CommandIn.model_json_schema()}}}},
    responses={**ok(ReceiptOut, "The command was accepted: its place in the log."), **errors(400, 401, 404, 409, 413)},
)
async def submit_command(request: Request, svc: Service) -> dict[str, Any] | Response:
    if svc.writer_link is not None:  # a read worker (reached here only past the ingress, e.g. under a root path)
        return await forwarded(svc.writer_link, "/v1/commands", await request.body())
    receipt = await submit_one(svc, await request.body())
    request.state.seq = receipt.seq
    return receipt.to_dict()


async def submit_one(svc: ApiService, raw: bytes) -> Receipt:
    """``POST /v1/commands`` on its request body (also served by api/ingress.py): the receipt, or the EngineError refusing it."""
    command = parse_command_request(raw)
    return await svc.submit_async(command.payload, command.signature)


BATCH_DESCRIPTION = f"""\
Append up to {MAX_COMMANDS_PER_BATCH} signed commands with one request: `{{"commands": [{{payload, signature}}, …]}}`,
each command exactly as for `POST /v1/commands`.

Each command is accepted or refused **on its own**, as if it had been posted alone, in the order
given (so one actor's consecutive nonces can travel together): a refused command changes nothing
and never fails the others. The answer is 200 with one result per command, in request order:
`{{"index", "status": 200, "receipt": {{seq, hash, …}}}}` when accepted, else
`{{"index", "status", "error", "message"}}` with the status and code the command would have got alone
(400, 401, 404, 409, 413; 503 `database_unavailable` when its writer transaction failed: retry it).
A body that is not this shape is refused whole (422 `invalid_request`, nothing applied); the body is
at most 512 KiB (413).
"""


@router.post(
    "/v1/commands:batch",
    summary="Submit several signed commands",
    description=BATCH_DESCRIPTION,
    response_model=None,
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": CommandBatchIn.model_json_schema()}}}},
    responses={**ok(BatchOut, "Per-command outcomes, in request order."), **errors(413)},
)
async def submit_commands(request: Request, svc: Service) -> dict[str, Any] | Response:
    if svc.writer_link is not None:
        return await forwarded(svc.writer_link, "/v1/commands:batch", await request.body())
    return await submit_many(svc, await request.body())


async def forwarded(link: WriterLink, path: str, raw: bytes) -> Response:
    """The writer's answer to a request body a read worker forwards (api/writer_link.py), as it sent it."""
    answer = await link.forward(path, raw)
    response = Response(answer.body, status_code=answer.status)
    response.raw_headers = answer.headers
    return response


async def submit_many(svc: ApiService, raw: bytes) -> dict[str, Any]:
    """``POST /v1/commands:batch`` on its request body (also served by api/ingress.py): one result per command, in order."""
    batch = parse_batch_request(raw)
    return batch_results(await svc.submit_many_async([(c.payload, c.signature) for c in batch.commands]))


def batch_results(outcomes: list[Receipt | EngineError]) -> dict[str, Any]:
    """The batch route's answer body: one result per command, in order, and the counts."""
    results: list[dict[str, Any]] = []
    for i, outcome in enumerate(outcomes):
        if isinstance(outcome, EngineError):
            results.append({"index": i, "status": outcome.http_status, **outcome.to_dict()})
        else:
            results.append({"index": i, "status": 200, "receipt": outcome.to_dict()})
    accepted = sum(1 for r in results if r["status"] == 200)
    return {"results": results, "accepted": accepted, "rejected": len(results) - accepted}


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
