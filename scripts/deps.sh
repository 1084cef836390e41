#!/usr/bin/env bash
# Installs the Debian packages Daybook needs to build and test, if any are missing.
# As root it runs apt-get; otherwise it lists what to install and exits non-zero.
# Usage: scripts/deps.sh [--test]   (--test adds what the test suite needs)
set -euo pipefail

build_pkgs=(
    build-essential cmake pkg-config
    libuv1-dev        # event loop (server)
    libsodium-dev     # all cryptography
    libjansson-dev    # JSON
    libcurl4-openssl-dev  # HTTP client (CLI): headers; it brings libcurl4, which daybook loads to sync
    libsqlite3-dev    # storage, server and client
    libpq-dev         # the PostgreSQL store (server; always built, as its own module)
    node-llhttp       # HTTP/1.1 parser sources (server), see README
    libqrencode-dev   # the enrollment code as a QR code in the terminal (CLI)
    scdoc             # man pages from deploy/man/*.scd
)
test_pkgs=(
    libcmocka-dev     # unit test framework
    sqlite3           # integrity checks from test scripts
    curl              # HTTP from the deploy test scripts
    caddy             # the TLS reverse proxy of the deploy.caddy_tls test
    clang libclang-rt-14-dev  # libFuzzer for tests/fuzz/run.sh
    faketime          # libfaketime: devices' wall clocks (clock_skew), the server's (server_api)
    postgresql-15     # initdb, pg_ctl, pg_dump: the throwaway clusters of integration.pg*
    strace            # what `daybook craving` syncs before "Saved" (integration.client_entries)
)

want=("${build_pkgs[@]}")
if [ "${1:-}" = "--test" ]; then
    want+=("${test_pkgs[@]}")
fi

missing=()
for p in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
# Node.js runs the spec linters and the JavaScript interop client; any recent
# node will do, so only install Debian's when none is on PATH.
if [ "${1:-}" = "--test" ] && ! command -v node >/dev/null 2>&1; then
    missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "daybook: missing Debian packages: ${missing[*]}" >&2
    echo "daybook: install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi

echo "daybook: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
fi
