-- Revision 0011: the lines in suspense summarised for v_unmapped_codes and v_unmapped_code_years, which
-- read fact_ledger_line's suspense lines (through its two partial indexes) on every query: 18 ms on five
-- years at scale 10, 74 ms at four times that history. Kept with the ledger like revision 0005's
-- summaries (warehouse/summaries.py: every batch, supersession, restatement and quarantine in its
-- transaction; sql/summaries/unmapped_summary.sql is its GROUP BY), by posting date so that a code's
-- first and last posting date stay exact when lines are taken away.
CREATE TABLE unmapped_summary (
    force_code    text NOT NULL,
    code_type     text NOT NULL CHECK (code_type IN ('account', 'cost_centre')),
    local_code    text NOT NULL,
    fiscal_year   smallint NOT NULL,
    posting_date  date NOT NULL,
    amount_pence  bigint NOT NULL,
    line_count    bigint NOT NULL,
    PRIMARY KEY (force_code, code_type, local_code, fiscal_year, posting_date)
);
