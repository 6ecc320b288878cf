-- v_nre_line: the ledger lines that count in net revenue expenditure (NRE), one row per line, with
-- the common chart's function and alliance scope beside them. The one statement of the rule the
-- finance views share (v_consolidated_spend, v_savings_tracker, v_cost_share):
--
-- * revenue only: every subjective kind but balance_sheet (CHART.md, "Sign and measure");
-- * partner flows eliminated: kind partner (PART_PAY in the payer's ledger, INC_PART in the
--   payee's) is money between alliance forces and would otherwise count twice; the two
--   sides are compared in v_intra_alliance_reconciliation;
-- * suspense kept: a line whose objective or subjective is UNMAPPED (or a code missing from the
--   dimensions) stays in, under function UNMAPPED / scope unmapped, so totals are complete while
--   the reference data catches up.
--
-- After those columns (their meaning unchanged), where each line comes from, so any figure can be
-- followed down to its lines (alliance_finance.marts.drilldown, `alliance-finance explain`):
-- posting_date, source_line_ref (unique within a force), document_ref (the SAP document or the ERP
-- journal), source_line_number (the line's row in its file or extract), batch_id (etl_batch: the
-- delivery or extract, etl_batch.source_ref) and local_account (with cost_centre, what the mapping
-- read: map_local_account, map_cost_centre).
--
-- A plain join, so the database folds it into each query that aggregates it (no materialisation).
-- It runs with its owner's rights, like every view here: the consolidated views built on it must
-- see every force's lines whoever queries them (a security_invoker view would hand the querying
-- role's row-level security down to them). Being line-level data of every force, it is granted to
-- no force role (sql/security/); a force's finance team reads its own lines in fact_ledger_line.
CREATE VIEW v_nre_line AS
SELECT
    f.fiscal_year,
    f.period,
    f.force_code,
    f.cost_centre,
    COALESCE(o.function_code, 'UNMAPPED')    AS function_code,
    f.objective_code,
    f.subjective_code,
    COALESCE(o.alliance_scope, 'unmapped')   AS alliance_scope,
    f.amount_pence,
    f.posting_date,
    f.source_line_ref,
    f.document_ref,
    f.source_line_number,
    f.batch_id,
    f.local_account
FROM fact_ledger_line AS f
LEFT JOIN dim_objective  AS o ON o.objective_code  = f.objective_code
LEFT JOIN dim_subjective AS s ON s.subjective_code = f.subjective_code
WHERE COALESCE(s.kind, 'suspense') NOT IN ('balance_sheet', 'partner');
