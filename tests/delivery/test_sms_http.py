"""SMS through a real HTTP server acting as the gateway: generic settings and the presets."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from typing import Any

import pytest
from delivery_peers import SmsGateway
from ldap_server import free_port

from radiusd.config.delivery import SmsConfig
from radiusd.delivery import message as message_module
from radiusd.delivery.message import CodeMessage, DeliveryError
from radiusd.delivery.sms import HttpSmsSender, sms_sender

PHONE = "+4915112345678"


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(message_module, "BACKOFF", 0.01)


def code_message(code: str = "731904") -> CodeMessage:
    return CodeMessage(code=code, validity=120, service="vpn", user="bob", expires_at=time.time() + 120)


def send(cfg: SmsConfig) -> None:
    asyncio.run(sms_sender(cfg).send(PHONE, code_message()))


def config(**kwargs: Any) -> SmsConfig:
    return SmsConfig.model_validate({"timeout": 3, **kwargs})


def test_generic_form_post_with_headers() -> None:
    with SmsGateway(status=200, answer=b"OK: queued") as gw:
        send(
            config(
                url=gw.url + "/send?user={account}",
                account="acme corp",
                token="t0k",
                headers={"X-Api-Key": "{token}"},
                body={"number": "{to}", "message": "{text}", "from": "{sender}"},
                sender="ACME",
                success_status=[200],
                success_contains="OK",
                text="Code {code} ({minutes} min)",
            )
        )
        (request,) = gw.received()
    assert request.method == "POST"
    assert request.path == "/send?user=acme%20corp"
    assert request.headers["X-Api-Key"] == "t0k"
    assert request.form == {"number": PHONE, "message": "Code 731904 (2 min)", "from": "ACME"}


def test_generic_json_post() -> None:
    with SmsGateway() as gw:
        send(
            config(
                url=gw.url + "/api",
                body_format="json",
                body={"to": ["{to_digits}"], "content": {"text": "{text}"}, "flash": False},
            )
        )
        (request,) = gw.received()
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {
        "to": ["4915112345678"],
        "content": {"text": "Your code for vpn is 731904. Valid 2 min."},
        "flash": False,
    }


def test_generic_get_puts_the_body_in_the_query() -> None:
    with SmsGateway(status=200) as gw:
        send(config(url=gw.url + "/sendsms", method="GET", body={"to": "{to}", "msg": "{text}"}))
        (request,) = gw.received()
    assert request.method == "GET"
    assert request.form == {"to": PHONE, "msg": "Your code for vpn is 731904. Valid 2 min."}


def test_twilio_preset() -> None:
    with SmsGateway(status=201, answer=b'{"sid": "SM1", "status": "queued"}') as gw:
        send(
            config(
                provider="twilio",
                url=gw.url + "/2010-04-01/Accounts/{account}/Messages.json",
                account="AC0123",
                token="authtoken",
                sender="+15005550006",
            )
        )
        (request,) = gw.received()
    assert request.path == "/2010-04-01/Accounts/AC0123/Messages.json"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"AC0123:authtoken").decode()
    assert request.form == {
        "To": PHONE,
        "From": "+15005550006",
        "Body": "Your code for vpn is 731904. Valid 2 min.",
    }


def vonage(url: str) -> SmsConfig:
    return config(provider="vonage", url=url + "/sms/json", account="key", token="secret", sender="ACME")


def test_vonage_preset() -> None:
    with SmsGateway(status=200, answer=b'{"message-count": "1", "messages": [{"status": "0"}]}') as gw:
        send(vonage(gw.url))
        (request,) = gw.received()
    assert request.form["to"] == "4915112345678"
    assert request.form["api_key"] == "key"
    assert request.form["api_secret"] == "secret"


def test_vonage_refusal_in_a_200_answer_is_a_failure() -> None:
    answer = b'{"messages": [{"status": "29", "error-text": "Non-White-listed Destination"}]}'
    with SmsGateway(status=200, answer=answer) as gw:
        with pytest.raises(DeliveryError, match=re.escape("messages.0.status is '29', not '0'")) as caught:
            send(vonage(gw.url))
        assert len(gw.received()) == 1  # a refusal is not retried
    assert not caught.value.transient


def test_messagebird_preset() -> None:
    with SmsGateway(status=201) as gw:
        send(config(provider="messagebird", url=gw.url + "/messages", token="live_abc", sender="ACME"))
        (request,) = gw.received()
    assert request.headers["Authorization"] == "AccessKey live_abc"
    assert request.json == {
        "originator": "ACME",
        "recipients": ["4915112345678"],
        "body": "Your code for vpn is 731904. Valid 2 min.",
    }


def test_http_500_is_retried_a_bounded_number_of_times() -> None:
    with SmsGateway(status=500, answer=b"internal error 731904") as gw:
        with pytest.raises(DeliveryError) as caught:
            send(config(url=gw.url + "/send", body={"to": "{to}"}, retries=2))
        assert len(gw.received()) == 3
    assert str(caught.value) == f"sms gateway 127.0.0.1:{gw.port}: HTTP 500 (after 3 attempts)"


def test_http_400_is_not_retried() -> None:
    with SmsGateway(status=400) as gw:
        with pytest.raises(DeliveryError, match=r"HTTP 400$"):
            send(config(url=gw.url + "/send", body={"to": "{to}"}, retries=2))
        assert len(gw.received()) == 1


def test_connection_refused() -> None:
    port = free_port(kind=1)
    with pytest.raises(DeliveryError, match=rf"sms gateway 127.0.0.1:{port}: cannot connect"):
        send(config(url=f"http://127.0.0.1:{port}/send", body={"to": "{to}"}, retries=1))


def test_a_hanging_gateway_times_out_without_stalling_the_loop() -> None:
    """While the gateway hangs, other coroutines keep running; the send gives up after its timeout."""
    with SmsGateway(delay=10) as gw:

        async def scenario() -> tuple[list[str], str]:
            order: list[str] = []
            sender = HttpSmsSender(config(url=gw.url + "/send", body={"to": "{to}"}, timeout=0.5, retries=0))

            async def other_user() -> None:
                await asyncio.sleep(0.05)
                order.append("other user served")

            async def delivery() -> str:
                try:
                    await sender.send(PHONE, code_message())
                except DeliveryError as exc:
                    order.append("delivery failed")
                    return str(exc)
                return "sent"

            _, outcome = await asyncio.gather(other_user(), delivery())
            return order, outcome

        order, outcome = asyncio.run(scenario())
    assert order == ["other user served", "delivery failed"]
    assert outcome == f"sms gateway 127.0.0.1:{gw.port}: no answer within 0.5 s"
