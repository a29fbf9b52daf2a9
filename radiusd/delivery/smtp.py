"""Email codes over SMTP: plain, STARTTLS (required, never a silent downgrade) or implicit TLS."""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from radiusd.config.delivery import SmtpConfig
from radiusd.delivery.message import CodeMessage, DeliveryError, with_retries
from radiusd.delivery.templates import render


def tls_context(cfg: SmtpConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
    if not cfg.verify_certificate:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class SmtpSender:
    channel = "email"

    def __init__(self, cfg: SmtpConfig) -> None:
        self.cfg = cfg
        self._tls = tls_context(cfg) if cfg.security != "none" else None

    def compose(self, to: str, message: CodeMessage) -> EmailMessage:
        fields = message.fields()
        mail = EmailMessage()
        mail["From"] = self.cfg.from_address
        mail["To"] = to
        mail["Subject"] = render(self.cfg.subject, fields)
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain=self.cfg.from_address.rpartition("@")[2] or None)
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(render(self.cfg.body, fields))
        return mail

    async def send(self, to: str, message: CodeMessage) -> None:
        mail = self.compose(to, message)
        where = f"smtp {self.cfg.host}:{self.cfg.effective_port}"
        await with_retries(where, lambda: self._attempt(mail), self.cfg.timeout, self.cfg.retries)

    async def _attempt(self, mail: EmailMessage) -> None:
        cfg = self.cfg
        where = f"{cfg.host}:{cfg.effective_port}"
        try:
            await aiosmtplib.send(
                mail,
                hostname=cfg.host,
                port=cfg.effective_port,
                username=cfg.username,
                password=cfg.password,
                use_tls=cfg.security == "tls",
                start_tls=cfg.security == "starttls",
                tls_context=self._tls,
                timeout=cfg.timeout,
            )
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"smtp {where}: login refused ({exc.code})", transient=False) from None
        except aiosmtplib.SMTPResponseException as exc:
            text = " ".join(exc.message.split())[:100]
            raise DeliveryError(f"smtp {where}: {exc.code} {text}", transient=400 <= exc.code < 500) from None
        except aiosmtplib.SMTPTimeoutError:
            raise DeliveryError(f"smtp {where}: no answer within {cfg.timeout:g} s") from None
        except aiosmtplib.SMTPConnectError as exc:
            raise DeliveryError(f"smtp {where}: cannot connect ({_short(exc)})") from None
        except aiosmtplib.SMTPException as exc:
            # STARTTLS not offered, certificate refused, protocol trouble: retrying will not help.
            raise DeliveryError(f"smtp {where}: {_short(exc)}", transient=False) from None
        except ssl.SSLError as exc:
            raise DeliveryError(f"smtp {where}: TLS failed ({exc.reason or exc})", transient=False) from None
        except OSError as exc:
            raise DeliveryError(f"smtp {where}: {exc.strerror or exc}") from None


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:120] or exc.__class__.__name__
