"""`radiusd audit list`: the decisions recorded, newest first, with filters."""

from __future__ import annotations

import datetime as dt
import re
import time

import click

from radiusd.cli.main import CliState, UsageError, pass_state
from radiusd.cli.output import emit_rows, json_option
from radiusd.cli.store_access import open_store
from radiusd.engine.audit import iso, search

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
RESULTS = ("accept", "reject", "challenge")
COLUMNS = [
    "time",
    "frontdoor",
    "client",
    "source",
    "user",
    "factor",
    "result",
    "reason",
    "latency_ms",
    "node",
]


def parse_duration(text: str) -> float:
    """'90s', '15m', '1h', '2d', '1w' as seconds; a one-line error otherwise."""
    m = _DURATION.match(text.strip().lower())
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"not a duration: {text!r} (examples: 90s, 15m, 1h, 2d, 1w)")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_time(text: str) -> float:
    """An ISO 8601 time as epoch seconds; without an offset it is the local time."""
    try:
        return dt.datetime.fromisoformat(text.strip()).astimezone().timestamp()
    except ValueError:
        raise UsageError(
            f"not an ISO time: {text!r} (example: 2024-05-01T08:00 or 2024-05-01T08:00+02:00)"
        ) from None


def parse_since(text: str, now: float) -> float:
    """A duration back from now ('1h', '2d') or an ISO time."""
    return now - parse_duration(text) if _DURATION.match(text.strip().lower()) else parse_time(text)


@click.group()
def audit() -> None:
    """The audit trail of every decision (never a password or code)."""


@audit.command("list")
@click.option("--user", help="Only this user.")
@click.option("--since", help='Only decisions since then: "1h", "2d" or an ISO time.')
@click.option("--result", type=click.Choice(RESULTS), help="Only this result.")
@click.option("--frontdoor", help="Only this front door (radius, pam, ldap, crowd, http, cli).")
@click.option(
    "--limit", type=click.IntRange(1, 100_000), default=50, show_default=True, help="At most this many."
)
@json_option
@pass_state
def audit_list(
    state: CliState,
    user: str | None,
    since: str | None,
    result: str | None,
    frontdoor: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List recorded decisions, newest first."""
    start = parse_since(since, time.time()) if since else None
    ctx = open_store(state)
    with ctx.db.session() as s:
        events = search(s, user=user, since=start, result=result, frontdoor=frontdoor, limit=limit)
        rows = [
            {
                "time": iso(e.at),
                "frontdoor": e.frontdoor,
                "client": e.client,
                "source": e.source,
                "user": e.user,
                "factor": e.factor,
                "result": e.result,
                "reason": e.reason,
                "latency_ms": round(e.latency_ms, 1),
                "node": e.node,
            }
            for e in events
        ]
    emit_rows(rows, COLUMNS, as_json)


commands = [audit]
