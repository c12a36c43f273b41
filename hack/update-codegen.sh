#!/usr/bin/env bash
# Regenerates every zz_generated file and generated/ from the tagged types in apis/ and
# pkg/apis/ with k8s.io/code-generator's kube_codegen.sh, at the version in go.mod, then the
# protobuf of apis/ with hack/update-protobuf.sh (which needs protoc).
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
MODULE=$(go list -m)
# A fresh machine has not downloaded code-generator yet (no package imports it), and go list
# -m names no directory for a module that is not in the module cache.
go mod download k8s.io/code-generator
CODEGEN_PKG=$(go list -m -f '{{.Dir}}' k8s.io/code-generator)
export GOBIN="${GOBIN:-$ROOT/_output/codegen-bin}"
mkdir -p "$GOBIN"
export PATH="$GOBIN:$PATH"

# shellcheck source=/dev/null
source "${CODEGEN_PKG}/kube_codegen.sh"
# Our types embed these; their generated code lives in the read-only module cache.
KUBE_CODEGEN_READONLY_PKGS+=(
  k8s.io/api/core/v1
  k8s.io/api/apps/v1
  k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1
)
BOILERPLATE="$ROOT/hack/boilerplate.go.txt"

kube::codegen::gen_helpers --boilerplate "$BOILERPLATE" "$ROOT/apis"
kube::codegen::gen_helpers --boilerplate "$BOILERPLATE" "$ROOT/pkg/apis"

kube::codegen::gen_openapi \
  --output-dir "$ROOT/generated/openapi" \
  --output-pkg "$MODULE/generated/openapi" \
  --output-model-name-file zz_generated.model_name.go \
  --report-filename "$ROOT/hack/api-rules-violations.list" \
  --update-report \
  --extra-pkgs k8s.io/api/core/v1 \
  --extra-pkgs k8s.io/api/apps/v1 \
  --extra-pkgs k8s.io/apimachinery/pkg/util/intstr \
  --extra-pkgs k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1 \
  --boilerplate "$BOILERPLATE" \
  "$ROOT/apis"

kube::codegen::gen_client \
  --with-watch \
  --prefers-protobuf \
  --with-applyconfig \
  --applyconfig-openapi-schema <(go run "$MODULE/generated/openapi/cmd/models-schema") \
  --output-dir "$ROOT/generated" \
  --output-pkg "$MODULE/generated" \
  --boilerplate "$BOILERPLATE" \
  "$ROOT/apis"

# generated.proto and generated.pb.go in every apis/ version, so the types serialize as
# application/vnd.kubernetes.protobuf. Needs protoc; see hack/update-protobuf.sh.
"$ROOT/hack/update-protobuf.sh"
