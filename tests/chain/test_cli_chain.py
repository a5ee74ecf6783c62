"""`cor chain up | publish | status | down`, `cor claim --onchain` and `cor verify --chain` through the
console script, on a chain that `cor chain up` itself starts (and `cor chain down` stops)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cor_incentives.chain.node import rpc_answers

COR_BIN = str(Path(sys.executable).parent / "cor")


def test_chain_up_publish_claim_on_chain_verify_down(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "COR_KEYS_DIR": str(tmp_path / "keys"),
        "COR_DATABASE_URL": f"sqlite:///{tmp_path / 'cor.db'}",
        "COR_CHAIN_FILE": str(tmp_path / "chain.json"),
    }

    def cor(*args: str, ok: bool = True) -> dict:
        p = subprocess.run([COR_BIN, *args, "--json"], env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path)
        assert "Traceback" not in p.stderr, p.stderr
        assert (p.returncode == 0) == ok, f"cor {' '.join(args)}: {p.stdout}{p.stderr}"
        return json.loads(p.stdout)

    cor("init", "--seed", "chain-cli")
    cor("node", "register", "--role", "validator", "--self-bond", "10000", "--from", "alice")  # paid APR with no task (rule 14)
    cor("node", "register", "--role", "validator", "--self-bond", "10000", "--from", "bob")
    cor("epoch", "close")
    cor("epoch", "close")
    alice = next(k["address"] for k in cor("keys", "list") if k["name"] == "alice")
    leaf0 = next(x for x in cor("epoch", "show", "0")["leaves"] if x["address"] == alice)

    up = cor("chain", "up")
    try:
        assert up["evm_chain_id"] == 31337 and rpc_answers(up["rpc_url"]) == 31337
        assert up["token"].startswith("0x") and up["distributor"].startswith("0x") and up["node_pid"]
        status = cor("chain", "status")
        assert status["posted_epochs"] == 0 and status["last_posted_epoch"] is None
        assert [e["status"] for e in status["epochs"]] == ["offchain", "offchain"]

        published = cor("chain", "publish")["published"]
        assert [(p["epoch"], p["action"]) for p in published] == [(0, "posted"), (1, "posted")]
        assert all(p["gas_used"] > 0 for p in published)
        status = cor("chain", "status")
        assert status["last_posted_epoch"] == 1 and status["posted_epochs"] == 2
        assert [(e["status"], e["onchain"]["tx_hash"], e["onchain"]["block"]) for e in status["epochs"]] == [
            ("posted", p["tx_hash"], p["block"]) for p in published
        ]
        assert cor("chain", "publish")["published"] == []  # idempotent

        refused = cor("claim", "alice", "--epoch", "0", ok=False)
        assert refused["error"] == "epoch_on_chain"
        paid = cor("claim", "alice", "--epoch", "0", "--onchain", up["distributor"])
        assert paid["status"] == 1 and paid["token_balance_units"] == leaf0["amount_units"]
        again = cor("claim", "alice", "--epoch", "0", "--onchain", up["distributor"], ok=False)
        assert again["error"] == "already_claimed_onchain"

        report = cor("verify", "--chain", up["rpc_url"], "--distributor", up["distributor"])
        assert report["ok"] and report["chain"] and report["chain_epochs_checked"] == 2
        assert cor("verify", "--chain", up["rpc_url"], ok=False)["error"] == "invalid_option"
        assert cor("chain", "up", ok=False)["error"] == "chain_already_up"
    finally:
        down = cor("chain", "down")
    assert down["stopped_pid"] == up["node_pid"]
    assert rpc_answers(up["rpc_url"]) is None
    assert cor("chain", "status", ok=False)["error"] == "chain_unreachable"
