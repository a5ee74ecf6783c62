"""The pure, deterministic domain core: no clock, no I/O, no global randomness.

Nothing in this package imports from the shell (app, store, api, cli, ai, nodes).
"""
