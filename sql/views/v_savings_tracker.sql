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
        r.baseline_nre_pence - r.nre_real_pence AS savings_real_pence
    FROM tracked AS r
    LEFT JOIN savings_target AS t
           ON t.force_code = r.force_code
          AND t.alliance_scope = r.alliance_scope
          AND t.fiscal_year = (SELECT MAX(t2.fiscal_year) FROM savings_target AS t2
                               WHERE t2.force_code = r.force_code
                                 AND t2.alliance_scope = r.alliance_scope
                                 AND t2.fiscal_year <= r.fiscal_year)
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
    savings_real_pence
FROM measured;
