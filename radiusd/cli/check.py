"""`radiusd check USER`: try a login through the real engine and show the decision and its reason.

For troubleshooting: the same path as every front door (rules, lockout, backends, factors, audit),
with the internal reason that the front door never shows. It follows challenges by prompting with
the server's message; from a pipe it reads one line per prompt.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from radiusd.cli.main import CliState, pass_state
from radiusd.cli.output import emit_object, json_option
from radiusd.cli.store_access import open_store
from radiusd.engine.engine import Engine
from radiusd.engine.types import AuthRequest, Decision, Outcome

MAX_ROUNDS = 5
"""Challenges followed before giving up (a misbehaving factor must not loop forever)."""


def _ask(prompt: str) -> str:
    """What the user types: hidden at a terminal, one line from a pipe (empty at its end)."""
    if sys.stdin.isatty():
        return str(click.prompt(prompt, hide_input=True, default="", show_default=False, err=True))
    click.echo(prompt, err=True)
    return sys.stdin.readline().rstrip("\r\n")


def _summary(user: str, decision: Decision, rounds: int) -> dict[str, Any]:
    return {
        "user": user,
        "decision": decision.outcome.value,
        "reason": decision.reason,
        "factor": decision.factor or None,
        "message": decision.message or None,
        "reply": [
            f"{name}={value!r}" if isinstance(value, bytes) else f"{name}={value}"
            for name, value in decision.reply
        ],
        "challenges": rounds,
    }


@click.command("check")
@click.argument("user")
@click.option("--client", default="cli", show_default=True, help="The client name the rules see.")
@click.option("--from", "source", metavar="ADDRESS", help="The source address the rules see.")
@click.option(
    "--frontdoor",
    type=click.Choice(["cli", "radius", "pam", "ldap", "crowd", "http"]),
    default="cli",
    show_default=True,
    help="The front door the rules see.",
)
@json_option
@pass_state
def check(state: CliState, user: str, client: str, source: str | None, frontdoor: str, as_json: bool) -> None:
    """Try a login for USER and print the decision with its internal reason.

    Prompts for "Password and code" (hidden; read from stdin when it is not a terminal) and
    answers challenges the same way. Exit status 0 on accept, 1 otherwise.
    """
    ctx = open_store(state)
    secret = _ask("Password and code: ")
    with asyncio.Runner() as runner:
        engine = Engine(ctx)
        try:
            request = AuthRequest(user=user, secret=secret, frontdoor=frontdoor, client=client, source=source)
            decision = runner.run(engine.authenticate(request))
            rounds = 0
            while decision.outcome is Outcome.CHALLENGE and rounds < MAX_ROUNDS:
                rounds += 1
                answer = _ask(f"{decision.message}: ")
                request = AuthRequest(
                    user=user, secret=answer, frontdoor=frontdoor, client=client, source=source,
                    state=decision.state,
                )  # fmt: skip
                decision = runner.run(engine.authenticate(request))
        finally:
            runner.run(engine.close())
    emit_object(_summary(user, decision, rounds), as_json)
    if decision.outcome is not Outcome.ACCEPT:
        raise click.exceptions.Exit(1)


commands = [check]
