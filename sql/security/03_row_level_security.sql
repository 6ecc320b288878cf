-- Row-level security: each force's finance role sees only its own force's ledger lines and
-- quarantined lines; the loader and alliance_reader see all of them.
--
-- How a force role still sees the consolidated figures of both forces: a view runs with the rights
-- of its owner (PostgreSQL's default), and the owner of the views is the administrator who migrates,
-- who owns the tables and is therefore not subject to their row-level security (it is enabled, not
-- FORCEd; a superuser bypasses it anyway). So v_consolidated_spend read by asc_finance aggregates both forces' lines, while
-- asc_finance selecting from fact_ledger_line gets only ASC's.
--
-- The loader gets a policy of its own rather than the BYPASSRLS attribute: only a superuser may give
-- BYPASSRLS (PostgreSQL 15), it would apply to every table of every database of the cluster, and a
-- policy is visible here, next to the others. COPY cannot write into a table with row-level
-- security: the loader COPYs into a temporary staging table and INSERTs ... SELECTs from there.
--
-- The file is the whole truth: every policy on the schema's tables is dropped and the ones below
-- created again, in the upgrade's transaction.

ALTER TABLE alliance.fact_ledger_line ENABLE ROW LEVEL SECURITY;
ALTER TABLE alliance.quarantine_line ENABLE ROW LEVEL SECURITY;

DO $$
DECLARE
    policy record;
BEGIN
    FOR policy IN SELECT policyname, tablename FROM pg_policies WHERE schemaname = 'alliance' LOOP
        EXECUTE format('DROP POLICY %I ON alliance.%I', policy.policyname, policy.tablename);
    END LOOP;
END
$$;
{%- for table in ['fact_ledger_line', 'quarantine_line'] %}

-- {{ table }}
CREATE POLICY loader_all_lines ON alliance.{{ table }}
    FOR ALL TO alliance_loader USING (true) WITH CHECK (true);
CREATE POLICY reader_all_lines ON alliance.{{ table }}
    FOR SELECT TO alliance_reader USING (true);
{%- for force_code, role in force_roles.items() %}
CREATE POLICY {{ role }}_own_lines ON alliance.{{ table }}
    FOR SELECT TO {{ role }} USING (force_code = '{{ force_code }}');
{%- endfor %}
{%- endfor %}

-- v_nre_line must run with its owner's rights. A view that reads a security-invoker view checks
-- that view's tables with the rights of the user running the query, not of its own owner
-- (PostgreSQL documents it, and tests/test_security.py shows it): a consolidated view built on
-- v_nre_line (an analyst's, or a drill-down) would show asc_finance only ASC's share of the alliance
-- totals. (The project's consolidated views read the summary tables, which carry no row-level
-- security and are granted to no force role: they too run with their owner's rights.) Stated here as well
-- as in the view's own file so that no later edit of the view can turn it back on silently; the
-- force roles are not granted it (line-level data of both forces).
ALTER VIEW alliance.v_nre_line SET (security_invoker = false);
