#!/usr/bin/env bash
# Prepares the official clients' own test suites in build/clients (or $CLIENTS_DIR) from git
# checkouts of meilisearch-python and meilisearch-js: the releases for Meilisearch 1.50, their
# test dependencies from the package registries.
# usage: tests/clients/setup.sh PYTHON_REPO JS_REPO   (paths or URLs git can clone)
set -eu
[ $# -eq 2 ] || { echo "usage: $0 PYTHON_REPO JS_REPO" >&2; exit 64; }
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${CLIENTS_DIR:-$HERE/../../build/clients}
mkdir -p "$DIR"
# A mirror may lack the blob of a large dataset the suites do not read: the checkout goes on
# without it, as long as it reached the tag.
checkout() {
  git -C "$1" checkout -q -f "$2" || true
  [ "$(git -C "$1" rev-parse HEAD)" = "$(git -C "$1" rev-parse "$2^{commit}")" ]
}
if [ ! -d "$DIR/python" ]; then
  git clone -q --no-checkout "$1" "$DIR/python"
  checkout "$DIR/python" v0.43.0
  python3 -m venv "$DIR/python/.venv"
  "$DIR/python/.venv/bin/pip" install -q -e "$DIR/python" pytest pytest-cov
fi
if [ ! -d "$DIR/js" ]; then
  git clone -q --no-checkout "$2" "$DIR/js"
  checkout "$DIR/js" v0.60.0
  # the pnpm the suite names (else pnpm tries to switch to it, which needs it on PATH)
  pm=$(sed -n 's/.*"packageManager": *"\(pnpm@[^"]*\)".*/\1/p' "$DIR/js/package.json")
  npm install -q --prefix "$DIR/tools" "${pm:-pnpm@10}"
  (cd "$DIR/js" && HUSKY=0 "$DIR/tools/node_modules/.bin/pnpm" install --frozen-lockfile)
fi
echo "ready: $DIR"
