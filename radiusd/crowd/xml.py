"""The XML bodies of Crowd's REST API (usermanagement/1), as Jira's Crowd client reads and sends them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import quote

from radiusd.crowd.directory import CrowdGroup, CrowdUser


class BadRequest(Exception):
    """A body that is not the XML Crowd's client sends."""


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    child = ET.SubElement(parent, tag)
    child.text = text
    return child


def _link(parent: ET.Element, href: str, rel: str = "self") -> None:
    ET.SubElement(parent, "link", {"rel": rel, "href": href})


def render(element: ET.Element) -> bytes:
    return ET.tostring(element, encoding="utf-8", xml_declaration=True)


def user(base: str, u: CrowdUser, full: bool = True) -> ET.Element:
    href = f"{base}/user?username={quote(u.name)}"
    element = ET.Element("user", {"name": u.name, "expand": "attributes"})
    _link(element, href)
    if full:
        _text(element, "first-name", u.first_name or u.name)
        _text(element, "last-name", u.last_name or u.name)
        _text(element, "display-name", u.display_name or u.name)
        _text(element, "email", u.email)
        password = ET.SubElement(element, "password")
        _link(password, f"{base}/user/password?username={quote(u.name)}", "edit")
        _text(element, "active", "true" if u.active else "false")
        attributes = ET.SubElement(element, "attributes")
        _link(attributes, f"{href}/attribute")
    return element


def users(base: str, items: list[CrowdUser], full: bool) -> ET.Element:
    element = ET.Element("users", {"expand": "user"})
    element.extend(user(base, u, full) for u in items)
    return element


def group(base: str, g: CrowdGroup, full: bool = True) -> ET.Element:
    element = ET.Element("group", {"name": g.name, "expand": "attributes"})
    _link(element, f"{base}/group?groupname={quote(g.name)}")
    if full:
        _text(element, "description", g.description)
        _text(element, "type", "GROUP")
        _text(element, "active", "true")
        attributes = ET.SubElement(element, "attributes")
        _link(attributes, f"{base}/group/attribute?groupname={quote(g.name)}")
    return element


def groups(base: str, items: list[CrowdGroup], full: bool) -> ET.Element:
    element = ET.Element("groups", {"expand": "group"})
    element.extend(group(base, g, full) for g in items)
    return element


def memberships(items: list[CrowdGroup]) -> ET.Element:
    element = ET.Element("memberships")
    for g in items:
        membership = ET.SubElement(element, "membership", {"group": g.name})
        members = ET.SubElement(membership, "users")
        for name in g.members:
            ET.SubElement(members, "user", {"name": name})
        ET.SubElement(membership, "groups")
    return element


def error(reason: str, message: str) -> ET.Element:
    element = ET.Element("error")
    _text(element, "reason", reason)
    _text(element, "message", message)
    return element


def parse(body: bytes) -> ET.Element:
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise BadRequest(f"not well-formed XML: {exc}") from None


def password_value(body: bytes) -> str:
    """<password><value>…</value></password>"""
    root = parse(body)
    value = root.find("value") if root.tag == "password" else None
    if value is None:
        raise BadRequest("expected <password><value>…</value></password>")
    return value.text or ""


@dataclass(frozen=True, slots=True)
class Restriction:
    """A search restriction: null (everything), a property match, or a boolean combination."""

    kind: str
    prop: str = ""
    mode: str = ""
    value: str = ""
    operator: str = "AND"
    parts: tuple[Restriction, ...] = ()

    def matches(self, fields: dict[str, str]) -> bool:
        if self.kind == "null":
            return True
        if self.kind == "boolean":
            results = (p.matches(fields) for p in self.parts)
            return all(results) if self.operator == "AND" else any(results)
        have, want = fields.get(self.prop, "").lower(), self.value.lower()
        if self.mode == "EXACTLY_MATCHES":
            return have == want
        if self.mode == "STARTS_WITH":
            return have.startswith(want)
        if self.mode == "CONTAINS":
            return want in have
        if self.mode == "NULL":
            return have == ""
        raise BadRequest(f"unsupported match-mode {self.mode}")


def restriction(element: ET.Element) -> Restriction:
    if element.tag == "null-search-restriction":
        return Restriction("null")
    if element.tag == "property-search-restriction":
        name = element.findtext("property/name")
        if not name:
            raise BadRequest("property-search-restriction without property/name")
        return Restriction(
            "property",
            prop=name,
            mode=element.findtext("match-mode") or "EXACTLY_MATCHES",
            value=element.findtext("value") or "",
        )
    if element.tag == "boolean-search-restriction":
        inner = element.find("restrictions")
        parts = tuple(restriction(child) for child in (inner if inner is not None else []))
        return Restriction("boolean", operator=element.findtext("boolean-logic", "AND").upper(), parts=parts)
    raise BadRequest(f"unsupported search restriction <{element.tag}>")
