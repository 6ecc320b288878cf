-- Map a batch's staged lines and add them to the fact table, in one statement.
-- Bind parameter: batch_id. Template variable: mapped_lines (mapped_lines.sql over stage_line).
INSERT INTO fact_ledger_line (
    force_code, fiscal_year, period, posting_date, source_line_ref, document_ref,
    source_line_number, cost_centre, local_account, objective_code, subjective_code,
    amount_pence, document_type, line_text, vendor, reference, batch_id
)
SELECT force_code, fiscal_year, period, posting_date, source_line_ref, document_ref,
       source_line_number, cost_centre, local_account, mapped_objective_code, mapped_subjective_code,
       amount_pence, document_type, line_text, vendor, reference, :batch_id
FROM (
{{ mapped_lines }}
) AS mapped;
