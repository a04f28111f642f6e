-- The GRANTs of a PostgreSQL store (docs/postgresql.md), run by the owner
-- of the tables (the role `sealmail store migrate` connects as) after the
-- migrations, and again after a migration that adds a table. Write the
-- role names in place of :worker (the daemon's workers and queue runner)
-- and :keys (the keys process, which checks passwords).
--
-- The workers use every table but the password hashes; they cannot change
-- the schema or its version.
GRANT SELECT, INSERT, UPDATE, DELETE ON
  users, aliases, dmarc_results, dmarc_policies, sts_policies, tls_results,
  secrets, report_sent, report_state, inreports, inreport_records,
  inreport_policies, inreport_failures, inreport_feedback, dmarc_failures,
  report_rate, metrics_history, metrics_failures, correspondents,
  lookalike_senders, cluster_nodes
  TO :worker;
-- The change counter: read by every node, bumped by the trigger of a
-- change to users or aliases (which runs with the changer's rights).
GRANT SELECT, UPDATE ON sealmail_changes TO :worker;
GRANT SELECT ON sealmail_schema TO :worker, :keys;
-- The identity columns' sequences (inreports, dmarc_failures,
-- metrics_failures).
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO :worker;
-- The keys process reads (and `sealmail user passwd` writes) the hashes,
-- and nothing else of the store.
GRANT SELECT, INSERT, UPDATE, DELETE ON passwords TO :keys;
-- passwords is REVOKEd from PUBLIC by its migration: no GRANT above names
-- the workers' role for it, so it reads "permission denied".
