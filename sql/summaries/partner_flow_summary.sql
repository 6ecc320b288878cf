-- partner_flow_summary: money between alliance forces (PART_PAY in the payer's ledger, INC_PART in
-- the payee's) by force, fiscal year, period, cost centre ('' for none), local account and subjective:
-- what v_intra_alliance_reconciliation and v_cost_share read.
-- Template variables: sign (1 to add lines, -1 to take them away), source (fact_ledger_line, or a batch's
-- lines already grouped: summaries.py), lines (which of them: a condition on f), gross and count (how a
-- line's absolute amount and its count read from source).
SELECT f.force_code,
       f.fiscal_year,
       f.period,
       COALESCE(f.cost_centre, '')                      AS cost_centre,
       f.local_account,
       f.subjective_code,
       CAST({{ sign }} * SUM(f.amount_pence) AS bigint) AS amount_pence,
       CAST({{ sign }} * {{ count }} AS bigint)                            AS line_count
FROM {{ source }} AS f
WHERE f.subjective_code IN ('PART_PAY', 'INC_PART')
  AND {{ lines }}
GROUP BY f.force_code, f.fiscal_year, f.period, COALESCE(f.cost_centre, ''), f.local_account, f.subjective_code
ORDER BY f.force_code, f.fiscal_year, f.period, COALESCE(f.cost_centre, ''), f.local_account, f.subjective_code
