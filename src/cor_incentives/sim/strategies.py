"""Node strategies and the environment that knows the truth about every output.

The environment
    An inference output is modelled as ``Output(hash, cluster, quality, tokens)``; its *cluster* says
    what kind of text it is (``honest``: a real answer to the prompt; ``lazy``: a short generic answer;
    ``garbage``: unrelated text). The cosine distance between two outputs is drawn, per pair, from the
    range of their clusters (``Environment.*_distance``); identical hashes are at distance 0. An honest
    validator embeds the revealed outputs, finds the medoid (the output with the least total distance
    to the others) and reports each output's distance to it, plus its PoUW quality, each with a little
    measurement noise. So the environment knows the true distance and quality of every output and
    each validator reports according to its strategy. With an honest majority among a task's reveals
    the medoid is honest and a lazy answer's distance falls in ``honest_lazy_distance`` (0.25–0.40),
    a garbage answer's in ``garbage_distance`` (0.9–1.1); when lazy answers are the majority the
    medoid may be lazy, which is what would happen on the real network too.

Miner strategies (``MINER_STRATEGIES``)
    honest      computes the answer (pays ``inference_cost_units``), commits to it, reveals it.
    lazy        a short generic answer without running the model (no inference cost).
    garbage     unrelated text (no inference cost).
(The oracle's canaries plant a fluent answer to another prompt, ``offtopic_output``: the same distance and quality as
garbage, an honest answer's length, no word salad; ``env.canary_output = "garbage"`` plants word salad, the old policy.)
    copier      wants to reveal a copy of another miner's output without computing. Commit-reveal
                hides the others' outputs until the precommit deadline has passed, and a reveal must
                match the precommit, so the copier has to commit to a *guess* first. It guesses a
                generic answer (a lazy output) — unless an equal prompt was already answered in an earlier,
                settled task (outputs are public once revealed): then it replays that published honest
                output, same hash, for free. Network prompts repeat under rules 1-8 (the oracle names one
                of a finite set); from rule 9 the beacon composes them from parts of the set, and the
                copier replays only when an earlier task asked the same parts (in any order: real
                answers to swapped parts lie within PoI of each other), counted as
                ``network_prompt_repeats`` in a run's tasks. Stitching answers to single parts is
                the ``stitcher``.
                Option ``reveal``: ``"guess"`` (default, the rational choice) reveals its guess;
                ``"copy"`` reveals another miner's freshly revealed output, which cannot match its
                commit, so it is a ``commit_mismatch``.
    stitcher    the stitching copier: on a composed network prompt (rule 9) it glues published answers to the
                single parts (every base prompt was asked alone before rule 9: option ``coverage`` "all",
                default; or "published": parts of earlier tasks of the run) into an answer, without running
                the model; the validators keep it in with probability ``pass_rate`` (default ``STITCH_PASS_RATE``,
                measured with the real models by scripts/poi_composed.py), else the model checks cap its quality
                under the floor. Elsewhere it acts as the copier.
    borrower    the borrowing copier: on a composed network prompt whose first part was asked first in an earlier
                settled task (option ``coverage``: "published", default, the run's tasks; or "all"), it cuts that task's
                published first answer (really sampled after a composed prompt with that first part, so the part check
                passes it) and glues a published answer for part 2; kept in with probability ``pass_rate`` (default
                ``BORROW_PASS_RATE``, measured like the stitcher's). Without such a task it acts as the stitcher.
    mismatched  computes the answer and commits to it but reveals a different output (option ``rate``,
                the share of tasks where it does so; default 1).
    offline     never precommits (misses every deadline) and never leaves jail.
    unlucky     an honest miner the PoI measure misjudges: computes and reveals the answer, but on a share
                ``rate`` of its tasks (default 0.02, PoI's measured rate of honest outputs out of consensus)
                validators see it far from the others (modelled as a garbage-like output it paid for).
    inflater    computes the honest answer but would claim ``output_tokens = max_output_tokens``: a reveal carries
                no count (validators count the revealed output with the model's tokenizer), so the
                claim goes nowhere and the inflater is paid like an honest miner.

Validator strategies (``VALIDATOR_STRATEGIES``)
    honest      reports the true distance and quality with small noise (pays ``validation_cost_units``).
    copier      does not evaluate: reports a constant guess (options ``distance`` 0.05, ``quality``
                0.8), or with ``mode = "previous_median"`` the median consensus of earlier tasks.
    echo        does not evaluate: repeats the stake-weighted median of the reports other validators of
                the task have made public. Reports are committed before any is revealed, so in a task's
                first round nothing is public and it reports like a copier (its ``mode``); in an
                escalation round it repeats the earlier rounds' revealed reports.
    colluding   member of a coalition (the group's ``coalition``): reports distance 0 and quality 1 for
                miners of its coalition (the favoured miner) and harsh numbers for everyone else
                (options ``harsh_distance`` 0.5, ``harsh_quality`` 0.1). Does not evaluate. Option
                ``when``: ``"always"`` (default), or ``"majority"``: only in tasks where the coalition
                holds at least half of the stake of the validators drawn so far; honest elsewhere.
    offline     never reports.
    spread_inflater  member of a coalition (the group's ``coalition``): evaluates, reports honestly except for its
                coalition's miners: their measured distance and quality ``quality`` (default 1.0), and claims
                the task's spread is ``spread`` (default 2.0, the largest) so that the core's threshold
                (rule 12: max(poi_max_distance_ppb, min(cap, median spread × factor))) lets them in. Under
                the rules before 12 it does the same loosening itself: its coalition's distances less
                poi_spread_cap_ppb − poi_max_distance_ppb.
    canary_spotter  evaluates a task only where a cheap *tell* suggests a canary (option ``tell``: "word_salad", a
                lexical check that an output is not language; "length", an output far longer or shorter than the
                task's others; "network", every network task, since under rules 1-16 user tasks carry none; "never") and pays
                ``validation_cost_units`` only there; elsewhere it echoes (an escalation round) or guesses the
                median consensus of earlier tasks. Option ``on_guess`` "flag": it never evaluates, it reports the
                suspects as garbage instead (``spotter_suspects``). The ``canary_spotting`` attack family.
Every evaluating validator also measures the task's *spread* (``spread_honest``: the medoid's distance to the
nearest other output above the quality floor), revealed with its reports under rule 12; one that does not
evaluate claims 0.
    dissenter   evaluates and reports honestly, except in the first round of a task an actor script issued in the
                epoch's last ticks (option ``on``: "closing", default, "all", or "network": every network task,
                ``escalation_cartel``): there it moves the quality of the
                best output by ``shift`` (default 0.15) toward the middle, past ``dissent_bound_ppb`` from the median,
                so the task escalates and its judgement waits for another draw (``late_judgement``); its mean
                deviation (0.025 over three miners) stays under ``validator_deviation_max_ppb``: no offence.

Randomness is never global: every draw comes from ``derive(seed, purpose, ...)``, a
``random.Random`` seeded by a string (sha512-seeded, identical across processes). Keys name the task
slot (epoch and position, not the engine's task id) so a scenario and its baseline draw the same
prompts and outputs where they can.
"""

from __future__ import annotations

import hashlib
import random
import statistics
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ..core.errors import InvalidInput
from ..core.units import COR, PPB
from ..core.validation import weighted_median

CLUSTERS = ("honest", "lazy", "garbage", "offtopic")


def derive(seed: int, *parts: object) -> random.Random:
    """An independent, reproducible random stream for one purpose (no global randomness)."""
    return random.Random("|".join([str(seed), *map(str, parts)]))


def sha(text: str) -> str:
    return "0x" + hashlib.sha256(text.encode()).hexdigest()


def to_ppb(x: float, hi: int = PPB) -> int:
    """A measured value in [0, hi/1e9] as integer ppb (the core's unit)."""
    return min(hi, max(0, round(x * PPB)))


# --- the environment -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Environment:
    """The world outside the engine: outputs, distances, qualities, costs. Every number is a default."""

    honest_quality: tuple[float, float] = (0.80, 0.05)  # mean, standard deviation (clipped to [0, 1])
    lazy_quality: tuple[float, float] = (0.30, 0.05)
    garbage_quality: tuple[float, float] = (0.05, 0.02)
    honest_honest_distance: tuple[float, float] = (0.01, 0.07)  # uniform range of the cosine distance
    honest_lazy_distance: tuple[float, float] = (0.25, 0.40)
    lazy_lazy_distance: tuple[float, float] = (0.15, 0.35)
    garbage_distance: tuple[float, float] = (0.90, 1.10)  # garbage to anything
    report_noise_distance: float = 0.01  # standard deviation of an honest validator's distance report
    report_noise_quality: float = 0.03
    honest_tokens: tuple[int, int] = (40, 200)  # answer length range (per prompt)
    lazy_tokens: tuple[int, int] = (5, 30)
    user_input_tokens: tuple[int, int] = (8, 200)
    user_max_output_tokens: int = 256
    network_prompts: str = "bundled"  # "bundled": the shipped set in the genesis (rule 9: composed by the beacon); "unique": synthetic
    inference_cost_units: int = 10**15  # 0.001 COR per task a miner actually computes
    validation_cost_units: int = 10**14  # 0.0001 COR per report a validator actually evaluates
    node_cost_per_epoch_units: int = 0  # fixed cost of running one node for one epoch (hardware, hosting)
    payout: str = "engine"  # "engine": leaves stay claimable; "evm": each epoch moves to a distributor and nodes claim there
    canary_rate: float = 0.1  # the oracle's policy: share of tasks that carry a planted output (a canary): network tasks, and from rule 17 user tasks
    # what the oracle plants: "offtopic" (a fluent answer to another prompt, the policy) or "garbage" (word salad, the policy before
    # session 16: a lexical check spots it, attack canary_spotting planted=garbage)
    canary_output: str = "offtopic"

    def __post_init__(self) -> None:
        if self.network_prompts not in ("bundled", "unique"):
            raise InvalidInput("env.network_prompts must be 'bundled' or 'unique'", code="invalid_scenario")
        if self.canary_output not in ("garbage", "offtopic"):
            raise InvalidInput("env.canary_output must be 'garbage' or 'offtopic'", code="invalid_scenario")
        if self.payout not in ("engine", "evm"):
            raise InvalidInput("env.payout must be 'engine' or 'evm'", code="invalid_scenario")
        if isinstance(self.canary_rate, bool) or not isinstance(self.canary_rate, (int, float)) or not 0 <= self.canary_rate <= 1:
            raise InvalidInput("env.canary_rate must be a number in [0, 1]", code="invalid_scenario")
        for name in ("inference_cost_units", "validation_cost_units", "node_cost_per_epoch_units", "user_max_output_tokens"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise InvalidInput(f"env.{name} must be a non-negative integer", code="invalid_scenario")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Environment:
        known = {f.name: f for f in fields(Environment)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise InvalidInput(f"unknown environment setting(s): {', '.join(unknown)}", code="invalid_scenario")
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return Environment(**kwargs)


@dataclass(frozen=True)
class Output:
    """One inference output as the environment sees it."""

    hash: str
    cluster: str
    quality: float
    tokens: int


@dataclass(frozen=True)
class TaskInfo:
    """A task as strategies see it: ``key`` is run-independent (epoch and slot)."""

    key: str
    task_id: int
    kind: str  # user | network
    prompt_id: str
    max_output_tokens: int
    input_tokens: int = 0  # the prompt's true token count (what a validator counts); 0: not known
    first_part: str = ""  # a composed network prompt's first base prompt (rule 9); "" otherwise


def _gauss01(rng: random.Random, spec: tuple[float, float]) -> float:
    return min(1.0, max(0.0, rng.gauss(spec[0], spec[1])))


def honest_output(env: Environment, seed: int, task: TaskInfo, miner: str) -> Output:
    """A real answer: length set by the prompt (± 5 %), quality around ``honest_quality``."""
    base = derive(seed, "answer-length", task.prompt_id).randint(*env.honest_tokens)
    rng = derive(seed, "honest", task.key, miner)
    tokens = max(1, min(task.max_output_tokens, round(base * rng.uniform(0.95, 1.05))))
    return Output(sha(f"honest|{task.key}|{miner}"), "honest", _gauss01(rng, env.honest_quality), tokens)


def lazy_output(env: Environment, seed: int, task: TaskInfo, miner: str) -> Output:
    rng = derive(seed, "lazy", task.key, miner)
    tokens = min(task.max_output_tokens, rng.randint(*env.lazy_tokens))
    return Output(sha(f"lazy|{task.key}|{miner}"), "lazy", _gauss01(rng, env.lazy_quality), tokens)


def garbage_output(env: Environment, seed: int, task: TaskInfo, miner: str) -> Output:
    rng = derive(seed, "garbage", task.key, miner)
    return Output(sha(f"garbage|{task.key}|{miner}"), "garbage", _gauss01(rng, env.garbage_quality), rng.randint(1, task.max_output_tokens))


def offtopic_output(env: Environment, seed: int, task: TaskInfo, miner: str) -> Output:
    """A fluent answer to another prompt: as long as an honest answer to this one and as far from it as garbage (it does not
    answer the prompt; quality of garbage), but no lexical check tells it from a real answer: only evaluating does."""
    honest = honest_output(env, seed, task, miner)
    rng = derive(seed, "offtopic", task.key, miner)
    return Output(sha(f"offtopic|{task.key}|{miner}"), "offtopic", _gauss01(rng, env.garbage_quality), honest.tokens)


def pair_distance(env: Environment, seed: int, a: Output, b: Output) -> float:
    """Cosine distance between two outputs (symmetric; 0 for identical outputs)."""
    if a.hash == b.hash:
        return 0.0
    kinds = {a.cluster, b.cluster}
    if kinds & {"garbage", "offtopic"}:  # unrelated text, fluent or not
        lo, hi = env.garbage_distance
    elif kinds == {"honest"}:
        lo, hi = env.honest_honest_distance
    elif kinds == {"lazy"}:
        lo, hi = env.lazy_lazy_distance
    else:
        lo, hi = env.honest_lazy_distance
    x, y = sorted((a.hash, b.hash))
    return derive(seed, "distance", x, y).uniform(lo, hi)


def true_measures(env: Environment, seed: int, outputs: dict[str, Output]) -> dict[str, tuple[float, float]]:
    """Per miner: (distance to the medoid of the revealed outputs, quality), what a careful validator finds."""
    miners = sorted(outputs)
    dist = {(i, j): pair_distance(env, seed, outputs[i], outputs[j]) for i in miners for j in miners}
    medoid = min(miners, key=lambda i: (sum(dist[i, j] for j in miners), i))
    return {m: (dist[m, medoid], outputs[m].quality) for m in miners}


# --- miners --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MinerPlan:
    """What a miner does on one task, decided when it must precommit."""

    commit: Output
    reveal: Output | None  # None: never reveals
    cost_units: int
    claimed_tokens: int | None = None  # output_tokens it claims where a reveal carries one (the first rules); with a beacon it goes nowhere
    copy_at_reveal: bool = False  # reveal another miner's revealed output instead (a mismatch)


@dataclass(frozen=True)
class MinerContext:
    env: Environment
    seed: int
    task: TaskInfo
    miner: str
    options: Mapping[str, Any]
    public_answers: Mapping[str, Output]  # prompt id -> an honest output published in a settled task
    first_parts: Collection[str] = ()  # base prompts asked first in a settled composed task whose honest answer is public


def plan_honest(c: MinerContext) -> MinerPlan:
    out = honest_output(c.env, c.seed, c.task, c.miner)
    return MinerPlan(out, out, c.env.inference_cost_units)


def plan_lazy(c: MinerContext) -> MinerPlan:
    out = lazy_output(c.env, c.seed, c.task, c.miner)
    return MinerPlan(out, out, 0)


def plan_garbage(c: MinerContext) -> MinerPlan:
    out = garbage_output(c.env, c.seed, c.task, c.miner)
    return MinerPlan(out, out, 0)


def plan_copier(c: MinerContext) -> MinerPlan:
    seen = c.public_answers.get(c.task.prompt_id)
    if seen is not None:  # replay a published answer to the same prompt: same hash, no inference
        return MinerPlan(seen, seen, 0)
    guess = lazy_output(c.env, c.seed, c.task, c.miner)  # cannot see this task's outputs yet
    return MinerPlan(guess, guess, 0, copy_at_reveal=c.options.get("reveal", "guess") == "copy")


STITCH_PASS_RATE = 0.16453
"""The share of stitched answers the shipped validator keeps in consensus at the full composed budget (3 miners a
task, calibration and held-out parts together): data/poi-composed/results.json (``stitching_copier.pass_rate``),
measured by scripts/poi_composed.py with the real SmolLM2 and MiniLM; tests/nodes/test_poi_composed.py keeps them equal."""
STITCH_CAUGHT_QUALITY = 0.2  # a stitched answer the model checks catch: capped at MODEL_CHECK_CAP_PPB (ai/quality.py)


def stitched_parts(c: MinerContext) -> list[str] | None:
    """The parts of a composed network prompt whose single-part answers the stitcher holds, or None (it lacks one).

    ``coverage`` "all" (default): every base prompt of the set was asked alone before rule 9 (the oracle named
    one prompt per task), so an answer to each is public; "published": only parts of earlier tasks of the run."""
    parts = c.task.prompt_id.split("+")
    if c.task.kind != "network" or len(parts) < 2:
        return None
    if c.options.get("coverage", "all") == "all":
        return parts
    seen = {x for key in c.public_answers for x in key.split("+")}
    return parts if all(x in seen for x in parts) else None


def plan_stitcher(c: MinerContext) -> MinerPlan:
    """Glue published single-part answers into an answer to a composed prompt, without running the model.

    The validators judge a stitched answer like the shipped validator judged the stitched answers of the real-model
    run (scripts/poi_composed.py): it is in consensus with probability ``pass_rate`` (default STITCH_PASS_RATE, the
    measured share), an honest-looking answer; otherwise the model checks cap its quality at 0.2, under the floor."""
    seen = c.public_answers.get(c.task.prompt_id)
    if seen is not None:  # the same parts were asked before: replay, like the copier
        return MinerPlan(seen, seen, 0)
    if stitched_parts(c) is None:
        guess = lazy_output(c.env, c.seed, c.task, c.miner)
        return MinerPlan(guess, guess, 0)
    rng = derive(c.seed, "stitch", c.task.key, c.miner)
    body = honest_output(c.env, c.seed, c.task, c.miner)
    if rng.random() < float(c.options.get("pass_rate", STITCH_PASS_RATE)):
        out = Output(sha(f"stitched|{c.task.key}|{c.miner}"), "honest", body.quality, body.tokens)
    else:
        out = Output(sha(f"stitched|{c.task.key}|{c.miner}"), "lazy", STITCH_CAUGHT_QUALITY, body.tokens)
    return MinerPlan(out, out, 0)


BORROW_PASS_RATE = 0.33333
"""The share of borrowed answers the shipped validator keeps in consensus at the full composed budget (3 miners a task):
data/poi-composed/results.json (``borrowing_copier.pass_rate``), measured by scripts/poi_composed.py (``borrow``, then
``measure``) with the real SmolLM2 and MiniLM; tests/nodes/test_poi_composed.py keeps them equal. Without the borrow
check (``ai.composed.borrow_gain``) it was 0.79167 (``pass_rate_without_borrow_check``)."""


def borrowable(c: MinerContext) -> bool:
    """Whether an earlier settled composed task asked this task's first part first and published an honest answer (its
    first answer is what the borrower cuts out). ``coverage`` "published" (default): the run's own tasks, so availability
    follows the core's draw (after T network tasks about 1 − (1 − 1/N)^T of a set of N); "all": every base prompt was
    asked first before (a network that has run long)."""
    if c.task.kind != "network" or not c.task.first_part:
        return False
    return c.options.get("coverage", "published") == "all" or c.task.first_part in c.first_parts


def plan_borrower(c: MinerContext) -> MinerPlan:
    """Borrow an earlier composed task's first answer for part 1 and glue a published single answer for part 2, without
    running the model: in consensus with probability ``pass_rate`` (default BORROW_PASS_RATE, measured) when an earlier
    task is ``borrowable``; otherwise it stitches (the stitcher's pass rate) or, off composed prompts, acts as the copier."""
    if not borrowable(c):
        return plan_stitcher(c)
    seen = c.public_answers.get(c.task.prompt_id)
    if seen is not None:
        return MinerPlan(seen, seen, 0)
    rng = derive(c.seed, "borrow", c.task.key, c.miner)
    body = honest_output(c.env, c.seed, c.task, c.miner)
    out = Output(sha(f"borrowed|{c.task.key}|{c.miner}"), "honest", body.quality, body.tokens)
    if rng.random() >= float(c.options.get("pass_rate", BORROW_PASS_RATE)):
        out = Output(out.hash, "lazy", STITCH_CAUGHT_QUALITY, body.tokens)
    return MinerPlan(out, out, 0)


def plan_mismatched(c: MinerContext) -> MinerPlan:
    out = honest_output(c.env, c.seed, c.task, c.miner)
    if derive(c.seed, "mismatch", c.task.key, c.miner).random() >= float(c.options.get("rate", 1.0)):
        return MinerPlan(out, out, c.env.inference_cost_units)
    swapped = Output(sha(f"swapped|{c.task.key}|{c.miner}"), "honest", out.quality, out.tokens)
    return MinerPlan(out, swapped, c.env.inference_cost_units)


def plan_unlucky(c: MinerContext) -> MinerPlan:
    out = honest_output(c.env, c.seed, c.task, c.miner)
    if derive(c.seed, "false-positive", c.task.key, c.miner).random() < float(c.options.get("rate", 0.02)):
        out = garbage_output(c.env, c.seed, c.task, c.miner)  # what the validators see: out of consensus
    return MinerPlan(out, out, c.env.inference_cost_units)


def plan_offline(c: MinerContext) -> None:
    return None


def plan_inflater(c: MinerContext) -> MinerPlan:
    out = honest_output(c.env, c.seed, c.task, c.miner)
    return MinerPlan(out, out, c.env.inference_cost_units, claimed_tokens=c.task.max_output_tokens)


@dataclass(frozen=True)
class MinerStrategy:
    name: str
    plan: Callable[[MinerContext], MinerPlan | None]
    unjails: bool = True  # leaves jail as soon as the cooldown allows (topping up the bond if needed)
    reveals_last: bool = False
    claims_every_path: bool = False  # with env.payout "evm": tries to be paid each leaf in the engine and on chain, twice


MINER_STRATEGIES: dict[str, MinerStrategy] = {
    s.name: s
    for s in (
        MinerStrategy("honest", plan_honest),
        MinerStrategy("lazy", plan_lazy),
        MinerStrategy("garbage", plan_garbage),
        MinerStrategy("garbage_last", plan_garbage, reveals_last=True),  # garbage, revealed after the others (to act last)
        MinerStrategy("copier", plan_copier, reveals_last=True),
        MinerStrategy("stitcher", plan_stitcher, reveals_last=True),
        MinerStrategy("borrower", plan_borrower, reveals_last=True),
        MinerStrategy("mismatched", plan_mismatched),
        MinerStrategy("offline", plan_offline, unjails=False),
        MinerStrategy("unlucky", plan_unlucky),
        MinerStrategy("inflater", plan_inflater),
        MinerStrategy("double_claimer", plan_honest, claims_every_path=True),
    )
}


# --- validators ----------------------------------------------------------------------------------

Report = list[tuple[str, int, int]]  # (miner, poi_distance_ppb, quality_ppb)


@dataclass(frozen=True)
class ValidatorContext:
    env: Environment
    seed: int
    task: TaskInfo
    validator: str
    options: Mapping[str, Any]
    miners: list[str]  # the task's valid reveals, sorted
    truth: Mapping[str, tuple[float, float]]  # miner -> (true distance, true quality)
    coalition_of: Mapping[str, str]  # node -> coalition name ("" for none)
    reports_so_far: Mapping[str, Mapping[str, tuple[int, int]]]  # validator -> miner -> (d, q), public
    stakes: Mapping[str, int]
    history: list[tuple[int, int]] = field(default_factory=list)  # consensus (d, q) of earlier settled tasks
    spread_rule: bool = False  # the task's rules take raw distances and each validator's spread (rule 12)
    min_quality_ppb: int = 300_000_000  # the core's consensus_min_quality_ppb
    spread_allowance_ppb: int = 0  # poi_spread_cap_ppb − poi_max_distance_ppb: the most a spread loosens a threshold
    # what a validator sees of the revealed outputs without running the model (``canary_spotter``'s tells):
    lengths: Mapping[str, int] = field(default_factory=dict)  # miner -> its output's length in tokens (counting is not evaluating)
    word_salad: frozenset[str] = frozenset()  # miners whose output a lexical check flags as not language (the garbage cluster)


def spread_honest(c: ValidatorContext) -> int:
    """The task's spread as an evaluating validator measures it: the distance from the medoid to the nearest other output
    above the quality floor (0 when there is none), with the measurement noise of a distance."""
    valid = sorted(d for m, (d, q) in c.truth.items() if to_ppb(q) >= c.min_quality_ppb)
    if len(valid) < 2:
        return 0
    return to_ppb(valid[1] + derive(c.seed, "spread", c.task.key, c.validator).gauss(0, c.env.report_noise_distance), 2 * PPB)


def spread_none(c: ValidatorContext) -> int:
    """A validator that does not evaluate measures no spread: it claims none (0, no loosening)."""
    return 0


def report_honest(c: ValidatorContext) -> Report:
    rng = derive(c.seed, "report", c.task.key, c.validator)
    out = []
    for m in c.miners:
        d, q = c.truth[m]
        out.append((m, to_ppb(d + rng.gauss(0, c.env.report_noise_distance), 2 * PPB), to_ppb(q + rng.gauss(0, c.env.report_noise_quality))))
    return out


def _constant(c: ValidatorContext) -> tuple[int, int]:
    if c.options.get("mode", "constant") == "previous_median" and c.history:
        return (int(statistics.median_low(d for d, _ in c.history)), int(statistics.median_low(q for _, q in c.history)))
    return to_ppb(float(c.options.get("distance", 0.05)), 2 * PPB), to_ppb(float(c.options.get("quality", 0.8)))


def report_copier(c: ValidatorContext) -> Report:
    d, q = _constant(c)
    return [(m, d, q) for m in c.miners]


def report_echo(c: ValidatorContext) -> Report:
    if not c.reports_so_far:
        return report_copier(c)
    out = []
    for m in c.miners:
        ds = [(r[m][0], c.stakes.get(v, 0), v) for v, r in c.reports_so_far.items()]
        qs = [(r[m][1], c.stakes.get(v, 0), v) for v, r in c.reports_so_far.items()]
        out.append((m, weighted_median(ds), weighted_median(qs)))
    return out


def report_colluding(c: ValidatorContext) -> Report:
    mine = c.coalition_of.get(c.validator, "")
    if c.options.get("when", "always") == "majority":  # hide: collude only where the coalition decides the task's medians
        held = sum(w for v, w in c.stakes.items() if mine and c.coalition_of.get(v) == mine)
        if 2 * held < sum(c.stakes.values()):
            return report_honest(c)
    harsh = (to_ppb(float(c.options.get("harsh_distance", 0.5)), 2 * PPB), to_ppb(float(c.options.get("harsh_quality", 0.1))))
    return [(m, 0, PPB) if mine and c.coalition_of.get(m) == mine else (m, *harsh) for m in c.miners]


def report_offline(c: ValidatorContext) -> None:
    return None


def _inflating(c: ValidatorContext, m: str) -> bool:
    mine = c.coalition_of.get(c.validator, "")
    return bool(mine) and c.coalition_of.get(m) == mine


def report_spread_inflater(c: ValidatorContext) -> Report:
    """Honest numbers except for its coalition's miners: their measured distance (under the rules before 12, less the
    largest spread allowance: the same loosening done validator-side) and quality ``quality`` (default 1.0)."""
    lie = to_ppb(float(c.options.get("quality", 1.0)))
    loosen = 0 if c.spread_rule else c.spread_allowance_ppb
    return [(m, max(0, d - loosen), lie) if _inflating(c, m) else (m, d, q) for m, d, q in report_honest(c)]


def spread_inflated(c: ValidatorContext) -> int:
    """The spread it claims: ``spread`` (default 2.0, the largest) whatever it measured."""
    return to_ppb(float(c.options.get("spread", 2.0)), 2 * PPB)


def spotter_suspects(c: ValidatorContext) -> frozenset[str]:
    """The outputs a ``canary_spotter`` suspects of being planted, by its ``tell`` (none: the task looks like no canary).

    "word_salad" (default): outputs a lexical check flags as not language. The oracle's old policy planted garbage (the
    simulator's garbage cluster; the devnet's ``garbage_text``, random letters), which a dictionary look-up finds without
    the model.
    "length": outputs whose length is off the task's median length by more than ``length_tolerance`` (default 0.5);
    honest answers to one prompt are about as long as each other, a planted one is not.
    "network": every output of a network task (under rules 1-16 only network tasks carry canaries; from rule 17 user tasks
    carry the oracle's commitment too, and a guess on a user task meets their canaries).
    "never": nothing (the spotter never evaluates: a plain guesser)."""
    tell = c.options.get("tell", "word_salad")
    if tell == "word_salad":
        return frozenset(m for m in c.miners if m in c.word_salad)
    if tell == "length":
        if not c.lengths:
            return frozenset()
        mid = statistics.median_low(c.lengths.values())
        tol = float(c.options.get("length_tolerance", 0.5))
        return frozenset(m for m, n in c.lengths.items() if abs(n - mid) > tol * mid)
    if tell == "network":
        return frozenset(c.miners) if c.task.kind == "network" else frozenset()
    return frozenset()


def spotter_evaluates(c: ValidatorContext) -> bool:
    """A ``canary_spotter`` evaluates a task only where it suspects a canary (and ``on_guess`` is "evaluate")."""
    return c.options.get("on_guess", "evaluate") == "evaluate" and bool(spotter_suspects(c))


def report_canary_spotter(c: ValidatorContext) -> Report:
    """Does the real check only where it suspects a canary; elsewhere it echoes the reports already public (an escalation
    round) or guesses the median consensus of earlier tasks. With ``on_guess`` "flag" it never evaluates: it reports the
    suspects as garbage (distance 1.0, quality 0) and guesses the rest."""
    if spotter_evaluates(c):
        return report_honest(c)
    guess = report_echo(replace(c, options={**c.options, "mode": "previous_median"}))
    suspects = spotter_suspects(c) if c.options.get("on_guess", "evaluate") == "flag" else frozenset()
    return [(m, PPB, 0) if m in suspects else (m, d, q) for m, d, q in guess]


CLOSING = ":closing:"  # in the key of a task an actor script issued in the last ticks of an epoch (``ActorScript.across_close``)


def report_dissenter(c: ValidatorContext) -> Report:
    """Honest numbers, except in the first round of a task issued in the epoch's last ticks (option ``on``: "closing",
    default; "all": every task; "network": every network task, ``escalation_cartel``): the quality of the best output
    moved by ``shift`` (default 0.15) toward the middle, past ``dissent_bound_ppb`` (0.1) from the median, so the task
    escalates; its mean deviation (0.15 / 2 over three miners: 0.025) stays far under ``validator_deviation_max_ppb``
    (0.2): no offence, only a lower agreement there."""
    out = report_honest(c)
    on = c.options.get("on", "closing")
    if c.reports_so_far or not out or (on == "closing" and CLOSING not in c.task.key) or (on == "network" and c.task.kind != "network"):
        return out
    shift = to_ppb(float(c.options.get("shift", 0.15)))
    best = max(out, key=lambda r: (r[2], r[0]))[0]
    return [(m, d, q - shift if q >= PPB // 2 else q + shift) if m == best else (m, d, q) for m, d, q in out]


def spread_canary_spotter(c: ValidatorContext) -> int:
    return spread_honest(c) if spotter_evaluates(c) else 0


@dataclass(frozen=True)
class ValidatorStrategy:
    name: str
    report: Callable[[ValidatorContext], Report | None]
    evaluates: bool  # pays validation_cost_units per report
    reports_last: bool = False
    unjails: bool = True
    spread: Callable[[ValidatorContext], int] = spread_none  # the spread of the task it reveals (rule 12)
    evaluates_task: Callable[[ValidatorContext], bool] | None = None  # evaluates some tasks only (overrides ``evaluates``)

    def evaluated(self, c: ValidatorContext) -> bool:
        """Whether it evaluates this task (runs the model, pays validation_cost_units, counts the tokens)."""
        return self.evaluates if self.evaluates_task is None else self.evaluates_task(c)


VALIDATOR_STRATEGIES: dict[str, ValidatorStrategy] = {
    s.name: s
    for s in (
        ValidatorStrategy("honest", report_honest, True, spread=spread_honest),
        ValidatorStrategy("copier", report_copier, False),
        ValidatorStrategy("echo", report_echo, False, reports_last=True),
        ValidatorStrategy("colluding", report_colluding, False),
        ValidatorStrategy("offline", report_offline, False, unjails=False),
        ValidatorStrategy("spread_inflater", report_spread_inflater, True, spread=spread_inflated),
        ValidatorStrategy(
            "canary_spotter", report_canary_spotter, False, spread=spread_canary_spotter, evaluates_task=spotter_evaluates, reports_last=True
        ),
        ValidatorStrategy("dissenter", report_dissenter, True, spread=spread_honest),
    )
}

ROUTER_STRATEGIES = ("honest",)


def strategy_names(role: str) -> tuple[str, ...]:
    """Strategies available to a role."""
    return {"miner": tuple(MINER_STRATEGIES), "validator": tuple(VALIDATOR_STRATEGIES), "router": ROUTER_STRATEGIES}[role]


__all__ = [
    "COR",
    "Environment",
    "Output",
    "TaskInfo",
    "MinerPlan",
    "MinerContext",
    "ValidatorContext",
    "MINER_STRATEGIES",
    "VALIDATOR_STRATEGIES",
    "derive",
    "true_measures",
    "strategy_names",
]
