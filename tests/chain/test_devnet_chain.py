"""`cor devnet --chain`: a scripted devnet that starts its own Hardhat chain, posts every epoch as it
closes, ends with a claim from a wallet, and verifies the log against the chain; and the
`--chain-rpc` way of attaching to a chain that is already running."""

from __future__ import annotations

from web3 import Web3

from cor_incentives.chain.claims import token_balance
from cor_incentives.chain.devnet import DevnetChain
from cor_incentives.chain.rpc import Chain
from cor_incentives.client import CorClient
from cor_incentives.core.units import format_cor
from cor_incentives.nodes.link import Link
from devnet.helpers import pid_alive, run_devnet
from support.network import make_network
from support.server import start_server, stop_server

EPOCHS = 2


def test_devnet_chain_posts_every_epoch_and_claims_from_a_wallet(tmp_path):
    run = run_devnet(tmp_path / "devnet", "--epochs", str(EPOCHS), "--miners-backend", "scripted", "--seed", "chain", "--chain", timeout=600)
    c = run.data["chain"]
    assert run.data["verify"]["ok"] and c["verify"]["ok"] and c["verify"]["chain"] and c["verify"]["chain_epochs_checked"] == EPOCHS
    assert [p["epoch"] for p in c["posted"]] == list(range(EPOCHS)) and all(p["action"] == "posted" for p in c["posted"])
    assert c["node_pid"] and not pid_alive(c["node_pid"]), "the devnet's Hardhat node is still running"
    claim = c["claim"]
    assert claim["wallet"] == "alice" and claim["status"] == 1 and claim["epoch"] == EPOCHS - 1
    assert claim["token_balance_units"] == claim["amount_units"]
    # the log agrees: every epoch posted and confirmed with the transaction the table shows
    server = start_server(run.db_url, tmp_path / "serve.log")
    try:
        with CorClient(server.base_url) as api:
            epochs = api.chain_epochs()
            assert [(e["status"], e["onchain"]["tx_hash"], e["onchain"]["block"]) for e in epochs] == [
                ("posted", p["tx_hash"], p["block"]) for p in c["posted"]
            ]
            assert api.proof(claim["address"], claim["epoch"])["payout"]["path"] == "evm"
            moved = sum(int(p["total_units"]) for p in c["posted"])  # what left the engine's books for the chain
            assert api.status()["by_account_class"]["bridge"] == format_cor(moved)
    finally:
        stop_server(server)


def test_chain_rpc_attaches_to_a_running_chain(tmp_path, hardhat):
    url = f"sqlite:///{tmp_path / 'cor.db'}"
    engine, keys = make_network(url, tmp_path / "keys", n_miners=2, n_validators=1)
    oracle = keys["oracle"]
    engine.submit_as(
        keys["alice"], "stake.delegate", {"node": keys["validator0"].address, "amount": str(100 * 10**18)}
    )  # a validator: paid APR with no task (rule 14)
    server = start_server(url, tmp_path / "serve.log")
    link = Link(server.base_url, oracle.private_key)
    evm = None
    try:
        evm = DevnetChain.start(hardhat.rpc_url, oracle, link, engine.state.genesis_supply, tmp_path)
        assert evm.node is None and evm.deployment.rpc_url == hardhat.rpc_url
        for e in range(2):
            link.submit("epoch.close", {})
            evm.on_epoch_closed(e)
        assert [p.epoch for p in evm.posted] == [0, 1]
        evm.finish([keys["alice"]], url)
        assert evm.claim is not None and evm.claim["wallet"] == "alice" and evm.claim["epoch"] == 1
        chain = Chain(hardhat.rpc_url)
        assert token_balance(chain, evm.deployment.distributor, keys["alice"].address) == int(evm.claim["amount_units"])
        dist = chain.contract("RewardsDistributor", evm.deployment.distributor)
        assert dist.functions.isClaimed(1, Web3.to_checksum_address(keys["alice"].address)).call()
        assert evm.verify is not None and evm.verify["ok"] and evm.verify["chain_epochs_checked"] == 2
    finally:
        link.close()
        stop_server(server)
        if evm is not None:
            evm.stop()
