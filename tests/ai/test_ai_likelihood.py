"""Model fidelity (ai.likelihood): the check's arithmetic, and teacher forcing with the real SmolLM2."""

import math

import pytest

from cor_incentives.ai.bundled import gguf_path
from cor_incentives.ai.likelihood import (
    BUDGET_SLACK_TOKENS,
    PLAUSIBLE_MIN_RATIO,
    PLAUSIBLE_RANK,
    TeacherForcer,
    TokenStat,
    TokenTrace,
    is_plausible,
    likelihood_check,
)
from cor_incentives.ai.quality import MIN_FIDELITY_PPB, MODEL_CHECK_CAP_PPB, RuleEmbeddingScorer, finalize_score
from cor_incentives.core.params import Params
from cor_incentives.nodes.backends import LlamaBackend, Sampling
from cor_incentives.nodes.validator import evaluate_outputs

TOP = TokenStat(-0.1, 0.0, 0)
FAR = TokenStat(-12.0, 11.0, 900)  # rank 900, 11 nats under the top token


def trace(good: int, bad: int, end: TokenStat = TOP, cut: bool = False) -> TokenTrace:
    return TokenTrace(tuple([TOP] * good + [FAR] * bad), end, cut)


# -- the check's arithmetic (synthetic traces) --------------------------------------------------------


def test_plausible_is_rank_and_ratio():
    limit = -math.log(PLAUSIBLE_MIN_RATIO)
    assert is_plausible(TokenStat(-3.0, limit - 1e-9, PLAUSIBLE_RANK - 1))
    assert not is_plausible(TokenStat(-3.0, limit - 1e-9, PLAUSIBLE_RANK))  # rank 40: outside top-k
    assert not is_plausible(TokenStat(-3.0, limit + 1e-6, 3))  # under 1 % of the top token


def test_fidelity_is_the_floored_share_of_plausible_tokens():
    c = likelihood_check(trace(2, 1), None)
    assert (c.tokens, c.plausible, c.fidelity_ppb) == (3, 2, 666_666_666)
    assert c.mean_logprob_milli == math.floor(1000 * (-0.1 - 0.1 - 12.0) / 3)
    assert likelihood_check(trace(9, 1), None).fidelity_ppb == 900_000_000  # the floor itself passes
    assert likelihood_check(trace(0, 0), None) == likelihood_check(TokenTrace((), TOP), None)
    empty = likelihood_check(trace(0, 0), 50)
    assert (empty.fidelity_ppb, empty.ending_ppb) == (0, 0)


def test_ending_at_the_budget_or_where_the_model_ends():
    early = trace(10, 0, end=FAR)  # stops after 10 tokens where the model would go on
    assert likelihood_check(early, 100).ending_ppb == 0
    assert likelihood_check(early, None).ending_ppb == 0
    assert likelihood_check(early, 10 + BUDGET_SLACK_TOKENS).ending_ppb == 10**9  # at its budget (slack)
    assert likelihood_check(early, 11 + BUDGET_SLACK_TOKENS).ending_ppb == 0
    assert likelihood_check(trace(10, 0, end=TOP), 100).ending_ppb == 10**9  # the model ends here too
    assert likelihood_check(trace(10, 0, end=FAR, cut=True), 10_000).ending_ppb == 10**9  # read in part: no verdict


def test_trace_round_trips_through_json_lists():
    t = TokenTrace((TokenStat(-1.2344, 0.5, 3),), TOP, True)
    back = TokenTrace.from_dict(t.to_dict())
    assert back.cut and back.tokens[0].rank == 3 and back.tokens[0].logprob == -1.23
    assert TokenStat.from_list([-1.5, 0.25, 2, 0.75]) == TokenStat(-1.5, 0.25, 2)  # an earlier cache's 4th value is ignored


class FixedReader:
    def __init__(self, t: TokenTrace) -> None:
        self.t = t

    def trace(self, prompt: str, output: str) -> TokenTrace:
        return self.t


def test_a_failed_model_check_caps_the_score_and_flags_it():
    out = "The capital of France is Paris. It is the largest city of the country."
    plain = RuleEmbeddingScorer().score("What is the capital of France?", out, max_output_tokens=64)
    assert plain.total_ppb > MODEL_CHECK_CAP_PPB and "fidelity" not in plain.criteria
    ok = RuleEmbeddingScorer(reader=FixedReader(trace(16, 0))).score("What is the capital of France?", out, max_output_tokens=64)
    assert ok.total_ppb == plain.total_ppb and ok.criteria["fidelity"] == 10**9 and ok.criteria["ending"] == 10**9
    forged = RuleEmbeddingScorer(reader=FixedReader(trace(8, 8))).score("What is the capital of France?", out, max_output_tokens=64)
    assert forged.total_ppb == MODEL_CHECK_CAP_PPB and "not_model_output" in forged.flags and forged.verdict == "INVALID"
    cut = RuleEmbeddingScorer(reader=FixedReader(trace(16, 0, end=FAR))).score("What is the capital of France?", out, max_output_tokens=64)
    assert cut.total_ppb == MODEL_CHECK_CAP_PPB and "stopped_early" in cut.flags
    with pytest.raises(ValueError):
        finalize_score({"relevance": 0, "compliance": 0, "completeness": 0, "integrity": 0, "perplexity": 0}, [])


# -- the real model --------------------------------------------------------------------------------------

PROMPT = "Explain in two sentences why the sky is blue."


@pytest.fixture(scope="module")
def forcer():
    return TeacherForcer(gguf_path(), n_threads=1, n_ctx=1024)


@pytest.fixture(scope="module")
def miner():
    return LlamaBackend(n_threads=1, sampling=Sampling(temperature=0.9, seed=7))


def test_sampled_answers_pass_and_a_template_does_not(forcer, miner):
    for seed in (1, 2, 3):
        gen, finish = miner.complete(PROMPT, 96, seed=seed)
        c = likelihood_check(forcer.trace(PROMPT, gen.text), 96)
        assert c.fidelity_ppb >= MIN_FIDELITY_PPB, (seed, gen.text)
        assert c.ending_ppb == 10**9, (seed, finish, gen.text)
        assert abs(c.tokens - gen.output_tokens) <= 3  # the validator re-tokenises what the miner counted
    template = f"Great question! Here is a complete overview of {PROMPT.rstrip('.')}, covering every key point you need to know."
    assert likelihood_check(forcer.trace(PROMPT, template), 96).fidelity_ppb < MIN_FIDELITY_PPB
    garbage = "qwx zzkv plor mnbvc xxqq lkjh poiu ytre"
    assert likelihood_check(forcer.trace(PROMPT, garbage), 96).fidelity_ppb < MIN_FIDELITY_PPB


def test_a_truncated_answer_stops_where_the_model_goes_on(forcer, miner):
    gen, finish = miner.complete(PROMPT, 12, seed=5)
    assert finish == "length"
    c = likelihood_check(forcer.trace(PROMPT, gen.text), 96)  # the task's budget was 96, the miner stopped at 12
    assert c.fidelity_ppb >= MIN_FIDELITY_PPB and c.ending_ppb == 0
    assert likelihood_check(forcer.trace(PROMPT, gen.text), 12).ending_ppb == 10**9  # at the budget: fine


def test_the_forcer_reuses_the_prompt_and_gives_the_same_trace(forcer, miner):
    gen, _ = miner.complete(PROMPT, 48, seed=11)
    a = forcer.trace(PROMPT, gen.text)
    forcer.trace("Name a fruit.", "Apple.")  # another prompt in between
    b = forcer.trace(PROMPT, gen.text)
    c = forcer.trace(PROMPT, gen.text)  # the prompt is still read: only the output is evaluated
    assert [t.rank for t in a.tokens] == [t.rank for t in b.tokens] == [t.rank for t in c.tokens]
    assert all(abs(x.logprob - y.logprob) < 1e-3 for x, y in zip(a.tokens, c.tokens))
    with pytest.raises(ValueError):
        forcer.trace("word " * 1500, "x")  # longer than the context: refused, not cut silently


def test_the_validator_puts_a_template_below_the_floor_with_the_model(forcer, miner):
    a, _ = miner.complete(PROMPT, 96, seed=21)
    b, _ = miner.complete(PROMPT, 96, seed=22)
    generic = f"Here is a clear and complete answer to your request about {PROMPT.rstrip('.').lower()}. It covers the main points."
    outputs = {"0x01": a.text, "0x02": b.text, "0x03": generic}
    without = {r["miner"]: r for r in evaluate_outputs(PROMPT, outputs, 96)}
    with_model = {r["miner"]: r for r in evaluate_outputs(PROMPT, outputs, 96, reader=forcer)}
    floor = Params().consensus_min_quality_ppb
    assert without["0x03"]["quality_ppb"] >= MODEL_CHECK_CAP_PPB  # the scorer alone does not see through it
    assert with_model["0x03"]["quality_ppb"] <= MODEL_CHECK_CAP_PPB < floor
    assert with_model["0x03"]["criteria"]["fidelity"] < MIN_FIDELITY_PPB
    for m in ("0x01", "0x02"):
        assert with_model[m]["criteria"]["fidelity"] >= MIN_FIDELITY_PPB and with_model[m]["quality_ppb"] == without[m]["quality_ppb"]
