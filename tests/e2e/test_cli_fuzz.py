"""Fuzz every `cor` command with hostile values in every argument and option: huge numbers, deep and
unterminated JSON, non-ASCII digits, leading zeros, miscased addresses, empty and enormous strings.

Every run ends with a clean exit (0, or an error code with a one-line message), never a traceback
and never an internal error (exit 70); a refused command leaves the log as it was. The commands that
run servers or long jobs (serve, devnet, simulate, chain up) are run as processes with a
timeout and hostile values in their typed options, which must be refused at once.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from cor_incentives.cli.common import EXIT_INTERNAL
from cor_incentives.cli.main import app

COR_BIN = str(Path(sys.executable).parent / "cor")
LONG_RUNNING = {("serve",), ("devnet",), ("simulate",), ("chain", "up")}
KEPT = {"db", "keys_dir", "api"}  # point at the test network; hostile databases and API URLs have their own tests
HOSTILE = [
    "1" * 5000,
    "١٢",
    "01",
    "[" * 3000,
    '{"a":' * 3000 + "1" + "}" * 3000,
    '{"x": [[[[[[[[[[1]]]]]]]]]]}',
    "0x" + "Ab" * 20,
    "-1",
    "",
    "x" * 100_000,
    "1e3",
    "@/nonexistent/file.json",
]


def commands() -> list[tuple[tuple[str, ...], Any]]:
    out: list[tuple[tuple[str, ...], Any]] = []

    def walk(cmd: Any, path: tuple[str, ...]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in sorted(subs.items()):
                walk(sub, (*path, name))
        else:
            out.append((path, cmd))

    walk(typer.main.get_command(app), ())
    return out


ALL = commands()


def hostile_args(path: tuple[str, ...], cmd: Any, value: str) -> list[str]:
    args = list(path)
    for p in cmd.params:
        if p.name in KEPT:
            continue
        if p.param_type_name == "argument":
            args.append(value)
        elif p.is_flag:
            if p.name == "as_json":
                args.append(p.opts[0])
        else:
            args += [p.opts[0], value]
    return args


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("clifuzz")
    env = {"COR_KEYS_DIR": str(d / "keys"), "COR_DATABASE_URL": f"sqlite:///{d / 'cor.db'}", "COR_LOCK_TIMEOUT": "5"}
    runner = CliRunner()
    for args in (
        ["init", "--seed", "fuzz"],
        ["node", "register", "--from", "alice", "--role", "validator", "--self-bond", "2500"],
        ["tick", "--ticks", "3"],
        ["epoch", "close"],
    ):
        r = runner.invoke(app, args, env=env)
        assert r.exit_code == 0, (args, r.output)
    return {"env": env, "db": d / "cor.db", "runner": runner}


def events(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return int(con.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        con.close()


@pytest.mark.parametrize("path,cmd", [c for c in ALL if c[0] not in LONG_RUNNING], ids=lambda x: " ".join(x) if isinstance(x, tuple) else "")
def test_every_command_refuses_hostile_values_cleanly(network, path, cmd):
    runner: CliRunner = network["runner"]
    for value in HOSTILE:
        args = hostile_args(path, cmd, value)
        before = events(network["db"])
        r = runner.invoke(app, args, env=network["env"])
        shown = (path, value[:40], r.exit_code, r.output[-500:])
        assert r.exception is None or isinstance(r.exception, SystemExit), shown
        assert r.exit_code != EXIT_INTERNAL and "Traceback" not in r.output, shown
        if r.exit_code != 0:
            assert events(network["db"]) == before, shown


def typed_options(cmd: Any) -> list[Any]:
    return [p for p in cmd.params if p.param_type_name == "option" and not p.is_flag and p.bare_type() in ("int", "float")]


@pytest.mark.parametrize("path,cmd", [c for c in ALL if c[0] in LONG_RUNNING], ids=lambda x: " ".join(x) if isinstance(x, tuple) else "")
def test_long_running_commands_refuse_hostile_numbers_at_once(network, tmp_path, path, cmd):
    options = typed_options(cmd)
    assert options, f"{path} has no typed option to fuzz"
    for p in options:
        for value in ("1" * 5000, "[" * 3000, "١٢"):
            r = subprocess.run(
                [COR_BIN, *path, p.opts[0], value],
                env={**network["env"], "PATH": "/usr/bin:/bin"},
                capture_output=True,
                text=True,
                timeout=120,
                cwd=tmp_path,
            )
            assert r.returncode not in (0, EXIT_INTERNAL) and "Traceback" not in r.stderr + r.stdout, (path, p.name, r.stderr[-500:])


@pytest.mark.parametrize("url", ["[" * 3000, "sqlite:///" + "x" * 5000, "postgresql://no-such-host.invalid:1/db", "sqlite://", "nonsense://x"])
def test_hostile_database_urls_are_clean_errors(network, url):
    for args in (["status", "--json"], ["verify", "--json"], ["transfer", "--from", "alice", "--to", "bob", "--amount", "1", "--json"]):
        r = network["runner"].invoke(app, [*args, "--db", url], env=network["env"])
        assert r.exception is None or isinstance(r.exception, SystemExit), (url[:40], args, r.output[-300:])
        assert r.exit_code not in (0, EXIT_INTERNAL) and "Traceback" not in r.output, (url[:40], args, r.output[-300:])
