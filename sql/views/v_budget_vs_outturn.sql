{#- The baseline year is fixed by CHART.md: FY 2014 (2014/15), the year before the alliance. -#}
{%- set baseline_fy = 2014 -%}
-- v_budget_vs_outturn: finance's approved revenue budget against the ledger, by fiscal year, force
-- (each force, and ALL for every force together) and the common chart's function, to the period the
-- year's figures run to (CHART.md "In-year tracking"). One row per year, force and function that has
-- a budget or net revenue expenditure.
--
-- through_period    how far the year's figures run (v_fiscal_year_status; 16: the year is complete)
-- budget            the year's budget for the function (table budget, its objectives' function); NULL
--                   when the force (for ALL: any force) has no budget loaded for the year
-- budget_to_date    the budget's profile (v_budget_profile) for periods 1..through_period (all twelve
--                   for a complete year)
-- actual_to_date    NRE (v_nre_line's lines, from nre_summary) of periods 1..through_period (a complete
--                   year: every period, the adjustment periods 13-16 included)
-- variance_to_date  budget_to_date - actual_to_date: positive, spent less than budgeted to date
-- forecast          the function's NRE for the whole year: a complete year's outturn; with a budget,
--                   actual_to_date + the budget's profile for periods through_period+1..12; without one,
--                   run rate: actual_to_date x the baseline's (FY {{ baseline_fy }}) whole-year NRE of the
--                   function / its NRE of periods 1..through_period, to the penny (NULL when the baseline
--                   has none)
-- forecast_method   'outturn', 'budget' or 'run_rate'
--
-- Written so that a query for one year (WHERE fiscal_year = X) takes about the same time however long
-- the history (issue #14): every step below is read once, so the planner inlines it and the year's
-- condition reaches v_fiscal_year_status and the summaries through the status row's year. The NRE and
-- the budgets are one stream (lines), summed in one GROUP BY per row and function (figures); before,
-- the actual, planned and budgeted figures were separate steps each read twice (keys, then compared),
-- so PostgreSQL worked them out for every year and then kept one year's rows (one year: 10.5 ms on
-- five years, 41.6 ms on twenty). Letting the planner inline those steps instead made the whole view
-- 4 to 8 times slower, as it re-aggregated them for each row they were joined to.
CREATE VIEW v_budget_vs_outturn AS
WITH status AS (
    -- how far each year's figures run, and whether every member force has a budget loaded for the year.
    -- DISTINCT (each row is one already) keeps the planner from copying the subquery into figures, where
    -- it ran once for each summary row, while the year's condition still reaches v_fiscal_year_status
    SELECT DISTINCT st.fiscal_year, st.force_code, st.through_period, st.year_complete,
           CASE WHEN NOT EXISTS (SELECT 1 FROM dim_force AS m
                                 WHERE st.force_code IN (m.force_code, 'ALL')
                                   AND NOT EXISTS (SELECT 1 FROM budget AS b
                                                   WHERE b.force_code = m.force_code
                                                     AND b.fiscal_year = st.fiscal_year))
                THEN 1 ELSE 0 END AS budgeted
    FROM v_fiscal_year_status AS st
),
member AS (
    -- the forces whose lines make up a row (ALL: every force)
    SELECT force_code AS row_force, force_code FROM dim_force
    UNION ALL
    SELECT 'ALL', force_code FROM dim_force
),
parts AS (
    -- the year's NRE (v_nre_line's lines, summed in nre_summary), its budgets' profiles (v_budget_profile,
    -- summed in budget_summary), and the baseline's (FY {{ baseline_fy }}) NRE beside every year. Every
    -- column has one type in all three parts (a bigint zero, not an integer one), so that PostgreSQL
    -- plans the parts as scans of their tables
    SELECT force_code, fiscal_year, function_code, period,
           amount_pence AS nre_pence, line_count, CAST(0 AS bigint) AS budget_pence,
           CAST(0 AS bigint) AS budget_rows, CAST(0 AS bigint) AS baseline_pence
    FROM nre_summary
    UNION ALL
    SELECT force_code, fiscal_year, function_code, period,
           CAST(0 AS bigint), CAST(0 AS bigint), amount_pence, CAST(1 AS bigint), CAST(0 AS bigint)
    FROM budget_summary
    UNION ALL
    SELECT b.force_code, y.fiscal_year, b.function_code, b.period,
           CAST(0 AS bigint), CAST(0 AS bigint), CAST(0 AS bigint), CAST(0 AS bigint), b.amount_pence
    FROM (SELECT DISTINCT fiscal_year FROM force_year_summary) AS y
    JOIN nre_summary AS b ON b.fiscal_year = {{ baseline_fy }}
),
lines AS (
    -- the parts by force, year, function and period (the scopes summed), one row each
    SELECT force_code, fiscal_year, function_code, period,
           CAST(SUM(nre_pence) AS bigint)      AS nre_pence,
           CAST(SUM(line_count) AS bigint)     AS line_count,
           CAST(SUM(budget_pence) AS bigint)   AS budget_pence,
           CAST(SUM(budget_rows) AS bigint)    AS budget_rows,
           CAST(SUM(baseline_pence) AS bigint) AS baseline_pence
    FROM parts
    GROUP BY force_code, fiscal_year, function_code, period
),
figures AS (
    -- each row's figures by function, from the lines of the forces that make up the row (ALL: every
    -- force)
    SELECT st.fiscal_year, st.force_code, l.function_code, st.through_period, st.year_complete, st.budgeted,
           CAST(SUM(CASE WHEN l.period <= st.through_period THEN l.nre_pence ELSE 0 END) AS bigint) AS actual_to_date_pence,
           CAST(SUM(l.nre_pence) AS bigint)                                                         AS actual_pence,
           CAST(SUM(CASE WHEN l.period <= st.through_period THEN l.baseline_pence ELSE 0 END) AS bigint) AS baseline_to_date_pence,
           CAST(SUM(l.baseline_pence) AS bigint)                                                    AS baseline_pence,
           SUM(l.line_count)                                                                        AS line_count,
           SUM(l.budget_rows)                                                                       AS budget_rows,
           CAST(SUM(l.budget_pence) AS bigint)                                                      AS budget_pence,
           CAST(SUM(CASE WHEN l.period <= st.through_period THEN l.budget_pence ELSE 0 END) AS bigint) AS budget_to_date_pence,
           CAST(SUM(CASE WHEN l.period > st.through_period THEN l.budget_pence ELSE 0 END) AS bigint)  AS budget_rest_pence
    FROM status AS st
    JOIN member AS m ON m.row_force = st.force_code
    JOIN lines AS l ON l.force_code = m.force_code AND l.fiscal_year = st.fiscal_year
    GROUP BY st.fiscal_year, st.force_code, l.function_code, st.through_period, st.year_complete, st.budgeted
),
compared AS (
    -- a row for each function with lines in the year, or with a budget when the row is budgeted
    SELECT
        fiscal_year,
        force_code,
        function_code,
        through_period,
        year_complete,
        CASE WHEN budgeted = 1 THEN budget_pence END                                             AS budget_pence,
        CASE WHEN budgeted = 1 THEN budget_to_date_pence END                                     AS budget_to_date_pence,
        actual_to_date_pence,
        CASE WHEN year_complete = 1 THEN 'outturn'
             WHEN budgeted = 1 THEN 'budget'
             ELSE 'run_rate' END                                                                AS forecast_method,
        CASE WHEN year_complete = 1 THEN actual_pence
             WHEN budgeted = 1 THEN actual_to_date_pence + budget_rest_pence
             ELSE {{ scaled("actual_to_date_pence", "baseline_pence", "baseline_to_date_pence") }}
        END                                                                                      AS forecast_pence
    FROM figures
    WHERE line_count > 0 OR (budgeted = 1 AND budget_rows > 0)
)
SELECT
    fiscal_year,
    force_code,
    function_code,
    through_period,
    year_complete,
    {{ money("budget_pence") }}                                AS budget,
    {{ money("budget_to_date_pence") }}                        AS budget_to_date,
    {{ money("actual_to_date_pence") }}                        AS actual_to_date,
    {{ money("budget_to_date_pence - actual_to_date_pence") }} AS variance_to_date,
    {{ money("forecast_pence") }}                              AS forecast,
    forecast_method,
    budget_pence,
    budget_to_date_pence,
    actual_to_date_pence,
    budget_to_date_pence - actual_to_date_pence                AS variance_to_date_pence,
    forecast_pence
FROM compared;
