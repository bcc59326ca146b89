#!/bin/bash
# The database container's command, rendered by kubectl-pgo. The pod's
# role comes from the file {{ .PrimaryFile }}, which names the primary's
# instance: the primary initializes a new data directory the first time; a
# replica is restored from the repository (or copied from the primary) the
# first time, and starts as a standby. Then it runs PostgreSQL.
set -euo pipefail
export PATH={{ shq .PostgresBinDir }}:$PATH
pgdata={{ shq .PGData }}
include="include '{{ .PostgresConf }}'"
instance=${HOSTNAME%-0}
primary=$(cat {{ shq .PrimaryFile }})
role=replica
if [ "$instance" = "$primary" ]; then
  role=primary
fi
{{- if .Standby }}
# This cluster is a standby of cluster {{ .Standby.Source }}: every instance
# replays the source's WAL from the source's repositories, until kubectl pgo
# promote ends that.
role=standby
{{- end }}
echo "kubectl-pgo: instance $instance starts as the $role (the primary is $primary)"

# A replica streams with the replication role's password, from a libpq
# password file that only its owner may read.
umask 077
printf '*:*:*:%s:%s\n' {{ shq .ReplicationUser }} "$(cat {{ shq .ReplicationPasswordFile }})" >{{ shq .ReplicationPassFile }}
umask 022

# bootstrap fills the empty data directory of a replica: from the backup
# named in {{ .BootstrapFile }}, or with pg_basebackup of the primary when
# there is none (or it is gone). PG_VERSION comes last, so that an
# interrupted bootstrap starts over.
bootstrap() {
  local set
  set=$(cat {{ shq .BootstrapFile }} 2>/dev/null || true)
  mkdir -p "$pgdata"
  find "$pgdata" -mindepth 1 -delete
  if [ -n "$set" ]; then
    echo "kubectl-pgo: bootstrapping replica $instance from backup $set in the repository"
    if pgbackrest --stanza={{ shq .Stanza }} --type=standby --delta --set="$set" --target-timeline=latest restore; then
      echo "kubectl-pgo: replica $instance was bootstrapped from backup $set"
      return
    fi
    echo "kubectl-pgo: backup $set cannot be restored; copying the primary with pg_basebackup instead"
    find "$pgdata" -mindepth 1 -delete
  fi
  echo "kubectl-pgo: bootstrapping replica $instance with pg_basebackup of the primary ({{ .Service }})"
  until PGPASSFILE={{ shq .ReplicationPassFile }} pg_basebackup --pgdata="$pgdata" --wal-method=stream --checkpoint=fast --no-password \
      --dbname="host={{ .Service }} port={{ .PostgresPort }} user={{ .ReplicationUser }} sslmode=verify-full sslrootcert={{ .CAFile }}"; do
    echo "kubectl-pgo: pg_basebackup failed; trying again in 5s"
    find "$pgdata" -mindepth 1 -delete
    sleep 5
  done
  echo "kubectl-pgo: replica $instance was bootstrapped with pg_basebackup"
}

# rewind makes a former primary (stopped by a failover, or lost with its
# node) follow the new one: pg_rewind undoes what it wrote after the new
# primary's timeline forked off, and says "no rewind required" when it
# stopped cleanly before the promotion. The replication role may run it:
# the primary grants it the functions pg_rewind reads files with.
rewind() {
  local conninfo="host={{ .Service }} port={{ .PostgresPort }} user={{ .ReplicationUser }} dbname=postgres sslmode=verify-full sslrootcert={{ .CAFile }}"
  local i
  for i in $(seq 60); do
    if [ "$(PGPASSFILE={{ shq .ReplicationPassFile }} psql -XAtq -d "$conninfo" -c 'SELECT NOT pg_is_in_recovery()' 2>/dev/null)" = t ]; then
      PGPASSFILE={{ shq .ReplicationPassFile }} pg_rewind --target-pgdata="$pgdata" --source-server="$conninfo" --progress
      return
    fi
    echo "kubectl-pgo: waiting for the primary ({{ .Service }}) to accept writes before pg_rewind ($i)"
    sleep 5
  done
  return 1
}

{{ if .Standby -}}
# A bootstrap from the source that was interrupted starts over: pgBackRest
# may have restored PG_VERSION already.
if [ -e "$pgdata.bootstrapping" ]; then
  rm -f "$pgdata/PG_VERSION"
fi
# An empty data directory (a new replica) is restored from the source's
# newest backup, in standby mode.
if [ ! -s "$pgdata/PG_VERSION" ]; then
  touch "$pgdata.bootstrapping"
  kind=replica
  if [ "$instance" = "$primary" ]; then kind=instance; fi
  mkdir -p "$pgdata"
  find "$pgdata" -mindepth 1 -delete
  echo "kubectl-pgo: bootstrapping $kind $instance from the newest backup of cluster {{ .Standby.Source }}"
  bash {{ .StandbyCommand }} --stanza={{ .Stanza }} --type=standby --delta --target-timeline=latest restore
  touch "$pgdata/standby.signal"
  rm -f "$pgdata.bootstrapping"
  echo "kubectl-pgo: $kind $instance was bootstrapped from the newest backup of cluster {{ .Standby.Source }}"
fi
{{ end -}}
if [ ! -s "$pgdata/PG_VERSION" ]; then
  if [ "$role" = primary ]; then
    echo "kubectl-pgo: initializing a new data directory in $pgdata"
    initdb --pgdata="$pgdata" --username={{ shq .Superuser }} --pwfile={{ shq .PasswordFile }} \
      --auth-local=peer --auth-host=scram-sha-256 --data-checksums --encoding=UTF8 --locale=C
  else
    bootstrap
    touch "$pgdata/standby.signal"
  fi
elif [ "$role" = replica ] && [ ! -e "$pgdata/standby.signal" ]; then
  # A data directory without standby.signal was a primary's.
  state=$(pg_controldata "$pgdata" | sed -n 's/^Database cluster state: *//p')
  echo "kubectl-pgo: instance $instance was a primary (its data directory is \"$state\"); rewinding it to follow the primary"
  if rewind; then
    echo "kubectl-pgo: replica $instance rejoined with pg_rewind"
  else
    echo "kubectl-pgo: pg_rewind failed; bootstrapping replica $instance anew"
    bootstrap
  fi
  touch "$pgdata/standby.signal"
fi

# PostgreSQL refuses a data directory that others can write to, and fsGroup
# may have made it group-writable.
chmod 0700 "$pgdata"

# Idempotent: a restart, or a restored data directory, has the line already.
if ! grep -qxF "$include" "$pgdata/postgresql.conf"; then
  echo "kubectl-pgo: including {{ .PostgresConf }} from $pgdata/postgresql.conf"
  printf '\n# Added by kubectl-pgo: the settings it manages.\n%s\n' "$include" >>"$pgdata/postgresql.conf"
fi

{{ if .Standby -}}
if [ "$role" = standby ]; then
  touch "$pgdata/standby.signal"
{{- if .StandbyHost }}
  # Streaming from the source's database too, over TLS, as its replication
  # role; the archive when streaming is behind.
  umask 077
  printf '*:*:*:%s:%s\n' {{ shq .ReplicationUser }} "$(cat {{ shq .StandbyPasswordFile }})" >{{ shq .StandbyPassFile }}
  umask 022
  conninfo="host={{ .StandbyHost }} port={{ .StandbyPort }} user={{ .ReplicationUser }} passfile={{ .StandbyPassFile }} sslmode=verify-full sslrootcert={{ .StandbyCAFile }}"
{{- else }}
  # The source's archive only: no streaming.
  conninfo=
{{- end }}
  # The archive is read with the source's configuration; nothing is archived
  # while in recovery (archive_mode=on).
  exec postgres -D "$pgdata" -c cluster_name="$instance" -c "primary_conninfo=$conninfo" -c recovery_target_timeline=latest \
    -c "restore_command=bash {{ .StandbyCommand }} --stanza={{ .Stanza }} archive-get %f \"%p\""
fi
{{ end -}}
if [ "$role" = replica ]; then
  touch "$pgdata/standby.signal"
  # The archive, when streaming is behind; only a replica has it, so that
  # no recovery setting stays in a primary's configuration.
  exec postgres -D "$pgdata" -c cluster_name="$instance" \
    -c "restore_command=pgbackrest --stanza={{ .Stanza }} archive-get %f \"%p\""
else
  # The primary was made so by a failover, which promoted it first.
  rm -f "$pgdata/standby.signal"
  # The replication role, with the password of the Secret, once the
  # database accepts writes: also after a restore to a time before the
  # role existed. Its commits are made only when the data directory lacks
  # the marker of this very setup (the SQL and the password): a restore or
  # a restart adds no commit of its own to the new timeline, where a
  # point-in-time target would stop before it.
  (
    marker="$pgdata/kubectl-pgo-replication-role"
    sql=$(cat <<'SQL'
SELECT format('CREATE ROLE %I WITH REPLICATION LOGIN', :'user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
ALTER ROLE :"user" WITH REPLICATION LOGIN PASSWORD :'password';
GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO :"user";
GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO :"user";
GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO :"user";
GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO :"user";
SQL
)
    setup=$({ printf '%s\n' "$sql" {{ shq .ReplicationUser }}; cat {{ shq .ReplicationPasswordFile }}; } | sha256sum | cut -d' ' -f1)
    until [ "$(psql -XAtq -d postgres -c 'SELECT NOT pg_is_in_recovery()' 2>/dev/null)" = t ]; do sleep 2; done
    if [ "$(cat "$marker" 2>/dev/null)" != "$setup" ]; then
      printf '%s\n' "$sql" | psql -XAtq -d postgres -v ON_ERROR_STOP=1 -v user={{ shq .ReplicationUser }} -v password="$(cat {{ shq .ReplicationPasswordFile }})" >/dev/null &&
        printf '%s\n' "$setup" > "$marker.tmp" && mv "$marker.tmp" "$marker" || exit 1
    fi
    echo "kubectl-pgo: the replication role {{ .ReplicationUser }} is ready"
  ) &
fi

exec postgres -D "$pgdata" -c cluster_name="$instance"
