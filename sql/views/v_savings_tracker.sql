{#- The baseline year is fixed by CHART.md: FY 2014 (2014/15), the year before the alliance. -#}
{%- set baseline_fy = 2014 -%}
{#- deflator_index: a non-negative integer count of ten-thousandths, shown as an exact decimal with four places. -#}
-- v_savings_tracker: savings against the FY {{ baseline_fy }} baseline and the cumulative target, by
-- fiscal year, force (each configured force, and ALL for every force together) and alliance scope.
--
-- nre           net revenue expenditure of the year: the lines of v_nre_line summed (nre_summary
--               holds them summed as they load), so revenue lines only, partner flows (PART_PAY,
--               INC_PART) excluded, suspense (UNMAPPED) included
-- baseline_nre  the same for FY {{ baseline_fy }}; NULL when the force has no FY {{ baseline_fy }} ledger
-- savings       baseline_nre - nre, in cash terms
-- target        the cumulative target from savings_target for this force and scope: the row of this
--               fiscal year or, failing that, of the latest earlier year (a target, once set, holds)
-- target_variance  savings - target: positive means ahead of target
-- ALL rows exist only for years in which every force has ledger, so a year one force has not
-- delivered yet never shows as a saving.
--
-- In-year (CHART.md "In-year tracking"): like with like, never part of a year against a whole one.
-- through_period     how far the year's figures run: v_fiscal_year_status (1-12; 16 when the year is
--                    complete, its adjustment periods 13-16 then counting; 0 when period 1 is open);
--                    for ALL the lesser of the forces'
-- year_complete      1 when period 12 is closed, else 0
-- ytd_nre            NRE of periods 1..through_period
-- ytd_baseline_nre   FY {{ baseline_fy }}'s NRE of the same periods 1..through_period
-- ytd_savings        ytd_baseline_nre - ytd_nre
-- ytd_target         target x ytd_baseline_nre / baseline_nre: the year's cumulative target phased by
--                    the baseline's own seasonality, rounded half away from zero to the penny
-- forecast_nre       complete year: the outturn (nre). Else with a budget loaded for the force (for
--                    ALL: every force) and year: ytd_nre + the budget's profile for periods
--                    through_period+1..12 (v_budget_profile, summed in budget_summary); else run rate:
--                    ytd_nre x baseline_nre / ytd_baseline_nre, to the penny. NULL when nothing is
--                    closed yet and no budget is loaded
-- forecast_savings   baseline_nre - forecast_nre
-- forecast_method    'outturn', 'budget' or 'run_rate'
-- For a complete year every ytd_ figure equals its whole-year one and the forecast is the outturn.
-- Scaling by a ratio of money is exact 64-bit integer arithmetic (sqlfiles.scaled).
--
-- Written so that a query for one year (WHERE fiscal_year = X) takes about the same time however long
-- the history (issue #14): the year-to-date and budget figures (in_year) are scalar subqueries of their
-- row, through the summaries' keys, and the year's condition reaches in_year, so they are worked out for
-- that year's rows only. Before, they were aggregates of every year's rows joined back (MATERIALIZED:
-- left to the planner, they were re-aggregated per row and the view grew with the square of the years).
--
-- Real terms (optional, when table deflator holds this year's and FY {{ baseline_fy }}'s index):
-- nre_real = nre * index(FY {{ baseline_fy }}) / index(year), rounded half away from zero to the penny
-- in exact integer arithmetic; savings_real = baseline_nre - nre_real. ALL's real figures are the
-- sum of the forces' rounded figures, so the rows add up.
CREATE VIEW v_savings_tracker AS
WITH nre AS (
    -- v_nre_line's lines, summed by nre_summary as they were loaded (sql/summaries/)
    SELECT fiscal_year, force_code, alliance_scope, CAST(SUM(amount_pence) AS bigint) AS nre_pence
    FROM nre_summary
    GROUP BY fiscal_year, force_code, alliance_scope
),
force_year AS (
    -- the fiscal years for which each force has ledger in the warehouse
    SELECT fiscal_year, force_code FROM force_year_summary
),
force_scope AS (
    SELECT DISTINCT force_code, alliance_scope FROM nre
),
by_force AS (
    SELECT
        fy.fiscal_year,
        fy.force_code,
        fs.alliance_scope,
        CASE WHEN base_year.force_code IS NULL THEN NULL ELSE COALESCE(base.nre_pence, 0) END AS baseline_nre_pence,
        COALESCE(n.nre_pence, 0) AS nre_pence,
        d.index_ten_thousandths AS deflator_index_ten_thousandths,
        CASE WHEN d.index_ten_thousandths IS NOT NULL AND d0.index_ten_thousandths IS NOT NULL THEN
            (CASE WHEN COALESCE(n.nre_pence, 0) < 0 THEN -1 ELSE 1 END)
            * ((2 * abs(COALESCE(n.nre_pence, 0)) * d0.index_ten_thousandths + d.index_ten_thousandths)
               / (2 * d.index_ten_thousandths))
        END AS nre_real_pence
    FROM force_year AS fy
    JOIN force_scope AS fs ON fs.force_code = fy.force_code
    LEFT JOIN nre AS n
           ON n.fiscal_year = fy.fiscal_year AND n.force_code = fy.force_code AND n.alliance_scope = fs.alliance_scope
    LEFT JOIN force_year AS base_year
           ON base_year.fiscal_year = {{ baseline_fy }} AND base_year.force_code = fy.force_code
    LEFT JOIN nre AS base
           ON base.fiscal_year = {{ baseline_fy }} AND base.force_code = fy.force_code AND base.alliance_scope = fs.alliance_scope
    LEFT JOIN deflator AS d  ON d.fiscal_year = fy.fiscal_year
    LEFT JOIN deflator AS d0 ON d0.fiscal_year = {{ baseline_fy }}
),
complete_year AS (
    -- years in which every force has ledger
    SELECT fiscal_year FROM force_year
    GROUP BY fiscal_year
    HAVING COUNT(*) = (SELECT COUNT(*) FROM dim_force)
),
alliance AS (
    SELECT
        b.fiscal_year,
        'ALL' AS force_code,
        b.alliance_scope,
        -- NULL unless every force has its baseline
        CASE WHEN COUNT(b.baseline_nre_pence) = COUNT(*) THEN CAST(SUM(b.baseline_nre_pence) AS bigint) END
            AS baseline_nre_pence,
        CAST(SUM(b.nre_pence) AS bigint) AS nre_pence,
        MAX(b.deflator_index_ten_thousandths) AS deflator_index_ten_thousandths,
        CASE WHEN COUNT(b.nre_real_pence) = COUNT(*) THEN CAST(SUM(b.nre_real_pence) AS bigint) END
            AS nre_real_pence
    FROM by_force AS b
    JOIN complete_year AS c ON c.fiscal_year = b.fiscal_year
    GROUP BY b.fiscal_year, b.alliance_scope
),
tracked AS (
    SELECT * FROM by_force
    UNION ALL
    SELECT * FROM alliance
),
status AS (
    -- how far each row's figures run
    SELECT r.*,
           COALESCE(s.through_period, 0) AS through_period,
           COALESCE(s.year_complete, 0)  AS year_complete
    FROM tracked AS r
    LEFT JOIN v_fiscal_year_status AS s ON s.force_code = r.force_code AND s.fiscal_year = r.fiscal_year
),
member AS (
    -- the forces whose lines make up a row (ALL: every force)
    SELECT force_code AS row_force, force_code FROM dim_force
    UNION ALL
    SELECT 'ALL', force_code FROM dim_force
),
in_year AS (
    -- DISTINCT (each row is one already) keeps the planner from copying these subqueries into every
    -- expression that reads their figures below, while the year's condition still reaches them
    SELECT DISTINCT st.*,
           -- NRE of periods 1..through_period of the year, and of the baseline's same periods
           COALESCE((SELECT CAST(SUM(n.amount_pence) AS bigint)
                     FROM member AS m
                     JOIN nre_summary AS n ON n.force_code = m.force_code
                     WHERE m.row_force = st.force_code AND n.fiscal_year = st.fiscal_year
                       AND n.alliance_scope = st.alliance_scope AND n.period <= st.through_period), 0)
               AS ytd_nre_pence,
           COALESCE((SELECT CAST(SUM(n.amount_pence) AS bigint)
                     FROM member AS m
                     JOIN nre_summary AS n ON n.force_code = m.force_code
                     WHERE m.row_force = st.force_code AND n.fiscal_year = {{ baseline_fy }}
                       AND n.alliance_scope = st.alliance_scope AND n.period <= st.through_period), 0)
               AS ytd_baseline_pence,
           -- whether every member force has a budget loaded for the year
           CASE WHEN NOT EXISTS (SELECT 1 FROM member AS m
                                 WHERE m.row_force = st.force_code
                                   AND NOT EXISTS (SELECT 1 FROM budget AS b
                                                   WHERE b.force_code = m.force_code
                                                     AND b.fiscal_year = st.fiscal_year))
                THEN 1 ELSE 0 END AS budgeted,
           -- the budgets' profiles (v_budget_profile, as budget_summary keeps them summed) for the
           -- periods after through_period, on this scope's objectives
           COALESCE((SELECT CAST(SUM(b.amount_pence) AS bigint)
                     FROM member AS m
                     JOIN budget_summary AS b ON b.force_code = m.force_code
                     WHERE m.row_force = st.force_code AND b.fiscal_year = st.fiscal_year
                       AND b.alliance_scope = st.alliance_scope AND b.period > st.through_period), 0)
               AS budget_rest_pence
    FROM status AS st
),
forecast AS (
    SELECT i.*,
           CASE WHEN i.year_complete = 1 THEN 'outturn'
                WHEN i.budgeted = 1 THEN 'budget'
                WHEN i.through_period > 0 THEN 'run_rate' END AS forecast_method
    FROM in_year AS i
),
measured AS (
    SELECT
        r.fiscal_year,
        r.force_code,
        r.alliance_scope,
        r.baseline_nre_pence,
        r.nre_pence,
        r.baseline_nre_pence - r.nre_pence AS savings_pence,
        t.target_pence,
        r.deflator_index_ten_thousandths,
        r.nre_real_pence,
        r.baseline_nre_pence - r.nre_real_pence AS savings_real_pence,
        r.through_period,
        r.year_complete,
        r.ytd_nre_pence,
        CASE WHEN r.baseline_nre_pence IS NULL THEN NULL ELSE r.ytd_baseline_pence END AS ytd_baseline_pence,
        r.forecast_method,
        CASE r.forecast_method
            WHEN 'outturn'  THEN r.nre_pence
            WHEN 'budget'   THEN r.ytd_nre_pence + r.budget_rest_pence
            WHEN 'run_rate' THEN {{ scaled("r.ytd_nre_pence", "r.baseline_nre_pence", "r.ytd_baseline_pence") }}
        END AS forecast_nre_pence
    FROM forecast AS r
    LEFT JOIN savings_target AS t
           ON t.force_code = r.force_code
          AND t.alliance_scope = r.alliance_scope
          AND t.fiscal_year = (SELECT MAX(t2.fiscal_year) FROM savings_target AS t2
                               WHERE t2.force_code = r.force_code
                                 AND t2.alliance_scope = r.alliance_scope
                                 AND t2.fiscal_year <= r.fiscal_year)
),
phased AS (
    SELECT m.*,
           CASE WHEN m.year_complete = 1 THEN m.target_pence
                ELSE {{ scaled("m.target_pence", "m.ytd_baseline_pence", "m.baseline_nre_pence") }} END AS ytd_target_pence
    FROM measured AS m
)
SELECT
    fiscal_year,
    force_code,
    alliance_scope,
    {{ money("baseline_nre_pence") }}              AS baseline_nre,
    {{ money("nre_pence") }}                       AS nre,
    {{ money("savings_pence") }}                   AS savings,
    {{ money("target_pence") }}                    AS target,
    {{ money("savings_pence - target_pence") }}    AS target_variance,
    {{ fixed("deflator_index_ten_thousandths", 4, 12) }} AS deflator_index,
    {{ money("nre_real_pence") }}                  AS nre_real,
    {{ money("savings_real_pence") }}              AS savings_real,
    baseline_nre_pence,
    nre_pence,
    savings_pence,
    target_pence,
    savings_pence - target_pence                   AS target_variance_pence,
    deflator_index_ten_thousandths,
    nre_real_pence,
    savings_real_pence,
    through_period,
    year_complete,
    {{ money("ytd_baseline_pence") }}                          AS ytd_baseline_nre,
    {{ money("ytd_nre_pence") }}                               AS ytd_nre,
    {{ money("ytd_baseline_pence - ytd_nre_pence") }}          AS ytd_savings,
    {{ money("ytd_target_pence") }}                            AS ytd_target,
    {{ money("forecast_nre_pence") }}                          AS forecast_nre,
    {{ money("baseline_nre_pence - forecast_nre_pence") }}     AS forecast_savings,
    forecast_method,
    ytd_baseline_pence                                         AS ytd_baseline_nre_pence,
    ytd_nre_pence,
    ytd_baseline_pence - ytd_nre_pence                         AS ytd_savings_pence,
    ytd_target_pence,
    forecast_nre_pence,
    baseline_nre_pence - forecast_nre_pence                    AS forecast_savings_pence
FROM phased;
