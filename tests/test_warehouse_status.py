"""``alliance-finance status`` on both dialects: what it shows, and that it flags broken row accounting."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from alliance_finance.core.ledger import QuarantinedLine
from alliance_finance.status import status_cli
from alliance_finance.warehouse.load import BatchLoader
from warehouse_batches import asc_batch, balanced_document, line, ready_warehouse, wp_batch


def _history(engine) -> None:
    with BatchLoader(engine) as loader:
        loader.load(asc_batch(balanced_document("ASC1/2016/1", 1_000_00)))
        loader.load(asc_batch(balanced_document("ASC1/2016/2", 12_34, account="999999", cost_centre="AS999999",
                                                posting_date=dt.date(2016, 4, 6)), day=dt.date(2016, 4, 6)))
        loader.load(asc_batch(balanced_document("ASC1/2016/3", 1), day=dt.date(2016, 4, 7),
                              error="ASC_GL_20160407_001.csv: line 2: expected a GL Account of 6 digits, found '12A'"))
        bad = [QuarantinedLine("9/1", "9", 1, "journal 9: debits 1.00 and credits 2.00 differ", "{}")]
        loader.load(wp_batch([line("8/1", "42000", "7777", 3_00, force="WP", number=1),
                              line("8/2", "21000", "0000", -3_00, force="WP", number=2)], [8, 9], quarantine=bad))


def test_status_shows_batches_freshness_quarantine_rejections_and_unmapped_money(warehouse_url, capsys):
    engine = ready_warehouse(warehouse_url)
    _history(engine)
    assert status_cli(warehouse_url) == 0
    out = capsys.readouterr().out
    assert "schema revision" in out
    assert "  ASC          2         1           0              4            0" in out
    assert "  WP           1         0           0              2            1" in out
    assert "  ASC  business date 2016-04-06 (2 business days loaded;" in out
    assert "  WP   posted through 2016-04-30 18:00; latest accounting date 2016-04-05" in out
    assert "Row accounting holds" in out
    assert "  WP: 1 line, 1 reason" in out and "journal 9: debits 1.00 and credits 2.00 differ" in out
    assert "ASC ASC_GL_20160407_001.csv (batch 3): ASC_GL_20160407_001.csv: line 2: expected a GL Account" in out
    assert "  ASC account: 1 code, 1 line, net £12.34" in out
    assert "    999999      2016-04-06  2016-04-06         1              £12.34" in out
    assert "  WP cost centre: 1 code, 1 line, net £3.00" in out
    engine.dispose()


def test_status_flags_a_batch_whose_rows_do_not_add_up_and_exits_1(warehouse_url, capsys):
    engine = ready_warehouse(warehouse_url)
    _history(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE etl_batch SET rows_loaded = rows_loaded - 1 WHERE batch_id = 1"))
    assert status_cli(warehouse_url) == 1
    out = capsys.readouterr().out
    assert "ROW ACCOUNTING DOES NOT HOLD" in out
    assert "  batch 1 ASC ASC_GL_20160405_001.csv (loaded): read 2 != loaded 1 + quarantined 0" in out
    assert "  ASC: loaded batches recorded 3 lines, fact_ledger_line holds 4" in out
    engine.dispose()


def test_status_of_a_warehouse_without_schema_says_what_to_do(sqlite_url, capsys):
    assert status_cli(sqlite_url) == 1
    assert "run `alliance-finance run` first" in capsys.readouterr().err
