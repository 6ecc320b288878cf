-- v_local_policing: is local policing preserved? Local-scope NRE (neighbourhood and response
-- policing, local investigation, front desks) against its FY 2014 baseline, by fiscal year and
-- force (each force, and ALL), read from v_savings_tracker so the figures are the savings tracker's own.
--
-- change_from_baseline  nre - baseline_nre: negative means local policing now costs less than in
--                       the baseline year (savings were found there), positive means it grew
CREATE VIEW v_local_policing AS
SELECT
    fiscal_year,
    force_code,
    baseline_nre,
    nre,
    {{ money("nre_pence - baseline_nre_pence") }}          AS change_from_baseline,
    nre_real,
    {{ money("nre_real_pence - baseline_nre_pence") }}     AS change_from_baseline_real,
    baseline_nre_pence,
    nre_pence,
    nre_pence - baseline_nre_pence                         AS change_from_baseline_pence,
    nre_real_pence,
    nre_real_pence - baseline_nre_pence                    AS change_from_baseline_real_pence
FROM v_savings_tracker
WHERE alliance_scope = 'local';
