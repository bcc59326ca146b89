# The upgrade Job of kubectl pgo upgrade: pg_upgrade of the data directory
# $PGDATA from PostgreSQL $FROM to $TO, while the database StatefulSet is
# scaled to zero. Its image has both majors' binaries (the old one's own
# libraries in $LD_LIBRARY_PATH). Until pg_upgrade changes the old data
# directory, a failure puts it back in place as it was.
set -euo pipefail
old_bin=/usr/lib/postgresql/$FROM/bin new_bin=/usr/lib/postgresql/$TO/bin
old=$PGDATA.pg$FROM new=$PGDATA.pg$TO

version=$(cat "$PGDATA/PG_VERSION" 2>/dev/null || true)
if [ "$version" = "$TO" ]; then
  echo "kubectl-pgo: $PGDATA is PostgreSQL $TO already (an earlier upgrade ran this far)"
  exit 0
fi
if [ "$version" != "$FROM" ]; then
  echo "kubectl-pgo: $PGDATA is PostgreSQL ${version:-(none)}, not $FROM: nothing was changed" >&2
  exit 1
fi
for bin in "$old_bin/postgres" "$new_bin/pg_upgrade" "$new_bin/initdb"; do
  [ -x "$bin" ] || { echo "kubectl-pgo: the image has no $bin: give an upgrade image with PostgreSQL $FROM and $TO" >&2; exit 1; }
done
echo "kubectl-pgo: $("$old_bin/postgres" --version) to $("$new_bin/postgres" --version), --$MODE"

put_back() {
  # pg_upgrade renames global/pg_control once the old directory may be
  # linked into the new one: from then on the old one must not start.
  if [ -d "$old" ] && [ ! -e "$old/global/pg_control.old" ]; then
    rm -rf "$new"
    mv "$old" "$PGDATA"
    printf '%s\n' "$INCLUDE" >>"$PGDATA/postgresql.conf"
    echo "kubectl-pgo: the upgrade failed; the data directory of PostgreSQL $FROM is back in place, unchanged" >&2
  else
    echo "kubectl-pgo: the upgrade failed after pg_upgrade changed the old data directory: restore the cluster from its backup (kubectl pgo restore)" >&2
  fi
}
rm -rf "$new"
mv "$PGDATA" "$old"
trap put_back EXIT

# The settings kubectl-pgo includes name a file of the database pod (its
# archive_command among them): the old server runs without them here, and
# the new data directory gets the line again when the database starts.
grep -vxF "$INCLUDE" "$old/postgresql.conf" >"$old/postgresql.conf.kpgo" || true
mv "$old/postgresql.conf.kpgo" "$old/postgresql.conf"

checksums=
if "$old_bin/pg_controldata" "$old" | grep -q '^Data page checksum version: *[1-9]'; then checksums=--data-checksums; fi
# PostgreSQL 18's initdb turns checksums on unless told not to.
if [ -z "$checksums" ] && [ "$TO" -ge 18 ]; then checksums=--no-data-checksums; fi
echo "kubectl-pgo: initializing the data directory of PostgreSQL $TO"
"$new_bin/initdb" --pgdata="$new" --username="$SUPERUSER" --auth-local=peer --auth-host=scram-sha-256 \
  $checksums --encoding=UTF8 --locale=C >/dev/null

cd /tmp
echo "kubectl-pgo: pg_upgrade --check"
"$new_bin/pg_upgrade" --old-bindir="$old_bin" --new-bindir="$new_bin" --old-datadir="$old" --new-datadir="$new" \
  --username="$SUPERUSER" --socketdir=/tmp --old-options="-c jit=off -c archive_mode=off" --"$MODE" --check
echo "kubectl-pgo: pg_upgrade"
"$new_bin/pg_upgrade" --old-bindir="$old_bin" --new-bindir="$new_bin" --old-datadir="$old" --new-datadir="$new" \
  --username="$SUPERUSER" --socketdir=/tmp --old-options="-c jit=off -c archive_mode=off" --"$MODE"

trap - EXIT
# The new data directory takes the old one's place. The old one is not
# kept: after --link it shares the data files and must never start again;
# the backups of PostgreSQL $FROM stay in the repository.
mv "$new" "$PGDATA"
rm -rf "$old" /tmp/delete_old_cluster.sh
echo "kubectl-pgo: $PGDATA is PostgreSQL $(cat "$PGDATA/PG_VERSION") now"
