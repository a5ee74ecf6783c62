"""The environment's truth model and the strategies' plans, without the engine."""

from dataclasses import replace

from cor_incentives.core.tasks import commitment
from cor_incentives.sim.strategies import (
    MINER_STRATEGIES,
    VALIDATOR_STRATEGIES,
    Environment,
    MinerContext,
    TaskInfo,
    ValidatorContext,
    derive,
    garbage_output,
    honest_output,
    lazy_output,
    true_measures,
)

ENV = Environment()
TASK = TaskInfo("0:network:1", 7, "network", "p0001", 128)


def ctx(strategy_options=None, public=None, miner="0xm1"):
    return MinerContext(ENV, 1, TASK, miner, strategy_options or {}, public or {})


def test_derive_is_reproducible_and_independent():
    assert derive(3, "a", 1).random() == derive(3, "a", 1).random()
    assert derive(3, "a", 1).random() != derive(3, "a", 2).random() != derive(4, "a", 1).random()


def test_honest_majority_medoid_puts_lazy_and_garbage_where_the_brief_says():
    for k in range(50):
        task = TaskInfo(f"t{k}", k, "user", f"u{k}", 256)
        outs = {
            "h1": honest_output(ENV, 1, task, "h1"),
            "h2": honest_output(ENV, 1, task, "h2"),
            "l": lazy_output(ENV, 1, task, "l"),
            "g": garbage_output(ENV, 1, task, "g"),
        }
        truth = true_measures(ENV, 1, outs)
        assert truth["h1"][0] <= 0.07 and truth["h2"][0] <= 0.07
        assert 0.25 <= truth["l"][0] <= 0.40
        assert 0.90 <= truth["g"][0] <= 1.10
        assert truth["h1"][1] > truth["l"][1] > truth["g"][1]


def test_lazy_majority_moves_the_medoid_off_the_honest_answer():
    task = TaskInfo("t", 1, "user", "u", 256)
    outs = {"h": honest_output(ENV, 1, task, "h"), "l1": lazy_output(ENV, 1, task, "l1"), "l2": lazy_output(ENV, 1, task, "l2")}
    truth = true_measures(ENV, 1, outs)
    assert min(truth["l1"][0], truth["l2"][0]) == 0.0  # a lazy answer is the medoid
    assert truth["h"][0] >= 0.25


def test_miner_plans():
    honest = MINER_STRATEGIES["honest"].plan(ctx())
    assert honest.commit == honest.reveal and honest.cost_units == ENV.inference_cost_units
    assert MINER_STRATEGIES["lazy"].plan(ctx()).cost_units == 0
    assert MINER_STRATEGIES["offline"].plan(ctx()) is None
    mism = MINER_STRATEGIES["mismatched"].plan(ctx())
    assert mism.reveal.hash != mism.commit.hash
    assert commitment(7, "0xm1", mism.reveal.hash, "s") != commitment(7, "0xm1", mism.commit.hash, "s")
    infl = MINER_STRATEGIES["inflater"].plan(ctx())
    assert infl.claimed_tokens == TASK.max_output_tokens >= infl.reveal.tokens


def test_copier_guesses_unless_the_prompt_was_published():
    guess = MINER_STRATEGIES["copier"].plan(ctx())
    assert guess.commit.cluster == "lazy" and guess.cost_units == 0 and not guess.copy_at_reveal
    published = honest_output(ENV, 1, TaskInfo("earlier", 3, "network", "p0001", 128), "0xother")
    replay = MINER_STRATEGIES["copier"].plan(ctx(public={"p0001": published}))
    assert replay.commit == replay.reveal == published and replay.cost_units == 0
    assert MINER_STRATEGIES["copier"].plan(ctx({"reveal": "copy"})).copy_at_reveal


def vctx(validator, options=None, so_far=None, coalition=None):
    truth = {"m1": (0.02, 0.8), "m2": (0.95, 0.05)}
    return ValidatorContext(ENV, 1, TASK, validator, options or {}, ["m1", "m2"], truth, coalition or {}, so_far or {}, {"v1": 1, "v2": 1})


def test_validator_reports():
    honest = VALIDATOR_STRATEGIES["honest"].report(vctx("v1"))
    assert [m for m, _, _ in honest] == ["m1", "m2"] and honest[1][1] > 800_000_000 and honest[0][2] > 600_000_000
    assert VALIDATOR_STRATEGIES["copier"].report(vctx("v1")) == [("m1", 50_000_000, 800_000_000), ("m2", 50_000_000, 800_000_000)]
    echo = VALIDATOR_STRATEGIES["echo"].report(vctx("v2", so_far={"v1": {"m1": (1, 2), "m2": (3, 4)}}))
    assert echo == [("m1", 1, 2), ("m2", 3, 4)]
    col = VALIDATOR_STRATEGIES["colluding"].report(vctx("v1", coalition={"v1": "c", "m1": "c"}))
    assert col == [("m1", 0, 1_000_000_000), ("m2", 500_000_000, 100_000_000)]
    assert VALIDATOR_STRATEGIES["offline"].report(vctx("v1")) is None


def test_canary_spotter_evaluates_only_where_its_tell_fires():
    """m2's output is word salad (the garbage a canary plants) and a third of m1's length: the word-salad and length tells
    fire on it; without a suspect the spotter guesses (no evaluation, no cost), the kind tell fires on every network task."""
    spotter = VALIDATOR_STRATEGIES["canary_spotter"]

    def spot(options, word_salad=("m2",), lengths=None, kind="network", history=()):
        c = vctx("v1", options)
        task = TaskInfo(TASK.key, TASK.task_id, kind, TASK.prompt_id, TASK.max_output_tokens)
        lengths = {"m1": 120, "m2": 40} if lengths is None else lengths
        return replace(c, task=task, word_salad=frozenset(word_salad), lengths=lengths, history=list(history))

    honest = VALIDATOR_STRATEGIES["honest"].report(vctx("v1"))
    for options in ({}, {"tell": "length"}, {"tell": "network"}):
        c = spot(options)
        assert spotter.evaluated(c) and spotter.report(c) == honest and spotter.spread(c) == VALIDATOR_STRATEGIES["honest"].spread(c), options
    guess = [("m1", 30_000_000, 790_000_000), ("m2", 30_000_000, 790_000_000)]  # the median consensus of earlier tasks
    history = [(30_000_000, 790_000_000), (20_000_000, 800_000_000), (950_000_000, 50_000_000)]
    for options, c in (
        ({}, spot({}, word_salad=(), history=history)),
        ({"tell": "length"}, spot({"tell": "length"}, lengths={"m1": 120, "m2": 110}, history=history)),
        ({"tell": "network"}, spot({"tell": "network"}, kind="user", history=history)),
        ({"tell": "never"}, spot({"tell": "never"}, history=history)),
    ):
        assert not spotter.evaluated(c) and spotter.report(c) == guess and spotter.spread(c) == 0, options
    flag = spot({"on_guess": "flag"}, history=history)  # flags the suspect as garbage and evaluates nothing
    assert not spotter.evaluated(flag) and spotter.report(flag) == [guess[0], ("m2", 1_000_000_000, 0)]
    assert not VALIDATOR_STRATEGIES["honest"].evaluates_task and VALIDATOR_STRATEGIES["honest"].evaluated(vctx("v1"))
