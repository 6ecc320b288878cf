-- v_mapping_decisions: every mapping decision finance recorded (`alliance-finance mapping import`),
-- one row each, in the order decided: the local code and the common code it was mapped to for which
-- fiscal years (NULL: open), who decided it, when, why and from which file row, the decision it
-- superseded, whether a later decision superseded it (superseded_by: the first later decision for
-- the same code whose supersedes_id names it), and what it moved when the ledger was restated: the
-- lines whose objective (a cost centre's decision) or subjective (an account's) it changed, and
-- their net money.
CREATE VIEW v_mapping_decisions AS
SELECT d.decision_id,
       d.force_code,
       d.code_type,
       d.local_code,
       d.local_name,
       d.common_code,
       d.valid_from_fy,
       d.valid_to_fy,
       d.supersedes_id,
       (SELECT MIN(l.decision_id) FROM mapping_decision AS l WHERE l.supersedes_id = d.decision_id) AS superseded_by,
       d.decided_by,
       d.decided_at,
       d.reason,
       d.source_file,
       d.source_row,
       d.restated_at,
       d.lines_moved,
       d.amount_moved_pence,
       {{ money('d.amount_moved_pence') }} AS amount_moved
FROM mapping_decision AS d;
