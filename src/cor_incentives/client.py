"""A Python client of the REST API (``cor serve``).

    from cor_incentives.client import CorClient
    with CorClient("http://127.0.0.1:8545", private_key="0x…") as c:
        receipt = c.submit("transfer", {"to": "0x…", "amount": str(12 * 10**18)})
        c.balance(c.address)

``submit`` fetches the chain id (once) and the signer's next nonce, signs the canonical command with
EIP-191 (``app/signing.sign_command``) and posts it. Every 4xx/5xx answer raises ``ApiError`` with
the server's stable ``code``, its ``message`` and the HTTP ``status``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .app.beacon import renewal_from_view, value_from_view
from .app.signing import sign_command
from .core.signatures import private_key_address

if TYPE_CHECKING:
    import httpx

DEFAULT_TIMEOUT_SECONDS = 30.0
BATCH_COMMANDS = 256  # commands per POST /v1/commands:batch (the server's limit)


class ApiError(Exception):
    """An error answer from the API: ``code`` (e.g. ``nonce_already_used``), ``message``, HTTP ``status``."""

    def __init__(self, code: str, message: str, status: int, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.code = code
        self.message = message
        self.status = status
        self.details = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class CorClient:
    """Reads and signed writes against one API base URL."""

    def __init__(
        self, base_url: str, private_key: str | None = None, *, timeout: float = DEFAULT_TIMEOUT_SECONDS, http: httpx.Client | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.private_key = private_key
        self.address = private_key_address(private_key) if private_key else None
        if http is None:
            import httpx  # loaded by a process that talks HTTP (~0.2 s: it pulls in rich and pygments for its own CLI)

            http = httpx.Client(base_url=self.base_url, timeout=timeout)
        self.http = http
        self._chain_id: str | None = None

    def __enter__(self) -> CorClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # --- writes ------------------------------------------------------------------------------

    def submit(self, kind: str, body: Mapping[str, Any], *, nonce: int | None = None) -> dict[str, Any]:
        """Sign ``{chain_id, kind, actor, nonce, body}`` with this client's key and submit it; returns the receipt.

        Without ``nonce`` the server's next nonce for the key is used (one extra request).
        """
        if not self.private_key or not self.address:
            raise ValueError("this client has no private key; pass private_key= to sign commands")
        body = self.with_beacon(kind, body)
        if nonce is None:
            nonce = self.next_nonce(self.address)
        payload, signature = sign_command(self.private_key, self.chain_id(), kind, nonce, body)
        return self.submit_signed(payload, signature)

    def with_beacon(self, kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """An oracle's tick reveals the next beacon value (read from ``GET /v1/chain``); when its chain runs
        low, the next chain is anchored first. Any other command, or a body that has a value, is unchanged."""
        if kind not in ("tick", "epoch.close") or "beacon" in body or not self.private_key:
            return dict(body)
        chain = self.chain()
        view = chain.get("beacon")
        if view is None or chain.get("oracle") != self.address:
            return dict(body)
        renewal = renewal_from_view(view, self.private_key, chain["chain_id"])
        if renewal is not None:
            try:
                self.submit("beacon.anchor", renewal)
            except ApiError as exc:
                if exc.code != "beacon_already_anchored":  # an earlier attempt got through
                    raise
            view = self.chain()["beacon"]
        return {**body, "beacon": value_from_view(view, self.private_key, chain["chain_id"])}

    def submit_signed(self, payload: bytes | str, signature: str) -> dict[str, Any]:
        """Submit a command signed elsewhere (``payload`` exactly as signed)."""
        text = payload.decode("ascii") if isinstance(payload, bytes) else payload
        return self._request("POST", "/v1/commands", json={"payload": text, "signature": signature})

    def submit_batch(self, commands: Sequence[tuple[bytes | str, str]]) -> list[dict[str, Any]]:
        """Submit commands signed elsewhere, ``BATCH_COMMANDS`` per request (``POST /v1/commands:batch``).

        Returns one result per command, in order: ``{"index", "status": 200, "receipt"}`` or
        ``{"index", "status", "error", "message"}``; a refused command never fails the others (only a
        malformed request raises ``ApiError``)."""
        out: list[dict[str, Any]] = []
        for start in range(0, len(commands), BATCH_COMMANDS):
            chunk = [
                {"payload": p.decode("ascii") if isinstance(p, bytes) else p, "signature": sig} for p, sig in commands[start : start + BATCH_COMMANDS]
            ]
            answer = self._request("POST", "/v1/commands:batch", json={"commands": chunk})
            out.extend({**r, "index": start + int(r["index"])} for r in answer["results"])
        return out

    def submit_many(self, commands: Sequence[tuple[str, Mapping[str, Any]]], *, first_nonce: int | None = None) -> list[dict[str, Any]]:
        """Sign ``(kind, body)`` commands with this client's key at consecutive nonces (from the server's next
        one unless ``first_nonce``) and submit them in batches; per-command results as ``submit_batch``."""
        if not self.private_key or not self.address:
            raise ValueError("this client has no private key; pass private_key= to sign commands")
        nonce = self.next_nonce(self.address) if first_nonce is None else first_nonce
        chain_id = self.chain_id()
        signed = [sign_command(self.private_key, chain_id, kind, nonce + i, dict(body)) for i, (kind, body) in enumerate(commands)]
        return self.submit_batch(signed)

    def transfer(self, to: str, amount_units: int, *, nonce: int | None = None) -> dict[str, Any]:
        return self.submit("transfer", {"to": to.lower(), "amount": str(amount_units)}, nonce=nonce)

    def delegate(self, node: str, amount_units: int, *, nonce: int | None = None) -> dict[str, Any]:
        return self.submit("stake.delegate", {"node": node.lower(), "amount": str(amount_units)}, nonce=nonce)

    # --- reads -------------------------------------------------------------------------------

    def chain(self) -> dict[str, Any]:
        return self._request("GET", "/v1/chain")

    def chain_id(self) -> str:
        """The chain id (fetched once per client)."""
        if self._chain_id is None:
            self._chain_id = self.chain()["chain_id"]
        return self._chain_id

    def next_nonce(self, address: str) -> int:
        return int(self._request("GET", f"/v1/nonce/{address}")["nonce"])

    def status(self) -> dict[str, Any]:
        return self._request("GET", "/v1/status")

    def balance(self, address: str) -> dict[str, Any]:
        return self._request("GET", f"/v1/balances/{address}")

    def nodes(self, role: str | None = None) -> list[dict[str, Any]]:
        """Every live node (``node_page`` / ``all_nodes`` for the retired ones)."""
        return self._request("GET", "/v1/nodes", params={"role": role} if role else None)["nodes"]

    def node_page(self, state: str = "all", role: str | None = None, limit: int = 100, after_id: str | None = None) -> dict[str, Any]:
        """One page of nodes by address, ``state`` live, retired (rule 23) or all: ``{"nodes": [...], "next_after_id", ...}``;
        pass ``next_after_id`` as ``after_id`` for the next page (None: no node left)."""
        params = {k: v for k, v in (("state", state), ("role", role), ("limit", limit), ("after_id", after_id)) if v is not None}
        return self._request("GET", "/v1/nodes", params=params)

    def all_nodes(self, state: str = "all", role: str | None = None, page: int = 1_000) -> list[dict[str, Any]]:
        """Every node of ``state`` (live, retired or all), by address, page by page."""
        out: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            chunk = self.node_page(state, role, page, after)
            out.extend(chunk["nodes"])
            after = chunk["next_after_id"]
            if after is None:
                return out

    def node(self, node_id: str) -> dict[str, Any]:
        return self._request("GET", f"/v1/nodes/{node_id}")

    def slashes(self) -> list[dict[str, Any]]:
        return self._request("GET", "/v1/slashes")["slashes"]

    def epoch(self, n: int) -> dict[str, Any]:
        return self._request("GET", f"/v1/epochs/{n}")

    def statement(self, address: str, epoch: int) -> dict[str, Any]:
        """The reward statement of ``address`` in closed epoch ``epoch`` (line items with their formulas)."""
        return self._request("GET", f"/v1/statements/{address}/{epoch}")

    def rewards(self, address: str, from_epoch: int = 0) -> dict[str, Any]:
        """What ``address`` earned in every closed epoch (statement totals, line items, unclaimed epochs)."""
        return self._request("GET", f"/v1/statements/{address}", params={"from_epoch": from_epoch})

    def proof(self, address: str, epoch: int) -> dict[str, Any]:
        """The Merkle proof of ``address``'s claimable leaf in ``epoch`` (raises ``no_leaf`` when there is none)."""
        return self._request("GET", f"/v1/proofs/{address}/{epoch}")

    def chain_epochs(self) -> list[dict[str, Any]]:
        """Every closed epoch with its root and its on-chain record (``bridge.post`` / ``bridge.confirm``)."""
        return self._request("GET", "/v1/chain/epochs")["epochs"]

    def tasks(
        self,
        state: str | None = None,
        assigned: str | None = None,
        kind: str | None = None,
        limit: int = 100,
        after_id: int | None = None,
        before_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Tasks newest first (at most ``limit``, ≤ 1000); ``state="open"`` matches every state in which nodes
        still owe work; ``after_id``/``before_id`` keep only ids above/below (poll for new ones / page back).
        The list of one page: ``task_page`` gives its ``next_before_id`` too, ``all_tasks`` follows it."""
        return self.task_page(state, assigned, kind, limit, after_id, before_id)["tasks"]

    def task_page(
        self,
        state: str | None = None,
        assigned: str | None = None,
        kind: str | None = None,
        limit: int = 100,
        after_id: int | None = None,
        before_id: int | None = None,
    ) -> dict[str, Any]:
        """One page of ``tasks(...)``: ``{"tasks": [...], "next_before_id"}``; pass ``next_before_id`` as ``before_id``
        (with the same filters) for the next page, None when no older task matches."""
        params = {
            k: v
            for k, v in (("state", state), ("assigned", assigned), ("kind", kind), ("limit", limit), ("after_id", after_id), ("before_id", before_id))
            if v is not None
        }
        return self._request("GET", "/v1/tasks", params=params)

    def all_tasks(self, state: str | None = None, assigned: str | None = None, kind: str | None = None, page: int = 1_000) -> list[dict[str, Any]]:
        """Every task matching the filters, live or pruned, newest first, page by page (``next_before_id``)."""
        return _every_page(lambda before: self.task_page(state, assigned, kind, page, before_id=before), "tasks")

    def task(self, task_id: int) -> dict[str, Any]:
        return self._request("GET", f"/v1/tasks/{task_id}")

    def put_blob(self, data: bytes) -> str:
        """Store ``data`` (at most 256 KiB) under its sha256; returns ``"0x<sha256>"``."""
        return self._request("PUT", "/v1/blobs", content=data, headers={"Content-Type": "application/octet-stream"})["hash"]

    def get_blob(self, blob_hash: str) -> bytes:
        """The bytes stored under ``blob_hash`` (raises ``ApiError`` ``blob_not_found`` when absent)."""
        r = self.http.get(f"/v1/blobs/{blob_hash}")
        _raise_for(r)
        return r.content

    def models(self, state: str = "live", limit: int | None = None, after: str | None = None) -> list[dict[str, Any]]:
        """The live models (``GET /v1/models``); ``state`` retired or all: one page of listings (rule 25), by key."""
        params = {k: v for k, v in {"state": state if state != "live" else None, "limit": limit, "after": after}.items() if v is not None}
        return self._request("GET", "/v1/models", params=params or None)["models"]

    def model(self, model_id: str, at_tick: int | None = None) -> dict[str, Any]:
        """One model, live or retired (``GET /v1/models/{id}``), with every listing of its id; ``at_tick``: the listing in force then."""
        return self._request("GET", f"/v1/models/{model_id}", params={"at_tick": at_tick} if at_tick is not None else None)

    def quote(self, model: str, input_tokens: int, max_output_tokens: int, redundancy: int | None = None) -> dict[str, Any]:
        """The price of a task with every term of the formula (``total_units``: base units)."""
        params: dict[str, Any] = {"model": model, "input_tokens": input_tokens, "max_output_tokens": max_output_tokens}
        if redundancy is not None:
            params["redundancy"] = redundancy
        return self._request("GET", "/v1/quote", params=params)

    def session(self, session_id: int) -> dict[str, Any]:
        return self._request("GET", f"/v1/sessions/{session_id}")

    def proposals(self) -> list[dict[str, Any]]:
        return self._request("GET", "/v1/proposals")["proposals"]

    def proposal(self, proposal_id: int) -> dict[str, Any]:
        return self._request("GET", f"/v1/proposals/{proposal_id}")

    def params(self) -> dict[str, Any]:
        """The parameters in force, their schema, their history by epoch and the controllers (``cor gov params --json``)."""
        return self._request("GET", "/v1/params")

    def bounties(self, limit: int = 100, after_id: int | None = None, before_id: int | None = None) -> dict[str, Any]:
        """One page of bounties, newest first: ``{"bounties": [...], "next_before_id"}`` (at most ``limit``, ≤ 1000);
        pass ``next_before_id`` as ``before_id`` for the next page. ``all_bounties()`` reads every page."""
        params = {k: v for k, v in (("limit", limit), ("after_id", after_id), ("before_id", before_id)) if v is not None}
        return self._request("GET", "/v1/bounties", params=params)

    def all_bounties(self, page: int = 1_000) -> list[dict[str, Any]]:
        """Every bounty, live or retired, newest first, page by page."""
        return _every_page(lambda before: self.bounties(page, before_id=before), "bounties")

    def bounty(self, bounty_id: int) -> dict[str, Any]:
        return self._request("GET", f"/v1/bounties/{bounty_id}")

    def events(self, after: int = -1, limit: int = 100) -> dict[str, Any]:
        """One page of the raw log: ``{"events": [...], "head_seq", "next_after"}``."""
        return self._request("GET", "/v1/events", params={"after": after, "limit": limit})

    def all_events(self, page: int = 1_000) -> list[dict[str, Any]]:
        """The whole log, page by page."""
        out: list[dict[str, Any]] = []
        after = -1
        while True:
            chunk = self.events(after, page)
            out.extend(chunk["events"])
            if chunk["next_after"] is None:
                return out
            after = chunk["next_after"]

    def verify(self) -> dict[str, Any]:
        return self._request("GET", "/v1/verify")

    def health(self) -> dict[str, Any]:
        return self._request("GET", "/healthz")

    def metrics(self) -> str:
        r = self.http.get("/metrics")
        _raise_for(r)
        return r.text

    # --- plumbing ----------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET any read of the API (``path`` like ``/v1/nodes``) and return its JSON."""
        return self._request("GET", path, params=dict(params) if params else None)

    def _request(self, method: str, path: str, **kw: Any) -> Any:
        r = self.http.request(method, path, **kw)
        _raise_for(r)
        return r.json()


def _raise_for(r: httpx.Response) -> None:
    if r.status_code < 400:
        return
    try:
        body = r.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        raise ApiError(body["error"], str(body.get("message", "")), r.status_code, body.get("details"))
    raise ApiError("http_error", r.text[:500] or r.reason_phrase, r.status_code)


def _every_page(page: Callable[[int | None], dict[str, Any]], field: str) -> list[dict[str, Any]]:
    """The ``field`` lists of every page, newest first: ``page(before_id)`` from None, then each answer's
    ``next_before_id``, until it is None."""
    out: list[dict[str, Any]] = []
    before: int | None = None
    while True:
        chunk = page(before)
        out.extend(chunk[field])
        before = chunk["next_before_id"]
        if before is None:
            return out
