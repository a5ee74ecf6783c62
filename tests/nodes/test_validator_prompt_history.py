"""The validator agent's index of the network's earlier tasks: prompts and revealed first answers (the borrow check's
input, ``ai.composed``).

A scripted link stands in for the API in the first tests (a unit test of the paging and the index), a real cor serve in
the last; the borrow check itself runs with the real SmolLM2 in tests/ai/test_ai_composed.py."""

import hashlib
import logging
import threading

from cor_incentives.ai import composed
from cor_incentives.ai.composed import BORROW_CANDIDATES, PART_READ_CHARS, EarlierComposition, borrow_candidates, first_answer, parts_of
from cor_incentives.client import ApiError
from cor_incentives.core.network_prompts import compose
from cor_incentives.core.records import NetworkPrompt
from cor_incentives.nodes.agents import validator as agent_module
from cor_incentives.nodes.agents.validator import ValidatorAgent
from cor_incentives.nodes.link import Link as RealLink

A, B, C, D = (NetworkPrompt(x, f"Question {x}?", 8) for x in "abcd")


class Link:
    """Network tasks newest first with after_id < id < before_id, at most ``limit`` (as GET /v1/tasks)."""

    address = "0xv"

    def __init__(self, prompts: dict[int, str | None], outputs: dict[int, list[str]] | None = None):
        self.prompts = prompts
        self.blobs = {hashlib.sha256(p.encode()).hexdigest(): p for p in prompts.values() if p is not None}
        self.outputs = outputs or {}  # task id -> its miners' revealed outputs
        self.state: dict[int, str] = {}  # task id -> state (default SETTLED)
        for texts in self.outputs.values():
            self.blobs.update({hashlib.sha256(t.encode()).hexdigest(): t for t in texts})
        self.calls = 0
        self.blob_reads = 0

    def task(self, i):
        revealing = self.state.get(i) in ("STARTED", "PRECOMMITTED")
        miners = [
            {"miner": f"0xm{j}", "revealed": not revealing, "mismatch": False, "output_hash": hashlib.sha256(t.encode()).hexdigest()}
            for j, t in enumerate(self.outputs.get(i, []))
        ]
        return {
            "id": i,
            "state": self.state.get(i, "SETTLED"),
            "prompt_hash": hashlib.sha256((self.prompts[i] or f"missing {i}").encode()).hexdigest(),
            "miners": miners,
        }

    def tasks(self, kind=None, after_id=None, before_id=None, limit=100, **_):
        assert kind == "network"
        self.calls += 1
        ids = sorted((i for i in self.prompts if (after_id is None or i > after_id) and (before_id is None or i < before_id)), reverse=True)
        return [self.task(i) for i in ids[:limit]]

    tasks_above = RealLink.tasks_above  # the real paging (every task above an id, oldest first), over these pages

    def get_blob(self, h):
        self.blob_reads += 1
        if h not in self.blobs:
            raise ApiError("not_found", "no such blob", 404)
        return self.blobs[h].encode()


def agent(link):
    return ValidatorAgent("v", link, logging.getLogger("t"), threading.Event(), 0.1, strategy="honest")


def prompts_of(tasks):
    return [e.prompt for e in tasks]


def test_earlier_tasks_are_the_earlier_network_prompts_with_the_same_first_part(monkeypatch):
    monkeypatch.setattr(agent_module, "HISTORY_PAGE", 2)  # page back through more tasks than one request returns
    prompts = {1: compose((A, B)), 2: compose((B, A)), 3: A.prompt, 4: compose((A, C)), 5: None, 6: compose((A, D)), 7: compose((C, A))}
    link = Link(prompts)
    v = agent(link)
    parsed = []
    monkeypatch.setattr(composed, "parts_of", lambda p: parsed.append(p) or parts_of(p))
    assert prompts_of(v.earlier_tasks(6, compose((A, D)))) == [compose((A, B)), compose((A, C))]  # before task 6, first part A
    assert sorted(parsed) == sorted([compose((A, D)), *(p for p in prompts.values() if p)])  # each prompt parsed once
    assert v.history_after == 7 and link.calls == 4  # 7 tasks in pages of 2: 4 requests; the missing prompt (5) skipped
    assert prompts_of(v.earlier_tasks(99, compose((C, B)))) == [compose((C, A))]
    assert v.earlier_tasks(99, A.prompt) == []  # a single prompt: no borrow check
    link.prompts[8] = compose((A, B))
    link.blobs[hashlib.sha256(compose((A, B)).encode()).hexdigest()] = compose((A, B))
    calls = link.calls
    assert prompts_of(v.earlier_tasks(9, compose((A, C)))) == [compose((A, B)), compose((A, C)), compose((A, D)), compose((A, B))]
    assert link.calls - calls == 1  # only the new task is read


def test_the_index_holds_the_earlier_tasks_first_answers_and_the_borrow_check_reads_k_of_them(monkeypatch):
    """Each indexed network task keeps its revealed outputs' first answers (at most PART_READ_CHARS each: not the
    outputs); a task indexed before its miners revealed is read again once they have. With 12 earlier compositions of
    the first part, the borrow check chooses BORROW_CANDIDATES of them, the one whose published first answer a copier
    glued (the oldest) among them."""
    seconds = [NetworkPrompt(f"x{i}", f"Other question {i}?", 8) for i in range(12)]
    prompts = {i + 1: compose((A, x)) for i, x in enumerate(seconds)}
    long = " long" * 200  # a first answer longer than PART_READ_CHARS: only its beginning is kept
    outputs = {i: [f"1. Answer {i}: the yeast of loaf {i} rises in an oven {i}.{long}\n\n2. Part two {i}.", f"1. Short {i}."] for i in prompts}
    link = Link(prompts, outputs)
    link.state[12] = "PRECOMMITTED"  # its miners have not revealed yet
    v = agent(link)
    earlier = v.earlier_tasks(20, compose((A, B)))
    assert prompts_of(earlier) == [prompts[i] for i in range(1, 13)]
    assert earlier[0] == EarlierComposition(prompts[1], tuple(first_answer(t, 2) for t in outputs[1]))
    assert all(len(a) <= PART_READ_CHARS for e in earlier for a in e.first_answers)
    assert earlier[-1].first_answers == () and set(v.revealing) == {12}
    reads = link.blob_reads
    link.state[12] = "COMMITTED"  # revealed since
    parsed = []
    monkeypatch.setattr(composed, "parts_of", lambda p: parsed.append(p) or parts_of(p))
    earlier = v.earlier_tasks(21, compose((A, B)))
    assert parsed == [compose((A, B))]  # this prompt only: task 12's, indexed again with its answers, keeps its parts
    assert earlier[-1].first_answers == tuple(first_answer(t, 2) for t in outputs[12]) and v.revealing == {}
    assert link.blob_reads - reads == 2  # only task 12's outputs fetched (once)
    copied = "Answer 1: the yeast of loaf 1 rises in"  # task 1's published first answer, cut at the budget
    chosen = borrow_candidates(compose((A, B)), parts_of(compose((A, B))), copied, earlier)
    assert len(chosen) == BORROW_CANDIDATES < len(earlier) and prompts[1] in chosen


def test_the_agent_pages_the_real_api_for_network_tasks_and_their_first_answers(tmp_path):
    """Through the real Link and a real cor serve: the paging arguments reach GET /v1/tasks (kind=network), the
    network's user tasks are never indexed (the old Link.tasks took no after_id / before_id), and a network task's
    revealed outputs' first answers are indexed with its prompt (fetched from the blob store); one whose miners have
    not revealed yet is read again once they have."""
    from support.audit_scenario import network_task
    from support.network import make_network, run_commit_reveal
    from support.scenario import submit_task
    from support.server import start_server, stop_server

    url = f"sqlite:///{tmp_path / 'cor.db'}"
    eng, keys = make_network(url, tmp_path / "keys", n_miners=3, n_validators=3, params={"redundancy": 3}, seed="agent-history")
    tid = submit_task(eng, keys, compose((A, B)), 48)  # a user task whose prompt happens to read as composed
    revealed = network_task(eng, keys, "")  # the oracle's: the beacon composes its prompt
    miners = [a.miner for a in eng.state.tasks[revealed].miners]
    texts = [f"1. Answer {j} of the first part.\n\n2. Answer {j} of the second part." for j in range(len(miners))]
    run_commit_reveal(eng, keys, revealed, dict(zip(miners, texts)))
    pending = network_task(eng, keys, "")  # drawn, not revealed yet
    me = next(iter(keys.values()))
    del eng
    server = start_server(url, tmp_path / "serve.log")
    stop = threading.Event()
    link = RealLink(server.base_url, me.private_key, stop=stop)
    try:
        v = ValidatorAgent("v0", link, logging.getLogger("test.history"), stop, 0.05, strategy="honest")
        assert v.earlier_tasks(tid + 1, compose((A, C))) == [] and v.history_after == pending
        assert link.tasks(kind="user", after_id=0, before_id=tid + 1, limit=5)[0]["id"] == tid
        prompt = link.get_blob(link.task(revealed)["prompt_hash"]).decode()
        parts = parts_of(prompt)
        assert len(parts) >= 2
        mine = compose((NetworkPrompt("a", parts[0], 8), NetworkPrompt("x", "A question never asked?", 8)))
        earlier = v.earlier_tasks(pending + 1, mine)
        assert earlier[0].prompt == prompt and sorted(earlier[0].first_answers) == sorted(first_answer(t, len(parts)) for t in texts)
        assert pending in v.revealing and revealed not in v.revealing
        # every task, oldest first, in pages (devnet_results' end table): one request per page, not one per older task
        requests = []
        list_tasks = link.client.tasks
        link.client.tasks = lambda **kw: requests.append(kw) or list_tasks(**kw)
        every = link.all_tasks(page=2)
        ids = [t["id"] for t in every]
        assert ids == sorted(ids) and {tid, revealed, pending} <= set(ids) and len(requests) == len(ids) // 2 + 1
        one_by_one = []  # what all_tasks read before: each id below the newest page, one GET /v1/tasks/{id} each
        for i in range(max(ids), 0, -1):
            try:
                one_by_one.append(link.task(i))
            except ApiError as exc:
                assert exc.status == 404
        # the same records, each detail adding its fee breakdown (one task's view only, cor task show)
        assert every == [{k: v for k, v in t.items() if k != "fee"} for t in one_by_one[::-1]]
    finally:
        link.close()
        stop_server(server)
