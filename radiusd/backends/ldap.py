"""The LDAP backend: a bind to the organisation's directory (ldap3), with failover and groups.

Blocking ldap3 calls run in the backend's own thread pool under one deadline. Each check uses its
own connection, so threads never share ldap3 state.
"""

from __future__ import annotations

import contextlib
import math
import ssl
from dataclasses import dataclass
from typing import Any

from ldap3 import BASE, NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn, parse_dn

from radiusd.backends.base import BlockingRunner, FirstFactorResult
from radiusd.config.backends import LdapBackendConfig

INVALID_CREDENTIALS = 49


class LdapUnreachable(Exception):
    """No configured server answered (each URI with its cause)."""


@dataclass(frozen=True, slots=True)
class LdapUser:
    dn: str
    name: str
    attributes: dict[str, list[str]]


def group_name(dn: str) -> str:
    """The first RDN's value: cn=jira-users,ou=groups,dc=example,dc=org → jira-users."""
    try:
        return str(parse_dn(dn, escape=False)[0][1])
    except (LDAPException, IndexError):
        return dn


class LdapDirectory:
    """Connections with failover, and the look-ups the backend, the bind proxy and Crowd share."""

    def __init__(self, config: LdapBackendConfig) -> None:
        self.config = config
        tls = Tls(
            validate=ssl.CERT_REQUIRED if config.verify_certificate else ssl.CERT_NONE,
            ca_certs_file=str(config.ca_file) if config.ca_file else None,
            version=ssl.PROTOCOL_TLS_CLIENT,
        )
        self._servers = [
            Server(uri, connect_timeout=config.connect_timeout, tls=tls, get_info=NONE)
            for uri in config.servers
        ]

    def connect(self) -> Connection:
        """An open (StartTLS'd if configured), not yet bound connection to the first server that answers."""
        causes = []
        for server in self._servers:
            # ldap3 packs receive_timeout into SO_RCVTIMEO as whole seconds.
            conn = Connection(
                server,
                receive_timeout=max(1, math.ceil(self.config.timeout)),
                auto_referrals=False,
                raise_exceptions=False,
            )
            try:
                conn.open()
                if self.config.start_tls and not server.ssl and not conn.start_tls():
                    raise LDAPException(f"StartTLS refused: {conn.result.get('description')}")
                return conn
            except Exception as exc:  # socket, TLS and protocol errors alike: try the next server
                close(conn)
                causes.append(f"{server.name}: {_short(exc)}")
        raise LdapUnreachable("; ".join(causes))

    def bind_service(self, conn: Connection) -> None:
        """Bind as the service account (or stay anonymous without one)."""
        if self.config.bind_dn and not conn.rebind(self.config.bind_dn, self.config.bind_password):
            raise LDAPException(f"service account bind failed: {_result(conn)}")

    def find_user(self, conn: Connection, username: str) -> LdapUser | None:
        cfg = self.config
        attributes = [cfg.user_attribute] + ([cfg.group_attribute] if cfg.group_attribute else [])
        if cfg.user_dn_template:
            dn = cfg.user_dn_template.format(user=escape_rdn(username))
            if cfg.search_base is None:  # nothing to search: the template is the answer
                return LdapUser(dn, username, {})
            base, filt, scope = dn, "(objectClass=*)", BASE
        else:
            base, filt, scope = (
                cfg.search_base,
                cfg.search_filter.format(user=escape_filter_chars(username)),
                SUBTREE,
            )
        conn.search(base, filt, scope, attributes=attributes, size_limit=2)
        entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
        if len(entries) != 1:
            return None
        return LdapUser(entries[0]["dn"], username, _attributes(entries[0]))

    def user_for_dn(self, conn: Connection, dn: str) -> LdapUser | None:
        """The user whose entry is `dn`, named by user_attribute (the bind proxy's DN → user name)."""
        attr = self.config.user_attribute
        conn.search(dn, "(objectClass=*)", BASE, attributes=[attr])
        entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
        values = _attributes(entries[0]).get(attr.lower(), []) if entries else []
        return LdapUser(entries[0]["dn"], values[0], {}) if values else None

    def groups_of(self, conn: Connection, user: LdapUser) -> tuple[str, ...]:
        cfg = self.config
        names: list[str] = []
        if cfg.group_attribute:
            values = user.attributes.get(cfg.group_attribute.lower())
            if values is None and not user.attributes:  # template without a read: read it now
                conn.search(user.dn, "(objectClass=*)", BASE, attributes=[cfg.group_attribute])
                entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
                values = _attributes(entries[0]).get(cfg.group_attribute.lower()) if entries else None
            names += [group_name(dn) for dn in values or []]
        if cfg.group_search_base:
            filt = cfg.group_search_filter.format(
                dn=escape_filter_chars(user.dn), user=escape_filter_chars(user.name)
            )
            conn.search(cfg.group_search_base, filt, SUBTREE, attributes=[cfg.group_name_attribute])
            for entry in conn.response or []:
                if entry.get("type") == "searchResEntry":
                    names += _attributes(entry).get(cfg.group_name_attribute.lower(), [])[:1]
        return tuple(dict.fromkeys(names))


class LdapBackend:
    name = "ldap"

    def __init__(self, config: LdapBackendConfig) -> None:
        self.directory = LdapDirectory(config)
        self._runner = BlockingRunner("backend-ldap", config.timeout)

    async def verify(self, username: str, password: str, password_hash: str | None) -> FirstFactorResult:
        # An LDAP simple bind with an empty password is an anonymous bind: it would "succeed".
        if not password:
            return FirstFactorResult(False, "ldap: empty password refused")
        if not username or "\x00" in username or "\x00" in password:
            return FirstFactorResult(False, "ldap: empty user name or NUL refused")
        try:
            return await self._runner.run(self._check, username, password)
        except TimeoutError:
            return FirstFactorResult(False, f"ldap: no answer within {self._runner.timeout:g}s")

    def _check(self, username: str, password: str) -> FirstFactorResult:
        directory = self.directory
        try:
            conn = directory.connect()
        except LdapUnreachable as exc:
            return FirstFactorResult(False, f"ldap: no server reachable ({exc})")
        try:
            has_service = directory.config.bind_dn is not None
            directory.bind_service(conn)
            user = directory.find_user(conn, username)
            if user is None:
                return FirstFactorResult(False, "ldap: user not found")
            groups = directory.groups_of(conn, user) if has_service else ()
            if not conn.rebind(user.dn, password):
                if conn.result.get("result") == INVALID_CREDENTIALS:
                    return FirstFactorResult(False, "ldap: wrong password")
                return FirstFactorResult(False, f"ldap: bind failed: {_result(conn)}")
            if not has_service:
                groups = directory.groups_of(conn, user)
            return FirstFactorResult(True, "password ok", groups)
        except Exception as exc:  # anything ldap3 raises is a reject with its cause, never a crash
            return FirstFactorResult(False, f"ldap: {_short(exc)}")
        finally:
            close(conn)

    def close(self) -> None:
        self._runner.close()


def close(conn: Connection) -> None:
    """Unbind and close; a connection that already broke has nothing left to say."""
    with contextlib.suppress(Exception):
        conn.unbind()


def _attributes(entry: dict[str, Any]) -> dict[str, list[str]]:
    raw = entry.get("attributes") or {}  # ldap3's CaseInsensitiveDict
    return {k.lower(): [str(v) for v in (vs if isinstance(vs, list) else [vs])] for k, vs in raw.items()}


def _result(conn: Connection) -> str:
    result = conn.result or {}
    return f"{result.get('description', 'unknown')} ({result.get('result', '?')})"


def _short(exc: BaseException) -> str:
    # ldap3 messages can be long nested tuples; the class and first line are what an operator needs.
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{exc.__class__.__name__}: {text}"[:200] if text else exc.__class__.__name__
