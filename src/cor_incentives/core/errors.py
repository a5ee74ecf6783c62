"""One family of expected errors: rejections a user can cause (docs/design.md §3).

Each error has a stable machine-readable ``code`` (TigerBeetle-style precise names) and a human
message. The shell maps them to CLI exit codes and HTTP statuses. An ``InvariantViolation`` is a bug,
never a user error.
"""

from __future__ import annotations


class EngineError(Exception):
    """A rejected command or input. Nothing was changed."""

    code: str = "engine_error"
    http_status: int = 400

    def __init__(self, message: str, *, code: str | None = None, **details: object) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, object]:
        """The JSON body of this error."""
        body: dict[str, object] = {"error": self.code, "message": self.message}
        if self.details:
            body["details"] = {k: _jsonable(v) for k, v in self.details.items()}
        return body


def _jsonable(value: object) -> object:
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: what an error message may quote of untrusted input."""
    try:
        text = repr(value)
    except ValueError:  # an integer too long to print
        return f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class InvalidInput(EngineError):
    """Malformed value: bad amount string, bad address, out-of-range number."""

    code = "invalid_input"


class NotFound(EngineError):
    """The named thing (node, task, model, epoch, proposal...) does not exist."""

    code = "not_found"
    http_status = 404


class InsufficientFunds(EngineError):
    """A posting would take an account below zero."""

    code = "insufficient_funds"
    http_status = 409


class Conflict(EngineError):
    """The command is well formed but not allowed in the current state."""

    code = "conflict"
    http_status = 409


class Unauthorized(EngineError):
    """Bad signature, wrong signer, or an actor acting for someone else."""

    code = "unauthorized"
    http_status = 401


class NonceAlreadyUsed(EngineError):
    """A replayed or out-of-order nonce."""

    code = "nonce_already_used"
    http_status = 409


class InvariantViolation(Exception):
    """A broken invariant: a bug in the engine, never a user error."""


def invariant(condition: bool, message: str) -> None:
    """Check an invariant; unlike ``assert`` this survives ``python -O``."""
    if not condition:
        raise InvariantViolation(message)
