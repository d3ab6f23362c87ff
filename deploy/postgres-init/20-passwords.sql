-- Each login role's password from its Docker secret file (never from the environment or the
-- command line: psql reads the file itself). Runs once, on the database's first start.
-- Statement logging is off for this session, so a server configured with log_statement=all
-- (or a duration log) never writes these ALTER ROLE statements, passwords included, to its log.
-- What remains (docs/reliability.md, Security): the statements travel to the server inside
-- the container over its local socket, and the server stores SCRAM verifiers, not passwords.
SET log_statement = 'none';
SET log_min_duration_statement = -1;
SET log_min_error_statement = 'panic';
\set owner_password `cat /run/secrets/db_owner_password`
\set writer_password `cat /run/secrets/db_writer_password`
\set ui_password `cat /run/secrets/db_ui_password`
ALTER ROLE provenance_owner PASSWORD :'owner_password';
ALTER ROLE provenance_writer PASSWORD :'writer_password';
ALTER ROLE provenance_ui PASSWORD :'ui_password';
