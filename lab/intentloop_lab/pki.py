"""The lab's own certificate authority for its gNMI targets.

gNMI's specification makes TLS mandatory, so the lab serves gNMI over TLS like a real router
would: one CA per lab state directory, one server certificate per target, valid for the
loopback address and `localhost` (the names the controller dials). The controller trusts the
CA through `Device.spec.gnmi` (the CA's PEM), exactly as it would trust a production CA.

Everything is created once and reused, so a restarted lab keeps the CA that Devices already
trust. Private keys are created 0600 (never world-readable, not even for a moment) in a 0700
directory. EC P-256 keys: they take microseconds to make, where RSA takes tens of ms.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_CA_VALIDITY = dt.timedelta(days=3650)
_SERVER_VALIDITY = dt.timedelta(days=825)
_CLOCK_SKEW = dt.timedelta(minutes=5)
_SAFE_STEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$")
DEFAULT_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class TlsFiles:
    """What a TLS server needs: its certificate chain, its key, and the CA that signed it."""

    cert: Path
    key: Path
    ca: Path

    def ca_pem(self) -> str:
        """The CA certificate as text, the form `Device.spec.gnmi` carries."""
        return self.ca.read_text(encoding="ascii")


class LabPki:
    """A CA and server certificates in one directory: `ca.crt`/`ca.key`, `<name>.crt`/`.key`."""

    def __init__(self, directory: Path, *, ca_name: str = "intentloop lab gNMI CA") -> None:
        self.directory = Path(directory)
        self._ca_name = ca_name

    @property
    def ca_cert_path(self) -> Path:
        return self.directory / "ca.crt"

    def ensure_ca(self) -> Path:
        """Create the CA unless it already exists; returns the path of its certificate."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not (self.ca_cert_path.exists() and (self.directory / "ca.key").exists()):
            self._make_ca()
        return self.ca_cert_path

    def ca_pem(self) -> str:
        self.ensure_ca()
        return self.ca_cert_path.read_text(encoding="ascii")

    def server(self, name: str, *, hosts: Sequence[str] = DEFAULT_HOSTS) -> TlsFiles:
        """A server certificate for `name` valid for `hosts` (IPs and DNS names); reused."""
        if not _SAFE_STEM.match(name):
            raise ValueError(f"certificate name {name!r} is not a safe file name")
        self.ensure_ca()
        files = TlsFiles(
            cert=self.directory / f"{name}.crt",
            key=self.directory / f"{name}.key",
            ca=self.ca_cert_path,
        )
        if not (files.cert.exists() and files.key.exists() and self._covers(files, hosts)):
            self._issue(files, name, hosts)
        return files

    # --- internals ----------------------------------------------------------------------
    def _make_ca(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self._ca_name)])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _CLOCK_SKEW)
            .not_valid_after(now + _CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        _write_private(self.directory / "ca.key", _key_pem(key))
        _write_public(self.ca_cert_path, cert.public_bytes(serialization.Encoding.PEM))

    def _issue(self, files: TlsFiles, name: str, hosts: Sequence[str]) -> None:
        ca_key = serialization.load_pem_private_key((self.directory / "ca.key").read_bytes(), None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise TypeError("the lab CA key is not an EC key")
        ca_cert = x509.load_pem_x509_certificate(self.ca_cert_path.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _CLOCK_SKEW)
            .not_valid_after(now + _SERVER_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(x509.SubjectAlternativeName(_sans(hosts)), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(files.key, _key_pem(key))
        _write_public(files.cert, cert.public_bytes(serialization.Encoding.PEM))

    def _covers(self, files: TlsFiles, hosts: Sequence[str]) -> bool:
        """Whether an existing certificate names every host and is signed by today's CA."""
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
        ca_cert = x509.load_pem_x509_certificate(self.ca_cert_path.read_bytes())
        if cert.issuer != ca_cert.subject or cert.not_valid_after_utc <= dt.datetime.now(dt.UTC):
            return False
        try:
            cert.verify_directly_issued_by(ca_cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return set(_sans(hosts)) <= set(san)


def _sans(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write a key so that it is 0600 from its first byte (no chmod-after-write window)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to a file left over from a crash
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o644)
    os.replace(tmp, path)
