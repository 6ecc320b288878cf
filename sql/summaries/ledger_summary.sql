-- ledger_summary: every line loaded, by force, fiscal year, period, objective and subjective.
-- Template variables: sign (1 to add lines, -1 to take them away), lines (which lines: a condition on f).
SELECT f.force_code,
       f.fiscal_year,
       f.period,
       f.objective_code,
       f.subjective_code,
       CAST({{ sign }} * SUM(f.amount_pence) AS bigint)      AS amount_pence,
       CAST({{ sign }} * SUM(abs(f.amount_pence)) AS bigint) AS gross_pence,
       {{ sign }} * COUNT(*)                                 AS line_count
FROM fact_ledger_line AS f
WHERE {{ lines }}
GROUP BY f.force_code, f.fiscal_year, f.period, f.objective_code, f.subjective_code
ORDER BY f.force_code, f.fiscal_year, f.period, f.objective_code, f.subjective_code
