#!/usr/bin/env bash
# deploy.caddy_tls: Caddy (Debian's `caddy`) with its internal CA in front of
# daybookd, as in deploy/Caddyfile.example, all on 127.0.0.1 and offline. Over
# HTTPS, checking the certificate against Caddy's root (never -k): /healthz
# answers, /metrics and every other path outside the API are refused by the
# proxy, the API answers a login challenge, and plain HTTP to the TLS port fails.
# Installs caddy when missing and root; otherwise skips (exit 77).
# Usage: test_caddy_tls.sh SOURCE_DIR   (env DAYBOOKD: the daybookd binary)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

: "${DAYBOOKD:?set DAYBOOKD to the daybookd binary}"
SRC=${1:?usage: test_caddy_tls.sh SOURCE_DIR}

if ! command -v caddy >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "installing Debian's caddy"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get install -y --no-install-recommends caddy ||
            { apt-get update && apt-get install -y --no-install-recommends caddy; }; } \
            >"$T/apt.log" 2>&1 || skip "caddy is missing and apt-get install caddy failed"
        # The package starts its own service where systemd runs; ours is separate.
    else
        skip "caddy is not installed (apt-get install caddy, as root)"
    fi
fi
command -v curl >/dev/null || skip "curl is not installed"

# Caddy's state (the internal CA) and config go into the temp dir, never $HOME.
export HOME=$T/home XDG_DATA_HOME=$T/xdg-data XDG_CONFIG_HOME=$T/xdg-config
mkdir -p "$HOME" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME"

start_daybookd daybookd --data-dir "$T/data"
ok "daybookd on 127.0.0.1:$PORT"

# Caddy's listeners: a random free port, retried if another process takes it.
started=
for _ in 1 2 3 4 5; do
    TLS_PORT=$(free_port) || fail "no free port"
    HTTP_PORT=$(free_port) || fail "no free port"
    cat >"$T/Caddyfile" <<CADDY
{
	admin off
	auto_https disable_redirects
	skip_install_trust
	storage file_system $T/caddy
	http_port $HTTP_PORT
	https_port $TLS_PORT
	default_bind 127.0.0.1
	ocsp_stapling off
}

CADDY
    # The site itself is deploy/Caddyfile.example's, on this port with tls internal
    # and without its log file.
    awk -v site="https://127.0.0.1:$TLS_PORT" -v up="127.0.0.1:$PORT" '
        /^daybook\.clinic\.example \{/ { print site " {"; print "\tbind 127.0.0.1"; print "\ttls internal"; next }
        /^\tlog \{/ { skip = 1 }
        skip { if ($0 ~ /^\t\}/) skip = 0; next }
        { gsub(/127\.0\.0\.1:8470/, up); print }
    ' "$SRC/deploy/Caddyfile.example" >>"$T/Caddyfile"
    caddy run --config "$T/Caddyfile" --adapter caddyfile >"$T/caddy.log" 2>&1 &
    CADDY_PID=$!
    PIDS+=("$CADDY_PID")
    root=$T/caddy/pki/authorities/local/root.crt
    for ((i = 0; i < 150; i++)); do
        if [ -s "$root" ] && curl -s --max-time 2 --cacert "$root" -o /dev/null \
            "https://127.0.0.1:$TLS_PORT/healthz"; then
            started=1
            break
        fi
        kill -0 "$CADDY_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$started" ] && break
    stop_pid "$CADDY_PID" || true
    grep -q 'address already in use' "$T/caddy.log" || fail "caddy did not start"
done
[ -n "$started" ] || fail "caddy did not start after 5 tries"
ok "caddy with tls internal on https://127.0.0.1:$TLS_PORT (root CA in the temp dir)"

# Every request checks the certificate against Caddy's root, never -k.
https() { # METHOD PATH [BODY] -> "$CODE" and "$BODY"
    local out
    out=$(curl -sS --max-time 10 --cacert "$root" --path-as-is -X "$1" \
        -H 'Content-Type: application/json' ${3:+--data "$3"} \
        -w '\n%{http_code}' "https://127.0.0.1:$TLS_PORT$2") || fail "curl $1 $2"
    CODE=${out##*$'\n'}
    BODY=${out%$'\n'*}
}

# A client without the root refuses the certificate.
if curl -s --max-time 5 -o /dev/null "https://127.0.0.1:$TLS_PORT/healthz" 2>/dev/null; then
    fail "curl accepted Caddy's certificate without its root CA"
fi
ok "the certificate verifies only with Caddy's root"

https GET /healthz
[ "$CODE" = 200 ] || fail "/healthz through TLS: $CODE $BODY"
[ "$(json_field "$BODY" protocol)" = 1 ] || fail "/healthz: $BODY"
[ "$(json_field "$BODY" status)" = ok ] || fail "/healthz: $BODY"
ok "GET /healthz over TLS: $BODY"

# daybookd answers /metrics to loopback, and the proxy is loopback: the proxy must
# refuse it, however the path is spelt.
curl -s --max-time 5 "http://127.0.0.1:$PORT/metrics" | grep -q '^daybook_up 1' ||
    fail "daybookd does not serve /metrics on loopback (test premise)"
for p in /metrics /metrics?x=1 /METRICS //metrics /./metrics /v1/../metrics /%6detrics \
    /healthz/../metrics /v1/%2e%2e/metrics; do
    https GET "$p"
    case $CODE in
        403 | 404 | 400) ;;
        *) fail "GET $p through the proxy answered $CODE" ;;
    esac
    case $BODY in *daybook_up*) fail "GET $p leaked metrics" ;; esac
done
ok "/metrics refused through the proxy (9 spellings)"

# The API through TLS: a login challenge for a random account (the answer has the
# same shape whether or not the account exists).
rid() { head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }
https POST /v1/login/start "{\"account\":\"$(rid)\",\"device\":\"$(rid)\"}"
[ "$CODE" = 200 ] || fail "POST /v1/login/start through TLS: $CODE $BODY"
case $BODY in *'"challenge"'*) ;; *) fail "no challenge in $BODY" ;; esac
ok "POST /v1/login/start over TLS answers a challenge"

https POST /v1/login/start '{"account":"nope"}'
case $CODE in 4??) ;; *) fail "bad login/start answered $CODE" ;; esac
ok "API errors pass through the proxy ($CODE)"

# A real sync through TLS with the CLIs: the admin adds a counselor, the counselor
# enrolls and invites, a client enrolls (checking the counselor's fingerprint), logs
# a craving and syncs; the certificate is checked against Caddy's root CA only.
if [ -n "${DAYBOOK:-}" ]; then
    BASE="https://127.0.0.1:$TLS_PORT"
    printf 'counselor passphrase\n' >"$T/cpass"
    printf 'client passphrase 1\n' >"$T/kpass"
    export DAYBOOK_UNLOCK_SECONDS=0
    setup=$("$DAYBOOKD" counselor add "Dana Reyes" --url "$BASE" --data-dir "$T/data" |
        sed -n 's/^setup URI: //p')
    [ -n "$setup" ] || fail "no setup URI"
    co() { DAYBOOK_HOME=$T/co DAYBOOK_PASSPHRASE_FILE=$T/cpass "$DAYBOOK" "$@"; }
    cl() { DAYBOOK_HOME=$T/cl DAYBOOK_PASSPHRASE_FILE=$T/kpass "$DAYBOOK" "$@"; }
    co init >/dev/null || fail "counselor init"
    # Each enrolls with --cacert: the clinic's CA is kept in the profile and used by
    # every later command, with no system trust store touched.
    if co enroll "$setup" --cacert "$T/Caddyfile" >/dev/null 2>"$T/badca.log"; then
        fail "enroll accepted a --cacert that is no certificate"
    fi
    grep -q 'not a PEM certificate' "$T/badca.log" || fail "no clear error for a bad --cacert"
    co enroll "$setup" --cacert "$root" >/dev/null || fail "counselor enroll over TLS"
    invite=$(co --json invite | sed -n 's/.*"uri":"\([^"]*\)".*/\1/p')
    [ -n "$invite" ] || fail "no invite"
    cl init >/dev/null || fail "client init"
    cl enroll "$invite" --yes --cacert="$root" >/dev/null || fail "client enroll over TLS"
    [ "$(stat -c %a "$T/cl/ca.pem")" = 600 ] || fail "the profile's ca.pem is not mode 0600"
    cl craving --intensity 5 --outcome resisted --coping urge_surfing >/dev/null ||
        fail "craving"
    out=$(cl --json sync) || fail "sync over TLS: $out"
    case $out in *'"pushed":0'* | *'"pending":0'*'"pending"'*) fail "sync did not push: $out" ;; esac
    case $out in *'"pending":0'*) ;; *) fail "sync left entries waiting: $out" ;; esac
    ok "a client enrolled and synced through Caddy over TLS ($out)"
    # Without the clinic's CA (DAYBOOK_CA_FILE names the public bundle instead of the
    # profile's) the client refuses the certificate.
    if DAYBOOK_CA_FILE=/etc/ssl/certs/ca-certificates.crt DAYBOOK_HOME=$T/cl \
        DAYBOOK_PASSPHRASE_FILE=$T/kpass "$DAYBOOK" sync >/dev/null 2>&1; then
        fail "the client accepted an untrusted certificate"
    fi
    ok "the client refuses a certificate it cannot verify"
fi

# Plain HTTP to the TLS port does not reach daybookd.
plain=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$TLS_PORT/healthz" || true)
case $plain in 200) fail "plain HTTP to the TLS port answered 200" ;; esac
ok "plain HTTP to the TLS port is refused ($plain)"

stop_pid "$CADDY_PID"
stop_pid "$DAYBOOKD_PID"
[ "$EXIT" = 0 ] || fail "daybookd exited $EXIT on SIGTERM"
ok "caddy and daybookd stopped"
echo "deploy.caddy_tls: all checks passed"
