"""Wall-clock ETAs next to deadlines: from the tick length, only for deadlines still ahead, nothing without a tick length."""

from datetime import UTC, datetime

import pytest

from cor_incentives.app import views
from cor_incentives.app.eta import add_etas, duration_text, tick_seconds_setting
from cor_incentives.core.errors import InvalidInput
from support.chain import Chain, addr

NOW = datetime(2026, 12, 1, 22, 0, 0, tzinfo=UTC)


def test_unbonding_jail_and_epoch_end_get_etas_from_the_tick_length():
    c = Chain(
        wallets={"op": 10_000, "d": 10_000},
        params={"min_self_bond_miner_units": "100", "min_position_units": "1", "epoch_length_ticks": 100, "unbonding_period_epochs": 2},
    )
    c.as_("op", "node.register", {"role": "miner", "self_bond": "500"})
    c.as_("d", "stake.delegate", {"node": addr("op"), "amount": "300"})
    c.oracle("tick", {"ticks": 30})
    c.as_("d", "stake.undelegate", {"node": addr("op"), "amount": "300"})
    c.state.nodes[addr("op")].jailed_until_tick = 90  # as a jail leaves it
    bal = add_etas(c.state, views.balance(c.state, addr("d")), 6.0, NOW)
    (u,) = bal["unbonding_entries"]
    # matures at epoch 2, whose first tick is 200 at the earliest: 170 ticks × 6 s
    assert u["mature_epoch_eta"] == {"ticks_left": 170, "seconds": 1020.0, "at": "2026-12-01T22:17:00Z", "text": "in 17 min 00 s"}
    node = add_etas(c.state, views.node(c.state, addr("op"), detail=True), 6.0, NOW)
    assert node["jailed_until_tick_eta"]["ticks_left"] == 60 and node["jailed_until_tick_eta"]["text"] == "in 6 min 00 s"
    status = add_etas(c.state, views.status(c.state), 6.0, NOW)
    assert status["epoch_end_eta"]["ticks_left"] == status["ticks_to_epoch_end"] and status["tick_seconds"] == 6.0
    # no tick length: the views are unchanged; a past deadline gets no ETA
    assert add_etas(c.state, views.balance(c.state, addr("d")), None) == views.balance(c.state, addr("d"))
    c.state.nodes[addr("op")].jailed_until_tick = 10
    assert "jailed_until_tick_eta" not in add_etas(c.state, views.node(c.state, addr("op")), 6.0, NOW)


def test_tick_length_setting_and_texts(monkeypatch):
    monkeypatch.delenv("COR_TICK_SECONDS", raising=False)
    assert tick_seconds_setting() is None
    monkeypatch.setenv("COR_TICK_SECONDS", "1.5")
    assert tick_seconds_setting() == 1.5
    for bad in ("0", "-1", "nan", "inf", "abc", "100000"):
        with pytest.raises(InvalidInput) as e:
            tick_seconds_setting(bad)
        assert e.value.code == "invalid_tick_seconds"
    assert [duration_text(s) for s in (5, 65, 3_700, 90_000)] == ["in 5 s", "in 1 min 05 s", "in 1 h 01 min", "in 1 d 1 h"]


def test_the_cli_shows_etas_with_a_tick_length_and_none_without(tmp_path):
    import json

    from typer.testing import CliRunner

    from cor_incentives.cli.main import app
    from support.network import make_network

    url = f"sqlite:///{tmp_path / 'cor.db'}"
    eng, keys = make_network(url, tmp_path / "keys", n_miners=1, n_validators=0)
    miner = keys["miner0"].address
    eng.submit_as(keys["bob"], "stake.delegate", {"node": miner, "amount": str(10**21)})
    eng.submit_as(keys["bob"], "stake.undelegate", {"node": miner, "amount": str(4 * 10**20)})
    eng.store.engine.dispose()
    env = {"COR_KEYS_DIR": str(tmp_path / "keys"), "COR_DATABASE_URL": url, "COLUMNS": "250"}
    run = CliRunner().invoke
    plain = json.loads(run(app, ["balance", "bob", "--json"], env=env).stdout)
    assert "mature_epoch_eta" not in plain["unbonding_entries"][0]
    timed = json.loads(run(app, ["balance", "bob", "--json"], env={**env, "COR_TICK_SECONDS": "3"}).stdout)
    eta = timed["unbonding_entries"][0]["mature_epoch_eta"]
    assert eta["seconds"] == eta["ticks_left"] * 3 and eta["ticks_left"] > 0
    text = run(app, ["node", "show", "miner0"], env={**env, "COR_TICK_SECONDS": "3"}).stdout
    assert eta["text"] in text and "unbonding" in text
    assert eta["text"] in run(app, ["balance", "bob"], env={**env, "COR_TICK_SECONDS": "3"}).stdout
    bad = run(app, ["balance", "bob", "--json"], env={**env, "COR_TICK_SECONDS": "soon"})
    assert bad.exit_code == 2 and json.loads(bad.stdout)["error"] == "invalid_tick_seconds"
