"""One real Hardhat JSON-RPC node for the whole session (started here, stopped at the end), and fresh
contracts per test where a test needs its own."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account

from cor_incentives.chain.deploy import DEV_ETH_WEI, Deployment, deploy
from cor_incentives.chain.node import NodeProcess, start_node
from cor_incentives.chain.rpc import Chain
from cor_incentives.core.units import COR


@pytest.fixture(scope="session")
def hardhat(tmp_path_factory: pytest.TempPathFactory) -> NodeProcess:
    node = start_node(log_path=tmp_path_factory.mktemp("hardhat") / "hardhat.log")
    yield node
    node.stop()


@dataclass
class Wallet:
    address: str
    private_key: str


def new_wallet(chain: Chain, eth_wei: int = DEV_ETH_WEI) -> Wallet:
    """A fresh random account with gas money."""
    acct = Account.from_key("0x" + secrets.token_hex(32))
    chain.set_balance(acct.address, eth_wei)
    return Wallet(acct.address.lower(), acct.key.hex() if acct.key.hex().startswith("0x") else "0x" + acct.key.hex())


@dataclass
class Deployed:
    chain: Chain
    d: Deployment
    publisher: Wallet
    distributor: object
    token: object


def deploy_fresh(node: NodeProcess, supply: int = 1_000_000 * COR) -> Deployed:
    chain = Chain(node.rpc_url)
    publisher = new_wallet(chain)
    d = deploy(chain, publisher.private_key, publisher.address, supply)
    return Deployed(chain, d, publisher, chain.contract("RewardsDistributor", d.distributor), chain.contract("CorToken", d.token))


@pytest.fixture
def deployed(hardhat: NodeProcess) -> Deployed:
    return deploy_fresh(hardhat)


@pytest.fixture
def chain_file(tmp_path: Path) -> Path:
    return tmp_path / "chain.json"
