"""The publisher against a real Hardhat node and a real database: posts every closed epoch once,
survives being killed at any step, refuses off-chain claims of posted epochs, and `cor verify
--chain` catches a log truncated or rewritten after posting.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from web3 import Web3

from cor_incentives.app import views
from cor_incentives.app.engine import Engine
from cor_incentives.app.verify import verify_store
from cor_incentives.chain.claims import claim_onchain, token_balance
from cor_incentives.chain.deploy import DEV_ETH_WEI, deploy
from cor_incentives.chain.publisher import EngineLog, Publisher
from cor_incentives.chain.rpc import Chain, ChainError
from cor_incentives.core.apply import conservation_holds
from cor_incentives.core.bridge import BRIDGE
from cor_incentives.core.errors import EngineError
from cor_incentives.core.events import make_event
from cor_incentives.store.projections import clear_projections
from support.network import COR, make_network

HERE = Path(__file__).resolve().parent
COR_BIN = str(Path(sys.executable).parent / "cor")
NODES = ["miner0", "miner1", "miner2", "validator0", "validator1", "router0"]
PAID = ["validator0", "validator1"]  # epochs without a task: from rule 14 only validators earn the staking APR


class Net:
    """A network with closed epochs in a SQLite file, and a distributor whose publisher is its oracle."""

    def __init__(self, tmp_path: Path, hardhat, epochs: int = 2) -> None:
        self.url = f"sqlite:///{tmp_path / 'cor.db'}"
        self.keys_dir = tmp_path / "keys"
        self.engine, self.keys = make_network(self.url, self.keys_dir, n_miners=3, n_validators=2)
        self.oracle = self.keys["oracle"]
        for _ in range(epochs):
            self.close()
        self.chain = Chain(hardhat.rpc_url)
        self.chain.set_balance(self.oracle.address, DEV_ETH_WEI)
        self.d = deploy(self.chain, self.oracle.private_key, self.oracle.address, self.engine.state.genesis_supply)
        self.distributor = self.chain.contract("RewardsDistributor", self.d.distributor)

    def close(self) -> None:
        self.engine.refresh()
        self.engine.submit_as(self.oracle, "epoch.close", {})

    def publisher(self, **kw) -> Publisher:
        return Publisher(EngineLog(self.engine, self.oracle), self.chain, self.d.distributor, self.oracle, **kw)

    def claim_offchain(self, name: str, epoch: int):
        self.engine.refresh()
        key = self.keys[name]
        p = views.proof(self.engine.state, key.address, epoch)
        return self.engine.submit_as(key, "reward.claim", {"address": key.address, "epoch": epoch, "amount": p["amount_units"], "proof": p["proof"]})

    def reopen(self) -> Engine:
        self.engine = Engine.open(self.url, check_conservation=True)
        return self.engine

    def kinds(self) -> list[str]:
        return [e.command.kind for e in self.engine.store.iter_events()]

    def tx_count(self) -> int:
        return int(self.chain.w3.eth.get_transaction_count(Web3.to_checksum_address(self.oracle.address)))

    def posted_events(self, epoch: int) -> list:
        return self.distributor.events.EpochPosted().get_logs(from_block=0, argument_filters={"epoch": epoch})

    def cor(self, *args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "COR_KEYS_DIR": str(self.keys_dir), "COR_DATABASE_URL": self.url}
        return subprocess.run([COR_BIN, *args], env=env, capture_output=True, text=True, timeout=180)


def test_publish_posts_each_epoch_once_and_pays_on_chain(tmp_path, hardhat):
    net = Net(tmp_path, hardhat)
    e0 = dict(net.engine.state.epochs[0].leaves)
    assert sorted(e0) == sorted(net.keys[n].address for n in PAID) and len(net.engine.state.epochs[1].leaves) == len(PAID)
    net.claim_offchain("validator0", 0)  # paid by the engine before the epoch moves on chain

    done = net.publisher().publish()

    assert [(p.epoch, p.action) for p in done] == [(0, "posted"), (1, "posted")]
    state = net.engine.state
    m0, m1 = net.keys["validator0"].address, net.keys["validator1"].address
    for e in (0, 1):
        rec = state.bridged[e]
        root, total, claimed, anchor_seq, block, anchor_hash = net.distributor.functions.epochInfo(e).call()
        assert ("0x" + root.hex(), total, anchor_seq, "0x" + anchor_hash.hex(), block) == (
            rec.root,
            rec.total,
            rec.anchor_seq,
            rec.anchor_hash,
            rec.block,
        )
        [ev] = net.posted_events(e)
        assert "0x" + bytes(ev["transactionHash"]).hex() == rec.tx_hash == done[e].tx_hash
    assert state.bridged[0].claimed_offchain == [m0] and state.bridged[0].total == sum(e0.values()) - e0[m0]
    assert net.distributor.functions.isClaimed(0, Web3.to_checksum_address(m0)).call()
    onchain_total = sum(r.total for r in state.bridged.values())
    assert state.ledger.balance(BRIDGE) == onchain_total == token_balance(net.chain, net.d.distributor, net.d.distributor)
    conservation_holds(state)

    # one payout path: the engine refuses a posted epoch; the distributor pays it
    before = state.to_dict()
    with pytest.raises(EngineError) as err:
        net.claim_offchain("validator1", 0)
    assert err.value.code == "epoch_on_chain"
    assert net.engine.state.to_dict() == before
    p = views.proof(net.engine.state, m1, 0)
    assert p["payout"] == {"path": "evm", "evm_chain_id": 31337, "distributor": net.d.distributor, "status": "posted"}
    net.chain.set_balance(m1, 0)  # (the session's chain is shared: seeded keys may have gas from another test)
    with pytest.raises(ChainError) as err:  # a wallet without ETH cannot pay the gas
        claim_onchain(net.chain, net.d.distributor, net.keys["validator1"].private_key, 0, m1, int(p["amount_units"]), p["proof"])
    assert err.value.code == "insufficient_gas_funds"
    net.chain.set_balance(m1, DEV_ETH_WEI)
    r = claim_onchain(net.chain, net.d.distributor, net.keys["validator1"].private_key, 0, m1, int(p["amount_units"]), p["proof"])
    assert r.status == 1 and token_balance(net.chain, net.d.distributor, m1) == e0[m1]

    # nothing more to do, and nothing is sent again
    sent = net.tx_count()
    assert net.publisher().publish() == []
    assert net.tx_count() == sent
    net.close()  # a third epoch: the next run posts just that one
    assert [(p.epoch, p.action) for p in net.publisher().publish()] == [(2, "posted")]
    report, _ = verify_store(net.engine.store)
    assert report.ok, report.errors


@pytest.mark.parametrize("step", ["logged", "sent", "mined", "confirmed"])
def test_a_publisher_killed_mid_post_and_restarted_posts_nothing_twice(tmp_path, hardhat, step):
    net = Net(tmp_path, hardhat)
    sent_before = net.tx_count()
    crash = subprocess.run(
        [sys.executable, str(HERE / "crash_publisher.py"), net.url, str(net.keys_dir), hardhat.rpc_url, net.d.distributor, step, "1"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert crash.returncode == -9, f"the publisher was not killed at {step}: {crash.stdout}{crash.stderr}"
    net.reopen()
    done = net.publisher().publish()  # the restart
    expected = {"logged": [(1, "posted")], "sent": [(1, "found")], "mined": [(1, "found")], "confirmed": []}[step]
    assert [(p.epoch, p.action) for p in done] == expected

    kinds = net.kinds()
    assert kinds.count("bridge.post") == 2 and kinds.count("bridge.confirm") == 2
    assert net.distributor.functions.postedEpochCount().call() == 2
    for e in (0, 1):
        [ev] = net.posted_events(e)  # exactly one post per epoch on chain
        assert "0x" + bytes(ev["transactionHash"]).hex() == net.engine.state.bridged[e].tx_hash
    assert net.tx_count() == sent_before + 3  # approve + one post per epoch: no second post was even sent
    state = net.engine.state
    assert (
        state.ledger.balance(BRIDGE) == sum(r.total for r in state.bridged.values()) == token_balance(net.chain, net.d.distributor, net.d.distributor)
    )
    report, _ = verify_store(net.engine.store)
    assert report.ok, report.errors


def test_a_post_still_pending_at_the_crash_is_waited_for_not_resent(tmp_path, hardhat):
    net = Net(tmp_path, hardhat, epochs=1)
    rpc = net.chain.w3.provider
    token = net.chain.contract("CorToken", net.d.token)
    net.chain.send(net.oracle.private_key, token.functions.approve(net.distributor.address, 2**256 - 1), "approve")
    sent_before = net.tx_count()
    rpc.make_request("evm_setAutomine", [False])
    try:
        # the post is sent but not mined when the publisher dies
        crash = subprocess.run(
            [sys.executable, str(HERE / "crash_publisher.py"), net.url, str(net.keys_dir), hardhat.rpc_url, net.d.distributor, "sent", "0"],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert crash.returncode == -9, crash.stdout + crash.stderr
        assert not net.distributor.functions.isPosted(0).call()
        miner = threading.Timer(1.5, lambda: rpc.make_request("evm_mine", []))
        miner.start()
        net.reopen()
        done = net.publisher().publish()  # waits for the pending post instead of sending another
        miner.join()
    finally:
        rpc.make_request("evm_setAutomine", [True])
    assert [(p.epoch, p.action) for p in done] == [(0, "found")]
    assert net.tx_count() == sent_before + 1 and len(net.posted_events(0)) == 1


def test_only_the_distributor_owner_publishes_and_a_different_chain_record_is_refused(tmp_path, hardhat):
    net = Net(tmp_path, hardhat, epochs=1)
    other = deploy(net.chain, net.oracle.private_key, "0x" + "77" * 20, 10**24)  # owned by someone else
    with pytest.raises(ChainError) as err:
        Publisher(EngineLog(net.engine, net.oracle), net.chain, other.distributor, net.oracle).publish()
    assert err.value.code == "not_publisher"
    assert "bridge.post" not in net.kinds()
    # the chain already holds epoch 0 with another root (not what the log says): refuse, confirm nothing
    token = net.chain.contract("CorToken", net.d.token)
    net.chain.send(net.oracle.private_key, token.functions.approve(net.distributor.address, 2**256 - 1), "approve")
    fn = net.distributor.functions.postEpoch(0, b"\x01" * 32, 0, 0, b"\x02" * 32, [])
    assert net.chain.send(net.oracle.private_key, fn, "post").status == 1
    with pytest.raises(ChainError) as err:
        net.publisher().publish()
    assert err.value.code == "chain_mismatch"
    assert net.kinds().count("bridge.confirm") == 0


# -- cor verify --chain -------------------------------------------------------------------------


def rewrite_log(net: Net, keep) -> None:
    """What an operator with write access could do: replace the log by ``keep(events)``, re-numbered and
    re-hashed, and rebuild every projection from it, so the database is consistent with itself."""
    events = list(net.engine.store.iter_events())
    new, prev = [], "0x" + "00" * 32
    for seq, e in enumerate(keep(events)):
        ev = make_event(seq, e.tick, e.payload, e.signature, prev)
        new.append(ev)
        prev = ev.hash
    from cor_incentives.store import db

    with net.engine.store.writer() as conn:
        conn.execute(db.events.delete())
        clear_projections(conn)
        for ev in new:
            cmd = ev.command
            net.engine.store.append(conn, ev, cmd.kind, cmd.actor, cmd.nonce)
    net.reopen()  # replays the new log and re-projects it


def verify_json(net: Net, *chain_args: str) -> dict:
    out = net.cor("verify", "--json", *chain_args)
    data = json.loads(out.stdout)
    assert out.returncode == (0 if data["ok"] else 1)
    return data


def test_verify_chain_detects_a_log_truncated_after_posting(tmp_path, hardhat):
    net = Net(tmp_path, hardhat)
    net.publisher().publish()
    args = ("--chain", hardhat.rpc_url, "--distributor", net.d.distributor)
    good = verify_json(net, *args)
    assert good["ok"] and good["chain"] and good["chain_epochs_checked"] == 2
    anchor1 = net.engine.state.bridged[1].anchor_seq
    rewrite_log(net, lambda events: [e for e in events if e.seq < anchor1])  # cut the log before epoch 1's anchor

    assert verify_json(net)["ok"], "the log alone still looks fine: only the chain shows it was cut"
    bad = verify_json(net, *args)
    assert not bad["ok"] and not bad["chain"]
    assert bad["first_bad_seq"] == anchor1
    assert any("truncated" in e for e in bad["errors"])


def test_verify_chain_detects_a_log_rewritten_before_an_anchor(tmp_path, hardhat):
    net = Net(tmp_path, hardhat, epochs=1)
    net.publisher().publish()
    anchor0 = net.engine.state.bridged[0].anchor_seq
    net.engine.submit_as(net.keys["bob"], "transfer", {"to": net.keys["carol"].address, "amount": str(5 * COR)})
    transfer_seq = net.engine.state.seq
    net.close()
    net.publisher().publish()
    anchor1 = net.engine.state.bridged[1].anchor_seq
    assert anchor0 < transfer_seq < anchor1
    rewrite_log(net, lambda events: [e for e in events if e.seq != transfer_seq])  # bob's transfer never happened

    assert verify_json(net)["ok"], "re-hashed and re-projected: the log alone cannot tell"
    bad = verify_json(net, "--chain", hardhat.rpc_url, "--distributor", net.d.distributor)
    assert not bad["ok"] and not bad["chain"]
    # epoch 0's anchor still matches, epoch 1's does not: the change is after anchor0 and at or before anchor1
    assert bad["first_bad_seq"] == anchor0 + 1 <= transfer_seq
    assert any("rewritten" in e for e in bad["errors"])
