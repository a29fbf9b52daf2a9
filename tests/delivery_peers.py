"""Real peers for code delivery tests: an SMTP server (aiosmtpd) and an HTTP SMS gateway.

Both run in a thread of the test process on a free loopback port and record what they received,
so a test can read the code from the mail or the SMS, or assert that nothing was sent.
Use from tests: `from delivery_peers import SmtpServer, SmsGateway`.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from ldap_server import Certificates, free_port, make_certificates

# "Your code for vpn is 123456": the digits after the word "code" (a phone number may precede it).
CODE = re.compile(r"\bcode\b[^0-9]{0,60}?(\d{4,12})\b", re.IGNORECASE)


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"


class SmtpServer:
    """aiosmtpd on loopback: security "none", "starttls" (required) or "tls"; optional AUTH."""

    def __init__(
        self, folder: Path, security: str = "none", credentials: tuple[str, str] | None = None
    ) -> None:
        self.port = free_port(kind=1)  # SOCK_STREAM
        self.inbox = _Inbox()
        self.certificates: Certificates | None = None
        kwargs: dict[str, Any] = {}
        ssl_context = None
        if security != "none":
            self.certificates = make_certificates(folder)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.certificates.cert_file, self.certificates.key_file)
            if security == "starttls":
                kwargs.update(tls_context=context, require_starttls=True)
            else:
                ssl_context = context
        if credentials:

            def check(_server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any) -> AuthResult:
                ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == (
                    credentials
                )
                return AuthResult(success=ok, handled=False)

            kwargs.update(authenticator=check, auth_required=True, auth_require_tls=security != "none")
        self.controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, ssl_context=ssl_context, **kwargs
        )

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        with self.inbox.lock:
            return list(self.inbox.messages)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages

    def last_code(self) -> str:
        message = self.wait_for(1)[-1]
        body = message.get_body(("plain",))
        assert body is not None
        match = CODE.search(body.get_content())
        assert match, "no code in the mail"
        return match.group(1)


@dataclass
class GatewayRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        """Form fields of a POST body, or the query parameters of a GET."""
        raw = self.body.decode() if self.method == "POST" else urlsplit(self.path).query
        return {k: v[0] for k, v in parse_qs(raw).items()}

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        """Everything the gateway was told, decoded, to search for the message."""
        return unquote_plus(self.body.decode() + " " + urlsplit(self.path).query)


@dataclass
class SmsGateway:
    """http.server on loopback that answers as told and records every request."""

    status: int = 201
    answer: bytes = b'{"status": "queued"}'
    delay: float = 0.0
    """Seconds to hang before answering (a stuck gateway)."""
    requests: list[GatewayRequest] = field(default_factory=list)
    on_request: Callable[[GatewayRequest], None] | None = None

    def __post_init__(self) -> None:
        gateway = self
        self._lock = threading.Lock()
        self._release = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = GatewayRequest(
                    self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
                )
                with gateway._lock:
                    gateway.requests.append(request)
                if gateway.delay:
                    gateway._release.wait(gateway.delay)
                self.send_response(gateway.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(gateway.answer)))
                self.end_headers()
                self.wfile.write(gateway.answer)

            do_GET = do_POST = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> SmsGateway:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()  # let a hanging handler finish
        self.server.shutdown()
        self.server.server_close()

    def received(self) -> list[GatewayRequest]:
        with self._lock:
            return list(self.requests)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[GatewayRequest]:
        deadline = time.monotonic() + timeout
        while len(self.received()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received()

    def last_code(self) -> str:
        match = CODE.search(self.wait_for(1)[-1].text)
        assert match, "no code in the SMS"
        return match.group(1)
