"""SMS codes: through an HTTP gateway (generic or a preset), or a local program (gammu, smstools)."""

from __future__ import annotations

import json
import ssl
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from radiusd.config.delivery import SmsConfig
from radiusd.delivery.message import CodeMessage, DeliveryError, Sender, with_retries
from radiusd.delivery.sms_command import CommandSender
from radiusd.delivery.sms_presets import gateway
from radiusd.delivery.templates import render


def sms_sender(cfg: SmsConfig) -> Sender:
    if cfg.provider == "command":
        return CommandSender(cfg)
    return HttpSmsSender(cfg)


class HttpSmsSender:
    channel = "sms"

    def __init__(self, cfg: SmsConfig) -> None:
        self.cfg = cfg
        self.gateway = gateway(cfg)
        self._auth = (cfg.account or "", cfg.token or "") if self.gateway.basic_auth else None
        # Built once (loading the CA bundle takes a while); a client per message is then cheap and
        # belongs to whichever event loop sends, and codes are too rare to need kept connections.
        self._tls = ssl.create_default_context()

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self.cfg.timeout, auth=self._auth, verify=self._tls, follow_redirects=False
        )

    def request(self, client: httpx.AsyncClient, to: str, message: CodeMessage) -> httpx.Request:
        cfg, gw = self.cfg, self.gateway
        values = {
            "to": to,
            "to_digits": to.lstrip("+"),
            "text": render(cfg.text, message.fields()),
            "sender": cfg.sender or "",
            "account": cfg.account or "",
            "token": cfg.token or "",
        }
        url = render(gw.url, {k: quote(v, safe="") for k, v in values.items()})
        headers = {name: render(value, values) for name, value in gw.headers.items()}
        body = _fill(gw.body, values)
        if gw.method == "GET":
            return client.build_request("GET", url, headers=headers, params=body)
        if gw.body_format == "json":
            return client.build_request("POST", url, headers=headers, json=body)
        return client.build_request("POST", url, headers=headers, data=body)

    async def send(self, to: str, message: CodeMessage) -> None:
        async with self._client() as client:
            request = self.request(client, to, message)
            where = f"sms gateway {urlsplit(str(request.url)).netloc}"

            async def attempt() -> None:
                await self._attempt(client, request, where, message.code)

            await with_retries(where, attempt, self.cfg.timeout, self.cfg.retries)

    async def _attempt(
        self, client: httpx.AsyncClient, request: httpx.Request, where: str, code: str
    ) -> None:
        try:
            response = await client.send(request)
        except httpx.TimeoutException:
            raise DeliveryError(f"{where}: no answer within {self.cfg.timeout:g} s") from None
        except httpx.ConnectError as exc:
            raise DeliveryError(f"{where}: cannot connect ({_reason(exc)})") from None
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{where}: {_reason(exc)}") from None
        self._check(where, response, code)

    def _check(self, where: str, response: httpx.Response, code: str) -> None:
        gw = self.gateway
        status = response.status_code
        if status not in gw.success_status:
            # Busy or broken gateways may recover; a refused request (4xx) will not.
            raise DeliveryError(f"{where}: HTTP {status}", transient=status >= 500 or status == 429)
        if gw.success_contains is not None and gw.success_contains not in response.text:
            raise DeliveryError(f"{where}: answer lacks {gw.success_contains!r}", transient=False)
        if gw.success_json:
            try:
                answer = response.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise DeliveryError(f"{where}: answer is not JSON", transient=False) from None
            for path, expected in gw.success_json.items():
                found = _lookup(answer, path)
                if found != expected:
                    shown = "(hidden)" if found and code in found else repr(found)[:40]
                    raise DeliveryError(f"{where}: {path} is {shown}, not {expected!r}", transient=False)


def _fill(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, str):
        return render(node, values)
    if isinstance(node, dict):
        return {k: _fill(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, values) for v in node]
    return node


def _lookup(answer: Any, path: str) -> str | None:
    """Follow a dotted path ("messages.0.status") through objects and lists; None if absent."""
    node = answer
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return None if node is None else str(node)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text or exc.__class__.__name__)[:120]
