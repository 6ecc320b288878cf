-- cost_centre_summary: net revenue expenditure (v_nre_line's lines) by force, fiscal year, period and
-- local cost centre ('' for a line without one): what v_cost_share reads for programme costs.
-- Template variables: sign (1 to add lines, -1 to take them away), source (fact_ledger_line, or a batch's
-- lines already grouped: summaries.py), lines (which of them: a condition on f), gross and count (how a
-- line's absolute amount and its count read from source).
SELECT f.force_code,
       f.fiscal_year,
       f.period,
       COALESCE(f.cost_centre, '')                      AS cost_centre,
       CAST({{ sign }} * SUM(f.amount_pence) AS bigint) AS amount_pence,
       CAST({{ sign }} * {{ count }} AS bigint)                            AS line_count
FROM {{ source }} AS f
LEFT JOIN dim_subjective AS s ON s.subjective_code = f.subjective_code
WHERE COALESCE(s.kind, 'suspense') NOT IN ('balance_sheet', 'partner')
  AND {{ lines }}
GROUP BY f.force_code, f.fiscal_year, f.period, COALESCE(f.cost_centre, '')
ORDER BY f.force_code, COALESCE(f.cost_centre, ''), f.fiscal_year, f.period
