"""Claim proofs from a tree built once per closed epoch: the same proofs as the full OZ-layout tree,
built at most once per process, and built outside the API's lock on the state."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives.api.service import ApiService
from cor_incentives.app import proofs, views
from cor_incentives.app.proofs import EpochTree, TreeCache
from cor_incentives.core.errors import InvariantViolation, NotFound
from cor_incentives.core.merkle import build_tree, verify_proof
from support.scenario import run_scenario

addresses = st.binary(min_size=20, max_size=20).map(lambda raw: "0x" + raw.hex())
amounts = st.one_of(st.integers(0, 2**64), st.integers(0, 2**256 - 1))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(leaves=st.dictionaries(addresses, amounts, min_size=1, max_size=70), epoch=st.integers(0, 2**40))
def test_every_proof_equals_the_full_trees(leaves: dict[str, int], epoch: int) -> None:
    """Same root and, for every leaf, the same proof as ``build_tree`` (itself checked against
    @openzeppelin/merkle-tree in tests/core/test_merkle.py)."""
    full = build_tree([(a, epoch, v) for a, v in leaves.items()])
    tree = EpochTree.build(epoch, leaves)
    assert tree.root == full.root and tree.count == len(leaves)
    for a, v in leaves.items():
        p = tree.proof(a, v)
        assert p == full.proof((a, epoch, v)) and verify_proof(tree.root, (a, epoch, v), p)
        assert len(p) <= (len(leaves) - 1).bit_length()


def test_a_leaf_not_in_the_tree_is_refused() -> None:
    tree = EpochTree.build(3, {"0x" + "11" * 20: 5, "0x" + "22" * 20: 7})
    for address, amount in (("0x" + "11" * 20, 6), ("0x" + "33" * 20, 5)):
        with pytest.raises(NotFound) as err:
            tree.proof(address, amount)
        assert err.value.code == "leaf_not_in_tree"


def test_the_cache_builds_each_epoch_once_even_under_concurrent_asks() -> None:
    cache = TreeCache(kept=2)
    leaves = {"0x" + f"{i:040x}": i + 1 for i in range(300)}
    root = build_tree([(a, 1, v) for a, v in leaves.items()]).root
    got: list[EpochTree] = []
    threads = [threading.Thread(target=lambda: got.append(cache.tree("c", 1, root, leaves))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.builds == 1 and len({id(t) for t in got}) == 1
    for e in (2, 3):  # two other epochs push epoch 1 out (kept=2): asked again, it is rebuilt
        cache.tree("c", e, build_tree([(a, e, v) for a, v in leaves.items()]).root, leaves)
    cache.tree("c", 1, root, leaves)
    assert cache.builds == 4
    with pytest.raises(InvariantViolation):  # leaves that do not give the record's root are never served
        cache.tree("c", 9, root, leaves)


def test_views_proof_uses_the_cache_and_the_api_builds_outside_its_lock(sqlite_url, tmp_path, monkeypatch) -> None:
    eng = run_scenario(sqlite_url, tmp_path / "keys")
    record = eng.state.epochs[1]
    who = sorted(record.leaves)[0]
    cache = TreeCache()
    first = views.proof(eng.state, who, 1, trees=cache)
    again = views.proof(eng.state, who, 1, trees=cache)
    assert first == again and cache.builds == 1
    assert first["proof"] == build_tree([(a, 1, v) for a, v in record.leaves.items()]).proof((who, 1, record.leaves[who]))
    eng.store.dispose()

    # the API: while the tree is being built, the lock on the state is free (a status read goes through)
    svc = ApiService.open(sqlite_url)
    monkeypatch.setattr(proofs, "TREES", TreeCache())
    monkeypatch.setattr("cor_incentives.api.service.TREES", proofs.TREES)
    monkeypatch.setattr("cor_incentives.app.views.TREES", proofs.TREES)
    building, release = threading.Event(), threading.Event()
    real_build = EpochTree.build

    def slow_build(epoch: int, leaves: dict[str, int]) -> EpochTree:
        building.set()
        assert release.wait(60)
        return real_build(epoch, leaves)

    monkeypatch.setattr(EpochTree, "build", staticmethod(slow_build))
    out: dict = {}
    t = threading.Thread(target=lambda: out.setdefault("proof", svc.proof(who, 1)))
    t.start()
    assert building.wait(60)
    assert not svc.lock.locked()
    assert svc.status()["epoch"] == eng.state.epoch  # served while the tree is being built
    release.set()
    t.join(60)
    assert out["proof"]["proof"] == first["proof"] and proofs.TREES.builds == 1
    svc.proof(who, 1)
    assert proofs.TREES.builds == 1
    svc.engine.store.dispose()
