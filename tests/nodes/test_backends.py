"""Miner backends: the real SmolLM2 through llama-cpp-python (greedy, deterministic), and scripted."""

import pytest

from cor_incentives.nodes.backends import LlamaBackend, Sampling, ScriptedBackend, make_backend
from cor_incentives.nodes.strategies import check_strategy, copier_reports, garbage_text


@pytest.fixture(scope="module")
def llama():
    return LlamaBackend(n_threads=2)


def test_llama_is_real_and_deterministic(llama):
    a = llama.generate("Name the largest planet in the solar system.", 24)
    b = llama.generate("Name the largest planet in the solar system.", 24)
    assert a == b  # greedy decoding: same prompt, same bytes, same counts
    assert a.text and 1 <= a.output_tokens <= 24 and a.input_tokens > 5
    c = llama.generate("Write one word: a colour.", 8)
    assert c.output_tokens <= 8 and c.text != a.text


def test_a_sampled_output_depends_on_the_prompt_and_seed_only():
    """A sampling miner's output is a function of (prompt, settings, seed), whatever it generated before: the same
    prompt back to back (a user asking again) gives the text a fresh process gives. llama-cpp-python reads a prompt it
    holds whole again one token at a time, which rounds the logits otherwise (at this seed: another text from the 4th
    token on)."""
    prompt, seed = 'Turn this statement into a question: "The train leaves at seven o\'clock."', 5
    fresh = LlamaBackend(n_threads=1, sampling=Sampling(temperature=0.7)).generate(prompt, 32, seed=seed)
    miner = LlamaBackend(n_threads=1, sampling=Sampling(temperature=0.7))
    first = miner.generate(prompt, 32, seed=seed)
    again = miner.generate(prompt, 32, seed=seed)  # the whole prompt is in the cache now
    miner.generate("Name a fruit.", 8, seed=seed)
    after_another = miner.generate(prompt, 32, seed=seed)
    assert fresh == first == again == after_another, (fresh.text, first.text, again.text, after_another.text)
    assert miner.generate(prompt, 32, seed=seed + 1).text != fresh.text  # the seed does matter


def test_scripted_is_deterministic_and_prompt_dependent():
    s = ScriptedBackend()
    assert s.generate("What is 2+2?", 50) == s.generate("What is 2+2?", 50)
    assert s.generate("What is 2+2?", 50).text != s.generate("Name a fruit.", 50).text
    assert s.generate("x " * 200, 5).output_tokens == 5


def test_strategies():
    assert garbage_text(1, "0xa") == garbage_text(1, "0xa") != garbage_text(2, "0xa")
    reports = copier_reports(["b", "a"], 48)
    assert [r["miner"] for r in reports] == ["a", "b"] and {r["quality_ppb"] for r in reports} == {800_000_000}
    assert {r["output_tokens"] for r in reports} == {48}  # counts nothing: the most the task allows
    with pytest.raises(ValueError):
        check_strategy("miner", "sneaky")
    with pytest.raises(ValueError):
        make_backend("gpt")
