"""A WP extract rejected whole is offered again by every run (its journals are not recorded as
loaded): each run reports the rejection, but the warehouse records it once."""

from __future__ import annotations

from warehouse_batches import balanced_document, query, ready_warehouse, wp_batch

from alliance_finance.warehouse.load import load_batch


def test_the_same_rejection_is_recorded_once(warehouse_url):
    engine = ready_warehouse(warehouse_url)
    try:
        rows = balanced_document("48213", 12345, force="WP", account="42000", cost_centre="7100")
        outcomes = []
        for _night in range(3):
            batch = wp_batch(rows, [48213])
            batch.reject("WP ERP gl_journal FY2016 P01: control totals: debit 123.45 read, 123.46 in the lines")
            outcomes.append(load_batch(engine, batch))
        assert all(not o.loaded for o in outcomes), "every run reports the rejection"
        assert query(engine, "SELECT status, COUNT(*) FROM etl_batch GROUP BY status") == [("rejected", 1)]
        assert query(engine, "SELECT COUNT(*) FROM fact_ledger_line") == [(0,)]
        assert query(engine, "SELECT COUNT(*) FROM source_document_loaded") == [(0,)]

        # a different reason is a different finding: recorded
        batch = wp_batch(rows, [48213])
        batch.reject("WP ERP gl_journal FY2016 P01: row accounting: 2 read, 1 loaded, 0 quarantined")
        load_batch(engine, batch)
        assert query(engine, "SELECT COUNT(*) FROM etl_batch WHERE status = 'rejected'") == [(2,)]
    finally:
        engine.dispose()
