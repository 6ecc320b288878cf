-- v_unmapped_codes by fiscal year: per force, unmapped code and fiscal year, the first and last
-- posting date, lines and money in suspense. The same rule as v_unmapped_codes (an account with no
-- subjective code; a cost centre on a mapped revenue account with no objective code for the line's
-- fiscal year), read through the same two partial indexes. `alliance-finance mapping export` reads it
-- to show finance each code's years; the rows of a code add up to its v_unmapped_codes row.
CREATE VIEW v_unmapped_code_years AS
WITH unmapped AS (
    SELECT force_code, 'account' AS code_type, local_account AS local_code, fiscal_year, posting_date, amount_pence
    FROM fact_ledger_line
    WHERE subjective_code = 'UNMAPPED'
    UNION ALL
    SELECT force_code, 'cost_centre' AS code_type, cost_centre AS local_code, fiscal_year, posting_date, amount_pence
    FROM fact_ledger_line
    WHERE objective_code = 'UNMAPPED' AND subjective_code <> 'UNMAPPED'
)
SELECT force_code,
       code_type,
       local_code,
       fiscal_year,
       MIN(posting_date) AS first_posting_date,
       MAX(posting_date) AS last_posting_date,
       COUNT(*) AS line_count,
       CAST(SUM(amount_pence) AS bigint) AS amount_pence,
       {{ money('SUM(amount_pence)') }} AS amount
FROM unmapped
GROUP BY force_code, code_type, local_code, fiscal_year;
