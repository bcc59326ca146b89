#!/usr/bin/env bash
# Builds the container images of the local cluster as OCI image archives, without any registry or
# docker: the sandbox image from hack/cluster/pause, and one postgres image per PostgreSQL major
# (PG_MAJORS: each on the Debian suite that ships it) from debootstrap and images/postgres (the
# same setup.sh and packages.txt its Dockerfile uses). Each archive is
# $IMAGES_DIR/<name>-<key>.tar, key = hash of its inputs, so a warm cache is a no-op and an edit
# rebuilds. $IMAGES_DIR/current.list has "<tar> <image name>" lines; load them with
#   ctr -n k8s.io images import <tar>
# Usage: images.sh          build what is missing, print current.list
#        images.sh --print  print current.list
source "$(dirname "$0")/lib.sh"

REPO=$(cd "$(dirname "$0")/../.." && pwd)
SELF="$REPO/hack/cluster/images.sh"
PG_SRC="$REPO/images/postgres"
PAUSE_IMAGE=registry.k8s.io/pause:3.10
PG_IMAGE_REPO=ghcr.io/kubectl-pgo/postgres
# The image of kubectl pgo upgrade --to=MAJOR: MAJOR's image with the binaries of each older major.
UPGRADE_IMAGE_REPO=ghcr.io/kubectl-pgo/postgres-upgrade
# MAJOR:SUITE: PostgreSQL 15 and pgBackRest 2.45 on bookworm, 17 and 2.55 on trixie, 18 and 2.60
# on forky (Debian testing; debootstrap has no script of its own for it before 1.0.141: sid's).
PG_MAJORS="${PG_MAJORS:-15:bookworm 17:trixie 18:forky}"
# Suites whose Release files expire within days (Debian testing): the mirror may serve them past
# that date, and apt would refuse them (setup.sh, APT_NO_VALID_UNTIL).
SHORT_LIVED_SUITES="forky"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
LIST="$IMAGES_DIR/current.list"
WORK_ROOT="$CACHE_DIR/tmp"
WORK=""

# input_key FILE...: short hash of the files' contents.
input_key() { cat "$@" | sha256sum | cut -c1-12; }

# unmount_under DIR: unmounts everything mounted below DIR, deepest first; fails if any remain.
mounts_under() { awk -v p="$1/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo | sort -r; }
unmount_under() {
  local m
  for m in $(mounts_under "$1"); do umount "$m" 2>/dev/null || umount -l "$m" || true; done
  [ -z "$(mounts_under "$1")" ]
}

# remove_work DIR: never rm -rf a tree that still has something (proc, a bind of /dev) mounted in it.
remove_work() {
  [ -n "$1" ] && [ -d "$1" ] || return 0
  if unmount_under "$1"; then rm -rf "$1"; else log "mounts remain under $1, not removing it"; fi
}
trap 'remove_work "$WORK"' EXIT
trap 'exit 130' INT TERM

# blob FILE BLOBS: moves FILE into the BLOBS dir under its digest, prints "digest size".
blob() {
  local d s; d=$(sha256sum "$1" | cut -d' ' -f1); s=$(stat -c %s "$1"); mv "$1" "$2/$d"; echo "$d $s"
}

new_work() { mkdir -p "$WORK_ROOT"; WORK=$(mktemp -d "$WORK_ROOT/$1.XXXXXX"); }

# oci_archive ROOTFS OUT IMAGE CONFIG ANNOTATIONS: packs ROOTFS as the single layer of an OCI
# image layout and writes it as a tar to OUT (atomically). CONFIG is the JSON of the image
# config's "config" object, ANNOTATIONS extra JSON members ('"k":"v",...') for the manifest.
oci_archive() {
  local rootfs=$1 out=$2 image=$3 config=$4 annotations=${5:+$5,}
  local oci; oci=$(mktemp -d "$WORK/oci.XXXXXX")
  local blobs="$oci/blobs/sha256" layer="$oci/layer.tar"
  mkdir -p "$blobs"
  # The layer: the rootfs' entries by name (no "./" entry that would set the container's / mode).
  (cd "$rootfs" && find . -mindepth 1 -maxdepth 1 -printf '%P\0' | LC_ALL=C sort -z |
    tar --null -T - --sort=name --numeric-owner -cf "$layer")
  local diff_id; diff_id=$(sha256sum "$layer" | cut -d' ' -f1)
  gzip -n "$layer"
  local lay; read -r -a lay <<<"$(blob "$layer.gz" "$blobs")"

  printf '{"created":"%s","architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"hack/cluster/images.sh"}]}' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$config" "$diff_id" >"$oci/config.json"
  local cfg; read -r -a cfg <<<"$(blob "$oci/config.json" "$blobs")"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}],"annotations":{%s"org.opencontainers.image.ref.name":"%s"}}' \
    "${cfg[0]}" "${cfg[1]}" "${lay[0]}" "${lay[1]}" "$annotations" "${image##*:}" >"$oci/manifest.json"
  local man; read -r -a man <<<"$(blob "$oci/manifest.json" "$blobs")"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "${man[0]}" "${man[1]}" "$image" "${image##*:}" >"$oci/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$oci/oci-layout"
  tar -C "$oci" --owner=0 --group=0 --numeric-owner -cf "$out.tmp" oci-layout index.json blobs
  mv "$out.tmp" "$out"
  rm -rf "$oci"
}

# prune_old NAME OUT: drops older archives of NAME once OUT is in place.
prune_old() {
  local f
  for f in "$IMAGES_DIR/$1"-*.tar; do [ "$f" = "$2" ] || [ ! -e "$f" ] || rm -f "$f"; done
}

build_pause() {
  local out=$1
  if [ -s "$out" ]; then log "pause: cached $out"; return; fi
  local start=$SECONDS
  new_work pause
  mkdir -m 755 "$WORK/rootfs"
  log "pause: go build hack/cluster/pause (static)"
  (cd "$REPO" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags "-s -w" -o "$WORK/rootfs/pause" ./hack/cluster/pause)
  oci_archive "$WORK/rootfs" "$out" "$PAUSE_IMAGE" \
    '{"User":"65535:65535","Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Entrypoint":["/pause"]}'
  remove_work "$WORK"; WORK=""
  prune_old pause "$out"
  log "pause: built $out ($(du -h "$out" | cut -f1)) in $((SECONDS - start))s"
}

# postgres_config MAJOR: the image config comes from the Dockerfile (ENV, USER, ENTRYPOINT, with
# ${PG_MAJOR} replaced), which must install through packages.txt and setup.sh, so the docker build
# and this one cannot drift apart.
postgres_config() {
  local major=$1 df="$PG_SRC/Dockerfile"
  grep -qx 'COPY packages.txt setup.sh /tmp/kpgo-setup/' "$df" && grep -q '^RUN PG_MAJOR=${PG_MAJOR} /tmp/kpgo-setup/setup.sh' "$df" ||
    die "$df must COPY packages.txt setup.sh /tmp/kpgo-setup/ and RUN PG_MAJOR=\${PG_MAJOR} /tmp/kpgo-setup/setup.sh (shared with images.sh)"
  local env user entrypoint
  env=$(sed -n 's/^ENV \([A-Z_]*=[^ "]*\)$/"\1"/p' "$df" | sed "s/\${PG_MAJOR}/$major/g" | paste -sd,)
  user=$(sed -n 's/^USER \([0-9:]*\)$/\1/p' "$df")
  entrypoint=$(sed -n 's/^ENTRYPOINT \(\[.*\]\)$/\1/p' "$df")
  [ -n "$env" ] && [ -n "$user" ] && [ -n "$entrypoint" ] || die "$df: need ENV NAME=value, USER uid and ENTRYPOINT [json] lines"
  printf '{"User":"%s","Env":[%s],"Entrypoint":%s}' "$user" "$env" "$entrypoint"
}

# build_postgres OUT MAJOR SUITE: the image of PostgreSQL MAJOR on Debian SUITE.
build_postgres() {
  local out=$1 major=$2 suite=$3 config; config=$(postgres_config "$major")
  local image="$PG_IMAGE_REPO:$major" name="postgres$major"
  if [ -s "$out" ]; then log "$name: cached $out"; return; fi
  require_cmds debootstrap:debootstrap chroot:coreutils mount:mount
  local start=$SECONDS buildlog="$IMAGES_DIR/$name-build.log" script=/usr/share/debootstrap/scripts/$suite
  [ -e "$script" ] || script=/usr/share/debootstrap/scripts/sid
  new_work "$name"
  local rootfs="$WORK/rootfs"
  : >"$buildlog"
  log "$name: debootstrap --variant=minbase $suite (a few minutes; output in $buildlog)"
  # One package cache per suite: debootstrap would take another suite's packages of the same name.
  mkdir -p "$CACHE_DIR/debootstrap-debs/$suite"
  debootstrap --variant=minbase --cache-dir="$CACHE_DIR/debootstrap-debs/$suite" "$suite" "$rootfs" "$DEBIAN_MIRROR" "$script" >>"$buildlog" 2>&1 ||
    { tail -n 20 "$buildlog" >&2; die "debootstrap failed, see $buildlog"; }
  log "$name: installing packages.txt in the chroot (images/postgres/setup.sh)"
  mkdir -p "$rootfs/tmp/kpgo-setup"
  cp "$PG_SRC/packages.txt" "$PG_SRC/setup.sh" "$rootfs/tmp/kpgo-setup/"
  cp -L /etc/resolv.conf "$rootfs/etc/resolv.conf"
  # Package scripts want /proc; the EXIT trap unmounts it if anything fails.
  mount -t proc proc "$rootfs/proc"
  chroot "$rootfs" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin PG_MAJOR="$major" \
    APT_NO_VALID_UNTIL="$(case " $SHORT_LIVED_SUITES " in *" $suite "*) echo 1 ;; esac)" \
    /bin/sh /tmp/kpgo-setup/setup.sh >>"$buildlog" 2>&1 || { tail -n 30 "$buildlog" >&2; die "setup.sh failed in the chroot, see $buildlog"; }
  umount "$rootfs/proc"
  verify_postgres_rootfs "$rootfs" "$major"
  local pgv brv
  pgv=$(chroot "$rootfs" dpkg-query -W -f '${Version}' "postgresql-$major")
  brv=$(chroot "$rootfs" dpkg-query -W -f '${Version}' pgbackrest)
  # What the runtime provides (devices, DNS, hostname) or the build left behind stays out.
  unmount_under "$rootfs" || die "mounts remain under $rootfs"
  rm -rf "$rootfs/tmp/kpgo-setup" "${rootfs:?}"/dev/* "$rootfs"/var/cache/apt/archives/partial
  : >"$rootfs/etc/resolv.conf"; echo localhost >"$rootfs/etc/hostname"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$rootfs/etc/hosts"
  local labels="\"org.opencontainers.image.version\":\"$pgv\",\"io.kubectl-pgo.postgres.version\":\"$pgv\",\"io.kubectl-pgo.pgbackrest.version\":\"$brv\",\"org.opencontainers.image.base.name\":\"debian:$suite (debootstrap minbase)\""
  log "$name: packing the image (postgresql-$major $pgv, pgbackrest $brv)"
  oci_archive "$rootfs" "$out" "$image" "${config%\}},\"Labels\":{$labels}}" "$labels"
  remove_work "$WORK"; WORK=""
  prune_old "$name" "$out"
  log "$name: built $out ($(du -h "$out" | cut -f1)) in $((SECONDS - start))s"
}

# verify_postgres_rootfs ROOTFS MAJOR: the tools the pods use are there, postgres is 26:26, no
# cluster.
verify_postgres_rootfs() {
  local rootfs=$1 major=$2 path c pkg
  path=$(sed -n 's/^ENV PATH=//p' "$PG_SRC/Dockerfile" | sed "s/\${PG_MAJOR}/$major/g")
  for c in bash getent tini postgres initdb pg_ctl psql pg_dump pg_basebackup pgbackrest; do
    chroot "$rootfs" /usr/bin/env PATH="$path" sh -c "command -v $c" >/dev/null || die "postgres image: $c missing"
  done
  for pkg in $(grep -v '^[[:space:]]*#' "$PG_SRC/packages.txt" | sed "s/PG_MAJOR/$major/g"); do
    [ "$(chroot "$rootfs" dpkg-query -W -f '${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ] || die "postgres image: package $pkg not installed"
  done
  [ "$(chroot "$rootfs" id -u postgres):$(chroot "$rootfs" id -g postgres)" = 26:26 ] || die "postgres image: user postgres is not 26:26"
  [ ! -e "$rootfs/etc/postgresql/$major/main" ] || die "postgres image: the Debian 'main' cluster exists"
  log "postgres$major: $(chroot "$rootfs" "/usr/lib/postgresql/$major/bin/postgres" --version); $(chroot "$rootfs" pgbackrest version); $(chroot "$rootfs" id postgres)"
}

# unpack_layer TAR DIR: the root file system of one of these single-layer archives into DIR.
unpack_layer() {
  local oci; oci=$(mktemp -d "$WORK/oci.XXXXXX")
  tar -xf "$1" -C "$oci"
  local manifest layer
  manifest=$(grep -o '"digest":"sha256:[0-9a-f]*"' "$oci/index.json" | head -1 | grep -o '[0-9a-f]\{64\}')
  layer=$(grep -o '"layers":\[{[^]]*' "$oci/blobs/sha256/$manifest" | grep -o '[0-9a-f]\{64\}')
  tar -xzf "$oci/blobs/sha256/$layer" -C "$2"
  rm -rf "$oci"
}

# old_sonames ROOT MAJOR: the shared libraries that MAJOR's programs and modules in ROOT load (but
# the JIT's LLVM: pg_upgrade runs the old server with jit=off).
old_sonames() {
  local f
  for f in "$1/usr/lib/postgresql/$2"/bin/* "$1/usr/lib/postgresql/$2"/lib/*.so; do
    case $f in */llvmjit*) continue ;; esac
    chroot "$1" ldd "${f#"$1"}" 2>/dev/null | awk '$2 == "=>" {print $1}'
  done | sort -u
}

# build_upgrade OUT TO TO_TAR OLD:OLD_TAR...: the image of an upgrade to major TO: TO's image, with
# each older major's binaries and shared files, and in /usr/lib/postgresql/OLD/compat-lib the
# libraries they need that TO's system does not have (other sonames, so TO's programs never load
# them; the upgrade Job sets LD_LIBRARY_PATH to that directory).
build_upgrade() {
  local out=$1 to=$2 to_tar=$3; shift 3
  local name="postgres-upgrade$to" config; config=$(postgres_config "$to")
  if [ -s "$out" ]; then log "$name: cached $out"; return; fi
  local start=$SECONDS pair old oldroot so path olds=""
  new_work "$name"
  local rootfs="$WORK/rootfs"
  mkdir -m 755 "$rootfs"
  unpack_layer "$to_tar" "$rootfs"
  for pair in "$@"; do
    old=${pair%%:*}; oldroot="$WORK/root$old"
    mkdir -m 755 "$oldroot"
    unpack_layer "${pair#*:}" "$oldroot"
    cp -a "$oldroot/usr/lib/postgresql/$old" "$rootfs/usr/lib/postgresql/"
    cp -a "$oldroot/usr/share/postgresql/$old" "$rootfs/usr/share/postgresql/"
    mkdir -p "$rootfs/usr/lib/postgresql/$old/compat-lib"
    local have theirs
    have=$(chroot "$rootfs" ldconfig -p) theirs=$(chroot "$oldroot" ldconfig -p)
    for so in $(old_sonames "$oldroot" "$old"); do
      awk -v so="$so" '$1 == so {found = 1} END {exit !found}' <<<"$have" && continue
      path=$(awk -v so="$so" '$1 == so && !seen++ {print $NF}' <<<"$theirs")
      [ -n "$path" ] || die "$name: $so of PostgreSQL $old not found in its image"
      cp -L "$oldroot$path" "$rootfs/usr/lib/postgresql/$old/compat-lib/"
    done
    log "$name: $(chroot "$rootfs" env LD_LIBRARY_PATH="/usr/lib/postgresql/$old/compat-lib" "/usr/lib/postgresql/$old/bin/postgres" --version) beside PostgreSQL $to ($(ls "$rootfs/usr/lib/postgresql/$old/compat-lib" | wc -l) libraries of its own)"
    olds="$olds${olds:+,}$old"
    remove_work "$oldroot"
  done
  local labels="\"io.kubectl-pgo.postgres.version\":\"$to\",\"io.kubectl-pgo.upgrade.from\":\"$olds\""
  oci_archive "$rootfs" "$out" "$UPGRADE_IMAGE_REPO:$to" "${config%\}},\"Labels\":{$labels}}" "$labels"
  remove_work "$WORK"; WORK=""
  prune_old "$name" "$out"
  log "$name: built $out ($(du -h "$out" | cut -f1)) in $((SECONDS - start))s"
}

case "${1:-}" in
  --print)
    [ -s "$LIST" ] || die "no $LIST yet: run $0 first"
    cat "$LIST"; exit 0 ;;
  "") ;;
  -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) die "usage: $0 [--print]" ;;
esac

pause_key=$(input_key "$SELF" "$REPO/hack/cluster/pause/main.go")
pause_out="$IMAGES_DIR/pause-$pause_key.tar"

require_root "it runs debootstrap and chroot"
require_cmds tar:tar gzip:gzip sha256sum:coreutils flock:util-linux
[ -s "$pause_out" ] || require_cmds go:golang
mkdir -p "$IMAGES_DIR"
exec 9>"$IMAGES_DIR/.lock"
flock -n 9 || { log "another images.sh is running; waiting"; flock 9; }
# Work dirs of a killed run (none can be in use: we hold the lock).
for stale in "$WORK_ROOT"/*; do remove_work "$stale"; done

build_pause "$pause_out"
printf '%s %s\n' "$pause_out" "$PAUSE_IMAGE" >"$LIST.tmp"
olds=()
for pair in $PG_MAJORS; do
  major=${pair%%:*} suite=${pair#*:}
  pg_out="$IMAGES_DIR/postgres$major-$(input_key "$SELF" "$PG_SRC/packages.txt" "$PG_SRC/setup.sh" "$PG_SRC/Dockerfile" <(echo "$pair")).tar"
  build_postgres "$pg_out" "$major" "$suite"
  printf '%s %s\n' "$pg_out" "$PG_IMAGE_REPO:$major" >>"$LIST.tmp"
  # Every major after the first gets an upgrade image from the ones before it.
  if ((${#olds[@]})); then
    up_out="$IMAGES_DIR/postgres-upgrade$major-$(input_key "$SELF" <(echo "$pg_out ${olds[*]}")).tar"
    build_upgrade "$up_out" "$major" "$pg_out" "${olds[@]}"
    printf '%s %s\n' "$up_out" "$UPGRADE_IMAGE_REPO:$major" >>"$LIST.tmp"
  fi
  olds+=("$major:$pg_out")
done
# The archives of before one image per major (postgres-KEY.tar).
rm -f "$IMAGES_DIR"/postgres-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f].tar
mv "$LIST.tmp" "$LIST"
cat "$LIST"
