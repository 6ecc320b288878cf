-- Restate history after the mapping changed (reference data, or finance's mapping decisions):
-- every fact line whose mapped codes differ from the ones it carries takes the new codes.
-- Set-wise, without re-reading any source, in three statements:
--   1. the lines that change, with their old and new codes, into a temporary table;
--   2. their old codes kept in fact_line_code_history, valid until now (history is never lost);
--   3. the fact lines updated from the temporary table.
-- Template variables: mapped_lines (mapped_lines.sql over fact_ledger_line, carrying force_code,
-- source_line_ref, batch_id, objective_code, subjective_code); now and version are bound parameters.
CREATE TEMPORARY TABLE restated_line AS
SELECT remapped.force_code,
       remapped.source_line_ref,
       remapped.batch_id,
       remapped.objective_code,
       remapped.subjective_code,
       remapped.mapped_objective_code,
       remapped.mapped_subjective_code
FROM (
{{ mapped_lines }}
) AS remapped
WHERE remapped.objective_code <> remapped.mapped_objective_code
   OR remapped.subjective_code <> remapped.mapped_subjective_code;

INSERT INTO fact_line_code_history
    (force_code, source_line_ref, batch_id, objective_code, subjective_code, valid_to, reference_version)
SELECT force_code, source_line_ref, batch_id, objective_code, subjective_code, :now, :version
FROM restated_line;

UPDATE fact_ledger_line
SET objective_code = restated_line.mapped_objective_code,
    subjective_code = restated_line.mapped_subjective_code
FROM restated_line
WHERE fact_ledger_line.force_code = restated_line.force_code
  AND fact_ledger_line.source_line_ref = restated_line.source_line_ref;
