"""geofence_exit and a fix the broker delivers twice (rules.geofence.repeated_fix_once;
alerts/rules/geofence.py, docs/RULES.md "geofence_exit").

A still tag at home reports a multipath jump 800 m off with an optimistic 20 m accuracy; QoS 1
redelivers it (same device time, same position). Before, the copy was the second consecutive
outside fix and confirmed an exit; a real walk out still confirms one.
"""

from __future__ import annotations

import pytest
from rules_kit import HOME, T0, Driver, Zone, with_zones

from alerts.config import GeofenceConfig, RulesConfig

M_PER_DEG = 111_195.0
CIRCLE = Zone("小区周边", center=HOME, radius_m=500)


def north(m: float) -> tuple[float, float]:
    return HOME.lat + m / M_PER_DEG, HOME.lon


@pytest.mark.parametrize(("name", "on", "fixes", "alerts"), [
    # (metres north, accuracy, seconds after T0); a repeated row is the broker's copy
    ("a jump delivered twice, off (before)", False, [(0, 60, 60), (800, 20, 660), (800, 20, 660), (0, 60, 1260)], 1),
    ("a jump delivered twice, on", True, [(0, 60, 60), (800, 20, 660), (800, 20, 660), (0, 60, 1260)], 0),
    ("a walk out, each fix delivered twice, on", True,
     [(0, 20, 60), (600, 20, 120), (600, 20, 120), (650, 20, 180), (650, 20, 180), (700, 20, 240)], 1),
])
def test_repeated_fix(name: str, on: bool, fixes: list[tuple[float, float, float]], alerts: int) -> None:
    drv = Driver.start(with_zones(CIRCLE), rules=RulesConfig(geofence=GeofenceConfig(repeated_fix_once=on)))
    for m, acc, dt in fixes:
        drv.fix("tag-0001", *north(m), acc=acc, at=T0 + dt)
    assert len(drv.opened("geofence_exit")) == alerts, name
