"""Security questions and the hourly code limit through a real `radiusd serve`; enrolment by CLI."""

from __future__ import annotations

from pathlib import Path

from challenge_servers import PASSWORD, add_user, audit, challenge_server, enrol, login, message, state, store
from click.testing import CliRunner
from delivery_peers import SmsGateway
from pyrad import packet as rp

from radiusd.cli.main import cli
from radiusd.factors.questions import answer_rows
from radiusd.store import admin
from radiusd.store.models import TokenItem

QUESTIONS = {"Name of your first pet?": "Rex the Dog", "Favourite colour?": "Blue"}


def test_a_question_at_random_answered_in_any_case_and_spacing(tmp_path: Path) -> None:
    with challenge_server(tmp_path) as srv:
        with store(srv) as (ctx, s):
            token = admin.add_token(s, ctx.keyring, "alice", "questions")
            s.add_all(
                TokenItem(token_id=token.id, **row)
                for row in answer_rows(ctx.passwords, [*QUESTIONS.items()])
            )
            stored = [i.value_hash for i in s.query(TokenItem)]
        assert not any(answer in h for h in stored for answer in QUESTIONS.values())

        asked = login(srv, "alice", PASSWORD)
        question = message(asked)
        assert question in QUESTIONS
        # Sending the password again asks the same question of the same challenge.
        assert state(login(srv, "alice", PASSWORD)) == state(asked)
        assert login(srv, "alice", "wrong answer", state(asked)).code == rp.AccessChallenge
        typed = "  " + QUESTIONS[question].upper().replace(" ", "   ") + " "
        assert login(srv, "alice", typed, state(asked)).code == rp.AccessAccept


def test_codes_per_user_per_hour_are_limited(tmp_path: Path) -> None:
    limits = {"codes_per_user_per_hour": 2}
    # validity 20 s is below the 30 s a challenge needs left to be reused: each login mints a code.
    with (
        SmsGateway() as gateway,
        challenge_server(tmp_path, gateway=gateway, limits=limits, challenge={"validity": 20}) as srv,
    ):
        enrol(srv, "alice", "sms")
        for _ in range(2):
            assert login(srv, "alice", PASSWORD).code == rp.AccessChallenge
        refused = login(srv, "alice", PASSWORD)
        assert refused.code == rp.AccessReject
        assert message(refused) == "Too many codes requested, try again later"
        assert len(gateway.wait_for(2)) == 2
        assert audit(srv, "alice", 3)[-1]["reason"] == "sms: code limit reached: 2 per hour for this user"


def test_cli_enrols_email_sms_and_questions(tmp_path: Path) -> None:
    runner = CliRunner()
    with challenge_server(tmp_path) as srv:
        add_user(srv, "erin")
        config = str(srv.config)

        def run(*args: str, input: str | None = None) -> tuple[int, str]:
            result = runner.invoke(cli, ["-c", config, *args], input=input)
            return result.exit_code, result.output

        code, out = run("token", "add", "erin", "email")
        assert code != 0 and "erin has no email destination" in out
        code, out = run("user", "edit", "erin", "--email", "not an address")
        assert code != 0 and "not an email address" in out
        assert (
            run("user", "edit", "erin", "--email", "erin@example.org", "--phone", "+49 151 2345 6789")[0] == 0
        )
        assert run("token", "add", "erin", "email")[0] == 0
        assert run("token", "add", "erin", "sms", "--to", "+4915100000000", "--preferred")[0] == 0
        code, out = run("token", "add", "erin", "sms", "--to", "-rf")
        assert code != 0 and "not a phone number" in out
        code, _ = run(
            "token", "add", "erin", "questions", "--question", "Favourite colour?", "--answers-stdin",
            input="Blue\n",
        )  # fmt: skip
        assert code == 0
        with store(srv) as (_ctx, s):
            owner = admin.get_user(s, "erin")
            assert (owner.email, owner.phone) == ("erin@example.org", "+4915123456789")
            kinds = {(t.type, t.params.get("to"), t.preferred) for t in owner.tokens}
            assert kinds == {
                ("email", None, False),
                ("sms", "+4915100000000", True),
                ("questions", None, False),
            }
        # The preferred SMS token decides the challenge.
        assert message(login(srv, "erin", PASSWORD)) == "The code could not be sent"
        assert audit(srv, "erin", 1)[-1]["reason"] == "sms: delivery.sms is not configured"
