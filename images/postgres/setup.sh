#!/bin/sh
# Turns a Debian root (debian:SUITE-slim, or a debootstrap --variant=minbase tree) into the
# postgres image of major $PG_MAJOR. Runs as root inside it: by the Dockerfile, and chrooted by
# hack/cluster/images.sh. Reads the package list from packages.txt next to this script.
set -eu
here=$(dirname "$0")
: "${PG_MAJOR:?PG_MAJOR must name the PostgreSQL major, e.g. 17}"
packages=$(grep -v '^[[:space:]]*#' "$here/packages.txt" | sed "s/PG_MAJOR/$PG_MAJOR/g" | tr -s '[:space:]' ' ')
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8

# No docs, man pages, translations or locale sources. Copyright files stay, and so do PostgreSQL's
# own man pages (its update-alternatives calls need them). Set before installing, so dpkg never
# unpacks them; what the base system already has is deleted at the end.
cat >/etc/dpkg/dpkg.cfg.d/90-kpgo-nodoc <<'CFG'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-exclude=/usr/share/lintian/*
path-exclude=/usr/share/i18n/locales/*
path-exclude=/usr/share/i18n/charmaps/*
CFG
# Packages must not start services while the image is built.
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d

# The postgres user and group have uid/gid 26 (as on Red Hat), so pods run with runAsUser: 26 and
# fsGroup: 26. Debian gives gid 26 to "tape": move it away first. Created before the packages,
# so postgresql-common keeps it instead of adding its own.
taken=$(getent group 26 | cut -d: -f1)
if [ -n "$taken" ] && [ "$taken" != postgres ]; then
  gid=999; while getent group "$gid" >/dev/null; do gid=$((gid - 1)); done
  groupmod -g "$gid" "$taken"
fi
getent group postgres >/dev/null || groupadd -g 26 postgres
getent passwd postgres >/dev/null || useradd -u 26 -g 26 -M -d /var/lib/postgresql -s /bin/bash -c "PostgreSQL administrator" postgres
[ "$(id -u postgres):$(id -g postgres)" = 26:26 ] || { echo "postgres is not 26:26" >&2; exit 1; }

. /etc/os-release
if [ ! -e /etc/apt/sources.list.d/debian.sources ]; then
  # debootstrap writes only "$VERSION_CODENAME main"; add the updates and security suites.
  cat >/etc/apt/sources.list.d/debian.sources <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: $VERSION_CODENAME $VERSION_CODENAME-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $VERSION_CODENAME-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  rm -f /etc/apt/sources.list
fi
# APT_NO_VALID_UNTIL=1 accepts Release files past their Valid-Until date: Debian testing's are
# valid for a week only, and a mirror that serves a snapshot of it is past that date (images.sh sets
# it for forky). The files are still verified by their signatures.
if [ "${APT_NO_VALID_UNTIL:-}" = 1 ]; then
  echo 'Acquire::Check-Valid-Until "false";' >/etc/apt/apt.conf.d/90-kpgo-valid-until
fi
apt-get update -q
apt-get upgrade -qy
# Install postgresql-common first and tell it not to create the "main" cluster.
apt-get install -qy --no-install-recommends postgresql-common
sed -ri 's/^#?[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf
grep -q '^create_main_cluster = false' /etc/postgresql-common/createcluster.conf
# shellcheck disable=SC2086
apt-get install -qy --no-install-recommends $packages
if [ -d "/etc/postgresql/$PG_MAJOR/main" ]; then pg_dropcluster "$PG_MAJOR" main; fi

# Directories the postgres user (26) writes to.
for d in /etc/pgbackrest /etc/pgbackrest/conf.d /var/log/pgbackrest /var/lib/pgbackrest \
         /var/spool/pgbackrest /tmp/pgbackrest /var/run/postgresql /var/lib/postgresql; do
  mkdir -p "$d"; chown 26:26 "$d"
done
chmod 750 /var/log/pgbackrest /var/lib/pgbackrest /var/spool/pgbackrest /tmp/pgbackrest
chmod 2775 /var/run/postgresql

# Slim down: apt caches and lists, docs, man pages, translations, logs.
apt-get clean
rm -rf /etc/apt/apt.conf.d/90-kpgo-valid-until /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/lib/dpkg/*-old \
       /usr/share/man/* /usr/share/info/* /usr/share/locale/* /usr/share/lintian/* \
       /usr/sbin/policy-rc.d
find /usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
find /usr/share/doc -mindepth 1 -type d -empty -delete
find /var/log -type f -delete
# Locales: only C.UTF-8, built into libc-bin (/usr/lib/locale/C.utf8). The sources locale-gen needs
# for others are excluded above: a derived image that wants one drops /etc/dpkg/dpkg.cfg.d/90-kpgo-nodoc
# and reinstalls locales.
