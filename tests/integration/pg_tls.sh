#!/usr/bin/env bash
# integration.pg_tls: daybookd reaches PostgreSQL over TLS with sslmode=verify-full,
# as deploy/POSTGRES.md tells an operator to set it up (issue 18).
#
# A throwaway cluster of its own (tests/support/pg_cluster.sh) gets a certificate for
# localhost and 127.0.0.1 signed by a test CA, listens on 127.0.0.1 and refuses every
# connection without TLS (hostnossl ... reject). Then:
#   - daybookd serve with sslmode=verify-full and that CA answers /healthz 200, and the
#     database sees its connections encrypted (pg_stat_ssl);
#   - `daybookd check` with another CA, or with a host name the certificate does not
#     name, is refused (exit non-zero, a certificate error said), as is sslmode=disable.
# Needs openssl and psql; without them it skips (77).
set -euo pipefail

daybookd=${DAYBOOKD:?DAYBOOKD: the daybookd binary}
script=${DAYBOOK_PG_CLUSTER_SCRIPT:?DAYBOOK_PG_CLUSTER_SCRIPT: tests/support/pg_cluster.sh}
for tool in openssl psql curl; do
    command -v "$tool" >/dev/null || { echo "pg_tls: skipped: no $tool" >&2; exit 77; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/daybook-pgtls.XXXXXX")
state=$work/cluster
srv=
cleanup() {
    cd /
    if [ -n "$srv" ]; then
        kill "$srv" 2>/dev/null || true
        wait "$srv" 2>/dev/null || true
    fi
    bash "$script" stop "$state" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "pg_tls: FAILED: $*" >&2
    [ -f "$work/serve.log" ] && tail -n 20 "$work/serve.log" >&2
    exit 1
}

bash "$script" start "$state" >/dev/null
dir=$(cat "$state")

# The test CA, the database's certificate (localhost, 127.0.0.1), and another CA.
cd "$work"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -days 2 -subj /CN=daybook-test-ca -keyout ca.key -out ca.crt \
    2>/dev/null
openssl req -x509 "${ec[@]}" -days 2 -subj /CN=another-ca -keyout other.key -out other.crt \
    2>/dev/null
openssl req "${ec[@]}" -subj /CN=localhost -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >san.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile san.ext -out server.crt 2>/dev/null
cp server.crt server.key "$dir/data/"
owner=$(stat -c %u:%g "$dir/data")
chown "$owner" "$dir/data/server.crt" "$dir/data/server.key"
chmod 0600 "$dir/data/server.key"

# TLS on 127.0.0.1 (a free port), and nothing without it.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf '%s\n' "ssl = on" "ssl_cert_file = 'server.crt'" "ssl_key_file = 'server.key'" \
    "listen_addresses = '127.0.0.1'" "port = $port" >>"$dir/data/postgresql.conf"
{ echo "hostnossl all all 127.0.0.1/32 reject"; cat "$dir/data/pg_hba.conf"; } >"$work/hba"
cat "$work/hba" >"$dir/data/pg_hba.conf"
bash "$script" restart "$state" >/dev/null
admin="host=$dir/sock port=$port user=daybook dbname=postgres"
psql "$admin" -qc "CREATE DATABASE tls" >/dev/null

base="postgresql://daybook@localhost:$port/tls"
good="$base?sslmode=verify-full&sslrootcert=$work/ca.crt"

# verify-full with the right CA: daybookd serves, over TLS.
mkdir -m 0700 "$work/data"
"$daybookd" serve --listen 127.0.0.1:0 --port-file "$work/port" --data-dir "$work/data" \
    --store "$good" >"$work/serve.log" 2>&1 &
srv=$!
for _ in $(seq 1 100); do
    [ -s "$work/port" ] && break
    kill -0 "$srv" 2>/dev/null || fail "daybookd exited with sslmode=verify-full and the right CA"
    sleep 0.1
done
[ -s "$work/port" ] || fail "daybookd did not listen"
health=$(curl -s -o "$work/health" -w '%{http_code}' "http://127.0.0.1:$(cat "$work/port")/healthz")
[ "$health" = 200 ] || fail "/healthz over verify-full: $health $(cat "$work/health")"
tls=$(psql "$admin" -Atc "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                          WHERE a.application_name = 'daybookd' AND s.ssl")
[ "$tls" -ge 1 ] || fail "no daybookd connection is encrypted (pg_stat_ssl)"
echo "pg_tls: verify-full with the right CA: /healthz 200, $tls daybookd connection(s) over TLS"

# Refused: another CA, a name the certificate does not carry, no TLS at all.
refused() {
    local what=$1 url=$2 want=$3 out rc=0
    out=$("$daybookd" check --store "$url" 2>&1) || rc=$?
    [ "$rc" -ne 0 ] || fail "$what: daybookd check succeeded"
    grep -qi -- "$want" <<<"$out" || fail "$what: no '$want' in: $out"
    echo "pg_tls: $what: refused (exit $rc)"
}
refused "another CA" "$base?sslmode=verify-full&sslrootcert=$work/other.crt" "certificate"
refused "a host name the certificate does not name" \
    "postgresql://daybook@db.clinic.example:$port/tls?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert=$work/ca.crt" \
    "does not match host name"
refused "sslmode=disable" "$base?sslmode=disable" "no encryption"
echo "pg_tls: ok"
