-- cost_centre_summary: net revenue expenditure (v_nre_line's lines) by force, fiscal year, period and
-- local cost centre ('' for a line without one): what v_cost_share reads for programme costs.
-- Template variables: sign (1 to add lines, -1 to take them away), lines (which lines: a condition on f).
SELECT f.force_code,
       f.fiscal_year,
       f.period,
       COALESCE(f.cost_centre, '')                      AS cost_centre,
       CAST({{ sign }} * SUM(f.amount_pence) AS bigint) AS amount_pence,
       {{ sign }} * COUNT(*)                            AS line_count
FROM fact_ledger_line AS f
LEFT JOIN dim_subjective AS s ON s.subjective_code = f.subjective_code
WHERE COALESCE(s.kind, 'suspense') NOT IN ('balance_sheet', 'partner')
  AND {{ lines }}
GROUP BY f.force_code, f.fiscal_year, f.period, COALESCE(f.cost_centre, '')
ORDER BY f.force_code, COALESCE(f.cost_centre, ''), f.fiscal_year, f.period
