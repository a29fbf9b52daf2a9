"""CPU per request of workload (a) or (b) inside one process, without sockets or a load generator:

    .venv/bin/python -m bench.inprocess [--requests 3000] [--chunks 5] [--burst 64] [--wrong]

Access-Requests built as the bench builds them (each user's next HOTP code) are handed straight
to `RadiusServer.received`, `--burst` at a time, with at most two bursts waiting for their
answers, on a SQLite store of 10,000 code-only users. Prints the process CPU time per request of
each chunk and the best. What the network and the other processes cost is left out, and so is
their noise: a change to the server's Python shows here within a few percent, where the load
runs of `bench.run` move by tens of percent between runs on a shared machine. `--burst 1` is the
cost at low load (a transaction and every turn of the event loop for each request). `--wrong`
sends workload (b) instead: a wrong code for each user, from a source never used before.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import population
from bench.run import Bench
from radiusd.context import Context
from radiusd.engine.engine import Engine
from radiusd.radius.clients import load_clients
from radiusd.radius.dictionary import dictionary_path, load_dictionary
from radiusd.radius.server import RadiusServer
from radiusd.radius.service import Overrides, load_config

USERS = 10_000
SOURCE_PORTS = 16


class CountingListener:
    """Stands in for the socket: counts the replies."""

    index = 0
    accounting = False

    def __init__(self) -> None:
        self.sent = 0

    def send(self, data: bytes, addr: Any) -> None:
        self.sent += 1


async def measure(bench: Bench, store: population.Store, args: argparse.Namespace) -> list[float]:
    config = load_config(store.config_path, Overrides())
    ctx = Context(config)
    clients = await ctx.db.run(load_clients, ctx)
    dictionary = load_dictionary(dictionary_path(config.radius.dictionary))
    server = RadiusServer(Engine(ctx), clients, dictionary, _no_accounting)
    listener = CountingListener()
    gc.freeze()  # as `radiusd serve` does once serving
    per_request: list[float] = []
    try:
        for chunk in range(args.chunks + 1):  # the first chunk warms up and is not counted
            packets, _ = bench.hotp_requests(store, args.requests, store.hotp_users, wrong=args.wrong)
            listener.sent = 0
            started = time.process_time()
            for first in range(0, len(packets), args.burst):
                burst = packets[first : first + args.burst]
                for i, data in enumerate(burst):
                    server.received(listener, data, ("127.0.0.1", 40000 + (first + i) % SOURCE_PORTS))  # type: ignore[arg-type]
                while listener.sent < first + len(burst) - args.burst:
                    await asyncio.sleep(0)
            while listener.sent < len(packets):
                await asyncio.sleep(0)
            if chunk:
                per_request.append((time.process_time() - started) * 1e6 / len(packets))
                print(f"chunk {chunk}: {per_request[-1]:.1f} µs of CPU per request", flush=True)
        expected = "access_reject" if args.wrong else "access_accept"
        answered = server.counters.snapshot().get(expected, 0)
        if answered != (args.chunks + 1) * args.requests:
            raise SystemExit(f"only {answered} of the requests were {expected}: {server.counters.snapshot()}")
    finally:
        await server.authenticator.close()  # type: ignore[attr-defined]
        ctx.close()
    return per_request


async def _no_accounting(row: dict[str, Any]) -> None:
    raise RuntimeError("no Accounting-Requests are sent")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=3000, help="requests per chunk")
    p.add_argument("--chunks", type=int, default=5, help="measured chunks (one more warms up)")
    p.add_argument("--burst", type=int, default=64, help="requests handed over at once")
    p.add_argument("--wrong", action="store_true", help="workload (b): wrong codes instead of (a)")
    args = p.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="radiusd-inprocess-"))
    try:
        bench = Bench(argparse.Namespace(duration=1.0, cap=1), workdir)
        store = bench.make_store("sqlite")
        population.grow(store, USERS)
        results = asyncio.run(measure(bench, store, args))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    workload = "b" if args.wrong else "a"
    print(f"best {min(results):.1f} µs of CPU per request (workload {workload}, burst {args.burst})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
