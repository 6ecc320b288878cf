{#- CHART.md "In-year tracking": a period with no recorded event counts as closed once the force's
    ledger holds a posting dated this many days or more after the end of the period's month. -#}
{%- set inference_days = 10 -%}
-- v_period_status: whether each period 1-12 of each force's fiscal years with ledger is closed,
-- and on what basis. One row per force, fiscal year and period 1-12.
--
-- Fiscal years with ledger: those force_year_summary holds lines of (the summary kept with the
-- lines; this view never reads fact_ledger_line). The ledger's latest posting comes from etl_batch.
--
-- closed       1 or 0 (an integer on both dialects)
-- closed_on    the day finance closed it, for a recorded close; NULL otherwise
-- basis        recorded  the latest recorded event for the period is a close
--              reopened  the latest recorded event is a reopen: open
--              inferred  the force and year have no recorded event at all, and the force's ledger
--                        holds a posting dated {{ inference_days }} or more days after the end of
--                        the period's month (latest_posting_date, MAX(etl_batch.last_posting_date)
--                        over the force's loaded batches): closed
--              open      otherwise
-- The latest event is the one with the latest closed_on, then the one recorded last. Once any event
-- is recorded for a force and fiscal year, inference stops for that year: every closed period of it
-- must be recorded.
CREATE VIEW v_period_status AS
WITH force_year AS (
    SELECT force_code, fiscal_year FROM force_year_summary WHERE line_count > 0
),
latest AS (
    -- one look-up per force in etl_batch's index of loaded batches by posting date (revision 0013),
    -- rather than every batch read. DISTINCT (each force is one row already) keeps the planner from
    -- copying the look-up into every period that reads it
    SELECT DISTINCT f.force_code,
           (SELECT MAX(b.last_posting_date) FROM etl_batch AS b
            WHERE b.force_code = f.force_code AND b.status = 'loaded') AS latest_posting_date
    FROM dim_force AS f
),
ranked_event AS (
    SELECT force_code, fiscal_year, period, action, closed_on,
           ROW_NUMBER() OVER (PARTITION BY force_code, fiscal_year, period
                              ORDER BY closed_on DESC, event_id DESC) AS recency
    FROM period_close_event
),
last_event AS (
    SELECT force_code, fiscal_year, period, action, closed_on FROM ranked_event WHERE recency = 1
),
recorded_year AS (
    SELECT DISTINCT force_code, fiscal_year FROM period_close_event
),
grid AS (
    SELECT
        fy.force_code,
        fy.fiscal_year,
        p.period,
        p.end_date AS period_end,
        l.latest_posting_date,
        e.action,
        e.closed_on,
        CASE WHEN r.force_code IS NOT NULL THEN 1 ELSE 0 END AS year_recorded,
        CASE WHEN l.latest_posting_date >= {% if dialect == 'postgresql' %}p.end_date + {{ inference_days }}{% else %}date(p.end_date, '+{{ inference_days }} days'){% endif %}
             THEN 1 ELSE 0 END AS ledger_past
    FROM force_year AS fy
    JOIN dim_fiscal_period AS p ON p.fiscal_year = fy.fiscal_year AND p.period <= 12
    LEFT JOIN latest AS l ON l.force_code = fy.force_code
    LEFT JOIN last_event AS e
           ON e.force_code = fy.force_code AND e.fiscal_year = fy.fiscal_year AND e.period = p.period
    LEFT JOIN recorded_year AS r ON r.force_code = fy.force_code AND r.fiscal_year = fy.fiscal_year
)
SELECT
    force_code,
    fiscal_year,
    period,
    CASE WHEN action = 'close' THEN 1
         WHEN year_recorded = 1 THEN 0
         ELSE ledger_past END                                  AS closed,
    CASE WHEN action = 'close' THEN closed_on END               AS closed_on,
    CASE WHEN action = 'close' THEN 'recorded'
         WHEN action = 'reopen' THEN 'reopened'
         WHEN year_recorded = 0 AND ledger_past = 1 THEN 'inferred'
         ELSE 'open' END                                        AS basis,
    period_end,
    latest_posting_date
FROM grid;
