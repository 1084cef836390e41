#!/usr/bin/env bash
# Installs what is missing, builds Daybook, and runs daybookd on 127.0.0.1:8470
# with its embedded SQLite store in ./daybook-data. Arguments go to `daybookd serve`
# (for example --listen 127.0.0.1:9000). Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target daybookd daybook >/dev/null
echo "daybook: starting daybookd; try: curl http://127.0.0.1:8470/healthz" >&2
exec build/server/daybookd serve --listen 127.0.0.1:8470 --data-dir ./daybook-data "$@"
