-- Restate history after the reference data changed: every fact line whose mapped codes differ
-- from the ones it carries takes the new codes. Set-wise, without re-reading any source.
-- Template variable: mapped_lines (mapped_lines.sql over fact_ledger_line).
UPDATE fact_ledger_line
SET objective_code = remapped.mapped_objective_code,
    subjective_code = remapped.mapped_subjective_code
FROM (
{{ mapped_lines }}
) AS remapped
WHERE fact_ledger_line.force_code = remapped.force_code
  AND fact_ledger_line.source_line_ref = remapped.source_line_ref
  AND (remapped.objective_code <> remapped.mapped_objective_code
       OR remapped.subjective_code <> remapped.mapped_subjective_code);
