-- v_intra_alliance_reconciliation: does what one force booked as paid to another agree with what
-- that other booked as received from it? One row per fiscal year and ordered pair of forces (every
-- force of dim_force with every other), plus a row for flows whose other side is not known.
--
-- paid      the payer's PART_PAY lines on accounts it records payments to the payee on (spending,
--           positive)
-- received  the payee's INC_PART lines on accounts it records income from the payer on, sign reversed
--           (income is negative in the ledger)
-- mismatch  paid minus received: timing or a missing accrual; reported, never absorbed
--
-- Who the other side of a partner flow is comes from map_partner_account (each force's
-- partner_accounts in dags/forces.yaml). A partner flow on an account that names no partner has
-- payee_force (a payment) or payer_force (an income) NULL and status 'counterparty unknown': the
-- configuration must name the account's partner before it can be reconciled.
--
-- The partner lines are read from partner_flow_summary, summed as they were loaded (sql/summaries/).
-- Written so that a query for one year (WHERE fiscal_year = X) reads that year's rows only (issue #14):
-- the flows and the pairs of forces are one stream (flows), grouped once by year, payer and payee, so
-- the year's condition reaches partner_flow_summary through its index by year (revision 0013). Before,
-- the flows by force and partner were one step read four times, which PostgreSQL worked out for every
-- year.
CREATE VIEW v_intra_alliance_reconciliation AS
WITH flows AS (
    -- a payment counts on the side of its payer (the force, to its partner), an income on the side of
    -- the payer it came from (the partner, to the force); each pair of forces in each year with ledger
    -- is there too, with nothing, so that a pair with no flow still has its row
    SELECT f.fiscal_year,
           CASE WHEN f.subjective_code = 'PART_PAY' THEN f.force_code ELSE m.partner_force END AS payer_force,
           CASE WHEN f.subjective_code = 'PART_PAY' THEN m.partner_force ELSE f.force_code END AS payee_force,
           CASE WHEN f.subjective_code = 'PART_PAY' THEN f.amount_pence ELSE 0 END           AS paid_pence,
           CASE WHEN f.subjective_code = 'INC_PART' THEN -f.amount_pence ELSE 0 END          AS received_pence,
           0                                                                               AS pair
    FROM partner_flow_summary AS f
    LEFT JOIN map_partner_account AS m ON m.force_code = f.force_code AND m.local_account = f.local_account
    WHERE f.subjective_code IN ('PART_PAY', 'INC_PART')
    UNION ALL
    SELECT y.fiscal_year, payer.force_code, payee.force_code, 0, 0, 1
    FROM (SELECT DISTINCT fiscal_year FROM force_year_summary) AS y
    CROSS JOIN dim_force AS payer
    CROSS JOIN dim_force AS payee
    WHERE payer.force_code <> payee.force_code
),
summed AS (
    SELECT fiscal_year, payer_force, payee_force,
           CAST(SUM(paid_pence) AS bigint)     AS paid_pence,
           CAST(SUM(received_pence) AS bigint) AS received_pence,
           MAX(pair)                           AS pair
    FROM flows
    GROUP BY fiscal_year, payer_force, payee_force
),
compared AS (
    -- every pair of forces, agreed or not; a flow whose other side is not known, when it is not nothing
    -- (a flow between a force and itself, or with a force not in dim_force, is not one of the pairs)
    SELECT fiscal_year, payer_force, payee_force, paid_pence, received_pence,
           CASE WHEN payer_force IS NULL OR payee_force IS NULL THEN 'counterparty unknown'
                WHEN paid_pence = received_pence THEN 'agreed'
                ELSE 'mismatch' END AS status
    FROM summed
    WHERE pair = 1
       OR ((payer_force IS NULL OR payee_force IS NULL) AND (paid_pence <> 0 OR received_pence <> 0))
)
SELECT
    fiscal_year,
    payer_force,
    payee_force,
    {{ money("paid_pence") }}                      AS paid,
    {{ money("received_pence") }}                  AS received,
    {{ money("paid_pence - received_pence") }}     AS mismatch,
    status,
    paid_pence,
    received_pence,
    paid_pence - received_pence                    AS mismatch_pence
FROM compared;
