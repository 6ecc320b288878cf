-- Revision 0004: which alliance force a partner flow is with.
--
-- A force's ledger records payments to (PART_PAY) and income from (INC_PART) another alliance force
-- on local accounts that dags/forces.yaml names per force (partner_accounts: account -> partner).
-- With more than two forces the subjective alone no longer says who the other side is: this map
-- does, and v_intra_alliance_reconciliation and v_cost_share read it. Filled from the configuration
-- at every run (alliance_finance.warehouse.forces), never by a revision.
CREATE TABLE map_partner_account (
    force_code     text NOT NULL REFERENCES dim_force (force_code),
    local_account  text NOT NULL,
    partner_force  text NOT NULL REFERENCES dim_force (force_code),
    PRIMARY KEY (force_code, local_account),
    CHECK (partner_force <> force_code)
);
