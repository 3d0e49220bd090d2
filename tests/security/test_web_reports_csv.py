"""Finding 12 of issue 16: the reports CSV's file name is encoded (RFC 6266 / 5987) whatever the
grid is called, and no cell is written as a spreadsheet formula."""

from __future__ import annotations

import csv
import io
from urllib.parse import unquote

import pytest

from .web_kit import Web


@pytest.mark.parametrize("grid", ['第一网格', 'a"b;c.csv', "=HYPERLINK(\"http://x.example\",\"x\")"])
def test_csv_file_name_and_cells(web: Web, grid: str) -> None:
    client = web.login("viewer")
    response = client.get("/reports.csv", params={"month": "2026-11", "grid": grid})
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    plain, _, encoded = disposition.partition("; filename*=UTF-8''")
    assert plain.startswith('attachment; filename="pingan-report-2026-11-') and plain.count('"') == 2
    assert plain.encode("ascii")  # the fallback name is ASCII
    assert unquote(encoded) == f"pingan-report-2026-11-{grid}.csv"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row), rows


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1+A1", "@SUM(A1)", "\tx", "\rx"])
def test_formula_prefixes_are_neutralised(cell: str) -> None:
    from dashboards.reports import neutralise_cell

    assert neutralise_cell(cell) == "'" + cell
    assert neutralise_cell("第一网格") == "第一网格" and neutralise_cell("12.5") == "12.5"
