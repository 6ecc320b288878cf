-- v_consolidated_spend: every force's revenue on the common chart, partner flows eliminated,
-- by fiscal year, period, force, function, objective and subjective.
--
-- The lines are v_nre_line's: revenue only (every subjective kind but balance_sheet), money
-- between alliance forces (PART_PAY, INC_PART) eliminated on both sides so the alliance
-- total counts nothing twice, and suspense (UNMAPPED) kept and visible under UNMAPPED so totals
-- are complete while the reference data catches up.
--
-- amount is debit minus credit (spending positive, income negative), summed over integer pence.
-- Read from ledger_summary, the lines already summed at this grain in the transaction that loaded
-- them (sql/summaries/), so the view's time does not grow with the number of lines.
CREATE VIEW v_consolidated_spend AS
SELECT
    l.fiscal_year,
    l.period,
    l.force_code,
    COALESCE(o.function_code, 'UNMAPPED')  AS function_code,
    l.objective_code,
    l.subjective_code,
    COALESCE(o.alliance_scope, 'unmapped') AS alliance_scope,
    {{ money("l.amount_pence") }}          AS amount,
    l.amount_pence,
    l.line_count
FROM ledger_summary AS l
LEFT JOIN dim_objective  AS o ON o.objective_code  = l.objective_code
LEFT JOIN dim_subjective AS s ON s.subjective_code = l.subjective_code
WHERE COALESCE(s.kind, 'suspense') NOT IN ('balance_sheet', 'partner');
