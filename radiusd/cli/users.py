"""`radiusd user …`: the people who log in."""

from __future__ import annotations

import time
from collections.abc import Callable

import click

from radiusd.cli.main import CliState, UsageError, pass_state
from radiusd.cli.output import emit_object, emit_rows, json_option
from radiusd.cli.secret_input import prompt_twice, read_stdin
from radiusd.cli.store_access import open_store, transaction
from radiusd.config import Config
from radiusd.delivery.addresses import normalise_email, normalise_phone
from radiusd.store import admin


def _effective_backend(config: Config, name: str, backend: str | None) -> str:
    if backend:
        return backend
    realm = name.rpartition("@")[2] if "@" in name else None
    return config.backends.realms.get(realm, config.backends.default) if realm else config.backends.default


@click.group()
def user() -> None:
    """Users, their passwords and their state."""


Callback = Callable[[click.Context, click.Parameter, str | None], str | None]


def _checked(check: Callable[[str], str]) -> Callback:
    """A click callback: None stays None, "" clears, anything else must pass `check`."""

    def callback(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
        if not value:
            return value
        try:
            return check(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    return callback


email_option = click.option(
    "--email", callback=_checked(normalise_email), help='Address for codes by email ("" clears it).'
)
phone_option = click.option(
    "--phone",
    callback=_checked(normalise_phone),
    help='Number for codes by SMS, international format: +4915112345678 ("" clears it).',
)


@user.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option("--no-password", is_flag=True, help="Set no local password (set one later with passwd).")
@email_option
@phone_option
@click.option("--group", "groups", multiple=True, metavar="GROUP", help="Add to GROUP (repeatable).")
@click.option(
    "--backend",
    type=click.Choice(admin.BACKENDS),
    help="Where the password is checked (default: the configured realm or default backend).",
)
@pass_state
def user_add(
    state: CliState,
    name: str,
    password_stdin: bool,
    no_password: bool,
    email: str | None,
    phone: str | None,
    groups: tuple[str, ...],
    backend: str | None,
) -> None:
    """Add a user. A user whose password is checked locally is asked for it twice, unless
    --password-stdin or --no-password is given."""
    ctx = open_store(state)
    password: str | None = None
    if password_stdin:
        password = read_stdin("password")
    elif not no_password and _effective_backend(ctx.config, name, backend) == "local":
        password = prompt_twice("password")
    password_hash = ctx.passwords.hash(password) if password is not None else None
    with transaction(ctx) as s:
        admin.add_user(
            s,
            name,
            password_hash=password_hash,
            email=email or None,
            phone=phone or None,
            backend=backend,
            groups=groups,
        )
    click.echo(f"user {name} added")


@user.command("edit")
@click.argument("name")
@email_option
@phone_option
@pass_state
def user_edit(state: CliState, name: str, email: str | None, phone: str | None) -> None:
    """Change a user's email address or phone number (where codes are sent)."""
    if email is None and phone is None:
        raise UsageError("nothing to change: give --email and/or --phone")
    with transaction(open_store(state)) as s:
        found = admin.get_user(s, name)
        if email is not None:
            found.email = email or None
        if phone is not None:
            found.phone = phone or None
        found.updated_at = time.time()
    click.echo(f"user {name} changed")


@user.command("list")
@json_option
@pass_state
def user_list(state: CliState, as_json: bool) -> None:
    """List users."""
    with transaction(open_store(state)) as s:
        rows = admin.list_users(s)
    emit_rows(rows, ["name", "enabled", "backend", "groups", "tokens", "email", "phone"], as_json)


@user.command("show")
@click.argument("name")
@json_option
@pass_state
def user_show(state: CliState, name: str, as_json: bool) -> None:
    """Show one user and their tokens."""
    with transaction(open_store(state)) as s:
        info = admin.show_user(s, name)
    if not as_json:
        info["token_list"] = [
            f"{t['id']}:{t['type']}" + ("" if t["enabled"] else "(off)") for t in info["token_list"]
        ]
    emit_object(info, as_json)


def _set_enabled(state: CliState, name: str, enabled: bool) -> None:
    with transaction(open_store(state)) as s:
        admin.set_user_enabled(s, name, enabled)
    click.echo(f"user {name} {'enabled' if enabled else 'disabled'}")


@user.command("disable")
@click.argument("name")
@pass_state
def user_disable(state: CliState, name: str) -> None:
    """Refuse every login of this user until enabled again."""
    _set_enabled(state, name, False)


@user.command("enable")
@click.argument("name")
@pass_state
def user_enable(state: CliState, name: str) -> None:
    """Allow a disabled user to log in again."""
    _set_enabled(state, name, True)


@user.command("delete")
@click.argument("name")
@pass_state
def user_delete(state: CliState, name: str) -> None:
    """Delete a user with their tokens and memberships."""
    with transaction(open_store(state)) as s:
        admin.delete_user(s, name)
    click.echo(f"user {name} deleted")


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@pass_state
def user_passwd(state: CliState, name: str, password_stdin: bool) -> None:
    """Set a user's local password (asked twice, or read from stdin)."""
    ctx = open_store(state)
    with transaction(ctx) as s:
        admin.get_user(s, name)  # an unknown user fails before the password is asked
    password = read_stdin("password") if password_stdin else prompt_twice("password")
    password_hash = ctx.passwords.hash(password)
    with transaction(ctx) as s:
        admin.set_password(s, name, password_hash)
    click.echo(f"password of {name} set")


commands = [user]
