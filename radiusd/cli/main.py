"""`radiusd`: the entry point. Subcommands live one topic per module and are registered below."""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click

from radiusd import __version__
from radiusd.config import Config, ConfigError, load, locate
from radiusd.context import Context

# One module per topic; each exposes `commands`, a list of click commands or groups.
COMMAND_MODULES = [
    "radiusd.cli.init",
    "radiusd.cli.users",
    "radiusd.cli.groups",
    "radiusd.cli.clients",
    "radiusd.cli.tokens",
    "radiusd.cli.audit",
    "radiusd.cli.serve",
    "radiusd.cli.check",
    "radiusd.cli.lockout",
    "radiusd.cli.policy",
    "radiusd.cli.pam",
]


class UsageError(click.ClickException):
    """A one-line error for bad input; exit code 1."""


@dataclass
class CliState:
    config_path: Path | None
    _context: Context | None = field(default=None, repr=False)

    def config(self) -> Config:
        return load(self.config_path)

    def context(self) -> Context:
        if self._context is None:
            self._context = Context(self.config())
        return self._context


pass_state = click.make_pass_decorator(CliState)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="RADIUSD_CONFIG",
    help="Configuration file (default: $RADIUSD_CONFIG, then /etc/radiusd/radiusd.yaml, "
    "then built-in defaults).",
)
@click.version_option(__version__, prog_name="radiusd")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """radiusd: two-factor authentication for VPNs (RADIUS), SSH (PAM) and Jira (LDAP, Crowd).

    Start with `radiusd init`, then add a RADIUS client, a user and a token; `radiusd serve` runs
    the server. Every command has --help.
    """
    state = CliState(locate(config_path))
    ctx.obj = state
    ctx.call_on_close(lambda: state._context.close() if state._context else None)


def _register() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # topic not built yet
            raise
        for command in module.commands:
            cli.add_command(command)


_register()


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
