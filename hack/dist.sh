#!/usr/bin/env bash
# Builds release archives with only go, tar and zip: the same names, contents and version
# variables as .goreleaser.yaml, for machines without goreleaser and for test/krew.
#   hack/dist.sh VERSION DIST_DIR [OS/ARCH ...]
# VERSION is a v-prefixed semantic version (v0.1.0); the default platforms are the six of a
# release. DIST_DIR gets kubectl-pgo_<version without v>_<os>_<arch>.tar.gz (.zip on windows)
# and checksums.txt. COMMIT and DATE override the commit and build date stamped in the binary.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 VERSION DIST_DIR [OS/ARCH ...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
version=$1 dist=$2
shift 2
[[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] ||
  { echo "$0: VERSION must look like v1.2.3 or v1.2.3-rc.1, got '$version'" >&2; exit 2; }
platforms=("$@")
[ ${#platforms[@]} -gt 0 ] || platforms=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64)

module=github.com/kubectl-pgo/kubectl-pgo
commit=${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
date=${DATE:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}
ldflags="-s -w -X $module/pkg/version.Version=$version -X $module/pkg/version.GitCommit=$commit -X $module/pkg/version.BuildDate=$date"

mkdir -p "$dist"
dist=$(cd "$dist" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

archives=()
for platform in "${platforms[@]}"; do
  os=${platform%/*} arch=${platform#*/}
  exe=kubectl-pgo
  [ "$os" = windows ] && exe=kubectl-pgo.exe
  dir=$stage/${os}_$arch
  mkdir -p "$dir"
  echo "building $os/$arch" >&2
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "$ldflags" -o "$dir/$exe" ./cmd/kubectl-pgo
  cp LICENSE README.md "$dir/"
  name=kubectl-pgo_${version#v}_${os}_$arch
  # Fixed owners, order and times, so the same binary gives the same archive.
  if [ "$os" = windows ]; then
    rm -f "$dist/$name.zip"
    (cd "$dir" && TZ=UTC touch -d @0 "$exe" LICENSE README.md && zip -q -X "$dist/$name.zip" "$exe" LICENSE README.md)
    archives+=("$name.zip")
  else
    tar -C "$dir" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - "$exe" LICENSE README.md |
      gzip -n >"$dist/$name.tar.gz"
    archives+=("$name.tar.gz")
  fi
done
(cd "$dist" && sha256sum "${archives[@]}" >checksums.txt)
printf '%s\n' "${archives[@]/#/$dist/}"
