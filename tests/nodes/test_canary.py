"""The devnet oracle's planted outputs (``nodes.canary``): a fluent answer to another prompt, which no lexical check
tells from an honest answer and honest validators put out (docs/devnet.md, *Canaries*).

The first tests are about the choice (no model); the last ones run the real models: SmolLM2 answers as the devnet's
miners and oracle do, and the validator as shipped judges (MiniLM distances, the quality scorer with SmolLM2 reading).
"""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from cor_incentives.ai.quality import word_salad
from cor_incentives.app.prompts import genesis_prompt_set, load_prompt_set
from cor_incentives.core.network_prompts import compose, compose_prompt, parse_prompt_set
from cor_incentives.core.params import Params
from cor_incentives.core.records import NetworkPrompt
from cor_incentives.core.spread import spread_threshold_ppb
from cor_incentives.nodes.backends import Generation, derive_seed
from cor_incentives.nodes.canary import canary_source, planted_output
from cor_incentives.nodes.strategies import garbage_text

PROMPTS = load_prompt_set()
KIND = {p["id"]: p["kind"] for p in PROMPTS}
BY_ID = {p["id"]: p for p in PROMPTS}


def composed(i: int) -> tuple[str, tuple[str, ...], int]:
    """A network prompt as the core composes it on the devnet (2 parts of the bundled set), at the devnet's budget."""
    c = compose_prompt(
        parse_prompt_set(genesis_prompt_set(PROMPTS)),
        Params().network_prompt_parts,
        "0x" + hashlib.sha256(f"canary-test|{i}".encode()).hexdigest(),
        i,
    )
    return c.text, c.parts, min(c.max_output_tokens, 48)


def test_the_source_is_other_prompts_of_other_kinds_composed_like_the_task():
    for tick in range(0, 300, 3):
        _, parts, _ = composed(tick)
        source, text = canary_source(PROMPTS, parts, "devnet", tick)
        assert len(source) == len(parts) == 2 and len(set(source)) == 2
        assert not set(source) & set(parts)
        assert not {KIND[x] for x in source} & {KIND[x] for x in parts}  # an answer of another kind lies farther away
        assert text == compose(tuple(NetworkPrompt(x, BY_ID[x]["prompt"], BY_ID[x]["max_output_tokens"]) for x in source))
        assert canary_source(PROMPTS, parts, "devnet", tick) == (source, text)  # deterministic from the seed and tick
    single = canary_source(PROMPTS, ("p0001",), "devnet", 7)
    assert len(single[0]) == 1 and single[1] == BY_ID[single[0][0]]["prompt"] and KIND[single[0][0]] != KIND["p0001"]
    drawn = Counter(canary_source(PROMPTS, composed(3)[1], seed, 3)[0] for seed in ("a", "b", "c", "d", "e", "f"))
    assert len(drawn) >= 5  # the devnet's seed decides it


def test_a_set_of_one_kind_gives_any_other_prompt():
    prompts = [{"id": f"q{i}", "prompt": f"Question {i}?", "max_output_tokens": 32, "kind": "question"} for i in range(4)]
    source, text = canary_source(prompts, ("q0", "q1"), "s", 1)
    assert set(source) == {"q2", "q3"} and text.startswith("Answer each of these 2 parts")
    with pytest.raises(ValueError, match="too few"):
        canary_source(prompts[:3], ("q0", "q1"), "s", 1)


class Recorder:
    """A backend that records its calls; answers nothing for the first ``empty`` of them."""

    name = "recorder"

    def __init__(self, empty: int = 0) -> None:
        self.calls: list[tuple[str, int, int | None]] = []
        self.empty = empty

    def generate(self, prompt: str, max_tokens: int, *, seed: int | None = None) -> Generation:
        self.calls.append((prompt, max_tokens, seed))
        text = "" if len(self.calls) <= self.empty else f"  an answer to: {prompt[:40]}  "
        return Generation(text, 5, 5)


def test_the_planted_output_is_the_backends_answer_to_the_source_at_the_tasks_budget():
    _, parts, budget = composed(9)
    b = Recorder()
    source, out = planted_output(b, PROMPTS, parts, budget, "devnet", 9)
    assert (source, b.calls[0][0]) == canary_source(PROMPTS, parts, "devnet", 9)
    assert b.calls == [(b.calls[0][0], budget, derive_seed("devnet-canary", "devnet", 9, 0))]
    assert out == f"an answer to: {b.calls[0][0][:40]}"
    again = Recorder(empty=2)  # nothing twice: a third source, a third seed
    source3, out3 = planted_output(again, PROMPTS, parts, budget, "devnet", 9)
    assert [c[2] for c in again.calls] == [derive_seed("devnet-canary", "devnet", 9, a) for a in range(3)]
    assert (source3, again.calls[2][0]) == canary_source(PROMPTS, parts, "devnet", 9, 2) and out3
    with pytest.raises(RuntimeError, match="answered nothing"):
        planted_output(Recorder(empty=3), PROMPTS, parts, budget, "devnet", 9)


def test_the_lexical_tell_flags_random_letters_and_not_language():
    """``ai.quality.word_salad`` (the embedder's vocabulary, no model run): every random-letters output, no sentence."""
    assert all(word_salad(garbage_text(i, "canary")) for i in range(50))
    assert word_salad("The answer is qzxvk wplmrt bnvcxz trkwq jjkplm.")  # half of its words are no words
    for text in (
        "1. Ice\n\n2. Here are three tips for studying for an exam: make a schedule, take short breaks and sleep well.",
        "```python\ndef is_even(n):\n    return n % 2 == 0\n```",  # fenced code is not prose (bare code can trip it)
        "Photosynthesis turns sunlight, water and carbon dioxide into glucose and oxygen.",
    ):
        assert not word_salad(text), text


# --- the real models ----------------------------------------------------------------------------------------------

REAL_PROMPTS = (3, 6, 9)  # composed(i): three tasks (the 32-prompt measurement is scripts/devnet_canary_check.py)
MINERS = ("miner-1", "miner-2", "miner-3")


@pytest.fixture(scope="module")
def tasks():
    """(prompt, budget, honest outputs, planted output) per task: SmolLM2 at the devnet's temperature, as its miners
    (own seeds) and its oracle (``planted_output``) sample."""
    from cor_incentives.nodes.backends import LlamaBackend, Sampling
    from cor_incentives.nodes.devnet_config import DEFAULT_MINER_TEMPERATURE, DevnetConfig

    cfg = DevnetConfig()
    llama = LlamaBackend(n_threads=1, sampling=Sampling(temperature=DEFAULT_MINER_TEMPERATURE))
    out = []
    for i in REAL_PROMPTS:
        text, parts, budget = composed(i)
        honest = {m: llama.generate(text, budget, seed=derive_seed(cfg.sampling_seed(m), i)).text for m in MINERS}
        out.append((text, budget, honest, planted_output(llama, PROMPTS, parts, budget, cfg.seed, i)[1]))
    return out


def test_no_lexical_check_tells_the_planted_output_from_an_honest_one(tasks):
    """The simulator's spotter's tell on text (``ai.quality.word_salad``) flags the devnet's old planted output, random
    letters, and neither the planted outputs nor the honest ones."""
    assert all(word_salad(garbage_text(i, "canary")) for i in REAL_PROMPTS)
    for _, _, honest, planted in tasks:
        assert not word_salad(planted), planted
        assert not any(word_salad(t) for t in honest.values())
        assert planted not in honest.values() and len(planted.split()) >= 5


def test_honest_validators_put_the_planted_output_out(tasks):
    """An honest validator as the devnet's llama validators run it (the model checks on) reports the planted output
    out of consensus: beyond the task's threshold or under the quality floor. It never fails the canary."""
    from cor_incentives.ai.bundled import gguf_path
    from cor_incentives.ai.likelihood import TeacherForcer
    from cor_incentives.nodes.agents.validator import READER_CONTEXT
    from cor_incentives.nodes.validator import evaluate_task

    p = Params()
    reader = TeacherForcer(gguf_path(), n_threads=1, n_ctx=READER_CONTEXT)
    for prompt, budget, honest, planted in tasks:
        ev = evaluate_task(prompt, {**honest, "planted": planted}, budget, reader=reader, spread_rule=True)
        threshold = spread_threshold_ppb(p.poi_max_distance_ppb, p.poi_spread_cap_ppb, p.poi_spread_factor_bps, ev.spread_ppb)
        r = {x["miner"]: x for x in ev.reports}
        lets_pass = r["planted"]["poi_distance_ppb"] <= threshold and r["planted"]["quality_ppb"] >= p.consensus_min_quality_ppb
        assert not lets_pass, (r["planted"], threshold)
        # and the task still settles on its honest answers (min_consensus of them in; a sampled answer can be out)
        honest_in = sum(r[m]["poi_distance_ppb"] <= threshold and r[m]["quality_ppb"] >= p.consensus_min_quality_ppb for m in MINERS)
        assert honest_in >= p.min_consensus, r
