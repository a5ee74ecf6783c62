"""What a read command loads: `cor status` and `cor balance` on a local database import neither the schema
migrator (Alembic, Mako, Pygments) nor the reward kernels (numpy) nor the HTTP stack (httpx, FastAPI,
uvicorn, Jinja2) nor, on SQLite, PostgreSQL's SQLAlchemy dialect. Each costs a share of every start-up;
they load where they are used (a schema to migrate, an epoch to close, an API to call or serve, a
PostgreSQL database)."""

from __future__ import annotations

import json
import subprocess
import sys

NOT_LOADED = ("alembic", "mako", "pygments", "numpy", "httpx", "fastapi", "starlette", "uvicorn", "jinja2", "sqlalchemy.dialects.postgresql")

PROBE = f"""
import json, sys
from cor_incentives.cli.main import app
try:
    app(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({{"exit": code, "loaded": sorted(m for m in {NOT_LOADED!r} if m in sys.modules)}}), file=sys.stderr)
"""


def loaded_by(cli, *args: str) -> list[str]:
    p = subprocess.run([sys.executable, "-c", PROBE, *args], env=cli.env, capture_output=True, text=True, timeout=120)
    report = json.loads(p.stderr.strip().splitlines()[-1])
    assert report["exit"] in (0, None), p.stdout + p.stderr
    return report["loaded"]


def test_read_commands_load_no_migrator_kernels_or_http(cli):
    cli("init", "--seed", "imports")
    for command in (("status", "--json"), ("balance", "alice", "--json"), ("status",)):
        assert loaded_by(cli, *command) == [], command
    # the probe is not blind: a closing epoch loads the reward kernels (numpy)
    assert "numpy" in loaded_by(cli, "epoch", "close", "--json")
