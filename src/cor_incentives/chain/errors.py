"""``ChainError``: what the EVM side refused or could not do (a code per cause; see ``rpc``)."""

from __future__ import annotations

from ..core.errors import EngineError


class ChainError(EngineError):
    """The EVM chain refused or could not do what was asked. Nothing in the log changed because of it."""

    code = "chain_error"
    http_status = 502
