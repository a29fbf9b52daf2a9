"""A running `radiusd serve` wired to a test SMTP server and a test SMS gateway, and the few
RADIUS and audit steps the challenge tests repeat."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from delivery_peers import SmsGateway, SmtpServer
from pyrad import packet as rp
from radius.radius_client import access_request, ask
from radius.radius_server import SECRET, Radiusd, base_config, running_radiusd
from sqlalchemy import select
from sqlalchemy.orm import Session

from radiusd.config import load
from radiusd.context import Context
from radiusd.store import admin
from radiusd.store.models import AuditEvent

PASSWORD = "correct horse"
EMAIL = "alice@example.org"
PHONE = "+4915112345678"


def delivery_config(
    tmp_path: Path,
    smtp: SmtpServer | None,
    gateway_url: str | None,
    db_url: str | None = None,
    limits: dict[str, int] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    config = base_config(tmp_path, db_url)
    # pam_radius_auth 2.0 sends no Message-Authenticator: allowed only with Proxy-State limited.
    config["radius"]["clients"][0].update(require_message_authenticator=False, limit_proxy_state=True)
    delivery: dict[str, Any] = {}
    if smtp is not None:
        delivery["smtp"] = {"host": "127.0.0.1", "port": smtp.port, "security": "none", "timeout": 3}
    if gateway_url is not None:
        delivery["sms"] = {
            "url": gateway_url + "/send",
            "body": {"to": "{to}", "text": "{text}"},
            "timeout": 2,
            "retries": 1,
        }
    config["delivery"] = delivery | (limits or {})
    config.update(extra)
    return config


@contextmanager
def challenge_server(
    tmp_path: Path,
    smtp: SmtpServer | None = None,
    gateway: SmsGateway | str | None = None,
    db_url: str | None = None,
    totp: dict[str, str] | None = None,
    limits: dict[str, int] | None = None,
    **extra: Any,
) -> Iterator[Radiusd]:
    """A server with user alice (and the users in `totp`, each with that TOTP seed)."""
    url = gateway.url if isinstance(gateway, SmsGateway) else gateway
    config = delivery_config(tmp_path, smtp, url, db_url, limits, **extra)
    with running_radiusd(tmp_path, config=config) as srv:
        add_user(srv, "alice")
        for name, seed in (totp or {}).items():
            add_user(srv, name)
            with store(srv) as (ctx, s):
                admin.add_token(s, ctx.keyring, name, "totp", secret=base64.b32decode(seed), params={})
        yield srv


@contextmanager
def store(srv: Radiusd) -> Iterator[tuple[Context, Session]]:
    """The server's store, opened in the test process (a CLI run costs seconds on a busy machine)."""
    ctx = Context(load(srv.config))
    try:
        with ctx.db.sessions.begin() as session:
            yield ctx, session
    finally:
        ctx.close()


def add_user(srv: Radiusd, name: str, email: str | None = None, phone: str | None = None) -> None:
    with store(srv) as (ctx, s):
        admin.add_user(s, name, password_hash=ctx.passwords.hash(PASSWORD), email=email, phone=phone)


def enrol(srv: Radiusd, user: str, kind: str) -> None:
    """An email or SMS token for `user`, with alice's address or number set on the user."""
    with store(srv) as (ctx, s):
        owner = admin.get_user(s, user)
        if kind == "email":
            owner.email = EMAIL
        elif kind == "sms":
            owner.phone = PHONE
        admin.add_token(s, ctx.keyring, user, kind)


def login(srv: Radiusd, user: str, secret: str, state: bytes | None = None, timeout: float = 8) -> rp.Packet:
    reply = ask(srv.host, srv.auth_port, access_request(SECRET, user, secret, state=state), timeout=timeout)
    assert reply is not None, "no answer from radiusd"
    return reply


def message(reply: rp.Packet) -> str:
    return "".join(reply["Reply-Message"]) if "Reply-Message" in reply else ""


def state(reply: rp.Packet) -> bytes:
    assert reply.code == rp.AccessChallenge, f"expected a challenge, got code {reply.code}: {message(reply)}"
    return bytes(reply["State"][0])


def audit(srv: Radiusd, user: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The user's audit rows, oldest first, once `count` are written (the audit is batched)."""
    deadline = time.monotonic() + timeout
    while True:
        with store(srv) as (_ctx, s):
            rows = [
                {"result": e.result, "reason": e.reason, "factor": e.factor}
                for e in s.scalars(select(AuditEvent).where(AuditEvent.user == user).order_by(AuditEvent.id))
            ]
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)
