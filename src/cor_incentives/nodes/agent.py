"""Node agents: one process per node, talking to the service only over its HTTP API, with its own key (docs/design.md §9).

    python -m cor_incentives.nodes.agent --role miner --key-file keys/miner-1.json --api http://127.0.0.1:8545 \
        --strategy honest --backend llama --log-file logs/miner-1.log

Roles, one module each in ``nodes/agents/``
    miner      answers its tasks with its backend (or its strategy's cheat), commit-reveal
    validator  scores the revealed outputs (PoI + PoUW with the real embedding model) and reports
    router     an HTTP gateway that carries users' signed commands
    user       a session with a deposit, and a prompt every ``--every-ticks`` ticks through its router

This module is the process: it parses the options, builds the role's agent (``build_agent``: a
new option reaches an agent here) and runs it until SIGTERM/SIGINT.

Every agent: retries transient errors (``nodes/link.py``), writes one log line per action to
``--log-file``, writes ``--ready-file`` (JSON) once it is ready, and stops cleanly on SIGTERM/SIGINT.
A miner or validator keeps its unrevealed commitments in ``<log-file>.state.json`` so that a restart
can still reveal. A miner reads the oracle's instructions for canaries from ``--inbox`` (a planted
output to reveal in a network task: see ``nodes/devnet.py``).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..ai.bundled import BUNDLED_MODEL_ID
from ..app.keys import Key, is_keystore_v3, keyfile_address, read_keyfile
from ..app.prompts import load_prompt_set
from ..core.errors import EngineError
from ..core.units import parse_cor
from .agents.base import Agent, make_logger
from .agents.miner import MinerAgent
from .agents.router import RouterAgent
from .agents.user import UserAgent
from .agents.validator import ValidatorAgent
from .link import Link, Stopped, StopSignal, wait_for_api
from .strategies import check_strategy

ROLES = ("miner", "validator", "router", "user")
BACKENDS = ("llama", "openai", "scripted")


def load_key_file(path: str | Path) -> dict[str, str]:
    """A key file (``app/keys.py``): a keystore v3 file, decrypted with $COR_KEY_PASSPHRASE (or a prompt on a
    terminal), or a plaintext key (with a warning). Returns name, address, private_key."""
    f = Path(path)
    data = read_keyfile(f)
    name = str(data.get("name") or f.stem)
    key = Key(name, keyfile_address(data), None if is_keystore_v3(data) else str(data["private_key"]), path=f, encrypted=is_keystore_v3(data))
    return {"name": name, "address": key.address, "private_key": key.private_key}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m cor_incentives.nodes.agent", description="Run one COR node agent.")
    ap.add_argument("--role", required=True, choices=ROLES)
    ap.add_argument("--key-file", required=True, help="key file of this node: keystore v3 (passphrase from $COR_KEY_PASSPHRASE) or plaintext")
    ap.add_argument("--api", required=True, help="base URL of the API (cor serve)")
    ap.add_argument("--strategy", default="honest")
    ap.add_argument(
        "--backend", default="scripted", choices=BACKENDS, help="miner backend (a validator with llama reads outputs with the bundled model)"
    )
    ap.add_argument("--openai-url", default=None)
    ap.add_argument("--openai-model", default="default")
    ap.add_argument("--threads", type=int, default=1, help="llama.cpp threads of this miner (or validator reading with the model)")
    ap.add_argument("--temperature", type=float, default=0.0, help="miner: sampling temperature (0: greedy decoding)")
    ap.add_argument("--sampling-seed", type=int, default=0, help="miner: this node's seed; each task samples with derive_seed(seed, task)")
    ap.add_argument("--inbox", default=None, help="miner: directory where the oracle leaves planted outputs for canaries (<task>.json)")
    ap.add_argument("--poll-seconds", type=float, default=0.25)
    ap.add_argument("--log-file", default=None)
    ap.add_argument("--ready-file", default=None)
    ap.add_argument("--name", default=None, help="name in logs (default: the key's name)")
    # router
    ap.add_argument("--listen-port", type=int, default=0, help="router: gateway port (0: any free port)")
    # user
    ap.add_argument("--router-url", default=None, help="user: send requests through this router gateway")
    ap.add_argument("--prompts", default=None, help="user: JSONL prompt file (default: the bundled prompt set)")
    ap.add_argument("--model", default=None, help="user: model id (default: the bundled model)")
    ap.add_argument("--every-ticks", type=int, default=2, help="user: submit one task every N ticks")
    ap.add_argument("--deposit", default="1", help="user: session deposit, COR (at least session_min_deposit_units, rule 24)")
    ap.add_argument("--topup-below", default="0.04", help="user: top the deposit up to --deposit when it falls below this, COR")
    ap.add_argument("--max-output-tokens", type=int, default=None, help="user: cap on each task's max_output_tokens")
    ap.add_argument("--seed", default="devnet", help="user: seed of the prompt choice")
    ap.add_argument("--api-wait-seconds", type=float, default=60.0)
    return ap.parse_args(argv)


def build_agent(args: argparse.Namespace, stop: StopSignal) -> Agent:
    key = load_key_file(args.key_file)
    name = args.name or key.get("name") or key["address"][:10]
    log = make_logger(name, args.log_file)
    common = dict(stop=stop, poll_seconds=args.poll_seconds, ready_file=args.ready_file)
    if args.role == "user" and args.router_url:
        link = Link(args.router_url, key["private_key"], log=log, stop=stop)
    else:
        link = Link(args.api, key["private_key"], log=log, stop=stop)
    if args.role == "miner":
        check_strategy("miner", args.strategy)
        backend = None
        if args.strategy in ("honest", "mismatch"):
            from .backends import Sampling, make_backend  # llama-cpp is loaded only by a miner that runs a model

            sampling = Sampling(temperature=args.temperature, seed=args.sampling_seed)
            backend = make_backend(args.backend, openai_url=args.openai_url, openai_model=args.openai_model, threads=args.threads, sampling=sampling)
        state_file = args.log_file + ".state.json" if args.log_file else None
        return MinerAgent(
            name,
            link,
            log,
            strategy=args.strategy,
            backend=backend,
            state_file=state_file,
            sampling_seed=args.sampling_seed,
            inbox=args.inbox,
            **common,
        )
    if args.role == "validator":
        # a validator on the llama devnet runs the bundled model too: it reads each output with it (model checks)
        state_file = args.log_file + ".state.json" if args.log_file else None
        return ValidatorAgent(
            name, link, log, strategy=args.strategy, read_model=args.backend == "llama", threads=args.threads, state_file=state_file, **common
        )
    if args.role == "router":
        return RouterAgent(name, link, log, api_url=args.api, listen_port=args.listen_port, **common)
    return UserAgent(
        name,
        link,
        log,
        model=args.model or BUNDLED_MODEL_ID,
        prompts=load_prompt_set(args.prompts),
        every_ticks=args.every_ticks,
        deposit_units=parse_cor(args.deposit),
        topup_below_units=parse_cor(args.topup_below),
        max_output_tokens=args.max_output_tokens,
        router=None,
        seed=args.seed,
        **common,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stop = StopSignal()  # set from the signal handler: not a threading.Event (see StopSignal)
    built: list[Agent] = []

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()
        for a in built:
            a.link.interrupt()  # raises Stopped if the main thread waits in a request: the loop then logs "stopped"

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        load_key_file(args.key_file)  # a missing file or a wrong passphrase is said at once, before waiting for the API
        wait_for_api(args.api, args.api_wait_seconds, stop)
        agent = build_agent(args, stop)
        built.append(agent)
    except Stopped:
        return 0
    except EngineError as exc:
        sys.stderr.write(f"error: {exc.code}: {exc.message}\n")
        return 2
    return agent.run()


if __name__ == "__main__":
    sys.exit(main())
