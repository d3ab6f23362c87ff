-- Table privileges, run by provenance_owner after every `provenance db upgrade` (the `migrate`
-- service; deploy/migrate.sh), so that tables a migration adds are covered too. Idempotent.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO provenance_writer;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO provenance_writer;

GRANT SELECT ON ALL TABLES IN SCHEMA public TO provenance_ui;
-- The UI never trains: it enqueues jobs for the workers, and stores the evidence and reports a
-- user asks it for. Nothing else: runs, documents, targets and values stay the workers'.
GRANT INSERT ON jobs, reports, embeddings TO provenance_ui;
GRANT INSERT, DELETE ON evidence TO provenance_ui;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO provenance_ui;
