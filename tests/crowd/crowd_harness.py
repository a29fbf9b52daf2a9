"""Runs radiusd's Crowd directory (with the real engine) in a thread of the test, and talks to it the
way Jira's Crowd client does (headers, XML bodies, query strings)."""

from __future__ import annotations

import asyncio
import base64
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pyotp
from click.testing import CliRunner
from helpers import write_config
from ldap_server import make_certificates

from radiusd.cli.main import cli as radiusd_cli
from radiusd.config import load
from radiusd.context import Context
from radiusd.crowd.server import CrowdServer
from radiusd.engine.engine import Engine

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
TOTP = pyotp.TOTP(SEED)
APP, APP_PASSWORD = "jira", "app-secret"
# What Jira's RestCrowdClient sends with every request.
HEADERS = {"Accept": "application/xml", "Content-Type": "application/xml; charset=UTF-8"}


def run(config: Path, *args: str, stdin: str | None = None) -> None:
    result = CliRunner().invoke(radiusd_cli, ["-c", str(config), *args], input=stdin, catch_exceptions=False)
    assert result.exit_code == 0, result.output


def crowd_config(tmp_path: Path, tls: bool = False, crowd: dict[str, Any] | None = None, **top: Any) -> Path:
    """A configuration with the Crowd directory on a free port; `top` adds top-level sections."""
    section: dict[str, Any] = {"enabled": True, "port": 0, "application": APP, "password": APP_PASSWORD}
    if tls:
        certs = make_certificates(tmp_path / "tls")
        section |= {"tls_cert": str(certs.cert_file), "tls_key": str(certs.key_file)}
    config = write_config(
        tmp_path / "radiusd.yaml",
        {
            "data_dir": str(tmp_path / "data"),
            "backends": {"local": {"time_cost": 1, "memory_cost": 8}},
            "crowd": section | (crowd or {}),
            **top,
        },
    )
    run(config, "init", "--quiet")
    return config


def setup_store(tmp_path: Path, tls: bool = False) -> Path:
    """alice (TOTP, both groups) and bob (jira-users) in the store."""
    config = crowd_config(tmp_path, tls)
    run(config, "group", "add", "jira-users")
    run(config, "group", "add", "jira-administrators")
    run(config, "user", "add", "alice", "--password-stdin", "--email", "alice@example.org",
        "--group", "jira-users", "--group", "jira-administrators", stdin="alice-password\n")  # fmt: skip
    run(config, "user", "add", "bob", "--password-stdin", "--group", "jira-users", stdin="bob-password\n")
    run(config, "token", "add", "alice", "totp", "--secret", SEED)
    return config


@contextmanager
def crowd(config: Path) -> Iterator[CrowdServer]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    ctx = Context(load(config))

    async def start() -> tuple[Engine, CrowdServer]:
        engine = Engine(ctx)
        server = CrowdServer(ctx, engine)
        await server.start()
        return engine, server

    engine, server = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield server
    finally:

        async def stop() -> None:
            await server.close()
            await engine.close()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        ctx.close()


def jira(server: CrowdServer, password: str = APP_PASSWORD, verify: str | bool = False) -> httpx.Client:
    token = base64.b64encode(f"{APP}:{password}".encode()).decode()
    return httpx.Client(
        base_url=server.url + "/rest/usermanagement/1",
        headers={**HEADERS, "Authorization": f"Basic {token}"},
        verify=verify,
        timeout=10,
    )


def body(response: httpx.Response) -> ET.Element:
    assert response.headers["X-Embedded-Crowd-Version"].startswith("Crowd/")
    assert response.headers["Content-Type"].startswith("application/xml")
    return ET.fromstring(response.content)


def login(client: httpx.Client, user: str, secret: str) -> httpx.Response:
    password = ET.Element("password")
    ET.SubElement(password, "value").text = secret
    return client.post("/authentication", params={"username": user}, content=ET.tostring(password))


NULL_SEARCH = b"<?xml version='1.0' encoding='UTF-8'?><null-search-restriction/>"


def search(
    client: httpx.Client, entity: str, params: dict[str, object], xml: bytes = NULL_SEARCH
) -> ET.Element:
    return body(client.post("/search", params={"entity-type": entity, **params}, content=xml))  # type: ignore[arg-type]
