-- v_intra_alliance_reconciliation: does what one force booked as paid to the other agree with
-- what the other booked as received from it? One row per fiscal year and direction of payment.
--
-- paid      the payer's PART_PAY lines (spending, positive)
-- received  the payee's INC_PART lines, sign reversed (income is negative in the ledger)
-- mismatch  paid minus received: timing or a missing accrual; reported, never absorbed
--
-- The alliance has two forces, so INC_PART in one force's ledger is money from the other.
CREATE VIEW v_intra_alliance_reconciliation AS
WITH partner_flow AS (
    SELECT
        fiscal_year,
        force_code,
        CAST(SUM(CASE WHEN subjective_code = 'PART_PAY' THEN amount_pence ELSE 0 END) AS bigint)  AS paid_pence,
        CAST(-SUM(CASE WHEN subjective_code = 'INC_PART' THEN amount_pence ELSE 0 END) AS bigint) AS received_pence
    FROM fact_ledger_line
    WHERE subjective_code IN ('PART_PAY', 'INC_PART')
    GROUP BY fiscal_year, force_code
),
ledger_year AS (
    SELECT DISTINCT fiscal_year FROM fact_ledger_line
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
        COALESCE(rec.received_pence, 0)   AS received_pence
    FROM direction AS d
    LEFT JOIN partner_flow AS pay ON pay.fiscal_year = d.fiscal_year AND pay.force_code = d.payer_force
    LEFT JOIN partner_flow AS rec ON rec.fiscal_year = d.fiscal_year AND rec.force_code = d.payee_force
)
SELECT
    fiscal_year,
    payer_force,
    payee_force,
    {{ money("paid_pence") }}                      AS paid,
    {{ money("received_pence") }}                  AS received,
    {{ money("paid_pence - received_pence") }}     AS mismatch,
    CASE WHEN paid_pence = received_pence THEN 'agreed' ELSE 'mismatch' END AS status,
    paid_pence,
    received_pence,
    paid_pence - received_pence                    AS mismatch_pence
FROM compared;
