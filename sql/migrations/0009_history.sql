-- Revision 0009: history kept (issue #16). The warehouse keeps every version of what it has held,
-- each with the time it was current, so any moment can be rebuilt (warehouse/history.py,
-- warehouse/as_of.py) and every board pack reproduced.
--
-- * Lines a re-delivery superseded are moved here, not deleted: the same columns as the fact table,
--   and when and by which batch they stopped being current. A line was current from its batch's
--   etl_batch.finished_at until superseded_at.
CREATE TABLE fact_ledger_line_superseded (
    force_code          text NOT NULL,
    fiscal_year         smallint NOT NULL,
    period              smallint NOT NULL,
    posting_date        date NOT NULL,
    source_line_ref     text NOT NULL,
    document_ref        text NOT NULL,
    source_line_number  bigint NOT NULL,
    cost_centre         text,
    local_account       text NOT NULL,
    objective_code      text NOT NULL,
    subjective_code     text NOT NULL,
    amount_pence        bigint NOT NULL,
    document_type       text NOT NULL,
    line_text           text,
    vendor              text,
    reference           text,
    batch_id            bigint NOT NULL REFERENCES etl_batch (batch_id),
    superseded_at       timestamp NOT NULL,
    superseded_by       bigint NOT NULL REFERENCES etl_batch (batch_id),
    PRIMARY KEY (batch_id, force_code, source_line_ref)
);
CREATE INDEX ix_fact_superseded_at ON fact_ledger_line_superseded (superseded_at);

-- * Codes a restatement replaced: a line's objective and subjective codes before each restatement
--   (the reference data changed, or finance recorded a mapping decision), valid until valid_to.
--   A line's codes at a moment T are those of its earliest row here with valid_to > T, else the
--   codes it carries now. reference_version names the reference version that restated it.
CREATE TABLE fact_line_code_history (
    force_code          text NOT NULL,
    source_line_ref     text NOT NULL,
    batch_id            bigint NOT NULL,
    objective_code      text NOT NULL,
    subjective_code     text NOT NULL,
    valid_to            timestamp NOT NULL,
    reference_version   bigint,
    PRIMARY KEY (force_code, source_line_ref, batch_id, valid_to)
);
CREATE INDEX ix_code_history_valid_to ON fact_line_code_history (valid_to);

-- * Every version of the data the warehouse holds as a whole and replaces: the reference data (the
--   dimensions and maps), the forces, and finance's own data (targets, sharing key, deflators,
--   programme cost centres, budgets). One row per version of a dataset: current from valid_from
--   until valid_to (NULL: current now), who recorded it and why; its rows, every table of the
--   dataset, are kept in data_version_row as JSON, whatever columns the tables have then.
CREATE TABLE data_version (
{%- if dialect == 'postgresql' %}
    version_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
{%- else %}
    version_id    INTEGER PRIMARY KEY AUTOINCREMENT,
{%- endif %}
    dataset       text NOT NULL,
    digest        text NOT NULL,
    valid_from    timestamp NOT NULL,
    valid_to      timestamp,
    recorded_by   text NOT NULL,
    reason        text NOT NULL,
    row_count     bigint NOT NULL
);
CREATE INDEX ix_data_version_dataset ON data_version (dataset, valid_from);
-- at most one current version per dataset
CREATE UNIQUE INDEX ux_data_version_current ON data_version (dataset) WHERE valid_to IS NULL;

CREATE TABLE data_version_row (
    version_id    bigint NOT NULL REFERENCES data_version (version_id),
    table_name    text NOT NULL,
    row_no        bigint NOT NULL,
    row_data      text NOT NULL,
    PRIMARY KEY (version_id, table_name, row_no)
);

-- * Board packs: each report run records what it read and what it showed, so the pack can be
--   reproduced (report --pack) and compared with today (changes --since-pack).
CREATE TABLE board_pack (
{%- if dialect == 'postgresql' %}
    pack_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
{%- else %}
    pack_id       INTEGER PRIMARY KEY AUTOINCREMENT,
{%- endif %}
    -- the moment the figures are as at (the report's snapshot, or its --as-of)
    as_at         timestamp NOT NULL,
    created_at    timestamp NOT NULL,
    created_by    text NOT NULL,
    -- JSON: each force's last batch read {"ASC": 123, ...}
    high_water    text NOT NULL,
    -- JSON: the data version of each dataset read {"reference": 3, ...}, and their digests
    data_versions text NOT NULL,
    reference_digest text NOT NULL,
    finance_digest   text NOT NULL,
    -- SHA-256 over every figure (figures_json), the number the pack is checked by
    figures_digest   text NOT NULL,
    figures_json     text NOT NULL
);
