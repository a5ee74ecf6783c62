"""The part check on composed prompts (ai.composed): parsing, the first answer, the gain's arithmetic, the flag,
and the real SmolLM2 putting a stitched answer out while the honest composed samples keep their scores."""

import json
import re
from pathlib import Path

import pytest

from cor_incentives.ai.bundled import gguf_path
from cor_incentives.ai.composed import (
    BORROW_CANDIDATES,
    BORROW_GAIN_MIN_MILLI,
    PART_GAIN_MIN_MILLI,
    PART_GAIN_WINDOW,
    PART_READ_CHARS,
    EarlierComposition,
    answer_spans,
    borrow_candidates,
    borrow_gain,
    first_answer,
    likeness,
    part_gain,
    parts_of,
    shingles,
    strip_number,
)
from cor_incentives.ai.likelihood import LikelihoodCheck, TeacherForcer, TokenStat, TokenTrace, window_gain
from cor_incentives.ai.quality import MODEL_CHECK_CAP_PPB, RuleEmbeddingScorer, finalize_score, model_check_criteria
from cor_incentives.core.network_prompts import compose
from cor_incentives.core.params import Params
from cor_incentives.core.records import NetworkPrompt
from cor_incentives.nodes.validator import evaluate_outputs

DATA = Path(__file__).resolve().parents[2] / "data" / "poi-composed"


def test_parts_of_inverts_the_cores_composition_and_nothing_else():
    parts = (NetworkPrompt("a", "Name a fruit.", 8), NetworkPrompt("b", "List three colours.\n\n2. not a part", 16))
    assert parts_of(compose(parts)) == ("Name a fruit.", "List three colours.\n\n2. not a part")
    three = tuple(NetworkPrompt(str(i), f"Part {i}?", 4) for i in range(3))
    assert parts_of(compose(three)) == ("Part 0?", "Part 1?", "Part 2?")
    assert parts_of("Name a fruit.") == ()  # one part: the text itself, no part check
    assert parts_of(compose(parts[:1])) == ()
    assert parts_of(compose(parts).replace("answers.", "answers. Please.")) == ()  # not the rule's text
    assert parts_of(compose(parts).replace("\n\n1. ", "\n1. ")) == ()
    assert parts_of("Answer each of these 3 parts in order, numbering your answers.\n\n1. a\n\n2. b") == ()


def test_the_first_answer_is_the_text_before_the_next_number_without_its_own():
    out = "1. Ice.\n\n2. Here are three tips:\n1. Sleep\n2. Eat"
    assert answer_spans(out, 2) == ["1. Ice.", "2. Here are three tips:\n1. Sleep\n2. Eat"]
    assert first_answer(out, 2) == "Ice."
    assert first_answer("**1.** Ice\n**2.** Tips", 2) == "Ice"
    assert first_answer("## 1) Ice\n## 2) Tips", 2) == "Ice"
    assert first_answer("Ice, and some tips. 2. Sleep", 2) == "Ice, and some tips. 2. Sleep"  # no numbered line: the whole output
    assert strip_number("  12. Twelve") == "Twelve" and strip_number("Ice") == "Ice"
    long = "1. " + "word " * 200
    assert first_answer(long, 2) == ("word " * (PART_READ_CHARS // 5)).rstrip()  # cut at a space, within PART_READ_CHARS
    assert len(first_answer("1. " + "x" * 1000, 2)) == PART_READ_CHARS  # no space: cut at PART_READ_CHARS


def _trace(logprobs):
    return TokenTrace(tuple(TokenStat(lp, 0.0, 0) for lp in logprobs), TokenStat(-0.1, 0.0, 0))


def test_the_gain_sums_the_difference_over_the_first_window_tokens_floored():
    composed = _trace([-1.0] * (PART_GAIN_WINDOW + 5))
    alone = _trace([-1.5] * PART_GAIN_WINDOW + [-100.0] * 5)  # tokens past the window do not count
    assert window_gain(composed, alone, PART_GAIN_WINDOW) == 500 * PART_GAIN_WINDOW
    assert window_gain(_trace([-2.0, -2.0]), _trace([-1.0, -1.0004])) == -2000  # -1999.6, floored
    assert window_gain(_trace([-1.0, -1.0]), _trace([-1.5])) == 500  # the tokens both reads hold


class ScriptedReader:
    """A reader that answers from a table (unit test only: the real model is below)."""

    def __init__(self, table):
        self.table = table
        self.asked = []

    def trace(self, prompt, output):
        self.asked.append((prompt, output))
        return self.table[(prompt, output)]


def test_part_gain_reads_the_first_answer_after_the_composed_prompt_and_after_its_part():
    parts = (NetworkPrompt("a", "Name a fruit.", 8), NetworkPrompt("b", "List three colours.", 16))
    prompt = compose(parts)
    reader = ScriptedReader({(prompt, "Apple."): _trace([-0.5, -0.2]), ("Name a fruit.", "Apple."): _trace([-0.1, -0.1])})
    assert part_gain(reader, prompt, parts_of(prompt), "1. Apple.\n\n2. Red, blue, green.") == -500
    assert reader.asked == [(prompt, "Apple."), ("Name a fruit.", "Apple.")]
    assert part_gain(reader, "Name a fruit.", (), "Apple.") is None  # one part: no check
    assert part_gain(reader, prompt, parts_of(prompt), "1. \n2. Red") is None  # nothing to read


def test_a_negative_part_gain_is_flagged_stitched_and_capped_like_a_failed_model_check():
    base = LikelihoodCheck(tokens=20, plausible=20, fidelity_ppb=10**9, ending_ppb=10**9, mean_logprob_milli=-900)
    weighted = {"relevance": 10**9, "compliance": 10**9, "completeness": 10**9, "integrity": 10**9}
    for gain, stitched in ((PART_GAIN_MIN_MILLI - 1, True), (PART_GAIN_MIN_MILLI, False), (None, False)):
        flags: list[str] = []
        criteria = model_check_criteria(LikelihoodCheck(**{**base.__dict__, "part_gain_milli": gain}), flags)
        score = finalize_score({**weighted, **criteria}, flags)
        assert ("stitched" in score.flags) is stitched, gain
        assert (score.total_ppb == MODEL_CHECK_CAP_PPB) is stitched and (score.verdict == "INVALID") is stitched


def test_borrow_gain_reads_the_first_answer_after_this_prompt_and_each_earlier_one_with_the_same_first_part():
    a, b, c, d = (NetworkPrompt(x, f"Question {x}?", 8) for x in "abcd")
    prompt, earlier, other_first = compose((a, b)), compose((a, c)), compose((d, b))

    class Reader:
        def __init__(self):
            self.calls = []

        def trace(self, p, text):
            self.calls.append((p, text))
            lp = {prompt: -1.0, earlier: -0.5, compose((a, d)): -3.0}[p]
            return TokenTrace((TokenStat(lp, 0.0, 0),) * 40, TokenStat(-1.0, 0.0, 0))

    def tasks(*prompts):
        return [EarlierComposition(q) for q in prompts]

    r = Reader()
    # likelier after the earlier prompt by 0.5 nat on each of the window's tokens; the other first part is not compared
    assert borrow_gain(r, prompt, parts_of(prompt), "1. Yes.\n2. No.", tasks(earlier, other_first, prompt)) == -500 * PART_GAIN_WINDOW
    assert {p for p, _ in r.calls} == {prompt, earlier} and {t for _, t in r.calls} == {"Yes."}
    # the least gain over the earlier prompts counts
    assert borrow_gain(Reader(), prompt, parts_of(prompt), "1. Yes.", tasks(compose((a, d)), earlier)) == -500 * PART_GAIN_WINDOW
    assert borrow_gain(Reader(), prompt, parts_of(prompt), "1. Yes.", tasks(compose((a, d)))) == 2000 * PART_GAIN_WINDOW
    assert borrow_gain(Reader(), prompt, parts_of(prompt), "1. Yes.", tasks(other_first, prompt)) is None  # nothing earlier to compare
    assert borrow_gain(Reader(), a.prompt, (), "Yes.", tasks(earlier)) is None  # not a composed prompt


def _many_compositions(m):
    """A composed prompt with first part A and ``m`` earlier compositions of A with other second parts, each with two
    published first answers of its own (distinct words), oldest first."""
    a = NetworkPrompt("a", "Describe the smell of freshly baked bread.", 64)
    prompt = compose((a, NetworkPrompt("b", "Tell a story about the Moon.", 64)))
    earlier = [
        EarlierComposition(
            compose((a, NetworkPrompt(f"x{i}", f"Name a colour number {i}.", 64))),
            (f"Bread number {i} smells of warm crust and yeast {i} in a kitchen {i}.", f"It is a sweet smell {i}, like toast {i}."),
        )
        for i in range(m)
    ]
    return prompt, earlier


@pytest.mark.parametrize("source", [0, 5, 11])
def test_the_borrow_check_reads_at_most_k_earlier_compositions_the_copied_source_among_them(source):
    """12 earlier compositions share the first part: an output that glued source's published first answer (cut at the
    budget) is read after this prompt and BORROW_CANDIDATES earlier prompts (not all 12, as before), the source among
    them, so its gain is the source's; an honest output is read as often."""
    prompt, earlier = _many_compositions(12)
    src = earlier[source]

    class Reader:
        def __init__(self):
            self.calls = []

        def trace(self, p, text):
            self.calls.append((p, text))
            lp = -1.0 if p == prompt else -0.5 if p == src.prompt and text.startswith("Bread number") else -2.0
            return TokenTrace((TokenStat(lp, 0.0, 0),) * 40, TokenStat(-1.0, 0.0, 0))

    copied = "1. " + " ".join(src.first_answers[0].split()[:9]) + "\n\n2. Once upon a time the Moon sang."  # cut at the budget
    r = Reader()
    assert borrow_gain(r, prompt, parts_of(prompt), copied, earlier) == -500 * PART_GAIN_WINDOW  # the source's read counts
    read = [p for p, _ in r.calls]
    assert len(read) == BORROW_CANDIDATES + 1 < len(earlier) + 1 and src.prompt in read and read[0] == prompt
    honest = Reader()
    assert borrow_gain(honest, prompt, parts_of(prompt), "1. Fresh bread smells sweet and warm.\n\n2. The Moon.", earlier) == 1000 * PART_GAIN_WINDOW
    assert len(honest.calls) == BORROW_CANDIDATES + 1
    # the likeness only chooses: the source first, then the newest
    chosen = borrow_candidates(prompt, parts_of(prompt), " ".join(src.first_answers[0].split()[:9]), earlier)
    assert chosen[0] == src.prompt and len(chosen) == BORROW_CANDIDATES


def test_with_at_most_k_earlier_compositions_every_one_is_read():
    prompt, earlier = _many_compositions(BORROW_CANDIDATES)
    assert set(borrow_candidates(prompt, parts_of(prompt), "Unrelated words here.", earlier)) == {e.prompt for e in earlier}
    twice = [*earlier, EarlierComposition(earlier[0].prompt, ("Another answer.",))]  # the same composition asked again: one read
    assert len(borrow_candidates(prompt, parts_of(prompt), "Another answer.", twice)) == BORROW_CANDIDATES


def test_an_earlier_composition_is_parsed_once_not_for_each_output(monkeypatch):
    """``EarlierComposition.parts`` is the prompt's ``parts_of``, parsed when the composition is made: the borrow check
    parses no earlier prompt again for each output (it did, composing each one again to check the parse), and chooses
    the same candidates as when it parsed them (the reference below)."""
    from cor_incentives.ai import composed

    prompt, earlier = _many_compositions(12)
    d = NetworkPrompt("d", "Describe a quiet street.", 64)
    earlier += [EarlierComposition(compose((d, NetworkPrompt("e", "Name a river.", 64))), ("Bread number 3 smells",)), EarlierComposition(d.prompt)]
    assert [e.parts for e in earlier] == [parts_of(e.prompt) for e in earlier] and earlier[-1].parts == ()
    assert EarlierComposition(prompt, ("x",)) == EarlierComposition(prompt, ("x",), parts_of(prompt))  # parts: not compared

    def reference(text):  # borrow_candidates as it was, parsing each earlier prompt
        answers = {}
        for e in earlier:
            if e.prompt != prompt and (qp := parts_of(e.prompt)) and qp[0] == parts_of(prompt)[0]:
                answers.setdefault(e.prompt, []).extend(e.first_answers)
        newest = list(reversed(answers))
        return sorted(newest, key=lambda q: composed.likeness(text, answers[q]), reverse=True)[:BORROW_CANDIDATES]

    texts = ["Bread number 3 smells of warm crust", "It is a sweet smell 7, like", "Unrelated words here.", "Bread"]
    expected = [reference(t) for t in texts]
    calls = []
    monkeypatch.setattr(composed, "parts_of", lambda p: calls.append(p) or ())
    assert [borrow_candidates(prompt, ("Describe the smell of freshly baked bread.", "x"), t, earlier) for t in texts] == expected
    assert calls == []


def _json_months_history():
    """data/poi-composed's h020 and the network's earlier compositions of its first part ("Return a JSON array with the
    names of the first three months of the year."): h005, the oldest, with its honest first answers, and 12 newer decoys
    (other second parts), each holding 3 published first answers to that part (h020's honest ones and the calibration
    set's single answers to the part: stand-ins for other compositions' answers, most restating the question)."""
    entries = {e["id"]: e for e in map(json.loads, (DATA / "prompts.jsonl").read_text().splitlines())}
    rows = [r for r in map(json.loads, (DATA / "outputs.jsonl").read_text().splitlines()) if r["class"] == "honest"]
    single = [r for r in map(json.loads, (DATA.parent / "poi-calibration" / "outputs.jsonl").read_text().splitlines()) if r["class"] == "honest"]
    base = [json.loads(x) for x in (DATA.parent / "poi-calibration" / "prompts.jsonl").read_text().splitlines()]
    prompt, source = entries["h020"], entries["h005"]
    first = prompt["parts"][0]
    assert source["parts"][0] == first
    source_c = EarlierComposition(source["prompt"], tuple(first_answer(r["text"], 2) for r in rows if r["prompt_id"] == "h005"))
    pool = [first_answer(r["text"], 2) for r in rows if r["prompt_id"] == "h020"] + [
        first_answer(r["text"], 2) for r in single if r["prompt_id"] == first
    ]
    a = NetworkPrompt(first, parts_of(prompt["prompt"])[0], 8)
    seconds = [x for x in base if x["id"] not in {*prompt["parts"], *source["parts"]}][::23][:12]
    decoys = [
        EarlierComposition(compose((a, NetworkPrompt(x["id"], x["prompt"], 8))), tuple(pool[(i + j) % len(pool)] for j in range(3)))
        for i, x in enumerate(seconds)
    ]
    return prompt["prompt"], source_c, [source_c, *decoys]


_OTHER_WORDS = "apple river stone cloud paper glass orange window".split()

EDITS = {
    "a word in 2 replaced": lambda t: " ".join(_OTHER_WORDS[i % 8] if i % 2 == 1 else w for i, w in enumerate(t.split())),
    "a word in 3 replaced": lambda t: " ".join(_OTHER_WORDS[i % 8] if i % 3 == 2 else w for i, w in enumerate(t.split())),
    "a word in 2 dropped": lambda t: " ".join(w for i, w in enumerate(t.split()) if i % 2 != 1),
    "a word in 3 dropped": lambda t: " ".join(w for i, w in enumerate(t.split()) if i % 3 != 2),
    "lower case, no punctuation": lambda t: re.sub(r"[^\w\s]", "", t.lower()),
    "a letter in 3 words changed": lambda t: " ".join(w[:-1] + "s" if i % 3 == 2 and len(w) > 2 else w for i, w in enumerate(t.split())),
}


@pytest.mark.parametrize("edit", EDITS)
def test_an_edited_copys_source_is_among_the_candidates_of_12_decoys(edit):
    """A copier who edits the borrowed first answer (h005's, into h020) keeps few of its 3-word runs: by them alone (the
    likeness before) 12 newer decoy compositions, whose answers restate the question, all rank above the source, which
    is never read. The likeness counts the normalised text's character runs first: the source is chosen; the unedited
    copy's source is chosen first either way."""
    prompt, source, earlier = _json_months_history()
    copied = source.first_answers[0]  # "Return a JSON array with the names ...: `[['January 1st', ...`"
    assert len({e.prompt for e in earlier}) == 13 and copied.startswith("Return a JSON array")

    def by_word_runs(text):  # the likeness before: the share of the 3-word runs alone
        answers = {}
        for e in earlier:
            answers.setdefault(e.prompt, []).extend(e.first_answers)
        own, newest = shingles(text), list(reversed(answers))
        return sorted(newest, key=lambda q: -max(len(own & shingles(x)) / len(own) for x in answers[q]))[:BORROW_CANDIDATES]

    assert by_word_runs(copied)[0] == source.prompt == borrow_candidates(prompt, parts_of(prompt), copied, earlier)[0]
    text = EDITS[edit](copied)
    assert text != copied and source.prompt not in by_word_runs(text)
    chosen = borrow_candidates(prompt, parts_of(prompt), text, earlier)
    assert len(chosen) == BORROW_CANDIDATES and source.prompt in chosen
    assert likeness(copied, source.first_answers) == (1.0, 1.0) > likeness(text, source.first_answers)  # the copy: a run of its source


def test_a_borrow_gain_below_the_minimum_is_flagged_borrowed_and_capped():
    base = LikelihoodCheck(tokens=20, plausible=20, fidelity_ppb=10**9, ending_ppb=10**9, mean_logprob_milli=-900)
    weighted = {"relevance": 10**9, "compliance": 10**9, "completeness": 10**9, "integrity": 10**9}
    for gain, borrowed in ((BORROW_GAIN_MIN_MILLI - 1, True), (BORROW_GAIN_MIN_MILLI, False), (None, False)):
        flags: list[str] = []
        criteria = model_check_criteria(LikelihoodCheck(**{**base.__dict__, "borrow_gain_milli": gain}), flags)
        score = finalize_score({**weighted, **criteria}, flags)
        assert ("borrowed" in score.flags) is borrowed, gain
        assert (score.total_ppb == MODEL_CHECK_CAP_PPB) is borrowed


# -- the real model --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def forcer():
    return TeacherForcer(gguf_path(), n_threads=1, n_ctx=1024)


def _composed_case(prompt_id):
    prompt = next(e for e in map(json.loads, (DATA / "prompts.jsonl").read_text().splitlines()) if e["id"] == prompt_id)
    rows = [r for r in map(json.loads, (DATA / "outputs.jsonl").read_text().splitlines()) if r["prompt_id"] == prompt_id]
    return prompt, {(r["class"], r["miner"]): r["text"] for r in rows}


@pytest.mark.parametrize("prompt_id", ["c005"])
def test_the_validator_puts_a_stitched_answer_out_and_keeps_the_honest_composed_samples(forcer, prompt_id):
    """Real SmolLM2 reads of data/poi-composed: two honest answers sampled after the composed prompt and an answer
    stitched from two single-part answers (sampled after each part alone). The validator without the part check keeps
    the stitched answer in; with it the stitched answer goes under the floor and the honest ones keep their scores."""
    prompt, texts = _composed_case(prompt_id)
    outputs = [texts[("honest", 1)], texts[("honest", 2)], texts[("stitched", 0)]]
    p, budget = prompt["prompt"], prompt["max_output_tokens"]
    floor = Params().consensus_min_quality_ppb
    before = RuleEmbeddingScorer(reader=forcer, part_check=False).score_outputs(p, outputs, max_output_tokens=budget)
    after = RuleEmbeddingScorer(reader=forcer).score_outputs(p, outputs, max_output_tokens=budget)
    assert before[2].total_ppb >= floor and "stitched" not in before[2].flags  # the validator before kept it in
    assert after[2].total_ppb == MODEL_CHECK_CAP_PPB < floor and "stitched" in after[2].flags
    assert [s.total_ppb for s in after[:2]] == [s.total_ppb for s in before[:2]] and all(s.total_ppb >= floor for s in after[:2])
    parts = parts_of(p)
    gains = [part_gain(forcer, p, parts, o) for o in outputs]
    assert gains[2] is not None and gains[2] < PART_GAIN_MIN_MILLI <= min(g for g in gains[:2] if g is not None)
    revealed = dict(zip(("0x01", "0x02", "0x03"), outputs))
    reports = {r["miner"]: r for r in evaluate_outputs(p, revealed, budget, reader=forcer)}
    assert reports["0x03"]["quality_ppb"] == MODEL_CHECK_CAP_PPB
    assert (reports["0x01"]["quality_ppb"], reports["0x02"]["quality_ppb"]) == (after[0].total_ppb, after[1].total_ppb)


def test_the_validator_puts_a_borrowed_first_answer_out_and_keeps_the_honest_composed_samples(forcer):
    """Real SmolLM2 reads of data/poi-composed: c019's honest answers and a borrowed output (the first answer of another
    composed prompt with the same first part, sampled after that prompt, glued with a published single answer for part
    2; scripts/poi_composed.py borrow). The part check passes it; the borrow check, given the network's earlier prompt,
    puts it under the floor, and the honest answers keep their scores."""
    prompt, texts = _composed_case("c019")
    borrowed = next(r for r in map(json.loads, (DATA / "borrowed.jsonl").read_text().splitlines()) if r["prompt_id"] == "c019" and r["miner"] == 0)
    entries = [json.loads(x) for x in (DATA / "prompts.jsonl").read_text().splitlines()]
    earlier = [EarlierComposition(e["prompt"]) for e in entries if "of" not in e and e["parts"][0] == prompt["parts"][0] and e["id"] != "c019"]
    assert earlier
    outputs = [texts[("honest", 1)], texts[("honest", 2)], borrowed["text"]]
    p, budget = prompt["prompt"], prompt["max_output_tokens"]
    floor = Params().consensus_min_quality_ppb
    before = RuleEmbeddingScorer(reader=forcer).score_outputs(p, outputs, max_output_tokens=budget)
    after = RuleEmbeddingScorer(reader=forcer, earlier=earlier).score_outputs(p, outputs, max_output_tokens=budget)
    assert before[2].total_ppb >= floor and not {"stitched", "borrowed"} & set(before[2].flags)  # the part check passes it
    assert after[2].total_ppb == MODEL_CHECK_CAP_PPB < floor and "borrowed" in after[2].flags
    assert [s.total_ppb for s in after[:2]] == [s.total_ppb for s in before[:2]] and all(s.total_ppb >= floor for s in after[:2])
    parts = parts_of(p)
    gains = [borrow_gain(forcer, p, parts, o, earlier) for o in outputs]
    assert gains[2] is not None and gains[2] < BORROW_GAIN_MIN_MILLI <= min(g for g in gains[:2] if g is not None)
    revealed = dict(zip(("0x01", "0x02", "0x03"), outputs))
    reports = {r["miner"]: r for r in evaluate_outputs(p, revealed, budget, reader=forcer, earlier=earlier)}
    assert reports["0x03"]["quality_ppb"] == MODEL_CHECK_CAP_PPB
    assert (reports["0x01"]["quality_ppb"], reports["0x02"]["quality_ppb"]) == (after[0].total_ppb, after[1].total_ppb)


def test_a_borrowed_first_answer_among_many_decoy_compositions_is_still_flagged(forcer):
    """Real SmolLM2: c019's borrowed output (its twin's published first answer, cut at the budget) when the network
    asked c019's first part in 9 earlier compositions (> BORROW_CANDIDATES): its twin, oldest, and 8 decoys with other
    second parts from the calibration set, whose published first answers are other tasks' honest ones. The borrow
    check reads BORROW_CANDIDATES of them, the twin among them for the borrowed output: flagged ``borrowed``; the honest
    outputs are not flagged and keep the scores they get against the twin alone."""
    prompt, texts = _composed_case("c019")
    borrowed = next(r for r in map(json.loads, (DATA / "borrowed.jsonl").read_text().splitlines()) if r["prompt_id"] == "c019" and r["miner"] == 0)
    entries = [json.loads(x) for x in (DATA / "prompts.jsonl").read_text().splitlines()]
    twin = next(e for e in entries if "of" not in e and e["parts"][0] == prompt["parts"][0] and e["id"] != "c019")
    _, twin_texts = _composed_case(twin["id"])
    source = EarlierComposition(twin["prompt"], tuple(first_answer(t, 2) for (cls, _), t in sorted(twin_texts.items()) if cls == "honest"))
    assert first_answer(borrowed["text"], 2) in " ".join(source.first_answers)  # the copier glued one of them
    base = [json.loads(x) for x in (DATA.parent / "poi-calibration" / "prompts.jsonl").read_text().splitlines()]
    first = NetworkPrompt("a", parts_of(prompt["prompt"])[0], 8)
    others = [e for e in entries if "of" not in e and e["parts"][0] != prompt["parts"][0]]
    decoys = [
        EarlierComposition(
            compose((first, NetworkPrompt(x["id"], x["prompt"], 8))),
            tuple(first_answer(t, 2) for (cls, _), t in sorted(_composed_case(o["id"])[1].items()) if cls == "honest"),
        )
        for x, o in zip([x for x in base if x["id"] not in prompt["parts"]][::37][:8], others)
    ]
    earlier = [source, *decoys]
    assert len({e.prompt for e in earlier}) == 9 > BORROW_CANDIDATES
    outputs = [texts[("honest", 1)], texts[("honest", 2)], borrowed["text"]]
    p, budget = prompt["prompt"], prompt["max_output_tokens"]
    parts = parts_of(p)
    floor = Params().consensus_min_quality_ppb

    class Counting:
        def __init__(self):
            self.prompts: list[str] = []

        def trace(self, q, text):
            self.prompts.append(q)
            return forcer.trace(q, text)

    reads = []
    for o in outputs:
        r = Counting()
        borrow_gain(r, p, parts, o, earlier)
        reads.append(r.prompts)
    assert all(len(set(q)) <= BORROW_CANDIDATES + 1 for q in reads) and source.prompt in reads[2]
    after = RuleEmbeddingScorer(reader=forcer, earlier=earlier).score_outputs(p, outputs, max_output_tokens=budget)
    alone = RuleEmbeddingScorer(reader=forcer, earlier=[source]).score_outputs(p, outputs, max_output_tokens=budget)
    assert after[2].total_ppb == MODEL_CHECK_CAP_PPB < floor and "borrowed" in after[2].flags
    assert all("borrowed" not in s.flags and s.total_ppb >= floor for s in after[:2])
    assert [s.total_ppb for s in after[:2]] == [s.total_ppb for s in alone[:2]]
