-- unmapped_summary: the lines in suspense by force, unmapped code, fiscal year and posting date
-- (v_unmapped_codes, v_unmapped_code_years). The same rule as those views:
--   code_type 'account':     lines whose local account has no subjective code (subjective UNMAPPED)
--   code_type 'cost_centre': lines on a mapped account whose cost centre has no objective code for the
--                            line's fiscal year (objective UNMAPPED, subjective not)
-- Kept by posting date so that a code's first and last posting date stay exact when a superseded
-- delivery's lines are taken away (a row whose lines are all gone is removed). A line with no cost
-- centre is held under local_code '' (a key column cannot be NULL); the views show it as NULL.
-- Template variables: sign (1 to add lines, -1 to take them away), source (fact_ledger_line, or a batch's
-- lines already grouped: summaries.py, whose batch_grain keeps the posting date of suspense lines only),
-- lines (which of them: a condition on f), count (how a line's count reads from source).
SELECT f.force_code,
       'account'                                        AS code_type,
       f.local_account                                  AS local_code,
       f.fiscal_year,
       f.posting_date,
       CAST({{ sign }} * SUM(f.amount_pence) AS bigint) AS amount_pence,
       CAST({{ sign }} * {{ count }} AS bigint)         AS line_count
FROM {{ source }} AS f
WHERE f.subjective_code = 'UNMAPPED'
  AND {{ lines }}
GROUP BY f.force_code, f.local_account, f.fiscal_year, f.posting_date
UNION ALL
SELECT f.force_code,
       'cost_centre'                                    AS code_type,
       COALESCE(f.cost_centre, '')                      AS local_code,
       f.fiscal_year,
       f.posting_date,
       CAST({{ sign }} * SUM(f.amount_pence) AS bigint) AS amount_pence,
       CAST({{ sign }} * {{ count }} AS bigint)         AS line_count
FROM {{ source }} AS f
WHERE f.objective_code = 'UNMAPPED' AND f.subjective_code <> 'UNMAPPED'
  AND {{ lines }}
GROUP BY f.force_code, COALESCE(f.cost_centre, ''), f.fiscal_year, f.posting_date
ORDER BY 1, 2, 3, 4, 5
