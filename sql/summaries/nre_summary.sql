-- nre_summary: net revenue expenditure by force, fiscal year, period and the common chart's function.
-- The lines are v_nre_line's (revenue only, partner flows eliminated, suspense kept under UNMAPPED /
-- unmapped): the same rule, and the tests hold the two equal.
-- Template variables: sign (1 to add lines, -1 to take them away), lines (which lines: a condition on f).
SELECT f.force_code,
       f.fiscal_year,
       f.period,
       COALESCE(o.function_code, 'UNMAPPED')            AS function_code,
       COALESCE(o.alliance_scope, 'unmapped')           AS alliance_scope,
       CAST({{ sign }} * SUM(f.amount_pence) AS bigint) AS amount_pence,
       {{ sign }} * COUNT(*)                            AS line_count
FROM fact_ledger_line AS f
LEFT JOIN dim_objective  AS o ON o.objective_code  = f.objective_code
LEFT JOIN dim_subjective AS s ON s.subjective_code = f.subjective_code
WHERE COALESCE(s.kind, 'suspense') NOT IN ('balance_sheet', 'partner')
  AND {{ lines }}
GROUP BY f.force_code, f.fiscal_year, f.period, COALESCE(o.function_code, 'UNMAPPED'), COALESCE(o.alliance_scope, 'unmapped')
ORDER BY f.force_code, f.fiscal_year, f.period, COALESCE(o.function_code, 'UNMAPPED'), COALESCE(o.alliance_scope, 'unmapped')
