"""The validator's over-budget check and the prompt's vouching (ai.quality): arithmetic with scripted
traces, and the real SmolLM2 on calibration outputs that the validator before judged wrongly."""

import json
from pathlib import Path

import pytest

from cor_incentives.ai.bundled import gguf_path
from cor_incentives.ai.composed import parts_of
from cor_incentives.ai.likelihood import TeacherForcer, TokenStat, TokenTrace, budget_slack
from cor_incentives.ai.quality import (
    MODEL_CHECK_CAP_PPB,
    MODEL_VERIFIED_MIN_PPB,
    OFF_TOPIC_CAP_PPB,
    ONE_WORD_END_GAP_MILLI,
    UNPROMPTED_MAX_EARLY_GAIN_MILLI,
    UNPROMPTED_RELATIVE_BPS,
    RuleEmbeddingScorer,
    finalize_score,
    task_checks,
)
from cor_incentives.core.params import Params
from cor_incentives.nodes.validator import evaluate_outputs
from support.traces import TOP, MapReader, flat

DATA = Path(__file__).resolve().parents[2] / "data" / "poi-calibration"


# -- over budget -------------------------------------------------------------------------------------

PROMPT = 'Return a JSON object with keys "color" and "hex" for the colour red.'
ANSWER = '{"color": "red", "hex": "#FF0000"}'


def test_an_output_longer_than_its_budget_allows_is_over_budget():
    budget = 32
    slack = budget_slack(budget)
    assert slack == 3  # max(2 tokens, 10 % of the budget)

    def flags(n: int) -> tuple[str, ...]:
        return RuleEmbeddingScorer(reader=MapReader({ANSWER: flat(n, -0.5)})).score(PROMPT, ANSWER, max_output_tokens=budget).flags

    assert "over_budget" not in flags(budget) and "over_budget" not in flags(budget + slack)  # a re-tokenised run may count a few more
    over = RuleEmbeddingScorer(reader=MapReader({ANSWER: flat(budget + slack + 1, -0.5)})).score(PROMPT, ANSWER, max_output_tokens=budget)
    assert "over_budget" in over.flags and over.total_ppb == MODEL_CHECK_CAP_PPB and over.verdict == "INVALID"
    # no budget, or no model (the tokens are the model's tokenizer's): no check
    assert "over_budget" not in RuleEmbeddingScorer(reader=MapReader({ANSWER: flat(500, -0.5)})).score(PROMPT, ANSWER).flags
    assert "over_budget" not in RuleEmbeddingScorer().score(PROMPT, ANSWER, max_output_tokens=2).flags


# -- a one-word answer ends where the model ends ---------------------------------------------------------

ONE_WORD = "Answer with one word: on which continent is Egypt?"


def test_a_one_word_answer_that_stops_where_the_model_goes_on_is_unended():
    def score(prompt: str, end_gap_milli: int):
        end = TokenStat(-1.0, end_gap_milli / 1000, 1)
        return RuleEmbeddingScorer(reader=MapReader({"Africa.": flat(3, -0.5, end=end)})).score(prompt, "Africa.", max_output_tokens=32)

    assert ONE_WORD_END_GAP_MILLI == 1_000
    assert "unended" not in score(ONE_WORD, 0).flags and "unended" not in score(ONE_WORD, ONE_WORD_END_GAP_MILLI).flags
    cut = score(ONE_WORD, ONE_WORD_END_GAP_MILLI + 10)
    assert "unended" in cut.flags and cut.total_ppb == MODEL_CHECK_CAP_PPB and cut.verdict == "INVALID"
    # a prompt that asks for more than one word may end a short answer where the model would rather go on
    assert "unended" not in score("Name the continent Egypt is on and say why.", 2_000).flags
    # a composed prompt with a one-word part: the answer covers the other parts too
    composed = (
        "Answer each of these 2 parts in order, numbering your answers.\n\n1. Answer with one word: what sweet food do bees make?"
        "\n\n2. Explain to a child what germs are and how washing with soap helps."
    )

    class AnyReader:
        def trace(self, prompt: str, output: str) -> TokenTrace:
            return flat(3, -0.5, end=TokenStat(-3.0, 2.0, 1))

    assert parts_of(composed)
    assert "unended" not in RuleEmbeddingScorer(reader=AnyReader()).score(composed, "1. Honey.\n2. Germs are tiny.", max_output_tokens=96).flags
    # at its budget (the end gap is not read): not unended
    at_budget = RuleEmbeddingScorer(reader=MapReader({"Africa.": flat(32, -0.5, end=TokenStat(-9.0, 8.0, 50))})).score(
        ONE_WORD, "Africa.", max_output_tokens=32
    )
    assert "unended" not in at_budget.flags


# -- the prompt vouches for an output the embedding calls off topic ----------------------------------------

TITLE_PROMPT = "Write a title for a blog post about saving money on groceries."
TITLE = "Grocery Savings: Ten Habits That Cut Your Weekly Bill"
TITLE_2 = "Spend Less at the Supermarket Without Eating Worse"
ASIDE = "The Quiet Lighthouse Keeper Who Counted Every Passing Ship at Night"  # ≥ 8 words, an unrelated embedding (cosine 0.03)


def scores_with(aside_after: TokenTrace, aside_free: TokenTrace) -> list:
    reader = MapReader(
        {TITLE: flat(12, -0.5), TITLE_2: flat(12, -0.5), ASIDE: aside_after},
        free={TITLE: flat(12, -2.5), TITLE_2: flat(12, -2.5), ASIDE: aside_free},  # the titles gain 2 nats per token
    )
    scorer = RuleEmbeddingScorer(reader=reader)
    own, cosines, checks = scorer.score_each(TITLE_PROMPT, [TITLE, TITLE_2, ASIDE], max_output_tokens=32)
    return [own, cosines, checks, task_checks(own, cosines, checks), task_checks(own, cosines, checks, vouch=False)]


def test_an_off_topic_looking_sample_the_prompt_makes_likely_is_vouched_for():
    own, cosines, checks, now, before = scores_with(flat(20, -0.5), flat(20, -1.5))  # gain 1 nat per token, 20 early
    assert cosines[2] <= 0.15 and own[2].flags == ("off_topic",) and own[2].total_ppb <= OFF_TOPIC_CAP_PPB
    c = checks[2]
    assert c is not None and c.prompt_gain_milli == 1000 and c.early_prompt_gain_milli == 20_000 and c.early_wrong_turns == 0
    assert c.prompt_gain_milli * 10_000 >= 2000 * UNPROMPTED_RELATIVE_BPS and c.early_prompt_gain_milli >= UNPROMPTED_MAX_EARLY_GAIN_MILLI
    assert before[2].total_ppb == own[2].total_ppb < Params().consensus_min_quality_ppb  # the validator before kept the cap
    assert "off_topic" not in now[2].flags and {"off_topic_vouched", "model_verified"} <= set(now[2].flags)
    assert now[2].total_ppb == MODEL_VERIFIED_MIN_PPB and now[2].verdict == "RETRY"  # in consensus at the floor, paid as a poor sample
    assert now[:2] == own[:2]


def test_the_prompt_does_not_vouch_for_a_canned_or_replayed_line():
    # the prompt gain under the relative bound (0.5 of 2 nats per token): a canned line
    *_, now, _ = scores_with(flat(20, -1.0), flat(20, -1.5))
    assert "off_topic" in now[2].flags and now[2].total_ppb <= OFF_TOPIC_CAP_PPB
    # the per-token gain is fine but the early gain is under the unprompted test's bound (a short line)
    *_, now, _ = scores_with(flat(4, -0.5), flat(4, -1.5))  # 4 nats early
    assert "off_topic" in now[2].flags
    # a token the model would not pick among its first ones (an answer to another prompt)
    turned = TokenTrace((TokenStat(-9.0, 8.5, 400), *[TokenStat(-0.5, 0.0, 0)] * 19), TOP)
    *_, now, _ = scores_with(turned, flat(20, -9.0))
    assert "off_topic" in now[2].flags
    # nothing valid to compare with: no vouching
    own = RuleEmbeddingScorer(reader=MapReader({ASIDE: flat(20, -0.5)}, free={ASIDE: flat(20, -1.5)})).score_outputs(
        TITLE_PROMPT, [ASIDE], max_output_tokens=32
    )
    assert "off_topic" in own[0].flags
    # a hard detection beside off_topic is never lifted
    lazy = finalize_score({"relevance": 0, "compliance": 10**9, "completeness": 10**9, "integrity": 0}, ["off_topic", "non_answer"])
    _, cosines, checks, _, _ = scores_with(flat(20, -0.5), flat(20, -1.5))
    titles = [finalize_score({"relevance": 10**9, "compliance": 10**9, "completeness": 10**9, "integrity": 10**9}, [])] * 2
    assert "non_answer" in task_checks([*titles, lazy], cosines, checks)[2].flags
    assert task_checks([*titles, lazy], cosines, checks)[2].total_ppb < MODEL_VERIFIED_MIN_PPB


# -- the real model ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def forcer():
    return TeacherForcer(gguf_path(), n_threads=1, n_ctx=1024)


def calibration_outputs(pid: str) -> tuple[dict, dict[str, str]]:
    prompt = next(json.loads(line) for line in (DATA / "prompts.jsonl").read_text().splitlines() if f'"{pid}"' in line)
    rows = [json.loads(line) for line in (DATA / "outputs.jsonl").read_text().splitlines() if f'"{pid}"' in line]
    return prompt, {f"{r['class']}-{r['miner']}": r["text"] for r in rows if r["prompt_id"] == pid}


def test_the_validator_puts_a_replay_longer_than_the_budget_out(forcer):
    """The calibration set's p0296 (JSON, a 32-token budget): its off-topic cheater replays a Python answer
    to another JSON prompt, 80 tokens long. Every token is plausible and the prompt makes it likelier than no
    question, so the validator before scored it above the floor beside two honest samples (in consensus in
    every task); over the budget, it is capped now. The honest samples keep their scores."""
    prompt, texts = calibration_outputs("p0296")
    budget = prompt["max_output_tokens"]
    outputs = [texts["honest-0"], texts["honest-3"], texts["off_topic-0"]]
    scorer = RuleEmbeddingScorer(reader=forcer)
    own, cosines, checks = scorer.score_each(prompt["prompt"], outputs, max_output_tokens=budget)
    assert checks[2] is not None and checks[2].tokens > budget + budget_slack(budget)
    assert all(c is not None and c.tokens <= budget + budget_slack(budget) for c in checks[:2])
    assert own[2].flags.count("over_budget") == 1 and own[2].total_ppb == MODEL_CHECK_CAP_PPB
    floor = Params().consensus_min_quality_ppb
    earlier = [finalize_score(dict(s.criteria), [f for f in s.flags if f != "over_budget"]) for s in own]
    assert task_checks(earlier, cosines, checks, vouch=False)[2].total_ppb >= floor  # the validator before kept it
    reports = {r["miner"]: r for r in evaluate_outputs(prompt["prompt"], dict(zip(("0x01", "0x02", "0x03"), outputs)), budget, reader=forcer)}
    assert reports["0x03"]["quality_ppb"] == MODEL_CHECK_CAP_PPB < floor
    assert reports["0x01"]["quality_ppb"] == own[0].total_ppb >= floor and reports["0x02"]["quality_ppb"] == own[1].total_ppb >= floor


def test_the_validator_keeps_an_honest_sample_the_embedding_calls_off_topic(forcer):
    """The calibration set's p0257, miner 5 (T 1.0) answers "Explain to a child why we cannot see the stars
    during the day" with "I'll do my best to explain it simply, but I don't have time for that right now…":
    a poor sample, but the model's own, and one the prompt makes likely (prompt gain per token 0.40 nats
    against 0.58 for the best other sample, 11.9 nats over its first tokens). Its prompt cosine is 0.15, so
    the scorer caps it as off topic (0.2, under the floor: out of consensus in every task before); the
    prompt's vouching lifts it to the model-verified floor."""
    prompt, texts = calibration_outputs("p0257")
    budget = prompt["max_output_tokens"]
    outputs = [texts["honest-0"], texts["honest-3"], texts["honest-5"]]
    scorer = RuleEmbeddingScorer(reader=forcer)
    own, cosines, checks = scorer.score_each(prompt["prompt"], outputs, max_output_tokens=budget)
    floor = Params().consensus_min_quality_ppb
    assert own[2].flags == ("off_topic",) and own[2].total_ppb < floor
    assert task_checks(own, cosines, checks, vouch=False)[2].total_ppb < floor  # the validator before
    c = checks[2]
    assert c is not None and c.early_wrong_turns == 0 and c.early_prompt_gain_milli is not None and c.prompt_gain_milli is not None
    best = max(x.prompt_gain_milli for x in checks[:2] if x is not None and x.prompt_gain_milli is not None)
    assert c.prompt_gain_milli * 10_000 >= best * UNPROMPTED_RELATIVE_BPS and c.early_prompt_gain_milli >= UNPROMPTED_MAX_EARLY_GAIN_MILLI
    reports = {r["miner"]: r for r in evaluate_outputs(prompt["prompt"], dict(zip(("0x01", "0x02", "0x03"), outputs)), budget, reader=forcer)}
    assert reports["0x03"]["quality_ppb"] == MODEL_VERIFIED_MIN_PPB >= floor
    assert reports["0x01"]["quality_ppb"] == own[0].total_ppb and reports["0x02"]["quality_ppb"] == own[1].total_ppb


def test_the_validator_puts_a_one_word_answer_cut_short_out(forcer):
    """The calibration set's p0085 ("Answer with one word: on which continent is Egypt?"): its truncating
    cheater stopped at 4 of 32 tokens, "The answer is Egypt", where the model's end-of-turn token is 1.5 nats
    under its top token: plausible (the ending check passes) and within the short stop's bound (3 nats), so
    the validator before kept it (in consensus in every task). An answer to a one-word prompt ends where the
    model ends: unended now. The honest answers keep their scores."""
    prompt, texts = calibration_outputs("p0085")
    budget = prompt["max_output_tokens"]
    outputs = [texts["honest-0"], texts["honest-4"], texts["truncated-0"]]
    scorer = RuleEmbeddingScorer(reader=forcer)
    own, cosines, checks = scorer.score_each(prompt["prompt"], outputs, max_output_tokens=budget)
    c = checks[2]
    assert c is not None and c.tokens < budget and c.ending_ppb == 10**9 and c.end_gap_milli is not None
    assert c.end_gap_milli > ONE_WORD_END_GAP_MILLI
    assert all(x is not None and x.end_gap_milli is not None and x.end_gap_milli <= ONE_WORD_END_GAP_MILLI for x in checks[:2])
    assert "unended" in own[2].flags and own[2].total_ppb == MODEL_CHECK_CAP_PPB
    floor = Params().consensus_min_quality_ppb
    earlier = [finalize_score(dict(s.criteria), [f for f in s.flags if f != "unended"]) for s in own]
    assert task_checks(earlier, cosines, checks, vouch=False)[2].total_ppb >= floor  # the validator before kept it
    reports = {r["miner"]: r for r in evaluate_outputs(prompt["prompt"], dict(zip(("0x01", "0x02", "0x03"), outputs)), budget, reader=forcer)}
    assert reports["0x03"]["quality_ppb"] == MODEL_CHECK_CAP_PPB < floor
    assert reports["0x01"]["quality_ppb"] == own[0].total_ppb and reports["0x02"]["quality_ppb"] == own[1].total_ppb
