-- Roles of the alliance finance warehouse (PostgreSQL only; docs/security.md explains the design).
--
-- Run by alliance_finance.warehouse.security after every upgrade that changed something, in the
-- upgrade's transaction, when the upgrading role may create roles (superuser, or CREATEROLE and
-- owner of schema alliance). Roles belong to the whole cluster, so each is created only when it is
-- missing, and a role created meanwhile by another database's upgrade is not an error.
--
--   alliance_loader   the pipeline (Airflow, `alliance-finance run`): LOGIN; its password is set by
--                     `python -m alliance_finance.warehouse.migrate --loader-password-env VAR`
--   alliance_reader   reads every table and view (the board report, status, analysts)
--   <force>_finance   asc_finance, wp_finance: their own force's ledger lines and quarantine, and
--                     the consolidated views of both forces
--
-- The reading roles are NOLOGIN group roles: a person gets a LOGIN role of their own that is a
-- member of one of them (CREATE ROLE jane LOGIN PASSWORD '...' IN ROLE asc_finance), so access is
-- granted and withdrawn per person while the grants stay on the group.

DO $$
BEGIN
    CREATE ROLE alliance_loader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    -- created earlier, or just now by an upgrade of another database of the cluster
    NULL;
END
$$;

-- The loader runs unattended with a stored password: whatever someone granted it by hand, it must
-- not be able to change roles, bypass row-level security or replicate the cluster. Altered only
-- when needed, so that upgrades of many databases do not rewrite the shared role catalogue.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alliance_loader'
               AND (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls)) THEN
        ALTER ROLE alliance_loader NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
    END IF;
END
$$;

{%- for role in ['alliance_reader'] + force_roles.values() | list %}

DO $$
BEGIN
    CREATE ROLE {{ role }} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
{%- endfor %}

-- A reading role must never be able to act as the loader (it would gain its writes).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
               JOIN pg_roles r ON r.oid = m.member
               WHERE g.rolname = 'alliance_loader'
               AND r.rolname IN ('alliance_reader'{% for role in force_roles.values() %}, '{{ role }}'{% endfor %})) THEN
        RAISE EXCEPTION 'a reading role is a member of alliance_loader: revoke that membership first';
    END IF;
END
$$;
