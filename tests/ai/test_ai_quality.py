"""PoUW quality: golden ORDERS and verdicts on hand-written cases (real model), plus the pure rules."""

import json
from pathlib import Path

import pytest

from cor_incentives.ai import quality
from cor_incentives.ai.embedding import get_embedder
from cor_incentives.ai.quality import (
    CRITERIA_WEIGHTS_BPS,
    HARD_FAIL_CAP_PPB,
    INVALID,
    RETRY,
    VALID,
    VERDICTS,
    JudgeOutputError,
    LLMJudgeScorer,
    QualityScorer,
    RuleEmbeddingScorer,
    analyse_prompt,
    finalize_score,
    get_scorer,
    rubric_from_ppb,
    rubric_to_ppb,
    score,
    verdict_for,
)

PPB = 1_000_000_000
CASES = json.loads((Path(__file__).parent / "quality_cases.json").read_text())
GENERIC = CASES["generic_answers"]


@pytest.fixture(scope="module")
def scorer():
    return RuleEmbeddingScorer(get_embedder())


@pytest.fixture(scope="module")
def scored(scorer):
    """Every answer of every case (plus the generic bad ones), scored once."""
    results = {}
    for case in CASES["cases"]:
        answers = {**case["answers"], **GENERIC}
        scores = scorer.score_outputs(case["prompt"], list(answers.values()), max_output_tokens=case["max_output_tokens"])
        results[case["id"]] = dict(zip(answers, scores))
    return results


# -- golden orders and verdicts (real model) ---------------------------------------------------


@pytest.mark.parametrize("case", CASES["cases"], ids=lambda c: c["id"])
def test_good_answer_beats_lazy_garbage_and_refusal(scored, case):
    got = scored[case["id"]]
    for bad in GENERIC:
        assert got["good"].total_ppb > got[bad].total_ppb, (case["id"], bad)
        assert got[bad].verdict == INVALID, (case["id"], bad, got[bad])


@pytest.mark.parametrize("case", CASES["cases"], ids=lambda c: c["id"])
def test_golden_orders(scored, case):
    got = scored[case["id"]]
    for better, worse in case["better_than"]:
        assert got[better].total_ppb > got[worse].total_ppb, (case["id"], better, worse, got[better], got[worse])


@pytest.mark.parametrize("case", CASES["cases"], ids=lambda c: c["id"])
def test_golden_verdicts(scored, case):
    got = scored[case["id"]]
    for name, verdict in case["verdicts"].items():
        assert got[name].verdict == verdict, (case["id"], name, got[name])


def test_repetition_loops_are_detected_and_capped(scored):
    for case in CASES["cases"]:
        if "loop" in case["answers"]:
            loop = scored[case["id"]]["loop"]
            assert "repetition_loop" in loop.flags and loop.total_ppb <= HARD_FAIL_CAP_PPB, case["id"]


def test_each_generic_bad_answer_gets_its_own_flag(scored):
    got = scored["capital_australia"]
    assert "non_answer" in got["lazy"].flags
    assert "refusal" in got["refusal"].flags
    assert "garbage" in got["garbage"].flags


def test_every_score_is_well_formed(scored):
    for by_answer in scored.values():
        for result in by_answer.values():
            assert set(result.criteria) == set(CRITERIA_WEIGHTS_BPS)
            assert all(type(v) is int and 0 <= v <= PPB for v in result.criteria.values())
            assert type(result.total_ppb) is int and 0 <= result.total_ppb <= PPB
            assert result.rubric_1_10 == rubric_from_ppb(result.total_ppb)
            assert result.verdict in VERDICTS


def test_json_asked_and_given_versus_not(scorer):
    prompt = 'Return a JSON object with the keys "city" and "country" for Paris. Respond with JSON only.'
    given = scorer.score(prompt, '{"city": "Paris", "country": "France"}')
    fenced = scorer.score(prompt, '```json\n{"city": "Paris", "country": "France"}\n```')
    not_given = scorer.score(prompt, "Paris is a city in France.")
    assert given.criteria["compliance"] == fenced.criteria["compliance"] == PPB
    assert not_given.criteria["compliance"] == 0 and "format_json" in not_given.flags
    assert given.total_ppb > not_given.total_ppb


def test_compliance_is_neutral_when_no_format_is_asked(scorer):
    result = scorer.score("Who wrote Pride and Prejudice?", "Pride and Prejudice was written by Jane Austen.")
    assert result.criteria["compliance"] == PPB
    assert result.verdict == VALID


def test_one_word_and_yes_no_answers(scorer):
    assert scorer.score("Answer with one word: what color is the sky on a clear day?", "Blue.").verdict == VALID
    yes = scorer.score("Is water wet? Answer yes or no.", "Yes.")
    rambling = scorer.score("Is water wet? Answer yes or no.", "Well, it depends on what you mean by wet, honestly.")
    assert yes.total_ppb > rambling.total_ppb


def test_truncated_mid_word_scores_lower_and_asks_for_a_retry(scorer):
    case = CASES["cases"][1]
    full = scorer.score(case["prompt"], case["answers"]["good"])
    cut = scorer.score(case["prompt"], case["answers"]["truncated"])
    assert "truncated" in cut.flags and cut.verdict == RETRY
    assert full.criteria["completeness"] > cut.criteria["completeness"]


def test_empty_output_scores_zero(scorer):
    result = scorer.score("What is the capital of Australia?", "   ")
    assert result.total_ppb == 0 and result.verdict == INVALID and "empty" in result.flags


def test_module_level_score_uses_the_default_scorer():
    result = score("What is the capital of Australia?", "The capital of Australia is Canberra.")
    assert result.verdict == VALID and result.rubric_1_10 >= 8


def test_bad_inputs_are_refused(scorer):
    with pytest.raises(ValueError, match="prompt must not be empty"):
        scorer.score("  ", "text")
    with pytest.raises(ValueError, match="non-empty list of outputs"):
        scorer.score_outputs("prompt", [])
    with pytest.raises(ValueError, match="max_output_tokens"):
        scorer.score("prompt", "text", max_output_tokens=0)
    with pytest.raises(TypeError, match="output 0 must be a str"):
        scorer.score_outputs("prompt", [None])


# -- reading the prompt (pure) -----------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt, expected",
    [
        ("What is the capital of Australia?", {}),
        ("Explain what JSON is.", {"elaborate": True}),
        ('Return a JSON object with the keys "a" and "b".', {"wants_json": True, "json_keys": ("a", "b")}),
        ("List five tips for better sleep.", {"wants_list": True, "list_items": 5}),
        ("Give me 3 reasons to learn Rust.", {"wants_list": True, "list_items": 3}),
        ("Give a few tips for studying.", {}),
        ("Write a Python function that reverses a list.", {"wants_code": True}),
        ("Summarize the plot of Hamlet in two sentences.", {"sentences": 2, "elaborate": True}),
        ("Describe Rome in a single sentence.", {"sentences": 1, "elaborate": True}),
        ("Answer with one word: what is frozen water?", {"one_word": True}),
        ("Is the sun a star? Answer yes or no.", {"yes_no": True}),
        ("Describe Paris in under 20 words.", {"max_words": 20, "elaborate": True}),
    ],
)
def test_analyse_prompt(prompt, expected):
    spec = analyse_prompt(prompt)
    defaults = quality.PromptSpec()
    for field in defaults.__dataclass_fields__:
        assert getattr(spec, field) == expected.get(field, getattr(defaults, field)), (prompt, field)


# -- totals, rubric, verdicts (pure integers) ------------------------------------------------------


def test_weights_sum_to_10000_bps():
    assert sum(CRITERIA_WEIGHTS_BPS.values()) == 10_000


def test_total_is_the_weighted_sum_and_a_hard_flag_caps_it():
    full = {name: PPB for name in CRITERIA_WEIGHTS_BPS}
    assert finalize_score(full, []).total_ppb == PPB
    capped = finalize_score(full, ["garbage"])
    assert capped.total_ppb == HARD_FAIL_CAP_PPB and capped.verdict == INVALID and capped.rubric_1_10 == 1
    half = finalize_score({**full, "relevance": 0}, [])
    assert half.total_ppb == PPB - CRITERIA_WEIGHTS_BPS["relevance"] * PPB // 10_000
    with pytest.raises(ValueError, match="criterion"):
        finalize_score({**full, "integrity": 0.5}, [])


def test_rubric_bands():
    assert [rubric_from_ppb(x) for x in (0, 99_999_999, 100_000_000, 899_999_999, 900_000_000, PPB)] == [
        1,
        1,
        2,
        9,
        10,
        10,
    ]
    assert all(rubric_from_ppb(rubric_to_ppb(r)) == r for r in range(1, 11))
    with pytest.raises(ValueError):
        rubric_to_ppb(0)


def test_verdict_thresholds():
    assert verdict_for(299_999_999) == INVALID
    assert verdict_for(300_000_000) == RETRY
    assert verdict_for(699_999_999) == RETRY
    assert verdict_for(700_000_000) == VALID
    assert verdict_for(PPB, truncated=True) == RETRY
    assert verdict_for(PPB, hard=True) == INVALID


# -- pluggable scorers -------------------------------------------------------------------------


def test_registry_builds_the_default_scorer():
    built = get_scorer("rule-embedding", embedder=get_embedder())
    assert isinstance(built, RuleEmbeddingScorer) and isinstance(built, QualityScorer)
    assert "llm-judge" in quality.scorer_names()
    with pytest.raises(ValueError, match="unknown quality scorer"):
        get_scorer("oracle")


def test_llm_judge_parses_a_json_reply():
    prompts = []

    def generate(prompt):
        prompts.append(prompt)
        return 'Sure. {"relevance": 9, "compliance": 10, "completeness": 8, "integrity": 10, "verdict": "VALID"}'

    judge = get_scorer("llm-judge", generate=generate)
    assert isinstance(judge, QualityScorer)
    result = judge.score("What is 2+2?", "4")
    assert "What is 2+2?" in prompts[0] and "OUTPUT:\n4" in prompts[0]
    assert result.criteria["relevance"] == rubric_to_ppb(9) and result.verdict == VALID
    # 0.85 × 0.35 + 0.95 × 0.20 + 0.75 × 0.20 + 0.95 × 0.25 = 0.875
    assert result.total_ppb == 875_000_000 and result.rubric_1_10 == 9


def test_llm_judge_verdict_may_be_stricter_never_more_lenient():
    strict = LLMJudgeScorer(lambda _: '{"relevance": 10, "compliance": 10, "completeness": 10, "integrity": 10, "verdict": "INVALID"}')
    assert strict.score("q", "a").verdict == INVALID
    lenient = LLMJudgeScorer(lambda _: '{"relevance": 1, "compliance": 1, "completeness": 1, "integrity": 1, "verdict": "VALID"}')
    assert lenient.score("q", "a").verdict == INVALID


def test_llm_judge_unusable_reply_raises_or_falls_back():
    judge = LLMJudgeScorer(lambda _: "I think it is pretty good!")
    with pytest.raises(JudgeOutputError, match="no JSON object"):
        judge.score("q", "a")
    out_of_range = LLMJudgeScorer(lambda _: '{"relevance": 11, "compliance": 1, "completeness": 1, "integrity": 1}')
    with pytest.raises(JudgeOutputError, match="relevance"):
        out_of_range.score("q", "a")
    fallback = RuleEmbeddingScorer(get_embedder())
    rescued = LLMJudgeScorer(lambda _: "no idea", fallback=fallback)
    prompt, output = "What is the capital of Australia?", "The capital of Australia is Canberra."
    assert rescued.score(prompt, output) == fallback.score(prompt, output)
