"""`radiusd group …`: groups of users, for rules that apply to a team."""

from __future__ import annotations

import click

from radiusd.cli.main import CliState, pass_state
from radiusd.cli.output import emit_rows, json_option
from radiusd.cli.store_access import open_store, transaction
from radiusd.store import admin


@click.group()
def group() -> None:
    """Groups and their members."""


@group.command("add")
@click.argument("name")
@click.option("--description", default="", help="Free text shown in listings.")
@pass_state
def group_add(state: CliState, name: str, description: str) -> None:
    """Create a group."""
    with transaction(open_store(state)) as s:
        admin.add_group(s, name, description)
    click.echo(f"group {name} added")


@group.command("list")
@json_option
@pass_state
def group_list(state: CliState, as_json: bool) -> None:
    """List groups and their members."""
    with transaction(open_store(state)) as s:
        rows = admin.list_groups(s)
    emit_rows(rows, ["name", "members", "description"], as_json)


@group.command("delete")
@click.argument("name")
@pass_state
def group_delete(state: CliState, name: str) -> None:
    """Delete a group (its members stay)."""
    with transaction(open_store(state)) as s:
        admin.delete_group(s, name)
    click.echo(f"group {name} deleted")


@group.command("add-member")
@click.argument("group_name", metavar="GROUP")
@click.argument("user")
@pass_state
def group_add_member(state: CliState, group_name: str, user: str) -> None:
    """Add USER to GROUP."""
    with transaction(open_store(state)) as s:
        admin.add_member(s, group_name, user)
    click.echo(f"{user} added to {group_name}")


@group.command("remove-member")
@click.argument("group_name", metavar="GROUP")
@click.argument("user")
@pass_state
def group_remove_member(state: CliState, group_name: str, user: str) -> None:
    """Remove USER from GROUP."""
    with transaction(open_store(state)) as s:
        admin.remove_member(s, group_name, user)
    click.echo(f"{user} removed from {group_name}")


commands = [group]
