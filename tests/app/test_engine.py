"""The engine over a real SQLite file with real eth-account signatures."""

import pytest
from sqlalchemy import select, update

from cor_incentives.app.engine import Engine
from cor_incentives.app.genesis import DEVNET, check_genesis_spec, genesis_body
from cor_incentives.app.keys import Keystore
from cor_incentives.app.signing import sign_bytes, sign_command
from cor_incentives.app.verify import state_fingerprint, verify_store
from cor_incentives.core.errors import EngineError
from cor_incentives.core.units import COR
from cor_incentives.store import db


@pytest.fixture
def net(tmp_path, db_url):
    ks = Keystore(tmp_path / "keys")
    keys = {n: ks.new(n, seed="t") for n in ["oracle", "faucet", "modeldev", "alice", "bob", "carol", "dave"]}
    eng = Engine.open(db_url, check_conservation=True)
    spec = check_genesis_spec(DEVNET)
    eng.submit_as(keys["oracle"], "genesis", genesis_body(spec, keys["oracle"].address, {n: k.address for n, k in keys.items()}))
    return eng, keys


def event_count(eng):
    return eng.store.event_count()


def test_signed_command_accepted_and_projected(net):
    eng, k = net
    r = eng.submit_as(k["alice"], "transfer", {"to": k["bob"].address, "amount": str(5 * COR)})
    assert r.seq == 1
    with eng.store.reader() as conn:
        row = conn.execute(select(db.balances).where(db.balances.c.account == f"wallet:{k['bob'].address}")).one()
    assert int(row.amount) == 25_000_005 * COR


def test_wrong_signature_refused(net):
    eng, k = net
    payload, _ = sign_command(k["alice"].private_key, eng.state.chain_id, "transfer", 1, {"to": k["bob"].address, "amount": "1"})
    _, bob_sig = sign_command(k["bob"].private_key, eng.state.chain_id, "transfer", 1, {"to": k["bob"].address, "amount": "1"})
    with pytest.raises(EngineError) as e:
        eng.submit(payload, bob_sig)
    assert e.value.code == "signer_is_not_actor"
    with pytest.raises(EngineError) as e:
        eng.submit(payload, "0x1234")
    assert e.value.code == "invalid_signature"
    assert event_count(eng) == 1


def test_a_signer_recovered_by_the_server_itself_is_checked_against_the_actor_not_recovered_again_and_verify_still_checks_it(net):
    """``submit_batch``'s ``signers`` (what a read worker of the same server recovered): each is checked
    against its command's actor and the signature is not recovered again; None recovers it here. The
    engine trusts that signer, so a wrong one is appended with its signature, and `cor verify`, which
    recovers every signature of the log, names that event."""
    eng, k = net
    chain, to = eng.state.chain_id, k["bob"].address
    p1, s1 = sign_command(k["alice"].private_key, chain, "transfer", 1, {"to": to, "amount": "1"})
    p2, s2 = sign_command(k["alice"].private_key, chain, "transfer", 2, {"to": to, "amount": "1"})
    p3, _ = sign_command(k["alice"].private_key, chain, "transfer", 3, {"to": to, "amount": "1"})
    p4, _ = sign_command(k["alice"].private_key, chain, "transfer", 4, {"to": to, "amount": "1"})
    signed = [(p1, s1), (p2, s2), (p3, "0x1234"), (p4, sign_bytes(k["bob"].private_key, p4))]
    out = eng.submit_batch(signed, signers=[k["alice"].address, k["bob"].address, None, None])
    assert out[0].seq == 1
    assert [(e.code, k["bob"].address in e.message) for e in out[1:]] == [  # type: ignore[union-attr]
        ("signer_is_not_actor", True),  # told bob signed it: refused, though its signature is alice's
        ("invalid_signature", False),
        ("signer_is_not_actor", True),
    ]
    assert event_count(eng) == 2 and verify_store(eng.store)[0].ok
    out = eng.submit_batch([(p2, sign_bytes(k["bob"].private_key, p2))], signers=[k["alice"].address])  # a server that vouches wrongly
    assert out[0].seq == 2  # type: ignore[union-attr]
    report, _ = verify_store(eng.store)
    assert not report.ok and not report.signatures and report.first_bad_seq == 2, report.to_dict()


def test_replayed_nonce_refused(net):
    eng, k = net
    payload, sig = sign_command(k["alice"].private_key, eng.state.chain_id, "transfer", 1, {"to": k["bob"].address, "amount": "1"})
    eng.submit(payload, sig)
    with pytest.raises(EngineError) as e:
        eng.submit(payload, sig)
    assert e.value.code == "nonce_already_used"
    assert event_count(eng) == 2


def test_wrong_chain_refused(net):
    eng, k = net
    payload, sig = sign_command(k["alice"].private_key, "other-chain", "transfer", 1, {"to": k["bob"].address, "amount": "1"})
    with pytest.raises(EngineError) as e:
        eng.submit(payload, sig)
    assert e.value.code == "wrong_chain"


def test_reload_reproduces_state(net, db_url):
    eng, k = net
    eng.submit_as(k["alice"], "node.register", {"role": "miner", "self_bond": str(2000 * COR), "commission_bps": 100})
    eng.submit_as(k["bob"], "stake.delegate", {"node": k["alice"].address, "amount": str(10 * COR)})
    again = Engine.open(db_url)
    assert state_fingerprint(again.state) == state_fingerprint(eng.state)


def test_crash_between_append_and_projection_recovers(net, db_url):
    """An event in the log whose projections were never written is projected at start-up, once."""
    eng, k = net
    payload, sig = sign_command(k["alice"].private_key, eng.state.chain_id, "transfer", 1, {"to": k["bob"].address, "amount": str(COR)})
    from cor_incentives.core.events import make_event

    event = make_event(eng.state.seq + 1, eng.state.tick, payload, sig, eng.state.head_hash)
    with eng.store.writer() as conn:  # the "crash": the event is appended, the projection is not
        eng.store.append(conn, event, "transfer", k["alice"].address, 1)
    report, _ = verify_store(eng.store)
    assert not report.projections
    recovered = Engine.open(db_url)
    assert recovered.state.seq == 1
    report, _ = verify_store(recovered.store)
    assert report.ok, report.errors
    again = Engine.open(db_url)  # a second start applies nothing twice
    with again.store.reader() as conn:
        n = conn.execute(select(db.postings).where(db.postings.c.seq == 1)).all()
    assert len(n) == 1


def test_other_process_events_are_caught_up(net, db_url):
    eng, k = net
    other = Engine.open(db_url)
    other.submit_as(k["alice"], "transfer", {"to": k["bob"].address, "amount": "7"})
    r = eng.submit_as(k["bob"], "transfer", {"to": k["alice"].address, "amount": "7"})  # eng must first apply seq 1
    assert r.seq == 2
    assert verify_store(eng.store)[0].ok


def test_verify_names_first_tampered_event(net):
    eng, k = net
    for i in range(3):
        eng.submit_as(k["alice"], "transfer", {"to": k["bob"].address, "amount": str(i + 1)})
    report, _ = verify_store(eng.store)
    assert report.ok and report.events == 4
    with eng.store.writer() as conn:
        p = conn.execute(select(db.events.c.payload).where(db.events.c.seq == 2)).scalar()
        conn.execute(update(db.events).where(db.events.c.seq == 2).values(payload=p.replace('"amount":"2"', '"amount":"9"')))
    report, _ = verify_store(eng.store)
    assert not report.ok and not report.hash_chain
    assert report.first_bad_seq == 2
    assert any(e.startswith("seq 2:") for e in report.errors)


def test_verify_detects_tampered_projection(net):
    eng, k = net
    with eng.store.writer() as conn:
        conn.execute(update(db.balances).where(db.balances.c.account == "treasury").values(amount="1"))
    report, _ = verify_store(eng.store)
    assert not report.ok and not report.projections


def test_verify_detects_rehashed_last_event(net):
    """Re-sealing a tampered last event with a fresh hash still fails: the signature no longer matches."""
    from cor_incentives.core.events import event_hash

    eng, k = net
    eng.submit_as(k["alice"], "transfer", {"to": k["bob"].address, "amount": "5"})
    with eng.store.writer() as conn:
        row = conn.execute(select(db.events).where(db.events.c.seq == 1)).one()
        payload = row.payload.replace('"amount":"5"', '"amount":"6"')
        conn.execute(
            update(db.events).where(db.events.c.seq == 1).values(payload=payload, hash=event_hash(row.prev_hash, 1, payload.encode(), row.signature))
        )
    report, _ = verify_store(eng.store)
    assert not report.ok and not report.signatures and report.first_bad_seq == 1
