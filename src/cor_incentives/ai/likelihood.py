"""Model fidelity: is a revealed output what the task's model samples, and does it end where the model ends?

Concepts
    A validator that runs the task's model can read a revealed output the way the miner's model
    wrote it (*teacher forcing*): the chat prompt followed by the output's tokens, one forward pass,
    and at every position the model's distribution over the next token. An honest miner samples each
    token from the model's own candidates (llama.cpp's default samplers keep the top-k 40 tokens,
    the top-p 0.95 mass and the tokens with at least min-p 0.05 of the top token's probability, all
    on the untempered distribution; the temperature then only reweighs that set). So every token of
    an honest output is one the model considers, and an honest output that stops before its token
    budget stops where the model puts the end-of-turn token among its candidates.

    A cheater's text is not drawn from the model: a template that restates the prompt, random
    letters, a canned non-answer or an answer to another prompt holds many tokens the model would
    never pick there; an output cut at 1/8 of its budget stops where the model would go on.

TokenTrace (what one forward pass gives, per output)
    for each output token, and for the end-of-turn token after the last one:
        logprob       log p(token | prompt, output so far), untempered
        gap           logprob(top token) − logprob(token) ≥ 0
        rank          how many tokens the model ranks strictly above it
    These are floats inside this module (cached to 0.01 nat); the validator's sub-scores are integers
    (``likelihood_check``).

The check (every parameter named below; calibrated in docs/poi-calibration.md)
    plausible(token)  rank < PLAUSIBLE_RANK and gap ≤ ln(1 / PLAUSIBLE_MIN_RATIO)
                      (looser than the sampler's own set, so that a miner on another quantisation,
                      thread count or CPU, whose logits differ in the last bits, still passes)
    fidelity_ppb      plausible tokens × 10**9 // tokens (an empty output: 0)
    ending            the output reaches its budget (tokens ≥ max_output_tokens − ``budget_slack``),
                      or the end-of-turn token is plausible after it: ending_ppb 10**9, else 0
    prompt gain       the output read a second time after no question (PROMPT_FREE, an empty user
                      message): log p(t | prompt) − log p(t | no prompt) per token, as a mean
                      (prompt_gain_milli) and summed over the first PROMPT_GAIN_WINDOW (32) tokens
                      (early_prompt_gain_milli), nats × 1000. The pointwise mutual information of the
                      output and the prompt: an answer to this prompt gains (the honest calibration
                      outputs: 0.13–5.7 nats per token), an answer to another prompt gains little or
                      loses (replays: −1.2–0.7). The scorer compares it with the task's other outputs.
    end gap           the end-of-turn token's gap after an output that stopped before its budget
                      (end_gap_milli, nats × 1000; 0 at the budget): how far the model was from stopping.
    early_wrong_turns tokens among the first WRONG_TURN_WINDOW (32) whose gap exceeds
                      WRONG_TURN_GAP_NATS (6 nats: under 0.25 % of the top token, 20× below what a
                      min-p 0.05 sampler can pick). An answer to another prompt turns away from this
                      prompt in its first tokens ("def absolute_difference" after "write is_even");
                      the scorer uses it with the task's other outputs (``ai.quality.task_checks``).
Without the model (an unknown model, or a validator that cannot run it) there is no check.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.units import BPS, PPB

PLAUSIBLE_RANK = 40  # llama.cpp's default top-k
PLAUSIBLE_MIN_RATIO = 0.01  # a fifth of llama.cpp's min-p (0.05): room for logits that differ across nodes
WRONG_TURN_GAP_NATS = 6.0  # a token under e**-6 (0.25 %) of the top token's probability: 20x below min-p 0.05
WRONG_TURN_WINDOW = 32  # the first output tokens, where an answer to another prompt turns away from this one
BUDGET_SLACK_TOKENS = 2  # a re-tokenised output may count a token or two fewer than the miner's run …
BUDGET_SLACK_BPS = 1_000  # … or up to 10 % fewer (runs of spaces, JSON indentation: measured up to 8 of 144)
PROMPT_FREE = ""  # the user message of the prompt-free read: the same output after no question at all
PROMPT_GAIN_WINDOW = 32  # the first output tokens, where an answer depends on its prompt most
MAX_TRACE_TOKENS = 4_096  # prompt + output tokens scored in one pass; longer outputs are cut here


@dataclass(frozen=True)
class TokenStat:
    """How the model ranks one token at its position (untempered)."""

    logprob: float
    gap: float
    rank: int

    def to_list(self) -> list[float | int]:
        return [round(self.logprob, 2), round(self.gap, 2), self.rank]

    @classmethod
    def from_list(cls, values: Sequence[float | int]) -> TokenStat:
        """From ``to_list`` (a longer list from an earlier cache: the first three values)."""
        lp, gap, rank = values[:3]
        return cls(float(lp), float(gap), int(rank))


@dataclass(frozen=True)
class TokenTrace:
    """One output read by the model: a TokenStat per output token and one for the end-of-turn token."""

    tokens: tuple[TokenStat, ...]
    end: TokenStat
    cut: bool = False  # the output was longer than MAX_TRACE_TOKENS allowed and was read only in part

    def to_dict(self) -> dict[str, Any]:
        return {"tokens": [t.to_list() for t in self.tokens], "end": self.end.to_list(), "cut": self.cut}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TokenTrace:
        return cls(tuple(TokenStat.from_list(t) for t in d["tokens"]), TokenStat.from_list(d["end"]), bool(d.get("cut", False)))


@dataclass(frozen=True)
class LikelihoodCheck:
    """The validator's integer sub-scores from a trace (see the module docstring)."""

    tokens: int
    plausible: int
    fidelity_ppb: int
    ending_ppb: int
    mean_logprob_milli: int  # mean untempered log-probability per token × 1000, floored (reported, not used)
    early_wrong_turns: int = 0  # tokens among the first WRONG_TURN_WINDOW with gap > WRONG_TURN_GAP_NATS
    # with the output also read after no prompt (``free``): the prompt gain (``prompt_gain``), else None
    prompt_gain_milli: int | None = None  # mean per token of log p(t | prompt) − log p(t | no prompt), × 1000, floored
    early_prompt_gain_milli: int | None = None  # the same difference summed over the first PROMPT_GAIN_WINDOW tokens, × 1000, floored
    end_gap_milli: int | None = None  # the end-of-turn token's gap after an output that stopped before its budget, × 1000 (0: at budget)
    # on a composed prompt: the first answer's part gain (``ai.composed.part_gain``), nats × 1000; else None
    part_gain_milli: int | None = None
    # on a composed prompt with earlier compositions of the same first part: the least borrow gain (``ai.composed.borrow_gain``)
    borrow_gain_milli: int | None = None


def budget_slack(max_output_tokens: int) -> int:
    """Tokens an output may fall short of its budget and still count as reaching it: the miner's run spent the
    budget, but its text re-tokenised counts fewer (BUDGET_SLACK_TOKENS, or BUDGET_SLACK_BPS of the budget).

    The calibration's honest outputs cut by their budget re-tokenise to 0–3 tokens fewer, and twice 8 of
    144 / 112 (runs of spaces, JSON indentation); a truncating miner stops at an eighth of it."""
    return max(BUDGET_SLACK_TOKENS, max_output_tokens * BUDGET_SLACK_BPS // BPS)


def is_plausible(stat: TokenStat, rank_limit: int = PLAUSIBLE_RANK, min_ratio: float = PLAUSIBLE_MIN_RATIO) -> bool:
    """A token the model considers at its position: among its top ``rank_limit`` and ≥ ``min_ratio`` of the top token."""
    return stat.rank < rank_limit and stat.gap <= -math.log(min_ratio)


def likelihood_check(
    trace: TokenTrace,
    max_output_tokens: int | None,
    *,
    rank_limit: int = PLAUSIBLE_RANK,
    min_ratio: float = PLAUSIBLE_MIN_RATIO,
    slack: int | None = None,
    free: TokenTrace | None = None,
) -> LikelihoodCheck:
    """Fidelity (share of plausible tokens, ppb) and ending (the output stops where the model stops, or at its budget).

    ``free``: the same output read after no prompt (``PROMPT_FREE``); gives the prompt gain."""
    n = len(trace.tokens)
    plausible = sum(1 for t in trace.tokens if is_plausible(t, rank_limit, min_ratio))
    fidelity = plausible * PPB // n if n else 0
    at_budget = max_output_tokens is not None and n >= max_output_tokens - (budget_slack(max_output_tokens) if slack is None else slack)
    ending = PPB if n and (at_budget or trace.cut or is_plausible(trace.end, rank_limit, min_ratio)) else 0
    mean = math.floor(1000 * sum(t.logprob for t in trace.tokens) / n) if n else 0
    wrong = sum(1 for t in trace.tokens[:WRONG_TURN_WINDOW] if t.gap > WRONG_TURN_GAP_NATS)
    gain, early = prompt_gain(trace, free) if free is not None else (None, None)
    end_gap = 0 if at_budget or trace.cut or not n else math.floor(1000 * trace.end.gap)
    return LikelihoodCheck(n, plausible, fidelity, ending, mean, wrong, gain, early, end_gap)


def prompt_gain(trace: TokenTrace, free: TokenTrace) -> tuple[int, int]:
    """How much the prompt raises the output's likelihood: (mean per token, sum over the first PROMPT_GAIN_WINDOW tokens), nats × 1000.

    The difference per token is log p(t | prompt) − log p(t | no prompt) (``free``: the same output read
    after PROMPT_FREE). Both traces read the same output tokens; a trace cut by the context is compared
    on the tokens both read. An answer to this prompt is more likely after it than after no question
    (gain > 0); an answer to another prompt gains little or loses (its first tokens most). An empty
    output gains 0.
    """
    m = min(len(trace.tokens), len(free.tokens))
    if m == 0:
        return 0, 0
    mean = math.floor(1000 * sum(trace.tokens[i].logprob - free.tokens[i].logprob for i in range(m)) / m)
    return mean, window_gain(trace, free, PROMPT_GAIN_WINDOW)


def window_gain(trace: TokenTrace, other: TokenTrace, window: int = PROMPT_GAIN_WINDOW) -> int:
    """Σ over the first ``window`` tokens both traces read (the same output after two prompts) of
    log p(t | ``trace``'s prompt) − log p(t | ``other``'s prompt), nats × 1000, floored: the prompt gain's
    early part, and the part gain of a composed prompt's first answer (``ai.composed``)."""
    m = min(len(trace.tokens), len(other.tokens), window)
    return math.floor(1000 * sum(trace.tokens[i].logprob - other.tokens[i].logprob for i in range(m)))


class TeacherForcer:
    """Reads outputs with a GGUF chat model through llama-cpp-python: one forward pass per output.

    The prompt is formatted with the model's own chat template, exactly as llama-cpp-python's
    ``create_chat_completion`` formats it for the miner, and the output is tokenized on its own
    after it (a generation starts a fresh token after the template's assistant header).
    """

    def __init__(self, model_path: str | Path, n_threads: int = 1, n_ctx: int = 1024) -> None:
        from llama_cpp import Llama, llama_chat_format

        # n_threads_batch too: llama-cpp-python's default (every core) spins idle threads on a busy machine
        self._llm = Llama(model_path=str(model_path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads, logits_all=True, verbose=False)
        self.n_ctx = n_ctx
        meta = self._llm.metadata
        template = meta.get("tokenizer.chat_template")
        if template is None:
            raise ValueError(f"{model_path} has no chat template; teacher forcing needs the miner's prompt format")
        eos = self._llm.token_eos()
        self.end_token = eos
        self._formatter = llama_chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=self._llm._model.token_get_text(eos),
            bos_token=self._llm._model.token_get_text(self._llm.token_bos()),
            stop_token_ids=[eos],
        )
        self._lock = threading.Lock()

    def prompt_tokens(self, prompt: str) -> list[int]:
        """The chat-formatted prompt's tokens, as the miner's ``create_chat_completion`` builds them."""
        result = self._formatter(messages=[{"role": "user", "content": prompt}])
        return self._llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)

    def output_tokens(self, output: str) -> list[int]:
        """The output's tokens with the model's tokenizer (no special tokens parsed: text is text)."""
        return self._llm.tokenize(output.encode("utf-8"), add_bos=False, special=False) if output else []

    def trace(self, prompt: str, output: str) -> TokenTrace:
        """One forward pass over prompt + output: how the model ranks each output token and the end after it."""
        head = self.prompt_tokens(prompt)
        body = self.output_tokens(output)
        room = min(self.n_ctx, MAX_TRACE_TOKENS) - len(head) - 1
        if room < 1:
            raise ValueError(f"the prompt takes {len(head)} tokens, more than the {self.n_ctx}-token context leaves for an output")
        cut = len(body) > room
        body = body[:room]
        with self._lock:
            llm = self._llm
            if llm.n_tokens >= len(head) and list(llm.input_ids[: len(head)]) == head:
                llm.n_tokens = len(head)  # the prompt is already read (the task's other outputs): go on from it
            else:
                llm.reset()
                llm.eval(head)
            llm.eval(body)
            logits = np.array(self._llm.scores[len(head) - 1 : len(head) + len(body)], dtype=np.float64)
        stats = [_stat(logits[i], tok) for i, tok in enumerate(body)]
        end = _stat(logits[len(body)], self.end_token)
        return TokenTrace(tuple(stats), end, cut)


def _stat(logits: np.ndarray, token: int) -> TokenStat:
    """Untempered log-probability, gap to the top token and rank, for one token."""
    top = float(logits.max())
    z = logits - top
    log_norm = math.log(float(np.exp(z).sum()))
    mine = float(z[token])
    return TokenStat(logprob=mine - log_norm, gap=max(0.0, -mine), rank=int((z > mine).sum()))
