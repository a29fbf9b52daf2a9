"""`crowd.directory: ldap`: Jira's sync reads users and groups from a real slapd (issue 8, point 2).

Users are inetOrgPerson entries (uid, cn, sn, givenName, displayName, mail), groups
groupOfUniqueNames; the directory is read with paged searches through backends.ldap's service
account. Logins still need the user's token in radiusd's store; the password is the directory's.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any

import pytest
from crowd_harness import SEED, TOTP, body, crowd, crowd_config, jira, login, run, search
from helpers import free_port, write_config
from ldap_server import GROUPS, PEOPLE, SERVICE_DN, SERVICE_PASSWORD, Slapd
from ldap_server import slapd as slapd  # the fixture

from radiusd.config import ConfigError, load

pytestmark = [pytest.mark.debian]
EXTRA = [f"crowd{n:02d}" for n in range(7)]


def ldap_backend(servers: list[str]) -> dict[str, Any]:
    return {
        "default": "ldap",
        "local": {"time_cost": 1, "memory_cost": 8},
        "ldap": {
            "servers": servers,
            "bind_dn": SERVICE_DN,
            "bind_password": SERVICE_PASSWORD,
            "search_base": PEOPLE,
            "group_search_base": GROUPS,
        },
    }


@pytest.fixture(scope="module")
def directory(slapd: Slapd) -> Slapd:
    for uid in EXTRA:
        if uid not in slapd.users:
            slapd.add_user(uid)
    return slapd


def test_sync_from_the_ldap_directory(
    directory: Slapd, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = crowd_config(
        tmp_path,
        crowd={"directory": "ldap", "ldap": {"page_size": 3, "cache_seconds": 0}},
        backends=ldap_backend([directory.uri]),
    )
    run(config, "user", "add", "alice", "--no-password")  # her token lives in radiusd's store
    run(config, "token", "add", "alice", "totp", "--secret", SEED)
    with crowd(config) as server, jira(server) as client, caplog.at_level(logging.INFO, "radiusd.crowd"):
        users = search(client, "user", {"expand": "user", "max-results": 1000})
        names = [u.get("name") for u in users]
        assert {"alice", "bob", "carol", *EXTRA} <= set(names) and names == sorted(names)
        alice = next(u for u in users if u.get("name") == "alice")
        assert (alice.findtext("first-name"), alice.findtext("last-name")) == ("Alice", "Tester")
        assert alice.findtext("display-name") == "Alice Tester"
        assert alice.findtext("email") == "alice@example.org" and alice.findtext("active") == "true"
        # More users than one page: the directory was read in several pages.
        pages = [r.getMessage() for r in caplog.records if "from the directory in" in r.getMessage()]
        assert pages and int(pages[-1].rsplit(" in ", 1)[1].split()[0]) > 2
        # Paging through Crowd's own start-index / max-results.
        first = search(client, "user", {"start-index": 0, "max-results": 2})
        rest = search(client, "user", {"start-index": 2, "max-results": 1000})
        assert [u.get("name") for u in first] + [u.get("name") for u in rest] == names
        # Groups and memberships from groupOfUniqueNames.
        groups = search(client, "group", {"expand": "group"})
        assert {"admins", "jira-users"} <= {g.get("name") for g in groups}
        memberships = body(client.get("/group/membership"))
        listed = {m.get("group"): [u.get("name") for u in m.find("users")] for m in memberships}  # type: ignore[union-attr]
        assert listed["jira-users"] == ["alice", "bob"] and listed["admins"] == ["alice"]
        direct = body(client.get("/user/group/direct", params={"username": "alice"}))
        assert [g.get("name") for g in direct] == ["admins", "jira-users"]
        members = body(client.get("/group/user/direct", params={"groupname": "admins"}))
        assert [u.get("name") for u in members] == ["alice"]
        by_mail = (
            b"<property-search-restriction><property><name>email</name><type>STRING</type></property>"
            b"<match-mode>EXACTLY_MATCHES</match-mode><value>carol@example.org</value>"
            b"</property-search-restriction>"
        )
        assert [u.get("name") for u in search(client, "user", {}, by_mail)] == ["carol"]
        # A login: the directory's password, the store's token; the answer is the directory's user.
        accepted = login(client, "alice", "alice-password" + TOTP.now())
        assert accepted.status_code == 200, accepted.text
        assert body(accepted).findtext("display-name") == "Alice Tester"
        assert login(client, "bob", "bob-password").status_code == 400  # no token, no login


def test_an_unreachable_directory_is_an_error_not_an_empty_sync(tmp_path: Path) -> None:
    nowhere = f"ldap://127.0.0.1:{free_port(socket.SOCK_STREAM)}"
    config = crowd_config(tmp_path, crowd={"directory": "ldap"}, backends=ldap_backend([nowhere]))
    with crowd(config) as server, jira(server) as client:
        failed = client.post("/search", params={"entity-type": "user"}, content=b"<null-search-restriction/>")
        assert failed.status_code == 500 and body(failed).findtext("reason") == "OPERATION_FAILED"
        assert client.get("/user", params={"username": "alice"}).status_code == 500


def test_directory_ldap_needs_the_ldap_backend(tmp_path: Path) -> None:
    crowd_section = {"enabled": True, "password": "app-secret", "directory": "ldap"}
    path = write_config(tmp_path / "radiusd.yaml", {"data_dir": str(tmp_path), "crowd": crowd_section})
    with pytest.raises(ConfigError) as refused:
        load(path)
    assert "crowd.directory: ldap needs backends.ldap" in str(refused.value)
