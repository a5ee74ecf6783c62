"""Work units are measured: the validators' stake-weighted median token counts, never a miner's or a user's claim."""

import pytest

from cor_incentives.core.errors import EngineError
from cor_incentives.core.pricing import quote
from cor_incentives.core.rules import RULES_MEASURED_TOKENS
from cor_incentives.core.tasks import commitment
from cor_incentives.core.validation import report_commitment
from support.market import commit_reveal, h, market, network, submit, validate_all

OK = lambda v, m: (5_000_000, 800_000_000)  # noqa: E731


def beacon_market(**kw):
    """Token counts are measured from RULES_MEASURED_TOKENS (every new network); with a beacon tasks are drawn at the
    next tick and validators commit to their reports (counts included) before revealing them."""
    return market(beacon=True, **kw)


def before_measured(**kw):
    """A network on the rules before the measured counts (a log recorded under them replays on them)."""
    params = {"rule_version": RULES_MEASURED_TOKENS - 1, **kw.pop("params", {})}
    return market(params=params, **kw)


def drawn(c, tid):
    """Tick until the task's miners are drawn; returns the task."""
    if not c.state.tasks[tid].miners:
        c.oracle("tick", {"ticks": 1})
    return c.state.tasks[tid]


def reveal_all(c, tid):
    t = drawn(c, tid)
    commit_reveal(c, tid, {a.miner: "Paris" for a in t.miners})
    if not c.state.tasks[tid].validators:
        c.oracle("tick", {"ticks": 1})  # draws the validators
    return c.state.tasks[tid]


def run(c, tid, tokens=20, input_tokens=None):
    reveal_all(c, tid)
    validate_all(c, tid, OK, tokens=tokens, input_tokens=input_tokens)
    return c.state.tasks[tid]


def test_declared_input_tokens_are_only_a_bound():
    """1 984 declared input tokens (all the model's context leaves) for a prompt the validators count at 30: the task
    is charged, and its work counts, at 30; a user who declares 5 pays for (and its miners' work counts) 5."""
    c = beacon_market(n_miners=3, params={"epoch_length_ticks": 80}, deposit=1_000 * 10**18)
    t = run(c, submit(c, "a long prompt", input_tokens=1_984, max_out=64), input_tokens=30)
    model = c.state.models[t.model]
    assert t.state == "SETTLED" and (t.input_tokens, t.settled_input_tokens, t.output_tokens) == (1_984, 30, 20)
    assert t.charged == quote(model, 30, 20, c.state.params, t.redundancy).total_units < t.escrowed
    low = run(c, submit(c, "another prompt", input_tokens=5, max_out=64), input_tokens=30)
    assert low.settled_input_tokens == 5 and low.charged == quote(model, 5, 20, c.state.params, low.redundancy).total_units
    rows = {r.task: r.complexity_units for r in c.state.epoch_work}
    assert rows[t.id] == 30 + 20 and rows[low.id] == 5 + 20


def test_a_miner_claims_nothing_and_the_validators_median_decides():
    """After the reveals no count exists; the validators count 20, 20 and 200 tokens for every output (equal
    stakes): each miner's measured count is the median, 20, and so is the task's settled count."""
    c = beacon_market(n_miners=3, n_validators=3, params={"epoch_length_ticks": 80})
    tid = network(c, "Name a prime number.", max_out=64)
    t = reveal_all(c, tid)
    assert all(a.output_tokens is None for a in t.miners) and t.output_tokens is None
    third = c.state.tasks[tid].validators[0]
    validate_all(c, tid, OK, tokens=lambda v, m: 200 if v == third else 20)
    t = c.state.tasks[tid]
    assert t.state == "SETTLED" and {a.output_tokens for a in t.miners} == {20} and t.output_tokens == 20
    assert set(t.output_counts[third].values()) == {200} and len(t.output_counts) == 3


def test_the_settled_output_is_the_lower_median_of_the_winners_capped_at_max_output_tokens():
    c = beacon_market(n_miners=3, params={"epoch_length_ticks": 80})
    tid = network(c, "Write a limerick.", max_out=40)
    miners = sorted(a.miner for a in drawn(c, tid).miners)
    counts = dict(zip(miners, (10, 30, 90)))
    t = run(c, tid, tokens=lambda v, m: counts[m])
    assert [t.assignment(m).output_tokens for m in miners] == [10, 30, 90] and t.output_tokens == 30
    tid = network(c, "Write a long poem.", max_out=40)
    t = run(c, tid, tokens=lambda v, m: 500)  # more than the task allows: counted, but settled at the bound
    assert t.output_tokens == 40 and all(a.output_tokens == 500 for a in t.miners)


def test_a_stake_weighted_minority_cannot_move_the_count():
    """One validator with less than half the reporting stake reports every output at 10 000 tokens: no effect."""
    c = beacon_market(n_miners=3, n_validators=3, params={"epoch_length_ticks": 80, "validators_per_task": 3})
    tid = network(c, "Explain rain.", max_out=64)
    reveal_all(c, tid)
    vs = list(c.state.tasks[tid].validators)
    liar = vs[0]
    validate_all(c, tid, OK, tokens=lambda v, m: 10_000 if v == liar else 25, input_tokens=lambda v: 10_000 if v == liar else 12)
    t = c.state.tasks[tid]
    assert t.output_tokens == 25 and t.settled_input_tokens == 12 and all(a.output_tokens == 25 for a in t.miners)


def _all_commit(c, tid, body):
    """Every drawn validator commits to ``body`` (its reports and prompt count): the task opens for report reveals."""
    for v in c.state.tasks[tid].validators:
        c.submit(
            v,
            "task.report_commit",
            {"task": tid, "commit": report_commitment(tid, v, body["reports"], "rs", body["input_tokens"], body.get("spread_ppb"))},
        )
    assert c.state.tasks[tid].state == "REPORTING"


def _counted_body(c, tid):
    miners = sorted(a.miner for a in c.state.tasks[tid].miners)
    return {
        "task": tid,
        "input_tokens": 12,
        "spread_ppb": 0,
        "reports": [{"miner": m, "poi_distance_ppb": 0, "quality_ppb": 900_000_000, "output_tokens": 20} for m in miners],
        "salt": "rs",
    }


@pytest.mark.parametrize(
    "change, code",
    [
        (lambda body: body.pop("input_tokens"), "invalid_tokens"),
        (lambda body: body["reports"][0].pop("output_tokens"), "invalid_tokens"),
        (lambda body: body.update(input_tokens=-1), "invalid_tokens"),
        (lambda body: body["reports"][0].update(output_tokens=10**8), "invalid_tokens"),
        (lambda body: body["reports"][0].update(output_tokens=True), "invalid_tokens"),
    ],
)
def test_a_validator_must_count(change, code):
    c = beacon_market(n_miners=3, params={"epoch_length_ticks": 80})
    tid = network(c)
    reveal_all(c, tid)
    body = _counted_body(c, tid)
    _all_commit(c, tid, body)
    change(body)
    before = c.state.to_dict()
    with pytest.raises(EngineError) as e:
        c.submit(c.state.tasks[tid].validators[0], "task.validate", body)
    assert e.value.code == code and c.state.to_dict() == before


@pytest.mark.parametrize("field", ["input_tokens", "output_tokens"])
def test_the_counts_are_committed_with_the_reports(field):
    """A validator cannot wait for the others' counts: revealing a count other than the committed one is refused."""
    c = beacon_market(n_miners=3, params={"epoch_length_ticks": 80})
    tid = network(c)
    reveal_all(c, tid)
    body = _counted_body(c, tid)
    _all_commit(c, tid, body)
    if field == "input_tokens":
        body["input_tokens"] = 13
    else:
        body["reports"][0]["output_tokens"] = 21
    before = c.state.to_dict()
    with pytest.raises(EngineError) as e:
        c.submit(c.state.tasks[tid].validators[0], "task.validate", body)
    assert e.value.code == "report_mismatch" and c.state.to_dict() == before


def test_without_a_beacon_the_measured_rules_still_take_the_validators_counts():
    """The rule version decides, not the beacon: on a network without one, reports are public at once but carry
    the counts all the same (a count missing is refused), and the task settles at the validators' median."""
    c = market(n_miners=3, params={"epoch_length_ticks": 80})
    tid = network(c, "Name a prime number.", max_out=64, input_tokens=30)
    commit_reveal(c, tid, {a.miner: "Paris" for a in c.state.tasks[tid].miners})
    v = c.state.tasks[tid].validators[0]
    miners = sorted(a.miner for a in c.state.tasks[tid].miners)
    report = [{"miner": m, "poi_distance_ppb": 0, "quality_ppb": 900_000_000} for m in miners]
    with pytest.raises(EngineError) as e:
        c.submit(v, "task.validate", {"task": tid, "input_tokens": 5, "reports": report})
    assert e.value.code == "invalid_tokens"
    validate_all(c, tid, OK, tokens=11, input_tokens=7)
    t = c.state.tasks[tid]
    assert t.state == "SETTLED" and t.output_tokens == 11 and t.settled_input_tokens == 7 and len(t.input_counts) == len(t.validators)


def test_a_reveal_with_a_claim_is_refused():
    c = beacon_market(n_miners=3, params={"epoch_length_ticks": 80})
    tid = network(c)
    t = drawn(c, tid)
    for a in t.miners:
        c.submit(a.miner, "task.precommit", {"task": tid, "commit": commitment(tid, a.miner, h("Paris"), "salt")})
    m = t.miners[0].miner
    before = c.state.to_dict()
    with pytest.raises(EngineError) as e:
        c.submit(m, "task.reveal", {"task": tid, "output_hash": h("Paris"), "salt": "salt", "output_tokens": 5})
    assert e.value.code == "unknown_field" and c.state.to_dict() == before


@pytest.mark.parametrize("beacon", [False, True])
def test_a_log_before_the_measured_rules_keeps_the_miners_claims(beacon):
    """A network on the rule version before (a log recorded before) replays as recorded: the reveal claims its count,
    validators count nothing (a count is refused), the input count is the requester's."""
    c = before_measured(n_miners=3, params={"epoch_length_ticks": 80}, beacon=beacon)
    tid = network(c, "Name a prime number.", max_out=64, input_tokens=30)
    drawn(c, tid)
    commit_reveal(c, tid, {a.miner: "Paris" for a in c.state.tasks[tid].miners}, tokens=17)
    if not c.state.tasks[tid].validators:
        c.oracle("tick", {"ticks": 1})
    v = c.state.tasks[tid].validators[0]
    miners = sorted(a.miner for a in c.state.tasks[tid].miners)
    report = [{"miner": m, "poi_distance_ppb": 0, "quality_ppb": 900_000_000} for m in miners]
    if not beacon:
        with pytest.raises(EngineError) as e:
            c.submit(v, "task.validate", {"task": tid, "input_tokens": 5, "reports": report})
        assert e.value.code == "unknown_field"
    validate_all(c, tid, OK, tokens=99, input_tokens=5)  # the helper sends no counts on these rules
    t = c.state.tasks[tid]
    assert t.state == "SETTLED" and t.output_tokens == 17 and t.settled_input_tokens == 30 and not t.input_counts


def test_a_task_in_flight_when_governance_activates_the_measured_counts_keeps_its_rules():
    """Rule version 5, a task revealed with its miners' claims; governance activates version 6 before the
    validators report: the task finishes on the rules it was created under (claims, no counts), the next one counts."""
    params = {
        "rule_version": RULES_MEASURED_TOKENS - 1,
        "epoch_length_ticks": 20,
        "gov_voting_period_ticks": 10,
        "gov_min_deposit_units": str(100 * 10**18),
        "validation_deadline_ticks": 200,
    }
    c = market(n_miners=3, params=params)
    for _ in range(2):
        c.oracle("epoch.close", {})  # stake votes from here on
    tid = network(c, "Name a prime number.", max_out=64, input_tokens=30)
    commit_reveal(c, tid, {a.miner: "Paris" for a in c.state.tasks[tid].miners}, tokens=17)
    assert c.state.tasks[tid].state == "COMMITTED" and not c.state.tasks[tid].measured_tokens
    pid = c.state.next_id
    c.as_(
        "user",
        "gov.propose",
        {"kind": "param_change", "title": "t", "changes": {"rule_version": RULES_MEASURED_TOKENS}, "effective_epoch": c.state.epoch + 1},
    )
    for n in ("m0", "m1", "m2", "v0", "v1", "v2", "router"):
        c.as_(n, "gov.vote", {"proposal": pid, "option": "yes"})
    c.oracle("epoch.close", {})
    assert c.state.proposals[pid].status == "EXECUTED" and c.state.params.rule_version == RULES_MEASURED_TOKENS
    assert c.state.tasks[tid].state == "COMMITTED"
    validate_all(c, tid, OK, tokens=99, input_tokens=5)  # the helper follows the task's rules: no counts
    t = c.state.tasks[tid]
    assert t.state == "SETTLED" and t.output_tokens == 17 and t.settled_input_tokens == 30 and not t.input_counts
    later = run(c, network(c, "Name another prime.", max_out=64, input_tokens=30), tokens=11, input_tokens=7)
    assert later.measured_tokens and later.state == "SETTLED" and (later.settled_input_tokens, later.output_tokens) == (7, 11)
