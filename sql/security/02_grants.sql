-- Who may read and write what in schema alliance. This file is the whole truth: every privilege
-- the project's roles hold on the schema's tables and views is first revoked, then granted again
-- from the lists below, in one transaction (nobody sees a moment without them). Grants on views
-- are lost when a view is dropped, so this runs again after the views are recreated.
--
-- Nobody but the owner of the schema (the administrator who migrates) may create, alter or drop
-- anything in it, nor TRUNCATE a table: not even the loader, so a leaked loader password cannot
-- drop the history, switch off row-level security or hand out reads.

REVOKE ALL ON SCHEMA alliance FROM PUBLIC;
REVOKE ALL ON SCHEMA alliance FROM {{ all_roles | join(', ') }};
REVOKE ALL ON ALL TABLES IN SCHEMA alliance FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA alliance FROM {{ all_roles | join(', ') }};
REVOKE ALL ON ALL SEQUENCES IN SCHEMA alliance FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA alliance FROM {{ all_roles | join(', ') }};

-- Look up names in the schema (no CREATE).
GRANT USAGE ON SCHEMA alliance TO {{ all_roles | join(', ') }};

-- Every role may connect to the warehouse database; the loader stages each batch in a temporary
-- table (COPY into it, then INSERT ... SELECT into the fact table). PUBLIC holds both by default;
-- granted explicitly in case a DBA revoked them from PUBLIC, and only when missing.
DO $$
BEGIN
    IF NOT has_database_privilege('alliance_loader', current_database(), 'TEMPORARY') THEN
        EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO alliance_loader', current_database());
    END IF;
{%- for role in all_roles %}
    IF NOT has_database_privilege('{{ role }}', current_database(), 'CONNECT') THEN
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO {{ role }}', current_database());
    END IF;
{%- endfor %}
END
$$;

-- ---------------------------------------------------------------------------------------------
-- alliance_loader: reads everything; writes exactly what a pipeline pass writes.
-- ---------------------------------------------------------------------------------------------
GRANT SELECT ON ALL TABLES IN SCHEMA alliance TO alliance_loader;
-- a batch: its record, its lines (inserted, superseded ones deleted, restated when the maps
-- change), its quarantined lines and the WP journals it covered
GRANT INSERT, UPDATE ON alliance.etl_batch TO alliance_loader;
GRANT INSERT, UPDATE, DELETE ON alliance.fact_ledger_line TO alliance_loader;
-- budgets summed for the in-year views, refreshed when budgets, reference data or the baseline change
GRANT INSERT, DELETE ON alliance.budget_summary TO alliance_loader;
-- a batch's money posted into periods already closed (warehouse/post_close.py; a superseded one's removed)
GRANT INSERT, DELETE ON alliance.post_close_adjustment TO alliance_loader;
-- the summaries the views read, kept with the lines in the same transaction (warehouse/summaries.py)
GRANT INSERT, UPDATE, DELETE ON alliance.force_year_summary, alliance.ledger_summary, alliance.nre_summary,
    alliance.cost_centre_summary, alliance.partner_flow_summary, alliance.unmapped_summary TO alliance_loader;
GRANT INSERT ON alliance.quarantine_line TO alliance_loader;
GRANT INSERT ON alliance.source_document_loaded TO alliance_loader;
-- validated batches handed from a DAG's validate task to its load task (warehouse/staging.py)
GRANT INSERT, DELETE ON alliance.etl_staged_batch TO alliance_loader;
-- reference data from reference/ (dimensions upserted, never deleted; maps replaced)
GRANT INSERT, UPDATE ON alliance.dim_objective, alliance.dim_subjective TO alliance_loader;
GRANT INSERT, DELETE ON alliance.map_cost_centre, alliance.map_local_account TO alliance_loader;
-- the forces and their partner accounts from dags/forces.yaml (upserted; a force is never deleted by
-- the loader: the administrator's upgrade removes one no longer configured and never loaded)
GRANT INSERT, UPDATE ON alliance.dim_force TO alliance_loader;
GRANT INSERT, DELETE ON alliance.map_partner_account TO alliance_loader;
-- finance's seeds from seeds/ (replaced when the files change)
GRANT INSERT, DELETE ON alliance.savings_target, alliance.sharing_key, alliance.deflator,
    alliance.programme_cost_centre TO alliance_loader;
-- finance's budgets from seeds/ (replaced when the file changes) and period closes (appended from
-- seeds/period_closes.csv and by alliance-finance close-period; never updated or deleted)
GRANT INSERT, DELETE ON alliance.budget, alliance.budget_profile TO alliance_loader;
GRANT INSERT ON alliance.period_close_event TO alliance_loader;
-- history kept (revision 0009, warehouse/history.py): superseded lines and the codes a restatement
-- replaced are appended, never changed; a data version is closed (valid_to) when the next is recorded
GRANT INSERT ON alliance.fact_ledger_line_superseded, alliance.fact_line_code_history,
    alliance.data_version_row TO alliance_loader;
GRANT INSERT, UPDATE ON alliance.data_version TO alliance_loader;
-- board packs: the pipeline's report records one each night (marts/packs.py); readers stay read-only,
-- so a report run as alliance_reader is shown but not recorded
GRANT INSERT ON alliance.board_pack TO alliance_loader;
-- finance's mapping decisions (alliance-finance mapping import): recorded, then their restatement
-- filled in (a trigger refuses any other change and every delete)
GRANT INSERT, UPDATE ON alliance.mapping_decision TO alliance_loader;
-- the digests that tell a run whether reference data or seeds changed
GRANT INSERT, UPDATE ON alliance.warehouse_meta TO alliance_loader;

-- ---------------------------------------------------------------------------------------------
-- alliance_reader: every table and view, read only (the board report, status, analysts).
-- ---------------------------------------------------------------------------------------------
GRANT SELECT ON ALL TABLES IN SCHEMA alliance TO alliance_reader;

-- ---------------------------------------------------------------------------------------------
-- The forces' finance roles: their own lines and quarantine (row-level security, next file), the
-- dimensions to read them by, and the consolidated views of both forces. Not v_nre_line (the line
-- level of both forces), not etl_batch (file names and errors; v_ledger_freshness summarises it),
-- not the maps or finance's seed tables.
-- ---------------------------------------------------------------------------------------------
GRANT SELECT ON
    alliance.fact_ledger_line,
    alliance.quarantine_line,
    alliance.dim_force,
    alliance.dim_objective,
    alliance.dim_subjective,
    alliance.dim_fiscal_period,
{%- for view in consolidated_views %}
    alliance.{{ view }}{{ "," if not loop.last }}
{%- endfor %}
TO {{ force_roles.values() | join(', ') }};
