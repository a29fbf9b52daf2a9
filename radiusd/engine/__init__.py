"""The engine: the one place that turns an AuthRequest into a Decision."""

from radiusd.engine.types import Authenticator, AuthRequest, Decision, Outcome

__all__ = ["AuthRequest", "Authenticator", "Decision", "Outcome"]
