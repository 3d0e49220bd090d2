"""Small-scale geometry for the simulators: metre offsets and distances on WGS-84 (equirectangular).

Good to well under a metre over the few kilometres a community spans.
"""

from __future__ import annotations

import math

EARTH_M_PER_DEG = 111_320.0

LatLon = tuple[float, float]


def offset(point: LatLon, east_m: float, north_m: float) -> LatLon:
    """The point `east_m` east and `north_m` north of `point`."""
    lat, lon = point
    return lat + north_m / EARTH_M_PER_DEG, lon + east_m / (EARTH_M_PER_DEG * math.cos(math.radians(lat)))


def delta_m(a: LatLon, b: LatLon) -> tuple[float, float]:
    """(east, north) metres from a to b."""
    east = (b[1] - a[1]) * EARTH_M_PER_DEG * math.cos(math.radians(a[0]))
    return east, (b[0] - a[0]) * EARTH_M_PER_DEG


def distance_m(a: LatLon, b: LatLon) -> float:
    east, north = delta_m(a, b)
    return math.hypot(east, north)


def polar(point: LatLon, bearing_rad: float, dist_m: float) -> LatLon:
    """The point `dist_m` from `point` on a bearing (radians, 0 = north, clockwise)."""
    return offset(point, dist_m * math.sin(bearing_rad), dist_m * math.cos(bearing_rad))
