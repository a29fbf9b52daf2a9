"""Second factors, one module each behind the interface in radiusd.factors.base.

`FACTOR_CLASSES` is the registry: a new factor adds its class here and nothing else changes.
"""

from __future__ import annotations

from radiusd.config.engine import EngineConfig
from radiusd.factors.backup import BackupFactor
from radiusd.factors.base import Factor
from radiusd.factors.email import EmailFactor
from radiusd.factors.hotp import HotpFactor
from radiusd.factors.questions import QuestionsFactor
from radiusd.factors.sms import SmsFactor
from radiusd.factors.totp import TotpFactor
from radiusd.factors.yubikey import YubikeyFactor

FACTOR_CLASSES: list[type[Factor]] = [
    TotpFactor,
    HotpFactor,
    YubikeyFactor,
    BackupFactor,
    EmailFactor,
    SmsFactor,
    QuestionsFactor,
]


def build_factors(engine: EngineConfig) -> dict[str, Factor]:
    """One instance per token type, keyed by the type name stored in tokens.type."""
    return {cls.name: cls(engine) for cls in FACTOR_CLASSES}
