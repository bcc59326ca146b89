#!/bin/bash
# The database container's command, rendered by kubectl-pgo: initializes
# the data directory the first time, then runs PostgreSQL.
set -euo pipefail
export PATH={{ shq .PostgresBinDir }}:$PATH
pgdata={{ shq .PGData }}
include="include '{{ .PostgresConf }}'"

if [ ! -s "$pgdata/PG_VERSION" ]; then
  echo "kubectl-pgo: initializing a new data directory in $pgdata"
  initdb --pgdata="$pgdata" --username={{ shq .Superuser }} --pwfile={{ shq .PasswordFile }} \
    --auth-local=peer --auth-host=scram-sha-256 --data-checksums --encoding=UTF8 --locale=C
fi

# PostgreSQL refuses a data directory that others can write to, and fsGroup
# may have made it group-writable.
chmod 0700 "$pgdata"

# Idempotent: a restart, or a restored data directory, has the line already.
if ! grep -qxF "$include" "$pgdata/postgresql.conf"; then
  echo "kubectl-pgo: including {{ .PostgresConf }} from $pgdata/postgresql.conf"
  printf '\n# Added by kubectl-pgo: the settings it manages.\n%s\n' "$include" >>"$pgdata/postgresql.conf"
fi

exec postgres -D "$pgdata"
