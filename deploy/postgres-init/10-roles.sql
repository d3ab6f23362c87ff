-- The ledger's roles (docker-compose.yml runs this once, as the superuser, in the ledger's
-- database, on first start; tests/distributed/test_topology.py runs it on a scratch database).
-- Idempotent. No passwords here: 20-passwords.sql sets them from the Docker secrets.
--
--   provenance_owner   runs the migrations (`provenance db upgrade`) and owns every table
--   provenance_writer  the workers: reads and writes the ledger, never changes the schema
--   provenance_ui      the web UI: reads everything; may only enqueue jobs and store the
--                      evidence and reports it computes (deploy/grants.sql). It can never write
--                      runs, documents, targets or values.
DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['provenance_owner', 'provenance_writer', 'provenance_ui'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name) THEN
            EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', name);
        END IF;
    END LOOP;
    -- Only these roles may connect; the owner owns the database (PostgreSQL 15+: and so the
    -- public schema, which is owned by pg_database_owner).
    EXECUTE format('ALTER DATABASE %I OWNER TO provenance_owner', current_database());
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format(
        'GRANT CONNECT ON DATABASE %I TO provenance_writer, provenance_ui', current_database()
    );
END
$$;

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO provenance_owner;
GRANT USAGE ON SCHEMA public TO provenance_writer, provenance_ui;
