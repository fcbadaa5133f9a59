-- 0002_change_log_compaction.sql -- the change log keeps only the newest change of each
-- record: a commit deletes the rows its own changes supersede (docs/SCALEOUT.md section 4), so
-- an overwritten or erased value (customer.forget) does not linger in the log, and the log
-- holds at most one row per record ever written. This index finds those rows.
CREATE INDEX patron_change_log_record ON patron_change_log (tbl, key, pos);
