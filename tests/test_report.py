"""The board report: files written, HTML self-contained and escaped, workbook exact and safe, page renders in Chromium."""

from __future__ import annotations

import html.parser
import json
import os
import re
import shutil
import subprocess
import time
import zipfile
from xml.etree import ElementTree
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from openpyxl.utils.escape import unescape

from alliance_finance.marts.figures import REPORT_VIEWS
from alliance_finance.report import CHART_NAMES, HTML_NAME, WORKBOOK_NAME, build_report, report_cli
from alliance_finance.warehouse.engine import make_engine
from alliance_finance.warehouse.migrate import upgrade

from conftest import IN_CI
from warehouse_batches import LEDGER, build_warehouse, write_seeds

# Text from the sources and from finance's seed files reaches the page and the workbook: it must
# stay text there, never markup or a formula.
FORMULA_COST_CENTRE = "=cmd|' /C calc'!A0"
MARKUP_COST_CENTRE = "<script>alert('x')</script>"
FORMULA_KEY_BASIS = "+SUM(1,2) headcount"
REPORT_LEDGER = LEDGER + [
    ("ASC", 2016, 5, FORMULA_COST_CENTRE, "UNMAPPED", "SUPP", "10.00"),
    ("WP", 2016, 5, MARKUP_COST_CENTRE, "UNMAPPED", "SUPP", "20.00"),
]


@pytest.fixture
def report_dir(warehouse_url, tmp_path):
    """A report written from the hand-built ledger (with hostile text in it), on each dialect."""
    seeds = write_seeds(tmp_path / "seeds",
                        keys=f'2016,ASC,60,"{FORMULA_KEY_BASIS}"\n2016,WP,40,"{FORMULA_KEY_BASIS}"\n')
    engine = build_warehouse(warehouse_url, REPORT_LEDGER, seeds_dir=seeds)
    engine.dispose()
    out = tmp_path / "report"
    assert report_cli(warehouse_url, out) == 0
    return out


class _Resources(html.parser.HTMLParser):
    """Every tag and every attribute that could make a browser fetch something."""

    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.fetches: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "poster", "data", "action", "background") and value:
                self.fetches.append(value)
            if tag == "img" and name == "src":
                self.images.append(value)


def test_report_writes_page_charts_and_workbook(report_dir):
    assert (report_dir / HTML_NAME).is_file() and (report_dir / WORKBOOK_NAME).is_file()
    for name in CHART_NAMES:
        assert (report_dir / f"{name}.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    page = (report_dir / HTML_NAME).read_text(encoding="utf-8")
    parsed = _Resources()
    parsed.feed(page)
    # self-contained: nothing fetched from anywhere, no script, the three charts inline
    assert not {"script", "link", "iframe", "object", "embed"} & set(parsed.tags)
    assert all(src.startswith("data:image/png;base64,") for src in parsed.fetches), parsed.fetches
    assert len(parsed.images) == 3
    assert not re.search(r"url\(|@import|https?://", page)

    # figures as finance reads them
    assert "2016/17" in page and "£15,000,000" in page  # FY label, cumulative target
    assert "£300,000" in page  # alliance savings 2016/17
    assert "WP owes ASC £35,555.52." in page  # 2015/16 sharing statement, default key
    assert "£5,000.00" in page and "mismatch" in page  # intra-alliance mismatch 2016/17
    assert "ASC_GL_20170330_002.csv" in page  # rejected delivery listed
    # hostile text is escaped, not markup
    assert MARKUP_COST_CENTRE not in page and "&lt;script&gt;alert(" in page


def _sheet_xml(path: Path, sheet_index: int) -> str:
    with zipfile.ZipFile(path) as z:
        return z.read(f"xl/worksheets/sheet{sheet_index}.xml").decode("utf-8")


def test_workbook_is_exact_numeric_frozen_and_formula_safe(report_dir):
    path = report_dir / WORKBOOK_NAME
    wb = load_workbook(path)
    assert wb.sheetnames == [*REPORT_VIEWS, "drill-down", "board_pack"]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2", ws.title

    ws = wb["v_savings_tracker"]
    header = [c.value for c in ws[1]]
    assert "savings" in header and "savings_pence" not in header
    col = {name: i for i, name in enumerate(header)}
    rows = list(ws.iter_rows(min_row=2))
    all_2016 = next(r for r in rows if r[col["fiscal_year"]].value == 2016 and r[col["force_code"]].value == "ALL"
                    and r[col["alliance_scope"]].value == "alliance")
    savings = all_2016[col["savings"]]
    assert savings.data_type == "n" and savings.number_format == "£#,##0.00"
    assert Decimal(str(savings.value)) == Decimal("300000.02")
    assert ws.column_dimensions["A"].width and ws.column_dimensions["A"].width >= len("fiscal_year")

    # exact to the penny in the file itself: the number is stored as its decimal text
    xml = _sheet_xml(path, list(REPORT_VIEWS).index("v_savings_tracker") + 1)
    assert "<v>300000.02</v>" in xml and "<v>1350000.01</v>" in xml

    # text that starts like a formula is text, quote-prefixed, unchanged
    unmapped = wb["v_unmapped_codes"]
    codes = [c for row in unmapped.iter_rows(min_row=2) for c in row if c.value == FORMULA_COST_CENTRE]
    assert len(codes) == 1 and codes[0].data_type == "s" and codes[0].quotePrefix
    share = wb["v_cost_share"]
    bases = [c for row in share.iter_rows(min_row=2) for c in row if c.value == FORMULA_KEY_BASIS]
    assert bases and all(c.data_type == "s" and c.quotePrefix for c in bases)
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert "<f>" not in z.read(name).decode("utf-8"), name


#: the integer twins of the views' exact decimals, and their decimal places
_TWINS = {"_pence": 2, "_hundredths": 2, "_ten_thousandths": 4, "_ppm": 6}


def _raw_cells(path: Path, sheet_index: int) -> list[dict[str, str]]:
    """Each row of a sheet as column letter -> the <v> text the file holds (numbers only)."""
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    root = ElementTree.fromstring(_sheet_xml(path, sheet_index))
    rows = []
    for row in root.iter(f"{ns}row"):
        cells = {}
        for c in row.iter(f"{ns}c"):
            v = c.find(f"{ns}v")
            if v is not None and c.get("t") is None:
                cells[re.sub(r"\d", "", c.get("r"))] = v.text
        rows.append(cells)
    return rows


def test_every_money_cell_equals_the_warehouse_to_the_penny(warehouse_url, tmp_path):
    """Every exact decimal of every sheet, as the file holds it and as a spreadsheet reads it back (an
    IEEE double), equals its integer twin in the view (amount_pence / 100) exactly."""
    build_warehouse(warehouse_url, REPORT_LEDGER).dispose()
    out = tmp_path / "report"
    assert report_cli(warehouse_url, out) == 0
    path = out / WORKBOOK_NAME
    wb = load_workbook(path, read_only=True)
    engine = make_engine(warehouse_url)
    checked = 0
    try:
        with engine.connect() as conn:
            for index, (view, order_by) in enumerate(REPORT_VIEWS.items(), start=1):
                expected = [dict(r._mapping) for r in conn.execute(sa.text(f"SELECT * FROM {view} ORDER BY {order_by}"))]
                sheet = list(wb[view].iter_rows(values_only=True))
                header, values = list(sheet[0]), sheet[1:]
                raw = _raw_cells(path, index)[1:]
                assert len(values) == len(raw) == len(expected), view
                for column in header:
                    twin = next(((column + s, p) for s, p in _TWINS.items() if column + s in expected[0]),
                                ("key_ppm", 6) if column == "key_share" else None) if expected else None
                    if twin is None:
                        continue
                    letter = chr(ord("A") + header.index(column))
                    for n, row in enumerate(expected):
                        units = row[twin[0]]
                        if units is None:
                            assert values[n][header.index(column)] is None, (view, column, n)
                            continue
                        exact = Decimal(int(units)).scaleb(-twin[1])
                        assert Decimal(raw[n][letter]) == exact, (view, column, n, raw[n][letter], units)
                        assert Decimal(repr(values[n][header.index(column)])) == exact, (view, column, n)
                        checked += 1
    finally:
        engine.dispose()
        wb.close()
    assert checked > 100


def test_workbook_writes_money_at_the_limits_exactly_and_refuses_what_a_number_cannot_hold(tmp_path):
    from alliance_finance.marts.figures import BoardFigures
    from alliance_finance.report import write_workbook

    pence = [0, 1, -1, 5, -5, 10, 99, 100, 123456789, 999_999_999_999_999, -999_999_999_999_999, 2**49 + 1]
    rows = [{"force_code": "WP", "amount_pence": p, "amount": Decimal(p).scaleb(-2)} for p in pence]
    figures = BoardFigures(views={"v_unmapped_codes": rows}, nre_by_function={}, function_names={},
                           rejected_batches=[], force_names={})
    path = tmp_path / "w.xlsx"
    write_workbook(figures, path)
    raw = _raw_cells(path, list(REPORT_VIEWS).index("v_unmapped_codes") + 1)[1:]
    assert [Decimal(r["B"]) for r in raw] == [Decimal(p).scaleb(-2) for p in pence]
    read = [r[1] for r in load_workbook(path)["v_unmapped_codes"].iter_rows(min_row=2, values_only=True)]
    assert [Decimal(repr(v)) for v in read] == [Decimal(p).scaleb(-2) for p in pence]

    too_precise = [{"force_code": "WP", "amount_pence": 10**15, "amount": Decimal(10**15).scaleb(-2)}]
    with pytest.raises(ValueError, match=r"v_unmapped_codes\.amount in row 1: 10000000000000\.00 has more than 15 "
                                         "significant digits"):
        write_workbook(BoardFigures(views={"v_unmapped_codes": too_precise}, nre_by_function={}, function_names={},
                                    rejected_batches=[], force_names={}), path)
    # nothing half-written: the workbook written before is still there, whole, and nothing beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.xlsx"]
    assert [r[1] for r in load_workbook(path)["v_unmapped_codes"].iter_rows(min_row=2, values_only=True)] == read


def test_report_on_an_empty_warehouse_says_there_is_no_data(warehouse_url, tmp_path):
    upgrade(warehouse_url)
    out = tmp_path / "report"
    assert report_cli(warehouse_url, out) == 0
    page = (out / HTML_NAME).read_text(encoding="utf-8")
    assert "No data yet" in page
    assert not any((out / f"{name}.png").exists() for name in CHART_NAMES)
    assert load_workbook(out / WORKBOOK_NAME).sheetnames == [*REPORT_VIEWS, "drill-down", "board_pack"]


def test_report_on_a_warehouse_holding_one_force_says_which_forces_have_no_ledger(warehouse_url, tmp_path, capsys):
    """The first night: one force's DAG finished before the other's. The report builds (it crashed in
    fy_label on headline_year() None) and says plainly that Wiltshire has no ledger yet."""
    build_warehouse(warehouse_url, [r for r in LEDGER if r[0] == "ASC"]).dispose()
    out = tmp_path / "report"
    assert report_cli(warehouse_url, out) == 0
    assert "No ledger loaded yet for Wiltshire Police (WP)" in capsys.readouterr().out
    page = (out / HTML_NAME).read_text(encoding="utf-8")
    assert "No ledger loaded yet for Wiltshire Police (WP)" in page
    assert "No year in which every force has ledger yet." in page
    assert "No data yet" not in page
    # ASC's own figures are there: its functions for its latest year, its local policing
    assert (out / "nre_by_function.png").is_file() and (out / "local_policing.png").is_file()
    assert "Net revenue expenditure by function, 2016/17" in page


def test_report_on_a_year_only_one_force_has_started_keeps_the_headline_on_a_year_every_force_has(
        warehouse_url, tmp_path):
    """The first nights of a new year: ASC has posted FY 2017 lines, WP not yet. The report builds, the
    headline stays on 2016/17 (every force has it), and 2017/18 shows ASC alone, never an alliance total
    missing a force."""
    build_warehouse(warehouse_url, LEDGER + [("ASC", 2017, 1, "AS200010", "OS04", "OFF_PAY", "400000.00")]).dispose()
    out = tmp_path / "report"
    assert report_cli(warehouse_url, out) == 0
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", (out / HTML_NAME).read_text(encoding="utf-8")))
    assert "Net revenue expenditure by function, 2016/17" in text
    # ASC's one April line: April is not closed yet (its ledger runs to 30 April), so nothing of the year runs yet
    assert "2017/18 nothing closed yet ASC" in text
    assert "2017/18 nothing closed yet ALL" not in text
    assert "2017/18 nothing closed yet WP" not in text


def test_report_on_an_empty_warehouse_of_configured_forces_names_them_all(warehouse_url, tmp_path):
    build_warehouse(warehouse_url, []).dispose()
    out = tmp_path / "report"
    assert report_cli(warehouse_url, out) == 0
    page = (out / HTML_NAME).read_text(encoding="utf-8")
    assert "No data yet" in page
    assert "No ledger loaded yet for Avon and Somerset Constabulary (ASC), Wiltshire Police (WP)" in page


def test_report_on_a_warehouse_without_finance_views_fails_clearly(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade(url, revision="0001")  # the core schema only, as before issue #6
    assert report_cli(url, tmp_path / "report") == 1
    err = capsys.readouterr().err
    assert "v_savings_tracker" in err and "alliance-finance run" in err


def test_report_never_creates_a_warehouse_that_is_not_there(tmp_path, capsys):
    missing = tmp_path / "nowhere.db"
    assert report_cli(f"sqlite:///{missing}", tmp_path / "report") == 0
    assert not missing.exists()
    assert "No ledger loaded" in capsys.readouterr().out


def test_same_warehouse_same_page_charts_and_workbook(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    build_warehouse(url).dispose()
    first = build_report(url, tmp_path / "a")
    time.sleep(1.1)  # a workbook dated by the clock would differ
    second = build_report(url, tmp_path / "b")
    assert first.html.read_bytes() == second.html.read_bytes()
    assert first.workbook.read_bytes() == second.workbook.read_bytes()
    for name in CHART_NAMES:
        assert first.charts[name].read_bytes() == second.charts[name].read_bytes()


# --------------------------------------------------------------------------------------------
# A real browser: the page renders offline, with no console error, and every chart decodes
# --------------------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)

# Added to a copy of the page only: the report itself has no script.
_PROBE = """<script>
window.addEventListener('load', function () {
  var result = Array.prototype.map.call(document.images, function (img) {
    return {id: img.id, complete: img.complete, width: img.naturalWidth, height: img.naturalHeight};
  });
  var out = document.createElement('pre');
  out.id = 'image-probe';
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>
</body>"""


def test_page_renders_in_headless_chromium(tmp_path):
    if CHROMIUM is None:
        if IN_CI:
            pytest.fail("chromium is not installed (make setup installs Debian's chromium): CI must run this test")
        pytest.skip("chromium not installed")
    url = f"sqlite:///{tmp_path / 'w.db'}"
    build_warehouse(url, REPORT_LEDGER).dispose()
    files = build_report(url, tmp_path / "report")
    probed = files.html.with_name("probe.html")
    probed.write_text(files.html.read_text(encoding="utf-8").replace("</body>", _PROBE), encoding="utf-8")

    common = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
        # any attempt to reach the network fails loudly instead of quietly succeeding
        "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=5000", "--window-size=1280,4000",
    ]
    env = {**os.environ, "HOME": str(tmp_path)}
    dom = subprocess.run(common + ["--dump-dom", probed.as_uri()], capture_output=True, text=True, timeout=120,
                         env=env)
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert console == [], console
    found = re.search(r'<pre id="image-probe">(.*?)</pre>', dom.stdout, re.S)
    assert found, dom.stdout[-2000:]
    images = json.loads(html.unescape(found.group(1)))
    assert {i["id"] for i in images} == {"chart-savings", "chart-local", "chart-functions"}
    assert all(i["complete"] and i["width"] > 0 and i["height"] > 0 for i in images), images

    shot = tmp_path / "page.png"
    run = subprocess.run(common + [f"--screenshot={shot}", files.html.as_uri()], capture_output=True, text=True,
                         timeout=120, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.read_bytes().startswith(b"\x89PNG")
    assert [line for line in run.stderr.splitlines() if "CONSOLE" in line] == []


def test_workbook_keeps_any_source_text_as_inert_text(tmp_path):
    from alliance_finance.marts.figures import BoardFigures
    from alliance_finance.report import write_workbook

    codes = ["-2+3", "@SUM(A1)", "\tTAB", "\rCR", "+1", "=1+1", "plain", "BEL\x07", "x_x0041_y"]
    figures = BoardFigures(
        views={"v_unmapped_codes": [{"force_code": "WP", "code_type": "cost_centre", "local_code": c,
                                     "line_count": 1, "amount_pence": -5, "amount": Decimal("-0.05")}
                                    for c in codes]},
        nre_by_function={}, function_names={}, rejected_batches=[], force_names={})
    path = tmp_path / "w.xlsx"
    write_workbook(figures, path)
    ws = load_workbook(path)["v_unmapped_codes"]
    assert [c.value for c in ws[1]] == ["force_code", "code_type", "local_code", "line_count", "amount"]
    # the text is kept whole: a carriage return is written as OOXML's escape _x000D_ (which Excel reads
    # back; openpyxl leaves it to unescape), and text that only looks like such an escape stays as it is
    cells = {unescape(row[2].value): row[2] for row in ws.iter_rows(min_row=2)}
    assert sorted(cells) == sorted(codes[:7] + ["BEL\ufffd", "x_x0041_y"])
    for code in codes[:6]:
        cell = cells[code]
        assert cell.data_type == "s" and cell.quotePrefix, code
    assert not cells["plain"].quotePrefix and not cells["x_x0041_y"].quotePrefix
    assert "BEL\ufffd" in cells  # a control character XML cannot hold does not sink the workbook
    amount = next(ws.iter_rows(min_row=2))[4]
    assert amount.number_format == "£#,##0.00" and Decimal(str(amount.value)) == Decimal("-0.05")


def test_workbook_rows_read_back_as_xlsxwriter_would_write_them_cell_by_cell(tmp_path):
    """The workbook's rows are written as sheet XML text in one go (ten times faster than a call per
    cell): every kind of value reads back as XlsxWriter's own write_* calls would have it."""
    import datetime as dt

    import xlsxwriter

    from alliance_finance.marts.figures import BoardFigures
    from alliance_finance.report import write_workbook

    rows = [
        {"force_code": "WP", "last_posting_date": dt.date(2017, 3, 31), "last_loaded_at": dt.datetime(2017, 4, 2, 6, 30, 15),
         "lines_loaded": True, "ratio": 0.125, "note": "  spaced & <marked> ", "count": 12, "amount_pence": 1, "amount": Decimal("0.01")},
        {"force_code": "ASC", "last_posting_date": None, "last_loaded_at": None, "lines_loaded": False, "ratio": -3.5,
         "note": "=A1 & _x0041_ \ufffe", "count": -7, "amount_pence": None, "amount": None},
    ]
    figures = BoardFigures(views={"v_ledger_freshness": rows}, nre_by_function={}, function_names={},
                           rejected_batches=[], force_names={})
    ours = tmp_path / "ours.xlsx"
    write_workbook(figures, ours)

    reference = tmp_path / "reference.xlsx"
    wb = xlsxwriter.Workbook(str(reference), {"constant_memory": True})
    ws = wb.add_worksheet("v_ledger_freshness")
    formats = {"last_posting_date": wb.add_format({"num_format": "yyyy-mm-dd"}),
               "last_loaded_at": wb.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
               "amount": wb.add_format({"num_format": "£#,##0.00"})}
    quoted = wb.add_format({"quote_prefix": True})
    shown = [c for c in rows[0] if c != "amount_pence"]
    for i, c in enumerate(shown):
        ws.write_string(0, i, c)
    for n, row in enumerate(rows, start=1):
        for i, c in enumerate(shown):
            value = row[c]
            if isinstance(value, str):
                ws.write_string(n, i, value, quoted if value.startswith("=") else None)
            elif isinstance(value, bool):
                ws.write_boolean(n, i, value)
            elif isinstance(value, (dt.date, dt.datetime)):
                ws.write_datetime(n, i, value, formats[c])
            elif value is not None:
                ws.write_number(n, i, value, formats.get(c))
    wb.close()

    def cells(path):
        sheet = load_workbook(path)["v_ledger_freshness"]
        return [[(c.value, c.data_type, c.number_format, c.quotePrefix) for c in row]
                for row in sheet.iter_rows(max_col=len(shown))], sheet.calculate_dimension()

    assert cells(ours) == cells(reference)
    ours_rows = cells(ours)[0]
    assert ours_rows[1][1][0] == dt.datetime(2017, 3, 31) and ours_rows[1][2][0] == dt.datetime(2017, 4, 2, 6, 30, 15)
    assert ours_rows[1][5][0] == "  spaced & <marked> " and ours_rows[2][3][:2] == (False, "b")


def test_report_on_a_warehouse_without_the_baseline_year(sqlite_url, tmp_path):
    """A warehouse holding later years but not FY 2014 has no savings to show: the page says so."""
    later_years = [line for line in LEDGER if line[1] != 2014]
    engine = build_warehouse(sqlite_url, later_years)
    engine.dispose()
    out = tmp_path / "report"
    assert report_cli(sqlite_url, out) == 0
    page = (out / HTML_NAME).read_text(encoding="utf-8")
    assert "no FY 2014/15 baseline loaded" in page


def test_a_daemonic_process_writes_the_page_itself(tmp_path, monkeypatch):
    """A Celery worker's task process is daemonic, and multiprocessing refuses it children: the report
    is written there one part after the other (the scheduler's end-to-end test runs it on workers)."""
    import multiprocessing

    import alliance_finance.report as report_module

    monkeypatch.setitem(multiprocessing.current_process()._config, "daemon", True)
    assert not report_module._can_fork()
    url = f"sqlite:///{tmp_path / 'w.db'}"
    build_warehouse(url).dispose()
    result = build_report(url, tmp_path / "daemonic")
    assert result.html.is_file() and result.workbook.is_file() and set(result.charts) == set(CHART_NAMES)


def test_page_written_beside_the_workbook_is_the_same_and_its_failure_is_the_reports(tmp_path, monkeypatch):
    """The charts and the page are written in a forked process while the workbook is written here; with
    a thread running (a scheduler's task runner) they are written here, one after the other. Both ways
    give the same bytes, and a failure in the page's process fails the report with its own error."""
    import threading

    import alliance_finance.report as report_module

    url = f"sqlite:///{tmp_path / 'w.db'}"
    build_warehouse(url).dispose()
    write_page = report_module._write_page
    pids = []

    def recording(figures, forces, out, has_data):
        (out / "pid").write_text(str(os.getpid()))
        return write_page(figures, forces, out, has_data)

    monkeypatch.setattr(report_module, "_write_page", recording)
    # forked whatever threads earlier tests left in this process (idle); the rule itself is checked below
    with monkeypatch.context() as forking:
        forking.setattr(report_module, "_can_fork", lambda: True)
        forked = build_report(url, tmp_path / "forked")
    pids.append(int((tmp_path / "forked" / "pid").read_text()))
    hold = threading.Event()
    busy = threading.Thread(target=hold.wait)
    busy.start()
    try:
        assert not report_module._can_fork()  # a thread running: written here
        here = build_report(url, tmp_path / "here")
    finally:
        hold.set()
        busy.join()
    pids.append(int((tmp_path / "here" / "pid").read_text()))
    assert pids[0] != os.getpid() and pids[1] == os.getpid()
    assert forked.charts.keys() == here.charts.keys() == set(CHART_NAMES)
    for a, b in [(forked.html, here.html), (forked.workbook, here.workbook),
                 *[(forked.charts[n], here.charts[n]) for n in CHART_NAMES]]:
        assert a.read_bytes() == b.read_bytes()

    def failing(figures, chart_png):
        raise ValueError("the page could not be drawn")

    monkeypatch.setattr(report_module, "render_html", failing)
    with monkeypatch.context() as forking, pytest.raises(ValueError, match="the page could not be drawn"):
        forking.setattr(report_module, "_can_fork", lambda: True)
        build_report(url, tmp_path / "failed")
