import pytest

from cor_incentives.app.signing import sign_scoped
from cor_incentives.core.errors import EngineError
from cor_incentives.core.signatures import private_key_address
from support.chain import CHAIN_ID, Chain, addr

NODE_KEY = "0x" + "42" * 32
NODE = private_key_address(NODE_KEY)


def chain():
    c = Chain(wallets={"rep": 100}, params={"min_self_bond_miner_units": "100"})
    c.state.ledger.transfer("treasury", f"wallet:{NODE}", 10_000, "test funding")
    c.submit(NODE, "node.register", {"role": "miner", "self_bond": "10000"})
    return c


def test_anyone_reports_equivocation_with_two_signed_messages():
    c = chain()
    msgs = [sign_scoped(NODE_KEY, CHAIN_ID, "task:7:precommit", "0xaaa"), sign_scoped(NODE_KEY, CHAIN_ID, "task:7:precommit", "0xbbb")]
    c.as_("rep", "slash.report", {"node": NODE, "offence": "equivocation", "evidence": {"messages": msgs}})
    s = c.state.slashes[-1]
    assert s.total == 1000 and s.to_reporter == 100 and s.reporter == addr("rep")
    assert c.state.nodes[NODE].jailed
    assert c.balance(f"wallet:{addr('rep')}") == 200


@pytest.mark.parametrize(
    "mutate,code",
    [
        (lambda m: [m[0], m[0]], "invalid_evidence"),  # same message twice
        (lambda m: [m[0], {**m[1], "scope": "task:8:precommit"}], "invalid_evidence"),  # different scopes
        (lambda m: [m[0], sign_scoped("0x" + "43" * 32, CHAIN_ID, "task:7:precommit", "0xbbb")], "invalid_evidence"),  # someone else's key
        (lambda m: [m[0], {**m[1], "signature": "0x00"}], "invalid_signature"),
        (lambda m: [m[0]], "invalid_evidence"),
    ],
)
def test_bad_equivocation_evidence_refused(mutate, code):
    c = chain()
    msgs = [sign_scoped(NODE_KEY, CHAIN_ID, "task:7:precommit", "0xaaa"), sign_scoped(NODE_KEY, CHAIN_ID, "task:7:precommit", "0xbbb")]
    before = c.state.to_dict()
    with pytest.raises(EngineError) as e:
        c.as_("rep", "slash.report", {"node": NODE, "offence": "equivocation", "evidence": {"messages": mutate(msgs)}})
    assert e.value.code == code
    assert c.state.to_dict() == before


def test_node_cannot_report_itself():
    c = chain()
    with pytest.raises(EngineError) as e:
        c.oracle("slash.report", {"node": NODE, "offence": "missed_deadline", "evidence": {"t": 1}, "reporter": NODE})
    assert e.value.code == "self_report"
