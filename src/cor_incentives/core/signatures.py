"""Ethereum signatures (EIP-191 personal messages): recovering who signed what.

Pure computation (secp256k1 and keccak through eth-account): no I/O, no clock. Used by the shell to
authenticate commands and by the core to check self-verifying evidence (equivocation).
"""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct

from .errors import Unauthorized


def recover_signer(message: bytes, signature: str) -> str:
    """The lower-case address that signed ``message`` (EIP-191), or an ``invalid_signature`` error."""
    try:
        sig = bytes.fromhex(signature[2:] if signature.startswith("0x") else signature)
        if len(sig) != 65:
            raise ValueError("signature must be 65 bytes")
        return Account.recover_message(encode_defunct(primitive=message), signature=sig).lower()
    except Exception as exc:  # eth-account raises several types for malformed signatures
        raise Unauthorized(f"signature cannot be verified: {exc}", code="invalid_signature") from None


def equivocation_text(chain_id: str, scope: str, message: str) -> bytes:
    """What a node signs for a scoped statement (precommit, report): the bytes equivocation evidence cites."""
    return f"cor:{chain_id}:{scope}:{message}".encode("utf-8")
