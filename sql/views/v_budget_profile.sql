{#- The baseline year is fixed by CHART.md: FY 2014 (2014/15), the year before the alliance. -#}
{%- set baseline_fy = 2014 -%}
{#- A period's share of the year is held in parts per million, like the sharing key. -#}
{%- set ppm = 1000000 -%}
-- v_budget_profile: each budget's amount per period 1-12, adding up to the budget exactly. One row
-- per force, fiscal year, objective, subjective and period.
--
-- profile_basis  given     the profile finance gave in the budget file (table budget_profile)
--                baseline  default: the baseline's (FY {{ baseline_fy }}) own monthly shape for the same force,
--                          objective and subjective, from ledger_summary (the lines summed by period;
--                          periods 13-16, the year-end adjustments, count in period 12, the March
--                          they belong to)
--                even      default when the baseline gives no usable shape: no FY {{ baseline_fy }} lines, a
--                          year that nets to zero, or a month more than ten times the year (a shape
--                          of offsetting entries): twelve equal parts
--
-- Rounding, all in integer arithmetic so both dialects agree to the penny:
-- 1. the shape as parts per million of the year: each period's weight x 1,000,000 divided by the
--    year's weight, rounded down (floor, also for a negative month), then the parts left over go
--    one each to the largest remainders, ties to the earlier period; the parts add up to 1,000,000;
-- 2. the budget the same way: budget_pence x parts DIV 1,000,000 rounded down, the pence left over
--    (fewer than 12) one each to the largest remainders, ties to the earlier period. The periods
--    add up exactly to the budget.
-- Holding the shape in millionths keeps every product within 64 bits (a budget up to
-- £1,000,000,000.00, which the budget file's validation enforces).
CREATE VIEW v_budget_profile AS
WITH unprofiled AS (
    SELECT force_code, fiscal_year, objective_code, subjective_code, budget_pence
    FROM budget
    WHERE profile_given = 0
),
baseline AS (
    SELECT l.force_code, l.objective_code, l.subjective_code,
           CASE WHEN l.period > 12 THEN 12 ELSE l.period END AS period,
           CAST(SUM(l.amount_pence) AS bigint) AS pence
    FROM ledger_summary AS l
    WHERE l.fiscal_year = {{ baseline_fy }}
      AND EXISTS (SELECT 1 FROM unprofiled AS u
                  WHERE u.force_code = l.force_code AND u.objective_code = l.objective_code
                    AND u.subjective_code = l.subjective_code)
    GROUP BY l.force_code, l.objective_code, l.subjective_code, CASE WHEN l.period > 12 THEN 12 ELSE l.period END
),
month AS (
    SELECT u.force_code, u.fiscal_year, u.objective_code, u.subjective_code, u.budget_pence, p.period,
           COALESCE(b.pence, 0) AS pence
    FROM unprofiled AS u
    CROSS JOIN (SELECT period FROM dim_fiscal_period WHERE fiscal_year = {{ baseline_fy }} AND period <= 12) AS p
    LEFT JOIN baseline AS b
           ON b.force_code = u.force_code AND b.objective_code = u.objective_code
          AND b.subjective_code = u.subjective_code AND b.period = p.period
),
year_total AS (
    SELECT force_code, fiscal_year, objective_code, subjective_code,
           CAST(SUM(pence) AS bigint) AS total, MAX(abs(pence)) AS largest
    FROM month
    GROUP BY force_code, fiscal_year, objective_code, subjective_code
),
weighted AS (
    SELECT m.force_code, m.fiscal_year, m.objective_code, m.subjective_code, m.budget_pence, m.period,
           CASE WHEN t.total <> 0 AND t.largest <= 10 * abs(t.total) THEN 'baseline' ELSE 'even' END AS profile_basis,
           CASE WHEN t.total <> 0 AND t.largest <= 10 * abs(t.total)
                THEN (CASE WHEN t.total < 0 THEN -m.pence ELSE m.pence END) * {{ ppm }} ELSE {{ ppm }} END AS share_num,
           CASE WHEN t.total <> 0 AND t.largest <= 10 * abs(t.total) THEN abs(t.total) ELSE 12 END AS share_den
    FROM month AS m
    JOIN year_total AS t
      ON t.force_code = m.force_code AND t.fiscal_year = m.fiscal_year
     AND t.objective_code = m.objective_code AND t.subjective_code = m.subjective_code
),
share_floor AS (
    SELECT w.*,
           ((share_num % share_den) + share_den) % share_den AS share_rem
    FROM weighted AS w
),
share_ranked AS (
    SELECT s.*,
           (s.share_num - s.share_rem) / s.share_den AS share_down,
           ROW_NUMBER() OVER (PARTITION BY force_code, fiscal_year, objective_code, subjective_code
                              ORDER BY share_rem DESC, period) AS share_rank
    FROM share_floor AS s
),
share AS (
    SELECT r.force_code, r.fiscal_year, r.objective_code, r.subjective_code, r.budget_pence, r.period,
           r.profile_basis,
           r.share_down + CASE WHEN r.share_rank <= {{ ppm }} - SUM(r.share_down) OVER (
               PARTITION BY r.force_code, r.fiscal_year, r.objective_code, r.subjective_code) THEN 1 ELSE 0 END
               AS share_ppm
    FROM share_ranked AS r
),
amount_floor AS (
    SELECT s.*,
           s.budget_pence * s.share_ppm AS amount_num,
           (((s.budget_pence * s.share_ppm) % {{ ppm }}) + {{ ppm }}) % {{ ppm }} AS amount_rem
    FROM share AS s
),
amount_ranked AS (
    SELECT a.*,
           (a.amount_num - a.amount_rem) / {{ ppm }} AS amount_down,
           ROW_NUMBER() OVER (PARTITION BY force_code, fiscal_year, objective_code, subjective_code
                              ORDER BY amount_rem DESC, period) AS amount_rank
    FROM amount_floor AS a
),
defaulted AS (
    SELECT r.force_code, r.fiscal_year, r.objective_code, r.subjective_code, r.period, r.profile_basis,
           CAST(r.amount_down + CASE WHEN r.amount_rank <= r.budget_pence - SUM(r.amount_down) OVER (
               PARTITION BY r.force_code, r.fiscal_year, r.objective_code, r.subjective_code) THEN 1 ELSE 0 END
               AS bigint) AS amount_pence
    FROM amount_ranked AS r
),
profile AS (
    SELECT force_code, fiscal_year, objective_code, subjective_code, period, 'given' AS profile_basis, amount_pence
    FROM budget_profile
    UNION ALL
    SELECT force_code, fiscal_year, objective_code, subjective_code, period, profile_basis, amount_pence
    FROM defaulted
)
SELECT
    force_code,
    fiscal_year,
    objective_code,
    subjective_code,
    period,
    profile_basis,
    {{ money('amount_pence') }} AS amount,
    amount_pence
FROM profile;
