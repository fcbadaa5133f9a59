-- 0004_write_lock_table.sql -- the fleet's write lock as a row lock, for PostgreSQL-compatible
-- engines without advisory locks ([store] pg_write_lock = table, docs/SCALEOUT.md sections 3
-- and 8): a write transaction takes it with SELECT ... FROM patron_lock WHERE id = 1 FOR UPDATE
-- and holds it until COMMIT or ROLLBACK, exactly as pg_advisory_xact_lock is held. Every node
-- of a fleet must take the same lock: the first node to connect records its choice in
-- patron_meta ('write_lock'), and a node configured otherwise is refused.
CREATE TABLE patron_lock (
  id int PRIMARY KEY CHECK (id = 1)
);
INSERT INTO patron_lock (id) VALUES (1);
