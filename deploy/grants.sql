-- Table privileges, run by provenance_owner after every `provenance db upgrade` (the `migrate`
-- service; deploy/migrate.sh), so that tables a migration adds are covered too. Idempotent.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO provenance_writer;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO provenance_writer;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM provenance_ui;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO provenance_ui;
-- The UI never trains: it enqueues jobs for the workers, and adds the evidence and reports a
-- user asks it for. Nothing else: runs, documents, targets and values stay the workers'. It
-- may add evidence but never delete or change a row, so a stored label cannot be rewritten
-- through the UI's role (db/evidence.py: replacing evidence of an older version is the
-- workers'). Earlier versions of this file granted DELETE: the REVOKE above removes it, so
-- re-running this file on an existing ledger (the `migrate` service does at every start)
-- tightens it too.
GRANT INSERT ON jobs, reports, embeddings, evidence TO provenance_ui;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO provenance_ui;
