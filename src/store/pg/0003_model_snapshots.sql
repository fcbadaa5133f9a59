-- 0003_model_snapshots.sql -- one node builds the models, every node serves them
-- (docs/SCALEOUT.md section 7). The model leader (the node holding the session advisory lock
-- "PtrnMODL") builds each model kind and publishes it here as a versioned snapshot; the other
-- nodes load the newest version when notified on channel patron_models (or at their next
-- poll), verify the checksum, and serve it. Only the newest few versions of a kind are kept.
--
-- patron_model_snapshots  kind ('clv', 'recs') + version -> the model file's bytes exactly as
--                         the kind persists it (its own checksummed format), their SHA-256 (hex),
--                         the node that built it and when it was published.
-- patron_model_leader     one row: the node that took the model lock last and its backend pid
--                         (a reader checks in pg_locks that this pid still holds the lock).
CREATE TABLE patron_model_snapshots (
  kind text NOT NULL,
  version bigint NOT NULL CHECK (version > 0),
  checksum text NOT NULL,
  bytes bytea NOT NULL,
  built_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, version)
);

CREATE TABLE patron_model_leader (
  id int PRIMARY KEY CHECK (id = 1),
  node text NOT NULL,
  pid int NOT NULL,
  since timestamptz NOT NULL DEFAULT now()
);
