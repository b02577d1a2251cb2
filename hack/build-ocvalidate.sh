#!/usr/bin/env bash
# Build the lab's OpenConfig validator (hack/ocvalidate: ygot v0.36.0's generated exampleoc
# schema and ytypes validation) from the Go module proxy, cached by version under
# ${INTENTLOOP_CACHE:-$HOME/.cache/intentloop}. Prints the binary's path.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
YGOT_VERSION="v0.36.0"
CACHE="${INTENTLOOP_CACHE:-$HOME/.cache/intentloop}"
# The cache key names the ygot version and the program's own sources (a change rebuilds).
SRC_HASH="$(cat "$HERE/ocvalidate/go.mod" "$HERE/ocvalidate/go.sum" "$HERE/ocvalidate/main.go" | sha256sum | cut -c1-12)"
OUT="$CACHE/ocvalidate/ygot-$YGOT_VERSION-$SRC_HASH"
if [ -x "$OUT/ocvalidate" ]; then echo "$OUT/ocvalidate"; exit 0; fi
command -v go >/dev/null || { echo "go is required (Go >= 1.25) to build the OpenConfig validator" >&2; exit 1; }
mkdir -p "$OUT.tmp"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
start=$(date +%s)
echo "[build] ocvalidate (ygot $YGOT_VERSION exampleoc; the first build takes minutes)" >&2
( cd "$HERE/ocvalidate" && go build -trimpath -ldflags "-s -w" -o "$OUT.tmp/ocvalidate" . )
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
echo "[build] ocvalidate built in $(( $(date +%s) - start ))s into $OUT" >&2
echo "$OUT/ocvalidate"
