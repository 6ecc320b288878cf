-- v_settlement: the life-to-date settlement of programme costs (CHART.md, "Fair sharing"; issue #16),
-- one row per fiscal year and force: the sharing statement of v_cost_share carried forward across the
-- years, so that what one force owes the others is shown after every payment made, whichever year it
-- was made in. A payment made in April (period 1 of FY N+1) for FY N's balance is booked in FY N+1:
-- v_cost_share shows it as an overpayment of FY N+1 (its year's balance, fixed by DESIGN.md, stays as
-- it is), and here it reduces the balance brought forward from FY N.
--
-- fair_share, incurred        the year's, from v_cost_share
-- year_share                  fair_share - incurred: what the year's programme costs put on the force
--                             before any payment (positive: it bore less than its share)
-- paid_to_partner, paid_by_partner  the payments made in the year, from v_cost_share: PART_PAY lines on
--                             the payer's programme cost centres to a known partner (payments for other
--                             shared services are not settlements of programme costs)
-- paid_net                    paid_to_partner - paid_by_partner: what the force paid the others in the
--                             year, net of what they paid it
-- year_balance                v_cost_share's balance: year_share - paid_net
-- brought_forward             owed_to_date of the force's previous year (0 for its first year)
-- owed_to_date                brought_forward + year_balance, the balance carried forward: positive,
--                             the force owes the others this much to date after the payments made;
--                             negative, it is owed. The forces' rows of a year sum to zero.
-- direction                   'owes', 'is owed' or 'settled' (owed_to_date 0); NULL when unknown
-- ltd_fair_share, ltd_incurred, ltd_paid_to_partner, ltd_paid_by_partner, ltd_net_cost
--                             the same summed over the force's years up to this one (life to date):
--                             owed_to_date = ltd_fair_share - ltd_net_cost, and
--                             ltd_net_cost = ltd_incurred + ltd_paid_to_partner - ltd_paid_by_partner.
--                             Each year's fair share is rounded to the penny in its own year (by that
--                             year's key); the life-to-date one is their sum, never re-rounded.
--
-- A year without a valid key (v_cost_share's fair_share NULL) leaves fair_share, year_share,
-- year_balance NULL, and owed_to_date, ltd_fair_share and direction NULL from that year on (and
-- brought_forward from the year after): a balance across an unknown year is unknown, not a guess. The
-- figures run to everything loaded (a year in progress included); reads v_cost_share only, which reads
-- the summaries, never the ledger lines.
CREATE VIEW v_settlement AS
WITH year_force AS (
    SELECT
        fiscal_year,
        force_code,
        fair_share_pence,
        incurred_pence,
        paid_to_partner_pence,
        paid_by_partner_pence,
        net_cost_pence,
        balance_pence
    FROM v_cost_share
),
running AS (
    SELECT
        y.*,
        -- how many of the force's years up to this one have no key: any, and the running figures are unknown
        SUM(CASE WHEN fair_share_pence IS NULL THEN 1 ELSE 0 END)
            OVER (PARTITION BY force_code ORDER BY fiscal_year ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                                                                                         AS years_unknown,
        CAST(SUM(fair_share_pence) OVER (PARTITION BY force_code ORDER BY fiscal_year
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS bigint)            AS ltd_fair_share_known,
        CAST(SUM(incurred_pence) OVER (PARTITION BY force_code ORDER BY fiscal_year
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS bigint)            AS ltd_incurred_pence,
        CAST(SUM(paid_to_partner_pence) OVER (PARTITION BY force_code ORDER BY fiscal_year
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS bigint)            AS ltd_paid_to_partner_pence,
        CAST(SUM(paid_by_partner_pence) OVER (PARTITION BY force_code ORDER BY fiscal_year
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS bigint)            AS ltd_paid_by_partner_pence,
        CAST(SUM(net_cost_pence) OVER (PARTITION BY force_code ORDER BY fiscal_year
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS bigint)            AS ltd_net_cost_pence
    FROM year_force AS y
),
settled AS (
    SELECT
        r.*,
        CASE WHEN years_unknown = 0 THEN ltd_fair_share_known END                        AS ltd_fair_share_pence,
        CASE WHEN years_unknown = 0 THEN ltd_fair_share_known - ltd_net_cost_pence END   AS owed_to_date_pence,
        fair_share_pence - incurred_pence                                                AS year_share_pence,
        paid_to_partner_pence - paid_by_partner_pence                                    AS paid_net_pence
    FROM running AS r
),
carried AS (
    SELECT
        s.*,
        -- the previous year's owed_to_date; a force's first year brings nothing forward
        CASE WHEN ROW_NUMBER() OVER (PARTITION BY force_code ORDER BY fiscal_year) = 1 THEN 0
             ELSE LAG(owed_to_date_pence) OVER (PARTITION BY force_code ORDER BY fiscal_year) END
                                                                                         AS brought_forward_pence
    FROM settled AS s
)
SELECT
    fiscal_year,
    force_code,
    {{ money("fair_share_pence") }}                        AS fair_share,
    {{ money("incurred_pence") }}                          AS incurred,
    {{ money("year_share_pence") }}                        AS year_share,
    {{ money("paid_to_partner_pence") }}                   AS paid_to_partner,
    {{ money("paid_by_partner_pence") }}                   AS paid_by_partner,
    {{ money("paid_net_pence") }}                          AS paid_net,
    {{ money("balance_pence") }}                           AS year_balance,
    {{ money("brought_forward_pence") }}                   AS brought_forward,
    {{ money("owed_to_date_pence") }}                      AS owed_to_date,
    CASE WHEN owed_to_date_pence > 0 THEN 'owes'
         WHEN owed_to_date_pence < 0 THEN 'is owed'
         WHEN owed_to_date_pence = 0 THEN 'settled' END    AS direction,
    {{ money("ltd_fair_share_pence") }}                    AS ltd_fair_share,
    {{ money("ltd_incurred_pence") }}                      AS ltd_incurred,
    {{ money("ltd_paid_to_partner_pence") }}               AS ltd_paid_to_partner,
    {{ money("ltd_paid_by_partner_pence") }}               AS ltd_paid_by_partner,
    {{ money("ltd_net_cost_pence") }}                      AS ltd_net_cost,
    fair_share_pence,
    incurred_pence,
    year_share_pence,
    paid_to_partner_pence,
    paid_by_partner_pence,
    paid_net_pence,
    balance_pence                                          AS year_balance_pence,
    brought_forward_pence,
    owed_to_date_pence,
    ltd_fair_share_pence,
    ltd_incurred_pence,
    ltd_paid_to_partner_pence,
    ltd_paid_by_partner_pence,
    ltd_net_cost_pence
FROM carried;
