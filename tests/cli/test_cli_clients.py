"""`radiusd client …`: RADIUS clients, their options, their sealed secrets."""

from __future__ import annotations

import json

from cli_support import Radiusd

SECRET = "a-long-shared-secret-value"


def test_client_add_list_remove(radiusd: Radiusd) -> None:
    out = radiusd.ok("client", "add", "vpn", "192.0.2.10/24", "--secret-stdin", input=SECRET + "\n")
    assert out == "client vpn added for 192.0.2.0/24\n"
    radiusd.ok(
        "client", "add", "legacy", "2001:db8::1", "--secret-stdin", "--no-require-message-authenticator",
        "--limit-proxy-state", "--no-reply-message-authenticator", "--source-attribute", "Calling-Station-Id",
        input=SECRET + "\n",
    )  # fmt: skip
    listing = radiusd.ok("client", "list", "--json")
    assert SECRET not in listing
    assert [c | {"created_at": 0} for c in json.loads(listing)] == [
        {
            "name": "legacy",
            "address": "2001:db8::1/128",
            "require_message_authenticator": False,
            "limit_proxy_state": True,
            "reply_message_authenticator": False,
            "source_attribute": "Calling-Station-Id",
            "created_at": 0,
        },
        {
            "name": "vpn",
            "address": "192.0.2.0/24",
            "require_message_authenticator": True,
            "limit_proxy_state": False,
            "reply_message_authenticator": True,
            "source_attribute": None,
            "created_at": 0,
        },
    ]
    assert SECRET not in radiusd.ok("client", "list")
    assert radiusd.ok("client", "remove", "legacy") == "client legacy removed\n"
    assert [c["name"] for c in json.loads(radiusd.ok("client", "list", "--json"))] == ["vpn"]


def test_client_secret_is_asked_twice_and_short_ones_are_flagged(radiusd: Radiusd) -> None:
    result = radiusd("client", "add", "nas", "10.0.0.1", input="short\nshort\n")
    assert result.exit_code == 0, result.output
    assert "warning: a shared secret shorter than 16 characters is weak" in result.stderr


def test_client_bad_input(radiusd: Radiusd) -> None:
    radiusd.ok("client", "add", "vpn", "10.0.0.1", "--secret-stdin", input=SECRET + "\n")
    assert radiusd.fails("client", "add", "bad", "10.0.0.300", "--secret-stdin", input=SECRET + "\n") == (
        "Error: not an IP address or CIDR network: '10.0.0.300'"
    )
    assert radiusd.fails("client", "add", "bad", "10.0.0.0/40", "--secret-stdin", input=SECRET + "\n") == (
        "Error: not an IP address or CIDR network: '10.0.0.0/40'"
    )
    assert radiusd.fails("client", "add", "vpn", "10.0.0.2", "--secret-stdin", input=SECRET + "\n") == (
        "Error: client vpn already exists"
    )
    assert radiusd.fails("client", "add", "x", "10.0.0.2", "--secret-stdin", input="\n") == (
        "Error: no shared secret on stdin"
    )
    assert radiusd.fails(
        "client", "add", "x", "10.0.0.2", "--secret-stdin", "--no-require-message-authenticator", input=SECRET
    ) == ("Error: require_message_authenticator: no is allowed only together with limit_proxy_state: yes")
    assert radiusd.fails("client", "remove", "nope") == "Error: no such client: nope"
