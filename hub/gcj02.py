"""Coordinate systems: GCJ-02 ("Mars coordinates" of Chinese base maps) to and from WGS-84.

GPS modules report WGS-84; zones drawn on Gaode/Tencent maps are GCJ-02, offset by a few
hundred metres inside China. Zones carry their CRS and are converted once, on import.

The forward transform is the well-known public-domain algorithm (eviltransform /
coordtransform, reverse-engineered from the published offsets) written out here by hand:
the PyPI packages that carry it are not well kept — `eviltransform` was last released in
2018, `coord-convert` in 2019, and `coordtransform` ships only a compiled wheel — and the
algorithm is forty lines. The inverse has no closed form: `gcj02_to_wgs84` iterates the
forward transform until the round trip is within 1e-9 degrees (about 0.1 mm), far below
the 0.5 m the zones need.

Outside China's bounding box both systems are the same and points pass unchanged; like
every implementation of this algorithm, the box is coarse (it includes parts of
neighbouring countries) and that is the convention the base maps follow.
"""

from __future__ import annotations

import math
from typing import Literal

Crs = Literal["wgs84", "gcj02"]

# Krasovsky 1940 ellipsoid, which GCJ-02 is defined on.
_A = 6378245.0
_EE = 0.00669342162296594323

_INVERSE_TOLERANCE_DEG = 1e-9
_INVERSE_MAX_STEPS = 30


def out_of_china(lat: float, lon: float) -> bool:
    """True outside the box where GCJ-02 differs from WGS-84."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """WGS-84 (GPS) → GCJ-02 (Chinese base maps); unchanged outside China."""
    if out_of_china(lat, lon):
        return lat, lon
    dlat, dlon = _offset(lat, lon)
    return lat + dlat, lon + dlon


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """GCJ-02 → WGS-84 by fixed-point iteration of the forward transform (error < 0.1 mm)."""
    if out_of_china(lat, lon):
        return lat, lon
    dlat, dlon = _offset(lat, lon)
    wgs_lat, wgs_lon = lat - dlat, lon - dlon
    for _ in range(_INVERSE_MAX_STEPS):
        fwd_lat, fwd_lon = wgs84_to_gcj02(wgs_lat, wgs_lon)
        err_lat, err_lon = fwd_lat - lat, fwd_lon - lon
        if abs(err_lat) < _INVERSE_TOLERANCE_DEG and abs(err_lon) < _INVERSE_TOLERANCE_DEG:
            break
        wgs_lat, wgs_lon = wgs_lat - err_lat, wgs_lon - err_lon
    return wgs_lat, wgs_lon


def to_wgs84(lat: float, lon: float, crs: Crs) -> tuple[float, float]:
    """A point as drawn in `crs`, in WGS-84."""
    return gcj02_to_wgs84(lat, lon) if crs == "gcj02" else (lat, lon)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres on a 6,371 km sphere."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000.0 * math.asin(math.sqrt(h))


def _offset(lat: float, lon: float) -> tuple[float, float]:
    """The GCJ-02 offset (dlat, dlon) in degrees at a WGS-84 point."""
    x, y = lon - 105.0, lat - 35.0
    dlat = _shift_lat(x, y)
    dlon = _shift_lon(x, y)
    rad_lat = math.radians(lat)
    magic = 1 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return dlat, dlon


def _shift_lat(x: float, y: float) -> float:
    pi = math.pi
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * pi) + 40.0 * math.sin(y / 3.0 * pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * pi) + 320.0 * math.sin(y * pi / 30.0)) * 2.0 / 3.0
    return ret


def _shift_lon(x: float, y: float) -> float:
    pi = math.pi
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * pi) + 40.0 * math.sin(x / 3.0 * pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * pi) + 300.0 * math.sin(x / 30.0 * pi)) * 2.0 / 3.0
    return ret
