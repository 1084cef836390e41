#!/usr/bin/env bash
# README's "Reliability" table from the figures the last runs wrote: the plain suite
# (build/), the sanitized suite (build-asan/) and fuzzing (build-fuzz/), as .ci/run
# leaves them. With --readme, the table in README.md is rewritten too.
#
#   scripts/reliability.sh [--readme]
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
[ "${1:-}" = "--readme" ] && args=(--readme README.md)
exec node tests/reliability/render.mjs "${args[@]}" \
    "plain=${DAYBOOK_BUILD_DIR:-build}/artifacts/reliability/figures.jsonl" \
    "ASan+UBSan=build-asan/artifacts/reliability/figures.jsonl" \
    "fuzzing=${DBK_FUZZ_BUILD_DIR:-build-fuzz}/reliability.jsonl"
