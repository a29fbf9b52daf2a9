"""Users and groups as Jira's Crowd client sees them: from radiusd's store, or from the LDAP directory.

`crowd.directory: store` (the default) reads the store's users and groups; `crowd.directory: ldap`
reads inetOrgPerson users (uid, cn, sn, givenName, displayName, mail) and groupOfUniqueNames /
groupOfNames groups through backends.ldap's servers, TLS settings and service account, with paged
searches, in a thread of its own (never on the event loop). Either way the whole directory is read
at once: Jira asks for all of it at each synchronisation. A directory read that fails is an error,
never a partial answer (Jira would remove the users it did not see).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Protocol

from ldap3 import SUBTREE, Connection
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from radiusd.backends.base import BlockingRunner
from radiusd.backends.ldap import LdapDirectory, LdapUnreachable, close
from radiusd.config.backends import LdapBackendConfig
from radiusd.config.crowd import CrowdLdapConfig
from radiusd.context import Context
from radiusd.ldap.proxy import normalise_dn
from radiusd.store.database import Database
from radiusd.store.models import Group, User

log = logging.getLogger("radiusd.crowd")

SUCCESS = 0
MEMBER_ATTRIBUTES = ("uniqueMember", "member")
_OPTIONAL_UID = re.compile(r"#'[01]*'B$")
"""uniqueMember is nameAndOptionalUID: a DN possibly followed by #'0101'B."""


class DirectoryError(Exception):
    """The users and groups could not be read (the cause, for the log)."""


@dataclass(frozen=True, slots=True)
class CrowdUser:
    name: str
    email: str
    active: bool
    groups: tuple[str, ...]
    first_name: str = ""
    last_name: str = ""
    display_name: str = ""


@dataclass(frozen=True, slots=True)
class CrowdGroup:
    name: str
    description: str
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Snapshot:
    users: dict[str, CrowdUser]
    groups: dict[str, CrowdGroup]


class Directory(Protocol):
    async def snapshot(self) -> Snapshot: ...

    def close(self) -> None: ...


# -- the store -----------------------------------------------------------------------------------


def read_store(db: Database) -> Snapshot:
    """The whole directory in one read."""
    with db.session() as s:
        users = s.scalars(select(User).options(selectinload(User.groups)).order_by(User.name)).all()
        groups = s.scalars(select(Group).options(selectinload(Group.members)).order_by(Group.name)).all()
        return Snapshot(
            {
                u.name: CrowdUser(u.name, u.email or "", u.enabled, tuple(sorted(g.name for g in u.groups)))
                for u in users
            },
            {
                g.name: CrowdGroup(g.name, g.description, tuple(sorted(m.name for m in g.members)))
                for g in groups
            },
        )


class StoreDirectory:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def snapshot(self) -> Snapshot:
        return await self.db.run(read_store, self.db)

    def close(self) -> None:
        pass


# -- LDAP ----------------------------------------------------------------------------------------


def _first(attributes: dict[str, Any], name: str) -> str:
    values = attributes.get(name)
    if isinstance(values, list):
        return str(values[0]) if values else ""
    return "" if values is None else str(values)


def _all(attributes: dict[str, Any], name: str) -> list[str]:
    values = attributes.get(name)
    if values is None:
        return []
    return [str(v) for v in (values if isinstance(values, list) else [values])]


class LdapReader:
    """Blocking: one connection, the service account's bind, two paged searches."""

    def __init__(self, backend: LdapBackendConfig, config: CrowdLdapConfig) -> None:
        self.backend, self.config = backend, config
        self.directory = LdapDirectory(backend)
        self.pages = 0
        """Pages read by the last `read` (for the log)."""

    def _paged(self, conn: Connection, base: str, filt: str, attributes: list[str]) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        cookie: bytes | None = None
        while True:
            conn.search(
                base, filt, SUBTREE, attributes=attributes,
                paged_size=self.config.page_size, paged_cookie=cookie,
            )  # fmt: skip
            self.pages += 1
            if conn.result.get("result") != SUCCESS:
                raise DirectoryError(
                    f"search {base}: {conn.result.get('description')} ({conn.result.get('result')})"
                )
            entries += [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
            control = (conn.result.get("controls") or {}).get("1.2.840.113556.1.4.319") or {}
            cookie = control.get("value", {}).get("cookie")
            if not cookie:
                return entries

    def read(self) -> Snapshot:
        cfg, backend = self.config, self.backend
        self.pages = 0
        try:
            conn = self.directory.connect()
        except LdapUnreachable as exc:
            raise DirectoryError(f"no server reachable ({exc})") from None
        try:
            self.directory.bind_service(conn)
            name_attr = backend.user_attribute
            user_base = cfg.user_base or backend.search_base
            assert user_base is not None  # the configuration's validation says so
            people = self._paged(
                conn,
                user_base,
                cfg.user_filter,
                [name_attr, "mail", "givenName", "sn", "cn", "displayName"],
            )
            group_base = cfg.group_base or backend.group_search_base
            found = (
                self._paged(
                    conn,
                    group_base,
                    cfg.group_filter,
                    [backend.group_name_attribute, "description", *MEMBER_ATTRIBUTES],
                )
                if group_base
                else []
            )
        except DirectoryError:
            raise
        except Exception as exc:  # anything ldap3 raises: no partial directory
            raise DirectoryError(f"{exc.__class__.__name__}: {str(exc)[:200]}") from None
        finally:
            close(conn)

        by_dn: dict[str, str] = {}
        fields: dict[str, dict[str, Any]] = {}
        for entry in people:
            attributes = entry.get("attributes") or {}
            name = _first(attributes, name_attr)
            if not name or name in fields:
                continue
            by_dn[normalise_dn(entry["dn"])] = name
            fields[name] = attributes
        groups: dict[str, CrowdGroup] = {}
        member_of: dict[str, list[str]] = {}
        for entry in found:
            attributes = entry.get("attributes") or {}
            group = _first(attributes, backend.group_name_attribute)
            if not group or group in groups:
                continue
            members = {
                by_dn[key]
                for attr in MEMBER_ATTRIBUTES
                for dn in _all(attributes, attr)
                if (key := normalise_dn(_OPTIONAL_UID.sub("", dn))) in by_dn
            }
            groups[group] = CrowdGroup(group, _first(attributes, "description"), tuple(sorted(members)))
            for member in members:
                member_of.setdefault(member, []).append(group)
        users = {
            name: CrowdUser(
                name,
                _first(a, "mail"),
                True,
                tuple(sorted(member_of.get(name, []))),
                first_name=_first(a, "givenName"),
                last_name=_first(a, "sn"),
                display_name=_first(a, "displayName") or _first(a, "cn"),
            )
            for name, a in sorted(fields.items())
        }
        return Snapshot(users, dict(sorted(groups.items())))


class LdapSource:
    """The LDAP directory read off the event loop, one read at a time, kept `cache_seconds`."""

    def __init__(self, backend: LdapBackendConfig, config: CrowdLdapConfig) -> None:
        self.reader = LdapReader(backend, config)
        self.config = config
        self._runner = BlockingRunner("crowd-ldap", config.timeout, workers=1)
        self._lock = asyncio.Lock()
        self._cached: tuple[float, Snapshot] | None = None

    async def snapshot(self) -> Snapshot:
        async with self._lock:  # a sync's requests share one read rather than each starting one
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self.config.cache_seconds:
                return self._cached[1]
            try:
                snapshot = await self._runner.run(self.reader.read)
            except TimeoutError:
                raise DirectoryError(f"no complete answer within {self.config.timeout:g}s") from None
            log.info(
                "crowd: read %d users and %d groups from the directory in %d pages",
                len(snapshot.users),
                len(snapshot.groups),
                self.reader.pages,
            )
            self._cached = (now, snapshot)
            return snapshot

    def close(self) -> None:
        self._runner.close()


def directory_for(ctx: Context) -> Directory:
    """The source `crowd.directory` names."""
    cfg = ctx.config
    if cfg.crowd.directory == "ldap":
        assert cfg.backends.ldap is not None  # the configuration's validation says so
        return LdapSource(cfg.backends.ldap, cfg.crowd.ldap)
    return StoreDirectory(ctx.db)
