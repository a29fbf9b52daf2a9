"""The delivery: section refuses mistakes at load time, with the key path and a clear reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from radiusd.config import ConfigError, load
from radiusd.delivery.addresses import mask_email, mask_phone, normalise_email, normalise_phone
from radiusd.delivery.templates import check, render


def write(folder: Path, data: dict[str, object]) -> Path:
    path = folder / "radiusd.yaml"
    path.write_text(yaml.safe_dump({"data_dir": str(folder / "data"), **data}))
    return path


def _load_delivery(tmp_path: Path, delivery: dict[str, object]) -> ConfigError | None:
    try:
        load(write(tmp_path, {"delivery": delivery}))
    except ConfigError as exc:
        return exc
    return None


@pytest.mark.parametrize(
    ("delivery", "expected"),
    [
        ({"smtp": {"body": "Code {cod}"}}, "delivery.smtp.body: unknown placeholder {cod}"),
        ({"smtp": {"subject": "{code.__class__}"}}, "delivery.smtp.subject: bad placeholder"),
        ({"smtp": {"username": "u"}}, "username and password go together"),
        ({"sms": {"provider": "http"}}, "provider http needs url"),
        ({"sms": {"provider": "twilio", "account": "AC1"}}, "provider twilio needs token, sender"),
        ({"sms": {"url": "ftp://x/"}}, "not an http:// or https:// URL"),
        ({"sms": {"url": "http://x/{phone}"}}, "unknown placeholder {phone}"),
        ({"sms": {"url": "http://x/", "body": {"a": ["{to}", {"b": "{cde}"}]}}}, "unknown placeholder {cde}"),
        ({"sms": {"provider": "command", "command": ["/bin/echo", "{to}"]}}, 'the message "{text}"'),
        (
            {"sms": {"provider": "vonage", "account": "k", "token": "s", "sender": "X", "body": {}}},
            "body: only for provider http",
        ),
        (
            {"sms": {"url": "http://x/", "method": "GET", "body_format": "json"}},
            "GET request carries no JSON",
        ),
        ({"sms": {"url": "http://x/", "retries": 50}}, "delivery.sms.retries"),
    ],
)
def test_bad_delivery_settings_are_refused(
    tmp_path: Path, delivery: dict[str, object], expected: str
) -> None:
    error = _load_delivery(tmp_path, delivery)
    assert error is not None
    assert expected in str(error)


def test_good_delivery_settings_load(tmp_path: Path) -> None:
    assert (
        _load_delivery(
            tmp_path,
            {
                "smtp": {"host": "mail.example.org", "security": "tls", "username": "u", "password": "p"},
                "sms": {"provider": "command", "command": ["/usr/bin/sendsms", "{to}", "{text}"]},
            },
        )
        is None
    )


def test_smtp_port_follows_security(tmp_path: Path) -> None:
    from radiusd.config.delivery import SmtpConfig

    assert [SmtpConfig(security=s).effective_port for s in ("none", "starttls", "tls")] == [25, 587, 465]
    assert SmtpConfig(security="tls", port=2465).effective_port == 2465


def test_templates_render_only_offered_names() -> None:
    values = {"code": "123456", "service": "vpn", "user": "x"}
    assert render("{code} for {service}", values) == "123456 for vpn"
    with pytest.raises(ValueError, match="unknown placeholder"):
        check("{secret}", ["code"])
    with pytest.raises(ValueError, match="bad placeholder"):
        check("{code!r}", ["code"])
    with pytest.raises(ValueError, match="bad template"):
        check("{code", ["code"])


def test_destinations_are_checked_and_masked() -> None:
    assert normalise_email(" alice@example.org ") == "alice@example.org"
    assert normalise_phone("+49 (151) 123-45678") == "+4915112345678"
    for bad in ("alice", "a@b\r\nBcc: x@y", "a b@example.org", "a@exa..mple"):
        with pytest.raises(ValueError):
            normalise_email(bad)
    for bad in ("-e", "12", "+49 151 abc", "1234567890123456"):
        with pytest.raises(ValueError):
            normalise_phone(bad)
    assert mask_email("alice@example.org") == "a***@example.org"
    assert mask_phone("+4915112345678") == "***5678"
    long = mask_email("bob@" + "x" * 100 + ".example.org")
    assert len(long) == 40
    assert long.startswith("b***@...")
