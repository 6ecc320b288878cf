-- Local codes the reference data does not map yet: what finance must add to reference/.
-- Computed from the fact table, so it is always consistent with it: a code leaves this view as soon
-- as the next run restates its lines. Both partial indexes on fact_ledger_line serve it.
--   code_type 'account':     lines whose local account has no subjective code (subjective UNMAPPED)
--   code_type 'cost_centre': lines on a mapped revenue account whose cost centre has no objective
--                            code for the line's fiscal year (a line whose account is unmapped is
--                            listed under its account only: until the account is known, it is not
--                            known whether the cost centre matters)
CREATE VIEW v_unmapped_codes AS
WITH unmapped AS (
    SELECT force_code, 'account' AS code_type, local_account AS local_code, posting_date, amount_pence
    FROM fact_ledger_line
    WHERE subjective_code = 'UNMAPPED'
    UNION ALL
    SELECT force_code, 'cost_centre' AS code_type, cost_centre AS local_code, posting_date, amount_pence
    FROM fact_ledger_line
    WHERE objective_code = 'UNMAPPED' AND subjective_code <> 'UNMAPPED'
)
SELECT force_code,
       code_type,
       local_code,
       MIN(posting_date) AS first_posting_date,
       MAX(posting_date) AS last_posting_date,
       COUNT(*) AS line_count,
       CAST(SUM(amount_pence) AS bigint) AS amount_pence,
       {{ money('SUM(amount_pence)') }} AS amount
FROM unmapped
GROUP BY force_code, code_type, local_code;
