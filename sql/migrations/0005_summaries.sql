-- Revision 0005: the ledger summarised at the grains the finance views read, kept with the ledger.
--
-- Every finance view used to aggregate fact_ledger_line on every query, so its time grew with every
-- line of history. These tables hold the same sums, maintained in the transaction that changes the
-- lines (warehouse/summaries.py): a batch's load adds its lines, a supersession subtracts the
-- superseded delivery's lines before deleting them, a restatement (reference data changed) rebuilds
-- them from the lines. The views read these instead of the lines. What each holds is the SELECT in
-- sql/summaries/<table>.sql; tests prove that they equal the line-level aggregation after every kind
-- of change. A key column that may be NULL in the lines (cost_centre) is '' here, so it can be part
-- of the primary key.
--
-- The rows are filled from the lines already loaded by the revision itself (an upgrade in place).

-- every line: how many and their net amount, by force and fiscal year (which years each force has)
CREATE TABLE force_year_summary (
    force_code    text NOT NULL,
    fiscal_year   smallint NOT NULL,
    amount_pence  bigint NOT NULL,
    line_count    bigint NOT NULL,
    PRIMARY KEY (force_code, fiscal_year)
);

-- every line, by force, year, period, objective and subjective (the common chart's grain)
CREATE TABLE ledger_summary (
    force_code       text NOT NULL,
    fiscal_year      smallint NOT NULL,
    period           smallint NOT NULL,
    objective_code   text NOT NULL,
    subjective_code  text NOT NULL,
    amount_pence     bigint NOT NULL,
    -- the sum of the lines' absolute amounts (debits plus credits): suspense's gross
    gross_pence      bigint NOT NULL,
    line_count       bigint NOT NULL,
    PRIMARY KEY (force_code, fiscal_year, period, objective_code, subjective_code)
);
CREATE INDEX ix_ledger_summary_year ON ledger_summary (fiscal_year, period);
CREATE INDEX ix_ledger_summary_suspense ON ledger_summary (force_code)
    WHERE objective_code = 'UNMAPPED' OR subjective_code = 'UNMAPPED';

-- net revenue expenditure (v_nre_line's lines) by force, year, period and the common chart's function
CREATE TABLE nre_summary (
    force_code      text NOT NULL,
    fiscal_year     smallint NOT NULL,
    period          smallint NOT NULL,
    function_code   text NOT NULL,
    alliance_scope  text NOT NULL,
    amount_pence    bigint NOT NULL,
    line_count      bigint NOT NULL,
    PRIMARY KEY (force_code, fiscal_year, period, function_code, alliance_scope)
);

-- net revenue expenditure by force, year, period and local cost centre (programme costs)
CREATE TABLE cost_centre_summary (
    force_code    text NOT NULL,
    fiscal_year   smallint NOT NULL,
    period        smallint NOT NULL,
    cost_centre   text NOT NULL,
    amount_pence  bigint NOT NULL,
    line_count    bigint NOT NULL,
    PRIMARY KEY (force_code, cost_centre, fiscal_year, period)
);

-- money between alliance forces (PART_PAY, INC_PART) by force, year, period, cost centre and account
CREATE TABLE partner_flow_summary (
    force_code       text NOT NULL,
    fiscal_year      smallint NOT NULL,
    period           smallint NOT NULL,
    cost_centre      text NOT NULL,
    local_account    text NOT NULL,
    subjective_code  text NOT NULL,
    amount_pence     bigint NOT NULL,
    line_count       bigint NOT NULL,
    PRIMARY KEY (force_code, fiscal_year, period, cost_centre, local_account, subjective_code)
);
