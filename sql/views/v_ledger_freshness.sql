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
CREATE VIEW v_ledger_freshness AS
WITH batch AS (
    SELECT
        force_code,
        MAX(CASE WHEN status = 'loaded' THEN business_date END)       AS last_business_date,
        MAX(CASE WHEN status = 'loaded' THEN finished_at END)         AS last_loaded_at,
        SUM(CASE WHEN status = 'loaded' THEN 1 ELSE 0 END)            AS batches_loaded,
        SUM(CASE WHEN status = 'rejected' THEN 1 ELSE 0 END)          AS batches_rejected,
        SUM(CASE WHEN status = 'superseded' THEN 1 ELSE 0 END)        AS batches_superseded,
        CAST(SUM(CASE WHEN status = 'loaded' THEN rows_quarantined ELSE 0 END) AS bigint) AS lines_quarantined
    FROM etl_batch
    GROUP BY force_code
),
ledger AS (
    SELECT
        force_code,
        MAX(posting_date) AS last_posting_date,
        COUNT(*)          AS lines_loaded,
        CAST(SUM(CASE WHEN objective_code = 'UNMAPPED' OR subjective_code = 'UNMAPPED'
                      THEN amount_pence ELSE 0 END) AS bigint)      AS suspense_pence,
        CAST(SUM(CASE WHEN objective_code = 'UNMAPPED' OR subjective_code = 'UNMAPPED'
                      THEN abs(amount_pence) ELSE 0 END) AS bigint) AS suspense_gross_pence,
        SUM(CASE WHEN objective_code = 'UNMAPPED' OR subjective_code = 'UNMAPPED'
                 THEN 1 ELSE 0 END)                                 AS suspense_line_count
    FROM fact_ledger_line
    GROUP BY force_code
)
SELECT
    d.force_code,
    d.force_name,
    b.last_business_date,
    l.last_posting_date,
    b.last_loaded_at,
    COALESCE(b.batches_loaded, 0)                AS batches_loaded,
    COALESCE(b.batches_rejected, 0)              AS batches_rejected,
    COALESCE(b.batches_superseded, 0)            AS batches_superseded,
    COALESCE(b.lines_quarantined, 0)             AS lines_quarantined,
    COALESCE(l.lines_loaded, 0)                  AS lines_loaded,
    {{ money("COALESCE(l.suspense_pence, 0)") }}       AS suspense,
    {{ money("COALESCE(l.suspense_gross_pence, 0)") }} AS suspense_gross,
    COALESCE(l.suspense_line_count, 0)           AS suspense_line_count,
    COALESCE(l.suspense_pence, 0)                AS suspense_pence,
    COALESCE(l.suspense_gross_pence, 0)          AS suspense_gross_pence
FROM dim_force AS d
LEFT JOIN batch  AS b ON b.force_code = d.force_code
LEFT JOIN ledger AS l ON l.force_code = d.force_code;
