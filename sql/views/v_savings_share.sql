{#- The baseline year is fixed by CHART.md: FY 2014 (2014/15), the year before the alliance. -#}
{%- set baseline_fy = 2014 -%}
{#- key_share: the key held in parts per million, shown as an exact fraction with six places. -#}
-- v_savings_share: the alliance's savings shared by the key (CHART.md, "Sharing savings"), one row per
-- fiscal year and force, beside what each force realised and the target each carries.
--
-- key_basis, key_share  the sharing key of the year, exactly v_cost_share's (the default key, FY 2014
--                       NRE on alliance-scope functions, or finance's sharing_key), so programme costs
--                       and savings are shared by the same key
-- through_period, year_complete  how far the year's figures run for the alliance (v_fiscal_year_status's
--                       ALL row: the lesser of the forces'); every force's savings here run to it too
-- alliance_savings      the alliance's savings on alliance-scope functions over periods 1..through_period
--                       (FY 2014 NRE of the same periods less the year's; the whole year once complete)
-- fair_share            key x alliance_savings, to the penny by the largest-remainder rule (applied to
--                       the absolute total, then signed), so the fair shares add up to exactly
--                       alliance_savings
-- realised_savings      the force's own savings on alliance-scope functions, over the same periods
-- difference            realised_savings - fair_share: positive, the force found more than its share
--                       of the alliance's savings; the forces' differences sum to zero
-- target, target_basis  the force's cumulative target: its own row of savings_target ('set'), or, for
--                       the one force without one, the alliance's target less the other forces' targets
--                       ('implied': Avon and Somerset's is the alliance's £30m less Wiltshire's); NULL
--                       when neither can be said
--
-- A year without a valid key or without every force's baseline has NULL fair_share and difference
-- rather than a guess. For a complete year the figures are v_savings_tracker's whole-year ones.
CREATE VIEW v_savings_share AS
WITH tracker AS (
    -- v_savings_tracker's alliance-scope rows, read once for the alliance's rows and the forces' (two
    -- readings of the view planned and ran it twice)
    SELECT fiscal_year, force_code, through_period, year_complete, baseline_nre_pence, target_pence
    FROM v_savings_tracker
    WHERE alliance_scope = 'alliance'
),
alliance_year AS (
    -- the years v_savings_tracker has an ALL row for, how far their figures run, the alliance's target
    SELECT fiscal_year, through_period, year_complete, baseline_nre_pence, target_pence AS alliance_target_pence
    FROM tracker
    WHERE force_code = 'ALL'
),
own_savings AS (
    -- each force's savings on alliance-scope functions over periods 1..through_period of the
    -- alliance's year (its baseline over the same periods less its NRE): like with like, and the
    -- forces' add up to the alliance's
    SELECT a.fiscal_year, n.force_code,
           CAST(SUM(CASE WHEN n.fiscal_year = {{ baseline_fy }} AND n.period <= a.through_period THEN n.amount_pence ELSE 0 END)
                - SUM(CASE WHEN n.fiscal_year = a.fiscal_year AND n.period <= a.through_period THEN n.amount_pence ELSE 0 END)
                AS bigint) AS realised_pence
    FROM alliance_year AS a
    JOIN nre_summary AS n ON n.alliance_scope = 'alliance' AND n.fiscal_year IN (a.fiscal_year, {{ baseline_fy }})
    GROUP BY a.fiscal_year, n.force_code
),
alliance AS (
    SELECT a.fiscal_year, a.through_period, a.year_complete, a.alliance_target_pence,
           CASE WHEN a.baseline_nre_pence IS NULL THEN NULL
                ELSE (SELECT CAST(COALESCE(SUM(o.realised_pence), 0) AS bigint) FROM own_savings AS o
                      WHERE o.fiscal_year = a.fiscal_year) END AS alliance_savings_pence
    FROM alliance_year AS a
),
own AS (
    SELECT t.fiscal_year, t.force_code, COALESCE(o.realised_pence, 0) AS realised_pence, t.target_pence AS own_target_pence
    FROM tracker AS t
    LEFT JOIN own_savings AS o ON o.fiscal_year = t.fiscal_year AND o.force_code = t.force_code
    WHERE t.force_code <> 'ALL'
),
keyed AS (
    SELECT
        c.fiscal_year,
        c.force_code,
        c.key_basis,
        c.key_ppm,
        a.through_period,
        a.year_complete,
        a.alliance_savings_pence,
        a.alliance_target_pence,
        o.realised_pence,
        o.own_target_pence
    FROM v_cost_share AS c
    JOIN alliance AS a ON a.fiscal_year = c.fiscal_year
    LEFT JOIN own AS o ON o.fiscal_year = c.fiscal_year AND o.force_code = c.force_code
),
year_targets AS (
    SELECT fiscal_year,
           COUNT(*) - COUNT(own_target_pence)      AS forces_without_target,
           CAST(SUM(own_target_pence) AS bigint)   AS set_targets_pence
    FROM keyed
    GROUP BY fiscal_year
),
share_floor AS (
    SELECT k.*,
           abs(alliance_savings_pence) * key_ppm / 1000000 AS pence_floor,
           abs(alliance_savings_pence) * key_ppm % 1000000 AS pence_remainder
    FROM keyed AS k
),
share_ranked AS (
    SELECT f.*,
           abs(alliance_savings_pence) - SUM(pence_floor) OVER (PARTITION BY fiscal_year) AS pence_left,
           ROW_NUMBER() OVER (PARTITION BY fiscal_year ORDER BY pence_remainder DESC, force_code) AS remainder_rank
    FROM share_floor AS f
),
shared AS (
    SELECT r.*,
           CASE WHEN r.key_ppm IS NULL OR r.alliance_savings_pence IS NULL THEN NULL ELSE
               (CASE WHEN r.alliance_savings_pence < 0 THEN -1 ELSE 1 END)
               * (r.pence_floor + CASE WHEN r.remainder_rank <= r.pence_left THEN 1 ELSE 0 END)
           END AS fair_share_pence,
           CASE WHEN r.own_target_pence IS NOT NULL THEN r.own_target_pence
                WHEN t.forces_without_target = 1 AND r.alliance_target_pence IS NOT NULL
                THEN r.alliance_target_pence - COALESCE(t.set_targets_pence, 0)
           END AS target_pence,
           CASE WHEN r.own_target_pence IS NOT NULL THEN 'set'
                WHEN t.forces_without_target = 1 AND r.alliance_target_pence IS NOT NULL
                THEN 'implied: the alliance''s target less the other forces'''
           END AS target_basis
    FROM share_ranked AS r
    JOIN year_targets AS t ON t.fiscal_year = r.fiscal_year
)
SELECT
    fiscal_year,
    force_code,
    through_period,
    year_complete,
    key_basis,
    {{ fixed("key_ppm", 6, 7) }}                           AS key_share,
    {{ money("alliance_savings_pence") }}                  AS alliance_savings,
    {{ money("fair_share_pence") }}                        AS fair_share,
    {{ money("realised_pence") }}                          AS realised_savings,
    {{ money("realised_pence - fair_share_pence") }}       AS difference,
    {{ money("target_pence") }}                            AS target,
    target_basis,
    key_ppm,
    alliance_savings_pence,
    fair_share_pence,
    realised_pence                                         AS realised_savings_pence,
    realised_pence - fair_share_pence                      AS difference_pence,
    target_pence
FROM shared;
