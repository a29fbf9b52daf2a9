"""`radiusd client …`: the RADIUS clients (NAS, VPN gateways) allowed to ask, with their secrets."""

from __future__ import annotations

import click
from pydantic import ValidationError

from radiusd.cli.main import CliState, UsageError, pass_state
from radiusd.cli.output import emit_rows, json_option
from radiusd.cli.secret_input import read_secret
from radiusd.cli.store_access import open_store, transaction
from radiusd.config.radius import RadiusClientConfig
from radiusd.store import admin

# Shorter shared secrets are easy to brute-force from one captured packet.
RECOMMENDED_SECRET_LENGTH = 16


def _options(**flags: object) -> dict[str, object]:
    """Validate the switches with the configuration's own rules (BlastRADIUS included)."""
    try:
        checked = RadiusClientConfig(name="x", address="127.0.0.1", secret="x", **flags)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise UsageError("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None
    return checked.model_dump(exclude={"name", "address", "secret"})


@click.group()
def client() -> None:
    """RADIUS clients: who may send requests, from where, with which shared secret."""


@client.command("add")
@click.argument("name")
@click.argument("address", metavar="ADDRESS_OR_CIDR")
@click.option("--secret-stdin", is_flag=True, help="Read the shared secret from the first line of stdin.")
@click.option(
    "--require-message-authenticator/--no-require-message-authenticator",
    default=True,
    show_default=True,
    help="Drop Access-Requests without Message-Authenticator (BlastRADIUS); turning it off needs "
    "--limit-proxy-state.",
)
@click.option(
    "--limit-proxy-state", is_flag=True, help="Drop requests with Proxy-State but no Message-Authenticator."
)
@click.option(
    "--reply-message-authenticator/--no-reply-message-authenticator",
    default=True,
    show_default=True,
    help="Put Message-Authenticator in replies (off for gateways that drop such replies).",
)
@click.option(
    "--source-attribute",
    type=click.Choice(["Calling-Station-Id", "Framed-IP-Address"]),
    help="Trust this attribute as the user's source address.",
)
@pass_state
def client_add(
    state: CliState,
    name: str,
    address: str,
    secret_stdin: bool,
    require_message_authenticator: bool,
    limit_proxy_state: bool,
    reply_message_authenticator: bool,
    source_attribute: str | None,
) -> None:
    """Allow a RADIUS client at ADDRESS_OR_CIDR (one address or a network)."""
    options = _options(
        require_message_authenticator=require_message_authenticator,
        limit_proxy_state=limit_proxy_state,
        reply_message_authenticator=reply_message_authenticator,
        source_attribute=source_attribute,
    )
    ctx = open_store(state)
    with transaction(ctx) as s:
        admin.parse_network(address)  # a bad address fails before the secret is asked
        admin.ensure_radius_client_absent(s, name)
    secret = read_secret("shared secret", secret_stdin)
    if len(secret) < RECOMMENDED_SECRET_LENGTH:
        click.echo(
            f"warning: a shared secret shorter than {RECOMMENDED_SECRET_LENGTH} characters is weak", err=True
        )
    with transaction(ctx) as s:
        added = admin.add_radius_client(s, ctx.keyring, name, address, secret, options)
    click.echo(f"client {name} added for {added.address}")


@client.command("list")
@json_option
@pass_state
def client_list(state: CliState, as_json: bool) -> None:
    """List RADIUS clients (never their secrets)."""
    with transaction(open_store(state)) as s:
        rows = admin.list_radius_clients(s)
    emit_rows(
        rows,
        ["name", "address", "require_message_authenticator", "limit_proxy_state", "source_attribute"],
        as_json,
    )


@client.command("remove")
@click.argument("name")
@pass_state
def client_remove(state: CliState, name: str) -> None:
    """Remove a RADIUS client."""
    with transaction(open_store(state)) as s:
        admin.remove_radius_client(s, name)
    click.echo(f"client {name} removed")


commands = [client]
