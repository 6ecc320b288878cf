-- v_consolidated_spend: both forces' revenue on the common chart, partner flows eliminated.
--
-- Revenue is every line whose subjective kind is not balance_sheet (CHART.md). Money between the
-- two alliance forces (kind partner: PART_PAY in the payer's ledger, INC_PART in the payee's) is
-- eliminated on both sides, so the alliance total counts nothing twice; the two sides are compared
-- in v_intra_alliance_reconciliation. Lines in suspense (objective or subjective UNMAPPED) stay
-- in, under UNMAPPED, so totals are complete while the reference data catches up; a code missing
-- from the dimensions is treated the same way rather than dropped by a join.
--
-- amount is debit minus credit (spending positive, income negative), summed over integer pence.
CREATE VIEW v_consolidated_spend AS
SELECT
    f.fiscal_year,
    f.period,
    f.force_code,
    COALESCE(o.function_code, 'UNMAPPED')    AS function_code,
    f.objective_code,
    f.subjective_code,
    COALESCE(o.alliance_scope, 'unmapped')   AS alliance_scope,
    {{ money("SUM(f.amount_pence)") }}       AS amount,
    CAST(SUM(f.amount_pence) AS bigint)      AS amount_pence,
    COUNT(*)                                 AS line_count
FROM fact_ledger_line AS f
LEFT JOIN dim_objective  AS o ON o.objective_code  = f.objective_code
LEFT JOIN dim_subjective AS s ON s.subjective_code = f.subjective_code
WHERE COALESCE(s.kind, 'suspense') NOT IN ('balance_sheet', 'partner')
GROUP BY
    f.fiscal_year,
    f.period,
    f.force_code,
    COALESCE(o.function_code, 'UNMAPPED'),
    f.objective_code,
    f.subjective_code,
    COALESCE(o.alliance_scope, 'unmapped');
