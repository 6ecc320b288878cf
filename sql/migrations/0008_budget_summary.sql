-- Revision 0008: budgets summed at the grains the in-year views read (CHART.md "In-year tracking").
--
-- v_budget_profile works out every budget's monthly amounts (the profile finance gave, or the
-- baseline's own shape, to the penny); reading it inside v_savings_tracker and v_budget_vs_outturn
-- cost them tens of milliseconds and most of their planning. This table holds its rows summed by
-- force, year, function, scope and period, refreshed whenever what it is computed from changed:
-- the budgets, the reference data, or the baseline year's ledger (marts.budgets.refresh_budget_summary,
-- called as the runner prepares the warehouse and as a pass ends; the digest of its inputs is kept
-- in warehouse_meta so that an unchanged night does nothing).
CREATE TABLE budget_summary (
    force_code      text NOT NULL,
    fiscal_year     smallint NOT NULL,
    function_code   text NOT NULL,
    alliance_scope  text NOT NULL,
    period          smallint NOT NULL CHECK (period BETWEEN 1 AND 12),
    amount_pence    bigint NOT NULL,
    PRIMARY KEY (force_code, fiscal_year, function_code, alliance_scope, period)
);
