"""The audit trail: batched writes that lose nothing, clean rows, JSON lines and syslog copies."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from radiusd.config import Config
from radiusd.context import Context
from radiusd.engine.audit import ROWS_PER_WRITE, AuditTrail, clean
from radiusd.engine.types import AuthRequest, Decision
from radiusd.store.models import AuditEvent
from radiusd.store.schema import upgrade


def make_context(db_url: str, tmp_path: Path, **audit: Any) -> Context:
    cfg = Config.model_validate(
        {"data_dir": str(tmp_path / "data"), "database": {"url": db_url}, "node": "n1", "audit": audit},
        context={"base": tmp_path},
    )
    ctx = Context(cfg)
    upgrade(ctx.db)
    return ctx


def request(user: str = "alice", **kw: Any) -> AuthRequest:
    return AuthRequest(
        user=user, secret="pw-never-stored", frontdoor="radius", client="vpn", source="192.0.2.1", **kw
    )


def rows(ctx: Context) -> list[AuditEvent]:
    with ctx.db.session() as s:
        return list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_every_decision_written_once_and_jsonl_copy(db_url: str, tmp_path: Path) -> None:
    jsonl = tmp_path / "audit.jsonl"
    ctx = make_context(db_url, tmp_path, jsonl_file=str(jsonl), batch_size=100, flush_interval=5)
    trail = AuditTrail(ctx)

    async def scenario() -> None:
        for n in range(1234):
            decision = Decision.accept(factor="totp") if n % 2 else Decision.reject(f"wrong code {n}")
            await trail.record(request(f"user{n}"), decision, 1.5)
        await trail.close()

    asyncio.run(scenario())
    written = rows(ctx)
    assert [r.user for r in written] == [f"user{n}" for n in range(1234)]
    first = written[0]
    assert (first.frontdoor, first.client, first.source, first.result, first.reason, first.node) == (
        "radius",
        "vpn",
        "192.0.2.1",
        "reject",
        "wrong code 0",
        "n1",
    )
    assert (written[1].result, written[1].factor, written[1].latency_ms) == ("accept", "totp", 1.5)
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(lines) == 1234
    assert lines[0]["user"] == "user0" and lines[0]["at"].endswith("Z")
    assert "pw-never-stored" not in jsonl.read_text()
    ctx.close()


def test_record_does_not_wait_for_the_store(db_url: str, tmp_path: Path) -> None:
    ctx = make_context(db_url, tmp_path, flush_interval=10, batch_size=1000)
    trail = AuditTrail(ctx)

    async def scenario() -> None:
        await trail.record(request(), Decision.accept(), 0.1)
        assert rows(ctx) == []  # still in memory: the hot path did no store work
        await trail.close()
        assert len(rows(ctx)) == 1

    asyncio.run(scenario())
    ctx.close()


def test_hostile_values_are_stored_cleanly(db_url: str, tmp_path: Path) -> None:
    ctx = make_context(db_url, tmp_path)
    trail = AuditTrail(ctx)
    bad = AuthRequest(
        user="nul\x00" + "u" * 1000,
        secret="x",
        frontdoor="a-very-long-front-door-name",
        client="bad\udcffclient",
        source="2001:db8:1:2:3:4:5:6%a-very-long-zone-identifier-from-a-client-that-lies-about-it",
    )

    async def scenario() -> None:
        await trail.record(bad, Decision.reject("r" * 999, factor="factor-name-too-long"), 2.0)
        await trail.record(request(), Decision.accept(), 0.1)  # the good row is not lost with the bad
        await trail.close()

    asyncio.run(scenario())
    first, second = rows(ctx)
    assert first.user.startswith("nul\\x00uuu") and len(first.user) == 255
    assert first.client == "bad\\udcffclient"
    assert (len(first.frontdoor), len(first.reason), len(first.factor), len(first.source or "")) == (
        16,
        255,
        16,
        64,
    )
    assert second.user == "alice"
    ctx.close()


def test_store_outage_keeps_decisions_until_written(tmp_path: Path) -> None:
    ctx = make_context(f"sqlite:///{tmp_path / 'a.db'}", tmp_path, flush_interval=0.05)
    trail = AuditTrail(ctx)
    with ctx.db.engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_events RENAME TO audit_events_away"))

    async def scenario() -> None:
        for _ in range(3):
            await trail.record(request(), Decision.reject("wrong code"), 1.0)
        assert await trail.flush() is False
        with ctx.db.engine.begin() as conn:
            conn.execute(text("ALTER TABLE audit_events_away RENAME TO audit_events"))
        await trail.close()

    asyncio.run(scenario())
    with ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 3
    ctx.close()


def test_syslog_copy_over_udp(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        sink.settimeout(10)
        port = sink.getsockname()[1]
        ctx = make_context(
            f"sqlite:///{tmp_path / 'a.db'}", tmp_path, syslog=True, syslog_address=f"127.0.0.1:{port}"
        )
        trail = AuditTrail(ctx)

        async def scenario() -> None:
            await trail.record(request("bob"), Decision.reject("source locked: too many failures"), 0.3)
            await trail.close()

        asyncio.run(scenario())
        message = sink.recv(65535).decode()
    # <PRI>: authpriv (10) * 8 + info (6) = 86
    assert message.startswith("<86>radiusd-audit: ")
    event = json.loads(message.split(": ", 1)[1].rstrip("\x00"))
    assert (event["user"], event["reason"], event["result"]) == (
        "bob",
        "source locked: too many failures",
        "reject",
    )
    assert "pw-never-stored" not in message
    ctx.close()


@settings(max_examples=500, deadline=None)
@given(
    value=st.one_of(st.none(), st.integers(), st.text(), st.text(alphabet=st.characters(max_codepoint=127))),
    limit=st.integers(0, 300),
)
def test_clean_is_the_same_with_or_without_its_shortcut(value: object, limit: int) -> None:
    """Plain short ASCII is returned as it came; everything else goes the long way, same result."""
    text = "" if value is None else str(value)
    slow = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")[:limit]
    assert clean(value, limit) == slow


def test_a_large_batch_is_written_in_short_inserts(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite, however many decisions wait, one INSERT holds at most ROWS_PER_WRITE of them (it
    runs on the event loop and holds the write lock); on PostgreSQL the batch stays whole. Every
    decision is written once, in order."""
    ctx = make_context(db_url, tmp_path, flush_interval=10, batch_size=1000)
    trail = AuditTrail(ctx)
    sizes: list[int] = []
    insert = AuditTrail._insert

    def counted(conn: Any, batch: list[dict[str, Any]], expire_before: float | None) -> tuple[None, bool]:
        sizes.append(len(batch))
        return insert(conn, batch, expire_before)

    monkeypatch.setattr(AuditTrail, "_insert", staticmethod(counted))

    async def scenario() -> None:
        for n in range(300):
            await trail.record(request(f"user{n}"), Decision.reject("wrong code"), 1.0)
        await trail.close()

    asyncio.run(scenario())
    if db_url.startswith("sqlite"):
        assert sizes == [ROWS_PER_WRITE] * (300 // ROWS_PER_WRITE) + [300 % ROWS_PER_WRITE]
    else:
        assert sizes == [300]
    assert [r.user for r in rows(ctx)] == [f"user{n}" for n in range(300)]
    ctx.close()
