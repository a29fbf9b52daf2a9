"""The hourly code limits per source address and per user, end to end: a running `radiusd serve`,
a real SMTP server, RADIUS requests sent from different loopback addresses (127.0.0.2, .3, .4:
the whole of 127/8 is loopback on Linux, and the server's client entry covers it)."""

from __future__ import annotations

import re
import socket
from pathlib import Path

from challenge_servers import PASSWORD, add_user, audit, challenge_server, enrol, message, state, store
from delivery_peers import SmtpServer
from pyrad import packet as rp
from radius.radius_client import access_request, encode, exchange
from radius.radius_server import SECRET, Radiusd

from radiusd.store.models import Challenge

TOO_MANY = "Too many codes requested, try again later"


def login_from(source: str, srv: Radiusd, user: str, secret: str, state: bytes | None = None) -> rp.Packet:
    """An Access-Request sent from `source`: the server sees it as the request's source address."""
    pkt = access_request(SECRET, user, secret, state=state)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        raw = exchange(srv.host, srv.auth_port, encode(pkt), timeout=8, sock=sock)
    assert raw is not None, f"no answer from radiusd to {source}"
    reply = pkt.CreateReply(packet=raw)
    assert pkt.VerifyReply(reply, raw, enforce_ma=True), "reply does not verify"
    return reply


def test_codes_per_source_and_per_user_are_limited_end_to_end(tmp_path: Path) -> None:
    limits = {"codes_per_source_per_hour": 3, "codes_per_user_per_hour": 2}
    users = ["ann", "ben", "cat", "dan"]
    # validity 20 s is below the 30 s a challenge needs left to be reused: each login mints a code.
    with (
        SmtpServer(tmp_path) as smtp,
        challenge_server(tmp_path, smtp=smtp, limits=limits, challenge={"validity": 20}) as srv,
    ):
        for user in users:
            add_user(srv, user)
            enrol(srv, user, "email")

        # One address: three users get codes, the fourth is refused although he has had none.
        for user in users[:3]:
            assert login_from("127.0.0.2", srv, user, PASSWORD).code == rp.AccessChallenge
        assert len(smtp.wait_for(3)) == 3
        refused = login_from("127.0.0.2", srv, "dan", PASSWORD)
        assert refused.code == rp.AccessReject
        assert message(refused) == TOO_MANY
        assert audit(srv, "dan", 1)[-1] == {
            "result": "reject",
            "reason": "email: code limit reached: 3 per hour for source 127.0.0.2",
            "factor": "email",
        }

        # The same user from another address gets a code, and it logs him in.
        challenge = login_from("127.0.0.3", srv, "dan", PASSWORD)
        assert message(challenge) == "Enter the code sent to a***@example.org"
        assert len(smtp.wait_for(4)) == 4
        code = smtp.last_code()
        with store(srv) as (ctx, s):  # only the keyed hash is stored, naming the key it was made with
            row = s.get(Challenge, state(challenge).decode())
            assert row is not None and row.code_hash and code not in row.code_hash
            assert re.fullmatch(rf"h1\.{ctx.keyring.current}\.[0-9a-f]{{64}}", row.code_hash)
        assert login_from("127.0.0.3", srv, "dan", code, state(challenge)).code == rp.AccessAccept

        # Per user: ann's second code (from .3) is allowed, her third is refused from a fresh address.
        assert login_from("127.0.0.3", srv, "ann", PASSWORD).code == rp.AccessChallenge
        assert len(smtp.wait_for(5)) == 5
        refused = login_from("127.0.0.4", srv, "ann", PASSWORD)
        assert refused.code == rp.AccessReject
        assert message(refused) == TOO_MANY
        assert audit(srv, "ann", 3)[-1]["reason"] == "email: code limit reached: 2 per hour for this user"
        # ...while another user from that address still gets one.
        assert login_from("127.0.0.4", srv, "ben", PASSWORD).code == rp.AccessChallenge

        # No mail went out for a refusal: five codes plus ben's last one.
        assert len(smtp.wait_for(6)) == 6
        assert len(smtp.messages) == 6
