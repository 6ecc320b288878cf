-- v_ledger_freshness: how complete and how clean each force's ledger in the warehouse is, for the
-- data-quality part of the board report. One row per force.
--
-- last_business_date  the latest business day whose delivery is loaded (Avon and Somerset's SAP
--                     files; NULL for a source without delivery dates, such as Wiltshire's ERP)
-- last_posting_date   the latest posting date of any line loaded: the ledger is complete to about
--                     this date for a source read incrementally (Wiltshire)
-- last_loaded_at      when the latest batch that loaded finished
-- batches_*           etl_batch rows by status; lines_quarantined the lines kept out of loaded batches
-- suspense            lines whose objective or subjective is UNMAPPED, waiting for reference data:
--                     their net amount, their gross (absolute) amount and how many
--
-- Read from etl_batch and the summaries (sql/summaries/), never the lines: its time does not grow
-- with the ledger.
CREATE VIEW v_ledger_freshness AS
WITH batch AS (
    SELECT
        force_code,
        MAX(CASE WHEN status = 'loaded' THEN business_date END)       AS last_business_date,
        -- a loaded batch's lines are all in the ledger, so this is the ledger's latest posting date
        MAX(CASE WHEN status = 'loaded' THEN last_posting_date END)   AS last_posting_date,
        MAX(CASE WHEN status = 'loaded' THEN finished_at END)         AS last_loaded_at,
        SUM(CASE WHEN status = 'loaded' THEN 1 ELSE 0 END)            AS batches_loaded,
        SUM(CASE WHEN status = 'rejected' THEN 1 ELSE 0 END)          AS batches_rejected,
        SUM(CASE WHEN status = 'superseded' THEN 1 ELSE 0 END)        AS batches_superseded,
        CAST(SUM(CASE WHEN status = 'loaded' THEN rows_quarantined ELSE 0 END) AS bigint) AS lines_quarantined
    FROM etl_batch
    GROUP BY force_code
),
lines AS (
    SELECT force_code, CAST(SUM(line_count) AS bigint) AS lines_loaded
    FROM force_year_summary
    GROUP BY force_code
),
suspense AS (
    SELECT
        force_code,
        CAST(SUM(amount_pence) AS bigint) AS suspense_pence,
        CAST(SUM(gross_pence) AS bigint)  AS suspense_gross_pence,
        CAST(SUM(line_count) AS bigint)   AS suspense_line_count
    FROM ledger_summary
    WHERE objective_code = 'UNMAPPED' OR subjective_code = 'UNMAPPED'
    GROUP BY force_code
)
SELECT
    d.force_code,
    d.force_name,
    b.last_business_date,
    b.last_posting_date,
    b.last_loaded_at,
    COALESCE(b.batches_loaded, 0)                AS batches_loaded,
    COALESCE(b.batches_rejected, 0)              AS batches_rejected,
    COALESCE(b.batches_superseded, 0)            AS batches_superseded,
    COALESCE(b.lines_quarantined, 0)             AS lines_quarantined,
    COALESCE(n.lines_loaded, 0)                  AS lines_loaded,
    {{ money("COALESCE(u.suspense_pence, 0)") }}       AS suspense,
    {{ money("COALESCE(u.suspense_gross_pence, 0)") }} AS suspense_gross,
    COALESCE(u.suspense_line_count, 0)           AS suspense_line_count,
    COALESCE(u.suspense_pence, 0)                AS suspense_pence,
    COALESCE(u.suspense_gross_pence, 0)          AS suspense_gross_pence
FROM dim_force AS d
LEFT JOIN batch    AS b ON b.force_code = d.force_code
LEFT JOIN lines    AS n ON n.force_code = d.force_code
LEFT JOIN suspense AS u ON u.force_code = d.force_code;
