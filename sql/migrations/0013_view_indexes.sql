-- Revision 0013: indexes that let one year of the in-year views read one year (issue #14).
--
-- nre_summary by force and scope: v_savings_tracker gives a force's year a row for every alliance scope
-- the force has NRE in, in any year. It looks each force and possible scope up here (the first scope
-- at or after it) instead of reading every year's summary rows: 0.1 ms for two forces, where reading
-- them took 0.5 ms on five years at scale 10 and 1.8 ms on twenty.
CREATE INDEX ix_nre_summary_scope ON nre_summary (force_code, alliance_scope);

-- nre_summary and budget_summary by fiscal year: one year of the tracker for one scope
-- (v_local_policing) read every year's rows of both (their keys start with the force).
CREATE INDEX ix_nre_summary_year ON nre_summary (fiscal_year);
CREATE INDEX ix_budget_summary_year ON budget_summary (fiscal_year);

-- The latest posting date of each force's loaded batches (v_period_status: a period with no recorded
-- close counts as closed once the ledger runs ten days past it), read from the end of this index
-- rather than from every batch the force ever loaded. A batch's status changes when it is superseded:
-- the index follows.
CREATE INDEX ix_etl_batch_latest ON etl_batch (force_code, last_posting_date) WHERE status = 'loaded';

-- partner_flow_summary by fiscal year: one year of v_intra_alliance_reconciliation read every year's
-- partner flows (the key starts with the force).
CREATE INDEX ix_partner_flow_summary_year ON partner_flow_summary (fiscal_year);
