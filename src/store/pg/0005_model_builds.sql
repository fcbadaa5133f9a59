-- 0005_model_builds.sql -- which model builds the leader has started and not finished
-- (docs/SCALEOUT.md section 7). Before its worker builds a kind, the model leader marks the
-- kind `building` here (one short statement on the lock's own session, fenced by the lock);
-- the mark is cleared in the transaction that publishes the build, or when the build fails or
-- is dropped. A node that takes the lead reads the marks: a kind still marked was being built
-- by a leader that died (the lock was free), so the new leader builds it at once; any other
-- kind it builds only when it has no model or its interval has run out since the served
-- snapshot was published.
--
-- patron_model_builds  kind -> building (a build started and not ended), the node and backend
--                      pid that marked it, and when.
CREATE TABLE patron_model_builds (
  kind text PRIMARY KEY,
  building boolean NOT NULL,
  node text NOT NULL,
  pid int NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now()
);
