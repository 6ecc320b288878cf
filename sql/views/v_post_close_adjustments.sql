-- v_post_close_adjustments: money posted into periods already closed when it loaded (CHART.md: the
-- ledger is the ledger, so it is loaded; a figure reported for a closed period never moves silently).
-- One row per loaded batch and closed period it posted into.
--
-- basis, closed_on  how the period stood when the batch loaded: 'recorded' by finance (closed_on the
--                   day it closed) or 'inferred' from the ledger (CHART.md's 10-day rule)
-- amount, line_count  the batch's net money and lines in that period
-- source_ref, loaded_at  the delivery or extract that brought them, and when it loaded
CREATE VIEW v_post_close_adjustments AS
SELECT
    a.force_code,
    a.fiscal_year,
    a.period,
    a.basis,
    a.closed_on,
    b.source_ref,
    b.finished_at                      AS loaded_at,
    {{ money("a.amount_pence") }}      AS amount,
    a.line_count,
    a.amount_pence,
    a.batch_id
FROM post_close_adjustment AS a
JOIN etl_batch AS b ON b.batch_id = a.batch_id AND b.status = 'loaded';
