"""The HTTP floor of ``ingest_http_*``: a bare FastAPI app that parses a command body and answers.

``POST /v1/commands`` reads the same JSON body as ``cor serve`` (``payload``, ``signature``) and
returns a small receipt-shaped object without checking, applying or storing anything. It is served
by uvicorn with the same settings as ``cor serve``, so the difference between the two is what the
engine (signature check, core, database) and its API layer cost per command.
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel


class SignedCommand(BaseModel):
    payload: str
    signature: str


app = FastAPI()


@app.post("/v1/commands")
def submit(body: SignedCommand) -> dict[str, object]:
    return {"seq": 0, "kind": "echo", "bytes": len(body.payload)}


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
