"""`radiusd policy explain`: which rule applies to a login and what it asks, without authenticating."""

from __future__ import annotations

import time
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from radiusd.cli.audit import parse_time
from radiusd.cli.main import CliState, UsageError, pass_state
from radiusd.cli.output import emit_object, json_option
from radiusd.cli.store_access import open_store
from radiusd.engine.audit import iso
from radiusd.engine.rules import Policy, Subject, parse_address
from radiusd.store.models import User


@click.group()
def policy() -> None:
    """The rules as they apply to a user."""


@policy.command("explain")
@click.argument("user")
@click.option("--client", required=True, help="The RADIUS client's or the application's name.")
@click.option("--from", "source", required=True, help="The source address the rules would see.")
@click.option("--at", "at_text", help="When (ISO time; local without an offset). Default: now.")
@click.option("--frontdoor", default="radius", show_default=True, help="radius, pam, ldap, crowd, http.")
@json_option
@pass_state
def policy_explain(
    state: CliState, user: str, client: str, source: str, at_text: str | None, frontdoor: str, as_json: bool
) -> None:
    """Show which rule matches USER and what it requires; nothing is checked or counted."""
    addr = parse_address(source)
    if addr is None:
        raise UsageError(f"not an IP address: {source!r}")
    at = parse_time(at_text) if at_text else time.time()
    ctx = open_store(state)
    cfg = ctx.config
    with ctx.db.session() as s:
        row = s.scalar(select(User).options(selectinload(User.groups)).where(User.name == user))
        groups = frozenset(g.name for g in row.groups) if row else frozenset()
    subject = Subject(user, groups, client, frontdoor, str(addr), at)
    req, trace = Policy(cfg.rules, cfg.challenge, cfg.lockout).explain(subject)
    out: dict[str, Any] = {
        "user": user,
        "in_store": row is not None,
        "groups": sorted(groups),
        "client": client,
        "frontdoor": frontdoor,
        "source": str(addr),
        "at": iso(at),
        "rule": req.rule,
        "action": req.action,
        "factors": sorted(req.factors) if req.factors is not None else "any enrolled",
        "code_only": req.code_only,
        "enrolment_grace_s": req.enrolment_grace,
        "challenge": req.challenge.model_dump(),
        "lockout": req.lockout.model_dump(),
        "reply": [f"{name}={value}" for name, value in req.reply],
        "tried": [
            f"{name}: {'matched' if failed is None else f'{failed} does not match'}" for name, failed in trace
        ],
    }
    if not as_json:
        out["challenge"] = ", ".join(f"{k}={v}" for k, v in out["challenge"].items())
        lk = req.lockout
        out["lockout"] = (
            f"source after {lk.source_threshold}, "
            + (f"user after {lk.user_threshold}" if lk.lock_user else "no user lock")
            + f" failures in {lk.window:g}s; lock {lk.lock_duration:g}s"
        )
    emit_object(out, as_json)


commands = [policy]
