"""Validated batches handed from the validate task to the load task through the warehouse
(warehouse/staging.py): what goes in comes out exactly (pence, types, quarantine, metadata), a
missing batch is a clear error, a retry starts clean, abandoned runs expire, and on PostgreSQL the
loader role may do all of it."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from alliance_finance.core.ledger import CONFORMED_SCHEMA, Batch, QuarantinedLine
from alliance_finance.warehouse import migrate, security, staging
from alliance_finance.warehouse.engine import make_engine


def a_batch(ref: str = "ASC_GL_20160404_001.csv", pence: int = 123_456_789_012) -> Batch:
    lines = pa.Table.from_pylist([
        dict(force_code="ASC", source_line_ref=f"{ref}/1", document_ref="ASC1/2016/1", source_line_number=2,
             fiscal_year=2016, period=1, posting_date=dt.date(2016, 4, 4), cost_centre="AS100010",
             local_account="510000", amount_pence=pence, document_type="KR", line_text="Fuel £ é",
             vendor=None, reference="R1"),
        dict(force_code="ASC", source_line_ref=f"{ref}/2", document_ref="ASC1/2016/1", source_line_number=3,
             fiscal_year=2016, period=1, posting_date=dt.date(2016, 4, 4), cost_centre=None,
             local_account="200000", amount_pence=-pence, document_type="KR", line_text=None,
             vendor="Acme", reference="R1"),
    ], schema=CONFORMED_SCHEMA)
    return Batch(force_code="ASC", source_ref=ref, digest="ab" * 32, lines=lines,
                 quarantine=[QuarantinedLine("x/3", "ASC1/2016/2", 4, "unknown account 999999", "a;b;c")],
                 rows_read=3, total_debit_pence=pence + 5, total_credit_pence=pence + 5,
                 business_date=dt.date(2016, 4, 4), sequence=1, meta={"journal_ids": [1, 2]},
                 source_format="sap_files")


@pytest.fixture
def engine(warehouse_url):
    assert migrate.upgrade(warehouse_url) == migrate.head_revision()
    engine = make_engine(warehouse_url)
    yield engine
    engine.dispose()


def test_a_staged_batch_comes_back_exactly(engine):
    store = staging.BatchStaging(engine, "alliance_ledger_asc/manual__2016-04-05")
    batches = [a_batch("ASC_GL_20160404_001.csv"), a_batch("ASC_GL_20160405_001.csv", pence=1)]
    for seq, batch in enumerate(batches):
        store.put(seq, batch)
    assert store.count() == 2
    for original, back in zip(batches, store.batches(2), strict=True):
        assert back.lines.equals(original.lines)  # same types, same integer pence, same text
        assert back.lines.schema == CONFORMED_SCHEMA
        for name in ("force_code", "source_ref", "digest", "rows_read", "total_debit_pence", "total_credit_pence",
                     "business_date", "sequence", "error", "meta", "source_format", "quarantine"):
            assert getattr(back, name) == getattr(original, name), name
    # another run's batches are its own
    assert staging.BatchStaging(engine, "alliance_ledger_asc/other").count() == 0
    assert store.drop() == 2 and store.count() == 0


def test_a_missing_batch_names_the_run_and_what_to_do(engine):
    store = staging.BatchStaging(engine, "alliance_ledger_wp/scheduled__2016-04-05")
    store.put(0, a_batch())
    with pytest.raises(staging.StagedBatchMissing, match=r"alliance_ledger_wp/scheduled__2016-04-05: staged batch 1 "
                                                         r".*nothing of it was loaded; clear the validate task"):
        list(store.batches(2))


def test_a_retry_starts_clean_and_abandoned_runs_expire(engine):
    store = staging.BatchStaging(engine, "run/1")
    store.put(0, a_batch())
    store.put(1, a_batch())
    assert store.clear() == 2
    store.put(0, a_batch())  # the retried validate task stages again from 0: no duplicate key
    assert staging.expire(engine) == 0  # fresh
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE etl_staged_batch SET staged_at = :old"),
                     {"old": dt.datetime(2016, 1, 1)})
    assert staging.expire(engine) == 1 and store.count() == 0


def test_the_loader_role_stages_and_removes(pg_url):
    assert migrate.upgrade(pg_url) == migrate.head_revision()
    loader = make_engine(make_url(pg_url).set(username=security.LOADER, password=None)
                         .render_as_string(hide_password=False))
    try:
        store = staging.BatchStaging(loader, "alliance_ledger_asc/as-loader")
        store.put(0, a_batch())
        assert store.get(0).source_ref == "ASC_GL_20160404_001.csv"
        assert store.drop() == 1
    finally:
        loader.dispose()
