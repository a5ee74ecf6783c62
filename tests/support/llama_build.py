"""Whether this machine's llama.cpp build computes what the committed SmolLM2 traces were recorded with.

The traces in data/poi-calibration (and the thresholds tuned on them) were recorded with the Makefile's native build on
x86-64 CPUs with AVX-512 (the sessions' machines until 2026-12-07). A native build on a CPU without AVX-512 runs other
quantised dot-product kernels and reads other log-probabilities: measured on an AMD EPYC with AVX2 only (session 39),
10 of 62 tokens of p0001's honest output moved by more than 0.05 nats, and p0005's replayed answer to a related prompt
kept quality 0.68 instead of falling to the model-check cap (0.2). So the two tests that pin the real model's numbers to
the committed ones are expected to fail there: ``xfail_off_recording_build`` marks them (not strict: an AVX2 build that
happened to agree would pass), everything else runs the real model as everywhere. The remedy (a portable build for
everyone and traces recorded with it, or calibration margins that hold across builds) is open: docs/design.md."""

from __future__ import annotations

from pathlib import Path

import pytest


def cpu_flags() -> set[str]:
    """The first CPU's flags from /proc/cpuinfo (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


RECORDING_BUILD = "avx512f" in cpu_flags()
"""Whether the native build here uses the AVX-512 kernels the committed traces were recorded with."""

xfail_off_recording_build = pytest.mark.xfail(
    not RECORDING_BUILD,
    reason="this CPU has no AVX-512: its native llama.cpp build reads other log-probabilities than the committed traces "
    "(tests/support/llama_build.py)",
    strict=False,
)
