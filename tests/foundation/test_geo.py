"""GCJ-02 ↔ WGS-84 against published reference points, and the inverse's round-trip error."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.gcj02 import distance_m, gcj02_to_wgs84, out_of_china, to_wgs84, wgs84_to_gcj02


def test_tiananmen_forward_matches_the_published_offset() -> None:
    # Tiananmen: WGS-84 39.9087,116.3975 is shown on Gaode/Tencent maps at about 39.9101,116.4037.
    lat, lon = wgs84_to_gcj02(39.9087, 116.3975)
    assert round(lat, 4) == 39.9101
    assert round(lon, 4) == 116.4037


def test_forward_matches_coordtransform_readme_example() -> None:
    # The coordtransform project's README: wgs84togcj02(116.404, 39.915) → [116.41024449916938, 39.91640428150164].
    lat, lon = wgs84_to_gcj02(39.915, 116.404)
    assert abs(lat - 39.91640428150164) < 1e-12
    assert abs(lon - 116.41024449916938) < 1e-12


def test_inverse_of_tiananmen_is_within_half_a_metre() -> None:
    lat, lon = gcj02_to_wgs84(39.9101, 116.4037)
    assert distance_m(lat, lon, *gcj02_to_wgs84(*wgs84_to_gcj02(lat, lon))) < 0.5
    # and lands a few metres from the WGS-84 reference (the GCJ figure above was rounded to 1e-4°)
    assert distance_m(lat, lon, 39.9087, 116.3975) < 15


def test_offset_in_harbin_is_hundreds_of_metres() -> None:
    lat, lon = wgs84_to_gcj02(45.7512, 126.6421)
    assert 200 < distance_m(45.7512, 126.6421, lat, lon) < 800


@settings(max_examples=500)
@given(st.floats(18.2, 53.5), st.floats(73.7, 134.7))
def test_round_trip_error_across_china_is_below_one_metre(lat: float, lon: float) -> None:
    gcj = wgs84_to_gcj02(lat, lon)
    back = gcj02_to_wgs84(*gcj)
    assert distance_m(lat, lon, *back) < 1.0
    # the inverse really inverts: forward of the result is the GCJ point again
    assert distance_m(*gcj, *wgs84_to_gcj02(*back)) < 0.5


@given(
    st.one_of(
        st.tuples(st.floats(-90, 90), st.floats(-180, 72.0)),  # west of China
        st.tuples(st.floats(-90, 0.8), st.floats(-180, 180)),  # southern hemisphere and the equator
        st.tuples(st.floats(56.0, 90), st.floats(-180, 180)),  # north of China
    )
)
def test_points_outside_china_are_unchanged(point: tuple[float, float]) -> None:
    lat, lon = point
    assert out_of_china(lat, lon)
    assert wgs84_to_gcj02(lat, lon) == (lat, lon)
    assert gcj02_to_wgs84(lat, lon) == (lat, lon)


def test_known_places_outside_china() -> None:
    for lat, lon in [(51.5007, -0.1246), (-33.8568, 151.2153), (40.6892, -74.0445)]:
        assert wgs84_to_gcj02(lat, lon) == (lat, lon)


def test_to_wgs84_converts_only_gcj02() -> None:
    assert to_wgs84(45.75, 126.64, "wgs84") == (45.75, 126.64)
    assert to_wgs84(45.75, 126.64, "gcj02") != (45.75, 126.64)
