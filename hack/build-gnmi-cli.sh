#!/usr/bin/env bash
# Build gnmi_cli, the reference gNMI client of github.com/openconfig/gnmi, from the Go module
# proxy at a pinned version. The tests use it to check the lab's gNMI service against a
# client whose protocol stack we did not write. Cached by version under
# ${INTENTLOOP_CACHE:-$HOME/.cache/intentloop} (like hack/build-k8s.sh); prints the binary.
set -euo pipefail
GNMI_VERSION="v0.14.1"
CACHE="${INTENTLOOP_CACHE:-$HOME/.cache/intentloop}"
OUT="$CACHE/gnmi-cli/$GNMI_VERSION"

if [ -x "$OUT/gnmi_cli" ]; then echo "$OUT/gnmi_cli"; exit 0; fi

command -v go >/dev/null || { echo "go is required to build gnmi_cli" >&2; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0
rm -rf "$OUT.tmp" && mkdir -p "$OUT.tmp"
start=$(date +%s)
echo "[build] gnmi_cli $GNMI_VERSION (cached afterwards)" >&2
GOBIN="$OUT.tmp" go install -trimpath -ldflags "-s -w" "github.com/openconfig/gnmi/cmd/gnmi_cli@$GNMI_VERSION"
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
echo "[build] gnmi_cli built in $(( $(date +%s) - start ))s into $OUT" >&2
echo "$OUT/gnmi_cli"
