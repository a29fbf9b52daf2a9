"""The LDAP backend against a real slapd: DN template, service-account search, groups, failover, TLS."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest
from ldap_server import PEOPLE, SERVICE_DN, SERVICE_PASSWORD, Slapd, free_port, make_certificates
from ldap_server import slapd as slapd  # the fixture

from radiusd.backends.base import FirstFactorResult
from radiusd.backends.ldap import LdapBackend
from radiusd.config.backends import LdapBackendConfig

pytestmark = [pytest.mark.debian]


def config(tmp_path: Path, **fields: Any) -> LdapBackendConfig:
    fields.setdefault("timeout", 5)
    return LdapBackendConfig.model_validate(fields, context={"base": tmp_path})


def check(cfg: LdapBackendConfig, user: str, password: str) -> FirstFactorResult:
    backend = LdapBackend(cfg)
    try:
        result = asyncio.run(backend.verify(user, password, None))
    finally:
        backend.close()
    assert not password or password not in result.reason
    return result


def template(server: Slapd, tmp_path: Path, **more: Any) -> LdapBackendConfig:
    return config(tmp_path, servers=[server.uri], user_dn_template=f"uid={{user}},{PEOPLE}", **more)


def service_search(server: Slapd, tmp_path: Path, **more: Any) -> LdapBackendConfig:
    return config(
        tmp_path,
        servers=[server.uri],
        bind_dn=SERVICE_DN,
        bind_password=SERVICE_PASSWORD,
        search_base=PEOPLE,
        **more,
    )


def test_dn_template_binds_and_reads_member_of(slapd: Slapd, tmp_path: Path) -> None:
    result = check(template(slapd, tmp_path), "alice", "alice-password")
    assert result == FirstFactorResult(True, "password ok", ("jira-users", "admins"))


def test_search_with_service_account_and_group_search(slapd: Slapd, tmp_path: Path) -> None:
    cfg = service_search(
        slapd, tmp_path, group_attribute=None, group_search_base="ou=groups,dc=example,dc=org"
    )
    assert check(cfg, "bob", "bob-password") == FirstFactorResult(True, "password ok", ("jira-users",))
    assert check(cfg, "carol", "carol-password") == FirstFactorResult(True, "password ok", ())


def test_wrong_password_unknown_user_and_filter_injection(slapd: Slapd, tmp_path: Path) -> None:
    searched, templated = service_search(slapd, tmp_path), template(slapd, tmp_path)
    assert check(searched, "alice", "bob-password") == FirstFactorResult(False, "ldap: wrong password")
    assert check(templated, "alice", "bob-password") == FirstFactorResult(False, "ldap: wrong password")
    assert check(searched, "mallory", "x") == FirstFactorResult(False, "ldap: user not found")
    assert check(searched, "*", "alice-password") == FirstFactorResult(False, "ldap: user not found")
    assert check(templated, "alice,ou=people", "alice-password").ok is False


def test_empty_password_is_refused_not_an_anonymous_bind(slapd: Slapd, tmp_path: Path) -> None:
    assert check(template(slapd, tmp_path), "alice", "") == FirstFactorResult(
        False, "ldap: empty password refused"
    )


def test_failover_when_the_first_server_is_down(slapd: Slapd, tmp_path: Path) -> None:
    dead = f"ldap://127.0.0.1:{free_port(socket.SOCK_STREAM)}"
    cfg = config(tmp_path, servers=[dead, slapd.uri], user_dn_template=f"uid={{user}},{PEOPLE}")
    assert check(cfg, "alice", "alice-password").ok


def test_unreachable_servers_reject_with_reason(tmp_path: Path) -> None:
    dead = f"ldap://127.0.0.1:{free_port(socket.SOCK_STREAM)}"
    cfg = config(tmp_path, servers=[dead], user_dn_template=f"uid={{user}},{PEOPLE}")
    result = check(cfg, "alice", "alice-password")
    assert not result.ok
    assert result.reason.startswith(f"ldap: no server reachable ({dead}: LDAPSocketOpenError")


def test_start_tls_and_ldaps_with_the_ca_file(slapd: Slapd, tmp_path: Path) -> None:
    ca = str(slapd.certs.ca_file)
    start_tls = template(slapd, tmp_path, start_tls=True, ca_file=ca)
    assert check(start_tls, "alice", "alice-password").ok
    ldaps = config(tmp_path, servers=[slapd.ldaps_uri], user_dn_template=f"uid={{user}},{PEOPLE}", ca_file=ca)
    assert check(ldaps, "bob", "bob-password") == FirstFactorResult(True, "password ok", ("jira-users",))


def test_untrusted_certificate_is_unreachable_not_an_accept(slapd: Slapd, tmp_path: Path) -> None:
    other_ca = str(make_certificates(tmp_path / "other").ca_file)
    for cfg in (
        template(slapd, tmp_path, start_tls=True, ca_file=other_ca),
        config(
            tmp_path, servers=[slapd.ldaps_uri], user_dn_template=f"uid={{user}},{PEOPLE}", ca_file=other_ca
        ),
    ):
        result = check(cfg, "alice", "alice-password")
        assert not result.ok and result.reason.startswith("ldap: no server reachable"), result.reason


def test_configuration_errors_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="user_dn_template, or search_base"):
        config(tmp_path, servers=["ldap://127.0.0.1"])
    with pytest.raises(ValueError, match="not an ldap"):
        config(tmp_path, servers=["http://127.0.0.1"], search_base="dc=x")
