#!/usr/bin/env bash
# Run the meilisearch-python (v0.43.0) integration suite against URL with master key KEY.
# usage: run-python.sh URL KEY OUTFILE
set -u
[ $# -eq 3 ] || { echo "usage: $0 URL KEY OUTFILE" >&2; exit 64; }
URL=${1%/}; KEY=$2; OUT=$(realpath -m "$3")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=${CLIENTS_DIR:-$HERE/../../build/clients}/python
JUNIT=${OUT%.*}.junit.xml
cd "$REPO" || exit 1
# The suite hard-codes MASTER_KEY="masterKey" in tests/common.py: make it env-overridable (idempotent).
sed -i 's/^MASTER_KEY = "masterKey"$/MASTER_KEY = os.getenv("MEILISEARCH_MASTER_KEY", "masterKey")/' tests/common.py
export MEILISEARCH_URL=$URL MEILISEARCH_MASTER_KEY=$KEY
unset MEILISEARCH_URL_2   # 2nd-instance (export) tests are skipped, as in upstream CI
start=$(date +%s)
# Serial on purpose: an autouse fixture deletes ALL indexes after every test, so
# parallel workers against one server would clobber each other.
timeout "${SUITE_TIMEOUT:-5400}" nice -n 10 .venv/bin/python -m pytest tests \
  -p no:cacheprovider -o addopts="" -rfE --junitxml="$JUNIT" ${PYTEST_EXTRA_ARGS:-} >"$OUT" 2>&1
rc=$?
end=$(date +%s)
{
  echo "exit code: $rc; wall time: $((end-start))s; url: $URL"
  .venv/bin/python "$HERE/summarize_junit.py" python "$JUNIT" "$REPO"
} | tee -a "$OUT"
exit $rc
