"""Exit 0 when the PostgreSQL server of the URL given answers (its `postgres` database)."""

import sys

import psycopg

url = sys.argv[1].replace("postgres://", "postgresql://")
admin = url.rsplit("/", 1)[0] + "/postgres"
try:
    psycopg.connect(admin, connect_timeout=5).close()
except Exception as exc:  # any failure means: not reachable
    print(f"PostgreSQL does not answer: {exc}")
    sys.exit(1)
