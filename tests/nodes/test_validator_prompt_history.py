"""The validator agent's index of the network's earlier prompts (the borrow check's input, ``ai.composed``).

A scripted link stands in for the API here (a unit test of the paging and the index); the borrow check itself runs with
the real SmolLM2 in tests/ai/test_ai_composed.py."""

import hashlib
import logging
import threading

from cor_incentives.client import ApiError
from cor_incentives.core.network_prompts import compose
from cor_incentives.core.records import NetworkPrompt
from cor_incentives.nodes.agents import validator as agent_module
from cor_incentives.nodes.agents.validator import ValidatorAgent

A, B, C, D = (NetworkPrompt(x, f"Question {x}?", 8) for x in "abcd")


class Link:
    """Network tasks newest first with after_id < id < before_id, at most ``limit`` (as GET /v1/tasks)."""

    address = "0xv"

    def __init__(self, prompts: dict[int, str | None]):
        self.prompts = prompts
        self.blobs = {hashlib.sha256(p.encode()).hexdigest(): p for p in prompts.values() if p is not None}
        self.calls = 0

    def tasks(self, kind=None, after_id=None, before_id=None, limit=100, **_):
        assert kind == "network"
        self.calls += 1
        ids = sorted((i for i in self.prompts if (after_id is None or i > after_id) and (before_id is None or i < before_id)), reverse=True)
        return [{"id": i, "prompt_hash": hashlib.sha256((self.prompts[i] or f"missing {i}").encode()).hexdigest()} for i in ids[:limit]]

    def get_blob(self, h):
        if h not in self.blobs:
            raise ApiError("not_found", "no such blob", 404)
        return self.blobs[h].encode()


def agent(link):
    return ValidatorAgent("v", link, logging.getLogger("t"), threading.Event(), 0.1, strategy="honest")


def test_earlier_prompts_are_the_earlier_network_prompts_with_the_same_first_part(monkeypatch):
    monkeypatch.setattr(agent_module, "HISTORY_PAGE", 2)  # page back through more tasks than one request returns
    prompts = {1: compose((A, B)), 2: compose((B, A)), 3: A.prompt, 4: compose((A, C)), 5: None, 6: compose((A, D)), 7: compose((C, A))}
    link = Link(prompts)
    v = agent(link)
    assert v.earlier_prompts(6, compose((A, D))) == [compose((A, B)), compose((A, C))]  # before task 6, first part A
    assert v.history_after == 7 and link.calls >= 4  # every page read, the missing prompt (5) skipped
    assert v.earlier_prompts(99, compose((C, B))) == [compose((C, A))]
    assert v.earlier_prompts(99, A.prompt) == []  # a single prompt: no borrow check
    link.prompts[8] = compose((A, B))
    link.blobs[hashlib.sha256(compose((A, B)).encode()).hexdigest()] = compose((A, B))
    calls = link.calls
    assert v.earlier_prompts(9, compose((A, C))) == [compose((A, B)), compose((A, C)), compose((A, D)), compose((A, B))]
    assert link.calls - calls == 1  # only the new task is read


def test_the_agent_pages_the_real_api_for_network_prompts(tmp_path):
    """Through the real Link and a real cor serve: the paging arguments reach GET /v1/tasks (kind=network), and the
    network's user tasks are never indexed (the old Link.tasks took no after_id / before_id)."""
    from cor_incentives.nodes.link import Link as RealLink
    from support.network import make_network
    from support.scenario import submit_task
    from support.server import start_server, stop_server

    url = f"sqlite:///{tmp_path / 'cor.db'}"
    eng, keys = make_network(url, tmp_path / "keys", n_miners=3, n_validators=3, params={"redundancy": 3}, seed="agent-history")
    tid = submit_task(eng, keys, compose((A, B)), 48)  # a user task whose prompt happens to read as composed
    me = next(iter(keys.values()))
    del eng
    server = start_server(url, tmp_path / "serve.log")
    stop = threading.Event()
    link = RealLink(server.base_url, me.private_key, stop=stop)
    try:
        v = ValidatorAgent("v0", link, logging.getLogger("test.history"), stop, 0.05, strategy="honest")
        assert v.earlier_prompts(tid + 1, compose((A, C))) == [] and v.history_after == 0
        assert link.tasks(kind="user", after_id=0, before_id=tid + 1, limit=5)[0]["id"] == tid
    finally:
        link.close()
        stop_server(server)
