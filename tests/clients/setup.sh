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
if [ ! -d "$DIR/python" ]; then
  git clone -q --no-checkout "$1" "$DIR/python"
  git -C "$DIR/python" checkout -q -f v0.43.0
  python3 -m venv "$DIR/python/.venv"
  "$DIR/python/.venv/bin/pip" install -q -e "$DIR/python" pytest pytest-cov
fi
if [ ! -d "$DIR/js" ]; then
  git clone -q --no-checkout "$2" "$DIR/js"
  git -C "$DIR/js" checkout -q -f v0.60.0
  npm install -q --prefix "$DIR/tools" pnpm@10
  (cd "$DIR/js" && HUSKY=0 "$DIR/tools/node_modules/.bin/pnpm" install --frozen-lockfile)
fi
echo "ready: $DIR"
