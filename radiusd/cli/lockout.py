"""`radiusd lockout …`: see, clear and set locks on users and source addresses."""

from __future__ import annotations

import time

import click

from radiusd.cli.audit import parse_duration
from radiusd.cli.main import CliState, pass_state
from radiusd.cli.output import emit_rows, json_option
from radiusd.cli.store_access import open_store, transaction
from radiusd.engine import lockout as locks
from radiusd.engine.audit import iso
from radiusd.engine.rules import parse_address


def _scope(target: str) -> tuple[str, str]:
    addr = parse_address(target)
    return ("source", str(addr)) if addr is not None else ("user", target)


@click.group()
def lockout() -> None:
    """Locks on users and source addresses (automatic after failures, or set by an admin)."""


@lockout.command("list")
@json_option
@pass_state
def lockout_list(state: CliState, as_json: bool) -> None:
    """List the locks in force."""
    now = time.time()
    with transaction(open_store(state)) as s:
        rows = [
            {
                "scope": lk.scope,
                "key": lk.key,
                "set_by": lk.set_by,
                "reason": lk.reason,
                "since": iso(lk.created_at),
                "until": iso(lk.until) if lk.until is not None else None,
                "remaining_s": round(lk.until - now) if lk.until is not None else None,
            }
            for lk in locks.active_locks(s, now)
        ]
    emit_rows(rows, ["scope", "key", "set_by", "reason", "since", "until", "remaining_s"], as_json)


@lockout.command("clear")
@click.argument("target", metavar="USER|ADDRESS")
@pass_state
def lockout_clear(state: CliState, target: str) -> None:
    """Lift every lock on USER or ADDRESS (automatic and admin) and restart its failure count."""
    with transaction(open_store(state)) as s:
        removed = locks.clear(s, target)
    scope, key = _scope(target)
    click.echo(f"{scope} {key}: {removed} lock(s) lifted, failure count restarted")


@lockout.command("set")
@click.argument("target", metavar="USER|ADDRESS")
@click.option("--for", "duration", help='How long ("30m", "2d"); without it, until `lockout clear`.')
@click.option("--reason", default="set by admin", show_default=True, help="Shown in `lockout list`.")
@pass_state
def lockout_set(state: CliState, target: str, duration: str | None, reason: str) -> None:
    """Lock USER (everywhere) or ADDRESS (for everybody) as an admin; kept apart from automatic locks."""
    seconds = parse_duration(duration) if duration else None
    scope, key = _scope(target)
    now = time.time()
    with transaction(open_store(state)) as s:
        locks.lock(s, scope, key, "admin", now + seconds if seconds else None, reason, now)
    until = f"until {iso(now + seconds)}" if seconds else "until cleared"
    click.echo(f"{scope} {key} locked {until}")


commands = [lockout]
