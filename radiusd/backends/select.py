"""Which backend checks a user's password: the user's own, else the realm's, else the default."""

from __future__ import annotations

from typing import Any

from radiusd.backends.base import PasswordBackend
from radiusd.backends.none import NoFirstFactor, UnavailableBackend
from radiusd.context import Context

KNOWN = ("local", "pam", "ldap", "none")


class Backends:
    """Builds each configured backend once, on first use, and picks one per user."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._built: dict[str, Any] = {}

    def name_for(self, username: str, user_backend: str | None) -> str:
        """users.backend, else backends.realms by the part after the last '@', else backends.default."""
        cfg = self._ctx.config.backends
        if user_backend:
            return user_backend.strip().lower()
        _, at, realm = username.rpartition("@")
        if at:
            for name, backend in cfg.realms.items():
                if name.lower() == realm.lower():
                    return backend
        return cfg.default

    def for_user(self, username: str, user_backend: str | None) -> PasswordBackend:
        return self.get(self.name_for(username, user_backend))

    def get(self, name: str) -> PasswordBackend:
        backend = self._built.get(name)
        if backend is None:
            backend = self._built[name] = self._build(name)
        return backend  # type: ignore[no-any-return]

    def _build(self, name: str) -> Any:
        cfg = self._ctx.config
        if name == "local":
            from radiusd.backends.local import LocalBackend

            return LocalBackend(self._ctx.passwords, cfg.engine.backend_timeout)
        if name == "pam":
            from radiusd.backends.pam import PamBackend

            return PamBackend(cfg.backends.pam)
        if name == "ldap":
            if cfg.backends.ldap is None:
                return UnavailableBackend("ldap", "ldap: backend not configured (backends.ldap)")
            from radiusd.backends.ldap import LdapBackend

            return LdapBackend(cfg.backends.ldap)
        if name == "none":
            return NoFirstFactor()
        return UnavailableBackend(name, f"unknown first-factor backend {name!r} (known: {', '.join(KNOWN)})")

    def close(self) -> None:
        for backend in self._built.values():
            backend.close()
        self._built.clear()
