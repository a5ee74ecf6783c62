"""docs/claims.md stays true: its viem snippet, run by node exactly as printed, fetches a proof from a
real `cor serve` and claims it on the Hardhat chain from the claimant's own wallet."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from cor_incentives.chain.claims import token_balance
from cor_incentives.chain.deploy import DEV_ETH_WEI, deploy
from cor_incentives.chain.publisher import EngineLog, Publisher
from cor_incentives.chain.rpc import Chain
from support.network import make_network
from support.server import start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "claims.md"


def snippet() -> str:
    [code] = re.findall(r"```js\n(// claim\.mjs.*?)```", DOC.read_text(), re.S)
    return code


def run_snippet(env: dict[str, str]) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    assert node, "node (20+) is required"
    # stdin module code resolves `viem` from the working directory: the repository's node_modules
    return subprocess.run(
        [node, "--input-type=module"], input=snippet(), cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


def test_the_viem_snippet_claims_from_a_wallet(tmp_path, hardhat):
    url = f"sqlite:///{tmp_path / 'cor.db'}"
    engine, keys = make_network(url, tmp_path / "keys", n_miners=2, n_validators=1)
    oracle = keys["oracle"]
    engine.submit_as(oracle, "epoch.close", {})
    engine.submit_as(oracle, "epoch.close", {})
    chain = Chain(hardhat.rpc_url)
    chain.set_balance(oracle.address, DEV_ETH_WEI)
    d = deploy(chain, oracle.private_key, oracle.address, engine.state.genesis_supply)
    Publisher(EngineLog(engine, oracle), chain, d.distributor, oracle).publish()
    claimant = keys["validator0"]  # (from rule 14 a miner with no task of its model earns no staking APR)
    chain.set_balance(claimant.address, DEV_ETH_WEI)
    leaf = engine.state.epochs[1].leaves[claimant.address]

    server = start_server(url, tmp_path / "serve.log")
    try:
        env = {"COR_API": server.base_url, "COR_RPC": hardhat.rpc_url, "PRIVATE_KEY": claimant.private_key, "EPOCH": "1"}
        p = run_snippet(env)
        assert p.returncode == 0, p.stderr
        out = json.loads(p.stdout)
        assert out["status"] == "success" and out["claimed"] is True
        assert token_balance(chain, d.distributor, claimant.address) == leaf
        receipt = chain.w3.eth.get_transaction_receipt(out["tx"])
        assert receipt["blockNumber"] == out["block"] and receipt["status"] == 1

        again = run_snippet(env)  # the same claim again: the simulation reverts with the contract's reason, nothing is sent
        assert again.returncode != 0 and "AlreadyClaimed" in again.stderr
        assert token_balance(chain, d.distributor, claimant.address) == leaf

        engine.submit_as(oracle, "epoch.close", {})  # epoch 2 is closed but not posted: the snippet says so
        not_yet = run_snippet({**env, "EPOCH": "2"})
        assert not_yet.returncode != 0 and "not on chain yet" in not_yet.stderr
    finally:
        stop_server(server)
