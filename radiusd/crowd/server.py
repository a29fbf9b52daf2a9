"""The Crowd REST directory server (aiohttp): Jira's Crowd client syncs users and logs them in here.

Logins go to the engine like every other front door (frontdoor "crowd", client = the application
name), so the typed password+code needs the same second factor as the VPN and SSH.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import ssl
from collections.abc import Awaitable, Callable

from aiohttp import web

from radiusd.config.crowd import CrowdConfig
from radiusd.context import Context
from radiusd.crowd import xml
from radiusd.crowd.directory import CrowdUser, DirectoryError, Snapshot, directory_for
from radiusd.engine.types import Authenticator, AuthRequest, Outcome

log = logging.getLogger("radiusd.crowd")

PREFIX = "/rest/usermanagement/1"
CROWD_VERSION = "5.2.0"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def xml_response(element: object, status: int = 200) -> web.Response:
    return web.Response(body=xml.render(element), status=status, content_type="application/xml")  # type: ignore[arg-type]


def error(status: int, reason: str, message: str) -> web.Response:
    return xml_response(xml.error(reason, message), status)


def _int(request: web.Request, name: str, default: int) -> int:
    try:
        value = int(request.query.get(name, default))
    except ValueError:
        raise xml.BadRequest(f"{name} must be a number") from None
    if value < 0:
        raise xml.BadRequest(f"{name} must not be negative")
    return value


def _page(request: web.Request, items: list[object]) -> list[object]:
    start, count = _int(request, "start-index", 0), _int(request, "max-results", 1000)
    return items[start : start + count]


def _expanded(request: web.Request, what: str) -> bool:
    return what in request.query.get("expand", "").split(",")


class CrowdServer:
    def __init__(self, ctx: Context, engine: Authenticator) -> None:
        self.ctx = ctx
        self.config: CrowdConfig = ctx.config.crowd
        self.engine = engine
        self.directory = directory_for(ctx)
        self.app = web.Application(
            middlewares=[self._headers, self._application_auth], client_max_size=1 << 20
        )
        routes = [
            web.post(f"{PREFIX}/authentication", self.authenticate),
            web.post(f"{PREFIX}/search", self.search),
            web.get(f"{PREFIX}/user", self.get_user),
            web.get(f"{PREFIX}/user/group/direct", self.user_groups),
            web.get(f"{PREFIX}/user/group/nested", self.user_groups),
            web.get(f"{PREFIX}/group", self.get_group),
            web.get(f"{PREFIX}/group/user/direct", self.group_users),
            web.get(f"{PREFIX}/group/user/nested", self.group_users),
            web.get(f"{PREFIX}/group/membership", self.memberships),
            web.get(f"{PREFIX}/event", self.events),
        ]
        self.app.add_routes(routes)
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    # -- middlewares -----------------------------------------------------------------------------

    @web.middleware
    async def _headers(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # aiohttp's own 404/405 also carry the version header
            response = error(exc.status, "OPERATION_FAILED", exc.reason)
        except xml.BadRequest as exc:
            response = error(400, "ILLEGAL_ARGUMENT", str(exc))
        except DirectoryError as exc:  # never a partial directory: Jira would drop the users it missed
            log.error("crowd: the directory could not be read: %s", exc)
            response = error(500, "OPERATION_FAILED", "The directory could not be read")
        response.headers["X-Embedded-Crowd-Version"] = f"Crowd/{CROWD_VERSION}"
        return response

    @web.middleware
    async def _application_auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self._application_ok(request.headers.get("Authorization", "")):
            response = error(401, "APPLICATION_ACCESS_DENIED", "Application failed to authenticate")
            response.headers["WWW-Authenticate"] = 'Basic realm="Crowd REST Service"'
            return response
        return await handler(request)

    def _application_ok(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            name, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        expected = self.config.password or ""
        name_ok = hmac.compare_digest(name.encode(), self.config.application.encode())
        password_ok = hmac.compare_digest(password.encode(), expected.encode())
        return name_ok and password_ok and bool(expected)

    # -- helpers ---------------------------------------------------------------------------------

    async def _snapshot(self) -> Snapshot:
        return await self.directory.snapshot()

    @staticmethod
    def _base(request: web.Request) -> str:
        return f"{request.scheme}://{request.host}{PREFIX}"

    @staticmethod
    def _required(request: web.Request, name: str) -> str:
        value = request.query.get(name, "")
        if not value:
            raise xml.BadRequest(f"the query parameter {name} is required")
        return value

    # -- routes ----------------------------------------------------------------------------------

    async def authenticate(self, request: web.Request) -> web.Response:
        username = self._required(request, "username")
        secret = xml.password_value(await request.read())
        decision = await self.engine.authenticate(
            AuthRequest(
                user=username,
                secret=secret,
                frontdoor="crowd",
                client=self.config.application,
                source=request.remote,
            )
        )
        log.info(
            "crowd login %s from %s: %s (%s)",
            username,
            request.remote,
            decision.outcome.value,
            decision.reason,
        )
        if decision.outcome is not Outcome.ACCEPT:
            # The same answer for every failure: no oracle for user names or which factor failed.
            return error(400, "INVALID_USER_AUTHENTICATION", f"Failed to authenticate principal, {username}")
        found = (await self._snapshot()).users.get(username) or CrowdUser(username, "", True, ())
        return xml_response(xml.user(self._base(request), found))

    async def search(self, request: web.Request) -> web.Response:
        entity = request.query.get("entity-type", "")
        body = await request.read()
        rule = xml.restriction(xml.parse(body)) if body.strip() else xml.Restriction("null")
        snapshot, base = await self._snapshot(), self._base(request)
        if entity == "user":
            found = [
                u
                for u in snapshot.users.values()
                if rule.matches(
                    {
                        "name": u.name,
                        "email": u.email,
                        "active": str(u.active).lower(),
                        "firstName": u.first_name,
                        "lastName": u.last_name,
                        "displayName": u.display_name,
                    }
                )
            ]
            return xml_response(xml.users(base, _page(request, found), _expanded(request, "user")))  # type: ignore[arg-type]
        if entity == "group":
            found_groups = [
                g for g in snapshot.groups.values() if rule.matches({"name": g.name, "active": "true"})
            ]
            page = _page(request, found_groups)  # type: ignore[arg-type]
            return xml_response(xml.groups(base, page, _expanded(request, "group")))  # type: ignore[arg-type]
        raise xml.BadRequest("entity-type must be user or group")

    async def get_user(self, request: web.Request) -> web.Response:
        name = self._required(request, "username")
        found = (await self._snapshot()).users.get(name)
        if found is None:
            return error(404, "USER_NOT_FOUND", f"User <{name}> does not exist")
        return xml_response(xml.user(self._base(request), found))

    async def user_groups(self, request: web.Request) -> web.Response:
        name = self._required(request, "username")
        snapshot = await self._snapshot()
        found = snapshot.users.get(name)
        if found is None:
            return error(404, "USER_NOT_FOUND", f"User <{name}> does not exist")
        items = [snapshot.groups[g] for g in found.groups if g in snapshot.groups]
        page = _page(request, items)  # type: ignore[arg-type]
        return xml_response(xml.groups(self._base(request), page, _expanded(request, "group")))  # type: ignore[arg-type]

    async def get_group(self, request: web.Request) -> web.Response:
        name = self._required(request, "groupname")
        found = (await self._snapshot()).groups.get(name)
        if found is None:
            return error(404, "GROUP_NOT_FOUND", f"Group <{name}> does not exist")
        return xml_response(xml.group(self._base(request), found))

    async def group_users(self, request: web.Request) -> web.Response:
        name = self._required(request, "groupname")
        snapshot = await self._snapshot()
        found = snapshot.groups.get(name)
        if found is None:
            return error(404, "GROUP_NOT_FOUND", f"Group <{name}> does not exist")
        items = [snapshot.users[m] for m in found.members if m in snapshot.users]
        page = _page(request, items)  # type: ignore[arg-type]
        return xml_response(xml.users(self._base(request), page, _expanded(request, "user")))  # type: ignore[arg-type]

    async def memberships(self, request: web.Request) -> web.Response:
        return xml_response(xml.memberships(list((await self._snapshot()).groups.values())))

    async def events(self, request: web.Request) -> web.Response:
        # No event log: Jira falls back to a full synchronisation.
        return error(404, "EVENT_TOKEN_EXPIRED", "Incremental synchronisation is not available")

    # -- life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.config
        tls = None
        if cfg.tls_cert and cfg.tls_key:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.minimum_version = ssl.TLSVersion.TLSv1_2
            tls.load_cert_chain(cfg.tls_cert, cfg.tls_key)
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, cfg.address, cfg.port, ssl_context=tls, reuse_port=True)
        await self._site.start()
        log.info("crowd directory listening on %s", self.url)

    @property
    def url(self) -> str:
        """As bound: port 0 in the configuration becomes the real port."""
        port = self.config.port
        if self._runner is not None and self._runner.addresses:
            port = self._runner.addresses[0][1]
        scheme = "https" if self.config.tls_cert else "http"
        return f"{scheme}://{self.config.address}:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        self.directory.close()


async def start(ctx: Context, engine: Authenticator) -> CrowdServer | None:
    """Start the Crowd directory when `crowd.enabled`; `radiusd serve` calls this."""
    if not ctx.config.crowd.enabled:
        return None
    server = CrowdServer(ctx, engine)
    await server.start()
    return server
