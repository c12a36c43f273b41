#!/usr/bin/env bash
# Fails when the generated code differs from what hack/update-codegen.sh makes now. It
# regenerates in a copy of the tree, so the working tree is never touched.
set -o errexit -o nounset -o pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$ROOT"
git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} "$TMP/" 2>/dev/null || true
(cd "$TMP" && GOBIN="$ROOT/_output/codegen-bin" hack/update-codegen.sh >/dev/null)
status=0
for dir in apis pkg/apis generated; do
  if ! diff -r -q "$ROOT/$dir" "$TMP/$dir" >/dev/null; then
    echo "generated code in $dir is stale; run hack/update-codegen.sh:"
    diff -r "$ROOT/$dir" "$TMP/$dir" | head -40 || true
    status=1
  fi
done
[ "$status" = 0 ] && echo "generated code is current"
exit $status
