-- Local codes the reference data does not map yet: what finance must add to reference/.
-- Read from unmapped_summary, the lines in suspense summed by posting date in the transaction that
-- loaded, superseded or restated them (sql/summaries/unmapped_summary.sql), so it is always consistent
-- with the lines: a code leaves this view as soon as the next run restates its lines.
--   code_type 'account':     lines whose local account has no subjective code (subjective UNMAPPED)
--   code_type 'cost_centre': lines on a mapped revenue account whose cost centre has no objective
--                            code for the line's fiscal year (a line whose account is unmapped is
--                            listed under its account only: until the account is known, it is not
--                            known whether the cost centre matters)
CREATE VIEW v_unmapped_codes AS
SELECT force_code,
       code_type,
       NULLIF(local_code, '') AS local_code,
       MIN(posting_date) AS first_posting_date,
       MAX(posting_date) AS last_posting_date,
       CAST(SUM(line_count) AS bigint) AS line_count,
       CAST(SUM(amount_pence) AS bigint) AS amount_pence,
       {{ money('SUM(amount_pence)') }} AS amount
FROM unmapped_summary
GROUP BY force_code, code_type, local_code;
