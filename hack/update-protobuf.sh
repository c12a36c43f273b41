#!/usr/bin/env bash
# Regenerates generated.proto and generated.pb.go in every public API package under apis/ with
# k8s.io/code-generator's go-to-protobuf (at the version in go.mod), so that our types serialize
# as Kubernetes protobuf (application/vnd.kubernetes.protobuf) the way k8s.io/api types do.
#
# Needs protoc (Debian/Ubuntu: apt-get install protobuf-compiler). When protoc is missing and the
# script runs as root with apt-get available, it installs protobuf-compiler itself.
# hack/update-codegen.sh runs this script; it can also be run on its own.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
MODULE=$(go list -m)
export GOBIN="${GOBIN:-$ROOT/_output/codegen-bin}"
mkdir -p "$GOBIN"
export PATH="$GOBIN:$PATH"
BOILERPLATE="$ROOT/hack/boilerplate.go.txt"

# Our packages to generate protobuf for.
PACKAGES=(
  "$MODULE/apis/apps/v1alpha1"
  "$MODULE/apis/apps/v1beta1"
  "$MODULE/apis/apps/v1beta2"
  "$MODULE/apis/iot/v1alpha1"
)
# Packages whose types ours embed or reference. The leading '-' makes go-to-protobuf read them
# (to name their messages) but never regenerate them: their generated.proto ships in the module
# cache and is imported from there.
REFERENCED_PACKAGES=(
  -k8s.io/apimachinery/pkg/util/intstr
  -k8s.io/apimachinery/pkg/api/resource
  -k8s.io/apimachinery/pkg/runtime/schema
  -k8s.io/apimachinery/pkg/runtime
  -k8s.io/apimachinery/pkg/apis/meta/v1
  -k8s.io/api/core/v1
  -k8s.io/api/apps/v1
  -k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1
)
# Modules holding the .proto files those packages' generated.proto import, and gogo.proto.
PROTO_MODULES=(
  k8s.io/api
  k8s.io/apimachinery
  k8s.io/apiextensions-apiserver
  github.com/gogo/protobuf
)

install_hint() {
  cat >&2 <<'EOF'
hack/update-protobuf.sh needs protoc, the protocol buffer compiler, on PATH. Install it with:
  Debian/Ubuntu:  sudo apt-get update && sudo apt-get install -y protobuf-compiler
  macOS:          brew install protobuf
  elsewhere:      a protoc-*.zip release of github.com/protocolbuffers/protobuf, its bin/ on PATH
EOF
}

ensure_protoc() {
  if command -v protoc >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "protoc not found; installing Debian's protobuf-compiler with apt-get" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler; } >&2 ||
      echo "apt-get install protobuf-compiler failed" >&2
  fi
  if ! command -v protoc >/dev/null 2>&1; then
    install_hint
    exit 1
  fi
}

ensure_protoc
echo "using $(protoc --version) from $(command -v protoc)" >&2

# The generators, and the goimports that go-to-protobuf runs, are built at the versions that
# k8s.io/code-generator's own go.mod pins, as kube_codegen.sh does for its generators.
CODEGEN_PKG=$(go list -m -f '{{.Dir}}' k8s.io/code-generator)
if [ -z "$CODEGEN_PKG" ] || [ ! -d "$CODEGEN_PKG" ]; then
  go mod download k8s.io/code-generator
  CODEGEN_PKG=$(go list -m -f '{{.Dir}}' k8s.io/code-generator)
fi
(
  cd "$CODEGEN_PKG"
  GO111MODULE=on go install \
    k8s.io/code-generator/cmd/go-to-protobuf \
    k8s.io/code-generator/cmd/go-to-protobuf/protoc-gen-gogo
  # goimports is installed on its own (@version): code-generator's go.sum does not cover
  # goimports' own dependencies (golang.org/x/telemetry), so it cannot be built in that module.
  GO111MODULE=on go install "golang.org/x/tools/cmd/goimports@$(go list -m -f '{{.Version}}' golang.org/x/tools)"
)

# go-to-protobuf expects a GOPATH-like tree: protoc finds every .proto by its Go import path
# under one root and writes generated.pb.go to <output-dir>/<import path>/. Build that tree out of
# symlinks: our module to the work tree (so the output lands here), the others to the module cache.
GOPATH_TREE=$(mktemp -d)
trap 'rm -rf "$GOPATH_TREE"' EXIT
SRC="$GOPATH_TREE/src"
mkdir -p "$SRC/$(dirname "$MODULE")"
ln -s "$ROOT" "$SRC/$MODULE"
for mod in "${PROTO_MODULES[@]}"; do
  dir=$(go list -m -f '{{.Dir}}' "$mod")
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    go mod download "$mod"
    dir=$(go list -m -f '{{.Dir}}' "$mod")
  fi
  mkdir -p "$SRC/$(dirname "$mod")"
  ln -s "$dir" "$SRC/$mod"
done
GOGO_DIR=$(readlink "$SRC/github.com/gogo/protobuf")

go-to-protobuf \
  --go-header-file "$BOILERPLATE" \
  --output-dir "$SRC" \
  --proto-import "$SRC" \
  --proto-import "$GOGO_DIR/protobuf" \
  --apimachinery-packages "$(IFS=,; echo "${REFERENCED_PACKAGES[*]}")" \
  --packages "$(IFS=,; echo "${PACKAGES[*]}")"
