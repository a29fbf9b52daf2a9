"""The hand-written codec path against pyrad, byte for byte: thousands of seeded random requests built
by pyrad, decoded by the fast path and by pyrad to the same values, and every reply shape the server
sends encoded by both to identical bytes (attribute order, Response Authenticator and
Message-Authenticator included), or refused by both."""

from __future__ import annotations

import ipaddress
import random
from collections import OrderedDict

import pytest
from pyrad import packet as rp
from radius.radius_client import DICTIONARY, encode

from radiusd.engine.types import Decision, Outcome
from radiusd.radius import codec
from radiusd.radius.clients import Client
from radiusd.radius.translate import CONTEXT_ATTRIBUTES, access_reply, auth_request

CASES = 3000


def text(rng: random.Random, low: int, high: int) -> str:
    alphabet = "abcXYZ019 -_:@.äöü€\u00a0\t\n"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def octets(rng: random.Random, low: int, high: int) -> bytes:
    if rng.random() < 0.1:  # pyrad reads octets starting with "0x" as hex when it encodes them
        return b"0x" + rng.choice([b"41", b"00ff", b"zz", b""])
    return rng.randbytes(rng.randint(low, high))


def password(rng: random.Random) -> str:
    while len((value := text(rng, 0, 40) * rng.choice([1, 1, 3])).encode()) > 128:
        pass
    return value


NOISE = [  # request attributes the fast path does not keep
    ("Service-Type", lambda rng: rng.choice(["Login-User", "Framed-User", 7])),
    ("NAS-Port", lambda rng: rng.randrange(2**32)),
    ("Cisco-AVPair", lambda rng: text(rng, 1, 60)),
    ("Fortinet-Group-Name", lambda rng: text(rng, 1, 30)),
    ("Class", lambda rng: rng.randbytes(rng.randint(1, 40))),
    ("Acct-Session-Id", lambda rng: text(rng, 1, 20)),
]
CONTEXT = [
    ("NAS-IP-Address", lambda rng: f"10.{rng.randrange(256)}.{rng.randrange(256)}.1"),
    ("Framed-IP-Address", lambda rng: f"192.0.2.{rng.randrange(256)}"),
    ("Called-Station-Id", lambda rng: text(rng, 0, 30)),
    (
        "Calling-Station-Id",
        lambda rng: rng.choice(
            [
                *("198.51.100.7", " 10.0.0.1 ", "010.0.0.1", "1.2.3", "2001:DB8::1"),
                *("::ffff:1.2.3.4", "1.2.3.4\0"),
                f"{rng.randrange(300)}.{rng.randrange(256)}.0.{rng.randrange(256)}",
                text(rng, 0, 30),
            ]
        ),
    ),
    ("NAS-Identifier", lambda rng: text(rng, 1, 30)),
    ("NAS-Port-Type", lambda rng: rng.choice(["Virtual", "Ethernet", 5])),
]
REPLY = [  # what a policy may put into an accept
    ("Filter-Id", lambda rng: rng.choice([text(rng, 1, 40), 42])),
    ("Class", lambda rng: octets(rng, 1, 40)),
    ("Class", lambda rng: rng.choice(["0x4142", "group", "7"])),
    ("Session-Timeout", lambda rng: rng.choice([3600, "600", 0])),
    ("Idle-Timeout", lambda rng: rng.randrange(2**31)),
    ("Acct-Interim-Interval", lambda rng: "300"),
    ("Service-Type", lambda rng: rng.choice(["Framed-User", "Administrative-User", 6, "6"])),
    ("Framed-Protocol", lambda rng: "PPP"),
    ("Framed-IP-Address", lambda rng: f"10.9.{rng.randrange(256)}.{rng.randrange(256)}"),
    ("Framed-IPv6-Prefix", lambda rng: "2001:db8:1::/48"),
    ("Reply-Message", lambda rng: text(rng, 0, 80)),
    ("Reply-Message", lambda rng: rng.randbytes(rng.randint(0, 20))),
    ("State", lambda rng: octets(rng, 1, 60)),
    ("Tunnel-Type", lambda rng: "VLAN"),  # tagged: through pyrad
    ("Tunnel-Private-Group-Id", lambda rng: str(rng.randrange(4096))),  # tagged: through pyrad
    ("Cisco-AVPair", lambda rng: f"shell:priv-lvl={rng.randrange(16)}"),
    ("ASA-Group-Policy", lambda rng: text(rng, 1, 30)),
    ("Fortinet-Group-Name", lambda rng: rng.choice(["vpn-admins", "vpn-users"])),
    ("PaloAlto-User-Group", lambda rng: text(rng, 1, 30)),
    ("Aruba-User-Role", lambda rng: "employee"),
    ("MS-CHAP-Domain", lambda rng: "EXAMPLE"),
    ("Mikrotik-Group", lambda rng: "full"),
    ("Mikrotik-Rate-Limit", lambda rng: "10M/10M"),
    ("Juniper-Local-User-Name", lambda rng: "remote"),
]
BAD_REPLY = [  # refused by both
    ("No-Such-Attribute", "x"),
    ("Session-Timeout", "soon"),
    ("Filter-Id", "x" * 254),
    ("Cisco-AVPair", "y" * 248),
]


def random_request(rng: random.Random, code: int = rp.AccessRequest) -> rp.Packet:
    cls = rp.AcctPacket if code == rp.AccountingRequest else rp.AuthPacket
    pkt = cls(code, id=rng.randrange(256), secret=SECRET, authenticator=rng.randbytes(16), dict=DICTIONARY)
    parts: list[tuple[str, object]] = []
    if rng.random() < 0.95:
        parts.append(("User-Name", text(rng, 0, 60)))
    if code == rp.AccessRequest and rng.random() < 0.9:
        parts.append(("User-Password", None))
    if rng.random() < 0.3:
        parts.append(("State", octets(rng, 1, 60)))
    for name, make in rng.sample(CONTEXT + NOISE, rng.randint(0, 6)):
        parts.append((name, make(rng)))
    for _ in range(rng.choice([0, 0, 1, 2, 3])):
        parts.append(("Proxy-State", octets(rng, 1, 40)))
    if rng.random() < 0.05:
        parts.append(("User-Name", text(rng, 1, 10)))  # a repeated attribute keeps its order
    rng.shuffle(parts)
    for name, value in parts:
        if name == "User-Password":
            pkt[2] = [pkt.PwCrypt(password(rng))]
        else:
            pkt.AddAttribute(name, value)
    if code != rp.AccountingRequest and (code == rp.StatusServer or rng.random() < 0.8):
        pkt.add_message_authenticator()
    return pkt


SECRET = b"pyrad-parity-secret"
NETWORK = ipaddress.ip_network("127.0.0.0/8")


def both(pkt: rp.Packet) -> tuple[codec.Request, rp.Packet]:
    frame = codec.parse_frame(encode(pkt))
    return codec.Request(frame, SECRET, DICTIONARY), codec.decode(frame, SECRET, DICTIONARY)


def same_reply(fast: codec.Request, slow: rp.Packet, code: int, attributes: list, sign: bool) -> None:
    try:
        expected = codec.encode_reply_pyrad(slow, code, attributes, sign)
    except codec.ReplyError:
        with pytest.raises(codec.ReplyError):
            codec.encode_reply(fast, code, attributes, sign)
        return
    assert codec.encode_reply(fast, code, attributes, sign) == expected, (code, attributes, sign)


def random_decision(rng: random.Random) -> Decision:
    outcome = rng.choice(list(Outcome))
    if outcome is Outcome.ACCEPT:
        reply = [(name, make(rng)) for name, make in rng.sample(REPLY, rng.randint(0, 6))]
        if reply and rng.random() < 0.3:  # an attribute twice, apart: pyrad groups them
            name = rng.choice(reply)[0]
            reply.insert(rng.randint(0, len(reply)), (name, dict(REPLY)[name](rng)))
        if rng.random() < 0.03:
            reply.append(rng.choice(BAD_REPLY))
        return Decision.accept(reply=tuple(reply))
    if outcome is Outcome.CHALLENGE:
        state = octets(rng, 1, 64) if rng.random() < 0.95 else rng.choice([b"", b"s" * 254])
        lines = tuple(text(rng, 0, 300) for _ in range(rng.choice([0, 0, 1, 2])))
        return Decision(Outcome.CHALLENGE, message=text(rng, 0, 120), state=state, lines=lines)
    return Decision.reject("no", message=rng.choice(["", text(rng, 0, 100)]))


def test_decode_matches_pyrad() -> None:
    rng = random.Random(2865)
    for _ in range(CASES):
        pkt = random_request(rng)
        if rng.random() < 0.05:
            pkt[2] = [rng.randbytes(rng.choice([0, 8, 17, 144]))]  # not a PAP password
        fast, slow = both(pkt)
        for kept in codec.KEPT:
            assert list(codec.raw_values(fast, kept)) == list(OrderedDict.get(slow, kept, [])), kept
        hidden = OrderedDict.get(slow, 2)
        if hidden is None:
            assert codec.user_password(fast) is None
        elif not hidden[0] or len(hidden[0]) % 16 or len(hidden[0]) > 128:
            with pytest.raises(codec.MalformedPacket):
                codec.user_password(fast)
        else:
            assert codec.user_password(fast) == slow.PwDecrypt(hidden[0])
            assert_translated(fast, slow)
        assert fast.frame.proxy_state == OrderedDict.__contains__(slow, 33)


def assert_translated(fast: codec.Request, slow: rp.Packet) -> None:
    """The AuthRequest from the fast path against the same fields read from pyrad's decoding."""
    trusting = Client("vpn", NETWORK, SECRET, source_attribute="Calling-Station-Id")
    got = auth_request(fast, trusting, "127.0.0.1")
    names = OrderedDict.get(slow, 1)
    assert got.user == (names[0].decode("utf-8", "replace")[:253] if names else "")
    assert got.state == (OrderedDict.get(slow, 24) or [None])[0]
    calling = OrderedDict.get(slow, 31)
    try:
        source = str(ipaddress.ip_address(calling[0].decode("utf-8", "replace").strip())) if calling else None
    except ValueError:
        source = None
    assert got.source == source
    assert set(got.attributes) == {name for code, name in CONTEXT_ATTRIBUTES.items() if code in slow}


def test_every_reply_shape_is_byte_identical_to_pyrad() -> None:
    rng = random.Random(3579)
    for _ in range(CASES):
        fast, slow = both(random_request(rng))
        decision = random_decision(rng)
        client = Client("nas", NETWORK, SECRET, reply_message_authenticator=rng.random() < 0.8)
        # what the server sends, the fast request against the pyrad-decoded one
        assert access_reply(fast, client, decision) == access_reply(slow, client, decision)
        # and the encoder alone, with replies the translation does not make
        code = rng.choice([codec.ACCESS_ACCEPT, codec.ACCESS_REJECT, codec.ACCESS_CHALLENGE])
        attributes = [(name, make(rng)) for name, make in rng.sample(REPLY, rng.randint(0, 8))]
        same_reply(fast, slow, code, attributes, rng.random() < 0.8)


def test_status_server_and_accounting_replies_are_byte_identical_to_pyrad() -> None:
    rng = random.Random(5997)
    for _ in range(CASES // 3):
        fast, slow = both(random_request(rng, rp.StatusServer))
        same_reply(fast, slow, codec.ACCESS_ACCEPT, [], True)
        same_reply(fast, slow, codec.ACCOUNTING_RESPONSE, [], True)
        fast, slow = both(random_request(rng, rp.AccountingRequest))
        assert codec.accounting_authenticator_valid(fast.frame, SECRET)
        same_reply(fast, slow, codec.ACCOUNTING_RESPONSE, [], False)
        same_reply(fast, slow, codec.ACCOUNTING_RESPONSE, [], True)


def test_the_fast_path_keeps_every_attribute_translation_reads() -> None:
    assert codec.KEPT.issuperset(CONTEXT_ATTRIBUTES)
