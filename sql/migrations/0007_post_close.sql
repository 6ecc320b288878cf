-- Revision 0007: lines posted into a period after it closed (CHART.md "In-year tracking").
--
-- A line posted into a closed period is still ledger: it is loaded like any other. In the same
-- transaction the loader records here, for the batch, the money it added to each period that was
-- closed when it loaded (v_period_status: recorded by finance, or inferred from the ledger), so a
-- figure reported for a closed period never moves silently: v_post_close_adjustments shows each.
-- A superseded delivery's rows go with its lines.
CREATE TABLE post_close_adjustment (
    batch_id      bigint NOT NULL REFERENCES etl_batch (batch_id),
    force_code    text NOT NULL,
    fiscal_year   smallint NOT NULL,
    period        smallint NOT NULL,
    -- how the period stood when the batch loaded: recorded (closed_on the day finance closed it) or inferred
    basis         text NOT NULL,
    closed_on     date,
    amount_pence  bigint NOT NULL,
    line_count    bigint NOT NULL,
    PRIMARY KEY (batch_id, fiscal_year, period)
);
CREATE INDEX ix_post_close_adjustment_period ON post_close_adjustment (force_code, fiscal_year, period);
