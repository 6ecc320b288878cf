{#- The default key's basis year is the savings baseline of CHART.md: FY 2014 (2014/15). -#}
{%- set baseline_fy = 2014 -%}
{#- key_share: the key held in parts per million (0 to 1,000,000), shown as an exact fraction with six places. -#}
-- v_cost_share: the alliance's sharing statement (CHART.md, "Fair sharing"), one row per fiscal
-- year and force, with its working.
--
-- key_basis, key_weight  what the key is computed from. Default: the force's FY {{ baseline_fy }} NRE on
--                        alliance-scope functions (partner flows excluded), from the warehouse.
--                        Table sharing_key overrides it from its valid_from_fy on (headcount, a
--                        funding formula...): the force's weight over the sum of the weights.
-- key_share              the key, a fraction with six decimal places (key_ppm parts per million).
--                        Each force's weight/total is rounded down to the ppm and the ppm left over
--                        go one each to the largest remainders (ties: force code order), so the
--                        keys add up to exactly 1.
-- programme_cost_total   the programme costs every force incurred in the year: revenue lines on
--                        the cost centres of table programme_cost_centre in the years each is a
--                        programme cost centre (valid_from_fy to valid_to_fy, bounds inclusive, NULL
--                        open), partner flows excluded
-- incurred               this force's part of that total
-- fair_share             key x programme_cost_total, to the penny by the same largest-remainder
--                        rule (applied to the absolute total, then signed), so the fair shares
--                        add up to exactly programme_cost_total
-- paid_to_partner        this force's PART_PAY lines on its programme cost centres, on accounts that
--                        name the partner paid (map_partner_account, from dags/forces.yaml): what it
--                        already paid the others towards the programme. Payments between the forces for
--                        other shared services (a hosted team, a recharge) are coded elsewhere and
--                        are not settlements of programme costs; all of them are in
--                        v_intra_alliance_reconciliation.
-- paid_by_partner        the same from the other forces' ledgers, paid to this force: what they
--                        already paid it (the payer's books are the measure). A payment whose
--                        partner is not known counts for neither side (v_intra_alliance_reconciliation
--                        shows it as 'counterparty unknown'), so the balances still sum to zero.
-- net_cost               incurred + paid_to_partner - paid_by_partner: what the force has borne
-- balance                fair_share - net_cost: positive, the force owes the others this much;
--                        negative, it is owed. The forces' balances sum to zero.
-- A year without a valid key (no baseline ledger, a negative or zero weight total) has NULL key,
-- fair_share and balance rather than a guess.
CREATE VIEW v_cost_share AS
WITH ledger_year AS (
    SELECT DISTINCT fiscal_year FROM force_year_summary
),
baseline_alliance_nre AS (
    SELECT force_code, CAST(SUM(amount_pence) AS bigint) AS nre_pence
    FROM nre_summary
    WHERE fiscal_year = {{ baseline_fy }} AND alliance_scope = 'alliance'
    GROUP BY force_code
),
key_override_from AS (
    -- the sharing_key rows in force in a year: those of the latest valid_from_fy not after it
    SELECT y.fiscal_year, MAX(k.valid_from_fy) AS valid_from_fy
    FROM ledger_year AS y
    JOIN sharing_key AS k ON k.valid_from_fy <= y.fiscal_year
    GROUP BY y.fiscal_year
),
key_weight AS (
    -- weights in hundredths: the default's are pence of baseline NRE, an override's its weight x 100
    SELECT
        y.fiscal_year,
        d.force_code,
        CASE WHEN o.valid_from_fy IS NULL THEN b.nre_pence ELSE COALESCE(k.weight_hundredths, 0) END AS weight,
        CASE WHEN o.valid_from_fy IS NULL
             THEN 'FY {{ baseline_fy }}/{{ (baseline_fy + 1) % 100 }} net revenue expenditure on alliance-scope functions (default key)'
             ELSE COALESCE(k.basis, 'not named in sharing_key: weight 0') END AS key_basis
    FROM ledger_year AS y
    CROSS JOIN dim_force AS d
    LEFT JOIN key_override_from AS o ON o.fiscal_year = y.fiscal_year
    LEFT JOIN sharing_key AS k ON k.valid_from_fy = o.valid_from_fy AND k.force_code = d.force_code
    LEFT JOIN baseline_alliance_nre AS b ON b.force_code = d.force_code
),
key_total AS (
    SELECT fiscal_year,
           CAST(SUM(weight) AS bigint) AS total_weight,
           COUNT(weight)               AS weights_known,
           COUNT(*)                    AS forces,
           MIN(weight)                 AS least_weight
    FROM key_weight
    GROUP BY fiscal_year
),
key_floor AS (
    SELECT w.fiscal_year, w.force_code,
           w.weight * 1000000 / t.total_weight AS ppm_floor,
           w.weight * 1000000 % t.total_weight AS ppm_remainder
    FROM key_weight AS w
    JOIN key_total AS t ON t.fiscal_year = w.fiscal_year
    WHERE t.weights_known = t.forces AND t.least_weight >= 0 AND t.total_weight > 0
),
key_ranked AS (
    SELECT fiscal_year, force_code, ppm_floor,
           1000000 - SUM(ppm_floor) OVER (PARTITION BY fiscal_year) AS ppm_left,
           ROW_NUMBER() OVER (PARTITION BY fiscal_year ORDER BY ppm_remainder DESC, force_code) AS remainder_rank
    FROM key_floor
),
sharing_key_in_force AS (
    SELECT fiscal_year, force_code,
           ppm_floor + CASE WHEN remainder_rank <= ppm_left THEN 1 ELSE 0 END AS key_ppm
    FROM key_ranked
),
incurred AS (
    -- revenue lines on the programme cost centres, partner flows excluded (v_nre_line's rule),
    -- summed by cost_centre_summary as they were loaded
    SELECT n.fiscal_year, n.force_code, CAST(SUM(n.amount_pence) AS bigint) AS incurred_pence
    FROM cost_centre_summary AS n
    JOIN programme_cost_centre AS p ON p.force_code = n.force_code AND p.cost_centre = n.cost_centre
     AND (p.valid_from_fy IS NULL OR p.valid_from_fy <= n.fiscal_year)
     AND (p.valid_to_fy IS NULL OR n.fiscal_year <= p.valid_to_fy)
    GROUP BY n.fiscal_year, n.force_code
),
programme_total AS (
    SELECT fiscal_year, CAST(SUM(incurred_pence) AS bigint) AS total_pence
    FROM incurred
    GROUP BY fiscal_year
),
paid AS (
    -- PART_PAY on the payer's programme cost centres to a known partner (map_partner_account): what
    -- it paid that partner towards the programme
    SELECT f.fiscal_year, f.force_code, m.partner_force, CAST(SUM(f.amount_pence) AS bigint) AS paid_pence
    FROM partner_flow_summary AS f
    JOIN programme_cost_centre AS p ON p.force_code = f.force_code AND p.cost_centre = f.cost_centre
     AND (p.valid_from_fy IS NULL OR p.valid_from_fy <= f.fiscal_year)
     AND (p.valid_to_fy IS NULL OR f.fiscal_year <= p.valid_to_fy)
    JOIN map_partner_account AS m ON m.force_code = f.force_code AND m.local_account = f.local_account
    WHERE f.subjective_code = 'PART_PAY'
    GROUP BY f.fiscal_year, f.force_code, m.partner_force
),
statement AS (
    SELECT
        y.fiscal_year,
        d.force_code,
        w.key_basis,
        w.weight                              AS key_weight_hundredths,
        k.key_ppm,
        COALESCE(t.total_pence, 0)            AS programme_cost_total_pence,
        COALESCE(i.incurred_pence, 0)         AS incurred_pence,
        COALESCE((SELECT CAST(SUM(p1.paid_pence) AS bigint) FROM paid AS p1
                  WHERE p1.fiscal_year = y.fiscal_year AND p1.force_code = d.force_code), 0)
                                              AS paid_to_partner_pence,
        COALESCE((SELECT CAST(SUM(p2.paid_pence) AS bigint) FROM paid AS p2
                  WHERE p2.fiscal_year = y.fiscal_year AND p2.partner_force = d.force_code), 0)
                                              AS paid_by_partner_pence
    FROM ledger_year AS y
    CROSS JOIN dim_force AS d
    JOIN key_weight AS w ON w.fiscal_year = y.fiscal_year AND w.force_code = d.force_code
    LEFT JOIN sharing_key_in_force AS k ON k.fiscal_year = y.fiscal_year AND k.force_code = d.force_code
    LEFT JOIN programme_total AS t ON t.fiscal_year = y.fiscal_year
    LEFT JOIN incurred AS i ON i.fiscal_year = y.fiscal_year AND i.force_code = d.force_code
),
share_floor AS (
    SELECT s.*,
           abs(programme_cost_total_pence) * key_ppm / 1000000 AS pence_floor,
           abs(programme_cost_total_pence) * key_ppm % 1000000 AS pence_remainder
    FROM statement AS s
),
share_ranked AS (
    SELECT f.*,
           abs(programme_cost_total_pence) - SUM(pence_floor) OVER (PARTITION BY fiscal_year) AS pence_left,
           ROW_NUMBER() OVER (PARTITION BY fiscal_year ORDER BY pence_remainder DESC, force_code) AS remainder_rank
    FROM share_floor AS f
),
shared AS (
    SELECT r.*,
           CASE WHEN key_ppm IS NULL THEN NULL ELSE
               (CASE WHEN programme_cost_total_pence < 0 THEN -1 ELSE 1 END)
               * (pence_floor + CASE WHEN remainder_rank <= pence_left THEN 1 ELSE 0 END)
           END AS fair_share_pence,
           incurred_pence + paid_to_partner_pence - paid_by_partner_pence AS net_cost_pence
    FROM share_ranked AS r
)
SELECT
    fiscal_year,
    force_code,
    key_basis,
    {{ money("key_weight_hundredths") }}                   AS key_weight,
    {{ fixed("key_ppm", 6, 7) }}                           AS key_share,
    {{ money("programme_cost_total_pence") }}              AS programme_cost_total,
    {{ money("incurred_pence") }}                          AS incurred,
    {{ money("fair_share_pence") }}                        AS fair_share,
    {{ money("paid_to_partner_pence") }}                   AS paid_to_partner,
    {{ money("paid_by_partner_pence") }}                   AS paid_by_partner,
    {{ money("net_cost_pence") }}                          AS net_cost,
    {{ money("fair_share_pence - net_cost_pence") }}       AS balance,
    key_weight_hundredths,
    key_ppm,
    programme_cost_total_pence,
    incurred_pence,
    fair_share_pence,
    paid_to_partner_pence,
    paid_by_partner_pence,
    net_cost_pence,
    fair_share_pence - net_cost_pence                      AS balance_pence
FROM shared;
