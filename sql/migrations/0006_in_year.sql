-- In-year truth (issue #15): which periods finance has closed, and the approved budgets.
--
-- period_close_event: finance's period closes and re-openings as events, appended and never
-- changed or deleted (a trigger refuses UPDATE and DELETE on both dialects; on PostgreSQL the
-- loader is granted INSERT only). The state of a period is its latest event (v_period_status).
-- Events come from seeds/period_closes.csv (source 'seed', added when not yet present) and from
-- `alliance-finance close-period` (source 'cli').
CREATE TABLE period_close_event (
{%- if dialect == 'postgresql' %}
    event_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
{%- else %}
    event_id     INTEGER PRIMARY KEY AUTOINCREMENT,
{%- endif %}
    force_code   text NOT NULL REFERENCES dim_force (force_code),
    fiscal_year  smallint NOT NULL,
    period       smallint NOT NULL CHECK (period BETWEEN 1 AND 16),
    action       text NOT NULL CHECK (action IN ('close', 'reopen')),
    -- the day finance closed (or reopened) the period
    closed_on    date NOT NULL,
    -- when and by whom the event was recorded in the warehouse (UTC)
    recorded_at  timestamp NOT NULL,
    recorded_by  text NOT NULL,
    source       text NOT NULL CHECK (source IN ('seed', 'cli')),
    note         text,
    FOREIGN KEY (fiscal_year, period) REFERENCES dim_fiscal_period (fiscal_year, period)
);

CREATE INDEX ix_period_close_event ON period_close_event (force_code, fiscal_year, period);
{%- if dialect == 'postgresql' %}

CREATE FUNCTION period_close_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'period_close_event is append-only: record a reopen rather than change or delete a close';
END
$$;

CREATE TRIGGER period_close_event_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON period_close_event
    FOR EACH STATEMENT EXECUTE FUNCTION period_close_event_append_only();
{%- else %}

CREATE TRIGGER period_close_event_no_update BEFORE UPDATE ON period_close_event BEGIN SELECT RAISE(ABORT, 'period_close_event is append-only: record a reopen rather than change or delete a close'); END;
CREATE TRIGGER period_close_event_no_delete BEFORE DELETE ON period_close_event BEGIN SELECT RAISE(ABORT, 'period_close_event is append-only: record a reopen rather than change or delete a close'); END;
{%- endif %}

-- Finance's approved revenue budget per force, fiscal year, objective and subjective, from
-- seeds/budgets.csv (or budgets.xlsx), replaced whole when the file changes. Same sign as the
-- ledger: spending positive, income negative. profile_given is 1 when the file gave the monthly
-- profile (rows in budget_profile), 0 when the default profile applies (v_budget_profile).
CREATE TABLE budget (
    force_code       text NOT NULL REFERENCES dim_force (force_code),
    fiscal_year      smallint NOT NULL,
    objective_code   text NOT NULL REFERENCES dim_objective (objective_code),
    subjective_code  text NOT NULL REFERENCES dim_subjective (subjective_code),
    budget_pence     bigint NOT NULL,
    budget           {{ money_type }} GENERATED ALWAYS AS ({{ money('budget_pence') }}) STORED,
    profile_given    smallint NOT NULL CHECK (profile_given IN (0, 1)),
    PRIMARY KEY (force_code, fiscal_year, objective_code, subjective_code)
);

-- The monthly profile finance gave with a budget (periods 1-12, adding up to it).
CREATE TABLE budget_profile (
    force_code       text NOT NULL,
    fiscal_year      smallint NOT NULL,
    objective_code   text NOT NULL,
    subjective_code  text NOT NULL,
    period           smallint NOT NULL CHECK (period BETWEEN 1 AND 12),
    amount_pence     bigint NOT NULL,
    amount           {{ money_type }} GENERATED ALWAYS AS ({{ money('amount_pence') }}) STORED,
    PRIMARY KEY (force_code, fiscal_year, objective_code, subjective_code, period),
    FOREIGN KEY (force_code, fiscal_year, objective_code, subjective_code)
        REFERENCES budget (force_code, fiscal_year, objective_code, subjective_code)
);
