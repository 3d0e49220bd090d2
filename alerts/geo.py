"""Geometry for safe zones: great-circle distances, circles and polygons with accuracy.

A fix is a point with an accuracy radius. "Wholly outside" a zone means the whole accuracy
circle lies outside it; "inside by a margin" means the point lies at least `margin_m` inside.
Polygons are handled on a local equirectangular projection around the fix (metres), exact
enough for zones of a few kilometres.
"""

from __future__ import annotations

import math

from alerts.registry import Point, Zone

EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def depth_m(zone: Zone, lat: float, lon: float) -> float:
    """Signed distance from the zone's boundary: positive inside, negative outside."""
    if zone.center is not None and zone.radius_m is not None:
        return zone.radius_m - distance_m(lat, lon, zone.center.lat, zone.center.lon)
    if len(zone.polygon) >= 3:
        return _polygon_depth(zone.polygon, lat, lon)
    return -math.inf


def _polygon_depth(polygon: tuple[Point, ...], lat: float, lon: float) -> float:
    ky = math.pi * EARTH_RADIUS_M / 180
    kx = ky * math.cos(math.radians(lat))
    pts = [((p.lon - lon) * kx, (p.lat - lat) * ky) for p in polygon]
    inside = False
    nearest = math.inf
    for (x1, y1), (x2, y2) in zip(pts, pts[1:] + pts[:1], strict=True):
        if (y1 > 0) != (y2 > 0) and (x2 - x1) * (0 - y1) / (y2 - y1) + x1 > 0:
            inside = not inside
        nearest = min(nearest, _segment_distance(x1, y1, x2, y2))
    return nearest if inside else -nearest


def _segment_distance(x1: float, y1: float, x2: float, y2: float) -> float:
    """Distance from the origin to the segment (x1,y1)-(x2,y2)."""
    dx, dy = x2 - x1, y2 - y1
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, -(x1 * dx + y1 * dy) / length2))
    return math.hypot(x1 + t * dx, y1 + t * dy)
