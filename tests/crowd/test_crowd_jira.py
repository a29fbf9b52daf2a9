"""Jira's Crowd client against radiusd's Crowd REST directory: sync, memberships and logins with TOTP."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml
from crowd_harness import APP, APP_PASSWORD, HEADERS, TOTP, body, crowd, jira, login, search, setup_store
from helpers import free_port, write_config


def test_full_sync_memberships_and_lookups(tmp_path: Path) -> None:
    with crowd(setup_store(tmp_path)) as server, jira(server) as client:
        # Jira's full synchronisation: the event token first (404: no incremental sync) …
        assert client.get("/event").status_code == 404
        # … then every user and group, paged, expanded.
        users = search(client, "user", {"start-index": 0, "max-results": 1, "expand": "user"})
        assert users.tag == "users" and [u.get("name") for u in users] == ["alice"]
        assert users[0].findtext("email") == "alice@example.org" and users[0].findtext("active") == "true"
        assert users[0].findtext("display-name") == "alice" and users[0].find("link") is not None
        rest = search(client, "user", {"start-index": 1, "max-results": 1000, "expand": "user"})
        assert [u.get("name") for u in rest] == ["bob"]
        groups = search(client, "group", {"expand": "group"})
        assert [(g.get("name"), g.findtext("type")) for g in groups] == [
            ("jira-administrators", "GROUP"),
            ("jira-users", "GROUP"),
        ]
        # A property restriction, names only (no expand).
        by_name = (
            b"<property-search-restriction><property><name>name</name><type>STRING</type></property>"
            b"<match-mode>EXACTLY_MATCHES</match-mode><value>bob</value></property-search-restriction>"
        )
        found = search(client, "user", {}, by_name)
        assert [(u.get("name"), u.find("email")) for u in found] == [("bob", None)]
        # Memberships in one call.
        memberships = body(client.get("/group/membership"))
        listed = {m.get("group"): [u.get("name") for u in m.find("users")] for m in memberships}  # type: ignore[union-attr]
        assert listed == {"jira-administrators": ["alice"], "jira-users": ["alice", "bob"]}
        # Single look-ups.
        assert body(client.get("/user", params={"username": "bob"})).get("name") == "bob"
        missing = client.get("/user", params={"username": "nobody"})
        assert missing.status_code == 404 and body(missing).findtext("reason") == "USER_NOT_FOUND"
        direct = body(client.get("/user/group/direct", params={"username": "alice"}))
        assert [g.get("name") for g in direct] == ["jira-administrators", "jira-users"]
        nested = body(client.get("/user/group/nested", params={"username": "bob"}))
        assert [g.get("name") for g in nested] == ["jira-users"]
        members = body(client.get("/group/user/direct", params={"groupname": "jira-users"}))
        assert [u.get("name") for u in members] == ["alice", "bob"]
        assert body(client.get("/group", params={"groupname": "jira-users"})).get("name") == "jira-users"
        assert client.get("/group", params={"groupname": "none"}).status_code == 404


def test_wrong_application_gets_401_and_bad_xml_400(tmp_path: Path) -> None:
    with crowd(setup_store(tmp_path)) as server:
        with jira(server, password="wrong") as intruder:
            denied = intruder.get("/user", params={"username": "alice"})
            assert (
                denied.status_code == 401 and body(denied).findtext("reason") == "APPLICATION_ACCESS_DENIED"
            )
        with jira(server) as client:
            bad = client.post("/authentication", params={"username": "alice"}, content=b"<password><value>")
            assert bad.status_code == 400 and body(bad).findtext("reason") == "ILLEGAL_ARGUMENT"
            assert client.get("/user", params={"username": "bob"}).status_code == 200  # still serving


def test_logins_with_right_wrong_and_replayed_codes_over_https(tmp_path: Path) -> None:
    config = setup_store(tmp_path, tls=True)
    with crowd(config) as server, jira(server, verify=str(tmp_path / "tls" / "ca.crt")) as client:
        assert server.url.startswith("https://")
        code = TOTP.now()
        accepted = login(client, "alice", "alice-password" + code)
        assert accepted.status_code == 200, accepted.text
        user = body(accepted)
        assert user.tag == "user" and user.get("name") == "alice" and user.findtext("active") == "true"
        for secret in (
            "alice-password" + code,  # replayed
            "alice-password" + f"{(int(code) + 1) % 1_000_000:06d}",  # wrong code
            "alice-password",  # the password alone (no challenge over Crowd)
            "wrong-password" + TOTP.at(time.time() + 30),
        ):
            refused = login(client, "alice", secret)
            assert refused.status_code == 400
            assert body(refused).findtext("reason") == "INVALID_USER_AUTHENTICATION"
        unknown = login(client, "nobody", "x" + code)
        assert (
            unknown.status_code == 400 and body(unknown).findtext("reason") == "INVALID_USER_AUTHENTICATION"
        )


def test_radiusd_serve_starts_the_crowd_directory(tmp_path: Path) -> None:
    port = free_port(socket.SOCK_STREAM)
    config = setup_store(tmp_path)
    data = yaml.safe_load(config.read_text())
    data["crowd"]["port"] = port
    data["radius"] = {"addresses": ["127.0.0.1"], "auth_port": 0, "acct_port": 0}
    write_config(config, data)
    radiusd = Path(sys.executable).with_name("radiusd")
    process = subprocess.Popen([str(radiusd), "-c", str(config), "serve"], stderr=subprocess.PIPE)
    try:
        token = base64.b64encode(f"{APP}:{APP_PASSWORD}".encode()).decode()
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/rest/usermanagement/1/event",
                    headers={**HEADERS, "Authorization": f"Basic {token}"},
                )
                break
            except httpx.ConnectError:
                assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "radiusd serve did not open the Crowd port"
                time.sleep(0.1)
        assert response.status_code == 404 and response.headers["X-Embedded-Crowd-Version"]
    finally:
        process.terminate()
        process.wait(10)
