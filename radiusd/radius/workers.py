"""`--workers N`: N server processes sharing the ports through SO_REUSEPORT.

The kernel hashes each client address and port to one socket, so retransmissions reach the worker
that holds their duplicate-cache entry. The parent only forwards signals and waits: SIGTERM/SIGINT
stop every worker (each finishes its requests in flight), SIGHUP and SIGUSR1 are passed on. If a
worker dies on its own, the others are stopped and the parent exits non-zero, for the service
manager to restart the whole set.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from radiusd.radius.service import Overrides, run_process

log = logging.getLogger(__name__)


def _worker(config_path: Path | None, overrides: Overrides) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent turns Ctrl-C into SIGTERM
    sys.exit(run_process(config_path, overrides, reuse_port=True))


def supervise(count: int, config_path: Path | None, overrides: Overrides) -> int:
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited loop or pool
    workers = [
        spawn.Process(target=_worker, args=(config_path, overrides), name=f"radiusd-worker-{i}")
        for i in range(count)
    ]
    stopping = False

    def forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
            signum = signal.SIGTERM
        for worker in workers:
            if worker.pid is not None and worker.exitcode is None:
                os.kill(worker.pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
        signal.signal(signum, forward)
    for worker in workers:
        worker.start()
    log.info("started %d workers: pids %s", count, " ".join(str(w.pid) for w in workers))
    failed = False
    running = {w.sentinel: w for w in workers}
    while running:
        for sentinel in multiprocessing.connection.wait(list(running)):
            worker = running.pop(sentinel)  # type: ignore[call-overload]
            worker.join()
            if worker.exitcode != 0:
                failed = True
            if not stopping:
                log.error("worker pid %d exited (code %s): stopping the others", worker.pid, worker.exitcode)
                forward(signal.SIGTERM, None)
    return 1 if failed else 0
