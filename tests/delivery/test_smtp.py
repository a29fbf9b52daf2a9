"""Email delivery against a real SMTP server (aiosmtpd): plain, STARTTLS, implicit TLS, AUTH."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from delivery_peers import SmtpServer
from ldap_server import free_port

from radiusd.config.delivery import SmtpConfig
from radiusd.delivery import message as message_module
from radiusd.delivery.message import CodeMessage, DeliveryError
from radiusd.delivery.smtp import SmtpSender


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(message_module, "BACKOFF", 0.01)


def code_message(code: str = "482913") -> CodeMessage:
    return CodeMessage(code=code, validity=300, service="vpn-gw", user="alice", expires_at=time.time() + 300)


def send(cfg: SmtpConfig, to: str = "alice@example.org", msg: CodeMessage | None = None) -> None:
    asyncio.run(SmtpSender(cfg).send(to, msg or code_message()))


def test_plain_smtp_delivers_code_with_templates(tmp_path: Path) -> None:
    with SmtpServer(tmp_path) as server:
        cfg = SmtpConfig(
            host="127.0.0.1",
            port=server.port,
            security="none",
            from_address="otp@example.org",
            subject="Login to {service}",
            body="Hello {user}, your code is {code}; valid {minutes} minutes, until {expires}.",
        )
        send(cfg)
        (mail,) = server.wait_for(1)
    assert mail["From"] == "otp@example.org"
    assert mail["To"] == "alice@example.org"
    assert mail["Subject"] == "Login to vpn-gw"
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Hello alice, your code is 482913; valid 5 minutes, until " in text
    assert " UTC." in text


def test_starttls_with_authentication(tmp_path: Path) -> None:
    with SmtpServer(tmp_path, security="starttls", credentials=("mailer", "s3cret")) as server:
        assert server.certificates is not None
        cfg = SmtpConfig(
            host="localhost",
            port=server.port,
            security="starttls",
            ca_file=server.certificates.ca_file,
            username="mailer",
            password="s3cret",
        )
        send(cfg)
        assert server.last_code() == "482913"


def test_implicit_tls(tmp_path: Path) -> None:
    with SmtpServer(tmp_path, security="tls") as server:
        assert server.certificates is not None
        cfg = SmtpConfig(
            host="localhost", port=server.port, security="tls", ca_file=server.certificates.ca_file
        )
        send(cfg)
        assert server.last_code() == "482913"


def test_untrusted_certificate_is_refused(tmp_path: Path) -> None:
    with SmtpServer(tmp_path, security="tls") as server:
        cfg = SmtpConfig(host="localhost", port=server.port, security="tls", retries=2)
        with pytest.raises(DeliveryError, match="smtp localhost"):
            send(cfg)
        assert server.messages == []


def test_starttls_is_never_downgraded(tmp_path: Path) -> None:
    """A server without STARTTLS gets nothing when STARTTLS is configured."""
    with SmtpServer(tmp_path, security="none") as server:
        cfg = SmtpConfig(host="127.0.0.1", port=server.port, security="starttls", retries=0)
        with pytest.raises(DeliveryError, match="STARTTLS") as caught:
            send(cfg)
        assert not caught.value.transient
        assert server.messages == []


def test_wrong_login_is_a_permanent_failure(tmp_path: Path) -> None:
    with SmtpServer(tmp_path, security="starttls", credentials=("mailer", "s3cret")) as server:
        assert server.certificates is not None
        cfg = SmtpConfig(
            host="localhost",
            port=server.port,
            ca_file=server.certificates.ca_file,
            username="mailer",
            password="wrong",
        )
        with pytest.raises(DeliveryError, match="login refused") as caught:
            send(cfg)
        assert "wrong" not in str(caught.value)
        assert server.messages == []


def test_connection_refused_is_retried_then_reported() -> None:
    port = free_port(kind=1)
    cfg = SmtpConfig(host="127.0.0.1", port=port, security="none", retries=2, timeout=2)
    with pytest.raises(DeliveryError, match=rf"smtp 127.0.0.1:{port}: cannot connect.*after 3 attempts"):
        send(cfg)


def test_header_injection_in_destination_is_refused(tmp_path: Path) -> None:
    with SmtpServer(tmp_path) as server:
        cfg = SmtpConfig(host="127.0.0.1", port=server.port, security="none")
        with pytest.raises(ValueError):
            send(cfg, to="alice@example.org\r\nBcc: mallory@example.org")
        assert server.messages == []
