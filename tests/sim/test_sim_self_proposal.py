"""Attack self_proposal (sim/attacks/governance.py): a whale with 40 % of the aged stake over 4 keys opens a proposal every
epoch and abstains on it with every key. Under rule 28 (rules=before_voter_power) the quorum is met and the threshold
not (REJECTED, the deposit back), and the stream, divided by the voters' weights alone, went to its 4 keys at 25 % each:
all of it. From rule 29 (``RULES_VOTER_POWER``, the default) the no-op is refused, an abstain-only proposal pays nobody,
and a decisive vote pays the whale its share of all the aged stake: what voting on a real proposal pays its honest twin."""

from cor_incentives.sim.attacks import FAMILIES, Attack, evaluate

OLD = {"rules": "before_voter_power"}


def test_under_rule_28_the_whale_takes_the_whole_stream_with_a_no_op_it_abstains_on():
    r = evaluate(Attack("s", "self_proposal", OLD), seeds=(1,))
    assert r["books"]["ok"] and r["verdict"] == "open" and not r["passed"]
    m = r["measured"]
    assert m["share_of_stream"] == 1.0 and m["twin_share_of_stream"] == 0 and m["refused"] == []
    assert m["own_proposals_opened"] == 3 and abs(m["stake_share"] - 0.4) < 1e-6
    assert r["gain"] == 1.0  # every deposit back: the whole stream is the gain


def test_under_rule_29_the_no_op_is_refused_and_an_abstain_only_proposal_earns_nothing():
    r = evaluate(Attack("s", "self_proposal"), seeds=(1,))
    assert r["books"]["ok"] and r["passed"] and r["gain"] == 0
    assert r["measured"]["refused"] == ["own: param_change_no_op"] and r["measured"]["own_proposals_opened"] == 0
    other = evaluate(Attack("s", "self_proposal", {"change": "other"}), seeds=(1,))
    assert other["passed"] and other["gain"] == 0 and other["measured"]["own_proposals_opened"] == 3
    assert other["measured"]["share_of_stream"] == 0  # opened, quorum met, abstain only: unpaid


def test_under_rule_29_a_decisive_vote_earns_the_whale_its_stake_share_and_no_more():
    no = evaluate(Attack("s", "self_proposal", {"change": "other", "vote": "no"}), seeds=(1,))
    m = no["measured"]
    # (stake share 0.400284 from rule 33: the validators whose escalations their bonds paid for hold a little less stake;
    # below 0.4001 through 32; 0.400851 from 35, whose charge prices a funded validation at 1.5 x the rate)
    assert no["passed"] and 0.399 < m["share_of_stream"] <= m["stake_share"] < 0.4010
    old = evaluate(Attack("s", "self_proposal", OLD | {"change": "other", "vote": "no"}), seeds=(1,))
    assert old["measured"]["share_of_stream"] == 1.0 and not old["passed"]  # 28: the voters' weight only


def test_with_real_proposals_the_whale_earns_what_its_honest_twin_earns():
    r = evaluate(Attack("s", "self_proposal", {"real": "yes", "change": "other", "vote": "no"}), seeds=(1,))
    m = r["measured"]
    assert r["passed"] and 0.399 < m["share_of_stream"] <= m["stake_share"]
    # what its twin earns, to 0.1 % of the stream: the two worlds' draws differ (the whale's keys and votes are other
    # events), so their honest escalations differ, and an honest dissenter short of rows is charged to its bond in one
    # world and not, or another amount, in the other: the validators' stake, so all the aged stake the share is of,
    # differs a little (seed 1: through 34 the worlds' charges first differed at epoch 5 and the shares came out equal;
    # under 35 at epoch 2: 0.400709 against 0.400630)
    assert abs(m["share_of_stream"] - m["twin_share_of_stream"]) < 0.001


def test_one_key_is_capped_and_more_keys_earn_no_more_under_29():
    one = evaluate(Attack("s", "self_proposal", OLD | {"keys": 1}), seeds=(1,))
    assert one["measured"]["share_of_stream"] == 0.25  # 28: one key held to gov_voter_reward_cap_bps
    many = evaluate(Attack("s", "self_proposal", {"keys": 8, "change": "other", "vote": "no"}), seeds=(1,))
    assert many["passed"] and many["measured"]["share_of_stream"] <= many["measured"]["stake_share"]


def test_the_family_is_listed_with_its_rules_knob():
    family = FAMILIES["self_proposal"]
    assert next(k for k in family.knobs if k.name == "rules").choices == ("voter_power", "before_voter_power")
