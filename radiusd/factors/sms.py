"""One-time codes by SMS: through an HTTP gateway or a local program, to the token's number (or
the user's)."""

from __future__ import annotations

from typing import ClassVar

from radiusd.config.delivery import DeliveryConfig
from radiusd.delivery.addresses import mask_phone, normalise_phone
from radiusd.delivery.message import Sender
from radiusd.delivery.sms import sms_sender
from radiusd.factors.base import TokenRecord, UserRecord
from radiusd.factors.sent_code import SentCodeFactor, fit


class SmsFactor(SentCodeFactor):
    name: ClassVar[str] = "sms"
    channel: ClassVar[str] = "sms"

    def destination(self, user: UserRecord, token: TokenRecord) -> str | None:
        return str(token.params.get("to") or user.phone or "") or None

    def normalise(self, destination: str) -> str:
        return normalise_phone(destination)

    def prompt(self, destination: str) -> str:
        return fit(f"Enter the code sent by SMS to {mask_phone(destination)}")

    def build_sender(self, delivery: DeliveryConfig) -> Sender | None:
        return sms_sender(delivery.sms) if delivery.sms else None
