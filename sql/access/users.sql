-- SpendGuard's users on a ClickHouse server: one per duty, so no connection can do more than its
-- job. Run once by an administrator with access management, after putting the passwords in
-- (docker/clickhouse-init/spendguard-users.sh does that from environment variables):
--
--   spendguard_admin   runs the migrations (creates tables and views; never deletes)
--   spendguard_writer  the pipeline: INSERT, and SELECT for the event-id lookup that keeps
--                      each call audited once; no ALTER, DELETE, DROP, TRUNCATE or OPTIMIZE
--   spendguard_reader  `spendguard sql`, reports and the HTTP API: SELECT only
--
-- SpendGuard connects as each with clickhouse.admin, clickhouse.username and clickhouse.reader.
-- The database name is `spendguard`; change it here and in the configuration together.
CREATE USER IF NOT EXISTS spendguard_admin IDENTIFIED WITH sha256_password BY '__SPENDGUARD_ADMIN_PASSWORD__';
CREATE USER IF NOT EXISTS spendguard_writer IDENTIFIED WITH sha256_password BY '__SPENDGUARD_WRITER_PASSWORD__';
CREATE USER IF NOT EXISTS spendguard_reader IDENTIFIED WITH sha256_password BY '__SPENDGUARD_READER_PASSWORD__';
CREATE DATABASE IF NOT EXISTS spendguard;
GRANT CREATE TABLE, CREATE VIEW, ALTER ADD COLUMN, ALTER COMMENT COLUMN, ALTER MODIFY SETTING, SELECT, INSERT ON spendguard.* TO spendguard_admin;
GRANT INSERT, SELECT ON spendguard.* TO spendguard_writer;
GRANT SELECT ON spendguard.* TO spendguard_reader;
