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
CREATE VIEW v_intra_alliance_reconciliation AS
WITH partner_line AS (
    SELECT
        f.fiscal_year,
        f.force_code,
        m.partner_force,
        CASE WHEN f.subjective_code = 'PART_PAY' THEN f.amount_pence ELSE 0 END  AS paid_pence,
        CASE WHEN f.subjective_code = 'INC_PART' THEN -f.amount_pence ELSE 0 END AS received_pence
    FROM partner_flow_summary AS f
    LEFT JOIN map_partner_account AS m ON m.force_code = f.force_code AND m.local_account = f.local_account
    WHERE f.subjective_code IN ('PART_PAY', 'INC_PART')
),
partner_flow AS (
    SELECT fiscal_year, force_code, partner_force,
           CAST(SUM(paid_pence) AS bigint)     AS paid_pence,
           CAST(SUM(received_pence) AS bigint) AS received_pence
    FROM partner_line
    GROUP BY fiscal_year, force_code, partner_force
),
ledger_year AS (
    SELECT DISTINCT fiscal_year FROM force_year_summary
),
direction AS (
    SELECT y.fiscal_year, payer.force_code AS payer_force, payee.force_code AS payee_force
    FROM ledger_year AS y
    CROSS JOIN dim_force AS payer
    CROSS JOIN dim_force AS payee
    WHERE payer.force_code <> payee.force_code
),
compared AS (
    SELECT
        d.fiscal_year,
        d.payer_force,
        d.payee_force,
        COALESCE(pay.paid_pence, 0)       AS paid_pence,
        COALESCE(rec.received_pence, 0)   AS received_pence,
        CASE WHEN COALESCE(pay.paid_pence, 0) = COALESCE(rec.received_pence, 0) THEN 'agreed'
             ELSE 'mismatch' END           AS status
    FROM direction AS d
    LEFT JOIN partner_flow AS pay
           ON pay.fiscal_year = d.fiscal_year AND pay.force_code = d.payer_force AND pay.partner_force = d.payee_force
    LEFT JOIN partner_flow AS rec
           ON rec.fiscal_year = d.fiscal_year AND rec.force_code = d.payee_force AND rec.partner_force = d.payer_force
    UNION ALL
    -- payments to an unknown partner
    SELECT fiscal_year, force_code, NULL, paid_pence, 0, 'counterparty unknown'
    FROM partner_flow
    WHERE partner_force IS NULL AND paid_pence <> 0
    UNION ALL
    -- income from an unknown partner
    SELECT fiscal_year, NULL, force_code, 0, received_pence, 'counterparty unknown'
    FROM partner_flow
    WHERE partner_force IS NULL AND received_pence <> 0
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
