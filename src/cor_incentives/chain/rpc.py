"""A web3.py connection to an EVM JSON-RPC node, and signed transactions with clear errors.

Every failure a user can cause or meet is a ``ChainError`` with a precise ``code``: the node is
unreachable (``chain_unreachable``), it is another chain (``wrong_evm_chain``), there is no
contract at an address (``no_contract``), a call or transaction reverts (the contract's custom error
as a code, see ``contracts.ERROR_CODES``, else ``tx_reverted``), a receipt does not come in time
(``tx_timeout``). Transactions are signed locally with eth-account; nothing is unlocked on the node.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from eth_account import Account
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError, Web3Exception, Web3RPCError

from .contracts import ERROR_CODES, artifact, decode_revert
from .errors import ChainError

RPC_TIMEOUT_SECONDS = 30
RECEIPT_TIMEOUT_SECONDS = 120
PENDING_WAIT_SECONDS = 120

__all__ = ["Chain", "ChainError", "TxResult", "chain_errors", "revert_error"]


@contextmanager
def chain_errors(what: str) -> Iterator[None]:
    """Turn a dropped connection or an unexpected node answer into a ChainError (never a traceback)."""
    try:
        yield
    except ChainError:
        raise
    except (requests.RequestException, ConnectionError, TimeoutError) as exc:
        raise ChainError(f"{what}: the JSON-RPC node stopped answering ({exc.__class__.__name__})", code="chain_unreachable") from None
    except Web3Exception as exc:
        raise ChainError(f"{what}: {exc}", code="chain_error") from None


@dataclass(frozen=True)
class TxResult:
    """A mined transaction."""

    tx_hash: str
    block: int
    gas_used: int
    status: int
    contract_address: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "tx_hash": self.tx_hash,
            "block": self.block,
            "gas_used": self.gas_used,
            "status": self.status,
            **({"contract_address": self.contract_address} if self.contract_address else {}),
        }


def revert_error(exc: Exception, what: str) -> ChainError:
    """A ChainError for a reverted call, with the contract's custom error decoded when it is ours."""
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    decoded = decode_revert(data) if isinstance(data, (str, bytes)) else None
    if decoded is not None:
        name, args = decoded
        return ChainError(
            f"{what} reverted: {name}({', '.join(f'{k}={v}' for k, v in args.items())})", code=ERROR_CODES.get(name, "tx_reverted"), error=name
        )
    return ChainError(f"{what} reverted: {exc}", code="tx_reverted")


class Chain:
    """One JSON-RPC endpoint: contracts, reads, and transactions signed with a local key."""

    def __init__(self, rpc_url: str, *, expect_chain_id: int | None = None) -> None:
        self.rpc_url = rpc_url
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": RPC_TIMEOUT_SECONDS}))
        try:
            self.chain_id = int(self.w3.eth.chain_id)
        except Exception as exc:
            raise ChainError(f"no EVM JSON-RPC node answers at {rpc_url}: {exc.__class__.__name__}", code="chain_unreachable") from None
        if expect_chain_id is not None and self.chain_id != expect_chain_id:
            raise ChainError(f"{rpc_url} is EVM chain {self.chain_id}, expected {expect_chain_id}", code="wrong_evm_chain")

    def contract(self, name: str, address: str) -> Any:
        """A contract object at ``address``; refuse an address without code."""
        checksum = Web3.to_checksum_address(address)
        if not self.w3.eth.get_code(checksum):
            raise ChainError(f"no contract at {address} on EVM chain {self.chain_id}", code="no_contract")
        return self.w3.eth.contract(address=checksum, abi=artifact(name).abi)

    def block_number(self) -> int:
        return int(self.w3.eth.block_number)

    def call(self, fn: Any, what: str) -> Any:
        """A read-only call; a revert becomes a ChainError."""
        try:
            return fn.call()
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise revert_error(exc, what) from None

    def wait_for_pending(self, address: str, timeout: float = PENDING_WAIT_SECONDS) -> None:
        """Wait until every transaction ``address`` already sent is mined (so a retry cannot race it)."""
        checksum = Web3.to_checksum_address(address)
        deadline = time.monotonic() + timeout
        while self.w3.eth.get_transaction_count(checksum, "pending") > self.w3.eth.get_transaction_count(checksum, "latest"):
            if time.monotonic() > deadline:
                raise ChainError(f"transactions of {address} are still pending after {timeout:.0f}s", code="tx_timeout")
            time.sleep(0.2)

    def send(self, private_key: str, fn: Any, what: str, *, gas: int | None = None, on_sent: Any = None) -> TxResult:
        """Sign ``fn`` (a contract function or constructor call) with ``private_key``, send it, wait for the receipt.

        Without ``gas`` the node estimates it, so a transaction that would revert is refused before
        it is sent (a ChainError with the contract's error). With ``gas`` it is sent as is and a
        revert is mined (``status`` 0). ``on_sent(tx_hash)`` runs between sending and mining.
        """
        account = Account.from_key(private_key)
        tx_params: dict[str, Any] = {
            "from": account.address,
            "chainId": self.chain_id,
            "nonce": self.w3.eth.get_transaction_count(account.address, "pending"),
        }
        if gas is not None:
            tx_params["gas"] = gas
        try:
            tx = fn.build_transaction(tx_params)
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise revert_error(exc, what) from None
        except Web3RPCError as exc:
            raise ChainError(f"{what}: the node refused the transaction: {exc}", code="tx_refused") from None
        signed = account.sign_transaction(tx)
        try:
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Web3RPCError as exc:
            if "enough funds" in str(exc) or "insufficient funds" in str(exc):
                raise ChainError(f"{what}: {account.address.lower()} has not enough ETH for the gas", code="insufficient_gas_funds") from None
            raise ChainError(f"{what}: the node refused the transaction: {exc}", code="tx_refused") from None
        if on_sent is not None:
            on_sent("0x" + bytes(tx_hash).hex())
        return self.receipt("0x" + bytes(tx_hash).hex(), what)

    def receipt(self, tx_hash: str, what: str, timeout: float = RECEIPT_TIMEOUT_SECONDS) -> TxResult:
        try:
            r = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.1)
        except Exception as exc:
            raise ChainError(f"{what}: no receipt for {tx_hash} after {timeout:.0f}s ({exc.__class__.__name__})", code="tx_timeout") from None
        address = r.get("contractAddress")
        return TxResult(
            "0x" + bytes(r["transactionHash"]).hex(), int(r["blockNumber"]), int(r["gasUsed"]), int(r["status"]), address.lower() if address else None
        )

    def set_balance(self, address: str, wei: int) -> None:
        """Give an address ETH for gas (development nodes only: Hardhat's ``hardhat_setBalance``)."""
        try:
            answer = self.w3.provider.make_request("hardhat_setBalance", [Web3.to_checksum_address(address), hex(wei)])  # type: ignore[arg-type]
        except Exception as exc:
            answer = {"error": str(exc)}
        if "error" in answer:
            raise ChainError(f"cannot fund {address} on {self.rpc_url} (not a Hardhat node?): {answer['error']}", code="cannot_fund")

    def eth_balance(self, address: str) -> int:
        return int(self.w3.eth.get_balance(Web3.to_checksum_address(address)))
