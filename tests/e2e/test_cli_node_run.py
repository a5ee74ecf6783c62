"""`cor node run`: a miner and a validator, each run by the supported command with its own (encrypted) key, against a real
`cor serve`; a user's task is answered, validated and settled while the oracle ticks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from support.server import start_server, stop_server

COR_BIN = str(Path(sys.executable).parent / "cor")
MODEL = "smollm2-135m-instruct"
PARAMS = {
    "redundancy": 1,
    "min_consensus": 1,
    "validators_per_task": 1,
    "min_validators_per_task": 1,
    "epoch_length_ticks": 100,
    "network_task_interval_ticks": 0,
    "precommit_deadline_ticks": 4,
    "reveal_deadline_ticks": 4,
    "validation_deadline_ticks": 4,
}


def js(p):
    return json.loads(p.stdout)


def wait_for(path, procs, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if path.exists():
            return
        for p in procs:
            assert p.poll() is None, f"a node exited early with {p.returncode}: {p.stderr.read() if p.stderr else ''}"
        time.sleep(0.5)
    raise AssertionError(f"{path} never appeared")


def test_node_run_serves_a_task_end_to_end(cli, tmp_path):
    genesis = tmp_path / "genesis.json"
    genesis.write_text(
        json.dumps(
            {
                "chain_id": "cor-node-run",
                "params": PARAMS,
                "allocations": {"treasury": "150000000", "pool:network_incentives": "250000000", "pool:staking": "100000000"},
                "key_allocations": {"faucet": "399000000", "modeldev": "1000000", "alice": "25000000", "bob": "25000000", "carol": "25000000"},
            }
        )
    )
    cli("init", "--genesis", str(genesis), "--seed", "node-run")
    server = start_server(cli.env["COR_DATABASE_URL"], tmp_path / "serve.log")
    procs: list[subprocess.Popen] = []
    try:
        api = ["--api", server.base_url]
        cli.env["COR_KEY_PASSPHRASE"] = "operator passphrase"
        for name in ("alice", "bob"):
            assert js(cli("keys", "encrypt", name, "--json"))["encrypted"]
        cli("node", "register", "--from", "alice", "--role", "miner", "--self-bond", "1500", "--model", MODEL, "--json", *api)
        cli("node", "register", "--from", "bob", "--role", "validator", "--self-bond", "3000", "--json", *api)

        # clear refusals before anything starts
        p = cli("node", "run", "--role", "miner", "--key", "carol", "--backend", "scripted", *api, ok=False)
        assert p.returncode == 3 and "node_not_registered" in p.stdout + p.stderr and "cor node register" in p.stdout + p.stderr
        p = cli("node", "run", "--role", "validator", "--key", "alice", "--backend", "scripted", *api, ok=False)
        assert p.returncode == 2 and "role_mismatch" in p.stdout + p.stderr
        bad = {**cli.env, "COR_KEY_PASSPHRASE": "wrong"}
        p = subprocess.run([COR_BIN, "node", "run", "--role", "miner", "--key", "alice", *api], env=bad, capture_output=True, text=True, timeout=120)
        assert p.returncode == 4 and "wrong_passphrase" in p.stdout + p.stderr and "Traceback" not in p.stderr

        for name, role in (("alice", "miner"), ("bob", "validator")):
            cmd = [COR_BIN, "node", "run", "--role", role, "--key", name, "--backend", "scripted", *api]
            cmd += ["--log-file", str(tmp_path / f"{name}.log"), "--ready-file", str(tmp_path / f"{name}.ready"), "--poll-seconds", "0.3"]
            procs.append(subprocess.Popen(cmd, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        for name in ("alice", "bob"):
            wait_for(tmp_path / f"{name}.ready", procs, 300)

        session = js(cli("session", "open", "--from", "carol", "--deposit", "5", "--json", *api))["ids"][0]
        sub = cli("task", "submit", "--from", "carol", "--session", str(session), "--model", MODEL, "--prompt", "Name a colour.", "--json", *api)
        task = js(sub)["ids"][0]
        state = None
        for _ in range(40):  # the oracle's clock, next to the database
            cli("tick", "--json")
            time.sleep(1.0)
            t = js(cli("task", "show", str(task), "--json", *api))
            state = t["state"]
            if state in ("SETTLED", "FAILED", "CANCELLED"):
                break
        assert state == "SETTLED", (
            json.dumps(t, indent=1)[:3000] + (tmp_path / "alice.log").read_text()[-2000:] + (tmp_path / "bob.log").read_text()[-2000:]
        )
        keys = {k["name"]: k["address"] for k in js(cli("keys", "list", "--json"))}
        assert t["result"] is not None and [m["miner"] for m in t["miners"]] == [keys["alice"]]
        assert "reveal" in (tmp_path / "alice.log").read_text() and (tmp_path / "bob.log").read_text()
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)  # `cor node run` became the agent: same pid, clean stop
        codes = [p.wait(timeout=60) for p in procs]
        stop_server(server)
    assert codes == [0, 0]
