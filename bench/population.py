"""The bench's users and tokens, written in bulk through radiusd's own store code.

One configuration and store per database (SQLite file or a PostgreSQL database of its own), set up
with `radiusd init`, then filled with multi-row INSERTs of radiusd's models; token seeds are sealed
with the store's own key ring (AES-256-GCM), exactly as `radiusd token add` seals them.

Three populations, each derived from its index so that the harness can compute every code:

- `u0000000`…: first factor `none` (code only), one HOTP token each: workloads (a), (b) and scale.
- `p00000`…:   local argon2id password "benchpass", one TOTP token each: workload (c).
- `e00000`…:   local argon2id password "benchpass", one email token each: workload (d).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, insert, select, text

PASSWORD = "benchpass"
SECRET = "bench-shared-secret"
ARGON2 = {"time_cost": 3, "memory_cost": 65536, "parallelism": 1}
"""radiusd's default argon2id parameters (RFC 9106's second recommended option)."""
BATCH = 20_000


def hotp_user(i: int) -> str:
    return f"u{i:07d}"


def hotp_seed(i: int) -> bytes:
    return hashlib.sha1(f"bench-hotp-{i}".encode()).digest()


def totp_user(i: int) -> str:
    return f"p{i:05d}"


def totp_seed(i: int) -> bytes:
    return hashlib.sha1(f"bench-totp-{i}".encode()).digest()


def email_user(i: int) -> str:
    return f"e{i:05d}"


def email_address(i: int) -> str:
    return f"{email_user(i)}@bench.example"


@dataclass
class Store:
    """One radiusd configuration and its database, with what the harness knows of its tokens."""

    name: str
    config_path: Path
    url: str
    hotp_users: int = 0
    totp_users: int = 0
    email_users: int = 0
    next_counter: list[int] = field(default_factory=list)
    """Per HOTP user: the next counter the harness will send (codes are used once, in order)."""

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


def write_config(
    path: Path,
    data_dir: Path,
    url: str,
    smtp_port: int | None,
    log_level: str = "info",
) -> None:
    config: dict[str, Any] = {
        "data_dir": str(data_dir),
        "node": "bench",
        "database": {"url": url},
        "log": {"level": log_level},
        "radius": {
            "addresses": ["127.0.0.1"],
            "clients": [
                {
                    "name": "bench",
                    "address": "127.0.0.1/32",
                    "secret": SECRET,
                    "require_message_authenticator": True,
                    # Failures are spread over many sources (one per request) so that workload (b)
                    # measures the cost of the lockout bookkeeping, not a blocked address.
                    "source_attribute": "Calling-Station-Id",
                }
            ],
        },
        "backends": {"default": "local", "local": dict(ARGON2)},
    }
    if smtp_port is not None:
        config["delivery"] = {
            "codes_per_user_per_hour": 10,
            "codes_per_source_per_hour": 30,
            "smtp": {
                "host": "127.0.0.1",
                "port": smtp_port,
                "security": "none",
                "from_address": "radiusd@bench.example",
                "timeout": 10.0,
                "retries": 0,
            },
        }
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def create_postgres_database(name: str, admin_url: str) -> str:
    from sqlalchemy import create_engine

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_postgres_database(name: str, admin_url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def init_store(store: Store) -> None:
    subprocess.run(
        [sys.executable, "-m", "radiusd", "-c", str(store.config_path), "init", "--quiet"],
        check=True,
        capture_output=True,
        text=True,
    )


def _context(store: Store):  # type: ignore[no-untyped-def]
    from radiusd.config import load
    from radiusd.context import Context

    return Context(load(store.config_path))


def _insert_users(ctx: Any, rows: list[dict[str, Any]], tokens: list[dict[str, Any]]) -> None:
    """Users and their tokens with explicit ids, in one transaction."""
    from radiusd.store.models import Token, User

    with ctx.db.session() as s, s.begin():
        s.execute(insert(User), rows)
        s.execute(insert(Token), tokens)


def _next_ids(ctx: Any) -> tuple[int, int]:
    from radiusd.store.models import Token, User

    with ctx.db.session() as s:
        return (s.scalar(select(func.max(User.id))) or 0) + 1, (s.scalar(select(func.max(Token.id))) or 0) + 1


def _fix_sequences(ctx: Any) -> None:
    if ctx.db.is_sqlite:
        return
    with ctx.db.session() as s, s.begin():
        for table in ("users", "tokens"):
            sequence = f"pg_get_serial_sequence('{table}', 'id')"
            s.execute(text(f"SELECT setval({sequence}, (SELECT max(id) FROM {table}))"))


def grow(store: Store, hotp_users: int, totp_users: int = 0, email_users: int = 0) -> float:
    """Bring the store up to these counts; returns the seconds taken."""
    from radiusd.crypto.keyring import PURPOSE_TOKEN

    started = time.perf_counter()
    ctx = _context(store)
    try:
        keyring = ctx.keyring
        password_hash = ctx.passwords.hash(PASSWORD) if (totp_users or email_users) else None
        uid, tid = _next_ids(ctx)
        now = time.time()

        def flush(users: list[dict[str, Any]], tokens: list[dict[str, Any]]) -> None:
            if users:
                _insert_users(ctx, users, tokens)
                users.clear()
                tokens.clear()

        def user_row(name: str, backend: str, pw: str | None, email: str | None = None) -> dict[str, Any]:
            return {
                "id": uid, "name": name, "password_hash": pw, "backend": backend, "email": email,
                "phone": None, "enabled": True, "created_at": now, "updated_at": now,
            }  # fmt: skip

        def token_row(kind: str, secret: bytes | None, params: dict[str, Any], counter: int) -> dict:
            return {
                "id": tid, "user_id": uid, "type": kind, "description": "bench",
                "secret_enc": keyring.encrypt(secret, PURPOSE_TOKEN) if secret is not None else None,
                "params": params, "counter": counter, "drift": 0, "fail_count": 0, "enabled": True,
                "preferred": False, "created_at": now, "last_used_at": None,
            }  # fmt: skip

        users: list[dict[str, Any]] = []
        tokens: list[dict[str, Any]] = []
        plan = [
            (range(store.hotp_users, hotp_users), "hotp"),
            (range(store.totp_users, totp_users), "totp"),
            (range(store.email_users, email_users), "email"),
        ]
        for indices, kind in plan:
            for i in indices:
                if kind == "hotp":
                    users.append(user_row(hotp_user(i), "none", None))
                    tokens.append(token_row("hotp", hotp_seed(i), {"digits": 6, "algorithm": "sha1"}, -1))
                elif kind == "totp":
                    users.append(user_row(totp_user(i), "local", password_hash))
                    params = {"digits": 6, "algorithm": "sha1", "period": 30}
                    tokens.append(token_row("totp", totp_seed(i), params, -1))
                else:
                    users.append(user_row(email_user(i), "local", password_hash, email_address(i)))
                    tokens.append(token_row("email", None, {}, -1))
                uid += 1
                tid += 1
                if len(users) >= BATCH:
                    flush(users, tokens)
            flush(users, tokens)
        _fix_sequences(ctx)
        # Settle the store as it would be in service, so that no run pays for the load before it:
        # on SQLite the WAL copied into the database file; on PostgreSQL statistics, hint bits and
        # the visibility map set (autovacuum) and the dirty pages written out (the checkpointer).
        with ctx.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if ctx.db.is_sqlite:
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            else:
                conn.execute(text("VACUUM ANALYZE"))
                conn.execute(text("CHECKPOINT"))
    finally:
        ctx.close()
    store.next_counter.extend([0] * (hotp_users - store.hotp_users))
    store.hotp_users = max(store.hotp_users, hotp_users)
    store.totp_users = max(store.totp_users, totp_users)
    store.email_users = max(store.email_users, email_users)
    return time.perf_counter() - started


def row_counts(store: Store) -> dict[str, int]:
    ctx = _context(store)
    try:
        with ctx.db.session() as s:
            return {
                t: int(s.scalar(text(f"SELECT count(*) FROM {t}")) or 0)
                for t in ("users", "tokens", "audit_events", "rate_events")
            }
    finally:
        ctx.close()
