#!/usr/bin/env bash
# Prints the krew manifest of a release: krew-manifest.yaml with its version set and its
# platforms written from the archives in DIST_DIR (built by goreleaser or hack/dist.sh).
#   hack/krew-manifest.sh VERSION DIST_DIR > pgo.yaml
# Environment:
#   PLATFORMS  the os/arch pairs to list (default: the six of a release); each needs its archive
#   URI_BASE   where the archives are downloaded from (default: the GitHub release of VERSION);
#              test/krew points it at a server on 127.0.0.1
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

usage() { echo "usage: $0 VERSION DIST_DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
version=$1 dist=$2
# krew requires a v-prefixed semantic version.
[[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] ||
  { echo "$0: VERSION must look like v1.2.3 or v1.2.3-rc.1, got '$version'" >&2; exit 2; }
[ -d "$dist" ] || { echo "$0: $dist is not a directory" >&2; exit 1; }
base=${URI_BASE:-https://github.com/kubectl-pgo/kubectl-pgo/releases/download/$version}
read -r -a platforms <<<"${PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64}"

template=$root/krew-manifest.yaml
grep -q '^  platforms:$' "$template" || { echo "$0: $template has no '  platforms:' line" >&2; exit 1; }

# Everything up to and including `platforms:`, with the version replaced.
sed -n '1,/^  platforms:$/p' "$template" | sed "s/^  version: .*/  version: $version/"

for platform in "${platforms[@]}"; do
  os=${platform%/*} arch=${platform#*/}
  exe=kubectl-pgo ext=tar.gz
  if [ "$os" = windows ]; then exe=kubectl-pgo.exe ext=zip; fi
  archive=kubectl-pgo_${version#v}_${os}_$arch.$ext
  [ -f "$dist/$archive" ] || { echo "$0: $dist/$archive is missing: build it first (goreleaser or hack/dist.sh)" >&2; exit 1; }
  sha=$(sha256sum "$dist/$archive" | cut -d' ' -f1)
  cat <<EOF
  - selector:
      matchLabels:
        os: $os
        arch: $arch
    uri: $base/$archive
    sha256: "$sha"
    files:
    - from: $exe
      to: .
    - from: LICENSE
      to: .
    bin: $exe
EOF
done
