"""``cor simulate``: agent-based incentive experiments over the real core (docs/design.md §9).

    scenarios.py   scenarios as data (parameters, node mix, workload, seeds; JSON/TOML files)
    strategies.py  miner and validator strategies, and the environment that knows every output's truth
    chain.py       a sign-free in-memory chain: events applied by ``core.apply``
    runner.py      one scenario × one seed → per node per epoch measurements, books checked each epoch
    checks.py      the incentive checks, with measured numbers, verdicts and fixes
    report.py      ``simulate`` (runs, baselines, remedies, checks) and the JSON / PNG / HTML report

The simulator never recomputes a payout: every fee, reward and slash is what the core's ``apply``
produced, read back from the epoch statements (``EpochRecord.items``).
"""
