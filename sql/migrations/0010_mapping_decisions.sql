-- Revision 0010 (issue #16): finance's mapping decisions, and programme cost centres effective-dated.
--
-- mapping_decision: each mapping of a local code (a cost centre to an objective for some fiscal
-- years, or an account to a subjective) that finance recorded with `alliance-finance mapping
-- import`, with who decided it, when, why and from which file row. The warehouse's maps are the
-- forces' reference files (reference/) overlaid with these decisions, applied in decision order
-- every time the maps are seeded (warehouse/mapping.py), so a re-seed never loses one. A decision
-- is never deleted, and never changed except to record its restatement (lines_moved,
-- amount_moved_pence, restated_at): a trigger refuses anything else on both dialects. A later
-- decision for the same code supersedes an earlier one from its own valid_from_fy (superseded_id).
CREATE TABLE mapping_decision (
{%- if dialect == 'postgresql' %}
    decision_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
{%- else %}
    decision_id         INTEGER PRIMARY KEY AUTOINCREMENT,
{%- endif %}
    force_code          text NOT NULL REFERENCES dim_force (force_code),
    code_type           text NOT NULL CHECK (code_type IN ('cost_centre', 'account')),
    local_code          text NOT NULL,
    local_name          text NOT NULL,
    -- an objective_code (cost centre) or subjective_code (account) of the common chart
    common_code         text NOT NULL,
    -- cost centres only (accounts map to one subjective for every year): bounds inclusive, NULL open
    valid_from_fy       smallint,
    valid_to_fy         smallint,
    -- the earlier decision this one replaces from its valid_from_fy, if any
    supersedes_id       bigint REFERENCES mapping_decision (decision_id),
    decided_by          text NOT NULL,
    decided_at          timestamp NOT NULL,
    reason              text NOT NULL,
    source_file         text NOT NULL,
    source_row          integer NOT NULL,
    -- filled in the same transaction, when the ledger was restated: the lines whose objective (a cost
    -- centre's decision) or subjective (an account's) it changed, and their net money
    lines_moved         bigint,
    amount_moved_pence  bigint,
    restated_at         timestamp,
    CHECK (code_type = 'cost_centre' OR (valid_from_fy IS NULL AND valid_to_fy IS NULL)),
    CHECK (valid_from_fy IS NULL OR valid_to_fy IS NULL OR valid_from_fy <= valid_to_fy)
);

CREATE INDEX ix_mapping_decision_code ON mapping_decision (force_code, code_type, local_code);
{%- if dialect == 'postgresql' %}

CREATE FUNCTION mapping_decision_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.decision_id, NEW.force_code, NEW.code_type, NEW.local_code, NEW.local_name,
            NEW.common_code, NEW.valid_from_fy, NEW.valid_to_fy, NEW.supersedes_id, NEW.decided_by,
            NEW.decided_at, NEW.reason, NEW.source_file, NEW.source_row)
        IS NOT DISTINCT FROM (OLD.decision_id, OLD.force_code, OLD.code_type, OLD.local_code, OLD.local_name,
            OLD.common_code, OLD.valid_from_fy, OLD.valid_to_fy, OLD.supersedes_id, OLD.decided_by,
            OLD.decided_at, OLD.reason, OLD.source_file, OLD.source_row) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'mapping_decision is kept as decided: record a new decision that supersedes it';
END
$$;

CREATE TRIGGER mapping_decision_kept_row
    BEFORE UPDATE OR DELETE ON mapping_decision
    FOR EACH ROW EXECUTE FUNCTION mapping_decision_kept();

CREATE FUNCTION mapping_decision_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'mapping_decision is kept as decided: record a new decision that supersedes it';
END
$$;

CREATE TRIGGER mapping_decision_kept_table
    BEFORE TRUNCATE ON mapping_decision
    FOR EACH STATEMENT EXECUTE FUNCTION mapping_decision_no_truncate();
{%- else %}

CREATE TRIGGER mapping_decision_no_update BEFORE UPDATE OF decision_id, force_code, code_type, local_code, local_name, common_code, valid_from_fy, valid_to_fy, supersedes_id, decided_by, decided_at, reason, source_file, source_row ON mapping_decision BEGIN SELECT RAISE(ABORT, 'mapping_decision is kept as decided: record a new decision that supersedes it'); END;
CREATE TRIGGER mapping_decision_no_delete BEFORE DELETE ON mapping_decision BEGIN SELECT RAISE(ABORT, 'mapping_decision is kept as decided: record a new decision that supersedes it'); END;
{%- endif %}

-- Programme cost centres effective-dated: a cost centre counts as programme cost in v_cost_share
-- only from valid_from_fy to valid_to_fy (bounds inclusive, NULL open). Existing rows stay open-ended.
ALTER TABLE programme_cost_centre ADD COLUMN valid_from_fy smallint;
ALTER TABLE programme_cost_centre ADD COLUMN valid_to_fy smallint;
