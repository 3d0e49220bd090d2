"""Issue 19 item 9: words, not ids — devices named by kind and place on the board, reports
translated completely with "—" where there is no data, and the map's configurable base layer
with the coordinate conversion each needs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dashboards.app import NO_TILES, MapSettings, content_security_policy
from dashboards.i18n import translator
from dashboards.reports import Durations, KindSummary, MonthReport
from dashboards.routers.reports import report_charts
from devices.labels import device_label
from hub.config import MapConfig
from hub.gcj02 import wgs84_to_gcj02

from .conftest import Web


def test_device_label_names_kind_and_place() -> None:
    assert device_label("pingan_cat") == "平安猫"
    assert device_label("gas_alarm", "厨房") == "厨房燃气报警器"
    assert device_label("gas_alarm", "kitchen", "en") == "gas alarm (kitchen)"
    assert device_label("door_sensor", None, "en") == "door sensor"
    assert device_label("new_kind") == "new_kind"  # a kind the table does not know stays readable


def test_the_board_names_the_device_not_its_id(web: Web) -> None:
    board = web.login("operator")
    alerts = board.get("/partials/alerts").text
    assert "平安猫按下了SOS按键" in alerts
    assert "cat-0001" not in alerts.split("alert-actions")[0] and "cat-0001按下了" not in alerts
    page = board.get(f"/alerts/{web.seeded.open_alert}?lang=en").text
    assert "Ping&#39;an Cat" in page and ">cat-0001</a>" in page  # the id stays as the device page's link


def _empty_report() -> MonthReport:
    none = Durations(None, None, 0)
    kind = KindSummary(kind="sos", alerts=2, resolved=0, false_alarms=0, outcomes={}, to_ack=none, to_on_site=none, to_resolve=none)
    return MonthReport(month="2026-11", grid=None, homes=5, weeks=4.3, alerts=2, by_kind=[kind],
                       by_outcome={"unresolved": 2}, to_ack=none, to_on_site=none, to_resolve=none)


def test_report_charts_are_translated_and_show_a_dash_without_data() -> None:
    zh = report_charts(_empty_report(), translator("zh-CN"))
    text = "".join(str(c) for c in zh.values())
    for english in ("ack p50", "unresolved", "sos", " min"):
        assert english not in text
    assert "未解除" in text and "紧急呼叫" in text and "响应用时（中位数）" in text
    assert "0 分钟" not in str(zh["times"]) and str(zh["times"]).count("—") == 6
    en = "".join(str(c) for c in report_charts(_empty_report(), translator("en")).values())
    assert "Unresolved" in en and "(median)" in en


def test_the_reports_page_has_no_english_codes_in_chinese(web: Web) -> None:
    page = web.login("viewer").get("/reports?month=2026-11").text
    for english in ("p50", "p90", "unresolved", "ack ", " min<"):
        assert english not in page, english
    assert "中位数" in page
    empty = web.login("viewer").get("/reports?month=2020-01").text
    assert "0 分钟" not in empty and "0 min" not in empty


def test_map_base_layers_and_their_coordinates() -> None:
    assert MapSettings.from_config(MapConfig(), {}).tile_url == NO_TILES  # offline by default
    osm = MapSettings.from_config(MapConfig(base="osm"), {})
    assert (osm.tile_crs, osm.tile_hosts) == ("wgs84", ["https://tile.openstreetmap.org"])
    amap = MapSettings.from_config(MapConfig(base="amap"), {})
    assert amap.tile_crs == "gcj02" and amap.tile_hosts == ["https://*.is.autonavi.com"]
    tdt = MapSettings.from_config(MapConfig(base="tianditu", tianditu_key="k&1"), {})
    assert tdt.tile_crs == "wgs84" and "tk=k%261" in tdt.tile_url and "cva_w" in tdt.overlay_url
    assert "img-src 'self' data: https://*.tianditu.gov.cn https://*.tianditu.gov.cn;" in content_security_policy(tdt)
    with pytest.raises(ValidationError, match="tianditu_key"):
        MapConfig(base="tianditu")
    with pytest.raises(ValidationError, match="tile_url"):
        MapConfig(base="custom", tile_url="ftp://x/{z}")
    legacy = MapSettings.from_config(MapConfig(), {"PINGAN_WEB_TILE_URL": "http://t/{z}/{x}/{y}.png", "PINGAN_WEB_TILE_CRS": "gcj02"})
    assert legacy.tile_crs == "gcj02"


def test_the_amap_base_layer_gets_gcj02_points(web: Web) -> None:
    from dashboards.app import WebServices, create_app

    amap = MapSettings.from_config(MapConfig(base="amap"), {})
    web.app = create_app(WebServices(sessions=web.sessions, config=web.hub.config, alert_commands=web.hub.core,
                                     absence_commands=web.hub.core, events=web.bus, clock=web.clock, map=amap))
    viewer = web.login("viewer")
    home = next(h for h in viewer.get("/map/data.json").json()["homes"] if h["id"] == "r-0001")
    assert (home["lat"], home["lon"]) == pytest.approx(wgs84_to_gcj02(45.7512, 126.6421))
    page = viewer.get("/map")
    assert 'data-subdomains="1234"' in page.text and "autonavi.com" in page.text
    assert "https://*.is.autonavi.com" in page.headers["content-security-policy"]
