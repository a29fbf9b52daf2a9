"""Configuration: YAML, validated completely before any port is bound or any row written."""

from radiusd.config.loader import ConfigError, load, locate
from radiusd.config.schema import Config

__all__ = ["Config", "ConfigError", "load", "locate"]
