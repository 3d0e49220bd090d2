"""`Engine.update_registry_entries`: a few residents and devices changed in a running engine
(the workspace's edits) without rebuilding its registry — the same decisions as a rebuild."""

from __future__ import annotations

from rules_kit import T0, Driver, registry, resident

from alerts.registry import Device
from devices import DeviceKind


def test_a_new_resident_and_device_are_ruled_at_once() -> None:
    drv = Driver.start()
    index = drv.engine._ctx.index
    drv.record(drv.engine.update_registry_entries(
        {"r-0002": resident("r-0002")}, {"cat-0002": Device("cat-0002", DeviceKind.PINGAN_CAT, "r-0002", 300)}
    ))
    assert drv.engine._ctx.index is index  # patched, not rebuilt
    assert [d.id for d in index.devices_of("r-0002")] == ["cat-0002"]
    drv.event("cat-0002", "sos", T0 + 30)
    assert [(a.kind, a.resident, a.device) for a in drv.opened()] == [("sos", "r-0002", "cat-0002")]


def test_a_device_moved_or_retired_leaves_its_old_resident() -> None:
    devices = [Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", 300), Device("tag-0001", DeviceKind.GPS_TAG, "r-0001", 300)]
    drv = Driver.start(registry([resident(), resident("r-0002")], devices))
    drv.heartbeat("tag-0001", T0 + 10, battery=10)
    assert drv.open_alerts("low_battery")

    drv.record(drv.engine.update_registry_entries({}, {"cat-0001": Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0002", 300)}))
    index = drv.engine._ctx.index
    assert [d.id for d in index.devices_of("r-0001")] == ["tag-0001"] and [d.id for d in index.devices_of("r-0002")] == ["cat-0001"]
    drv.event("cat-0001", "sos", T0 + 20)
    assert [a.resident for a in drv.opened("sos")] == ["r-0002"]

    drv.record(drv.engine.update_registry_entries({}, {"tag-0001": None}))  # retired
    assert drv.open_alerts("low_battery") == []  # its battery alert is cleared, as set_registry does
    assert index.devices_of("r-0001") == () and "tag-0001" not in index.snapshot.devices
    drv.event("tag-0001", "sos", T0 + 40)
    assert len(drv.opened("sos")) == 1  # the retired tag raises nothing


def test_a_retired_resident_is_no_longer_judged() -> None:
    drv = Driver.start()
    drv.record(drv.engine.update_registry_entries({"r-0001": None}, {"cat-0001": None}))
    drv.event("cat-0001", "sos", T0 + 60)
    assert drv.opened() == []
