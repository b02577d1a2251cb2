"""Certificates for the local control plane: a CA, the API server's serving certificate,
client certificates (admin in `system:masters`, the controller manager, test users), and the
service-account signing key. Generated once per state directory; private keys are 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=365)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    path.write_bytes(data)
    if private:
        path.chmod(0o600)


def _name(common_name: str, organisations: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organisations]
    return x509.Name(attrs)


class ClusterPki:
    """Files in `directory`: ca.crt/key, apiserver.crt/key, sa.pub/key, <user>.crt/key."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, name: str) -> Path:
        return self.directory / name

    def ensure(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path("ca.crt").exists():
            self._make_ca()
        if not self.path("apiserver.crt").exists():
            self._issue(
                "apiserver",
                _name("kube-apiserver"),
                server=True,
                sans=[
                    x509.DNSName("localhost"),
                    x509.DNSName("kubernetes"),
                    x509.DNSName("kubernetes.default.svc"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
                ],
            )
        if not self.path("sa.key").exists():
            key = _key()
            _write(self.path("sa.key"), _pem_key(key), private=True)
            pub = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            _write(self.path("sa.pub"), pub)
        self.client("admin", "intentloop-admin", ("system:masters",))
        # A local dev control plane: the controller manager acts with full rights, as its
        # controllers would through their per-controller service accounts.
        self.client("controller-manager", "system:kube-controller-manager", ("system:masters",))

    def client(self, file_stem: str, user: str, groups: tuple[str, ...] = ()) -> tuple[Path, Path]:
        """A client certificate for `user` in `groups` (idempotent per file stem)."""
        crt, key = self.path(f"{file_stem}.crt"), self.path(f"{file_stem}.key")
        if not crt.exists():
            self._issue(file_stem, _name(user, groups), server=False, sans=[])
        return crt, key

    def _make_ca(self) -> None:
        key = _key()
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name("intentloop-local-ca"))
            .issuer_name(_name("intentloop-local-ca"))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        _write(self.path("ca.key"), _pem_key(key), private=True)
        _write(self.path("ca.crt"), cert.public_bytes(serialization.Encoding.PEM))

    def _issue(
        self, stem: str, subject: x509.Name, *, server: bool, sans: list[x509.GeneralName]
    ) -> None:
        ca_key = serialization.load_pem_private_key(self.path("ca.key").read_bytes(), None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        ca_cert = x509.load_pem_x509_certificate(self.path("ca.crt").read_bytes())
        key = _key()
        now = dt.datetime.now(dt.UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        _write(self.path(f"{stem}.key"), _pem_key(key), private=True)
        _write(self.path(f"{stem}.crt"), cert.public_bytes(serialization.Encoding.PEM))
