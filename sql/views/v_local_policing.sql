-- v_local_policing: is local policing preserved? Local-scope NRE (neighbourhood and response
-- policing, local investigation, front desks) against its FY 2014 baseline, by fiscal year and
-- force (each force, and ALL), read from v_savings_tracker so the figures are the savings tracker's own.
--
-- change_from_baseline  nre - baseline_nre: negative means local policing now costs less than in
--                       the baseline year (savings were found there), positive means it grew
-- In-year, like with like (v_savings_tracker's columns): through_period, year_complete, ytd_nre
-- against ytd_baseline_nre (the same periods of FY 2014) and their change, and the forecast for the
-- year (forecast_nre, forecast_change_from_baseline, forecast_method). For a complete year the
-- year-to-date figures are the whole year's.
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
    nre_real_pence - baseline_nre_pence                    AS change_from_baseline_real_pence,
    through_period,
    year_complete,
    ytd_baseline_nre,
    ytd_nre,
    {{ money("ytd_nre_pence - ytd_baseline_nre_pence") }}  AS ytd_change_from_baseline,
    forecast_nre,
    {{ money("forecast_nre_pence - baseline_nre_pence") }} AS forecast_change_from_baseline,
    forecast_method,
    ytd_baseline_nre_pence,
    ytd_nre_pence,
    ytd_nre_pence - ytd_baseline_nre_pence                 AS ytd_change_from_baseline_pence,
    forecast_nre_pence,
    forecast_nre_pence - baseline_nre_pence                AS forecast_change_from_baseline_pence
FROM v_savings_tracker
WHERE alliance_scope = 'local';
