"""The whole configuration: one frozen object, validated completely before anything starts."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from radiusd.config.backends import BackendsConfig
from radiusd.config.crowd import CrowdConfig
from radiusd.config.delivery import DeliveryConfig
from radiusd.config.engine import AuditConfig, ChallengeSettings, EngineConfig, LockoutConfig, RuleConfig
from radiusd.config.ldap_proxy import LdapProxyConfig
from radiusd.config.radius import RadiusConfig
from radiusd.config.types import ConfigPath, Section


class DatabaseConfig(Section):
    url: str | None = None
    """SQLAlchemy URL; by default SQLite in the data directory. PostgreSQL:
    postgresql+psycopg://user@host/dbname"""
    busy_timeout: float = Field(default=5.0, gt=0, description="seconds SQLite waits for a lock")
    pool_size: int = Field(default=8, ge=1)


class LogConfig(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


class Config(Section):
    data_dir: ConfigPath = Field(default=Path("radiusd-data"), validate_default=True)
    """Where the SQLite database and the key file live by default."""
    key_file: ConfigPath | None = None
    node: str = ""
    """This node's name in the audit trail; the host name by default."""
    database: DatabaseConfig = DatabaseConfig()
    log: LogConfig = LogConfig()
    radius: RadiusConfig = RadiusConfig()
    backends: BackendsConfig = BackendsConfig()
    engine: EngineConfig = EngineConfig()
    challenge: ChallengeSettings = ChallengeSettings()
    lockout: LockoutConfig = LockoutConfig()
    rules: list[RuleConfig] = Field(default_factory=list)
    audit: AuditConfig = AuditConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    ldap_proxy: LdapProxyConfig = LdapProxyConfig()
    crowd: CrowdConfig = CrowdConfig()

    @model_validator(mode="after")
    def _front_doors_need_their_directory(self) -> Config:
        ldap = self.backends.ldap
        if self.ldap_proxy.enabled and ldap is None:
            raise ValueError("ldap_proxy.enabled needs backends.ldap: the directory it stands in front of")
        if self.crowd.directory == "ldap":
            if ldap is None:
                raise ValueError("crowd.directory: ldap needs backends.ldap")
            if (self.crowd.ldap.user_base or ldap.search_base) is None:
                raise ValueError("crowd.directory: ldap needs crowd.ldap.user_base or a search_base")
        return self

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_dir / 'radiusd.db'}"

    @property
    def key_path(self) -> Path:
        return self.key_file or self.data_dir / "keys.json"
