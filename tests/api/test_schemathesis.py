"""schemathesis (CLI, all phases) against the live API's own OpenAPI schema: no 5xx, and every
response conforms to the documented status codes, content types and schemas.

Bounded and reproducible: at most MAX_EXAMPLES cases per operation, a fixed seed, one worker. The
network (tests/api/network_activity.py) has nodes, tasks, blobs, a slash, a proposal and a closed
epoch so that the read schemas meet real data; dictionaries
point some path parameters at existing resources. ``positive_data_acceptance`` is left out: a
schema-valid random ``payload`` is not a signed command, and refusing it is the point.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from api.network_activity import build
from cor_incentives.app.engine import Engine
from cor_incentives.app.verify import verify_store

MAX_EXAMPLES = 100
SEED = 20_240_601
HANG_GUARD_SECONDS = 900  # a hung run fails; its speed is not a verdict (27 operations take 60-90 s here)
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


def populate(directory: Path) -> tuple[str, dict[str, list]]:
    """A network with nodes, a settled and an open task, a slash, a proposal, a closed epoch (and a
    bounty once the core has them); returns its URL and the ids that exist, for the dictionaries."""
    url = f"sqlite:///{directory / 'cor.db'}"
    net = build(url, directory / "keys")
    s = net.engine.state
    blobs = sorted({t.prompt_hash for t in s.tasks.values()} | {a.output_hash for t in s.tasks.values() for a in t.miners if a.output_hash})
    known = {
        "nodes": sorted(s.nodes),
        "addresses": sorted({k.address for k in net.keys.values()}),
        "epochs": [0],
        "tasks": sorted(s.tasks),
        "sessions": sorted(s.sessions),
        "proposals": sorted(s.proposals),
        "bounties": sorted(getattr(s, "bounties", {})) or [1],
        "blobs": blobs,
        "models": sorted(s.models),
    }
    return url, known


def config(known: dict[str, list]) -> str:
    lines = []
    for name, values in known.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines += [
        "[parameters]",
        '"path.node_id" = { dictionary = "nodes", probability = 0.5 }',
        '"path.address" = { dictionary = "addresses", probability = 0.5 }',
        '"path.n" = { dictionary = "epochs", probability = 0.5 }',
        '"path.epoch" = { dictionary = "epochs", probability = 0.5 }',
        '"path.task_id" = { dictionary = "tasks", probability = 0.5 }',
        '"path.session_id" = { dictionary = "sessions", probability = 0.5 }',
        '"path.proposal_id" = { dictionary = "proposals", probability = 0.5 }',
        '"path.bounty_id" = { dictionary = "bounties", probability = 0.5 }',
        '"path.blob_hash" = { dictionary = "blobs", probability = 0.5 }',
        '"query.model" = { dictionary = "models", probability = 0.5 }',
        '"query.assigned" = { dictionary = "nodes", probability = 0.5 }',
        "",
        "[checks.negative_data_rejection]",  # the defaults, plus 413 for a body above the size limit
        'expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]',
    ]
    return "\n".join(lines) + "\n"


def test_schemathesis_finds_no_server_error(tmp_path, api_helpers):
    (tmp_path / "net").mkdir()
    url, known = populate(tmp_path / "net")
    net = SimpleNamespace(url=url, db_path=tmp_path / "net" / "cor.db")
    events_before = api_helpers.event_count(net)
    cfg = tmp_path / "schemathesis.toml"
    cfg.write_text(config(known))
    server = api_helpers.start_server(net.url, tmp_path / "serve.log")
    try:
        start = time.monotonic()
        p = subprocess.run(
            [
                SCHEMATHESIS,
                "--config-file",
                str(cfg),
                "run",
                f"{server.base_url}/openapi.json",
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--seed",
                str(SEED),
                "--workers",
                "1",
                "--no-color",
                "--generation-database",
                "none",
                "--request-timeout",
                "30",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=HANG_GUARD_SECONDS,
        )
        elapsed = time.monotonic() - start
    finally:
        api_helpers.stop_server(server)
    (tmp_path / "schemathesis.out").write_text(p.stdout + p.stderr)
    report = p.stdout[-6000:] + p.stderr[-2000:]
    assert p.returncode == 0, report
    (tmp_path / "schemathesis.seconds").write_text(f"{elapsed:.1f}\n")  # speed is for benchmarks, not a test verdict
    statuses = [json.loads(x)["status"] for x in server.log().splitlines() if x.startswith("{")]
    assert len(statuses) > 500 and max(statuses) < 500, server.log()[-3000:]
    # nobody can sign by fuzzing: the log is exactly as it was, and still verifies
    assert api_helpers.event_count(net) == events_before
    report, _ = verify_store(Engine.open(net.url).store)
    assert report.hash_chain and report.signatures and report.replay and report.conservation, report.errors
