-- Revision 0003: validated batches staged in the warehouse between a DAG's validate and load tasks.
--
-- The two tasks may run on machines that share no disk; every worker reaches the warehouse. A row
-- is one validated batch of one DAG run: its lines as Parquet bytes (exact integer pence, typed
-- columns), the rest as JSON. Rows live from the validate task to the end of the load task;
-- alliance_finance.warehouse.staging expires those of abandoned runs. Nobody queries them.

CREATE TABLE etl_staged_batch (
    -- "<dag_id>/<run_id>"
    run_key     text NOT NULL,
    -- the batch's place in the run's load order (0, 1, ...)
    seq         integer NOT NULL,
    source_ref  text NOT NULL,
    meta        text NOT NULL,
{%- if dialect == 'postgresql' %}
    lines       bytea NOT NULL,
{%- else %}
    lines       blob NOT NULL,
{%- endif %}
    staged_at   timestamp NOT NULL,
    PRIMARY KEY (run_key, seq)
);

CREATE INDEX ix_etl_staged_batch_staged_at ON etl_staged_batch (staged_at);
