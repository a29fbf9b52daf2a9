"""A real OpenLDAP slapd (Debian's package) for tests: loopback free ports, temporary config and database.

It listens on ldap:// (StartTLS offered) and ldaps:// with a certificate made here with
`cryptography`, holds inetOrgPerson users under ou=people and groupOfUniqueNames groups under
ou=groups, and keeps memberOf on users current (the memberof overlay).

Use it from a conftest.py: `from ldap_server import slapd  # noqa: F401`.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from helpers import free_port, require_program, require_root, unavailable, write_config
from ldap3 import Connection, Server

__all__ = ["free_port", "require_program", "require_root", "unavailable", "write_config"]

BASE_DN = "dc=example,dc=org"
ADMIN_DN = f"cn=admin,{BASE_DN}"
ADMIN_PASSWORD = "admin-secret"
SERVICE_DN = f"cn=jira,ou=services,{BASE_DN}"
SERVICE_PASSWORD = "service-secret"
PEOPLE = f"ou=people,{BASE_DN}"
GROUPS = f"ou=groups,{BASE_DN}"


@dataclass(frozen=True)
class Certificates:
    ca_file: Path
    cert_file: Path
    key_file: Path


def make_certificates(
    folder: Path, names: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
) -> Certificates:
    """A throwaway CA and a server certificate for `names` (DNS names and IP addresses)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "radiusd test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    certs = Certificates(folder / "ca.crt", folder / "server.crt", folder / "server.key")
    certs.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    certs.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    certs.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    certs.key_file.chmod(0o600)
    return certs


SLAPD_CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
TLSCACertificateFile {ca}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}
sizelimit 1000

database mdb
maxsize 67108864
suffix "{base}"
rootdn "{admin}"
rootpw {admin_password}
directory {dir}/db
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
overlay memberof
memberof-group-oc groupOfUniqueNames
memberof-member-ad uniqueMember
"""


@dataclass
class Slapd:
    """A running slapd. Users get the password `<uid>-password` unless told otherwise."""

    port: int
    tls_port: int
    certs: Certificates
    process: subprocess.Popen[bytes]
    users: dict[str, str] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_uri(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}"

    def admin(self) -> Connection:
        return Connection(Server(self.uri), ADMIN_DN, ADMIN_PASSWORD, auto_bind=True, raise_exceptions=True)

    def add_user(self, uid: str, password: str | None = None, mail: str | None = None) -> str:
        password = password or f"{uid}-password"
        dn = f"uid={uid},{PEOPLE}"
        with self.admin() as conn:
            conn.add(
                dn,
                ["inetOrgPerson"],
                {
                    "uid": uid,
                    "cn": uid.capitalize() + " Tester",
                    "sn": "Tester",
                    "givenName": uid.capitalize(),
                    "displayName": uid.capitalize() + " Tester",
                    "mail": mail or f"{uid}@example.org",
                    "userPassword": password,
                },
            )
        self.users[uid] = password
        return dn

    def add_group(self, cn: str, members: list[str]) -> str:
        dn = f"cn={cn},{GROUPS}"
        member_dns = [f"uid={m},{PEOPLE}" for m in members] or [ADMIN_DN]  # uniqueMember is required
        with self.admin() as conn:
            conn.add(dn, ["groupOfUniqueNames"], {"cn": cn, "uniqueMember": member_dns})
        return dn

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"slapd exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"slapd did not listen on {port}: {log.read_text()[-2000:]}")


def start_slapd(folder: Path) -> Slapd:
    binary = require_program("slapd")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "db").mkdir(exist_ok=True)
    certs = make_certificates(folder / "tls")
    conf = folder / "slapd.conf"
    conf.write_text(
        SLAPD_CONF.format(
            dir=folder,
            ca=certs.ca_file,
            cert=certs.cert_file,
            key=certs.key_file,
            base=BASE_DN,
            admin=ADMIN_DN,
            admin_password=ADMIN_PASSWORD,
        )
    )
    port, tls_port = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_STREAM)
    log = folder / "slapd.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                binary,
                "-d",
                "0",
                "-f",
                str(conf),
                "-h",
                f"ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(port, process, log)
        _wait_for_port(tls_port, process, log)
    except RuntimeError:
        process.kill()
        process.wait()
        raise
    server = Slapd(port, tls_port, certs, process)
    with server.admin() as conn:
        conn.add(BASE_DN, ["dcObject", "organization"], {"dc": "example", "o": "Example"})
        for ou in ("people", "groups", "services"):
            conn.add(f"ou={ou},{BASE_DN}", ["organizationalUnit"], {"ou": ou})
        conn.add(
            SERVICE_DN,
            ["applicationProcess", "simpleSecurityObject"],
            {"cn": "jira", "userPassword": SERVICE_PASSWORD},
        )
    return server


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """One slapd for the session with users alice, bob, carol and groups jira-users, admins."""
    server = start_slapd(tmp_path_factory.mktemp("slapd"))
    try:
        for uid in ("alice", "bob", "carol"):
            server.add_user(uid)
        server.add_group("jira-users", ["alice", "bob"])
        server.add_group("admins", ["alice"])
        yield server
    finally:
        server.stop()
