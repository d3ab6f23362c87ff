-- Each login role's password from its Docker secret file (never from the environment or the
-- command line: psql reads the file itself). Runs once, on the database's first start.
\set owner_password `cat /run/secrets/db_owner_password`
\set writer_password `cat /run/secrets/db_writer_password`
\set ui_password `cat /run/secrets/db_ui_password`
ALTER ROLE provenance_owner PASSWORD :'owner_password';
ALTER ROLE provenance_writer PASSWORD :'writer_password';
ALTER ROLE provenance_ui PASSWORD :'ui_password';
