-- force_year_summary: every line loaded, by force and fiscal year.
-- Template variables: sign (1 to add lines, -1 to take them away), source (fact_ledger_line, or a batch's
-- lines already grouped: summaries.py), lines (which of them: a condition on f), gross and count (how a
-- line's absolute amount and its count read from source).
SELECT f.force_code,
       f.fiscal_year,
       CAST({{ sign }} * SUM(f.amount_pence) AS bigint) AS amount_pence,
       CAST({{ sign }} * {{ count }} AS bigint)                            AS line_count
FROM {{ source }} AS f
WHERE {{ lines }}
GROUP BY f.force_code, f.fiscal_year
ORDER BY f.force_code, f.fiscal_year
