"""The shipped deploy/mosquitto.conf with files from `pingan devices provision`: per-device credentials and ACLs.

A device may publish only under its own topics and read only its own cmd; the hub reads all
device topics and writes cmd. One device cannot publish as another: the hub never receives it.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml
from conftest import Broker, free_port
from deploy.kit import provision, shipped_mosquitto_conf

from hub.operations.provision import mosquitto_hash, read_passwd
from hub.storage.db import make_engine
from hub.storage.models import Base
from ingest.helpers import HubProcess, heartbeat, scalar, seed_devices, wait_until, write_config


def connect(port: int, user: str | None, password: str | None) -> tuple[mqtt.Client, mqtt.ReasonCode]:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{user}-{uuid.uuid4().hex[:6]}",
                         protocol=mqtt.MQTTv5)
    if user:
        client.username_pw_set(user, password)
    result: list[mqtt.ReasonCode] = []
    client.on_connect = lambda _c, _u, _f, reason, _p: result.append(reason)
    client.connect("127.0.0.1", port)
    client.loop_start()
    wait_until(lambda: bool(result), 10, "CONNACK")
    return client, result[0]


def test_password_hash_is_mosquittos_format() -> None:
    salt = bytes(range(12))
    digest = base64.b64encode(hashlib.pbkdf2_hmac("sha512", b"secret", salt, 101)).decode()
    assert mosquitto_hash("secret", salt) == f"$7$101$AAECAwQFBgcICQoL${digest}"


def test_one_device_cannot_publish_as_another(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/pingan.db"
    engine = make_engine(db_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    seed_devices(db_url, ["cat-0001", "cat-0002"])
    port, files = free_port(), tmp_path / "broker-files"
    config = write_config(tmp_path / "hub.yaml", f"mqtt://127.0.0.1:{port}", db_url, free_port(), username="pingan-hub")

    out = provision(config, files, "--tls-host", "127.0.0.1")  # the shipped conf has its TLS listener on
    assert out.returncode == 0, out.stderr
    creds = {row["device_id"]: row["password"] for row in csv.DictReader(next(files.glob("device-credentials-*.csv")).open())}
    assert sorted(creds) == ["cat-0001", "cat-0002"]
    assert sorted(read_passwd(files / "passwd")) == ["cat-0001", "cat-0002", "pingan-hub", "pingan-hub-critical"]

    broker = Broker(port, shipped_mosquitto_conf(tmp_path, files, free_port(), port))  # plain loopback port
    broker.start()
    hub = HubProcess(config, int(yaml.safe_load(config.read_text())["http"]["port"]), tmp_path / "hub.log",
                     env={"PINGAN_SECRETS_DIR": str(files / "secrets")})
    try:
        hub.start()
        hub.wait_ready()
        _anonymous, refused = connect(port, None, None)
        assert refused.is_failure
        _wrong, refused = connect(port, "cat-0001", "not-the-password")
        assert refused.is_failure

        cat1, ok = connect(port, "cat-0001", creds["cat-0001"])
        assert not ok.is_failure
        for topic, payload in [heartbeat("cat-0002", 1, time.time()), heartbeat("cat-0001", 2, time.time())]:
            cat1.publish(topic, payload, qos=1).wait_for_publish(10)
        wait_until(lambda: scalar(db_url, "SELECT count(*) FROM events WHERE device_id = 'cat-0001'") == 1, 30,
                   "cat-0001's own heartbeat")
        # Same connection, published first, in order: had the broker let it through, it would be stored by now.
        assert scalar(db_url, "SELECT count(*) FROM events WHERE device_id = 'cat-0002'") == 0
        assert scalar(db_url, "SELECT count(*) FROM quarantine") == 0

        # cmd: only the hub user may write it, and only the addressed device reads it.
        got: list[tuple[str, bytes]] = []
        subacks: list[object] = []
        cat1.on_message = lambda _c, _u, m: got.append((m.topic, m.payload))
        cat1.on_subscribe = lambda _c, _u, mid, codes, _p: subacks.append(codes)
        cat1.subscribe([("pingan/v1/dev/cat-0001/cmd", 1), ("pingan/v1/dev/cat-0002/cmd", 1)])
        wait_until(lambda: bool(subacks), 10, "SUBACK")
        cat2, _ = connect(port, "cat-0002", creds["cat-0002"])
        cat2.publish("pingan/v1/dev/cat-0001/cmd", b'{"cmd": "config", "heartbeat_s": 60}', qos=1).wait_for_publish(10)
        assert hub.stop() == 0  # logging in as the hub's user takes the hub's session (the broker names it after the user)
        hub_user, ok = connect(port, "pingan-hub", (files / "secrets" / "PINGAN_MQTT__PASSWORD").read_text().strip())
        assert not ok.is_failure
        for target in ("cat-0002", "cat-0001"):
            hub_user.publish(f"pingan/v1/dev/{target}/cmd", f'{{"cmd": "alert_ack", "alert": "{target}"}}'.encode(),
                             qos=1).wait_for_publish(10)
        wait_until(lambda: any(b"cat-0001" in p for _, p in got), 10, "the hub's cmd to reach cat-0001")
        assert got == [("pingan/v1/dev/cat-0001/cmd", b'{"cmd": "alert_ack", "alert": "cat-0001"}')]
        for c in (cat1, cat2, hub_user):
            c.disconnect()
            c.loop_stop()
    finally:
        hub.cleanup()
        broker.stop()


@pytest.mark.parametrize("rotate", [False, True])
def test_provisioning_again_keeps_or_rotates_passwords(tmp_path: Path, rotate: bool) -> None:
    from hub.operations.provision import provision

    first = provision({"cat-0001": "pingan_cat"}, tmp_path, ["pingan-hub"], "pingan/v1")
    assert set(first.created) == {"cat-0001"} and first.hub_password
    before = read_passwd(tmp_path / "passwd")
    second = provision({"cat-0001": "pingan_cat", "tag-0001": "gps_tag"}, tmp_path, ["pingan-hub"], "pingan/v1", rotate)
    after = read_passwd(tmp_path / "passwd")
    assert set(second.created) == ({"cat-0001", "tag-0001"} if rotate else {"tag-0001"})
    assert (after["cat-0001"] == before["cat-0001"]) is not rotate
    third = provision({"tag-0001": "gps_tag"}, tmp_path, ["pingan-hub"], "pingan/v1")
    assert third.removed == ["cat-0001"] and "cat-0001" not in read_passwd(tmp_path / "passwd")
    assert "user cat-0001" not in (tmp_path / "acl").read_text()


def test_a_device_cannot_take_over_the_hubs_sessions(tmp_path: Path) -> None:
    """Mosquitto lets a client that logs in take over any client id and cuts its holder off; the
    shipped conf names each session after its user, so a device's credentials cannot cut the hub off."""
    db_url = f"sqlite:///{tmp_path}/pingan.db"
    engine = make_engine(db_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    seed_devices(db_url, ["cat-0001"])
    port, files = free_port(), tmp_path / "broker-files"
    config = write_config(tmp_path / "hub.yaml", f"mqtt://127.0.0.1:{port}", db_url, free_port(), username="pingan-hub")
    out = provision(config, files, "--tls-host", "127.0.0.1")
    assert out.returncode == 0, out.stderr
    password = next(csv.DictReader(next(files.glob("device-credentials-*.csv")).open()))["password"]
    broker = Broker(port, shipped_mosquitto_conf(tmp_path, files, free_port(), port))
    broker.start()
    log = tmp_path / "hub.log"
    hub = HubProcess(config, int(yaml.safe_load(config.read_text())["http"]["port"]), log,
                     env={"PINGAN_SECRETS_DIR": str(files / "secrets")})
    try:
        hub.start()
        hub.wait_ready()
        wait_until(lambda: log.read_text().count("mqtt connected") == 2, 30, "both sessions of the hub connected")
        intruders = []
        client_id = yaml.safe_load(config.read_text())["mqtt"]["client_id"]
        for n, hub_session in enumerate((client_id, f"{client_id}-critical"), start=1):
            intruder = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=hub_session, protocol=mqtt.MQTTv5)
            intruder.username_pw_set("cat-0001", password)
            intruder.connect("127.0.0.1", port)
            intruder.loop_start()
            intruders.append(intruder)
            intruder.publish(*heartbeat("cat-0001", n, time.time()), qos=1).wait_for_publish(10)
            wait_until(lambda n=n: scalar(db_url, "SELECT count(*) FROM events WHERE device_id = 'cat-0001'") == n, 30,
                       f"heartbeat {n} stored")
        assert "mqtt disconnected" not in log.read_text()  # neither of the hub's sessions was cut off
        for intruder in intruders:
            intruder.disconnect()
            intruder.loop_stop()
        assert hub.stop() == 0
    finally:
        hub.cleanup()
        broker.stop()


def test_each_hub_and_its_critical_lane_are_users_sharing_the_hubs_password(tmp_path: Path) -> None:
    from hub.operations.provision import provision

    first = provision({"cat-0001": "pingan_cat"}, tmp_path, ["pingan-hub"], "pingan/v1")
    passwd = read_passwd(tmp_path / "passwd")
    assert first.hub_password and passwd["pingan-hub"] == passwd["pingan-hub-critical"]
    acl = (tmp_path / "acl").read_text()
    assert "user pingan-hub-critical\ntopic read pingan/v1/dev/+/event\n" in acl
    # a second hub joins: it gets the same password, so there is nothing new to hand out
    second = provision({"cat-0001": "pingan_cat"}, tmp_path, ["pingan-hub", "pingan-hub-8002"], "pingan/v1")
    after = read_passwd(tmp_path / "passwd")
    assert second.hub_password is None and not second.removed and after["cat-0001"] == passwd["cat-0001"]
    assert {after[u] for u in ("pingan-hub", "pingan-hub-8002", "pingan-hub-8002-critical")} == {passwd["pingan-hub"]}
