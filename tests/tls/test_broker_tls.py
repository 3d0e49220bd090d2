"""TLS between devices, the hub and the broker: a test CA made here with the openssl CLI, a
Mosquitto TLS listener that requires client certificates, `pingan serve` on mqtts://, and a
device publishing over TLS. Plaintext, certificate-less and foreign-CA clients are refused."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from conftest import Broker, free_port, require, write_broker_conf
from ingest.helpers import HubProcess, scalar, seed_devices, wait_until, write_config

# An MQTT 3.1.1 CONNECT (client id "probe", clean session, keepalive 30).
MQTT_CONNECT = bytes([0x10, 17, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 30, 0, 5]) + b"probe"


@dataclass(frozen=True)
class Pki:
    ca: Path
    server: tuple[Path, Path]
    hub: tuple[Path, Path]
    device: tuple[Path, Path]
    foreign: tuple[Path, Path]  # a client certificate from another CA


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, crt = directory / f"{name}.key", directory / f"{name}.crt"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN=Pingan test {name}",
             "-keyout", str(key), "-out", str(crt), cwd=directory)
    return crt, key


def _signed(directory: Path, name: str, ca: tuple[Path, Path], extensions: str) -> tuple[Path, Path]:
    key, csr, crt, ext = (directory / f"{name}.{s}" for s in ("key", "csr", "crt", "ext"))
    ext.write_text(extensions)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(csr),
             cwd=directory)
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
             "-days", "2", "-extfile", str(ext), "-out", str(crt), cwd=directory)
    return crt, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    require(shutil.which("openssl") is not None, "openssl")
    d = tmp_path_factory.mktemp("pki")
    ca, other_ca = _ca(d, "ca"), _ca(d, "other-ca")
    server_ext = "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
    client_ext = "extendedKeyUsage=clientAuth\n"
    return Pki(ca[0], _signed(d, "server", ca, server_ext), _signed(d, "pingan-hub", ca, client_ext),
               _signed(d, "cat-tls1", ca, client_ext), _signed(d, "intruder", other_ca, client_ext))


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Pki) -> Iterator[Broker]:
    require(shutil.which("mosquitto") is not None, "mosquitto")
    port = free_port()
    tls = (f"cafile {pki.ca}\ncertfile {pki.server[0]}\nkeyfile {pki.server[1]}\n"
           "require_certificate true\ntls_version tlsv1.2\n")
    broker = Broker(port, write_broker_conf(tmp_path, port, tls))
    broker.start()
    yield broker
    broker.stop()


def _tls_context(pki: Pki, cert: tuple[Path, Path] | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca))
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    return context


def _connack(sock: socket.socket | ssl.SSLSocket) -> bytes:
    """Send CONNECT; return what the broker answers (b"" when it closes the connection)."""
    try:
        sock.sendall(MQTT_CONNECT)
        return sock.recv(4)
    except (ssl.SSLError, ConnectionError):
        return b""


def _device_client(port: int, pki: Pki) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"dev-{uuid.uuid4().hex[:6]}", protocol=mqtt.MQTTv311)
    client.tls_set(ca_certs=str(pki.ca), certfile=str(pki.device[0]), keyfile=str(pki.device[1]),
                   tls_version=ssl.PROTOCOL_TLS_CLIENT)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def test_hub_ingests_a_device_message_over_mutual_tls(tls_broker: Broker, pki: Pki, db_url: str, tmp_path: Path) -> None:
    seed_devices(db_url, ["cat-tls1"])
    http_port = free_port()
    tls = {"ca_file": str(pki.ca), "cert_file": str(pki.hub[0]), "key_file": str(pki.hub[1])}
    config = write_config(tmp_path / "hub.yaml", f"mqtts://127.0.0.1:{tls_broker.port}", db_url, http_port,
                          tls=tls, protocol="3.1.1")
    hub = HubProcess(config, http_port, tmp_path / "hub.log")
    hub.start()
    try:
        hub.wait_ready(60)  # ready = connected to the broker (over TLS) and the database answers
        device = _device_client(tls_broker.port, pki)
        try:
            ts = time.time()
            payload = json.dumps({"ts": ts, "seq": 7, "battery": 81, "rssi": -60})
            device.publish("pingan/v1/dev/cat-tls1/heartbeat", payload, qos=1).wait_for_publish(30)
        finally:
            device.disconnect()
            device.loop_stop()
        wait_until(lambda: scalar(db_url, "SELECT count(*) FROM events WHERE device_id = 'cat-tls1'") == 1, 30,
                   "the heartbeat sent over TLS stored")
        assert scalar(db_url, "SELECT battery FROM events WHERE device_id = 'cat-tls1' AND seq = 7") == 81
        assert "mqtt connected" in hub.log.read_text()
    finally:
        assert hub.stop() == 0


def test_plaintext_and_uncertified_clients_are_refused(tls_broker: Broker, pki: Pki) -> None:
    port = tls_broker.port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as plain:
        assert _connack(plain) == b""  # MQTT bytes where a TLS ClientHello belongs: connection closed

    for cert in (None, pki.foreign):  # no client certificate; one from a CA the broker does not trust
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            try:
                tls = _tls_context(pki, cert).wrap_socket(raw, server_hostname="127.0.0.1")
            except (ssl.SSLError, ConnectionError):
                continue  # refused during the handshake
            with tls:
                assert _connack(tls) == b"", cert

    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with _tls_context(pki, pki.device).wrap_socket(raw, server_hostname="127.0.0.1") as tls:  # the control
        assert _connack(tls) == bytes([0x20, 2, 0, 0])  # CONNACK, accepted

    distrusting = ssl.create_default_context()  # the system CAs only: the test CA is unknown to it
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, pytest.raises(ssl.SSLCertVerificationError):
        distrusting.wrap_socket(raw, server_hostname="127.0.0.1")
