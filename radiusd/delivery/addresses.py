"""Checking and masking destinations: what may be stored, and what a prompt may show of it."""

from __future__ import annotations

import re

# Deliberately narrow: no display names, no comments, no whitespace or line breaks (no header
# injection), and a phone number can never look like a command-line option.
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$"
)
_PHONE = re.compile(r"^\+?[0-9]{6,15}$")
_PHONE_NOISE = re.compile(r"[\s().-]")


def normalise_email(value: str) -> str:
    value = value.strip()
    if not _EMAIL.match(value) or ".." in value.split("@")[1]:
        raise ValueError(f"not an email address: {value!r}")
    return value


def normalise_phone(value: str) -> str:
    """E.164 style: an optional '+' and 6 to 15 digits; spaces, dots, dashes and brackets dropped."""
    compact = _PHONE_NOISE.sub("", value.strip())
    if not _PHONE.match(compact):
        raise ValueError(f"not a phone number (expected +4915112345678): {value!r}")
    return compact


def mask_email(address: str, width: int = 40) -> str:
    """a***@example.org: enough to recognise the mailbox, not enough to learn it."""
    local, _, domain = address.partition("@")
    if len(domain) > width - 5:
        domain = "..." + domain[-(width - 8) :]
    return f"{local[:1]}***@{domain}"


def mask_phone(number: str) -> str:
    """***4567: the last digits only."""
    digits = number.lstrip("+")
    return "***" + digits[-4:] if len(digits) >= 8 else "***" + digits[-2:]
