"""run_on_postgresql.py -- run an integration suite written for the embedded store on the
PostgreSQL backend: start a throw-away PostgreSQL 15 (pgtest.py), point patrontest.Daemon at
it (PATRON_TEST_PG_HOST: each daemon gets a database of its own), run the suite, clean up.
usage: python3 run_on_postgresql.py SUITE.py PATH/TO/patrond [suite args...]
Exit: the suite's status; 77 without postgresql-15."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgtest  # noqa: E402

if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    if not pgtest.available():
        print("skip: postgresql-15 not installed")
        sys.exit(77)
    pg = pgtest.Postgres().start()
    try:
        env = dict(os.environ, PATRON_TEST_PG_HOST=pg.sock)
        suite = os.path.join(os.path.dirname(os.path.abspath(__file__)), sys.argv[1])
        rc = subprocess.call([sys.executable, "-W", "ignore::ResourceWarning", suite] + sys.argv[2:],
                             env=env)
    finally:
        pg.cleanup()
    sys.exit(rc)
