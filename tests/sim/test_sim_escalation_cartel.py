"""Attack escalation_cartel (sim/attacks/escalation.py): 3 of the 10 validators move one quality past dissent_bound_ppb in
the first round of every network task they are drawn for (no offence), so it escalates to the other validators. Under
rule 28 (rules=before_shared) each round's row earned a whole validation: the cartel and everyone else earned far more than
in the honest twin, from the pool. From rule 29 (``RULES_ESCALATION_SHARE``, the default) a task's validations are paid
once (its escalation rounds share what its first round left): the cartel earns less than in its twin. From rule 31
(``RULES_ESCALATION_PAY``, the default) an escalation's validators are paid their agreement, and the reports that made it
escalate pay for it (their row of the task counts 0, and the escalation's pay beyond what the first round left is cut
from their other validations): the cartel's escalation seats earn at most what its own dissenters pay, so it loses more."""

from cor_incentives.sim.attacks import Attack, evaluate, evaluate_many


def test_under_rule_28_manufactured_escalations_pay_the_cartel_and_drain_the_pool():
    r = evaluate(Attack("s", "escalation_cartel", {"rules": "before_shared"}), seeds=(1,))
    assert r["books"]["ok"] and r["verdict"] == "open"
    m = r["measured"]
    assert m["escalated"] > m["network_tasks"] // 2 and m["twin_escalated"] < m["escalated"] // 4 and m["cartel_slashed"] == 0
    assert r["gain"] > 0.3  # the cartel: +53 % at seed 1
    assert m["others_income"] > m["twin_others_income"] * 3 // 2  # everyone drawn into an escalation round is paid again
    assert m["stream_paid"] > m["twin_stream_paid"] * 3 // 2


def test_under_rule_31_the_dissenters_pay_for_the_escalations_and_the_cartel_loses_more():
    r = evaluate(Attack("s", "escalation_cartel"), seeds=(1,))
    assert r["books"]["ok"] and r["verdict"] == "stopped"
    m = r["measured"]
    assert m["escalated"] > m["network_tasks"] // 2 and m["cartel_slashed"] == 0  # it escalates as much ...
    assert r["gain"] < -0.5  # ... and loses: -85.0 % at seed 1 (rule 30: -16.0 %)
    # the honest validators are paid for the escalation rounds they work (their income +46 % at seed 1: they validate
    # about twice as many rows); the cartel pays for them, so the stream pays about what it pays for the tasks once
    # (+7.7 % at seed 1: the escalations' reputation observations, as under 29)
    assert m["others_income"] > m["twin_others_income"] * 13 // 10 and m["cartel_income"] < m["twin_cartel_income"] // 2
    # from rule 33 what the dissenters' validations cannot pay comes from their bonds into the pool (cartel_bond_charged),
    # and the escalation rows are paid in full: the pool's cost is the stream's pay net of it (rules 31-32: gross +7.7 %)
    assert m["cartel_bond_charged"] > 0
    # (net within 20 %: the bonds pay rate × 1.0 per validation funded, the rows are paid at their multipliers)
    assert m["stream_paid"] - m["cartel_bond_charged"] < m["twin_stream_paid"] * 120 // 100


def test_under_rule_35_the_pool_pays_almost_none_of_the_escalations_the_cartel_funds():
    """Rule 34 (before_priced) charged the cartel's bonds at multiplier 1.0 per validation they funded, while the stream
    paid the honest rows at their multipliers (up to 1.5): the stream net of the charges +17.4 % against the twin over
    seeds 1-5. Rule 35 charges at reputation_multiplier_max_ppb: +2.3 % (what stays: the escalations' reputation
    observations and the first rounds' leftovers, not a funded validation). Here seeds 1-2: +17.19 % → +2.17 %."""
    attacks = [Attack("priced", "escalation_cartel"), Attack("before_priced", "escalation_cartel", {"rules": "before_priced"})]
    now, before = evaluate_many(attacks, seeds=(1, 2), workers=1)
    assert now["books"]["ok"] and before["books"]["ok"]
    m, b = now["measured"], before["measured"]
    assert now["knobs"]["rules"] == "priced" and before["knobs"]["rules"] == "before_priced"
    assert m["twin_bond_charged"] == b["twin_bond_charged"] == 0 and m["bond_charged"] == m["cartel_bond_charged"] > b["cartel_bond_charged"]
    assert m["stream_net_excess"] == round((m["stream_paid"] - m["bond_charged"]) / m["twin_stream_paid"] - 1, 4)
    assert b["stream_net_excess"] == 0.1719 and m["stream_net_excess"] == 0.0217  # (seeds 1-2)
    assert m["stream_net_excess"] < b["stream_net_excess"] / 3
    assert now["gain"] < before["gain"] < 0  # the cartel loses more (its charges are higher)


def test_under_rule_30_the_cartel_earns_less_than_in_its_twin():
    r = evaluate(Attack("s", "escalation_cartel", params={"rule_version": 30}), seeds=(1,))
    assert r["books"]["ok"] and r["verdict"] == "stopped"
    m = r["measured"]
    assert m["escalated"] > m["network_tasks"] // 2 and m["cartel_slashed"] == 0  # it escalates as much ...
    assert r["gain"] < 0 and m["cartel_income"] < m["twin_cartel_income"]  # ... and loses
    # the stream pays each task's validations once: within 10 % of the twin (+6.5 % at seed 1 under 29: the escalation
    # rounds' observations raise the young validators' reputations, so their multipliers, sooner), not 72 % more as under 28
    assert m["stream_paid"] < m["twin_stream_paid"] * 110 // 100


def test_a_lone_dissenter_loses_too():
    r = evaluate(Attack("s", "escalation_cartel", {"coalition": 1}), seeds=(1,))
    assert r["books"]["ok"] and r["verdict"] == "stopped" and r["gain"] < 0


def test_through_cor_simulate_both_rules_from_a_file(tmp_path):
    """End to end: ``cor simulate --file`` runs the family under rule 29 (stopped) and under rule 28 (open), one JSON document."""
    import json

    import typer
    from typer.testing import CliRunner

    from cor_incentives.cli.simulate import register

    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """cor (test harness)"""

    register(app)

    f = tmp_path / "escalation.json"
    attacks = [
        {"family": "escalation_cartel", "name": "shared", "seeds": [1]},
        {"family": "escalation_cartel", "name": "before", "knobs": {"rules": "before_shared"}, "seeds": [1]},
    ]
    f.write_text(json.dumps({"attacks": attacks}))
    res = CliRunner().invoke(app, ["simulate", "--file", str(f), "--out", str(tmp_path / "o"), "--workers", "1", "--json"])
    assert res.exit_code == 0, res.output
    checks = {c["scenario"]: c for c in json.loads(res.stdout)["checks"]}
    assert checks["shared"]["verdict"] == "stopped" and checks["shared"]["measured"]["gain"] < 0
    assert checks["before"]["verdict"] == "open" and checks["before"]["measured"]["gain"] > 0.3
    assert checks["before"]["measured"]["knobs"]["rules"] == "before_shared"
