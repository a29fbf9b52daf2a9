"""Email codes through the LDAP bind proxy (issue 8, point 3), against slapd and a real SMTP server.

LDAP cannot carry a challenge: a bind with the password alone sends the code and fails (49); the
next bind with the password followed by that code succeeds (0). A replayed or wrong code fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from audit.secret_scan import register_secrets
from delivery_peers import SmtpServer
from ldap3 import Connection, Server
from ldap_server import PEOPLE, Slapd
from ldap_server import slapd as slapd  # the fixture
from proxy_harness import cli, proxy_config, running_proxy

from radiusd.ldap.proxy import LdapProxy

pytestmark = [pytest.mark.debian]


def bind(proxy: LdapProxy, dn: str, secret: str) -> int:
    conn = Connection(Server(proxy.urls[0], connect_timeout=5), user=dn, password=secret, receive_timeout=10)
    conn.open()
    conn.bind()
    code = int(conn.result["result"])
    conn.unbind()
    return code


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def test_email_code_through_the_proxy(slapd: Slapd, tmp_path: Path) -> None:
    if "erin" not in slapd.users:
        slapd.add_user("erin")
    erin = f"uid=erin,{PEOPLE}"
    with SmtpServer(tmp_path / "smtp") as smtp:
        config = proxy_config(tmp_path, slapd, smtp_port=smtp.port, bind_cache_ttl=0)
        cli(config, "init", "--quiet")
        cli(config, "user", "add", "erin", "--no-password", "--email", "erin@example.org")
        cli(config, "token", "add", "erin", "email")
        with running_proxy(config) as proxy:
            # The password alone: the code is sent, the bind fails.
            assert bind(proxy, erin, "erin-password") == 49
            assert len(smtp.wait_for(1)) == 1
            assert smtp.messages[0]["To"] == "erin@example.org"
            code = smtp.last_code()
            register_secrets(code, "erin-password", "erin-password" + code)
            # A wrong code and a wrong password with the right code fail (each an attempt).
            assert bind(proxy, erin, "erin-password" + wrong(code)) == 49
            assert bind(proxy, erin, "bob-password" + code) == 49
            # The password followed by the code: in.
            assert bind(proxy, erin, "erin-password" + code) == 0
            # The same code again: refused (the challenge is closed).
            assert bind(proxy, erin, "erin-password" + code) == 49
            # The password alone again: a new code, which works once.
            assert bind(proxy, erin, "erin-password") == 49
            fresh = smtp.wait_for(2)[-1]
            assert len(smtp.messages) == 2 and fresh["To"] == "erin@example.org"
            new_code = smtp.last_code()
            register_secrets(new_code)
            assert bind(proxy, erin, "erin-password" + new_code) == 0
            assert bind(proxy, erin, "erin-password" + new_code) == 49


def test_attempts_run_out_for_codes_typed_after_the_password(slapd: Slapd, tmp_path: Path) -> None:
    if "frank" not in slapd.users:
        slapd.add_user("frank")
    frank = f"uid=frank,{PEOPLE}"
    with SmtpServer(tmp_path / "smtp") as smtp:
        config = proxy_config(tmp_path, slapd, smtp_port=smtp.port, bind_cache_ttl=0)
        cli(config, "init", "--quiet")
        cli(config, "user", "add", "frank", "--no-password", "--email", "frank@example.org")
        cli(config, "token", "add", "frank", "email")
        with running_proxy(config) as proxy:
            assert bind(proxy, frank, "frank-password") == 49
            code = smtp.last_code()
            register_secrets(code)
            for _ in range(3):  # challenge.attempts defaults to 3
                assert bind(proxy, frank, "frank-password" + wrong(code)) == 49
            assert bind(proxy, frank, "frank-password" + code) == 49  # out of attempts
