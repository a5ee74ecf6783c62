"""Scripted model reads for the PoI checks' unit tests (``ai.likelihood``, ``ai.quality``): a reader that answers each
output's trace from a table, and flat traces whose log-likelihood arithmetic is easy to follow."""

from __future__ import annotations

from cor_incentives.ai.likelihood import PROMPT_FREE, TokenStat, TokenTrace

TOP = TokenStat(-0.1, 0.0, 0)  # a top-ranked token the model is sure of; the default ending


class MapReader:
    """A trace per output text (scripted: the arithmetic of the task checks); ``free``: the prompt-free
    traces (default: the same trace, no prompt gain)."""

    def __init__(self, traces: dict[str, TokenTrace], free: dict[str, TokenTrace] | None = None) -> None:
        self.traces = traces
        self.free = free or {}

    def trace(self, prompt: str, output: str) -> TokenTrace:
        if prompt == PROMPT_FREE:
            return self.free.get(output, self.traces[output])
        return self.traces[output]


def flat(n: int, logprob: float, end: TokenStat = TOP) -> TokenTrace:
    """n top-ranked tokens of one log-probability (the prompt gain's arithmetic)."""
    return TokenTrace(tuple([TokenStat(logprob, 0.0, 0)] * n), end)
