"""`radiusd serve`: the RADIUS server in the foreground, logging to stderr."""

from __future__ import annotations

import ipaddress
import sys

import click

from radiusd.cli.main import CliState, UsageError, pass_state
from radiusd.radius.logs import configure_logging
from radiusd.radius.service import Overrides, ServeError, load_config, preflight, run_process
from radiusd.radius.workers import supervise


def _addresses(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    out = []
    for value in values:
        try:
            out.append(str(ipaddress.ip_address(value)))
        except ValueError:
            raise click.BadParameter(f"not an IP address: {value!r}") from None
    return tuple(out)


@click.command()
@click.option(
    "--address",
    "addresses",
    multiple=True,
    callback=_addresses,
    metavar="IP",
    help="Listen on this address (repeatable); overrides radius.addresses.",
)
@click.option("--auth-port", type=click.IntRange(0, 65535), help="Authentication port (default 1812).")
@click.option("--acct-port", type=click.IntRange(0, 65535), help="Accounting port (default 1813).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Server processes sharing the ports (SO_REUSEPORT); overrides radius.workers.",
)
@pass_state
def serve(
    state: CliState,
    addresses: tuple[str, ...],
    auth_port: int | None,
    acct_port: int | None,
    workers: int | None,
) -> None:
    """Serve RADIUS authentication and accounting until SIGTERM.

    SIGTERM finishes the requests in flight and exits 0; SIGHUP reloads clients and rules; SIGUSR1
    logs the counters.
    """
    overrides = Overrides(addresses, auth_port, acct_port)
    config = load_config(state.config_path, overrides)
    configure_logging(config.log)
    count = workers or config.radius.workers
    if count > 1 and 0 in (config.radius.auth_port, config.radius.acct_port):
        raise UsageError("--workers needs fixed ports: port 0 would give every worker its own")
    try:
        if count == 1:
            code = run_process(state.config_path, overrides, reuse_port=False)
        else:
            preflight(config)
            code = supervise(count, state.config_path, overrides)
    except ServeError as exc:
        raise UsageError(str(exc)) from None
    sys.exit(code)


commands = [serve]
