"""One login: get the first secret as the service is configured, then answer challenges until the
server accepts or rejects.

Prompting modes (the module argument prompt=, else the file's `prompt`):
  combined  one prompt; the user types the password and the code together
  separate  the password alone; the server's challenge then asks for the code
  code      the code alone, for stacks where an earlier module (pam_unix, pam_sss) checked the
            password; radiusd's rule for this client must say code_only
use_first_pass / try_first_pass take the password an earlier module read (PAM_AUTHTOK) instead of
asking, as in pam_unix; the server's challenge then asks for the code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from radiusd.pamclient.channel import Channel, Result
from radiusd.pamclient.qr import find_otpauth_uri, terminal_qr
from radiusd.pamclient.radius_client import LoginContext, NoServerAnswered, RadiusClient, Reply, Verdict
from radiusd.pamclient.settings import HelperConfig, ModuleArguments, source_allowed

log = logging.getLogger(__name__)

MAX_ATTRIBUTE_TEXT = 253
UNREACHABLE = "The authentication server cannot be reached."


def reply_text(messages: tuple[str, ...]) -> str:
    """Reply-Messages in order; a full-length attribute continues in the next one (long texts
    are split at the attribute limit), otherwise each message is its own line."""
    text = ""
    for i, message in enumerate(messages):
        text += message
        full = len(message.encode()) >= MAX_ATTRIBUTE_TEXT
        if i < len(messages) - 1 and not full and not message.endswith("\n"):
            text += "\n"
    return text


def as_prompt(text: str, fallback: str) -> str:
    text = text.rstrip("\n") or fallback
    if text.endswith((" ", "\n", "\t")):
        return text
    return text + " " if text.endswith(":") else text + ": "


@dataclass
class Login:
    channel: Channel
    client: RadiusClient
    config: HelperConfig
    args: ModuleArguments
    items: dict[str, str]

    @property
    def user(self) -> str:
        return self.items["user"]

    def run(self) -> Result:
        login = LoginContext(
            user=self.user,
            nas_identifier=self.config.nas_identifier or self.items.get("service") or "pam",
            calling_station=self.items.get("rhost") or None,
        )
        secret = self._first_secret()
        if secret is None:
            return Result.REJECT
        try:
            reply = self.client.authenticate(login, secret)
        except NoServerAnswered:
            return self._unreachable()
        rounds = 0
        while reply.verdict is Verdict.CHALLENGE:
            rounds += 1
            if rounds > self.config.max_rounds or reply.state is None:
                log.warning("user %s: challenge without State or too many rounds; rejected", self.user)
                return Result.REJECT
            answer = self.channel.prompt(self._challenge_prompt(reply), echo=reply.echo)
            try:
                reply = self.client.authenticate(login, answer, reply.state)
            except NoServerAnswered:
                log.warning("user %s: no server answered the challenge response", self.user)
                self.channel.error(UNREACHABLE)
                return Result.UNAVAILABLE
        return self._finish(reply)

    def _first_secret(self) -> str | None:
        mode = self.args.prompt or self.config.prompt
        authtok = self.items.get("authtok") or None
        if mode != "code" and (self.args.use_first_pass or self.args.try_first_pass):
            if authtok is not None:
                return authtok
            if self.args.use_first_pass:
                log.error("user %s: use_first_pass, but no earlier module read a password", self.user)
                return None
        if mode == "combined":
            return self.channel.prompt(self.config.combined_prompt)
        if mode == "code":
            return self.channel.prompt(self.config.code_prompt)
        password = self.channel.prompt(self.config.password_prompt)
        self.channel.set_authtok(password)  # later modules may use_first_pass it
        return password

    def _challenge_prompt(self, reply: Reply) -> str:
        """The server's message as the prompt; an otpauth URI in it (first-login enrolment) is
        shown apart, under a QR code the user can scan."""
        text = reply_text(reply.messages)
        uri = find_otpauth_uri(text)
        if uri is not None:
            self.channel.info(f"{terminal_qr(uri)}\n{uri}")
            text = "\n".join(line for line in text.split("\n") if uri not in line)
        return as_prompt(text, self.config.code_prompt)

    def _unreachable(self) -> Result:
        rhost = self.items.get("rhost")
        if source_allowed(rhost, self.config.allow_when_unreachable):
            log.warning("user %s from %s: no server answered; second factor waived", self.user, rhost)
            return Result.IGNORE
        log.error("user %s: no server answered; login refused", self.user)
        self.channel.error(UNREACHABLE)
        return Result.UNAVAILABLE

    def _finish(self, reply: Reply) -> Result:
        text = reply_text(reply.messages)
        if reply.verdict is Verdict.ACCEPT:
            if text:
                self.channel.info(text)
            log.info("user %s: accepted by %s", self.user, reply.server)
            return Result.SUCCESS
        if text:
            self.channel.error(text)
        log.info("user %s: rejected by %s", self.user, reply.server)
        return Result.REJECT
