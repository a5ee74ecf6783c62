"""Model fidelity (ai.likelihood): the check's arithmetic, and teacher forcing with the real SmolLM2."""

import math

import pytest

from cor_incentives.ai.bundled import gguf_path
from cor_incentives.ai.likelihood import (
    BUDGET_SLACK_BPS,
    BUDGET_SLACK_TOKENS,
    PLAUSIBLE_MIN_RATIO,
    PLAUSIBLE_RANK,
    PROMPT_GAIN_WINDOW,
    WRONG_TURN_GAP_NATS,
    WRONG_TURN_WINDOW,
    TeacherForcer,
    TokenStat,
    TokenTrace,
    budget_slack,
    is_plausible,
    likelihood_check,
    prompt_gain,
)
from cor_incentives.ai.quality import (
    INVALID_BELOW_PPB,
    MIN_FIDELITY_PPB,
    MODEL_CHECK_CAP_PPB,
    MODEL_VERIFIED_MIN_PPB,
    RESTATED_MIN_WORDS,
    RESTATED_MIN_WRONG_TURNS,
    SHORT_STOP_END_GAP_MILLI,
    SHORT_STOP_FACTOR,
    UNPROMPTED_MAX_EARLY_GAIN_MILLI,
    UNPROMPTED_RELATIVE_BPS,
    RuleEmbeddingScorer,
    finalize_score,
    prompt_ngrams,
    restates,
    task_checks,
)
from cor_incentives.core.params import Params
from cor_incentives.nodes.backends import LlamaBackend, Sampling
from cor_incentives.nodes.validator import evaluate_outputs
from support.llama_build import xfail_off_recording_build
from support.traces import TOP, MapReader, flat

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


def test_the_budget_slack_grows_with_the_budget():
    # a run that spent its budget may re-tokenise to fewer tokens: 2, or 10 % of a larger budget
    assert (BUDGET_SLACK_TOKENS, BUDGET_SLACK_BPS) == (2, 1_000)
    assert [budget_slack(b) for b in (1, 16, 29, 30, 112, 144, 1000)] == [2, 2, 2, 3, 11, 14, 100]
    cut = trace(130, 0, end=FAR)  # 130 tokens of a 144-token budget, the model would go on
    assert likelihood_check(cut, 144).ending_ppb == 10**9 and likelihood_check(cut, 144).end_gap_milli == 0
    assert likelihood_check(cut, 145).ending_ppb == 0 and likelihood_check(cut, 145).end_gap_milli == math.floor(1000 * FAR.gap)
    assert likelihood_check(cut, 144, slack=2).ending_ppb == 0  # the fixed slack before
    # a truncating miner stops at an eighth of its budget: far outside the slack
    assert likelihood_check(trace(18, 0, end=FAR), 144).ending_ppb == 0


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


def test_early_wrong_turns_count_far_tokens_in_the_first_window_only():
    turn = TokenStat(-7.5, WRONG_TURN_GAP_NATS + 0.01, 30)  # plausible by rank, far below the top token
    edge = TokenStat(-6.5, WRONG_TURN_GAP_NATS, 12)  # exactly at the gap: not a wrong turn
    t = TokenTrace((TOP, turn, edge, *[TOP] * (WRONG_TURN_WINDOW - 3), turn, turn), TOP)
    assert likelihood_check(t, None).early_wrong_turns == 1  # the two after the window do not count
    assert likelihood_check(trace(40, 0), None).early_wrong_turns == 0


def test_prompt_gain_is_the_mean_and_the_early_sum_of_the_log_likelihood_ratio():
    after_prompt, after_nothing = flat(40, -0.5), flat(40, -2.0)
    assert prompt_gain(after_prompt, after_nothing) == (1500, 1500 * PROMPT_GAIN_WINDOW)
    assert prompt_gain(after_nothing, after_prompt) == (-1500, -1500 * PROMPT_GAIN_WINDOW)
    assert prompt_gain(flat(0, 0.0), flat(0, 0.0)) == (0, 0)
    # a trace cut by the context: compared on the tokens both read
    assert prompt_gain(flat(10, -1.0), flat(40, -1.25)) == (250, 2500)
    c = likelihood_check(after_prompt, None, free=after_nothing)
    assert (c.prompt_gain_milli, c.early_prompt_gain_milli) == (1500, 48_000)
    assert likelihood_check(after_prompt, None).prompt_gain_milli is None  # not read after no prompt: no gain


def test_the_end_gap_is_reported_only_for_an_output_that_stopped_before_its_budget():
    end = TokenStat(-4.0, 3.5, 12)
    assert likelihood_check(trace(10, 0, end=end), 100).end_gap_milli == 3500
    assert likelihood_check(trace(10, 0, end=end), 10 + BUDGET_SLACK_TOKENS).end_gap_milli == 0  # at its budget
    assert likelihood_check(trace(10, 0, end=end, cut=True), 100).end_gap_milli == 0  # read in part


SUMMARY_PROMPT = "Summarize in one sentence: the school garden grew vegetables that the pupils cooked for lunch."
ANSWER = "Pupils grew vegetables in their school garden and cooked them for lunch."
ANSWER_2 = "The school garden gave pupils vegetables, which they cooked for their lunch."
RELATED = "A simple way for a school to grow its own food."


def test_an_answer_the_prompt_does_not_make_likelier_is_off_prompt():
    """Unprompted: no wrong turn, good relevance, but the prompt raises its likelihood far less than the others'."""
    gained = flat(20, -0.5)  # after the prompt
    reader = MapReader(
        {ANSWER: gained, ANSWER_2: gained, RELATED: flat(12, -1.0)},
        free={ANSWER: flat(20, -2.5), ANSWER_2: flat(20, -2.5), RELATED: flat(12, -1.25)},  # gains 2.0, 2.0 and 0.25 nats per token
    )
    scorer = RuleEmbeddingScorer(reader=reader)
    own, _, checks = scorer.score_each(SUMMARY_PROMPT, [ANSWER, ANSWER_2, RELATED], max_output_tokens=64)
    assert all(c is not None and c.early_wrong_turns == 0 and c.fidelity_ppb == 10**9 for c in checks)
    related = checks[2]
    assert related is not None and related.prompt_gain_milli == 250 and related.early_prompt_gain_milli == 3000
    assert related.prompt_gain_milli * 10_000 < 2000 * UNPROMPTED_RELATIVE_BPS and related.early_prompt_gain_milli < UNPROMPTED_MAX_EARLY_GAIN_MILLI
    scores = scorer.score_outputs(SUMMARY_PROMPT, [ANSWER, ANSWER_2, RELATED], max_output_tokens=64)
    assert "off_prompt" in scores[2].flags and scores[2].total_ppb <= MODEL_CHECK_CAP_PPB and scores[2].verdict == "INVALID"
    assert scores[:2] == own[:2]  # the answers to this prompt keep their own scores

    # a large early gain (a real answer that wanders later) is not off prompt, nor is a gain close to the others'
    def flags(r: MapReader) -> tuple[str, ...]:
        return RuleEmbeddingScorer(reader=r).score_outputs(SUMMARY_PROMPT, [ANSWER, ANSWER_2, RELATED], max_output_tokens=64)[2].flags

    long_gain = MapReader({**reader.traces, RELATED: flat(40, -1.0)}, free={**reader.free, RELATED: flat(40, -1.25)})  # 8 nats early
    assert "off_prompt" not in flags(long_gain)
    close = MapReader(reader.traces, free={**reader.free, RELATED: flat(12, -2.0)})  # gain 1.0: half the others'
    assert "off_prompt" not in flags(close)
    # the prompt makes it less likely than no question at all: off prompt whatever its length
    losing = MapReader({**reader.traces, RELATED: flat(40, -1.0)}, free={**reader.free, RELATED: flat(40, -0.9)})
    assert "off_prompt" in flags(losing)
    # alone in its task: nothing to compare with
    assert "off_prompt" not in scorer.score_outputs(SUMMARY_PROMPT, [RELATED], max_output_tokens=64)[0].flags


def test_an_answer_far_shorter_than_the_others_that_stops_where_the_model_goes_on_stopped_early():
    prompt = "List five jobs that involve working outdoors."
    full = "1. Gardener\n2. Park ranger\n3. Farmer\n4. Lifeguard\n5. Roofer, who fixes roofs in every kind of weather."
    full_2 = "Here are five: 1. Forester 2. Surveyor 3. Landscaper 4. Fisher 5. Mail carrier, walking a route each day."
    cut = "1. Gardener"
    near = TokenStat(-3.6, SHORT_STOP_END_GAP_MILLI / 1000 + 0.02, 7)  # plausible (ending passes), but under min-p 0.05
    reader = MapReader({full: flat(24, -0.5), full_2: flat(24, -0.5), cut: flat(4, -0.5, end=near)})
    scores = RuleEmbeddingScorer(reader=reader).score_outputs(prompt, [full, full_2, cut], max_output_tokens=48)
    assert "stopped_early" in scores[2].flags and scores[2].total_ppb <= MODEL_CHECK_CAP_PPB
    assert all("stopped_early" not in s.flags for s in scores[:2])
    assert 4 * SHORT_STOP_FACTOR < 24
    # the model's end-of-turn token close to the top: a short answer the sampler could end, kept
    likely = MapReader({**reader.traces, cut: flat(4, -0.5, end=TokenStat(-1.5, 1.0, 1))})
    assert "stopped_early" not in RuleEmbeddingScorer(reader=likely).score_outputs(prompt, [full, full_2, cut], max_output_tokens=48)[2].flags
    # as long as half the longest other: kept
    halfway = MapReader({full: flat(24, -0.5), full_2: flat(24, -0.5), cut: flat(12, -0.5, end=near)})
    assert "stopped_early" not in RuleEmbeddingScorer(reader=halfway).score_outputs(prompt, [full, full_2, cut], max_output_tokens=48)[2].flags


CODE_PROMPT = "Write a Python function is_even(n) that returns True if n is even and False otherwise."
IS_EVEN = "```python\ndef is_even(n):\n    return n % 2 == 0\n```\nThis function returns True when n is divisible by 2."
IS_EVEN_2 = "Here is the function:\n```python\ndef is_even(n):\n    if n % 2 == 0:\n        return True\n    return False\n```"
# a real SmolLM2 answer to another prompt of the same kind (data/poi-calibration, p0004's off_topic output)
REPLAYED = (
    "```python\ndef absolute_difference(a, b):\n    return abs(a - b)\n```\n\n"
    "Example usage:\n```python\nprint(absolute_difference(5, 5))  # Output: 5\n```"
)
TURN = TokenStat(-9.0, 8.5, 400)


def test_an_answer_to_another_prompt_with_a_wrong_turn_is_off_prompt():
    clean = TokenTrace(tuple([TOP] * 30), TOP)
    turned = TokenTrace((TOP, TOP, TOP, TURN, *[TOP] * 26), TOP)  # fidelity 29/30: passes the fidelity check
    scorer = RuleEmbeddingScorer(reader=MapReader({IS_EVEN: clean, IS_EVEN_2: clean, REPLAYED: turned}))
    own, cosines, checks = scorer.score_each(CODE_PROMPT, [IS_EVEN, IS_EVEN_2, REPLAYED], max_output_tokens=64)
    assert own[2].total_ppb >= Params().consensus_min_quality_ppb  # each output on its own: the replay passes
    assert checks[2] is not None and checks[2].fidelity_ppb >= MIN_FIDELITY_PPB and checks[2].early_wrong_turns == 1
    assert cosines[2] * 10 < max(cosines[:2]) * 7  # and it is much less relevant than the answers to this prompt
    scores = scorer.score_outputs(CODE_PROMPT, [IS_EVEN, IS_EVEN_2, REPLAYED], max_output_tokens=64)
    assert scores[2].total_ppb == MODEL_CHECK_CAP_PPB and "off_prompt" in scores[2].flags and scores[2].verdict == "INVALID"
    assert scores[:2] == own[:2]
    # either signal alone is not enough: the replay read without a wrong turn, a relevant answer with one
    plain = RuleEmbeddingScorer(reader=MapReader({IS_EVEN: clean, IS_EVEN_2: clean, REPLAYED: clean}))
    assert "off_prompt" not in plain.score_outputs(CODE_PROMPT, [IS_EVEN, IS_EVEN_2, REPLAYED], max_output_tokens=64)[2].flags
    relevant = RuleEmbeddingScorer(reader=MapReader({IS_EVEN: turned, IS_EVEN_2: clean, REPLAYED: clean}))
    assert all("off_prompt" not in s.flags for s in relevant.score_outputs(CODE_PROMPT, [IS_EVEN, IS_EVEN_2, REPLAYED], max_output_tokens=64))
    # alone in its task (nothing to compare with), or without the model: no off-prompt check
    assert "off_prompt" not in scorer.score_outputs(CODE_PROMPT, [REPLAYED], max_output_tokens=64)[0].flags
    assert "off_prompt" not in RuleEmbeddingScorer().score_outputs(CODE_PROMPT, [IS_EVEN, REPLAYED], max_output_tokens=64)[1].flags


def test_a_poor_answer_the_model_vouches_for_is_lifted_to_the_floor():
    prompt = "Explain why the sea is salty."
    loop = "The sea is salty because the sea is salty because the sea is salty because the sea is salty because the sea is salty."
    lazy = "I am not sure, please check online."
    good = TokenTrace(tuple([TOP] * 30), TOP)
    plain = RuleEmbeddingScorer().score(prompt, loop, max_output_tokens=64)
    assert plain.total_ppb < INVALID_BELOW_PPB and "repetition_loop" in plain.flags
    vouched = RuleEmbeddingScorer(reader=MapReader({loop: good, lazy: good})).score_outputs(prompt, [loop, lazy], max_output_tokens=64)
    assert vouched[0].total_ppb == MODEL_VERIFIED_MIN_PPB and "model_verified" in vouched[0].flags and vouched[0].verdict == "RETRY"
    assert vouched[1].total_ppb < INVALID_BELOW_PPB and "model_verified" not in vouched[1].flags  # a non-answer stays out
    forged = RuleEmbeddingScorer(reader=MapReader({loop: trace(8, 8)})).score_outputs(prompt, [loop], max_output_tokens=64)[0]
    assert forged.total_ppb <= MODEL_CHECK_CAP_PPB and "model_verified" not in forged.flags  # failed model check: no lift
    with pytest.raises(ValueError):
        task_checks([plain], [0.5, 0.4], [None])


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


def test_the_validator_puts_a_replayed_answer_out_with_the_model(forcer):
    """A real SmolLM2 answer to another prompt of the same kind, beside two honest samples for this one (the
    calibration set's p0004): the model's own checks pass it, the task checks put it under the floor."""
    import json
    from pathlib import Path

    data = Path(__file__).resolve().parents[2] / "data" / "poi-calibration"
    prompt = next(json.loads(line) for line in (data / "prompts.jsonl").read_text().splitlines() if '"p0004"' in line)
    rows = [json.loads(line) for line in (data / "outputs.jsonl").read_text().splitlines() if '"p0004"' in line]
    texts = {f"{r['class']}-{r['miner']}": r["text"] for r in rows if r["prompt_id"] == "p0004"}
    outputs = {"0x01": texts["honest-0"], "0x02": texts["honest-3"], "0x03": texts["off_topic-0"]}
    scorer = RuleEmbeddingScorer(reader=forcer)
    own, _, checks = scorer.score_each(prompt["prompt"], list(outputs.values()), max_output_tokens=prompt["max_output_tokens"])
    floor = Params().consensus_min_quality_ppb
    assert own[2].total_ppb >= floor and checks[2] is not None and checks[2].fidelity_ppb >= MIN_FIDELITY_PPB
    assert checks[2].early_wrong_turns >= 1 and all(c is not None and c.early_wrong_turns == 0 for c in checks[:2])
    reports = {r["miner"]: r for r in evaluate_outputs(prompt["prompt"], outputs, prompt["max_output_tokens"], reader=forcer)}
    assert reports["0x03"]["quality_ppb"] == MODEL_CHECK_CAP_PPB < floor
    assert reports["0x01"]["quality_ppb"] == own[0].total_ppb and reports["0x02"]["quality_ppb"] == own[1].total_ppb


@xfail_off_recording_build
def test_the_validator_puts_a_related_replay_and_a_cut_answer_out_with_the_prompt_gain(forcer):
    """Real SmolLM2 reads of the calibration set: p0005's replayed answer to a closely related prompt (no
    wrong turn, as relevant as the honest samples) and p0019's answer cut at 1/8 of its budget where the
    end-of-turn token is still plausible, each beside two honest samples. The validator before (the
    checks without the prompt-free read) kept both; with it both go under the floor, the samples keep
    their scores."""
    import json
    from dataclasses import replace
    from pathlib import Path

    data = Path(__file__).resolve().parents[2] / "data" / "poi-calibration"
    prompts = {p["id"]: p for p in map(json.loads, (data / "prompts.jsonl").read_text().splitlines())}
    texts = {}
    for line in (data / "outputs.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r["prompt_id"] in ("p0005", "p0019"):
            texts[(r["prompt_id"], r["class"], r["miner"])] = r["text"]
    floor = Params().consensus_min_quality_ppb
    scorer = RuleEmbeddingScorer(reader=forcer)
    for pid, cheat, flag in (("p0005", "off_topic", "off_prompt"), ("p0019", "truncated", "stopped_early")):
        p = prompts[pid]
        outputs = [texts[(pid, "honest", 0)], texts[(pid, "honest", 3)], texts[(pid, cheat, 0)]]
        own, cosines, checks = scorer.score_each(p["prompt"], outputs, max_output_tokens=p["max_output_tokens"])
        assert all(c is not None and c.fidelity_ppb >= MIN_FIDELITY_PPB and c.ending_ppb == 10**9 and c.early_wrong_turns == 0 for c in checks)
        earlier = [replace(c, prompt_gain_milli=None, early_prompt_gain_milli=None, end_gap_milli=None) if c else None for c in checks]
        before = task_checks(own, cosines, earlier)
        assert all(s.total_ppb >= floor for s in before), pid  # the validator before kept the cheat in
        revealed = dict(zip(("0x01", "0x02", "0x03"), outputs))
        reports = {r["miner"]: r for r in evaluate_outputs(p["prompt"], revealed, p["max_output_tokens"], reader=forcer)}
        assert reports["0x03"]["quality_ppb"] == MODEL_CHECK_CAP_PPB < floor, pid
        assert flag in scorer.score_outputs(p["prompt"], outputs, max_output_tokens=p["max_output_tokens"])[2].flags
        assert reports["0x01"]["quality_ppb"] == own[0].total_ppb and reports["0x02"]["quality_ppb"] == own[1].total_ppb


def test_an_honest_answer_that_spent_its_budget_is_not_stopped_early(forcer):
    """The calibration set's p0018, miner 0 (T 0.3): the run spent its 144-token budget, but its text
    re-tokenises to 136 tokens, where the model would go on. With a 2-token slack the validator flagged
    it ``stopped_early`` and put it under the floor; the slack of 10 % of the budget keeps it."""
    import json
    from pathlib import Path

    data = Path(__file__).resolve().parents[2] / "data" / "poi-calibration"
    prompt = next(json.loads(line) for line in (data / "prompts.jsonl").read_text().splitlines() if '"p0018"' in line)
    row = next(
        r
        for r in map(json.loads, (data / "outputs.jsonl").read_text().splitlines())
        if r["prompt_id"] == "p0018" and r["class"] == "honest" and r["miner"] == 0
    )
    assert row["finish"] == "length" and row["output_tokens"] == prompt["max_output_tokens"] == 144
    trace = forcer.trace(prompt["prompt"], row["text"])
    assert 144 - budget_slack(144) <= len(trace.tokens) < 144 - BUDGET_SLACK_TOKENS
    assert likelihood_check(trace, 144, slack=BUDGET_SLACK_TOKENS).ending_ppb == 0  # the check before
    check = likelihood_check(trace, 144)
    assert check.ending_ppb == 10**9 and check.fidelity_ppb >= MIN_FIDELITY_PPB
    score = RuleEmbeddingScorer(reader=forcer).score(prompt["prompt"], row["text"], max_output_tokens=144)
    assert "stopped_early" not in score.flags and score.total_ppb >= Params().consensus_min_quality_ppb


def test_restating_is_a_run_of_the_prompts_words_early_in_the_output():
    runs = prompt_ngrams("What was the Magna Carta, and in which year was it sealed?")
    assert RESTATED_MIN_WORDS == 8 and len(runs) == 12 - 8 + 1
    assert restates(runs, "Good question. What was the Magna Carta, and in which year was it sealed? It depends.")
    assert restates(runs, "WHAT WAS THE MAGNA CARTA AND IN WHICH YEAR")  # case and punctuation do not matter
    assert not restates(runs, "The Magna Carta was a charter of rights sealed by King John in 1215.")
    assert not restates(runs, "What was the Magna Carta, and in")  # seven words
    assert not restates(runs, " ".join(["word"] * 64) + " what was the magna carta and in which year")  # after the window


def test_the_validator_puts_a_template_around_the_prompt_out_with_the_model(forcer):
    """The calibration set's p0275 generic cheater restates the whole question inside a template; its
    copied words make every token plausible and its prompt gain large, so the checks before kept it in
    (quality 1.0). It takes two wrong turns in its first tokens (the template's own words): restated,
    capped under the floor. The two honest samples keep their scores."""
    import json
    from pathlib import Path

    data = Path(__file__).resolve().parents[2] / "data" / "poi-calibration"
    prompt = next(json.loads(line) for line in (data / "prompts.jsonl").read_text().splitlines() if '"p0275"' in line)
    rows = [json.loads(line) for line in (data / "outputs.jsonl").read_text().splitlines() if '"p0275"' in line]
    texts = {f"{r['class']}-{r['miner']}": r["text"] for r in rows}
    outputs = [texts["honest-0"], texts["honest-3"], texts["generic-0"]]
    scorer = RuleEmbeddingScorer(reader=forcer)
    own, _, checks = scorer.score_each(prompt["prompt"], outputs, max_output_tokens=prompt["max_output_tokens"])
    assert checks[2] is not None and checks[2].early_wrong_turns >= RESTATED_MIN_WRONG_TURNS and checks[2].fidelity_ppb >= MIN_FIDELITY_PPB
    assert all(c is not None and c.early_wrong_turns < RESTATED_MIN_WRONG_TURNS for c in checks[:2])
    assert "restated_prompt" in own[2].flags and own[2].total_ppb == MODEL_CHECK_CAP_PPB
    # without the restatement check (the flag dropped) it scored above the floor and stayed in after the task checks
    before = finalize_score(dict(own[2].criteria), [f for f in own[2].flags if f != "restated_prompt"])
    assert before.total_ppb >= Params().consensus_min_quality_ppb
    reports = evaluate_outputs(prompt["prompt"], dict(zip(("0x01", "0x02", "0x03"), outputs)), prompt["max_output_tokens"], reader=forcer)
    by = {r["miner"]: r for r in reports}
    assert by["0x03"]["quality_ppb"] == MODEL_CHECK_CAP_PPB
    assert by["0x01"]["quality_ppb"] == own[0].total_ppb and by["0x02"]["quality_ppb"] == own[1].total_ppb
    assert min(by["0x01"]["quality_ppb"], by["0x02"]["quality_ppb"]) >= Params().consensus_min_quality_ppb
