"""`cor quote`, `cor model`, `cor session`, `cor task submit|show` through the console script."""

from cor_incentives.app.archive import get_task
from cor_incentives.app.engine import Engine
from cor_incentives.app.keys import Keystore
from cor_incentives.core.tasks import commitment
from support.cli import j
from support.network import sha
from support.reports import report_rounds


def test_quote_session_task_show_and_bad_input(cli, tmp_path):
    cli("init", "--seed", "mkt")
    models = j(cli("model", "list", "--json"))
    assert models[0]["id"] == "smollm2-135m-instruct" and models[0]["tier"] == "tiny"
    q = j(cli("quote", "--model", "smollm2-135m-instruct", "--input-tokens", "100", "--max-output-tokens", "200", "--json"))
    # (0.001 + 100×0.00001 + 200×0.00003) COR × 0.6 (q4_1) × 1.1 (8k context) = 0.00528 per miner; ×3 + 0.001
    assert q["per_miner_units"] == str(5_280_000_000_000_000) and q["total"] == "0.01684"
    bigger = j(cli("quote", "--model", "smollm2-135m-instruct", "--input-tokens", "100", "--max-output-tokens", "400", "--json"))
    assert int(bigger["total_units"]) > int(q["total_units"])

    for i in range(3):
        cli("keys", "new", f"m{i}", "--seed", "mkt", "--plaintext")
        cli("transfer", "--from", "faucet", "--to", f"m{i}", "--amount", "5000")
        cli("node", "register", "--from", f"m{i}", "--role", "miner", "--self-bond", "1000", "--model", "smollm2-135m-instruct")
    cli("keys", "new", "v0", "--seed", "mkt", "--plaintext")
    cli("transfer", "--from", "faucet", "--to", "v0", "--amount", "5000")
    cli("node", "register", "--from", "v0", "--role", "validator", "--self-bond", "2000")
    s = j(cli("session", "open", "--from", "alice", "--deposit", "1", "--json"))
    sid = str(s["session"])
    t = j(
        cli(
            "task",
            "submit",
            "--from",
            "alice",
            "--session",
            sid,
            "--model",
            "smollm2-135m-instruct",
            "--prompt",
            "Name a primary colour.",
            "--max-output-tokens",
            "32",
            "--json",
        )
    )
    assert t["state"] == "CREATED" and t["miners"] == []  # drawn by the next tick's beacon value
    cli("tick")
    shown = j(cli("task", "show", str(t["task"]), "--json"))
    assert shown["state"] == "PREPARED" and len(shown["miners"]) == 3 and shown["escrowed"] == t["escrowed"]

    # a session of 32 miners holding rule 24's minimum deposit (1 COR): a task of 8 000 tokens is quoted above it
    wide = str(j(cli("session", "open", "--from", "alice", "--deposit", "1", "--redundancy", "32", "--json"))["session"])
    before = j(cli("status", "--json"))["seq"]
    bad = [
        (("quote", "--model", "nope", "--input-tokens", "1", "--max-output-tokens", "1"), "model_not_found"),
        (("task", "submit", "--from", "alice", "--session", sid, "--model", "nope", "--prompt", "x"), "model_not_found"),
        (
            (
                "task",
                "submit",
                "--from",
                "alice",
                "--session",
                sid,
                "--model",
                "smollm2-135m-instruct",
                "--prompt",
                "x",
                "--max-output-tokens",
                "100000",
            ),
            "prompt_exceeds_context",
        ),
        (("task", "submit", "--from", "alice", "--session", sid, "--model", "smollm2-135m-instruct", "--prompt", "x" * 70_000), "prompt_too_large"),
        (
            (
                "task",
                "submit",
                "--from",
                "alice",
                "--session",
                wide,
                "--model",
                "smollm2-135m-instruct",
                "--prompt",
                "x",
                "--max-output-tokens",
                "8000",
            ),
            "deposit_too_small",
        ),
        (("task", "submit", "--from", "bob", "--session", sid, "--model", "smollm2-135m-instruct", "--prompt", "x"), "not_session_owner"),
        (
            (
                "task",
                "show",
                "999",
            ),
            "task_not_found",
        ),
        (("session", "open", "--from", "bob", "--deposit", "1e2"), "invalid_amount"),
        (("session", "open", "--from", "alice", "--deposit", "0.5"), "session_deposit_below_minimum"),  # rule 24
    ]
    for args, code in bad:
        p = cli(*args, "--json", ok=False)
        assert p.returncode != 0 and j(p)["error"] == code, (args, p.stdout, p.stderr)
    assert j(cli("status", "--json"))["seq"] == before
    # without --deposit the session locks the governed minimum (session_min_deposit_units, 1 COR at genesis)
    plain = j(cli("session", "open", "--from", "alice", "--json"))
    assert j(cli("session", "show", str(plain["session"]), "--json"))["deposit_units"] == str(10**18)

    # drive the task with the nodes' keys through the engine, then read it back through the CLI
    eng = Engine.open(cli.env["COR_DATABASE_URL"])
    ks = {k.address: k for k in Keystore(tmp_path / "keys").list()}
    task = get_task(eng.state, t["task"])
    for a in task.miners:
        eng.submit_as(ks[a.miner], "task.precommit", {"task": task.id, "commit": commitment(task.id, a.miner, sha("Red."), "s")})
    for a in task.miners:
        eng.submit_as(ks[a.miner], "task.reveal", {"task": task.id, "output_hash": sha("Red."), "salt": "s"})
    eng.submit_as(next(k for k in ks.values() if k.address == eng.state.oracle), "tick", {})  # draws the validators
    report_rounds(
        lambda v, kind, body: eng.submit_as(ks[v], kind, body),
        lambda: get_task(eng.state, task.id),
        lambda v: [{"miner": a.miner, "poi_distance_ppb": 0, "quality_ppb": 900_000_000, "output_tokens": 2} for a in task.miners],
        input_tokens=lambda v: 3,
    )
    shown = j(cli("task", "show", str(t["task"]), "--json"))
    assert shown["state"] == "SETTLED" and all(m["in_consensus"] and m["paid"] != "0" for m in shown["miners"])
    assert float(shown["charged"]) < float(shown["escrowed"])
    assert j(cli("verify", "--json"))["ok"]


def test_task_cancel_only_before_the_draw(cli):
    cli("init", "--seed", "cancel")
    for i in range(3):
        cli("keys", "new", f"m{i}", "--seed", "cancel", "--plaintext")
        cli("transfer", "--from", "faucet", "--to", f"m{i}", "--amount", "5000")
        cli("node", "register", "--from", f"m{i}", "--role", "miner", "--self-bond", "1000", "--model", "smollm2-135m-instruct")
    cli("keys", "new", "v0", "--seed", "cancel", "--plaintext")
    cli("transfer", "--from", "faucet", "--to", "v0", "--amount", "5000")
    cli("node", "register", "--from", "v0", "--role", "validator", "--self-bond", "2000")
    sid = str(j(cli("session", "open", "--from", "alice", "--deposit", "1", "--json"))["session"])
    submit = ("task", "submit", "--from", "alice", "--session", sid, "--model", "smollm2-135m-instruct", "--prompt", "Hi.", "--json")
    first = j(cli(*submit))["task"]
    j(cli("task", "cancel", str(first), "--from", "alice", "--json"))
    assert j(cli("task", "show", str(first), "--json"))["state"] == "CANCELLED"
    second = j(cli(*submit))["task"]
    cli("tick")
    p = cli("task", "cancel", str(second), "--from", "alice", "--json", ok=False)
    assert p.returncode != 0 and j(p)["error"] == "task_not_cancellable"
    assert j(cli("task", "show", str(second), "--json"))["state"] == "PREPARED"
