"""Entry point: `python -I -m radiusd.pamclient [module arguments]`, started by pam_radiusd.so with
the socket to the module on stdin and stdout."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys

from radiusd.pamclient.channel import Channel, ChannelError, ConversationAborted, Result
from radiusd.pamclient.login import Login
from radiusd.pamclient.radius_client import RadiusClient
from radiusd.pamclient.settings import ModuleArguments, SettingsError, load_config
from radiusd.radius.dictionary import DictionaryError, dictionary_path, load_dictionary

log = logging.getLogger("radiusd.pamclient")


def _setup_logging(debug: bool) -> None:
    """syslog (authpriv) where there is one, else stderr; never a password or a code."""
    handler: logging.Handler
    if os.path.exists("/dev/log"):
        handler = logging.handlers.SysLogHandler("/dev/log", logging.handlers.SysLogHandler.LOG_AUTHPRIV)
        handler.setFormatter(logging.Formatter("pam_radiusd[%(process)d]: %(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("pam_radiusd: %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)


def _take_stdio() -> Channel:
    """The channel gets private copies of fds 0 and 1; fd 1 then points at stderr, so a stray print
    anywhere cannot corrupt the protocol."""
    reader = os.fdopen(os.dup(0), "rb", buffering=0)
    writer = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    return Channel(reader, writer)  # type: ignore[arg-type]


def serve(channel: Channel, argv: list[str]) -> Result:
    items = channel.read_items()
    try:
        args = ModuleArguments.parse(argv)
    except SettingsError as exc:
        _setup_logging(debug=False)
        log.error("%s; login refused", exc)
        return Result.REJECT
    _setup_logging(args.debug)
    try:
        if not items.get("user"):
            raise SettingsError("no user name from the PAM module")
        config = load_config(args.config)
        client = RadiusClient(config.servers, load_dictionary(dictionary_path(config.dictionary)))
        return Login(channel, client, config, args, items).run()
    except (SettingsError, DictionaryError) as exc:
        log.error("%s; login refused", exc)
        return Result.REJECT
    except ConversationAborted:
        return Result.ABORT


def main(argv: list[str]) -> int:
    channel = _take_stdio()
    try:
        result = serve(channel, argv)
    except ChannelError as exc:
        logging.getLogger(__name__).error("%s", exc)
        return 1
    except Exception:
        log.exception("internal error; login refused")
        result = Result.REJECT
    try:
        channel.result(result)
    except (ChannelError, OSError):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
