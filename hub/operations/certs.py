"""The deployment's own certificate authority, for the broker's TLS listener (`pingan devices provision`).

Made with the `cryptography` library, not by shelling out to openssl. Into `<out>/tls/`:
- `ca.crt`, `ca.key`: a CA made once for the deployment and then kept (devices carry ca.crt;
  a new CA means re-flashing every device's trust, so nothing here replaces an existing one).
- `broker.crt`, `broker.key`: the broker's server certificate for the host names and IPs
  devices and hubs connect to (subjectAltName; clients check it). Renewed when the names
  change, when it expires within RENEW_BEFORE, or with `--rotate`.
- `clients/<user>.crt`, `.key` (with `--client-certs`): a client certificate per device and
  for the hub user, CN = the MQTT user name, for mutual TLS (`require_certificate true`).

Keys are ECDSA P-256 (small, fast on the device side, supported by OpenSSL, mbedTLS and
wolfSSL); private keys are PEM, unencrypted, mode 0600.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = timedelta(days=3650)
LEAF_VALIDITY = timedelta(days=825)  # the longest lifetime common TLS clients accept for a leaf
RENEW_BEFORE = timedelta(days=30)
BACKDATE = timedelta(minutes=5)  # tolerate a device clock slightly behind the server's
ORGANIZATION = "Ping'an Hub deployment"

Key = ec.EllipticCurvePrivateKey
_DNS_NAME = re.compile(r"^(?=.{1,253}$)(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


class CertError(ValueError):
    """Bad input for a certificate (a host name that is not one), said plainly."""


def subject_alt_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    """IP addresses as IP entries, everything else as DNS names; refuses what is neither."""
    names: list[x509.GeneralName] = []
    for host in hosts:
        host = host.strip()
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
            continue
        except ValueError:
            pass
        if not _DNS_NAME.match(host):
            raise CertError(f"--tls-host {host!r}: not an IP address or a DNS name (letters, digits, '-', '.')")
        names.append(x509.DNSName(host.lower()))
    if not names:
        raise CertError("--tls-host: give at least one host name or IP the broker is reached at")
    return names


def ensure_ca(directory: Path, now: datetime) -> tuple[Key, x509.Certificate, bool]:
    """The deployment's CA from `directory`, made there when missing; (key, cert, created)."""
    key_path, cert_path = directory / "ca.key", directory / "ca.crt"
    if key_path.is_file() and cert_path.is_file():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise CertError(f"{key_path}: not an EC private key made by `pingan devices provision`")
        return key, x509.load_pem_x509_certificate(cert_path.read_bytes()), False
    if key_path.exists() or cert_path.exists():
        raise CertError(f"{directory}: one of ca.key and ca.crt is missing; restore it (or remove both for a new CA)")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Ping'an Hub CA")])
    cert = (
        _builder(name, name, key.public_key(), now, CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    write_key(key_path, key)
    write_cert(cert_path, cert)
    return key, cert, True


def issue(ca: tuple[Key, x509.Certificate], common_name: str, now: datetime, *,
          hosts: list[x509.GeneralName] | None = None) -> tuple[Key, x509.Certificate]:
    """A leaf signed by the CA: a server certificate for `hosts`, else a client certificate."""
    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                         x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    usage = ExtendedKeyUsageOID.SERVER_AUTH if hosts else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        _builder(subject, ca_cert.subject, key.public_key(), now, LEAF_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName(hosts), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def needs_renewal(cert_path: Path, now: datetime, ca_cert: x509.Certificate,
                  hosts: list[x509.GeneralName] | None = None) -> bool:
    """Missing, unreadable, expiring within RENEW_BEFORE, from another CA, or for other hosts."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return True
    if cert.not_valid_after_utc - now < RENEW_BEFORE or cert.issuer != ca_cert.subject:
        return True
    if hosts is None:
        return False
    try:
        current = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return True
    return set(current) != set(hosts)


def write_key(path: Path, key: Key) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def write_pair(directory: Path, name: str, pair: tuple[Key, x509.Certificate]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    write_key(directory / f"{name}.key", pair[0])
    write_cert(directory / f"{name}.crt", pair[1])


def utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, now: datetime,
             validity: timedelta) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + validity)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
