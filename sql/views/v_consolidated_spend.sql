-- v_consolidated_spend: every force's revenue on the common chart, partner flows eliminated,
-- by fiscal year, period, force, function, objective and subjective.
--
-- The lines are v_nre_line's: revenue only (every subjective kind but balance_sheet), money
-- between alliance forces (PART_PAY, INC_PART) eliminated on both sides so the alliance
-- total counts nothing twice, and suspense (UNMAPPED) kept and visible under UNMAPPED so totals
-- are complete while the reference data catches up.
--
-- amount is debit minus credit (spending positive, income negative), summed over integer pence.
CREATE VIEW v_consolidated_spend AS
SELECT
    fiscal_year,
    period,
    force_code,
    function_code,
    objective_code,
    subjective_code,
    alliance_scope,
    {{ money("SUM(amount_pence)") }}       AS amount,
    CAST(SUM(amount_pence) AS bigint)      AS amount_pence,
    COUNT(*)                               AS line_count
FROM v_nre_line
GROUP BY fiscal_year, period, force_code, function_code, objective_code, subjective_code, alliance_scope;
