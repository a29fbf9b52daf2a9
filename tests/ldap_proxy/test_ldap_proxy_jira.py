"""Jira's LDAP sequence through the bind proxy, against a real slapd: the acceptance of issue 8 (LDAP)."""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

import pyotp
import pytest
from ldap3 import SUBTREE, Connection, Server, Tls
from ldap3.protocol import rfc4511
from ldap_server import GROUPS, PEOPLE, SERVICE_DN, SERVICE_PASSWORD, Slapd
from ldap_server import slapd as slapd  # the fixture
from proxy_harness import TOTP_SEED, cli, enrol, proxy_config, running_proxy
from pyasn1.codec.ber import encoder

from radiusd.ldap.codec import decode
from radiusd.ldap.proxy import LdapProxy

pytestmark = [pytest.mark.debian]
TOTP = pyotp.TOTP(TOTP_SEED)
MANY = [f"jira{n:02d}" for n in range(12)]


@pytest.fixture(scope="module")
def directory(slapd: Slapd) -> Slapd:
    """More users than one page of Jira's paged search, and alice in groups."""
    for uid in MANY:
        if uid not in slapd.users:
            slapd.add_user(uid)
    return slapd


def client(proxy: LdapProxy, scheme: str) -> Server:
    url = next(u for u in proxy.urls if u.startswith("ldaps:" if scheme == "ldaps" else "ldap:"))
    tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(proxy.config.tls_cert.parent / "ca.crt"))  # type: ignore[union-attr]
    return Server(url, tls=tls, connect_timeout=5)


def connect(
    proxy: LdapProxy, scheme: str, user: str | None = None, password: str | None = None
) -> Connection:
    conn = Connection(client(proxy, scheme), user=user, password=password, receive_timeout=10)
    conn.open()
    if scheme == "starttls":
        assert conn.start_tls()
    return conn


def unauthenticated_bind(dn: str) -> bytes:
    """A simple bind with a DN and an empty password: anonymous per RFC 4513 5.1.2."""
    request = rfc4511.BindRequest()
    request["version"] = 3
    request["name"] = dn
    request["authentication"]["simple"] = ""
    message = rfc4511.LDAPMessage()
    message["messageID"] = 1
    message["protocolOp"]["bindRequest"] = request
    return bytes(encoder.encode(message))


def bind(proxy: LdapProxy, scheme: str, dn: str, secret: str) -> int:
    conn = connect(proxy, scheme, dn, secret)
    conn.bind()
    code = int(conn.result["result"])
    conn.unbind()
    return code


@pytest.mark.parametrize("scheme", ["starttls", "ldaps"])
def test_jira_sequence_through_the_proxy(directory: Slapd, tmp_path: Path, scheme: str) -> None:
    config = proxy_config(tmp_path, directory, bind_cache_ttl=0)
    cli(config, "init", "--quiet")
    enrol(config, "alice", "totp", "--secret", TOTP_SEED)
    alice = f"uid=alice,{PEOPLE}"
    with running_proxy(config) as proxy:
        # 1. Jira's service account: bind, paged user search over more entries than one page.
        service = connect(proxy, scheme, SERVICE_DN, SERVICE_PASSWORD)
        assert service.bind(), service.result
        entries = service.extend.standard.paged_search(
            PEOPLE,
            "(&(objectClass=inetOrgPerson)(uid=*))",
            SUBTREE,
            attributes=["uid", "mail"],
            paged_size=5,
            generator=False,
        )
        uids = {e["attributes"]["uid"][0] for e in entries if e["type"] == "searchResEntry"}
        assert set(MANY) | {"alice", "bob", "carol"} <= uids
        assert len(uids) > 5
        # 2. Group search on uniqueMember.
        assert service.search(
            GROUPS, f"(&(objectClass=groupOfUniqueNames)(uniqueMember={alice}))", SUBTREE, attributes=["cn"]
        )
        assert sorted(e.cn.value for e in service.entries) == ["admins", "jira-users"]
        # 3. A write is refused.
        assert not service.modify(alice, {"mail": [("MODIFY_REPLACE", ["x@example.org"])]})
        assert service.result["result"] == 50
        assert not service.add(f"uid=eve,{PEOPLE}", ["inetOrgPerson"], {"cn": "e", "sn": "e"})
        assert service.result["result"] == 50
        service.unbind()
        # 4. The user's login on a new connection: password+TOTP.
        code = TOTP.now()
        assert bind(proxy, scheme, alice, "alice-password" + code) == 0
        assert bind(proxy, scheme, alice, "alice-password" + code) == 49  # the same code again
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        assert bind(proxy, scheme, alice, "alice-password" + wrong) == 49
        assert bind(proxy, scheme, alice, "alice-password") == 49  # the password alone
        assert bind(proxy, scheme, alice, "bob-password" + TOTP.at(time.time() + 30)) == 49


def test_bind_cache_lets_the_same_login_bind_twice(directory: Slapd, tmp_path: Path) -> None:
    config = proxy_config(tmp_path, directory)  # default TTL: 30 s
    cli(config, "init", "--quiet")
    enrol(config, "bob", "totp", "--secret", TOTP_SEED)
    bob = f"uid=bob,{PEOPLE}"
    with running_proxy(config) as proxy:
        secret = "bob-password" + TOTP.now()
        assert bind(proxy, "ldaps", bob, secret) == 0
        assert bind(proxy, "ldaps", bob, secret) == 0  # Jira's second bind of the same login
        assert bind(proxy, "ldaps", bob, secret + "0") == 49  # anything else still goes to the engine


def test_anonymous_unauthenticated_and_garbage_are_refused(directory: Slapd, tmp_path: Path) -> None:
    config = proxy_config(tmp_path, directory)
    cli(config, "init", "--quiet")
    with running_proxy(config) as proxy:
        anonymous = connect(proxy, "ldaps")
        assert not anonymous.bind() and anonymous.result["result"] == 48
        anonymous.unbind()
        host, port = proxy.urls[0].removeprefix("ldap://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            raw.sendall(unauthenticated_bind(f"uid=alice,{PEOPLE}"))  # ldap3 refuses to send one
            assert decode(raw.recv(4096)).op["resultCode"] == 53
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            raw.sendall(b"\x30\x03\x02\x01\x01" + b"\x00" * 8)  # a truncated, malformed message
            assert raw.recv(4096)[:1] == b"\x30"  # a notice of disconnection, then the end
        # The proxy still serves everyone else.
        service = connect(proxy, "starttls", SERVICE_DN, SERVICE_PASSWORD)
        assert service.bind()
        service.unbind()
