-- nre_summary: net revenue expenditure by force, fiscal year, period and the common chart's function.
-- The lines are v_nre_line's (revenue only, partner flows eliminated, suspense kept under UNMAPPED /
-- unmapped): the same rule, and the tests hold the two equal.
-- Template variables: sign (1 to add lines, -1 to take them away), source (fact_ledger_line, or a batch's
-- lines already grouped: summaries.py), lines (which of them: a condition on f), gross and count (how a
-- line's absolute amount and its count read from source).
SELECT f.force_code,
       f.fiscal_year,
       f.period,
       COALESCE(o.function_code, 'UNMAPPED')            AS function_code,
       COALESCE(o.alliance_scope, 'unmapped')           AS alliance_scope,
       CAST({{ sign }} * SUM(f.amount_pence) AS bigint) AS amount_pence,
       CAST({{ sign }} * {{ count }} AS bigint)                            AS line_count
FROM {{ source }} AS f
LEFT JOIN dim_objective  AS o ON o.objective_code  = f.objective_code
LEFT JOIN dim_subjective AS s ON s.subjective_code = f.subjective_code
WHERE COALESCE(s.kind, 'suspense') NOT IN ('balance_sheet', 'partner')
  AND {{ lines }}
GROUP BY f.force_code, f.fiscal_year, f.period, COALESCE(o.function_code, 'UNMAPPED'), COALESCE(o.alliance_scope, 'unmapped')
ORDER BY f.force_code, f.fiscal_year, f.period, COALESCE(o.function_code, 'UNMAPPED'), COALESCE(o.alliance_scope, 'unmapped')
