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
-- the history (issue #14): every step below that has years is read once, so PostgreSQL inlines it and
-- the year's condition reaches v_fiscal_year_status and the summaries through the row's year. The
-- year's NRE, the baseline's beside every year and the budgets' profiles are one stream (parts), summed
-- for each row and member force (by_member: a force row has one member, ALL every force), then for
-- each row (figures), where a real-terms figure is rounded per force before ALL adds them up. Before,
-- the NRE by year and the rows by force were each read twice, so worked out for every year and then
-- filtered (one year of v_local_policing grew by a quarter from five years to twenty). Only the scopes
-- each force has ever had (force_scope) are read over every year, as their meaning is.
--
-- Real terms (optional, when table deflator holds this year's and FY {{ baseline_fy }}'s index):
-- nre_real = nre * index(FY {{ baseline_fy }}) / index(year), rounded half away from zero to the penny
-- in exact integer arithmetic; savings_real = baseline_nre - nre_real. ALL's real figures are the
-- sum of the forces' rounded figures, so the rows add up.
CREATE VIEW v_savings_tracker AS
WITH force_scope AS (
    -- every alliance scope in which the force has NRE in any year: a force's year has a row for each,
    -- zero where it has none that year. nre_summary's scopes are dim_objective's ('unmapped' for lines in
    -- suspense), so each force and possible scope is looked up rather than every year's summary rows
    -- read: the force's first scope at or after it in nre_summary's index by force and scope (revision
    -- 0013) is the scope itself when the force has it (asked as EXISTS, or with an equality, the planner
    -- read the whole table instead)
    SELECT f.force_code, s.alliance_scope
    FROM dim_force AS f
    CROSS JOIN (SELECT alliance_scope FROM dim_objective UNION SELECT 'unmapped') AS s
    WHERE (SELECT n.alliance_scope FROM nre_summary AS n
           WHERE n.force_code = f.force_code AND n.alliance_scope >= s.alliance_scope
           ORDER BY n.alliance_scope LIMIT 1) = s.alliance_scope
),
tracked AS (
    -- the rows: each force's years in the warehouse (force_year_summary), and ALL for the years in
    -- which every force has ledger, so a year one force has not delivered yet never shows as a saving
    SELECT fy.fiscal_year, fy.force_code, fs.alliance_scope
    FROM force_year_summary AS fy
    JOIN force_scope AS fs ON fs.force_code = fy.force_code
    UNION ALL
    SELECT c.fiscal_year, 'ALL', s.alliance_scope
    FROM (SELECT fiscal_year FROM force_year_summary
          GROUP BY fiscal_year
          HAVING COUNT(*) = (SELECT COUNT(*) FROM dim_force)) AS c
    CROSS JOIN (SELECT DISTINCT alliance_scope FROM force_scope) AS s
),
member AS (
    -- the forces whose lines make up a row (ALL: every force)
    SELECT force_code AS row_force, force_code FROM dim_force
    UNION ALL
    SELECT 'ALL', force_code FROM dim_force
),
status AS (
    -- how far each row's figures run, whether every member force has a FY {{ baseline_fy }} ledger (else
    -- the row has no baseline) and whether every member force has a budget loaded for the year. DISTINCT
    -- (each row is one already) keeps the planner from copying the subqueries into the sums below, while
    -- the year's condition still reaches v_fiscal_year_status
    SELECT DISTINCT r.fiscal_year, r.force_code, r.alliance_scope,
           COALESCE(s.through_period, 0) AS through_period,
           COALESCE(s.year_complete, 0)  AS year_complete,
           CASE WHEN NOT EXISTS (SELECT 1 FROM member AS m
                                 WHERE m.row_force = r.force_code
                                   AND NOT EXISTS (SELECT 1 FROM force_year_summary AS b
                                                   WHERE b.force_code = m.force_code
                                                     AND b.fiscal_year = {{ baseline_fy }}))
                THEN 1 ELSE 0 END AS has_baseline,
           CASE WHEN NOT EXISTS (SELECT 1 FROM member AS m
                                 WHERE m.row_force = r.force_code
                                   AND NOT EXISTS (SELECT 1 FROM budget AS b
                                                   WHERE b.force_code = m.force_code
                                                     AND b.fiscal_year = r.fiscal_year))
                THEN 1 ELSE 0 END AS budgeted
    FROM tracked AS r
    LEFT JOIN v_fiscal_year_status AS s ON s.force_code = r.force_code AND s.fiscal_year = r.fiscal_year
),
parts AS (
    -- the year's NRE (v_nre_line's lines, summed in nre_summary as they load), the baseline's NRE beside
    -- every year, and the budgets' profiles (v_budget_profile, summed in budget_summary). Every column
    -- has one type in all three parts (a bigint zero, not an integer one), so that PostgreSQL plans the
    -- parts as scans of their tables
    SELECT force_code, fiscal_year, alliance_scope, period,
           amount_pence AS nre_pence, CAST(0 AS bigint) AS baseline_pence, CAST(0 AS bigint) AS budget_pence
    FROM nre_summary
    UNION ALL
    SELECT b.force_code, y.fiscal_year, b.alliance_scope, b.period,
           CAST(0 AS bigint), b.amount_pence, CAST(0 AS bigint)
    FROM (SELECT DISTINCT fiscal_year FROM force_year_summary) AS y
    JOIN nre_summary AS b ON b.fiscal_year = {{ baseline_fy }}
    UNION ALL
    SELECT force_code, fiscal_year, alliance_scope, period,
           CAST(0 AS bigint), CAST(0 AS bigint), amount_pence
    FROM budget_summary
),
lines AS (
    -- the parts by force, year, scope and period (the functions summed), one row each
    SELECT force_code, fiscal_year, alliance_scope, period,
           CAST(SUM(nre_pence) AS bigint)      AS nre_pence,
           CAST(SUM(baseline_pence) AS bigint) AS baseline_pence,
           CAST(SUM(budget_pence) AS bigint)   AS budget_pence
    FROM parts
    GROUP BY force_code, fiscal_year, alliance_scope, period
),
by_member AS (
    -- each row's figures from one member force's lines: the whole year and periods 1..through_period
    -- of the year and of the baseline, and the budgets' profiles for the periods after through_period
    SELECT st.fiscal_year, st.force_code, st.alliance_scope, st.through_period, st.year_complete,
           st.has_baseline, st.budgeted, m.force_code AS member_code,
           CAST(COALESCE(SUM(p.nre_pence), 0) AS bigint)                                                   AS nre_pence,
           CAST(COALESCE(SUM(CASE WHEN p.period <= st.through_period THEN p.nre_pence END), 0) AS bigint)      AS ytd_nre_pence,
           CAST(COALESCE(SUM(p.baseline_pence), 0) AS bigint)                                              AS baseline_pence,
           CAST(COALESCE(SUM(CASE WHEN p.period <= st.through_period THEN p.baseline_pence END), 0) AS bigint) AS ytd_baseline_pence,
           CAST(COALESCE(SUM(CASE WHEN p.period > st.through_period THEN p.budget_pence END), 0) AS bigint)   AS budget_rest_pence
    FROM status AS st
    JOIN member AS m ON m.row_force = st.force_code
    LEFT JOIN lines AS p
           ON p.force_code = m.force_code AND p.fiscal_year = st.fiscal_year AND p.alliance_scope = st.alliance_scope
    GROUP BY st.fiscal_year, st.force_code, st.alliance_scope, st.through_period, st.year_complete,
             st.has_baseline, st.budgeted, m.force_code
),
in_year AS (
    -- each row's figures: its member forces' summed, real terms rounded for each force first
    SELECT
        b.fiscal_year,
        b.force_code,
        b.alliance_scope,
        CASE WHEN b.has_baseline = 1 THEN CAST(SUM(b.baseline_pence) AS bigint) END AS baseline_nre_pence,
        CAST(SUM(b.nre_pence) AS bigint)                                         AS nre_pence,
        MAX(d.index_ten_thousandths)                                             AS deflator_index_ten_thousandths,
        CASE WHEN MAX(d.index_ten_thousandths) IS NOT NULL AND MAX(d0.index_ten_thousandths) IS NOT NULL THEN
            CAST(SUM((CASE WHEN b.nre_pence < 0 THEN -1 ELSE 1 END)
                     * ((2 * abs(b.nre_pence) * d0.index_ten_thousandths + d.index_ten_thousandths)
                        / (2 * d.index_ten_thousandths))) AS bigint)
        END                                                                      AS nre_real_pence,
        b.through_period,
        b.year_complete,
        CAST(SUM(b.ytd_nre_pence) AS bigint)                                     AS ytd_nre_pence,
        CAST(SUM(b.ytd_baseline_pence) AS bigint)                                AS ytd_baseline_pence,
        b.budgeted,
        CAST(SUM(b.budget_rest_pence) AS bigint)                                 AS budget_rest_pence
    FROM by_member AS b
    LEFT JOIN deflator AS d  ON d.fiscal_year = b.fiscal_year
    LEFT JOIN deflator AS d0 ON d0.fiscal_year = {{ baseline_fy }}
    GROUP BY b.fiscal_year, b.force_code, b.alliance_scope, b.has_baseline, b.through_period, b.year_complete,
             b.budgeted
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
