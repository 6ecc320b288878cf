-- Where a batch's conformed lines land before they are mapped into fact_ledger_line: a temporary
-- table private to the loading connection. COPY (PostgreSQL) always writes here, never into the
-- fact table, which may carry row-level security. On PostgreSQL it is created once per loading
-- connection and emptied at every commit; SQLite's is dropped after each batch.
CREATE TEMPORARY TABLE stage_line (
    force_code          text NOT NULL,
    source_line_ref     text NOT NULL,
    document_ref        text NOT NULL,
    source_line_number  bigint NOT NULL,
    fiscal_year         smallint NOT NULL,
    period              smallint NOT NULL,
    posting_date        date NOT NULL,
    cost_centre         text,
    local_account       text NOT NULL,
    amount_pence        bigint NOT NULL,
    document_type       text NOT NULL,
    line_text           text,
    vendor              text,
    reference           text
){% if dialect == 'postgresql' %} ON COMMIT DELETE ROWS{% endif %};
