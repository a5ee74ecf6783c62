"""Content-addressed blobs: prompts and outputs, stored under their sha256."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from .deps import Service, errors, ok
from .schemas import BlobOut
from .service import MAX_BLOB_BYTES

router = APIRouter(tags=["blobs"])

HASH_PATTERN = r"^0x[0-9a-fA-F]{64}$"
BINARY = "application/octet-stream"

PUT_DESCRIPTION = f"""\
Store raw bytes (a prompt, a miner's output) under `0x` + their sha256, and return that hash.

The body is the bytes themselves (`Content-Type: {BINARY}`), 1 to {MAX_BLOB_BYTES} bytes
({MAX_BLOB_BYTES // 1024} KiB). Idempotent: the same bytes always land at the same hash. Not signed: the
hash is the identity, and events (signed) only ever refer to blobs by hash.
"""


@router.put(
    "/v1/blobs",
    summary="Store a blob",
    description=PUT_DESCRIPTION,
    response_model=None,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {BINARY: {"schema": {"type": "string", "format": "binary", "minLength": 1, "maxLength": MAX_BLOB_BYTES}}},
        }
    },
    responses={**ok(BlobOut, "Stored (or already there)."), **errors(400, 413)},
)
async def put_blob(request: Request, svc: Service) -> dict[str, Any]:
    data = await request.body()
    return await run_in_threadpool(svc.put_blob, data)


@router.get(
    "/v1/blobs/{blob_hash}",
    summary="Fetch a blob",
    response_class=Response,
    description="The raw bytes stored under this sha256.",
    responses={200: {"content": {BINARY: {"schema": {"type": "string", "format": "binary"}}}, "description": "The bytes."}, **errors(404)},
)
def get_blob(svc: Service, blob_hash: str = Path(..., pattern=HASH_PATTERN, description="0x + sha256 hex.")) -> Response:
    return Response(svc.get_blob(blob_hash), media_type=BINARY, headers={"Cache-Control": "public, max-age=31536000, immutable"})
