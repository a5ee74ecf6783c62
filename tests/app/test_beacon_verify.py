"""`cor verify` checks the beacon: a correctly signed tick whose value is not the chain's next one fails the replay."""

from cor_incentives.app.signing import sign_command
from cor_incentives.app.verify import verify_store
from cor_incentives.core.events import make_event
from support.network import make_network


def test_verify_counts_the_beacon_values_and_refuses_a_forged_one(tmp_path, db_url):
    eng, keys = make_network(db_url, tmp_path / "keys", n_miners=3, n_validators=3)
    for _ in range(3):
        eng.submit_as(keys["oracle"], "tick", {"ticks": 1})
    report, state = verify_store(eng.store)
    assert report.ok and report.beacon_values_checked == 3 == state.beacon.round
    # the oracle signs a tick with a value of its own choosing: the signature is fine, the value is not the chain's
    forged = {"ticks": 1, "beacon": "0x" + "ab" * 32}
    payload, sig = sign_command(keys["oracle"].private_key, eng.state.chain_id, "tick", eng.next_nonce(keys["oracle"].address), forged)
    event = make_event(eng.state.seq + 1, eng.state.tick, payload, sig, eng.state.head_hash)
    with eng.store.writer() as conn:
        eng.store.append(conn, event, "tick", keys["oracle"].address, eng.next_nonce(keys["oracle"].address))
    report, _ = verify_store(eng.store)
    assert not report.ok and not report.replay and report.first_bad_seq == event.seq
    assert any("invalid_beacon" in e or "does not hash" in e for e in report.errors), report.errors
