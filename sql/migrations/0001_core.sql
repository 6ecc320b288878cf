-- Revision 0001: the core of the alliance finance warehouse.
--
-- One text for PostgreSQL (schema "alliance", set as search_path) and the embedded SQLite file,
-- rendered by alliance_finance.warehouse.sqlfiles:
--   money(expr)   exact pounds from integer pence: numeric(15,2), or exact decimal text on SQLite
--   money_type    the type of such a column
-- Money is stored once, as integer pence (*_pence bigint); the amount columns are generated from
-- it, so the two can never disagree. Dates are ISO text on SQLite; timestamps are UTC.
-- Views are not here: they live in sql/views/ and are recreated after every upgrade.

-- Small facts about the warehouse itself: the reference data digest it is mapped with, the digest
-- of the views it carries.
CREATE TABLE warehouse_meta (
    meta_key    text PRIMARY KEY,
    meta_value  text NOT NULL,
    updated_at  timestamp NOT NULL
);

-- ---------------------------------------------------------------------------------------------
-- Dimensions and maps: seeded from reference/ whenever its digest changes (never by hand).
-- ---------------------------------------------------------------------------------------------

-- The forces: filled from dags/forces.yaml at every run (alliance_finance.warehouse.forces), never
-- by a revision, so a force joins by configuration alone.
CREATE TABLE dim_force (
    force_code  text PRIMARY KEY,
    force_name  text NOT NULL
);

CREATE TABLE dim_objective (
    objective_code  text PRIMARY KEY,
    objective_name  text NOT NULL,
    function_code   text NOT NULL,
    function_name   text NOT NULL,
    -- alliance, local, central, governance, none (balance sheet); unmapped for the suspense row
    alliance_scope  text NOT NULL
);

-- Lines whose cost centre the reference data does not know yet wait here, in suspense.
INSERT INTO dim_objective (objective_code, objective_name, function_code, function_name, alliance_scope)
VALUES ('UNMAPPED', 'Unmapped cost centre (suspense)', 'UNMAPPED', 'Unmapped (suspense)', 'unmapped');

CREATE TABLE dim_subjective (
    subjective_code  text PRIMARY KEY,
    subjective_name  text NOT NULL,
    sercop_group     text NOT NULL,
    kind             text NOT NULL
        CHECK (kind IN ('expenditure', 'income', 'partner', 'balance_sheet', 'suspense'))
);

INSERT INTO dim_subjective (subjective_code, subjective_name, sercop_group, kind)
VALUES ('UNMAPPED', 'Unmapped account (suspense)', 'Suspense', 'suspense');

-- FY 2010 to FY 2035, periods 1-16 (13-16: year-end adjustments, dated to March); seeded by the
-- revision from alliance_finance.fiscal.
CREATE TABLE dim_fiscal_period (
    fiscal_year  smallint NOT NULL,
    period       smallint NOT NULL CHECK (period BETWEEN 1 AND 16),
    label        text NOT NULL,
    start_date   date NOT NULL,
    end_date     date NOT NULL,
    PRIMARY KEY (fiscal_year, period)
);

-- A local cost centre's objective code, effective-dated by fiscal year (both bounds inclusive,
-- NULL open). Seeding refuses overlapping ranges, so a line matches at most one row.
CREATE TABLE map_cost_centre (
    force_code        text NOT NULL REFERENCES dim_force (force_code),
    cost_centre       text NOT NULL,
    cost_centre_name  text NOT NULL,
    objective_code    text NOT NULL REFERENCES dim_objective (objective_code),
    valid_from_fy     smallint,
    valid_to_fy       smallint
);

CREATE UNIQUE INDEX ux_map_cost_centre ON map_cost_centre (force_code, cost_centre, valid_from_fy);

CREATE TABLE map_local_account (
    force_code       text NOT NULL REFERENCES dim_force (force_code),
    local_account    text NOT NULL,
    account_name     text NOT NULL,
    subjective_code  text NOT NULL REFERENCES dim_subjective (subjective_code),
    PRIMARY KEY (force_code, local_account)
);

-- ---------------------------------------------------------------------------------------------
-- Loading: one etl_batch row per delivery (ASC file) or extract (WP), whatever its fate.
-- ---------------------------------------------------------------------------------------------

CREATE TABLE etl_batch (
{%- if dialect == 'postgresql' %}
    batch_id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
{%- else %}
    batch_id            INTEGER PRIMARY KEY AUTOINCREMENT,
{%- endif %}
    force_code          text NOT NULL REFERENCES dim_force (force_code),
    -- the data file's name (ASC) or the extract's description (WP)
    source_ref          text NOT NULL,
    -- SHA-256 of the delivery's bytes (ASC) or of the extract's content (WP)
    digest              text,
    -- ASC: the business date a delivery covers and its sequence; a higher sequence supersedes
    business_date       date,
    sequence            integer,
    status              text NOT NULL CHECK (status IN ('loaded', 'rejected', 'superseded')),
    rows_read           bigint NOT NULL,
    rows_loaded         bigint NOT NULL DEFAULT 0,
    rows_quarantined    bigint NOT NULL DEFAULT 0,
    -- the source's own totals over every line read
    total_debit_pence   bigint NOT NULL DEFAULT 0,
    total_credit_pence  bigint NOT NULL DEFAULT 0,
    total_debit         {{ money_type }} GENERATED ALWAYS AS ({{ money('total_debit_pence') }}) STORED,
    total_credit        {{ money_type }} GENERATED ALWAYS AS ({{ money('total_credit_pence') }}) STORED,
    -- the span of posting dates loaded, and (WP) the latest posted_at the extract saw: freshness
    first_posting_date  date,
    last_posting_date   date,
    posted_through      timestamp,
    -- why a batch was rejected: names file, line or journal, what was expected and what was found
    error               text,
    superseded_by       bigint REFERENCES etl_batch (batch_id),
    started_at          timestamp NOT NULL,
    finished_at         timestamp
);

CREATE INDEX ix_etl_batch_source ON etl_batch (force_code, source_ref);
CREATE INDEX ix_etl_batch_business_date ON etl_batch (force_code, business_date, sequence);
-- A delivery file is processed once: even two racing runs cannot both load it.
CREATE UNIQUE INDEX ux_etl_batch_delivery ON etl_batch (force_code, source_ref)
    WHERE business_date IS NOT NULL AND status <> 'rejected';

-- One row per source ledger line loaded; amount = debit minus credit (spending positive).
-- No foreign keys: a per-row check would cost more than the insert itself (measured: 21 us per
-- line for force_code alone), and every code comes from the mapping query, which only produces
-- codes of the map tables, BS00 or UNMAPPED; tests check the relationships instead.
CREATE TABLE fact_ledger_line (
    force_code          text NOT NULL,
    fiscal_year         smallint NOT NULL,
    period              smallint NOT NULL CHECK (period BETWEEN 1 AND 16),
    posting_date        date NOT NULL,
    -- ASC "<company>/<fiscal year>/<document>/<line item>", WP "<journal_id>/<line_no>"
    source_line_ref     text NOT NULL,
    document_ref        text NOT NULL,
    source_line_number  bigint NOT NULL,
    cost_centre         text,
    local_account       text NOT NULL,
    objective_code      text NOT NULL,
    subjective_code     text NOT NULL,
    amount_pence        bigint NOT NULL,
    amount              {{ money_type }} GENERATED ALWAYS AS ({{ money('amount_pence') }}) STORED,
    document_type       text NOT NULL,
    line_text           text,
    vendor              text,
    reference           text,
    batch_id            bigint NOT NULL,
    PRIMARY KEY (force_code, source_line_ref)
);

CREATE INDEX ix_fact_period ON fact_ledger_line (force_code, fiscal_year, period);
-- superseding a delivery deletes its lines by batch: an indexed delete, never a scan
CREATE INDEX ix_fact_batch ON fact_ledger_line (batch_id);
-- v_unmapped_codes reads only the (few) lines in suspense
CREATE INDEX ix_fact_unmapped_account ON fact_ledger_line (force_code, local_account)
    WHERE subjective_code = 'UNMAPPED';
CREATE INDEX ix_fact_unmapped_cost_centre ON fact_ledger_line (force_code, cost_centre)
    WHERE objective_code = 'UNMAPPED';

-- Lines kept out of the fact table, with the original and the reason: nothing read is lost.
CREATE TABLE quarantine_line (
{%- if dialect == 'postgresql' %}
    quarantine_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
{%- else %}
    quarantine_id       INTEGER PRIMARY KEY AUTOINCREMENT,
{%- endif %}
    batch_id            bigint NOT NULL REFERENCES etl_batch (batch_id),
    force_code          text NOT NULL,
    source_line_ref     text,
    document_ref        text,
    source_line_number  bigint,
    reason              text NOT NULL,
    -- the CSV record text, or the journal line's columns as JSON
    original            text NOT NULL
);

CREATE INDEX ix_quarantine_batch ON quarantine_line (batch_id);

-- The source documents (WP journals) a batch covered, loaded or quarantined, written in the same
-- transaction as its lines: the primary key makes loading a journal twice impossible, and the
-- next extract skips them.
CREATE TABLE source_document_loaded (
    force_code    text NOT NULL REFERENCES dim_force (force_code),
    document_ref  text NOT NULL,
    batch_id      bigint NOT NULL REFERENCES etl_batch (batch_id),
    PRIMARY KEY (force_code, document_ref)
);

CREATE INDEX ix_source_document_batch ON source_document_loaded (batch_id);
