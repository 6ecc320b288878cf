-- force_year_summary: every line loaded, by force and fiscal year.
-- Template variables: sign (1 to add lines, -1 to take them away), lines (which lines: a condition on f).
SELECT f.force_code,
       f.fiscal_year,
       CAST({{ sign }} * SUM(f.amount_pence) AS bigint) AS amount_pence,
       {{ sign }} * COUNT(*)                            AS line_count
FROM fact_ledger_line AS f
WHERE {{ lines }}
GROUP BY f.force_code, f.fiscal_year
ORDER BY f.force_code, f.fiscal_year
