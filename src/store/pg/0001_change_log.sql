-- 0001_change_log.sql -- the PostgreSQL system of record of a Patron fleet (docs/SCALEOUT.md).
-- Applied once per database by the first patrond that starts on it (under an advisory lock;
-- the version is recorded in patron_schema_migrations in the same transaction).
--
-- patron_meta        settings of the database as a whole: cluster_id names this database, so a
--                    node whose local copy was filled from another one starts it afresh.
-- patron_kv          the current value of every record: store table name + key -> value. A new
--                    node copies it (with the change-log position of the same snapshot).
-- patron_change_log  every committed record change in commit order (val NULL = deleted). The
--                    writers append under the fleet's write lock, so positions ascend in commit
--                    order and a node tailing "pos > last applied" never skips one.
CREATE TABLE patron_meta (
  k text PRIMARY KEY,
  v text NOT NULL
);
INSERT INTO patron_meta (k, v)
  VALUES ('cluster_id', md5(random()::text || clock_timestamp()::text || pg_backend_pid()::text));

CREATE TABLE patron_kv (
  tbl text NOT NULL,
  key bytea NOT NULL,
  val bytea NOT NULL,
  PRIMARY KEY (tbl, key)
);

CREATE TABLE patron_change_log (
  pos bigserial PRIMARY KEY,
  origin text NOT NULL,
  tbl text NOT NULL,
  key bytea NOT NULL,
  val bytea,
  at timestamptz NOT NULL DEFAULT now()
);
