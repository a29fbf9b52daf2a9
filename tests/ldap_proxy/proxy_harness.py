"""Runs radiusd's LDAP bind proxy (with the real engine) in a thread of the test, in front of slapd."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from helpers import write_config
from ldap_server import PEOPLE, SERVICE_DN, SERVICE_PASSWORD, Slapd, make_certificates

from radiusd.cli.main import cli as radiusd_cli
from radiusd.config import load
from radiusd.context import Context
from radiusd.engine.engine import Engine
from radiusd.ldap.proxy import LdapProxy

TOTP_SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def proxy_config(tmp_path: Path, slapd: Slapd, smtp_port: int | None = None, **proxy: Any) -> Path:
    """The proxy in front of `slapd`, the ldap backend for the first factor; with `smtp_port`, codes
    by email go to that (test) SMTP server."""
    certs = make_certificates(tmp_path / "proxy-tls")
    section = {
        "enabled": True,
        "port": 0,
        "ldaps_port": 0,
        "tls_cert": str(certs.cert_file),
        "tls_key": str(certs.key_file),
        "service_accounts": [SERVICE_DN],
        "application": "jira",
        **proxy,
    }
    delivery = {"smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none", "timeout": 3}}
    return write_config(
        tmp_path / "radiusd.yaml",
        {
            "data_dir": str(tmp_path / "data"),
            **({"delivery": delivery} if smtp_port else {}),
            "backends": {
                "default": "ldap",
                "local": {"time_cost": 1, "memory_cost": 8},
                "ldap": {
                    "servers": [slapd.uri],
                    "bind_dn": SERVICE_DN,
                    "bind_password": SERVICE_PASSWORD,
                    "search_base": PEOPLE,
                },
            },
            "ldap_proxy": section,
        },
    )


def cli(config: Path, *args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(radiusd_cli, ["-c", str(config), *args], input=stdin, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def enrol(config: Path, user: str, *token: str) -> None:
    cli(config, "user", "add", user, "--no-password")
    if token:
        cli(config, "token", "add", user, *token)


@contextmanager
def running_proxy(config: Path) -> Iterator[LdapProxy]:
    """The proxy on its own event loop in a thread, so the test can use a blocking ldap3 client."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    ctx = Context(load(config))

    async def start() -> tuple[Engine, LdapProxy]:
        engine = Engine(ctx)
        proxy = LdapProxy(ctx, engine)
        await proxy.start()
        return engine, proxy

    engine, proxy = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield proxy
    finally:

        async def stop() -> None:
            await proxy.close()
            await engine.close()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        ctx.close()
