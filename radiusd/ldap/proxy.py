"""The LDAP bind proxy: Jira and Confluence use it as their LDAP directory; user binds need the code.

Per client connection:
- the configured service accounts' binds, searches (with every control, paged results included),
  compares, abandons and unbinds go to the directory unchanged, as raw frames over a connection of
  their own, and the directory's answers (entries, references, results) come back unchanged;
- every other simple bind is a user login: the typed secret (password+code) goes to the engine,
  whose first factor binds to the directory with the password part (the `ldap` backend) and whose
  second factor is the user's token. The answer is success (0) or invalidCredentials (49);
- writes are refused with insufficientAccessRights (50); anonymous binds are refused unless allowed.

After a user bind the directory connection is dropped, so later operations on that client
connection run anonymously and never with the service account's rights.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

from ldap3.core.exceptions import LDAPException
from ldap3.utils.dn import parse_dn

from radiusd.backends.base import BlockingRunner
from radiusd.backends.ldap import LdapDirectory, close
from radiusd.config.ldap_proxy import LdapProxyConfig
from radiusd.context import Context
from radiusd.engine.types import Authenticator, AuthRequest, Outcome
from radiusd.ldap import codec
from radiusd.ldap.bind_cache import BindCache
from radiusd.ldap.upstream import Upstream, UpstreamError, read_frame

log = logging.getLogger("radiusd.ldap")

AUTH_METHOD_NOT_SUPPORTED = 7
OPERATIONS_ERROR = 1
FORWARDED = frozenset({"searchRequest", "compareRequest", "abandonRequest"})
WRITES = frozenset({"addRequest", "modifyRequest", "delRequest", "modDNRequest"})


def normalise_dn(dn: str) -> str:
    """For comparing DNs: attribute names and values lower-cased, no spaces around separators."""
    try:
        return ",".join(f"{attr.lower()}={value.lower()}" for attr, value, _sep in parse_dn(dn))
    except LDAPException:
        return dn.strip().lower()


def server_tls(config: LdapProxyConfig) -> ssl.SSLContext | None:
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(config.tls_cert, config.tls_key)
    return context


class LdapProxy:
    def __init__(self, ctx: Context, engine: Authenticator) -> None:
        directory = ctx.config.backends.ldap
        if directory is None:
            raise ValueError("ldap_proxy needs backends.ldap: the directory it stands in front of")
        self.config = ctx.config.ldap_proxy
        self.directory_config = directory
        self.directory = LdapDirectory(directory)
        self.engine = engine
        self.cache = BindCache(self.config.bind_cache_ttl)
        self.tls = server_tls(self.config)
        self._service_accounts = {normalise_dn(dn) for dn in self.config.service_accounts}
        self._lookups = BlockingRunner("ldap-proxy", self.config.timeout)
        self._servers: list[asyncio.Server] = []
        self._sessions: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        # reuse_port: with `radiusd serve --workers N` every worker process listens on the same ports.
        cfg = self.config
        if cfg.port is not None:
            self._servers.append(
                await asyncio.start_server(self._accept(False), cfg.address, cfg.port, reuse_port=True)
            )
        if cfg.ldaps_port is not None:
            self._servers.append(
                await asyncio.start_server(
                    self._accept(True), cfg.address, cfg.ldaps_port, ssl=self.tls, reuse_port=True
                )
            )
        log.info("ldap proxy listening on %s", ", ".join(self.urls))

    @property
    def urls(self) -> list[str]:
        """ldap://host:port and ldaps://host:port as bound (port 0 in the config becomes the real one)."""
        schemes = ["ldap"] * (self.config.port is not None) + ["ldaps"] * (self.config.ldaps_port is not None)
        return [
            f"{scheme}://{self.config.address}:{server.sockets[0].getsockname()[1]}"
            for scheme, server in zip(schemes, self._servers, strict=True)
        ]

    def is_service_account(self, dn: str) -> bool:
        return normalise_dn(dn) in self._service_accounts

    def _accept(self, secure: bool):  # type: ignore[no-untyped-def]
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._sessions.add(task)
            try:
                await ClientSession(self, reader, writer, secure).run()
            except Exception:
                log.exception("ldap proxy: connection failed")
            finally:
                self._sessions.discard(task)
                writer.close()

        return handle

    async def user_bind(self, address: str, dn: str, secret: str) -> bool:
        """A user's login: the engine decides; a recent identical success is answered from the cache."""
        if self.cache.hit(address, dn, secret):
            log.info("ldap bind %s from %s: accept (repeated within %gs)", dn, address, self.cache.ttl)
            return True
        try:
            name = await self._lookups.run(self._user_for_dn, dn)
        except Exception as exc:  # the engine still decides (and records) with the DN as the name
            log.warning("ldap proxy: could not map %s to a user: %s", dn, exc.__class__.__name__)
            name = None
        request = AuthRequest(
            user=name or dn, secret=secret, frontdoor="ldap", client=self.config.application, source=address
        )
        try:
            async with asyncio.timeout(self.config.timeout):
                decision = await self.engine.authenticate(request)
        except TimeoutError:
            log.warning("ldap bind %s from %s: no decision within %gs", dn, address, self.config.timeout)
            return False
        accepted = decision.outcome is Outcome.ACCEPT
        log.info("ldap bind %s from %s: %s (%s)", dn, address, decision.outcome.value, decision.reason)
        if accepted:
            self.cache.add(address, dn, secret)
        return accepted

    def _user_for_dn(self, dn: str) -> str | None:
        conn = self.directory.connect()
        try:
            self.directory.bind_service(conn)
            user = self.directory.user_for_dn(conn, dn)
            return user.name if user else None
        finally:
            close(conn)

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._sessions):
            task.cancel()
        for server in self._servers:
            await server.wait_closed()
        self._lookups.close()


class ClientSession:
    """One client connection and, when needed, its own connection to the directory."""

    def __init__(
        self, proxy: LdapProxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, secure: bool
    ) -> None:
        self.proxy, self.reader, self.writer, self.secure = proxy, reader, writer, secure
        peer = writer.get_extra_info("peername")
        self.address = str(peer[0]) if peer else ""
        self.upstream: Upstream | None = None
        self._relay: asyncio.Task[None] | None = None

    async def run(self) -> None:
        buffer = bytearray()
        try:
            while True:
                try:
                    async with asyncio.timeout(self.proxy.config.idle_timeout):
                        frame = await read_frame(self.reader, buffer)
                    if frame is None:
                        return
                    request = codec.decode(frame)
                except codec.CodecError as exc:
                    log.warning("ldap proxy: %s from %s: closing", exc, self.address)
                    self.writer.write(codec.notice_of_disconnection(codec.PROTOCOL_ERROR, str(exc)))
                    return
                except (TimeoutError, ConnectionError):
                    return
                if not await self.handle(request):
                    return
                await self.writer.drain()
        finally:
            self.drop_upstream()

    async def handle(self, request: codec.Request) -> bool:
        """Answer or forward one request; False ends the connection."""
        operation = request.operation
        if operation == "bindRequest":
            await self.bind(request)
        elif operation in FORWARDED:
            await self.forward(request)
        elif operation == "unbindRequest":
            if self.upstream is not None:
                self.upstream.send(request.raw)
            return False
        elif operation in WRITES:
            self.answer(
                request, codec.INSUFFICIENT_ACCESS_RIGHTS, "the directory is read-only through radiusd"
            )
        elif operation == "extendedReq":
            if codec.extended_name(request) == codec.START_TLS_OID:
                return await self.start_tls(request)
            self.answer(request, codec.UNWILLING_TO_PERFORM, "only StartTLS is supported")
        else:
            self.writer.write(codec.notice_of_disconnection(codec.PROTOCOL_ERROR, f"unexpected {operation}"))
            return False
        return True

    def answer(self, request: codec.Request, code: int, message: str = "") -> None:
        self.writer.write(codec.response(request.message_id, request.operation, code, message))

    async def bind(self, request: codec.Request) -> None:
        bind = codec.simple_bind(request)
        if bind.password is None:
            self.answer(request, AUTH_METHOD_NOT_SUPPORTED, "only simple binds are supported")
        elif not bind.dn and not bind.password:
            if self.proxy.config.allow_anonymous:
                self.drop_upstream()
                await self.forward(request)
            else:
                self.answer(request, codec.INAPPROPRIATE_AUTHENTICATION, "anonymous binds are not allowed")
        elif not bind.password:  # RFC 4513 5.1.2: a DN with an empty password would bind anonymously
            self.answer(request, codec.UNWILLING_TO_PERFORM, "unauthenticated binds are not allowed")
        elif self.proxy.is_service_account(bind.dn):
            await self.forward(request)
        else:
            self.drop_upstream()
            ok = await self.proxy.user_bind(self.address, bind.dn, bind.password)
            self.answer(request, codec.SUCCESS if ok else codec.INVALID_CREDENTIALS)

    async def forward(self, request: codec.Request) -> None:
        if self.upstream is None:
            try:
                self.upstream = await Upstream.connect(self.proxy.directory_config, self.proxy.config.timeout)
            except UpstreamError as exc:
                log.warning("ldap proxy: %s", exc)
                if request.operation != "abandonRequest":  # abandon has no response
                    self.answer(request, codec.UNAVAILABLE, "the directory is unreachable")
                return
            self._relay = asyncio.create_task(self._relay_answers(self.upstream))
        self.upstream.send(request.raw)

    async def _relay_answers(self, upstream: Upstream) -> None:
        """The directory's answers, unchanged, to the client; a directory that hangs up ends the session."""
        try:
            while (frame := await upstream.receive()) is not None:
                self.writer.write(frame)
                await self.writer.drain()
        except (OSError, codec.CodecError) as exc:
            log.warning("ldap proxy: directory connection %s: %s", upstream.uri, exc.__class__.__name__)
        if self.upstream is upstream:
            self.writer.write(
                codec.notice_of_disconnection(codec.UNAVAILABLE, "the directory closed the connection")
            )
            self.writer.close()

    def drop_upstream(self) -> None:
        if self._relay is not None:
            self._relay.cancel()
            self._relay = None
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None

    async def start_tls(self, request: codec.Request) -> bool:
        if self.secure or self.proxy.tls is None:
            reason = "TLS is already active" if self.secure else "StartTLS is not configured"
            self.answer(request, OPERATIONS_ERROR if self.secure else codec.UNAVAILABLE, reason)
            return True
        self.answer(request, codec.SUCCESS)
        await self.writer.drain()
        try:
            await self.writer.start_tls(self.proxy.tls)
        except (OSError, ssl.SSLError) as exc:
            log.warning("ldap proxy: StartTLS with %s failed: %s", self.address, exc.__class__.__name__)
            return False
        self.secure = True
        return True


async def start(ctx: Context, engine: Authenticator) -> LdapProxy | None:
    """Start the bind proxy when `ldap_proxy.enabled`; `radiusd serve` calls this."""
    if not ctx.config.ldap_proxy.enabled:
        return None
    proxy = LdapProxy(ctx, engine)
    await proxy.start()
    return proxy
