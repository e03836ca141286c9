#!/usr/bin/env bash
# Run the meilisearch-js (v0.60.0) vitest integration suite against URL with master key KEY.
# usage: run-js.sh URL KEY OUTFILE
set -u
[ $# -eq 3 ] || { echo "usage: $0 URL KEY OUTFILE" >&2; exit 64; }
URL=${1%/}; KEY=$2; OUT=$(realpath -m "$3")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=${CLIENTS_DIR:-$HERE/../../build/clients}/js
JUNIT=${OUT%.*}.junit.xml
cd "$REPO" || exit 1
# The suite hard-codes MASTER_KEY = "masterKey" in tests/utils: make it env-overridable (idempotent).
sed -i 's/^const MASTER_KEY = "masterKey";$/const MASTER_KEY = process.env.MEILISEARCH_MASTER_KEY || "masterKey";/' \
  tests/utils/meilisearch-test-utils.ts
export MEILISEARCH_URL=$URL MEILISEARCH_MASTER_KEY=$KEY HUSKY=0 CI=true
start=$(date +%s)
# vite.config.ts already sets fileParallelism:false (files run one after another).
timeout "${SUITE_TIMEOUT:-5400}" nice -n 10 ./node_modules/.bin/vitest run --maxWorkers=1 \
  --reporter=default --reporter=junit --outputFile.junit="$JUNIT" ${VITEST_EXTRA_ARGS:-} >"$OUT" 2>&1
rc=$?
end=$(date +%s)
{
  echo "exit code: $rc; wall time: $((end-start))s; url: $URL"
  python3 "$HERE/summarize_junit.py" js "$JUNIT" "$REPO"
} | tee -a "$OUT"
exit $rc
