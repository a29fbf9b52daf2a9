"""What each step of a code-only accept costs on its own, in microseconds (one core, no load):

    .venv/bin/python -m bench.costs [--users 10000]

Each step is radiusd's own function, timed in a loop on a SQLite store filled like the benchmark's.
Next to the steps: what the same work costs without SQLAlchemy (the sqlite3 module directly) and
one thread-pool hop, the floor a rewrite of that layer could reach. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import population
from bench.packets import access_request, hotp, source_address


def per_call(fn: Callable[[], Any], n: int) -> float:
    fn()
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return round((time.perf_counter() - started) / n * 1e6, 1)


def measure(users: int) -> dict[str, Any]:
    from radiusd.config import load
    from radiusd.context import Context
    from radiusd.engine.audit import AuditTrail
    from radiusd.engine.lockout import Lockout
    from radiusd.factors import build_factors
    from radiusd.factors.base import Match
    from radiusd.radius import codec
    from radiusd.radius.clients import Client
    from radiusd.radius.dictionary import SHIPPED, load_dictionary
    from radiusd.radius.translate import auth_request
    from radiusd.store import auth

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="radiusd-costs-") as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work}/data/radiusd.db"
        config = work / "radiusd.yaml"
        population.write_config(config, work / "data", url, None)
        store = population.Store("sqlite", config, url)
        population.init_store(store)
        population.grow(store, users)
        ctx = Context(load(config))
        db, keyring = ctx.db, ctx.keyring
        secret = population.SECRET.encode()
        dictionary = load_dictionary(SHIPPED)
        client = Client(
            "bench", ipaddress.ip_network("127.0.0.1/32"), secret, source_attribute="Calling-Station-Id"
        )
        raw = access_request(
            1, secret, population.hotp_user(5), hotp(population.hotp_seed(5), 0), source_address(1)
        )

        # -- codec: the fast path the server uses, then pyrad for reference
        def decode() -> Any:
            frame = codec.parse_frame(raw)
            assert codec.message_authenticator_valid(frame, secret)
            return codec.Request(frame, secret, dictionary)

        def decode_pyrad() -> Any:
            frame = codec.parse_frame(raw)
            assert codec.message_authenticator_valid(frame, secret)
            return codec.decode(frame, secret, dictionary)

        request, packet = decode(), decode_pyrad()
        out["codec: parse, verify MA, fast decode"] = per_call(decode, 3000)
        out["codec: AuthRequest (PAP password)"] = per_call(
            lambda: auth_request(request, client, "127.0.0.1"), 3000
        )
        out["codec: encode Access-Accept (signed)"] = per_call(
            lambda: codec.encode_reply(request, codec.ACCESS_ACCEPT, (), True), 3000
        )
        reply = (("Filter-Id", "vpn"), ("Session-Timeout", 3600), ("Fortinet-Group-Name", "vpn-users"))
        out["codec: encode Access-Accept with 3 attributes (signed)"] = per_call(
            lambda: codec.encode_reply(request, codec.ACCESS_ACCEPT, reply, True), 3000
        )
        out["codec, pyrad: parse, verify MA, pyrad decode"] = per_call(decode_pyrad, 3000)
        out["codec, pyrad: encode Access-Accept (signed)"] = per_call(
            lambda: codec.encode_reply_pyrad(packet, codec.ACCESS_ACCEPT, (), True), 3000
        )
        out["codec, pyrad: encode Access-Accept with 3 attributes (signed)"] = per_call(
            lambda: codec.encode_reply_pyrad(packet, codec.ACCESS_ACCEPT, reply, True), 3000
        )

        # -- cryptography
        user = auth.load_user(db, population.hotp_user(5))
        assert user is not None
        token = user.tokens[0]
        factor = build_factors(ctx.config.engine)["hotp"]
        code = hotp(population.hotp_seed(5), 0)
        out["crypto: open the seed (AES-GCM)"] = per_call(lambda: token.secret(keyring), 3000)
        wrong = str((int(code[0]) + 1) % 10) + code[1:]
        out["crypto: HOTP match, the next code (first counter of the window)"] = per_call(
            lambda: factor.match(token, code, 0, keyring), 1000
        )
        out["crypto: HOTP match, a wrong code (all 11 counters of the window)"] = per_call(
            lambda: factor.match(token, wrong, 0, keyring), 1000
        )

        # -- store, through radiusd (SQLAlchemy)
        names = [population.hotp_user(i) for i in range(0, users, 7)]
        it = iter(names * 10)
        out["store: auth.load_user"] = per_call(lambda: auth.load_user(db, next(it)), 2000)
        it3 = iter(names * 10)
        out["store: auth.load_login (user, groups, tokens, locks, failures)"] = per_call(
            lambda: auth.load_login(db, next(it3), "u0000005", ("10.0.0.1",), time.time()), 2000
        )
        lockout = Lockout(ctx)
        out["store: lockout gate (SELECT locks)"] = per_call(
            lambda: db.read(lockout._read_gate, "u0000005", "10.0.0.1", 0.0), 2000
        )
        out["store: lockout success (DELETE, commit)"] = per_call(
            lambda: db.write(lockout.clear_failures, "u0000005"), 2000
        )
        counter = iter(range(1000, 10**9))
        out["store: auth.consume (UPDATE, commit)"] = per_call(
            lambda: auth.consume(db, Match(token.id, counter=next(counter)), time.time()), 2000
        )
        out["store: auth.consume + clear failures (one transaction)"] = per_call(
            lambda: auth.consume(db, Match(token.id, counter=next(counter)), time.time(), None, "u0000005"),
            2000,
        )
        out["store: lockout failure (INSERT, counts, commit)"] = per_call(
            lambda: db.write(lockout.count_failure, "u0000009", f"s{next(counter)}", ctx.config.lockout, 0.0),
            2000,
        )
        trail = AuditTrail(ctx)
        row = {
            "at": 0.0, "frontdoor": "radius", "client": "bench", "source": "10.0.0.1",
            "user": "u0000005", "factor": "hotp", "result": "accept", "reason": "hotp code ok",
            "latency_ms": 1.0, "node": "bench",
        }  # fmt: skip
        batch = [row] * 500
        out["store: audit batch of 500, per decision"] = round(
            per_call(lambda: db.write(trail._insert, batch, None), 20) / 500, 1
        )

        # -- the same store work without SQLAlchemy
        con = sqlite3.connect(f"{work}/data/radiusd.db", isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        it2 = iter(names * 10)
        load_sql = (
            "SELECT u.id, u.name, u.enabled, u.password_hash, u.backend, t.id, t.type, t.secret_enc, "
            "t.params, t.counter, t.drift FROM users u LEFT JOIN tokens t ON t.user_id = u.id AND t.enabled "
            "WHERE u.name = ?"
        )
        out["floor: sqlite3 load user + tokens"] = per_call(
            lambda: con.execute(load_sql, (next(it2),)).fetchall(), 5000
        )
        c2 = iter(range(10**6, 10**9))

        def cas() -> None:
            con.execute("BEGIN IMMEDIATE")
            con.execute(
                "UPDATE tokens SET counter = ? WHERE id = ? AND counter < ?", (next(c2), token.id, 10**12)
            )
            con.execute("COMMIT")

        out["floor: sqlite3 CAS UPDATE + commit"] = per_call(cas, 5000)
        con.close()

        # -- one hop to the store's thread pool and back
        async def hops(n: int) -> float:
            loop = asyncio.get_running_loop()
            started = time.perf_counter()
            for _ in range(n):
                await loop.run_in_executor(db._pool, int)
            return round((time.perf_counter() - started) / n * 1e6, 1)

        out["asyncio: one executor hop (run_in_executor)"] = asyncio.run(hops(5000))
        ctx.close()
    return out


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.costs", description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=10_000)
    print(json.dumps(measure(p.parse_args().users), indent=1))


if __name__ == "__main__":
    main()
