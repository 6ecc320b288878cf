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
-- planned sums every row's budgets and is joined to budgeted only where it is used (keys, and compared's
-- CASE on bg): joined inside planned, the planner took budgeted (a HAVING) for one row and re-joined
-- status and member for each budget row (80 ms of the view's 100 on five years at scale 10).
CREATE VIEW v_budget_vs_outturn AS
WITH status AS (
    SELECT force_code, fiscal_year, through_period, year_complete FROM v_fiscal_year_status
),
member AS (
    SELECT force_code AS row_force, force_code FROM dim_force
    UNION ALL
    SELECT 'ALL', force_code FROM dim_force
),
actual AS (
    SELECT st.fiscal_year, st.force_code, n.function_code,
           CAST(SUM(CASE WHEN n.fiscal_year = st.fiscal_year AND n.period <= st.through_period
                         THEN n.amount_pence ELSE 0 END) AS bigint) AS actual_to_date_pence,
           CAST(SUM(CASE WHEN n.fiscal_year = st.fiscal_year THEN n.amount_pence ELSE 0 END) AS bigint) AS actual_pence,
           CAST(SUM(CASE WHEN n.fiscal_year = {{ baseline_fy }} AND n.period <= st.through_period
                         THEN n.amount_pence ELSE 0 END) AS bigint) AS baseline_to_date_pence,
           CAST(SUM(CASE WHEN n.fiscal_year = {{ baseline_fy }} THEN n.amount_pence ELSE 0 END) AS bigint) AS baseline_pence,
           SUM(CASE WHEN n.fiscal_year = st.fiscal_year THEN n.line_count ELSE 0 END) AS line_count
    FROM status AS st
    JOIN member AS m ON m.row_force = st.force_code
    JOIN nre_summary AS n
      ON n.force_code = m.force_code AND n.fiscal_year IN (st.fiscal_year, {{ baseline_fy }})
    GROUP BY st.fiscal_year, st.force_code, n.function_code
),
budgeted AS (
    -- rows whose every member force has a budget loaded for the year
    SELECT st.fiscal_year, st.force_code
    FROM status AS st
    JOIN member AS m ON m.row_force = st.force_code
    LEFT JOIN (SELECT DISTINCT force_code, fiscal_year FROM budget) AS b
           ON b.force_code = m.force_code AND b.fiscal_year = st.fiscal_year
    GROUP BY st.fiscal_year, st.force_code
    HAVING COUNT(b.force_code) = COUNT(*)
),
budget_period AS (
    -- the budgets' profiles (v_budget_profile) by force, year, function and period, as budget_summary
    -- keeps them summed
    SELECT force_code, fiscal_year, function_code, period, CAST(SUM(amount_pence) AS bigint) AS pence
    FROM budget_summary
    GROUP BY force_code, fiscal_year, function_code, period
),
planned AS (
    -- every row's budgets; only a budgeted row's (every member force's budget loaded) are used below
    SELECT st.fiscal_year, st.force_code, b.function_code,
           CAST(SUM(b.pence) AS bigint) AS budget_pence,
           CAST(SUM(CASE WHEN b.period <= st.through_period THEN b.pence ELSE 0 END) AS bigint) AS budget_to_date_pence,
           CAST(SUM(CASE WHEN b.period > st.through_period THEN b.pence ELSE 0 END) AS bigint) AS budget_rest_pence
    FROM status AS st
    JOIN member AS m ON m.row_force = st.force_code
    JOIN budget_period AS b ON b.force_code = m.force_code AND b.fiscal_year = st.fiscal_year
    GROUP BY st.fiscal_year, st.force_code, b.function_code
),
keys AS (
    SELECT fiscal_year, force_code, function_code FROM actual WHERE line_count > 0
    UNION
    SELECT p.fiscal_year, p.force_code, p.function_code
    FROM planned AS p
    JOIN budgeted AS bg ON bg.fiscal_year = p.fiscal_year AND bg.force_code = p.force_code
),
compared AS (
    SELECT
        k.fiscal_year,
        k.force_code,
        k.function_code,
        st.through_period,
        st.year_complete,
        CASE WHEN bg.force_code IS NULL THEN NULL ELSE COALESCE(p.budget_pence, 0) END          AS budget_pence,
        CASE WHEN bg.force_code IS NULL THEN NULL ELSE COALESCE(p.budget_to_date_pence, 0) END  AS budget_to_date_pence,
        COALESCE(a.actual_to_date_pence, 0)                                                    AS actual_to_date_pence,
        CASE WHEN st.year_complete = 1 THEN 'outturn'
             WHEN bg.force_code IS NOT NULL THEN 'budget'
             ELSE 'run_rate' END                                                               AS forecast_method,
        CASE WHEN st.year_complete = 1 THEN COALESCE(a.actual_pence, 0)
             WHEN bg.force_code IS NOT NULL THEN COALESCE(a.actual_to_date_pence, 0) + COALESCE(p.budget_rest_pence, 0)
             ELSE {{ scaled("COALESCE(a.actual_to_date_pence, 0)", "a.baseline_pence", "a.baseline_to_date_pence") }}
        END                                                                                     AS forecast_pence
    FROM keys AS k
    JOIN status AS st ON st.fiscal_year = k.fiscal_year AND st.force_code = k.force_code
    LEFT JOIN budgeted AS bg ON bg.fiscal_year = k.fiscal_year AND bg.force_code = k.force_code
    LEFT JOIN planned AS p
           ON p.fiscal_year = k.fiscal_year AND p.force_code = k.force_code AND p.function_code = k.function_code
    LEFT JOIN actual AS a
           ON a.fiscal_year = k.fiscal_year AND a.force_code = k.force_code AND a.function_code = k.function_code
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
