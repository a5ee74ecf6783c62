"""Network prompts are composed by the beacon from the genesis prompt set (rule 9): nobody picks them,
and they practically never repeat, so no earlier published output is the answer to a new one."""

from __future__ import annotations

import hashlib

import pytest

from cor_incentives.app.prompts import genesis_prompt_set, load_prompt_set, network_prompt_view, next_network_prompt
from cor_incentives.core.apply import replay
from cor_incentives.core.errors import EngineError
from cor_incentives.core.network_prompts import compose, compose_prompt, composed_prompt, draw_parts, instances, parse_prompt_set
from cor_incentives.core.records import NetworkPrompt
from cor_incentives.core.rules import RULES_NETWORK_PROMPTS
from support.chain import Chain
from support.market import MODEL, h, market, network

SET = [
    {"id": "a", "prompt": "Name a prime number.", "max_output_tokens": 16},
    {"id": "b", "prompt": "What colour is the sky?", "max_output_tokens": 24},
    {"id": "c", "prompt": "List three fruits.", "max_output_tokens": 32},
    {"id": "d", "prompt": "Write a haiku about rain.", "max_output_tokens": 40},
]


def issue(c: Chain, max_out: int | None = None) -> int:
    """The oracle issues the composed prompt (as `cor task network` and the devnet do)."""
    view = network_prompt_view(c.state)
    assert view is not None
    tid = c.state.next_id
    c.oracle(
        "task.network",
        {
            "model": MODEL,
            "prompt_hash": h(view["text"]),
            "prompt_bytes": len(view["text"].encode()),
            "input_tokens": 12,
            "max_output_tokens": view["max_output_tokens"] if max_out is None else max_out,
        },
    )
    return tid


def test_the_network_task_asks_the_composed_prompt_and_nothing_else():
    c = market(beacon=True, network_prompts=SET)
    assert c.state.params.rule_version >= RULES_NETWORK_PROMPTS
    view = network_prompt_view(c.state)
    assert view is not None and len(view["parts"]) == 2 and len(set(view["parts"])) == 2
    parts = {p["id"]: p for p in SET}
    assert view["text"] == compose(tuple(NetworkPrompt(**parts[i]) for i in view["parts"]))
    assert view["max_output_tokens"] == sum(parts[i]["max_output_tokens"] for i in view["parts"])
    before = c.state.to_dict()
    # a base prompt alone, the composed text with a nonce, the composed prompt over its budget: all refused, nothing changes
    for text, max_out in ((SET[0]["prompt"], 16), (view["text"] + "\n\n(ref 00ff)", 16), (view["text"], view["max_output_tokens"] + 1)):
        with pytest.raises(EngineError) as e:
            network(c, text, max_out=max_out)
        assert e.value.code == "network_prompt_mismatch" and c.state.to_dict() == before
        assert e.value.details["prompt_hash"] == view["prompt_hash"]
    tid = issue(c)
    assert c.state.tasks[tid].prompt_hash == view["prompt_hash"] and c.state.tasks[tid].max_output_tokens == view["max_output_tokens"]
    # the next one is composed anew (the oracle's nonce moved); a smaller output budget is the oracle's to set
    again = network_prompt_view(c.state)
    assert again is not None
    small = issue(c, max_out=8)
    assert c.state.tasks[small].max_output_tokens == 8 and c.state.tasks[small].prompt_hash == again["prompt_hash"]


def test_the_prompt_follows_the_beacon_and_the_oracle_nonce_only():
    c = market(beacon=True, network_prompts=SET)
    first = composed_prompt(c.state)
    c.as_("user", "transfer", {"to": "0x" + "11" * 20, "amount": "1"})  # anyone else's command changes nothing
    assert composed_prompt(c.state) == first
    seen = set()
    for _ in range(12):
        c.oracle("tick", {"ticks": 1})
        seen.add(composed_prompt(c.state).parts)
    assert len(seen) >= 6  # 12 ordered pairs of 4: the ticks' values spread over them


def test_replay_recomputes_the_prompts_and_the_fingerprint_holds_the_set():
    c = market(beacon=True, network_prompts=SET)
    issue(c)
    c.oracle("tick", {"ticks": 1})
    issue(c)
    again = replay(c.events)
    assert again.to_dict() == c.state.to_dict()
    assert again.to_dict()["network_prompts"] == SET
    assert "network_prompts" not in market(beacon=True).state.to_dict()  # a genesis without a set keeps its fingerprint


def test_without_a_prompt_set_or_before_rule_7_the_oracle_names_the_prompt():
    c = market(beacon=True)
    assert network_prompt_view(c.state) is None
    network(c, "anything at all")
    old = market(beacon=True, network_prompts=SET, params={"rule_version": RULES_NETWORK_PROMPTS - 1})
    assert network_prompt_view(old.state) is None
    network(old, "anything at all")
    network(old, "anything at all")  # rules 1-8: the same prompt again is accepted (copiers could replay it)


@pytest.mark.parametrize(
    "bad",
    [
        [],
        [{"id": "a", "prompt": "x", "max_output_tokens": 8}, {"id": "a", "prompt": "y", "max_output_tokens": 8}],
        [{"id": "a b", "prompt": "x", "max_output_tokens": 8}],
        [{"id": "a", "prompt": "   ", "max_output_tokens": 8}],
        [{"id": "a", "prompt": "x", "max_output_tokens": 0}],
        [{"id": "a", "prompt": "x", "max_output_tokens": 8, "extra": 1}],
        [{"id": "a", "prompt": "x"}],
        "a",
    ],
)
def test_a_bad_prompt_set_is_refused_at_genesis(bad):
    with pytest.raises(EngineError) as e:
        Chain(wallets={"x": 10}, network_prompts=bad)
    assert e.value.code in ("invalid_prompt_set", "unknown_field", "missing_field")


def test_parts_are_distinct_deterministic_and_prompts_rarely_repeat():
    assert draw_parts(b"s", 300, 2) == draw_parts(b"s", 300, 2)
    assert draw_parts(b"s", 1, 3) == (0,)
    for j in range(200):
        parts = draw_parts(hashlib.sha256(str(j).encode()).digest(), 5, 5)
        assert sorted(parts) == [0, 1, 2, 3, 4]
    bundled = parse_prompt_set(genesis_prompt_set())
    assert len(bundled) == len(load_prompt_set()) == 300 and instances(300, 2) == 89_700
    value = "0x" + "ab" * 32
    drawn = [compose_prompt(bundled, 2, value, n).prompt_hash for n in range(1_050)]
    repeats = len(drawn) - len(set(drawn))
    assert repeats <= 20  # expected ~6 (1 050² / (2 · 89 700)); one part alone would repeat ~800 times
    single = [compose_prompt(bundled, 1, value, n).prompt_hash for n in range(1_050)]
    assert len(single) - len(set(single)) > 600


def test_the_cli_helper_refuses_a_named_prompt_when_the_beacon_composes():
    c = market(beacon=True, network_prompts=SET)
    text, label, budget = next_network_prompt(c.state, load_prompt_set())
    assert text == composed_prompt(c.state).text and label == "+".join(composed_prompt(c.state).parts)
    assert budget == composed_prompt(c.state).max_output_tokens
    with pytest.raises(EngineError) as e:
        next_network_prompt(c.state, load_prompt_set(), "p0001")
    assert e.value.code == "prompt_composed"
    plain = market(beacon=True)
    assert next_network_prompt(plain.state, load_prompt_set(), "p0001")[1] == "p0001"


def test_a_real_network_composes_from_the_bundled_set_and_replays_from_its_database(tmp_path):
    """cor init / the devnet genesis holds the bundled set; the status view shows the next prompt; the engine
    reopened from its SQLite file (replaying the log) has the same state."""
    from cor_incentives.ai.bundled import BUNDLED_MODEL_ID
    from cor_incentives.app import views
    from cor_incentives.app.engine import Engine
    from support.network import make_network

    url = f"sqlite:///{tmp_path / 'cor.db'}"
    eng, keys = make_network(url, tmp_path / "keys")
    assert [p.id for p in eng.state.network_prompts] == [p["id"] for p in load_prompt_set()]
    shown = views.status(eng.state)["network_prompt"]
    assert shown == network_prompt_view(eng.state) and len(shown["parts"]) == 2
    eng.store.put_blob(shown["text"].encode())
    body = {"model": BUNDLED_MODEL_ID, "prompt_hash": shown["prompt_hash"], "prompt_bytes": shown["prompt_bytes"], "input_tokens": 40}
    tid = eng.state.next_id
    eng.submit_as(keys["oracle"], "task.network", body | {"max_output_tokens": 48})
    assert eng.state.tasks[tid].prompt_hash == shown["prompt_hash"]
    with pytest.raises(EngineError) as e:  # the same prompt again: the oracle's nonce moved, so it is not the composed one
        eng.submit_as(keys["oracle"], "task.network", body | {"max_output_tokens": 48})
    assert e.value.code == "network_prompt_mismatch"
    fingerprint = eng.state.to_dict()
    eng.store.engine.dispose()
    again = Engine.open(url)
    assert again.state.to_dict() == fingerprint
    again.store.engine.dispose()
