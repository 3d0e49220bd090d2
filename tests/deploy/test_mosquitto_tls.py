"""docs/DEPLOY.md's broker steps, run here: `pingan devices provision --tls-host ... --client-certs`
makes the CA, the broker's certificate, passwords and the ACL; the SHIPPED deploy/mosquitto.conf
(ports and paths substituted, tests/deploy/kit.py) runs in a real Mosquitto; `pingan serve`
connects over TLS with its provisioned password, as deploy/config.production.yaml does.

Shown: a provisioned device connects over TLS and its heartbeat is stored; it cannot publish
under another device's topic; anonymous, unprovisioned and wrong-password clients are refused;
plain MQTT on the TLS port and clients that do not trust the CA fail; the plain listener
answers on 127.0.0.1 only; with the documented mutual-TLS switch a device needs its certificate.
"""

from __future__ import annotations

import csv
import shutil
import socket
import ssl
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from conftest import Broker, free_port, require
from ingest.helpers import HubProcess, heartbeat, scalar, seed_devices, wait_until, write_config

from deploy.kit import provision, shipped_mosquitto_conf
from hub.storage.db import make_engine, reset_schema

DEVICES = ["cat-0001", "tag-0001"]
# An MQTT 3.1.1 CONNECT (client id "probe", clean session, keepalive 30).
MQTT_CONNECT = bytes([0x10, 17, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 30, 0, 5]) + b"probe"


@dataclass(frozen=True)
class Kit:
    tmp: Path
    files: Path  # what `pingan devices provision --out` wrote
    config: Path
    db_url: str
    passwords: dict[str, str]  # from the credentials CSV, plus the hub's secrets file

    @property
    def ca(self) -> str:
        return str(self.files / "tls" / "ca.crt")

    def client_cert(self, user: str) -> tuple[str, str]:
        return str(self.files / "tls" / "clients" / f"{user}.crt"), str(self.files / "tls" / "clients" / f"{user}.key")


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    tmp = tmp_path_factory.mktemp("deploy")
    db_url = f"sqlite:///{tmp}/pingan.db"
    engine = make_engine(db_url)
    reset_schema(engine)
    engine.dispose()
    seed_devices(db_url, DEVICES)
    config = write_config(tmp / "hub.yaml", "mqtts://127.0.0.1:8883", db_url, free_port(), username="pingan-hub",
                          tls={"ca_file": str(tmp / "files" / "tls" / "ca.crt")})
    out = provision(config, tmp / "files", "--tls-host", "localhost", "--tls-host", "127.0.0.1", "--client-certs")
    assert out.returncode == 0, out.stderr
    assert "CA: " in out.stdout and "(new" in out.stdout, out.stdout
    files = tmp / "files"
    with next(files.glob("device-credentials-*.csv")).open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    # the device maker gets the address the broker's certificate is for, not the hub's mqtt.url
    assert {row["broker"] for row in rows} == {"mqtts://localhost:8883"}
    passwords = {row["username"]: row["password"] for row in rows}
    passwords["pingan-hub"] = (files / "secrets" / "PINGAN_MQTT__PASSWORD").read_text().strip()
    assert sorted(passwords) == sorted([*DEVICES, "pingan-hub"])
    return Kit(tmp, files, config, db_url, passwords)


def _start(kit: Kit, name: str, *, mtls: bool = False) -> tuple[Broker, int]:
    require(shutil.which("mosquitto") is not None, "mosquitto")
    directory = kit.tmp / name
    directory.mkdir()
    tls_port, plain_port = free_port(), free_port()
    broker = Broker(tls_port, shipped_mosquitto_conf(directory, kit.files, tls_port, plain_port, mtls=mtls))
    broker.start()
    return broker, plain_port


@pytest.fixture(scope="module")
def shipped_broker(kit: Kit) -> Iterator[tuple[Broker, int]]:
    """The shipped configuration as is: TLS with passwords (and the loopback plain listener)."""
    broker, plain_port = _start(kit, "broker")
    yield broker, plain_port
    broker.stop()


def connect(port: int, user: str | None, password: str | None, ca: str | None,
            cert: tuple[str, str] | None = None) -> tuple[mqtt.Client, mqtt.ReasonCode | None]:
    """An MQTT 5 client over TLS (ca given) or plain; the CONNACK reason, None when the
    connection was dropped before any CONNACK."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{user}-{uuid.uuid4().hex[:6]}",
                         protocol=mqtt.MQTTv5)
    if ca:
        client.tls_set(ca_certs=ca, certfile=cert[0] if cert else None, keyfile=cert[1] if cert else None,
                       tls_version=ssl.PROTOCOL_TLS_CLIENT)
    if user:
        client.username_pw_set(user, password)
    result: list[mqtt.ReasonCode | None] = []
    client.on_connect = lambda _c, _u, _f, reason, _p: result.append(reason)
    client.on_disconnect = lambda _c, _u, _f, _reason, _p: result.append(None)
    try:
        client.connect("127.0.0.1", port)
    except (ssl.SSLError, ConnectionError):
        return client, None
    client.loop_start()
    wait_until(lambda: bool(result), 10, "CONNACK or a closed connection")
    return client, result[0]


def close(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def test_the_hub_and_a_provisioned_device_talk_over_tls_and_the_acl_holds(kit: Kit, shipped_broker: tuple[Broker, int]) -> None:
    broker, _ = shipped_broker
    http_port = free_port()
    config = write_config(kit.tmp / "hub-tls.yaml", f"mqtts://127.0.0.1:{broker.port}", kit.db_url, http_port,
                          username="pingan-hub", tls={"ca_file": kit.ca})
    hub = HubProcess(config, http_port, kit.tmp / "hub.log", env={"PINGAN_SECRETS_DIR": str(kit.files / "secrets")})
    hub.start()
    try:
        hub.wait_ready(60)  # connected to the broker over TLS with the provisioned password
        device, reason = connect(broker.port, "cat-0001", kit.passwords["cat-0001"], kit.ca)
        assert reason is not None and not reason.is_failure, reason
        # Under the other device's topic first, then its own, on one connection at QoS 1: had
        # the broker let the first through, the hub would have stored it before the second.
        for topic, payload in [heartbeat("tag-0001", 1, time.time()), heartbeat("cat-0001", 2, time.time())]:
            device.publish(topic, payload, qos=1).wait_for_publish(10)
        close(device)
        wait_until(lambda: scalar(kit.db_url, "SELECT count(*) FROM events WHERE device_id = 'cat-0001'") == 1, 30,
                   "cat-0001's heartbeat, sent over TLS, stored")
        assert scalar(kit.db_url, "SELECT count(*) FROM events WHERE device_id = 'tag-0001'") == 0
        assert scalar(kit.db_url, "SELECT count(*) FROM quarantine") == 0
        assert hub.stop() == 0
    finally:
        hub.cleanup()


def test_unknown_users_wrong_passwords_and_plain_mqtt_are_refused(kit: Kit, shipped_broker: tuple[Broker, int]) -> None:
    port = shipped_broker[0].port
    for user, password in [(None, None), ("cat-9999", "any"), ("cat-0001", "not-the-password"),
                           ("cat-0001", kit.passwords["tag-0001"])]:
        client, reason = connect(port, user, password, kit.ca)
        close(client)
        assert reason is None or reason.is_failure, (user, reason)
    control, reason = connect(port, "tag-0001", kit.passwords["tag-0001"], kit.ca)
    close(control)
    assert reason is not None and not reason.is_failure

    with socket.create_connection(("127.0.0.1", port), timeout=10) as plain:
        plain.sendall(MQTT_CONNECT)  # MQTT bytes where a TLS ClientHello belongs
        try:
            answer = plain.recv(4)
        except ConnectionError:  # reset: refused too
            answer = b""
        assert answer == b"", "no CONNACK on the TLS port without TLS"
    distrusting = ssl.create_default_context()  # the system CAs only: the deployment's CA is not among them
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, pytest.raises(ssl.SSLCertVerificationError):
        distrusting.wrap_socket(raw, server_hostname="localhost")


def test_the_plain_listener_is_loopback_only_and_still_needs_a_password(kit: Kit, shipped_broker: tuple[Broker, int]) -> None:
    _, plain_port = shipped_broker
    local, reason = connect(plain_port, "cat-0001", kit.passwords["cat-0001"], None)
    close(local)
    assert reason is not None and not reason.is_failure
    anonymous, reason = connect(plain_port, None, None, None)
    close(anonymous)
    assert reason is None or reason.is_failure
    # Bound to 127.0.0.1 only: another address of this machine (127.0.0.2 is one on Linux) gets
    # no answer. A listener on all addresses (`listener 1883`) would accept it.
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.2", plain_port)) != 0


def test_with_the_mutual_tls_switch_a_device_needs_its_certificate(kit: Kit) -> None:
    broker, _ = _start(kit, "broker-mtls", mtls=True)
    try:
        password = kit.passwords["cat-0001"]
        client, reason = connect(broker.port, "cat-0001", password, kit.ca)
        close(client)
        assert reason is None or reason.is_failure, "no client certificate must be refused"
        client, reason = connect(broker.port, "cat-0001", "not-the-password", kit.ca, kit.client_cert("cat-0001"))
        close(client)
        assert reason is None or reason.is_failure, "a certificate does not replace the password"
        client, reason = connect(broker.port, "cat-0001", password, kit.ca, kit.client_cert("cat-0001"))
        close(client)
        assert reason is not None and not reason.is_failure, reason
    finally:
        broker.stop()
