"""One-time codes by email: sent over SMTP to the token's address (or the user's)."""

from __future__ import annotations

from typing import ClassVar

from radiusd.config.delivery import DeliveryConfig
from radiusd.delivery.addresses import mask_email, normalise_email
from radiusd.delivery.message import Sender
from radiusd.delivery.smtp import SmtpSender
from radiusd.factors.base import TokenRecord, UserRecord
from radiusd.factors.sent_code import SentCodeFactor, fit


class EmailFactor(SentCodeFactor):
    name: ClassVar[str] = "email"
    channel: ClassVar[str] = "smtp"

    def destination(self, user: UserRecord, token: TokenRecord) -> str | None:
        return str(token.params.get("to") or user.email or "") or None

    def normalise(self, destination: str) -> str:
        return normalise_email(destination)

    def prompt(self, destination: str) -> str:
        return fit(f"Enter the code sent to {mask_email(destination)}")

    def build_sender(self, delivery: DeliveryConfig) -> Sender | None:
        return SmtpSender(delivery.smtp) if delivery.smtp else None
