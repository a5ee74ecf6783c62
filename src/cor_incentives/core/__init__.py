"""The pure, deterministic domain core: no clock, no I/O, no global randomness (docs/design.md §3, §10).

Nothing in this package imports from the shell (app, store, api, cli, ai, nodes).
"""
