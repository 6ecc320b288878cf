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
--
-- Written so that a query for one year (WHERE fiscal_year = X) takes about the same time however long
-- the history (issue #14): every step below is read once, so the planner inlines it and the year's
-- condition reaches v_savings_tracker and v_cost_share. The tracker is read once (keyed: each force's
-- row beside its year's ALL row, one GROUP BY over the pair), its year-to-date figures give the
-- savings, and the fair shares and targets are worked out in one step of window functions. Before,
-- the tracker, the forces' savings and the keyed rows were steps read twice, so PostgreSQL worked
-- them out for every year and then kept one year's rows (one year: 9.7 ms on five years, 32.4 ms on
-- twenty). The steps are few on purpose: with the shares in three steps as before, the whole view
-- took 2 to 3 ms longer to plan (perf: PostgreSQL copying and walking the inlined tracker and
-- v_cost_share for each step it merges into the next), so every row was slower than before at 1x.
CREATE VIEW v_savings_share AS
WITH keyed AS (
    -- the sharing key of each force (v_cost_share) in the years v_savings_tracker has an alliance-scope
    -- ALL row for, beside that row's figures and, when the force has an alliance-scope row of its own,
    -- its own
    SELECT
        c.fiscal_year,
        c.force_code,
        c.key_basis,
        c.key_ppm,
        MAX(CASE WHEN t.force_code = 'ALL' THEN t.through_period END)        AS through_period,
        MAX(CASE WHEN t.force_code = 'ALL' THEN t.year_complete END)         AS year_complete,
        MAX(CASE WHEN t.force_code = 'ALL' THEN t.target_pence END)          AS alliance_target_pence,
        -- the alliance's savings over periods 1..through_period: the ALL row's year to date (every
        -- force's lines; NULL unless every force has its baseline)
        MAX(CASE WHEN t.force_code = 'ALL' THEN t.ytd_savings_pence END)     AS alliance_savings_pence,
        COUNT(CASE WHEN t.force_code = c.force_code THEN 1 END)              AS own_rows,
        MAX(CASE WHEN t.force_code = c.force_code THEN t.target_pence END)   AS own_target_pence,
        MAX(CASE WHEN t.force_code = c.force_code THEN t.through_period END) AS own_through_period,
        -- the force's own savings to its own through_period (a force without a baseline: none)
        MAX(CASE WHEN t.force_code = c.force_code
                 THEN COALESCE(t.ytd_baseline_nre_pence, 0) - t.ytd_nre_pence END) AS own_ytd_savings_pence
    FROM v_cost_share AS c
    JOIN v_savings_tracker AS t
      ON t.fiscal_year = c.fiscal_year AND t.force_code IN (c.force_code, 'ALL') AND t.alliance_scope = 'alliance'
    GROUP BY c.fiscal_year, c.force_code, c.key_basis, c.key_ppm
    HAVING COUNT(CASE WHEN t.force_code = 'ALL' THEN 1 END) > 0
),
own AS (
    -- each force's savings on alliance-scope functions over periods 1..through_period of the
    -- alliance's year (its baseline over the same periods less its NRE): like with like, so the
    -- forces' add up to the alliance's. Its own row's year to date when its figures run to the same
    -- period as the alliance's; when they run further (the alliance runs to the lesser of the forces'),
    -- summed again from nre_summary to the alliance's period. DISTINCT (each row is one already) keeps
    -- the planner from copying the subquery into every expression that reads it below, while the
    -- year's condition still reaches it. And the fair share's floor and remainder: the alliance's
    -- savings x the key, in whole pence and what is left over
    SELECT DISTINCT k.*,
           CASE WHEN k.own_rows = 0 THEN NULL
                WHEN k.own_through_period = k.through_period THEN k.own_ytd_savings_pence
                ELSE COALESCE((SELECT CAST(SUM(CASE WHEN n.fiscal_year = {{ baseline_fy }} THEN n.amount_pence ELSE 0 END)
                                           - SUM(CASE WHEN n.fiscal_year = k.fiscal_year THEN n.amount_pence ELSE 0 END)
                                           AS bigint)
                               FROM nre_summary AS n
                               WHERE n.force_code = k.force_code
                                 AND n.fiscal_year IN (k.fiscal_year, {{ baseline_fy }})
                                 AND n.alliance_scope = 'alliance' AND n.period <= k.through_period), 0)
           END AS realised_pence,
           abs(k.alliance_savings_pence) * k.key_ppm / 1000000 AS pence_floor,
           abs(k.alliance_savings_pence) * k.key_ppm % 1000000 AS pence_remainder
    FROM keyed AS k
),
shared AS (
    -- the fair share: the floor, and a penny more for each of the largest remainders (ties: force code
    -- order) while pence are left over; the target: the force's own, or, for the year's one force
    -- without one, the alliance's less the others'
    SELECT o.*,
           CASE WHEN o.key_ppm IS NULL OR o.alliance_savings_pence IS NULL THEN NULL ELSE
               (CASE WHEN o.alliance_savings_pence < 0 THEN -1 ELSE 1 END)
               * (o.pence_floor
                  + CASE WHEN ROW_NUMBER() OVER (PARTITION BY o.fiscal_year ORDER BY o.pence_remainder DESC, o.force_code)
                              <= abs(o.alliance_savings_pence) - SUM(o.pence_floor) OVER year_rows
                         THEN 1 ELSE 0 END)
           END AS fair_share_pence,
           CASE WHEN o.own_target_pence IS NOT NULL THEN o.own_target_pence
                WHEN COUNT(*) OVER year_rows - COUNT(o.own_target_pence) OVER year_rows = 1
                     AND o.alliance_target_pence IS NOT NULL
                THEN o.alliance_target_pence - COALESCE(SUM(o.own_target_pence) OVER year_rows, 0)
           END AS target_pence,
           CASE WHEN o.own_target_pence IS NOT NULL THEN 'set'
                WHEN COUNT(*) OVER year_rows - COUNT(o.own_target_pence) OVER year_rows = 1
                     AND o.alliance_target_pence IS NOT NULL
                THEN 'implied: the alliance''s target less the other forces'''
           END AS target_basis
    FROM own AS o
    WINDOW year_rows AS (PARTITION BY o.fiscal_year)
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
