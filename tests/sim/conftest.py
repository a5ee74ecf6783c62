"""``shared_runs``: a module's attack evaluations measure each world once.

Several modules evaluate an attack at its own seeds (1-5) in one test and judge it as ``cor simulate`` does in another
(``sequential=True``: seeds 1-5, then 1-20 while undecided), so seeds 1-5 of the same worlds ran twice. A module that
names this fixture (``pytestmark = pytest.mark.usefixtures("shared_runs")``) keeps each run ``evaluate_many`` makes (one
world: family, knobs, seed, attack, twin or reference world, core parameters) for its later tests: a run already made
there with the same inputs is taken again, not made again. Every call still goes through ``evaluate_many`` as before
(the sequential extension, the bootstrap, the judge); a run is a function of those inputs alone (the simulator is
seeded: tests/sim/test_sim_attacks.py makes one twice and compares), and each call gets its own copy, unpickled as from
a worker process (support/shared_runs.py). The memo ends with the module.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cor_incentives.sim.attacks import base
from support.shared_runs import Runs


@pytest.fixture(scope="module")
def shared_runs() -> Iterator[Runs]:
    runs = Runs()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(base, "_job", runs.job)
        mp.setattr(base, "ProcessPoolExecutor", runs.executor)
        yield runs
