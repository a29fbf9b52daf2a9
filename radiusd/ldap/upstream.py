"""The proxy's connection to the organisation's directory: failover, ldaps:// or StartTLS, raw frames."""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlsplit

from radiusd.config.backends import LdapBackendConfig
from radiusd.ldap import codec


class UpstreamError(Exception):
    pass


def client_tls(config: LdapBackendConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
    if not config.verify_certificate:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


async def read_frame(reader: asyncio.StreamReader, buffer: bytearray) -> bytes | None:
    """The next whole LDAP message from `reader` (None at end of stream); `buffer` keeps the rest."""
    while True:
        size = codec.frame_length(buffer)
        if size is not None:
            frame = bytes(buffer[:size])
            del buffer[:size]
            return frame
        chunk = await reader.read(65536)
        if not chunk:
            return None
        buffer += chunk


class Upstream:
    """One connection to the directory, opened for one client connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, uri: str) -> None:
        self.reader, self.writer, self.uri = reader, writer, uri
        self.buffer = bytearray()

    @classmethod
    async def connect(cls, config: LdapBackendConfig, timeout: float) -> Upstream:
        causes = []
        tls = client_tls(config)
        for uri in config.servers:
            parts = urlsplit(uri)
            secure = parts.scheme.lower() == "ldaps"
            host, port = parts.hostname or "localhost", parts.port or (636 if secure else 389)
            try:
                async with asyncio.timeout(min(timeout, config.connect_timeout)):
                    reader, writer = await asyncio.open_connection(
                        host, port, ssl=tls if secure else None, server_hostname=host if secure else None
                    )
                upstream = cls(reader, writer, uri)
                if config.start_tls and not secure:
                    async with asyncio.timeout(timeout):
                        await upstream._start_tls(tls, host)
                return upstream
            except (OSError, TimeoutError, ssl.SSLError, UpstreamError, codec.CodecError) as exc:
                causes.append(f"{uri}: {exc.__class__.__name__}")
        raise UpstreamError("no directory server reachable (" + "; ".join(causes) + ")")

    async def _start_tls(self, tls: ssl.SSLContext, host: str) -> None:
        self.writer.write(codec.start_tls_request(1))
        frame = await read_frame(self.reader, self.buffer)
        if frame is None or codec.result_code(codec.decode(frame)) != codec.SUCCESS:
            self.writer.close()
            raise UpstreamError("StartTLS refused")
        await self.writer.start_tls(tls, server_hostname=host)

    def send(self, frame: bytes) -> None:
        self.writer.write(frame)

    async def receive(self) -> bytes | None:
        return await read_frame(self.reader, self.buffer)

    def close(self) -> None:
        self.writer.close()
