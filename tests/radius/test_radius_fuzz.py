"""A seeded mutation loop: 100,000 random and mutated packets, 60,000 through the decoding path in
this process and 40,000 to a running server; nothing but MalformedPacket escapes, and a valid request
is still answered afterwards."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random
import socket
import struct
import time
from pathlib import Path

import pyotp
from radius.radius_client import (
    DICTIONARY,
    access_request,
    accounting_request,
    ask,
    encode,
    status_server,
)
from radius.radius_server import SECRET, running_radiusd

from radiusd.radius import codec
from radiusd.radius.accounting import accounting_row
from radiusd.radius.checks import drop_reason
from radiusd.radius.clients import Client
from radiusd.radius.translate import auth_request

KEY = SECRET.encode()
CLIENT = Client(
    "fuzz",
    ipaddress.ip_network("127.0.0.1/32"),
    KEY,
    require_message_authenticator=False,
    limit_proxy_state=True,
    source_attribute="Calling-Station-Id",
)


def seeds() -> list[bytes]:
    return [
        encode(
            access_request(
                SECRET,
                "alice",
                "pw",
                attributes=[("NAS-Identifier", "vpn"), ("Calling-Station-Id", "10.0.0.1")],
            )
        ),
        encode(access_request(SECRET, "bob", "x" * 100, state=b"st", proxy_states=[b"a", b"b"])),
        encode(
            access_request(
                SECRET, "carol", None, attributes=[("Framed-IP-Address", "10.1.1.1"), ("Cisco-AVPair", "a=b")]
            )
        ),
        encode(
            accounting_request(
                SECRET,
                User_Name="dave",
                Acct_Status_Type="Stop",
                Acct_Session_Id="1",
                Acct_Input_Octets=5,
                Framed_IP_Address="10.2.2.2",
            )
        ),
        encode(status_server(SECRET)),
    ]


def mutate(rng: random.Random, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(6)
        if choice == 0 and data:  # flip bytes
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif choice == 1:  # truncate
            del data[rng.randrange(len(data) + 1) :]
        elif choice == 2:  # insert a random attribute, sometimes with a lying length
            at = rng.randrange(20, len(data) + 1) if len(data) >= 20 else len(data)
            value = rng.randbytes(rng.randrange(0, 40))
            length = len(value) + 2 if rng.random() < 0.7 else rng.randrange(256)
            data[at:at] = (
                bytes([rng.choice([1, 2, 4, 8, 24, 26, 31, 33, 40, 80, rng.randrange(256)]), length]) + value
            )
        elif choice == 3:  # a vendor attribute with random insides
            vsa = struct.pack("!I", rng.choice([9, 311, 3076, 12356, 25461, rng.randrange(2**32)]))
            vsa += rng.randbytes(rng.randrange(0, 30))
            data += bytes([26, len(vsa) + 2]) + vsa
        elif choice == 4:  # random garbage
            data = bytearray(rng.randbytes(rng.randrange(0, 120)))
        else:  # change the code
            if data:
                data[0] = rng.choice([1, 4, 12, 2, 11, 40, rng.randrange(256)])
    return bytes(data)


def resign(data: bytes) -> bytes:
    """Fix Length and the authenticators, so that a mutant gets past the checks into the decoder."""
    if len(data) < 20:
        return data
    data = data[:2] + struct.pack("!H", min(len(data), 4096)) + data[4:4096]
    try:
        frame = codec.parse_frame(data)
    except codec.MalformedPacket:
        return data
    if frame.code == codec.ACCOUNTING_REQUEST:
        return data[:4] + hashlib.md5(data[:4] + bytes(16) + data[20:] + KEY).digest() + data[20:]
    if frame.ma_offset >= 0:
        at = frame.ma_offset
        zeroed = data[:at] + bytes(16) + data[at + 16 :]
        return zeroed[:at] + hmac.new(KEY, zeroed, hashlib.md5).digest() + zeroed[at + 16 :]
    return data


def process(data: bytes) -> bool:
    """What the server does with a packet from a known client, short of the engine and the store."""
    try:
        frame = codec.parse_frame(data)
        if drop_reason(frame, CLIENT, accounting_port=frame.code == codec.ACCOUNTING_REQUEST) is not None:
            return False
        request = codec.Request(frame, KEY, DICTIONARY)  # the fast path, as the server decodes
        if frame.code == codec.ACCESS_REQUEST:
            auth_request(request, CLIENT, "127.0.0.1")
        elif frame.code == codec.ACCOUNTING_REQUEST:
            accounting_row(codec.decode(frame, KEY, DICTIONARY), CLIENT.name, "127.0.0.1")
        codec.encode_reply(request, codec.ACCESS_REJECT, [("Reply-Message", "x")], True)
        return True
    except codec.MalformedPacket:
        return False


def test_decoder_survives_60000_mutants() -> None:
    rng = random.Random(20240709)
    bases = seeds()
    decoded = 0
    for i in range(60_000):
        mutant = mutate(rng, rng.choice(bases))
        decoded += process(resign(mutant) if i % 2 else mutant)
    assert decoded > 3_000  # the re-signed half reaches the decoder, not only the framing checks


def test_running_server_survives_40000_mutants_and_still_answers(tmp_path: Path) -> None:
    rng = random.Random(5997)
    bases = seeds()
    seed = pyotp.random_base32()
    with running_radiusd(tmp_path, users={"alice": "pw"}, totp={"alice": seed}) as srv:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for i in range(40_000):
                mutant = mutate(rng, rng.choice(bases))
                if i % 50 == 0:
                    mutant = resign(mutant)
                sock.sendto(mutant, (srv.host, srv.acct_port if i % 3 == 0 else srv.auth_port))
                if i % 500 == 499:
                    time.sleep(0.005)  # let the server read, rather than the kernel drop
        reply = ask(
            srv.host, srv.auth_port, access_request(SECRET, "alice", f"pw,{pyotp.TOTP(seed).now()}"), 10
        )
        assert reply is not None and reply.code == codec.ACCESS_ACCEPT
        counts = srv.counters()
        assert srv.process.poll() is None
        log = srv.log()
    assert counts.get("errors", 0) == 0
    assert "Traceback" not in log
    assert counts.get("drop_malformed", 0) + counts.get("drop_bad_authenticator", 0) > 1000
