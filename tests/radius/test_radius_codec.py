"""The codec, the dictionaries and the translation, without sockets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress

import pytest
from pyrad import packet as rp
from radius.radius_client import DICTIONARY, access_request, accounting_request, encode

from radiusd.engine.types import Decision
from radiusd.radius import codec
from radiusd.radius.clients import Client, ClientTable
from radiusd.radius.dictionary import DictionaryError, dictionary_path, load_dictionary
from radiusd.radius.translate import auth_request, printable, split_static_challenge

SECRET = "codec-secret"
CLIENT = Client("nas", ipaddress.ip_network("192.0.2.0/24"), SECRET.encode())


def received(pkt: rp.Packet) -> codec.Request:
    """A request as the server decodes it: framing checked, through the fast path."""
    return codec.Request(codec.parse_frame(encode(pkt)), SECRET.encode(), DICTIONARY)


# One attribute of every vendor in the curated set: (attribute, value, vendor id).
VENDOR_SAMPLES = [
    ("MS-CHAP-Domain", "EXAMPLE", 311),
    ("Cisco-AVPair", "shell:priv-lvl=15", 9),
    ("ASA-Group-Policy", "vpn-users", 3076),
    ("CVPN3000-IPSec-Split-Tunnel-List", "split", 3076),
    ("Fortinet-Group-Name", "vpn-admins", 12356),
    ("PaloAlto-User-Group", "gp-users", 25461),
    ("Juniper-Local-User-Name", "remote", 2636),
    ("Aruba-User-Role", "employee", 14823),
    ("CP-Gaia-User-Role", "adminRole", 2620),
    ("F5-LTM-User-Role", "Administrator", 3375),
    ("SonicWall-User-Group", "sslvpn", 8741),
    ("Mikrotik-Group", "full", 14988),
]


@pytest.mark.parametrize(("name", "value", "vendor"), VENDOR_SAMPLES)
def test_shipped_dictionary_encodes_and_decodes_each_vendor(name: str, value: object, vendor: int) -> None:
    request = access_request(SECRET, "alice", "pw")
    raw = codec.encode_reply(request, codec.ACCESS_ACCEPT, [(name, value)], True)
    decoded = rp.AuthPacket(packet=raw, secret=SECRET.encode(), dict=DICTIONARY)
    assert decoded[name] == [value]
    assert (
        DICTIONARY.attributes[name].vendor
        and DICTIONARY.vendors.GetForward(DICTIONARY.attributes[name].vendor) == vendor
    )
    assert raw[20 + 18] == 26  # the vendor attribute follows Message-Authenticator


def test_dictionary_path_defaults_to_the_shipped_set_and_reports_a_bad_file(tmp_path) -> None:
    assert dictionary_path(None).is_file()
    bad = tmp_path / "dictionary"
    bad.write_text("ATTRIBUTE Broken 1 nosuchtype\n")
    with pytest.raises(DictionaryError, match="cannot load RADIUS dictionary"):
        load_dictionary(bad)


def test_frame_rejects_bad_lengths() -> None:
    good = encode(access_request(SECRET, "alice", "pw"))
    assert codec.parse_frame(good).ma_offset == 22  # Message-Authenticator first
    assert codec.parse_frame(good + b"\0" * 7).data == good  # padding cut
    for bad in (good[:19], good[:-1], good[:2] + b"\x00\x13" + good[4:], good[:21] + b"\x01" + good[22:]):
        with pytest.raises(codec.MalformedPacket):
            codec.parse_frame(bad)


def test_message_authenticator_checks_against_the_secret() -> None:
    frame = codec.parse_frame(encode(access_request(SECRET, "alice", "pw")))
    assert codec.message_authenticator_valid(frame, SECRET.encode())
    assert not codec.message_authenticator_valid(frame, b"other")


def test_accounting_authenticator() -> None:
    raw = encode(accounting_request(SECRET, User_Name="bob", Acct_Status_Type="Start"))
    frame = codec.parse_frame(raw)
    assert codec.accounting_authenticator_valid(frame, SECRET.encode())
    assert not codec.accounting_authenticator_valid(frame, b"other")


def test_reply_signs_first_and_copies_proxy_state_in_order() -> None:
    request = access_request(SECRET, "alice", "pw", proxy_states=[b"\x02second", b"\x01first", b"third"])
    raw = codec.encode_reply(request, codec.ACCESS_REJECT, [("Reply-Message", "no")], True)
    assert raw[20] == codec.MESSAGE_AUTHENTICATOR
    reply = request.CreateReply(packet=raw)
    assert request.VerifyReply(reply, raw, enforce_ma=True)
    assert reply[33] == [b"\x02second", b"\x01first", b"third"]
    unsigned = codec.encode_reply(request, codec.ACCESS_REJECT, [], False)
    assert codec.MESSAGE_AUTHENTICATOR not in request.CreateReply(packet=unsigned)


def test_user_password_up_to_128_octets() -> None:
    for password in ("p", "x" * 16, "ü" * 64):
        pkt = access_request(SECRET, "alice", password)
        assert codec.user_password(received(pkt)) == password
    for size in (0, 15, 144):
        pkt = access_request(SECRET, "alice", "pw")
        pkt[2] = [b"\x00" * size]
        with pytest.raises(codec.MalformedPacket):
            codec.user_password(received(pkt))


def test_reply_with_an_unknown_or_unfit_attribute_fails() -> None:
    request = access_request(SECRET, "alice", "pw")
    with pytest.raises(codec.ReplyError, match="not in the dictionary"):
        codec.encode_reply(request, codec.ACCESS_ACCEPT, [("No-Such-Attribute", "x")], True)
    with pytest.raises(codec.ReplyError):
        codec.encode_reply(request, codec.ACCESS_ACCEPT, [("Session-Timeout", "soon")], True)
    raw = codec.encode_reply(request, codec.ACCESS_ACCEPT, [("Session-Timeout", "3600")], True)
    assert request.CreateReply(packet=raw)["Session-Timeout"] == [3600]


def test_openvpn_static_challenge_is_split() -> None:
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    assert split_static_challenge(f"SCRV1:{b64('pw:with:colons')}:{b64('123456')}") == (
        "pw:with:colons",
        "123456",
    )
    assert split_static_challenge(f"SCRV1:{b64('secret')}:{b64('123456')}") == ("secret", "123456")
    assert split_static_challenge("SCRV1:not base64:x") == ("SCRV1:not base64:x", None)
    assert split_static_challenge("plain") == ("plain", None)
    pkt = access_request(SECRET, "alice", f"SCRV1:{b64('secret')}:{b64('654321')}")
    request = auth_request(received(pkt), CLIENT, "192.0.2.7")
    assert (request.secret, request.code, request.source) == ("secret", "654321", "192.0.2.7")


def test_source_attribute_only_when_the_client_is_configured_with_it() -> None:
    pkt = access_request(SECRET, "alice", "pw", attributes=[("Calling-Station-Id", "198.51.100.9")])
    decoded = received(pkt)
    assert auth_request(decoded, CLIENT, "192.0.2.7").source == "192.0.2.7"
    trusting = Client("vpn", CLIENT.network, CLIENT.secret, source_attribute="Calling-Station-Id")
    assert auth_request(decoded, trusting, "192.0.2.7").source == "198.51.100.9"
    framed = Client("vpn", CLIENT.network, CLIENT.secret, source_attribute="Framed-IP-Address")
    assert auth_request(decoded, framed, "192.0.2.7").source is None  # configured but absent


def test_challenge_has_one_state_and_one_short_printable_message() -> None:
    from radiusd.radius.translate import access_reply

    request = access_request(SECRET, "alice", "pw")
    prompt = "Enter the code\nsent to your phone ending in 42, within the next five minutes please, thanks!!"
    raw = access_reply(request, CLIENT, Decision.challenge(prompt, b"state-1"))
    reply = request.CreateReply(packet=raw)
    assert reply.code == codec.ACCESS_CHALLENGE
    assert reply["State"] == [b"state-1"]
    (message,) = reply["Reply-Message"]
    assert len(message) <= 80 and message.isprintable() and message.startswith("Enter the code sent")
    assert printable("a\r\nb\tc") == "a  b c"


def test_an_accept_that_cannot_be_encoded_becomes_a_reject() -> None:
    from radiusd.radius.translate import access_reply

    request = access_request(SECRET, "alice", "pw")
    raw = access_reply(request, CLIENT, Decision.accept(reply=(("Nonexistent-Attr", "x"),)))
    assert raw[0] == codec.ACCESS_REJECT


def test_client_table_prefers_the_most_specific_network() -> None:

    wide = Client("wide", ipaddress.ip_network("10.0.0.0/8"), b"a")
    narrow = Client("narrow", ipaddress.ip_network("10.1.0.0/16"), b"b")
    host = Client("host", ipaddress.ip_network("10.1.2.3/32"), b"c")
    v6 = Client("v6", ipaddress.ip_network("2001:db8::/32"), b"d")
    table = ClientTable([wide, narrow, host, v6])
    assert table.lookup("10.1.2.3") is host
    assert table.lookup("10.1.9.9") is narrow
    assert table.lookup("10.200.0.1") is wide
    assert table.lookup("::ffff:10.1.2.3") is host
    assert table.lookup("2001:db8::1") is v6
    assert table.lookup("192.0.2.1") is None
    assert table.lookup("garbage") is None


def test_message_authenticator_matches_an_independent_computation() -> None:
    raw = encode(access_request(SECRET, "alice", "pw"))
    zeroed = raw[:22] + bytes(16) + raw[38:]
    assert hmac.new(SECRET.encode(), zeroed, hashlib.md5).digest() == raw[22:38]
