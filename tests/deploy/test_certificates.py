"""The certificates `pingan devices provision --tls-host` makes (hub/operations/certs.py): a CA kept once made,
a broker certificate that verifies for the given names and is renewed when they change or it
nears its end (virtual dates, no waiting), client certificates that follow the devices table."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from ingest.helpers import write_config

from deploy.kit import provision as provision_cli
from hub.operations import certs
from hub.operations.provision import provision_tls

NOW = certs.utc(1_800_000_000)  # 2027-01-15, a fixed virtual date
HOSTS = ["mqtt.example.org", "10.0.0.5", "127.0.0.1"]


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def verify_server(tls: Path, name: x509.DNSName | x509.IPAddress, at: object = NOW) -> None:
    store = Store([load(tls / "ca.crt")])
    verifier = PolicyBuilder().store(store).time(at).build_server_verifier(name)  # type: ignore[arg-type]
    verifier.verify(load(tls / "broker.crt"), [])


def test_the_broker_certificate_verifies_for_its_names_only(tmp_path: Path) -> None:
    result = provision_tls(tmp_path, HOSTS, None, NOW)
    assert result.ca_created and result.broker_renewed and not (tmp_path / "tls" / "clients").exists()
    tls = tmp_path / "tls"
    verify_server(tls, x509.DNSName("mqtt.example.org"))
    verify_server(tls, x509.IPAddress(ipaddress.ip_address("10.0.0.5")))
    with pytest.raises(VerificationError):
        verify_server(tls, x509.DNSName("other.example.org"))
    with pytest.raises(VerificationError):  # past its end
        verify_server(tls, x509.DNSName("mqtt.example.org"), NOW + certs.LEAF_VALIDITY + timedelta(days=1))
    assert (tls / "ca.key").stat().st_mode & 0o777 == 0o600
    assert (tls / "broker.key").stat().st_mode & 0o777 == 0o600


def test_the_ca_is_kept_and_the_broker_certificate_renewed_only_when_needed(tmp_path: Path) -> None:
    tls = tmp_path / "tls"
    provision_tls(tmp_path, HOSTS, None, NOW)
    ca, broker = (tls / "ca.crt").read_bytes(), (tls / "broker.crt").read_bytes()

    again = provision_tls(tmp_path, list(reversed(HOSTS)), None, NOW + timedelta(days=1))
    assert not again.ca_created and not again.broker_renewed
    assert (tls / "broker.crt").read_bytes() == broker

    moved = provision_tls(tmp_path, [*HOSTS, "mqtt2.example.org"], None, NOW + timedelta(days=2))
    assert moved.broker_renewed and (tls / "ca.crt").read_bytes() == ca
    verify_server(tls, x509.DNSName("mqtt2.example.org"), NOW + timedelta(days=2))

    renewed_at = NOW + certs.LEAF_VALIDITY - certs.RENEW_BEFORE + timedelta(days=3)
    late = provision_tls(tmp_path, [*HOSTS, "mqtt2.example.org"], None, renewed_at)
    assert late.broker_renewed and not late.ca_created
    verify_server(tls, x509.DNSName("mqtt.example.org"), renewed_at + timedelta(days=60))
    assert (tls / "ca.crt").read_bytes() == ca  # devices keep trusting the same CA


def test_client_certificates_follow_the_devices(tmp_path: Path) -> None:
    clients = tmp_path / "tls" / "clients"
    first = provision_tls(tmp_path, HOSTS, ["pingan-hub", "cat-0001", "tag-0001"], NOW)
    assert sorted(first.clients_issued) == ["cat-0001", "pingan-hub", "tag-0001"]
    cert = load(clients / "cat-0001.crt")
    assert cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value == "cat-0001"
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.issuer == load(tmp_path / "tls" / "ca.crt").subject

    second = provision_tls(tmp_path, HOSTS, ["pingan-hub", "tag-0001"], NOW + timedelta(days=1))
    assert second.clients_issued == [] and second.clients_removed == ["cat-0001"]
    assert sorted(p.name for p in clients.iterdir()) == ["pingan-hub.crt", "pingan-hub.key", "tag-0001.crt", "tag-0001.key"]
    rotated = provision_tls(tmp_path, HOSTS, ["pingan-hub", "tag-0001"], NOW + timedelta(days=2), rotate=True)
    assert sorted(rotated.clients_issued) == ["pingan-hub", "tag-0001"] and rotated.broker_renewed


@pytest.mark.parametrize("host", ["not a host", "-bad.example", "exa_mple.org", ""])
def test_a_bad_host_name_is_refused_before_anything_is_written(tmp_path: Path, host: str) -> None:
    with pytest.raises(certs.CertError, match="--tls-host"):
        provision_tls(tmp_path, [host], None, NOW)
    assert not (tmp_path / "tls").exists()


def test_the_command_names_a_bad_host_and_writes_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path / "hub.yaml", "mqtt://127.0.0.1:1883", f"sqlite:///{tmp_path}/pingan.db", 8000)
    out = provision_cli(config, tmp_path / "files", "--tls-host", "broker example")
    assert out.returncode == 2 and "--tls-host 'broker example': not an IP address or a DNS name" in out.stderr
    assert not (tmp_path / "files").exists()
    out = provision_cli(config, tmp_path / "files", "--client-certs")
    assert out.returncode == 2 and "--client-certs needs --tls-host" in out.stderr


def test_a_half_missing_ca_is_refused_not_replaced(tmp_path: Path) -> None:
    """A new CA would silently cut off every device trusting the old one."""
    provision_tls(tmp_path, HOSTS, None, NOW)
    (tmp_path / "tls" / "ca.key").unlink()
    with pytest.raises(certs.CertError, match=r"one of ca\.key and ca\.crt is missing"):
        provision_tls(tmp_path, HOSTS, None, NOW)
