-- v_fiscal_year_status: how far each fiscal year's figures run (CHART.md "In-year tracking"). One
-- row per force and fiscal year with ledger, and ALL for every force together.
--
-- through_period   the last period p with it and every earlier one closed (v_period_status): 0 when
--                  period 1 is open; 16 when period 12 is closed, i.e. the year is complete and its
--                  figures run through the year-end adjustment periods 13-16 too
-- year_complete    1 when period 12 is closed (through_period = 16), else 0
-- closed_to_date   the last day of period through_period (31 March for a complete year); NULL for 0
-- ALL              the lesser over every force of dim_force; a force without ledger in the year
--                  counts as 0, so the alliance is never ahead of a force that has not delivered
CREATE VIEW v_fiscal_year_status AS
WITH first_open AS (
    SELECT force_code, fiscal_year, MIN(CASE WHEN closed = 0 THEN period END) AS first_open_period
    FROM v_period_status
    GROUP BY force_code, fiscal_year
),
by_force AS (
    SELECT force_code, fiscal_year,
           CASE WHEN first_open_period IS NULL THEN 16 ELSE first_open_period - 1 END AS through_period
    FROM first_open
),
alliance AS (
    SELECT y.fiscal_year, 'ALL' AS force_code, MIN(COALESCE(f.through_period, 0)) AS through_period
    FROM (SELECT DISTINCT fiscal_year FROM by_force) AS y
    CROSS JOIN dim_force AS d
    LEFT JOIN by_force AS f ON f.fiscal_year = y.fiscal_year AND f.force_code = d.force_code
    GROUP BY y.fiscal_year
),
status AS (
    SELECT force_code, fiscal_year, through_period FROM by_force
    UNION ALL
    SELECT force_code, fiscal_year, through_period FROM alliance
)
SELECT
    s.force_code,
    s.fiscal_year,
    s.through_period,
    CASE WHEN s.through_period = 16 THEN 1 ELSE 0 END AS year_complete,
    p.end_date AS closed_to_date
FROM status AS s
LEFT JOIN dim_fiscal_period AS p
       ON p.fiscal_year = s.fiscal_year AND p.period = CASE WHEN s.through_period = 16 THEN 12 ELSE s.through_period END;
