"""Run the publisher once and SIGKILL ourselves at one step (a crash, not an exception): the restart test.

    python crash_publisher.py DB_URL KEYS_DIR RPC_URL DISTRIBUTOR STEP EPOCH
STEP is one of the publisher's steps ("logged", "sent", "mined", "confirmed"); the kill comes the
first time that step is reached for EPOCH. Exit status -9 (killed) means the crash happened.
"""

from __future__ import annotations

import os
import signal
import sys

from cor_incentives.app.engine import Engine, oracle_key
from cor_incentives.app.keys import Keystore
from cor_incentives.chain.publisher import EngineLog, Publisher
from cor_incentives.chain.rpc import Chain


def main() -> None:
    db, keys_dir, rpc, distributor, step, epoch = sys.argv[1:7]

    def on_step(name: str, e: int) -> None:
        if name == step and e == int(epoch):
            os.kill(os.getpid(), signal.SIGKILL)

    engine = Engine.open(db)
    key = oracle_key(engine, Keystore(keys_dir))
    Publisher(EngineLog(engine, key), Chain(rpc), distributor, key, on_step=on_step).publish()


if __name__ == "__main__":
    main()
