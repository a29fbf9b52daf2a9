"""`radiusd token …`: enrolling and managing second factors.

`token add USER TYPE` dispatches on TYPE through TOKEN_TYPES. Adding a type is one function: it
takes the TokenRequest (the command's options) and returns an Enrolment (the seed to seal, the
public parameters, and what to show the operator once the token is stored), registered with
@token_type("name"). Options only one type needs are added to `token add` and TokenRequest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pyotp
import segno

from radiusd.cli.main import CliState, UsageError, pass_state
from radiusd.cli.output import emit_rows, json_option
from radiusd.cli.secret_input import prompt_twice, read_stdin
from radiusd.cli.store_access import open_store, transaction
from radiusd.crypto.passwords import PasswordHashing
from radiusd.delivery.addresses import normalise_email, normalise_phone
from radiusd.factors import backup, yubikey
from radiusd.factors.hotp import HotpFactor
from radiusd.factors.questions import answer_rows, check_question
from radiusd.store import admin, auth
from radiusd.store.models import TokenItem

# RFC 4226 §4 R6: the shared secret MUST be at least 128 bits; we generate 160 (its recommendation).
MIN_SEED_BYTES = 16
GENERATED_SEED_BYTES = 20
DIGESTS: dict[str, Callable[..., Any]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
}


@dataclass(frozen=True)
class TokenRequest:
    """What `token add` was given; each type reads the options it understands."""

    user: str
    secret: str | None = None
    secret_hex: str | None = None
    digits: int = 6
    algorithm: str = "sha1"
    period: int | None = None
    counter: int | None = None
    description: str = ""
    png: Path | None = None
    issuer: str = "radiusd"
    to: str | None = None
    """email, sms: where this token's codes go, instead of the user's address or number."""
    user_email: str | None = None
    user_phone: str | None = None
    questions: tuple[str, ...] = ()
    answers_stdin: bool = False
    passwords: PasswordHashing | None = None
    """questions: hashes the answers (argon2id, the configured parameters)."""
    public_id: str | None = None
    private_id: str | None = None
    aes_key: str | None = None
    """yubikey: the public id (modhex), private id and AES key (hex) the key was programmed with."""


@dataclass
class Enrolment:
    """What a token type hands back to be stored."""

    secret: bytes | None
    """The raw secret, sealed with the key ring before it reaches the store; None if the type has none."""
    params: dict[str, Any] = field(default_factory=dict)
    counter: int = -1
    items: list[dict[str, str]] = field(default_factory=list)
    """Hashed items stored with the token (token_items: label, value_hash)."""
    show: Callable[[], None] = lambda: None
    """Called after the token is stored: print the URI and QR code, write files …"""


Enroler = Callable[[TokenRequest], Enrolment]
TOKEN_TYPES: dict[str, Enroler] = {}


def token_type(name: str) -> Callable[[Enroler], Enroler]:
    def register(fn: Enroler) -> Enroler:
        TOKEN_TYPES[name] = fn
        return fn

    return register


# -- OATH seeds (TOTP, HOTP) -------------------------------------------------------------------


def parse_base32(text: str) -> bytes:
    cleaned = "".join(text.split()).replace("-", "").upper().rstrip("=")
    try:
        return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (binascii.Error, ValueError):
        raise UsageError("the secret is not valid base32 (letters A-Z and digits 2-7)") from None


def parse_hex(text: str) -> bytes:
    try:
        return bytes.fromhex("".join(text.split()))
    except ValueError:
        raise UsageError("the secret is not valid hexadecimal") from None


def _seed(req: TokenRequest) -> tuple[bytes, bool]:
    """The seed from --secret or --secret-hex (a hardware token's), else a new random one."""
    if req.secret is not None and req.secret_hex is not None:
        raise UsageError("give --secret or --secret-hex, not both")
    if req.png is not None and (req.secret is not None or req.secret_hex is not None):
        raise UsageError("--png applies to generated secrets only")
    if req.secret is not None:
        seed = parse_base32(req.secret)
    elif req.secret_hex is not None:
        seed = parse_hex(req.secret_hex)
    else:
        return secrets.token_bytes(GENERATED_SEED_BYTES), True
    if len(seed) < MIN_SEED_BYTES:
        raise UsageError(f"the secret has {len(seed) * 8} bits; at least {MIN_SEED_BYTES * 8} are needed")
    return seed, False


def _show_provisioning(uri: str, png: Path | None) -> Callable[[], None]:
    def show() -> None:
        qr = segno.make(uri, error="m")
        click.echo("Scan this QR code with an authenticator app:")
        qr.terminal(out=sys.stdout, compact=True)
        click.echo(uri)
        if png is not None:
            # The image holds the seed: readable by its owner only.
            fd = os.open(png, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                qr.save(fh, kind="png", scale=6, border=4)
            click.echo(f"QR code written to {png}")

    return show


@token_type("totp")
def enrol_totp(req: TokenRequest) -> Enrolment:
    if req.counter is not None:
        raise UsageError("--counter applies to hotp only")
    seed, generated = _seed(req)
    period = req.period or 30
    params = {"digits": req.digits, "algorithm": req.algorithm, "period": period}
    enrolment = Enrolment(secret=seed, params=params)
    if generated:
        otp = pyotp.TOTP(
            base64.b32encode(seed).decode(), digits=req.digits, digest=DIGESTS[req.algorithm], interval=period
        )
        enrolment.show = _show_provisioning(
            otp.provisioning_uri(name=req.user, issuer_name=req.issuer), req.png
        )
    return enrolment


@token_type("hotp")
def enrol_hotp(req: TokenRequest) -> Enrolment:
    if req.period is not None:
        raise UsageError("--period applies to totp only")
    seed, generated = _seed(req)
    first = req.counter or 0
    params = {"digits": req.digits, "algorithm": req.algorithm}
    # The store keeps the last counter accepted; the next code expected is `first`.
    enrolment = Enrolment(secret=seed, params=params, counter=first - 1)
    if generated:
        otp = pyotp.HOTP(base64.b32encode(seed).decode(), digits=req.digits, digest=DIGESTS[req.algorithm])
        uri = otp.provisioning_uri(name=req.user, initial_count=first, issuer_name=req.issuer)
        enrolment.show = _show_provisioning(uri, req.png)
    return enrolment


# -- challenge factors (email, SMS, security questions) -----------------------------------------


def _destination(req: TokenRequest, kind: str, check: Callable[[str], str], own: str | None) -> Enrolment:
    if req.secret is not None or req.secret_hex is not None or req.questions:
        raise UsageError(f"{kind} tokens take only --to")
    try:
        to = check(req.to) if req.to is not None else None
    except ValueError as exc:
        raise UsageError(f"--to: {exc}") from None
    if to is None and not own:
        option = "--email" if kind == "email" else "--phone"
        raise UsageError(f"{req.user} has no {kind} destination: give --to, or set `user edit {option}`")
    return Enrolment(secret=None, params={"to": to} if to else {})


@token_type("email")
def enrol_email(req: TokenRequest) -> Enrolment:
    return _destination(req, "email", normalise_email, req.user_email)


@token_type("sms")
def enrol_sms(req: TokenRequest) -> Enrolment:
    return _destination(req, "sms", normalise_phone, req.user_phone)


@token_type("questions")
def enrol_questions(req: TokenRequest) -> Enrolment:
    if not req.questions:
        raise UsageError('give at least one --question "…" (the answers are asked for, or read from stdin)')
    if req.to is not None or req.secret is not None or req.secret_hex is not None:
        raise UsageError("questions tokens take only --question and --answers-stdin")
    assert req.passwords is not None
    try:
        questions = [check_question(q) for q in req.questions]
        answers = [
            read_stdin(f"answer to {q!r}") if req.answers_stdin else prompt_twice(f"answer to {q!r}")
            for q in questions
        ]
        items = answer_rows(req.passwords, list(zip(questions, answers, strict=True)))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return Enrolment(secret=None, params={"questions": len(items)}, items=items)


# -- YubiKey OTP and backup codes -----------------------------------------------------------------


def _only(req: TokenRequest, kind: str, allowed: str, *extra: object) -> None:
    if any(v is not None for v in (req.secret, req.secret_hex, req.to, *extra)) or req.questions:
        raise UsageError(f"{kind} tokens take only {allowed}")


@token_type("yubikey")
def enrol_yubikey(req: TokenRequest) -> Enrolment:
    _only(req, "yubikey", "--public-id, --private-id and --aes-key")
    if not (req.public_id and req.private_id and req.aes_key):
        raise UsageError("yubikey tokens need --public-id, --private-id and --aes-key")
    public_id = req.public_id.strip().lower()
    if len(public_id) > 32 or not yubikey.is_modhex(public_id):
        raise UsageError("--public-id: expected up to 16 bytes in modhex (letters cbdefghijklnrtuv)")
    try:
        material = yubikey.seal_material(parse_hex(req.aes_key), parse_hex(req.private_id))
    except yubikey.YubikeyError:
        raise UsageError("--aes-key is 32 hex digits and --private-id 12 hex digits") from None
    return Enrolment(secret=material, params={"public_id": public_id})


@token_type("backup")
def enrol_backup(req: TokenRequest) -> Enrolment:
    _only(req, "backup", "--description", req.public_id, req.private_id, req.aes_key)
    key, codes = backup.new_key(), backup.generate_codes()
    items = [{"label": "", "value_hash": backup.hash_code(key, code)} for code in codes]

    def show() -> None:
        click.echo("Backup codes (each works once; they are not shown again):")
        for code in codes:
            click.echo(f"  {backup.display(code)}")

    return Enrolment(secret=key, params={"count": len(codes)}, items=items, show=show)


# -- commands ----------------------------------------------------------------------------------


@click.group()
def token() -> None:
    """Second factors: TOTP and HOTP tokens (apps and hardware) and the other types."""


@token.command("add")
@click.argument("user")
@click.argument("type_name", metavar="TYPE")
@click.option("--secret", help="Import this base32 seed (a hardware token's) instead of generating one.")
@click.option("--secret-hex", help="Import this seed given in hexadecimal.")
@click.option("--digits", type=click.Choice(["6", "8"]), default="6", show_default=True)
@click.option("--algorithm", type=click.Choice(sorted(DIGESTS)), default="sha1", show_default=True)
@click.option("--period", type=click.IntRange(10, 600), help="TOTP time step in seconds [default: 30].")
@click.option("--counter", type=click.IntRange(0), help="HOTP: the counter of the next code [default: 0].")
@click.option("--description", default="", help="Free text, e.g. the device.")
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path), help="Also write the QR code here.")
@click.option("--issuer", default="radiusd", show_default=True, help="The name the app shows.")
@click.option("--to", help="email, sms: send the codes here rather than to the user's address or number.")
@click.option("--question", "questions", multiple=True, help="questions: a security question (repeatable).")
@click.option("--answers-stdin", is_flag=True, help="questions: read the answers from stdin, one a line.")
@click.option("--preferred", is_flag=True, help="Use this token first among the user's challenge factors.")
@click.option("--public-id", help="yubikey: the public id (modhex) the key types first.")
@click.option("--private-id", help="yubikey: the private id (12 hex digits).")
@click.option("--aes-key", help="yubikey: the AES key (32 hex digits).")
@pass_state
def token_add(
    state: CliState,
    user: str,
    type_name: str,
    secret: str | None,
    secret_hex: str | None,
    digits: str,
    algorithm: str,
    period: int | None,
    counter: int | None,
    description: str,
    png: Path | None,
    issuer: str,
    to: str | None,
    questions: tuple[str, ...],
    answers_stdin: bool,
    preferred: bool,
    public_id: str | None,
    private_id: str | None,
    aes_key: str | None,
) -> None:
    """Enrol a token of TYPE for USER. TOTP and HOTP without --secret get a new seed, shown once
    as an otpauth:// URI and a QR code."""
    enrol = TOKEN_TYPES.get(type_name)
    if enrol is None:
        raise UsageError(
            f"unknown token type {type_name!r}: expected one of {', '.join(sorted(TOKEN_TYPES))}"
        )
    ctx = open_store(state)
    with transaction(ctx) as s:
        owner = admin.get_user(s, user)  # an unknown user fails before anything is generated
        user_email, user_phone = owner.email, owner.phone
    request = TokenRequest(
        user=user,
        secret=secret,
        secret_hex=secret_hex,
        digits=int(digits),
        algorithm=algorithm,
        period=period,
        counter=counter,
        description=description,
        png=png,
        issuer=issuer,
        public_id=public_id,
        private_id=private_id,
        aes_key=aes_key,
        to=to,
        user_email=user_email,
        user_phone=user_phone,
        questions=questions,
        answers_stdin=answers_stdin,
        passwords=ctx.passwords,
    )
    enrolment = enrol(request)
    with transaction(ctx) as s:
        stored = admin.add_token(
            s,
            ctx.keyring,
            user,
            type_name,
            secret=enrolment.secret,
            params=enrolment.params,
            counter=enrolment.counter,
            description=description,
        )
        s.add_all(TokenItem(token_id=stored.id, **item) for item in enrolment.items)
        if preferred:
            for other in stored.user.tokens:
                other.preferred = other is stored
    click.echo(f"token {stored.id} ({type_name}) added for {user}")
    enrolment.show()


def _when(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@token.command("list")
@click.argument("user", required=False)
@json_option
@pass_state
def token_list(state: CliState, user: str | None, as_json: bool) -> None:
    """List tokens, of every user or of USER (never their secrets)."""
    with transaction(open_store(state)) as s:
        rows = admin.list_tokens(s, user)
    if not as_json:
        rows = [r | {"created": _when(r["created_at"]), "last_used": _when(r["last_used_at"])} for r in rows]
    emit_rows(rows, ["id", "user", "type", "enabled", "description", "created", "last_used"], as_json)


@token.command("remove")
@click.argument("token_id", metavar="ID", type=int)
@pass_state
def token_remove(state: CliState, token_id: int) -> None:
    """Remove a token (see `token list` for its ID)."""
    with transaction(open_store(state)) as s:
        admin.remove_token(s, token_id)
    click.echo(f"token {token_id} removed")


def _set_enabled(state: CliState, token_id: int, enabled: bool) -> None:
    with transaction(open_store(state)) as s:
        admin.set_token_enabled(s, token_id, enabled)
    click.echo(f"token {token_id} {'enabled' if enabled else 'disabled'}")


@token.command("enable")
@click.argument("token_id", metavar="ID", type=int)
@pass_state
def token_enable(state: CliState, token_id: int) -> None:
    """Accept codes from this token again."""
    _set_enabled(state, token_id, True)


@token.command("disable")
@click.argument("token_id", metavar="ID", type=int)
@pass_state
def token_disable(state: CliState, token_id: int) -> None:
    """Stop accepting codes from this token (it stays enrolled)."""
    _set_enabled(state, token_id, False)


@token.command("resync")
@click.argument("user")
@click.argument("code1")
@click.argument("code2")
@pass_state
def token_resync(state: CliState, user: str, code1: str, code2: str) -> None:
    """Re-synchronise USER's HOTP token with two consecutive codes (CODE1 then CODE2), searched
    within engine.hotp_resync_window codes after the last one accepted."""
    ctx = open_store(state)
    loaded = auth.load_user(ctx.db, user)
    if loaded is None:
        raise UsageError(f"no such user: {user}")
    factor = HotpFactor(ctx.config.engine)
    for candidate in (t for t in loaded.tokens if t.type == "hotp"):
        match = factor.resync(candidate, code1, code2, ctx.keyring)
        if match is not None and auth.consume(ctx.db, match, time.time()):
            click.echo(f"token {candidate.id} (hotp) re-synchronised")
            return
    raise UsageError(f"no enabled hotp token of {user} produced these two codes in a row")


commands = [token]
