/*
 * bench_load: the load generator of issue 8. It plays many Daybook clients
 * against daybookd and the same workload against a peer sync server
 * (pouchdb-server, CouchDB's API) and against bench_trivial (the HTTP ceiling),
 * one after the other in one run, and writes what it measured as JSON rows for
 * tests/bench/report.mjs, which turns them into ratios.
 *
 *   bench_load --work DIR --out FILE [--daybookd PATH] [--peer PATH] [--trivial PATH]
 *              [--users 100] [--rounds 5] [--batch 50] [--passes 3] [--inflight 64]
 *              [--syncs 200] [--sync-push 1] [--open-rate 13000] [--pg-url URL]
 *              [--pg-url2 URL]
 *
 * --pg-url adds daybookd on that (empty) PostgreSQL database, one node (rows
 * daybook_pg1_*); --pg-url2 two daybookd on another one (daybook_pg2_*), the
 * requests split between them and the same number in flight in all; in the sync
 * phase the measured client and half the others on the first node, the other half
 * on the second, so each node serves half the load and the measured client waits
 * behind its share of it. (It used to be alone on its node while the others all
 * synced on the other one: its p50 was then an idle node's, 4.8 times lower than
 * one node's at the same syncs/s.) Server CPU is both nodes' (not PostgreSQL's
 * own); RSS is the first node's; no bytes-on-disk row. Every Daybook target also
 * gets the others' sync latency (bg_sync_p50_ms, bg_sync_p99_ms).
 *
 * The workload (the same shape for every server):
 *   set-up    users each with their own stream (Daybook: an enrolled client and its
 *             shared stream; peer: one database per user). Not measured.
 *   push      `rounds` rounds in which every user pushes a batch of `batch` new
 *             records, at most `inflight` requests in flight on keep-alive
 *             connections. Daybook: POST /v1/streams/{stream}/records; peer:
 *             POST /{db}/_bulk_docs with one document per record.
 *   pull      `passes` passes in which every user pulls everything since zero.
 *             Daybook: GET /v1/streams/{stream}/records?since=0; peer:
 *             GET /{db}/_changes?since=0&include_docs=true.
 *   sync      the user-facing figure: one client's incremental sync (one new entry
 *             pushed, changes pulled), `syncs` times in a row, while `inflight`
 *             other clients sync without pause. Daybook: one POST /v1/sync
 *             carrying the push and the pull of the client's two streams; peer: a
 *             _bulk_docs of one document and a _changes since the last seq (CouchDB
 *             has no single round trip for both). Not run against bench_trivial.
 *             With --sync-push 0 no sync pushes anything: every sync is the daily
 *             "nothing new" case (rows nn_sync_*; Daybook only).
 *             This is a closed loop without think time: 65 clients, each sending
 *             its next sync the moment the last is answered, so 65 syncs are
 *             always in flight (the generator's own moments aside) and by Little's
 *             law their mean latency is 65 / (syncs per second): 5.0 ms at 13,000
 *             a second, 6.2 ms at the 10,408 of the README's run (its p50 was
 *             5.73 ms; the tail drags the mean above the median). A p99 under 5
 *             ms and 13,000 syncs/s cannot both hold here, whatever the server:
 *             a mean of 5.0 ms puts the p99 well above 5.
 *   open      the same syncs in an open loop (Daybook only; the peer serves about a
 *             tenth of the rate, so its rows are not set against these): after the
 *             closed loop, the measured client and the 64 others each sync on a
 *             schedule, one due every 65 / open-rate seconds, the schedules
 *             staggered, so open-rate syncs a second are offered (default 13,000;
 *             0 skips it). A client's sync due while its last is unanswered goes
 *             when that answer comes, and every latency runs from when the sync
 *             was due, so a server that falls behind shows in the latencies
 *             instead of slowing the arrivals (no coordinated omission). Rows
 *             open_sync_p50_ms, open_sync_p99_ms (the measured client, `syncs`
 *             of them), open_bg_sync_* (the others), open_sync_per_s (answered
 *             within the measured window) beside open_sync_offered_per_s, and
 *             open_send_lag_p99_ms (how late the generator's timer sent).
 *
 * Every record is a real envelope (proto/CRYPTO.md §4), sealed and signed with
 * common/ code before the clock starts: a craving of about 200 bytes, padded to
 * one 256-byte block, so a 444-byte envelope (272 bytes of ciphertext), the
 * typical size proto/README.md gives. The peer stores the same envelope, as the
 * same base64url text, in a document whose _id is the record id. Every response
 * is checked (all records stored, every record pulled back), so a figure is never
 * made of errors; one pulled stream per run is also opened and verified, as a
 * reader would.
 *
 * The servers are children of this process (bench_load_proc.c): measured through
 * /proc before and after each phase (utime + stime, VmRSS, VmHWM) and killed if
 * this process dies. Bytes on the wire are what the generator writes and reads,
 * HTTP headers included; bytes on disk are the growth of the server's data
 * directory (allocated blocks) from after set-up to after the pull passes.
 */
#include "bench_load.h"
#include "sync_answer.h"

#include "dbk/base64.h"
#include "dbk/envelope.h"
#include "dbk/error.h"
#include "dbk/grant.h"
#include "dbk/hlc.h"
#include "dbk/id.h"
#include "dbk/init.h"
#include "dbk/keys.h"

#include <jansson.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* ---- configuration ---- */

static struct {
    int users, rounds, batch, passes, inflight, syncs, sync_push, sqlite, open_rate;
    const char *daybookd, *peer, *trivial, *work, *out, *pg_url, *pg_url2;
} cfg = {100, 5, 50, 3, 64, 200, 1, 1, 13000, NULL, NULL, NULL, NULL, NULL, NULL, NULL};

/* A phase that takes longer than this has hung: the run stops instead of waiting. */
#define PHASE_TIMEOUT_MS 180000
/* How long a server may take to start answering. */
#define START_TIMEOUT_MS 30000
/* Background syncs before the measured client starts, per background client. */
#define SYNC_WARMUP 2
/* Open loop: scheduled syncs a client before the measured window opens. */
#define OPEN_WARMUP 50

static void
die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_load: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1); /* atexit kills the servers */
}

static void *
xmalloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL)
        die("out of memory");
    return p;
}

static char *
xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

static char *
b64(const unsigned char *b, size_t len)
{
    size_t n = DBK_B64_ENCODED_LEN(len) + 1;
    char *s = xmalloc(n);
    if (dbk_b64_encode(s, n, b, len) != 0)
        die("base64");
    return s;
}

static size_t
count(const char *hay, const char *needle)
{
    size_t n = 0, k = strlen(needle);
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + k, needle))
        n++;
    return n;
}

/* ---- the simulated users ---- */

typedef struct user {
    dbk_id id, device, shared, priv;
    dbk_account_keys *keys;
    unsigned char shared_key[32], priv_key[32];
    dbk_hlc hlc;
    char token[64];
    char shared_t[DBK_ID_TEXT_LEN + 1], priv_t[DBK_ID_TEXT_LEN + 1];
    char db[32];     /* the peer's database of this user */
    char **env;      /* rounds * batch envelopes (base64url) for the push phase */
    char **rec;      /* their record ids (text) */
    char **sync_env; /* envelopes for the sync phase */
    char **sync_rec;
    int nsync;
} user;

static user *users;
static dbk_pass_keys *pass;  /* one passphrase for every simulated account (set-up speed) */
static dbk_kdf_params kdf;
static size_t env_bytes;     /* the raw size of every envelope */

/* A craving as a client's device would write it: about 200 bytes of JSON. */
static size_t
craving(char *out, size_t cap, int i)
{
    static const char *const outcomes[] = {"resisted", "resisted", "used", "distracted"};
    int n = snprintf(out, cap,
                     "{\"type\":\"craving\",\"v\":1,\"occurred_at\":\"2026-11-%02dT%02d:%02d:00"
                     "-05:00\",\"tz\":\"America/Chicago\",\"intensity\":{\"value\":%d,\"scale\":"
                     "\"0-10\"},\"outcome\":{\"result\":\"%s\"},\"coping\":[\"urge_surfing\","
                     "\"called_sponsor\"]}",
                     1 + i % 28, i % 24, (i * 7) % 60, i % 11, outcomes[i % 4]);
    return (size_t)n;
}

/* Seals a new revision of a new record into u's shared stream. */
static void
seal(user *u, int i, char **env_out, char **rec_out)
{
    char plain[512];
    size_t plen = craving(plain, sizeof plain, i);
    dbk_envelope_hdr h;
    dbk_id rec;
    unsigned char *env;
    size_t len;
    char t[DBK_ID_TEXT_LEN + 1];

    dbk_id_random(&rec);
    memset(&h, 0, sizeof h);
    h.stream = u->shared;
    h.record = rec;
    h.epoch = 1;
    h.author = u->id;
    h.rev.clock = dbk_hlc_local(&u->hlc, dbk_hlc_wall_ms());
    h.rev.device = u->device;
    if (dbk_envelope_seal(&h, u->shared_key, u->keys->sign_sk, (const unsigned char *)plain, plen,
                          NULL, &env, &len) != DBK_OK)
        die("envelope seal failed");
    if (env_bytes == 0)
        env_bytes = len;
    else if (len != env_bytes)
        die("envelopes of different sizes (%zu, %zu)", len, env_bytes);
    *env_out = b64(env, len);
    free(env);
    dbk_id_to_text(&rec, t);
    *rec_out = xstrdup(t);
}

static void
users_make(void)
{
    int per = cfg.rounds * cfg.batch;
    int nsync = cfg.syncs + cfg.syncs / 2 + 2 * SYNC_WARMUP + 16 +
                (cfg.open_rate > 0 ? cfg.syncs + OPEN_WARMUP + 16 : 0);

    users = calloc((size_t)cfg.users, sizeof *users);
    if (users == NULL)
        die("out of memory");
    dbk_kdf_params_new(&kdf);
    kdf.opslimit = DBK_KDF_OPS_MIN; /* the floor: accepted, and set-up stays quick */
    if (dbk_pass_keys_derive("bench passphrase", 16, &kdf, &pass) != DBK_OK)
        die("passphrase KDF failed");
    for (int k = 0; k < cfg.users; k++) {
        user *u = &users[k];
        dbk_id_random(&u->id);
        dbk_id_random(&u->device);
        dbk_id_random(&u->shared);
        dbk_id_random(&u->priv);
        randombytes_buf(u->shared_key, sizeof u->shared_key);
        randombytes_buf(u->priv_key, sizeof u->priv_key);
        if ((u->keys = dbk_account_keys_new()) == NULL)
            die("out of memory");
        dbk_id_to_text(&u->shared, u->shared_t);
        dbk_id_to_text(&u->priv, u->priv_t);
        snprintf(u->db, sizeof u->db, "user%03d", k);
        u->env = xmalloc((size_t)per * sizeof *u->env);
        u->rec = xmalloc((size_t)per * sizeof *u->rec);
        for (int i = 0; i < per; i++)
            seal(u, i, &u->env[i], &u->rec[i]);
        /* The measured client and the background ones sync new entries too. */
        if (k <= cfg.inflight) {
            u->nsync = nsync;
            u->sync_env = xmalloc((size_t)nsync * sizeof *u->sync_env);
            u->sync_rec = xmalloc((size_t)nsync * sizeof *u->sync_rec);
            for (int i = 0; i < nsync; i++)
                seal(u, per + i, &u->sync_env[i], &u->sync_rec[i]);
        }
    }
}

/* Opens and verifies every envelope of a pull response as a reader would. */
static size_t
verify_pulled(const user *u, const char *body)
{
    json_error_t err;
    json_t *j = json_loads(body, 0, &err), *r;
    dbk_envelope_expect e = {&u->shared, NULL, 1, &u->id, u->keys->sign_pk};
    size_t i, ok = 0;

    json_array_foreach(json_object_get(j, "records"), i, r) {
        const char *t = json_string_value(json_object_get(r, "envelope"));
        size_t n = t ? strlen(t) : 0, len, plen;
        unsigned char *env = xmalloc(DBK_B64_DECODED_MAX(n) + 1), *plain;
        if (t != NULL && dbk_b64_decode(env, DBK_B64_DECODED_MAX(n) + 1, &len, t, n) == 0 &&
            dbk_envelope_open(env, len, &e, u->shared_key, &plain, &plen) == DBK_OK) {
            if (strstr((const char *)plain, "\"type\":\"craving\"") != NULL)
                ok++;
            dbk_plaintext_free(plain, plen);
        }
        free(env);
    }
    json_decref(j);
    return ok;
}

/* ---- servers ---- */

enum kind { K_DAYBOOK, K_PEER, K_TRIVIAL };

typedef struct target {
    enum kind kind;
    const char *key;   /* prefix of its rows */
    const char *label; /* for people */
    pid_t pid;
    int port;
    char dir[PATH_MAX / 2];  /* its work directory (room left for the names below) */
    char data_dir[PATH_MAX]; /* what bytes on disk measure */
    char log[PATH_MAX];
    bl_pool *pool;
    const char *store; /* daybookd on PostgreSQL: its URL */
    int nodes;         /* 2: a second daybookd on the same store */
    pid_t pid2;
    int port2;
    bl_pool *pool2;
} target;

static uv_loop_t *loop;
static json_t *rows, *notes;

static void
row(const target *t, const char *key, const char *label, double value, const char *unit)
{
    char k[128];
    if (!isfinite(value))
        return;
    snprintf(k, sizeof k, "%s_%s", t->key, key);
    json_array_append_new(rows, json_pack("{s:s, s:s, s:f, s:s}", "key", k, "label", label,
                                          "value", value, "unit", unit));
}

static void
note(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "bench_load: %s\n", buf);
    json_array_append_new(notes, json_string(buf));
}

static void
mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0700);
            *p = '/';
        }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        die("mkdir %s: %s", path, strerror(errno));
}

/* path made absolute (malloc'd; never freed: it lives as long as the run), or NULL. */
static const char *
absolute(const char *path)
{
    char buf[PATH_MAX];
    if (path == NULL)
        return NULL;
    if (realpath(path, buf) == NULL)
        die("%s: %s", path, strerror(errno));
    return xstrdup(buf);
}

static char *
http_req(const target *t, const char *method, const char *path, const char *token,
         const char *body, size_t *len)
{
    size_t blen = body ? strlen(body) : 0, cap = 512 + strlen(path) + blen;
    char *s = xmalloc(cap);
    int n = snprintf(s, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", method, path, t->port);
    if (token != NULL)
        n += snprintf(s + n, cap - (size_t)n, "Authorization: Bearer %s\r\n", token);
    if (body != NULL)
        n += snprintf(s + n, cap - (size_t)n,
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
    n += snprintf(s + n, cap - (size_t)n, "\r\n");
    if (body != NULL)
        memcpy(s + n, body, blen);
    *len = (size_t)n + blen;
    return s;
}

/* A request whose answer must have the given status; returns the parsed body or NULL. */
static json_t *
call_json(target *t, const char *method, const char *path, const char *token, json_t *body,
          int want)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL, *req, *resp;
    size_t len;
    int status;
    json_t *j;

    req = http_req(t, method, path, token, text, &len);
    free(text);
    if (bl_call(t->pool, req, len, &status, &resp) != 0)
        die("%s %s: %s", method, path, bl_pool_error(t->pool));
    free(req);
    if (status != want)
        die("%s %s: HTTP %d (wanted %d): %.300s", method, path, status, want, resp);
    j = json_loads(resp, 0, NULL);
    free(resp);
    return j;
}

static void
wait_port_file(target *t, const char *path)
{
    uint64_t deadline = bl_now_ns() + (uint64_t)START_TIMEOUT_MS * 1000000;
    while (bl_now_ns() < deadline) {
        FILE *f = fopen(path, "r");
        if (f != NULL) {
            int ok = fscanf(f, "%d", &t->port);
            fclose(f);
            if (ok == 1 && t->port > 0)
                return;
        }
        if (!bl_alive(t->pid))
            die("%s exited at start; see %s", t->label, t->log);
        usleep(10000);
    }
    die("%s did not start within %d ms; see %s", t->label, START_TIMEOUT_MS, t->log);
}

/* Polls path until it answers 200, then lets the server settle: the idle figure. */
static void
wait_ready(target *t, const char *path)
{
    uint64_t deadline = bl_now_ns() + (uint64_t)START_TIMEOUT_MS * 1000000;
    for (;;) {
        /* A throw-away pool: connection refused is expected while it starts. */
        bl_pool *p = bl_pool_new(loop, t->port, 1);
        size_t len;
        char *req = http_req(t, "GET", path, NULL, NULL, &len), *resp = NULL;
        int status = 0, rc = bl_call(p, req, len, &status, &resp);
        free(req);
        free(resp);
        bl_pool_free(p);
        if (rc == 0 && status == 200)
            break;
        if (!bl_alive(t->pid))
            die("%s exited at start; see %s", t->label, t->log);
        if (bl_now_ns() > deadline)
            die("%s does not answer %s; see %s", t->label, path, t->log);
        usleep(50000);
    }
    usleep(1000000);
}

static void
measure_mem(const target *t, const char *when)
{
    long rss, hwm;
    char key[64], label[128];
    if (bl_mem_kib(t->pid, &rss, &hwm) != 0) {
        note("%s: no memory figures from /proc", t->label);
        return;
    }
    snprintf(key, sizeof key, "rss_%s_mib", when);
    snprintf(label, sizeof label, "server RSS %s",
             strcmp(when, "rest") == 0 ? "at rest, 1 s after push and pull" : when);
    row(t, key, label, (double)rss / 1024.0, "MiB");
    if (strcmp(when, "after") == 0)
        row(t, "rss_peak_mib", "server peak RSS (VmHWM)", (double)hwm / 1024.0, "MiB");
}

static void
start_daybook_node(target *t, const char *data_dir, const char *name)
{
    char port_file[PATH_MAX + 16];
    snprintf(port_file, sizeof port_file, "%s/%s", t->dir, name);
    unlink(port_file);
    /* The per-account rate limit (default 20/s, bursts of 200) is raised: the sync
     * phase has each client sync back to back, which a real device never does, and
     * the limiter's bookkeeping costs the same either way. So is the quota (256 MiB,
     * about 400,000 records), which bench_growth's one account outgrows; it is still
     * charged and checked on every push. */
    const char *argv[] = {cfg.daybookd,  "serve",      "--listen",    "127.0.0.1:0",
                          "--data-dir",  data_dir,     "--port-file", port_file,
                          "--rate-per-s", "100000",    "--rate-burst", "100000",
                          "--quota-mb",  "1048576",
                          t->store ? "--store" : NULL, t->store,      NULL};
    if ((t->pid = bl_spawn(argv, t->dir, t->log)) < 0)
        die("cannot start %s", cfg.daybookd);
    wait_port_file(t, port_file);
    wait_ready(t, "/healthz");
}

static void
start_daybook(target *t)
{
    char data2[PATH_MAX];
    snprintf(t->data_dir, sizeof t->data_dir, "%s/data", t->dir);
    if (t->nodes == 2) { /* the second node first: t->pid and t->port end as the first's */
        snprintf(data2, sizeof data2, "%s/data2", t->dir);
        start_daybook_node(t, data2, "port2");
        t->pid2 = t->pid;
        t->port2 = t->port;
    }
    start_daybook_node(t, t->data_dir, "port");
}

static void
start_peer(target *t)
{
    char port[16];
    snprintf(t->data_dir, sizeof t->data_dir, "%s/data/", t->dir);
    mkdir_p(t->data_dir);
    t->port = bl_free_port();
    snprintf(port, sizeof port, "%d", t->port);
    /* Its default storage (LevelDB through leveldown) in data/; its log.txt and
     * config.json go to its working directory, outside what bytes on disk measure.
     * -n: it still writes its request log to log.txt, but not also to stdout. */
    const char *argv[] = {cfg.peer, "--host", "127.0.0.1", "--port", port,
                          "--dir", t->data_dir, "-n", NULL};
    if ((t->pid = bl_spawn(argv, t->dir, t->log)) < 0)
        die("cannot start %s", cfg.peer);
    wait_ready(t, "/");
}

static void
start_trivial(target *t)
{
    char port_file[PATH_MAX + 16];
    snprintf(t->data_dir, sizeof t->data_dir, "%s", t->dir);
    snprintf(port_file, sizeof port_file, "%s/port", t->dir);
    unlink(port_file);
    const char *argv[] = {cfg.trivial, "--port-file", port_file, "--max-seconds", "600", NULL};
    if ((t->pid = bl_spawn(argv, t->dir, t->log)) < 0)
        die("cannot start %s", cfg.trivial);
    wait_port_file(t, port_file);
    wait_ready(t, "/");
}

/* ---- set-up (not measured) ---- */

static json_t *
jb64(const unsigned char *b, size_t len)
{
    char *s = b64(b, len);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *
self_grant(const dbk_id *owner, const dbk_account_keys *keys, const dbk_id *stream,
           const unsigned char key[32])
{
    static const char consent[] = "{\"type\":\"consent\",\"v\":1,\"purpose\":\"treatment\"}";
    dbk_grant_hdr h;
    unsigned char *g;
    size_t len;
    json_t *j;

    memset(&h, 0, sizeof h);
    h.stream = *stream;
    h.epoch = 1;
    h.owner = *owner;
    h.grantee = *owner;
    h.created_at = dbk_hlc_wall_ms();
    if (dbk_grant_seal(&h, key, consent, strlen(consent), keys->box_pk, keys->sign_sk, &g, &len) !=
        DBK_OK)
        die("grant seal failed");
    j = jb64(g, len);
    free(g);
    return j;
}

/* POST /v1/enroll for an account with the given streams; returns its token. */
static void
enroll(target *t, const char *code, const dbk_id *id, const dbk_id *device,
       const dbk_account_keys *keys, const dbk_id *shared, const unsigned char *shared_key,
       const dbk_id *priv, const unsigned char *priv_key, char token[64])
{
    unsigned char bundle[DBK_BUNDLE_BYTES];
    json_t *streams = json_array(), *grants = json_array(), *body, *resp;

    if (dbk_bundle_seal(bundle, id, keys, pass, &kdf, 1, NULL) != DBK_OK)
        die("bundle seal failed");
    if (shared != NULL) {
        json_array_append_new(streams, json_pack("{s:o, s:s}", "stream",
                                                 jb64(shared->b, DBK_ID_BYTES), "kind", "shared"));
        json_array_append_new(grants, self_grant(id, keys, shared, shared_key));
    }
    json_array_append_new(streams, json_pack("{s:o, s:s}", "stream", jb64(priv->b, DBK_ID_BYTES),
                                             "kind", "private"));
    json_array_append_new(grants, self_grant(id, keys, priv, priv_key));
    body = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o}", "code", code,
                     "account", jb64(id->b, DBK_ID_BYTES), "ed25519_pk", jb64(keys->sign_pk, 32),
                     "x25519_pk", jb64(keys->box_pk, 32), "login_pk", jb64(pass->login_pk, 32),
                     "bundle", jb64(bundle, sizeof bundle), "device",
                     jb64(device->b, DBK_ID_BYTES), "device_name", "Phone", "streams", streams,
                     "grants", grants);
    resp = call_json(t, "POST", "/v1/enroll", NULL, body, 201);
    json_decref(body);
    snprintf(token, 64, "%s", json_string_value(json_object_get(resp, "token")));
    json_decref(resp);
    if (strlen(token) != 43)
        die("enroll: no token");
}

static void
setup_daybook(target *t)
{
    const char *argv[] = {cfg.daybookd, "counselor", "add", "Bench Counselor", "--data-dir",
                          t->data_dir, NULL};
    char *out = bl_run(argv, 60), *p, code[32], co_token[64];
    dbk_id co_id, co_dev, co_priv;
    unsigned char co_priv_key[32];
    dbk_account_keys *co_keys = dbk_account_keys_new();

    if (co_keys == NULL)
        die("out of memory");
    if (out == NULL || (p = strstr(out, "once): ")) == NULL)
        die("daybookd counselor add gave no setup code");
    snprintf(code, sizeof code, "%.22s", p + 7);
    free(out);
    dbk_id_random(&co_id);
    dbk_id_random(&co_dev);
    dbk_id_random(&co_priv);
    randombytes_buf(co_priv_key, sizeof co_priv_key);
    enroll(t, code, &co_id, &co_dev, co_keys, NULL, NULL, &co_priv, co_priv_key, co_token);
    /* Each client: an invite from the counselor, then its own enrollment. */
    for (int k = 0; k < cfg.users; k++) {
        user *u = &users[k];
        json_t *empty = json_object();
        json_t *inv = call_json(t, "POST", "/v1/invites", co_token, empty, 201);
        json_decref(empty);
        snprintf(code, sizeof code, "%s", json_string_value(json_object_get(inv, "code")));
        json_decref(inv);
        enroll(t, code, &u->id, &u->device, u->keys, &u->shared, u->shared_key, &u->priv,
               u->priv_key, u->token);
    }
    dbk_account_keys_free(co_keys);
}

static void
setup_peer(target *t)
{
    for (int k = 0; k < cfg.users; k++) {
        char path[64];
        snprintf(path, sizeof path, "/%s", users[k].db);
        json_decref(call_json(t, "PUT", path, NULL, NULL, 201));
    }
}

/* ---- the measured phases ---- */

enum op { OP_PUSH, OP_PULL };

typedef struct phase {
    target *t;
    enum op op;
    size_t n;        /* requests */
    char **data;     /* their texts */
    size_t *len;
    int *who;        /* the user of each */
    bl_req *reqs;
    double *lat_ms;  /* per request */
    size_t records;  /* records stored or pulled, as the responses say */
    size_t bad;
    char first_bad[400];
} phase;

static int64_t *pull_next; /* per user: the cursor the last pull returned */

static void
phase_done(bl_req *r, int status, const char *body, size_t len)
{
    phase *ph = r->arg;
    size_t i = (size_t)(r - ph->reqs);
    int k = ph->who[i];
    size_t want = ph->op == OP_PUSH ? (size_t)cfg.batch : (size_t)(cfg.rounds * cfg.batch);
    size_t got = 0;
    bool ok;
    const char *p;

    (void)len;
    ph->lat_ms[i] = (double)r->latency_ns / 1e6;
    switch (ph->t->kind) {
    case K_DAYBOOK:
        if (ph->op == OP_PUSH) {
            got = count(body, "\"result\":\"stored\"");
            ok = status == 200 && got == want;
        } else {
            got = count(body, "\"envelope\":");
            ok = status == 200 && got == want && strstr(body, "\"more\":false") != NULL;
            if ((p = strstr(body, "\"next\":")) != NULL)
                pull_next[k] = strtoll(p + 7, NULL, 10);
        }
        break;
    case K_PEER:
        if (ph->op == OP_PUSH) {
            got = count(body, "\"ok\":true");
            ok = status == 201 && got == want;
        } else {
            got = count(body, "\"env\":");
            ok = status == 200 && got == want;
            if ((p = strstr(body, "\"last_seq\":")) != NULL)
                pull_next[k] = strtoll(p + 11, NULL, 10);
        }
        break;
    default: /* the ceiling answers "{}": it is credited with what Daybook was sent */
        got = want;
        ok = status == 200;
        break;
    }
    ph->records += got;
    if (!ok && ph->bad++ == 0)
        snprintf(ph->first_bad, sizeof ph->first_bad, "HTTP %d, %zu of %zu records: %.200s",
                 status, got, want, body);
}

static void
phase_prepare(phase *ph, target *t, enum op op)
{
    /* The ceiling gets Daybook's requests byte for byte, tokens included. */
    static const char fake_token[] = "0000000000000000000000000000000000000000000";

    memset(ph, 0, sizeof *ph);
    ph->t = t;
    ph->op = op;
    ph->n = (size_t)cfg.users * (size_t)(op == OP_PUSH ? cfg.rounds : cfg.passes);
    ph->data = xmalloc(ph->n * sizeof *ph->data);
    ph->len = xmalloc(ph->n * sizeof *ph->len);
    ph->who = xmalloc(ph->n * sizeof *ph->who);
    ph->reqs = calloc(ph->n, sizeof *ph->reqs);
    ph->lat_ms = xmalloc(ph->n * sizeof *ph->lat_ms);
    if (ph->reqs == NULL)
        die("out of memory");
    /* Round by round (pass by pass), every user once in each. */
    for (size_t i = 0; i < ph->n; i++) {
        int k = (int)(i % (size_t)cfg.users), round = (int)(i / (size_t)cfg.users);
        user *u = &users[k];
        const char *token = t->kind == K_PEER ? NULL : u->token[0] ? u->token : fake_token;
        char path[256], *body = NULL;
        ph->who[i] = k;
        if (op == OP_PUSH) {
            size_t cap = (size_t)cfg.batch * (strlen(u->env[0]) + 64) + 64, n = 0;
            body = xmalloc(cap);
            n += (size_t)snprintf(body, cap, t->kind == K_PEER ? "{\"docs\":[" : "{\"records\":[");
            for (int b = 0; b < cfg.batch; b++) {
                size_t e = (size_t)round * (size_t)cfg.batch + (size_t)b;
                if (t->kind == K_PEER)
                    n += (size_t)snprintf(body + n, cap - n, "%s{\"_id\":\"r%s\",\"env\":\"%s\"}",
                                          b ? "," : "", u->rec[e], u->env[e]);
                else
                    n += (size_t)snprintf(body + n, cap - n, "%s{\"envelope\":\"%s\"}",
                                          b ? "," : "", u->env[e]);
            }
            snprintf(body + n, cap - n, "]}");
            if (t->kind == K_PEER)
                snprintf(path, sizeof path, "/%s/_bulk_docs", u->db);
            else
                snprintf(path, sizeof path, "/v1/streams/%s/records", u->shared_t);
            ph->data[i] = http_req(t, "POST", path, token, body, &ph->len[i]);
        } else {
            if (t->kind == K_PEER)
                snprintf(path, sizeof path, "/%s/_changes?since=0&include_docs=true", u->db);
            else
                snprintf(path, sizeof path, "/v1/streams/%s/records?since=0", u->shared_t);
            ph->data[i] = http_req(t, "GET", path, token, NULL, &ph->len[i]);
        }
        free(body);
        ph->reqs[i].data = ph->data[i];
        ph->reqs[i].len = ph->len[i];
        ph->reqs[i].done = phase_done;
        ph->reqs[i].arg = ph;
    }
}

static void
phase_free(phase *ph)
{
    for (size_t i = 0; i < ph->n; i++)
        free(ph->data[i]);
    free(ph->data);
    free(ph->len);
    free(ph->who);
    free(ph->reqs);
    free(ph->lat_ms);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The nearest-rank percentile of n sorted values. */
static double
pct(const double *sorted, size_t n, double q)
{
    size_t r = (size_t)ceil(q * (double)n);
    return n == 0 ? NAN : sorted[r == 0 ? 0 : r - 1];
}

/* Bytes on the wire of the target's pools. */
static void
pool_bytes(const target *t, uint64_t *sent, uint64_t *received)
{
    uint64_t s2 = 0, r2 = 0;
    bl_pool_bytes(t->pool, sent, received);
    if (t->pool2 != NULL)
        bl_pool_bytes(t->pool2, &s2, &r2);
    *sent += s2;
    *received += r2;
}

/* CPU time of the target's server processes (both nodes), or -1. */
static double
target_cpu_ms(const target *t)
{
    double a = bl_cpu_ms(t->pid), b = t->nodes == 2 ? bl_cpu_ms(t->pid2) : 0;
    return a < 0 || b < 0 ? -1 : a + b;
}

/* ---- where a push's CPU goes ---- */

/* daybookd's threads by role (server/worker.c names them, and the SQLite store its
 * checkpoint thread): the loop is the main thread; "other" is any thread not named
 * (libuv's pool). */
enum role { R_LOOP, R_PREP, R_STORE, R_SYNC, R_CKPT, R_OTHER, R_N };
static const char *const role_name[R_N] = {"loop", "prep", "store", "sync", "ckpt", "other"};

#define MAX_THREADS 64

typedef struct cpu_snap {
    double user_ms[R_N], sys_ms[R_N];         /* the server's, summed over its threads */
    long vcsw[R_N], nvcsw[R_N];               /* and their context switches */
    long long wchar[R_N];                     /* and the bytes they wrote */
    double run_ms[R_N], runq_ms[R_N];         /* schedstat: on a CPU, runnable and waiting */
    int nthreads[R_N];                        /* threads of the role */
    bool sched_ok;                            /* every thread had a schedstat */
    long long commits, jobs;                  /* the storage thread's, from /metrics */
    double machine_busy_ms, machine_steal_ms; /* every core's, from /proc/stat */
    double gen_user_ms, gen_sys_ms;           /* this process's own */
    double gen_run_ms, gen_runq_ms;           /* its loop thread's schedstat */
    bool ok;
} cpu_snap;

static void
snap_pid(cpu_snap *s, pid_t pid)
{
    bl_thread_cpu th[MAX_THREADS];
    int n = bl_threads_cpu(pid, th, MAX_THREADS);
    if (n < 0) {
        s->ok = false;
        return;
    }
    for (int i = 0; i < n; i++) {
        enum role r = th[i].tid == (int)pid                  ? R_LOOP
                      : strcmp(th[i].comm, "dbk-prep") == 0  ? R_PREP
                      : strcmp(th[i].comm, "dbk-store") == 0 ? R_STORE
                      : strcmp(th[i].comm, "dbk-sync") == 0  ? R_SYNC
                      : strcmp(th[i].comm, "dbk-ckpt") == 0  ? R_CKPT
                                                             : R_OTHER;
        s->user_ms[r] += th[i].user_ms;
        s->sys_ms[r] += th[i].sys_ms;
        s->vcsw[r] += th[i].vcsw;
        s->nvcsw[r] += th[i].nvcsw;
        s->wchar[r] += th[i].wchar;
        s->nthreads[r]++;
        if (th[i].run_ns < 0)
            s->sched_ok = false;
        s->run_ms[r] += (double)th[i].run_ns / 1e6;
        s->runq_ms[r] += (double)th[i].runq_ns / 1e6;
    }
}

/* A counter of daybookd's /metrics, summed over the target's nodes; -1 if absent. */
static long long
metric(target *t, const char *name)
{
    long long sum = 0;
    for (int node = 0; node < (t->nodes == 2 ? 2 : 1); node++) {
        size_t len;
        int status;
        char *req = http_req(t, "GET", "/metrics", NULL, NULL, &len), *body = NULL, *p;
        bl_pool *pool = node == 0 ? t->pool : t->pool2;
        if (bl_call(pool, req, len, &status, &body) != 0 || status != 200 ||
            (p = strstr(body, name)) == NULL || p[strlen(name)] != ' ')
            sum = -1;
        else if (sum >= 0)
            sum += strtoll(p + strlen(name) + 1, NULL, 10);
        free(req);
        free(body);
    }
    return sum;
}

/* daybookd's heap trims so far (all nodes), or -1 for a peer. */
static long long
trims_now(target *t)
{
    return t->kind == K_DAYBOOK ? metric(t, "\ndaybook_heap_trims_total") : -1;
}

/* Waits until every node of a daybookd target has trimmed since it counted `before`
 * trims (server/limits.h: DBK_TRIM_INTERVAL_MS, 10 s, plus slack), so its RSS at rest
 * is read after the pull's trim. */
static void
wait_trimmed(target *t, long long before)
{
    if (before < 0)
        return;
    for (int i = 0;
         i < 300 && metric(t, "\ndaybook_heap_trims_total") < before + (t->nodes == 2 ? 2 : 1); i++)
        usleep(50000);
}

/* Busy and stolen CPU time of the whole machine (every core), from /proc/stat. */
static void
snap_machine(cpu_snap *s)
{
    unsigned long long usr, nice, sys, idle, iowait, irq, softirq, steal;
    FILE *f = fopen("/proc/stat", "r");
    double tick = 1000.0 / (double)sysconf(_SC_CLK_TCK);

    s->machine_busy_ms = s->machine_steal_ms = -1;
    if (f == NULL)
        return;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &usr, &nice, &sys, &idle, &iowait,
               &irq, &softirq, &steal) == 8) {
        s->machine_busy_ms = (double)(usr + nice + sys + irq + softirq) * tick;
        s->machine_steal_ms = (double)steal * tick;
    }
    fclose(f);
}

static void
snap_take(cpu_snap *s, target *t)
{
    struct rusage ru;
    memset(s, 0, sizeof *s);
    s->ok = s->sched_ok = true;
    snap_machine(s);
    s->commits = metric(t, "\ndaybook_storage_commits_total");
    s->jobs = metric(t, "\ndaybook_storage_jobs_total");
    snap_pid(s, t->pid);
    if (t->nodes == 2)
        snap_pid(s, t->pid2);
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        s->ok = false;
    {
        long long run = -1, runq = -1;
        FILE *f = fopen("/proc/thread-self/schedstat", "r");
        if (f == NULL || fscanf(f, "%lld %lld", &run, &runq) != 2)
            s->sched_ok = false;
        if (f != NULL)
            fclose(f);
        s->gen_run_ms = (double)run / 1e6;
        s->gen_runq_ms = (double)runq / 1e6;
    }
    s->gen_user_ms = (double)ru.ru_utime.tv_sec * 1e3 + (double)ru.ru_utime.tv_usec / 1e3;
    s->gen_sys_ms = (double)ru.ru_stime.tv_sec * 1e3 + (double)ru.ru_stime.tv_usec / 1e3;
}

/* This thread's CPU time, in ns. */
static uint64_t
thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * One core's Ed25519 verify rate (crypto_sign_verify_detached on an envelope's
 * signing input, built as daybookd builds it), per second of this thread's CPU time,
 * as the server's CPU is measured, so that other processes on a shared machine do
 * not lower it. Two ways, in alternating rounds of ~50 ms so both meet the same
 * machine, the best of five each: over VERIFY_SET envelopes of the push phase in
 * turn (different messages, signatures and keys), as the server meets them; and one
 * envelope over and over, as bench_ceilings measures the ceiling. The CPU takes the
 * same branches for the same signature every time and learns them: one signature
 * repeated verifies a few per cent faster.
 */
#define VERIFY_SET 256

static void
verify_per_s(double *distinct_per_s, double *same_per_s)
{
    unsigned char *env[VERIFY_SET], *in[VERIFY_SET];
    size_t inlen[VERIFY_SET], len[VERIFY_SET];
    const unsigned char *pk[VERIFY_SET];

    for (int i = 0; i < VERIFY_SET; i++) {
        const user *u = &users[i % cfg.users];
        int e = (i / cfg.users) % (cfg.rounds * cfg.batch);
        size_t n = strlen(u->env[e]);
        env[i] = xmalloc(n);
        in[i] = xmalloc(DBK_ENV_SIG_DOMAIN_BYTES + n);
        if (dbk_b64_decode(env[i], n, &len[i], u->env[e], n) != 0)
            die("base64");
        inlen[i] = dbk_envelope_signing_input(env[i], len[i], in[i]);
        pk[i] = u->keys->sign_pk;
    }
    *distinct_per_s = *same_per_s = 0;
    for (int round = 0; round < 10; round++) {
        bool distinct = round % 2 == 0;
        int k = 0;
        uint64_t t0 = thread_cpu_ns(), t1;
        do {
            for (int i = 0; i < VERIFY_SET; i++, k++) {
                int j = distinct ? i : 0;
                if (crypto_sign_verify_detached(env[j] + len[j] - crypto_sign_BYTES, in[j],
                                                inlen[j], pk[j]) != 0)
                    die("an envelope of ours does not verify");
            }
            t1 = thread_cpu_ns();
        } while (t1 - t0 < 50000000);
        double rate = (double)k / ((double)(t1 - t0) / 1e9), *best;
        best = distinct ? distinct_per_s : same_per_s;
        if (rate > *best)
            *best = rate;
    }
    for (int i = 0; i < VERIFY_SET; i++) {
        free(env[i]);
        free(in[i]);
    }
}

/* One core's verify rate, measured once a run (it takes half a second). */
static void
verify_rates(double *distinct_per_s, double *same_per_s)
{
    static double d, s;
    if (d == 0)
        verify_per_s(&d, &s);
    *distinct_per_s = d;
    *same_per_s = s;
}

/*
 * A phase's CPU, per unit of work (a record pushed, a sync): daybookd's by thread
 * (user and system time), this generator's own, the whole machine's (/proc/stat:
 * every process and the kernel's own threads, such as the file system's journal; on a
 * shared machine, other tenants too), and what they imply. The cores are shared by
 * the server and the generator, so the rate they allow is cores / (server +
 * generator CPU per unit), whatever the scheduling. For the push, set against one
 * core's verify rate, it says how far issue 20's push target (1.6x that rate) is
 * within reach on this machine; for the sync, against its target (13,000 syncs/s)
 * and its one unavoidable cost, the pushed entry's verify. `prefix` is the rows' key
 * prefix: "push", "sync" or "nn_sync".
 */
static void
cpu_budget(target *t, const cpu_snap *a, const cpu_snap *b, size_t n, double secs,
           const char *prefix)
{
    bool push = strcmp(prefix, "push") == 0, nn = strcmp(prefix, "nn_sync") == 0;
    const char *unit = push ? "record" : "sync", *units = push ? "records/s" : "syncs/s";
    const char *name = push ? "push" : nn ? "nothing-new sync" : "sync";
    const char *per_what = push ? "per record pushed" : nn ? "per nothing-new sync" : "per sync";
    double per = 1000.0 / (double)n; /* ms per phase -> us per unit */
    double server = 0, gen, ours, cores = (double)sysconf(_SC_NPROCESSORS_ONLN);
    double same, vps, verify_us;
    double ceiling, busy = -1, steal = 0;
    char key[64], label[160];

    if (!a->ok || !b->ok || n == 0)
        return;
    fprintf(stderr, "bench_load: %s %s, CPU per %s (us, user + system):\n", t->label, name, unit);
    for (int r = 0; r < R_N; r++) {
        double u = (b->user_ms[r] - a->user_ms[r]) * per, s = (b->sys_ms[r] - a->sys_ms[r]) * per;
        server += u + s;
        if (u + s > 0)
            fprintf(stderr,
                    "bench_load:   daybookd %-6s %7.1f (%.1f + %.1f; per 1,000 %ss: %.0f waits, "
                    "%.0f preemptions, %.0f KB written)\n",
                    role_name[r], u + s, u, s, unit,
                    (double)(b->vcsw[r] - a->vcsw[r]) * 1000.0 / (double)n,
                    (double)(b->nvcsw[r] - a->nvcsw[r]) * 1000.0 / (double)n,
                    (double)(b->wchar[r] - a->wchar[r]) / (double)n);
        snprintf(key, sizeof key, "%s_cpu_us_%s", prefix, role_name[r]);
        snprintf(label, sizeof label, "server CPU %s, %s thread%s", per_what, role_name[r],
                 r == R_LOOP || r == R_STORE || r == R_SYNC || r == R_CKPT ? "" : "s");
        row(t, key, label, u + s, "us");
    }
    /* Where each thread's wall time went (schedstat): on a CPU, runnable but waiting
     * for one (the cores were busy), or asleep (waiting for work, a lock or the disk).
     * A role of several threads: their mean. A thread that is seldom on a CPU yet
     * rarely runnable waits on something other than the cores. */
    if (a->sched_ok && b->sched_ok) {
        fprintf(stderr, "bench_load:   per thread, %% of the phase on a CPU / runnable / asleep:");
        for (int r = 0; r < R_N; r++) {
            if (b->nthreads[r] == 0 || b->nthreads[r] != a->nthreads[r])
                continue;
            double wall = secs * 1000.0 * b->nthreads[r];
            double on = (b->run_ms[r] - a->run_ms[r]) / wall,
                   rq = (b->runq_ms[r] - a->runq_ms[r]) / wall;
            fprintf(stderr, " %s %.0f/%.0f/%.0f", role_name[r], 100 * on, 100 * rq,
                    100 * (1 - on - rq));
            snprintf(key, sizeof key, "%s_oncpu_share_%s", prefix, role_name[r]);
            snprintf(label, sizeof label, "%s: share of the phase a %s thread was on a CPU", name,
                     role_name[r]);
            row(t, key, label, on, "");
            snprintf(key, sizeof key, "%s_runq_share_%s", prefix, role_name[r]);
            snprintf(label, sizeof label,
                     "%s: share of the phase a %s thread was runnable, waiting for a CPU", name,
                     role_name[r]);
            row(t, key, label, rq, "");
        }
        double wall = secs * 1000.0;
        fprintf(
            stderr, "; generator %.0f/%.0f/%.0f\n", 100 * (b->gen_run_ms - a->gen_run_ms) / wall,
            100 * (b->gen_runq_ms - a->gen_runq_ms) / wall,
            100 * (1 - (b->gen_run_ms - a->gen_run_ms + b->gen_runq_ms - a->gen_runq_ms) / wall));
    }
    if (a->commits >= 0 && b->commits > a->commits)
        fprintf(stderr, "bench_load:   %lld group commits, %.1f requests each\n",
                b->commits - a->commits,
                (double)(b->jobs - a->jobs) / (double)(b->commits - a->commits));
    if (!push && a->jobs >= 0 && b->jobs >= a->jobs)
        fprintf(stderr, "bench_load:   %.2f storage jobs per sync\n",
                (double)(b->jobs - a->jobs) / (double)n);
    gen = (b->gen_user_ms - a->gen_user_ms + b->gen_sys_ms - a->gen_sys_ms) * per;
    ours = server + gen;
    if (t->store != NULL) { /* PostgreSQL's own processes are not measured: no ceiling */
        fprintf(stderr, "bench_load:   daybookd total  %7.1f (PostgreSQL's CPU not counted)\n",
                server);
        return;
    }
    verify_rates(&vps, &same);
    verify_us = 1e6 / vps;
    ceiling = cores * 1e6 / ours;
    if (a->machine_busy_ms >= 0 && b->machine_busy_ms >= 0) {
        busy = (b->machine_busy_ms - a->machine_busy_ms) * per;
        steal = (b->machine_steal_ms - a->machine_steal_ms) * per;
    }
    fprintf(stderr,
            "bench_load:   daybookd total  %7.1f\n"
            "bench_load:   generator       %7.1f (%.1f + %.1f; %s)\n"
            "bench_load:   both            %7.1f: on %.0f cores at most %.0f %s; the phase "
            "ran at %.0f, its CPU %.0f%% of the cores' time\n",
            server, gen, (b->gen_user_ms - a->gen_user_ms) * per,
            (b->gen_sys_ms - a->gen_sys_ms) * per,
            push ? "requests built before the phase"
                 : "requests built, answers parsed and checked during the phase",
            ours, cores, ceiling, units, (double)n / secs,
            100.0 * ours * (double)n / 1e6 / (secs * cores));
    if (busy >= 0)
        fprintf(stderr,
                "bench_load:   whole machine   %7.1f busy, %.1f stolen by the hypervisor (all "
                "processes and kernel threads; on a shared machine, other tenants too)\n",
                busy, steal);
    if (push)
        fprintf(stderr,
                "bench_load:   one-core Ed25519 verify here: %.1f us over distinct envelopes "
                "(%.0f/s; %.1f us repeating one, as bench_ceilings does)\n"
                "bench_load:   the CPU measured allows %.2fx the verify rate (%.2fx the repeated "
                "one); the target is 1.60x, %.1f us of server + generator CPU per record at "
                "most\n",
                verify_us, vps, 1e6 / same, ceiling / vps, ceiling / same, cores * verify_us / 1.6);
    else
        fprintf(stderr,
                "bench_load:   13,000 syncs/s (issue 20) needs at most %.1f us of server + "
                "generator CPU per sync; %s%.1f us (one-core Ed25519 verify here), which alone "
                "allows %.0f syncs/s\n",
                cores * 1e6 / 13000.0,
                nn ? "a nothing-new sync verifies nothing; a pushing one verifies one entry, "
                   : "the floor of a sync that pushes one entry is its verify, ",
                verify_us, cores * 1e6 / verify_us);
    snprintf(key, sizeof key, "%s_gen_cpu_us", prefix);
    snprintf(label, sizeof label, "load generator CPU %s (its own, same phase)", per_what);
    row(t, key, label, gen, "us");
    snprintf(key, sizeof key, "%s_both_cpu_us", prefix);
    snprintf(label, sizeof label, "server + generator CPU %s", per_what);
    row(t, key, label, ours, "us");
    if (busy >= 0) {
        snprintf(key, sizeof key, "%s_machine_busy_us", prefix);
        snprintf(label, sizeof label, "whole machine's busy CPU %s (/proc/stat)", per_what);
        row(t, key, label, busy, "us");
    }
    snprintf(key, sizeof key, push ? "push_cpu_ceiling_records_per_s" : "%s_cpu_ceiling_per_s",
             prefix);
    snprintf(label, sizeof label,
             "%s %s the measured CPU allows on all cores (cores / server + generator CPU)", name,
             units);
    row(t, key, label, ceiling, units);
    snprintf(key, sizeof key, "%s_cores_share", prefix);
    snprintf(label, sizeof label, "%s: share of the cores' time its server + generator CPU used",
             name);
    row(t, key, label, ours * (double)n / 1e6 / (secs * cores), "");
    if (push) {
        row(t, "push_verify_per_s", "one-core Ed25519 verify rate over the pushed envelopes", vps,
            "ops/s");
        row(t, "push_verify_same_per_s", "one-core Ed25519 verify rate, one envelope repeated",
            same, "ops/s");
    }
}

/* Runs a prepared phase and writes its rows. Returns 0, or -1 if it failed. */
static int
phase_run(phase *ph)
{
    target *t = ph->t;
    const char *what = ph->op == OP_PUSH ? "push" : "pull";
    uint64_t s0, r0, s1, r1, t0, t1;
    double cpu0, cpu1, secs;
    char key[64], label[160];
    cpu_snap snap0, snap1;

    pool_bytes(t, &s0, &r0);
    if (ph->op == OP_PUSH && t->kind == K_DAYBOOK)
        snap_take(&snap0, t);
    cpu0 = target_cpu_ms(t);
    t0 = bl_now_ns();
    for (size_t i = 0; i < ph->n; i++) /* two nodes: every other request to the second */
        bl_pool_submit(t->pool2 != NULL && i % 2 == 1 ? t->pool2 : t->pool, &ph->reqs[i]);
    if (bl_pool_drain(t->pool, PHASE_TIMEOUT_MS) != 0 ||
        (t->pool2 != NULL && bl_pool_drain(t->pool2, PHASE_TIMEOUT_MS) != 0)) {
        note("%s %s: %s", t->label, what,
             bl_pool_error(t->pool) ? bl_pool_error(t->pool) : bl_pool_error(t->pool2));
        return -1;
    }
    t1 = bl_now_ns();
    cpu1 = target_cpu_ms(t);
    if (ph->op == OP_PUSH && t->kind == K_DAYBOOK)
        snap_take(&snap1, t);
    pool_bytes(t, &s1, &r1);
    if (ph->bad > 0) {
        note("%s %s: %zu of %zu responses wrong, first: %s", t->label, what, ph->bad, ph->n,
             ph->first_bad);
        return -1;
    }
    secs = (double)(t1 - t0) / 1e9;
    qsort(ph->lat_ms, ph->n, sizeof *ph->lat_ms, cmp_double);
    fprintf(stderr, "bench_load: %s %s: %zu records in %.2f s\n", t->label, what, ph->records,
            secs);

    snprintf(key, sizeof key, "%s_records_per_s", what);
    snprintf(label, sizeof label, "%s, records/s", what);
    row(t, key, label, (double)ph->records / secs, "records/s");
    snprintf(key, sizeof key, "%s_p50_ms", what);
    snprintf(label, sizeof label, "%s latency p50 (one request of %d records)", what,
             ph->op == OP_PUSH ? cfg.batch : cfg.rounds * cfg.batch);
    row(t, key, label, pct(ph->lat_ms, ph->n, 0.50), "ms");
    snprintf(key, sizeof key, "%s_p99_ms", what);
    snprintf(label, sizeof label, "%s latency p99", what);
    row(t, key, label, pct(ph->lat_ms, ph->n, 0.99), "ms");
    if (cpu0 >= 0 && cpu1 >= 0) {
        snprintf(key, sizeof key, "%s_cpu_ms_per_1k", what);
        snprintf(label, sizeof label, "server CPU per 1,000 records %s", ph->op == OP_PUSH ?
                 "pushed" : "pulled");
        row(t, key, label, (cpu1 - cpu0) / ((double)ph->records / 1000.0), "ms");
    }
    if (ph->op == OP_PUSH && t->kind == K_DAYBOOK)
        cpu_budget(t, &snap0, &snap1, ph->records, secs, "push");
    snprintf(key, sizeof key, "%s_wire_bytes_per_record", what);
    snprintf(label, sizeof label, "bytes on the wire per record %s",
             ph->op == OP_PUSH ? "pushed" : "pulled");
    row(t, key, label, (double)((s1 - s0) + (r1 - r0)) / (double)ph->records, "B");
    return 0;
}

/* ---- the incremental sync phase ---- */

typedef struct syncer {
    target *t;
    user *u;
    bool measured;
    bl_pool *pool;     /* the node it syncs with */
    int next_env;      /* the next of u->sync_env to push */
    int step;          /* peer: 0 = _bulk_docs, 1 = _changes */
    int64_t since[2];  /* Daybook: shared, private; peer: [0] is the last seq */
    char *text;
    bl_req req;
    uint64_t t0;
    int done;          /* syncs completed */
    bool pushed;
    /* open loop: the scheduled time of sync number seq, and whether the client is
     * waiting for it (its previous sync answered before it was due) */
    uint64_t sched;
    int seq;
    bool waiting;
} syncer;

static struct {
    bool stop;
    int bg_done, fg_target, exhausted, bad;
    double *lat_ms;
    double *bg_lat_ms; /* the background syncs' latencies, bg_done of them */
    size_t bg_cap;
    char first_bad[400];
    bl_pool *fg_pool, *bg_pool, *bg_pool2;
} sync_state;

/* The open loop's schedule and what it measured (sync_open_run). */
static struct {
    bool on;
    int n; /* clients: the measured one is ss[0] */
    syncer *ss;
    uint64_t t0, period, win0, win1; /* ns: each client's period, the measured window */
    int fd, live;                    /* a timerfd for the next due sync; clients not done */
    uv_poll_t poll;
    double *fg, *bg, *lag; /* latencies from the scheduled time; send lag */
    size_t nfg, nbg, nlag;
    size_t done_in_win; /* syncs (any client's) answered inside the window */
} open_state;

/* Where each client's cursors and envelopes stood when the closed loop ended. */
typedef struct sync_pos {
    int64_t since[2];
    int next_env;
} sync_pos;
static sync_pos *sync_saved;

static void sync_next(syncer *s);
static void open_done(syncer *s);

/* Client k of a sync phase against t: user 0 is measured, 1..n sync beside it. With
 * two nodes the odd ones sync with the second, the even ones and the measured one
 * with the first. */
static void
syncer_init(syncer *s, target *t, int k)
{
    s->t = t;
    s->u = &users[k];
    s->measured = k == 0;
    s->pool = k == 0                        ? sync_state.fg_pool
              : t->nodes == 2 && k % 2 == 1 ? sync_state.bg_pool2
                                            : sync_state.bg_pool;
}

static void
sync_fail(const char *what, int status, const char *body)
{
    if (sync_state.bad++ == 0)
        snprintf(sync_state.first_bad, sizeof sync_state.first_bad, "%s: HTTP %d: %.200s", what,
                 status, body);
}

static void
sync_done(bl_req *r, int status, const char *body, size_t len)
{
    syncer *s = r->arg;
    bool finished = true;
    json_t *j = NULL;

    if (s->t->kind == K_DAYBOOK) {
        int64_t next[2];
        if (status != 200 || !bl_sync_answer_read(body, len, next) ||
            (s->pushed && strstr(body, "\"result\":\"stored\"") == NULL)) {
            sync_fail("sync", status, body);
        } else {
            s->since[0] = next[0];
            s->since[1] = next[1];
        }
    } else if (s->step == 0) {
        if (status != 201 || strstr(body, "\"ok\":true") == NULL)
            sync_fail("_bulk_docs", status, body);
        finished = false;
        s->step = 1;
    } else {
        json_t *seq = json_object_get(j = json_loadb(body, len, 0, NULL), "last_seq");
        if (status != 200 || !json_is_integer(seq))
            sync_fail("_changes", status, body);
        else
            s->since[0] = json_integer_value(seq);
        s->step = 0;
    }
    json_decref(j);
    if (finished && open_state.on) {
        open_done(s);
        return;
    }
    if (finished) {
        double ms = (double)(bl_now_ns() - s->t0) / 1e6;
        if (s->measured) {
            sync_state.lat_ms[s->done] = ms;
        } else {
            if ((size_t)sync_state.bg_done == sync_state.bg_cap) {
                sync_state.bg_cap = sync_state.bg_cap ? 2 * sync_state.bg_cap : 4096;
                sync_state.bg_lat_ms =
                    realloc(sync_state.bg_lat_ms, sync_state.bg_cap * sizeof *sync_state.bg_lat_ms);
                if (sync_state.bg_lat_ms == NULL)
                    die("out of memory");
            }
            sync_state.bg_lat_ms[sync_state.bg_done++] = ms;
        }
        s->done++;
        if (s->measured ? s->done >= sync_state.fg_target : sync_state.stop)
            return;
    }
    sync_next(s);
}

static void
sync_next(syncer *s)
{
    target *t = s->t;
    user *u = s->u;
    const char *env = NULL, *rec = NULL;
    char body[2048], path[256];
    size_t len;

    if (s->step == 0) {
        /* Open loop: from the time it was due, so a late send is not hidden. */
        s->t0 = open_state.on ? s->sched : bl_now_ns();
        if (!cfg.sync_push) {
            /* the daily case: nothing to push, nothing new to pull */
        } else if (s->next_env < u->nsync) {
            env = u->sync_env[s->next_env];
            rec = u->sync_rec[s->next_env];
            s->next_env++;
        } else if (s->next_env == u->nsync) {
            sync_state.exhausted++; /* counted once; it goes on pulling */
            s->next_env++;
        }
    }
    s->pushed = env != NULL;
    free(s->text);
    if (t->kind == K_DAYBOOK) {
        int n = snprintf(body, sizeof body, "{");
        if (env != NULL)
            n += snprintf(body + n, sizeof body - (size_t)n,
                          "\"push\":[{\"stream\":\"%s\",\"records\":[{\"envelope\":\"%s\"}]}],",
                          u->shared_t, env);
        snprintf(body + n, sizeof body - (size_t)n,
                 "\"pull\":[{\"stream\":\"%s\",\"since\":%lld},{\"stream\":\"%s\",\"since\":%lld}]}",
                 u->shared_t, (long long)s->since[0], u->priv_t, (long long)s->since[1]);
        s->text = http_req(t, "POST", "/v1/sync", u->token, body, &len);
    } else if (s->step == 0 && env != NULL) {
        snprintf(body, sizeof body, "{\"docs\":[{\"_id\":\"r%s\",\"env\":\"%s\"}]}", rec, env);
        snprintf(path, sizeof path, "/%s/_bulk_docs", u->db);
        s->text = http_req(t, "POST", path, NULL, body, &len);
    } else {
        s->step = 1; /* nothing left to push: changes only */
        snprintf(path, sizeof path, "/%s/_changes?since=%lld&include_docs=true", u->db,
                 (long long)s->since[0]);
        s->text = http_req(t, "GET", path, NULL, NULL, &len);
    }
    s->req.data = s->text;
    s->req.len = len;
    s->req.done = sync_done;
    s->req.arg = s;
    bl_pool_submit(s->pool, &s->req);
}

static void
on_tick(uv_timer_t *h)
{
    (void)h;
}

/* Runs the loop until the background clients have warmed up, bounded. */
static int
run_until_warm(int want, uint64_t timeout_ms)
{
    uv_timer_t tick;
    uint64_t deadline = bl_now_ns() + timeout_ms * 1000000;
    int rc = 0;

    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_tick, 50, 50); /* so the loop wakes up to check the clock */
    while (sync_state.bg_done < want && sync_state.bad == 0) {
        if (bl_pool_error(sync_state.bg_pool) != NULL ||
            (sync_state.bg_pool2 != NULL && bl_pool_error(sync_state.bg_pool2) != NULL) ||
            bl_now_ns() > deadline) {
            rc = -1;
            break;
        }
        uv_run(loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return rc;
}

static int
sync_run(target *t)
{
    int nbg = cfg.inflight < cfg.users - 1 ? cfg.inflight : cfg.users - 1;
    syncer *ss = calloc((size_t)nbg + 1, sizeof *ss);
    int rc = -1, bg0, bg_measured;
    uint64_t t0;
    size_t n_syncs;
    double rate, cpu0, cpu_per_sync, secs;
    cpu_snap snap0, snap1;

    memset(&sync_state, 0, sizeof sync_state);
    sync_state.fg_target = cfg.syncs;
    sync_state.lat_ms = xmalloc((size_t)cfg.syncs * sizeof *sync_state.lat_ms);
    /* Two nodes: the odd background clients on the second, the even ones and the
     * measured one on the first. */
    sync_state.bg_pool = bl_pool_new(loop, t->port, t->nodes == 2 ? nbg / 2 : nbg);
    if (t->nodes == 2)
        sync_state.bg_pool2 = bl_pool_new(loop, t->port2, (nbg + 1) / 2);
    sync_state.fg_pool = bl_pool_new(loop, t->port, 1);
    if (ss == NULL || sync_state.bg_pool == NULL || sync_state.fg_pool == NULL ||
        (t->nodes == 2 && sync_state.bg_pool2 == NULL))
        die("out of memory");
    /* User 0 is measured; users 1..nbg sync in the background. Cursors start where
     * the pull passes left them, as a device's would. */
    for (int k = 0; k <= nbg; k++) {
        syncer_init(&ss[k], t, k);
        ss[k].since[0] = pull_next[k];
    }
    for (int k = 1; k <= nbg; k++)
        sync_next(&ss[k]);
    if (run_until_warm(nbg * SYNC_WARMUP, 60000) != 0) {
        note("%s sync: background clients did not get going: %s", t->label,
             sync_state.bad ? sync_state.first_bad : "timeout or transport error");
        goto out;
    }
    /* The CPU budget's snapshots read /metrics through a pool of their own (the
     * phases' pools are gone); the background clients go on meanwhile. */
    if (t->kind == K_DAYBOOK) {
        t->pool = bl_pool_new(loop, t->port, 1);
        t->pool2 = t->nodes == 2 ? bl_pool_new(loop, t->port2, 1) : NULL;
        if (t->pool == NULL || (t->nodes == 2 && t->pool2 == NULL))
            die("out of memory");
        snap_take(&snap0, t);
    }
    t0 = bl_now_ns();
    bg0 = sync_state.bg_done;
    cpu0 = target_cpu_ms(t);
    sync_next(&ss[0]);
    if (bl_pool_drain(sync_state.fg_pool, PHASE_TIMEOUT_MS) != 0) {
        note("%s sync: %s", t->label, bl_pool_error(sync_state.fg_pool));
        goto out;
    }
    /* Every client's syncs while the measured one ran: what the server kept up. */
    n_syncs = (size_t)(sync_state.bg_done - bg0 + cfg.syncs);
    secs = (double)(bl_now_ns() - t0) / 1e9;
    rate = (double)n_syncs / secs;
    cpu_per_sync = (target_cpu_ms(t) - cpu0) * 1000.0 / (double)n_syncs;
    if (t->kind == K_DAYBOOK)
        snap_take(&snap1, t);
    bg_measured = sync_state.bg_done; /* those that ended while the measured one ran */
    sync_state.stop = true;
    if (bl_pool_drain(sync_state.bg_pool, 60000) != 0 ||
        (sync_state.bg_pool2 != NULL && bl_pool_drain(sync_state.bg_pool2, 60000) != 0)) {
        note("%s sync: %s", t->label,
             bl_pool_error(sync_state.bg_pool) ? bl_pool_error(sync_state.bg_pool)
                                               : bl_pool_error(sync_state.bg_pool2));
        goto out;
    }
    if (sync_state.bad > 0) {
        note("%s sync: %d wrong responses, first: %s", t->label, sync_state.bad,
             sync_state.first_bad);
        goto out;
    }
    if (sync_state.exhausted > 0)
        note("%s sync: %d background clients ran out of new entries and only pulled at the end",
             t->label, sync_state.exhausted);
    qsort(sync_state.lat_ms, (size_t)cfg.syncs, sizeof *sync_state.lat_ms, cmp_double);
    {
        char label[160];
        const char *pre = cfg.sync_push ? "" : "nn_";
        char key[32];
        snprintf(label, sizeof label,
                 cfg.sync_push
                     ? "incremental sync p50 (one entry pushed, changes pulled; %d others syncing)"
                     : "nothing-new sync p50 (two streams pulled, nothing new; %d others syncing)",
                 nbg);
        snprintf(key, sizeof key, "%ssync_p50_ms", pre);
        row(t, key, label, pct(sync_state.lat_ms, (size_t)cfg.syncs, 0.50), "ms");
        snprintf(key, sizeof key, "%ssync_p99_ms", pre);
        row(t, key, cfg.sync_push ? "incremental sync p99" : "nothing-new sync p99",
            pct(sync_state.lat_ms, (size_t)cfg.syncs, 0.99), "ms");
        snprintf(label, sizeof label, "syncs/s the server completed meanwhile (%d clients)",
                 nbg + 1);
        snprintf(key, sizeof key, "%ssync_per_s", pre);
        row(t, key, label, rate, "syncs/s");
        /* What a sync costs the server, whatever else the machine runs meanwhile. */
        snprintf(key, sizeof key, "%ssync_cpu_us", pre);
        row(t, key, "server CPU per sync (every client's, while the measured one ran)",
            cpu_per_sync, "us");
        /* The others', while the measured one ran: the same load seen from every
         * client (with two nodes, from both). */
        size_t nb = (size_t)(bg_measured - bg0);
        if (nb > 0) {
            double *bl = sync_state.bg_lat_ms + bg0;
            qsort(bl, nb, sizeof *bl, cmp_double);
            snprintf(key, sizeof key, "%sbg_sync_p50_ms", pre);
            row(t, key, "the others' syncs meanwhile, p50", pct(bl, nb, 0.50), "ms");
            snprintf(key, sizeof key, "%sbg_sync_p99_ms", pre);
            row(t, key, "the others' syncs meanwhile, p99", pct(bl, nb, 0.99), "ms");
        }
    }
    fprintf(stderr, "bench_load: %s sync: %d measured, %d background syncs\n", t->label,
            cfg.syncs, sync_state.bg_done);
    if (t->kind == K_DAYBOOK)
        cpu_budget(t, &snap0, &snap1, n_syncs, secs, cfg.sync_push ? "sync" : "nn_sync");
    /* The open loop goes on from here: new envelopes, cursors where these left them. */
    free(sync_saved);
    if ((sync_saved = calloc((size_t)nbg + 1, sizeof *sync_saved)) == NULL)
        die("out of memory");
    for (int k = 0; k <= nbg; k++) {
        sync_saved[k].since[0] = ss[k].since[0];
        sync_saved[k].since[1] = ss[k].since[1];
        sync_saved[k].next_env = ss[k].next_env;
    }
    rc = 0;
out:
    bl_pool_free(t->pool);
    t->pool = NULL;
    bl_pool_free(t->pool2);
    t->pool2 = NULL;
    bl_pool_free(sync_state.fg_pool);
    bl_pool_free(sync_state.bg_pool);
    if (sync_state.bg_pool2 != NULL)
        bl_pool_free(sync_state.bg_pool2);
    free(sync_state.bg_lat_ms);
    for (int k = 0; k <= nbg; k++)
        free(ss[k].text);
    free(ss);
    free(sync_state.lat_ms);
    return rc;
}

/* ---- the open-loop sync phase ---- */

/*
 * The closed loop above cannot show a p99 under 5 ms at 13,000 syncs/s: its 65
 * clients each send the next sync the moment the last is answered, so 65 are always
 * in flight and by Little's law their mean latency is 65 / (syncs per second), 5.0
 * ms at 13,000. Here the same clients sync on a schedule instead: each is due every
 * n / open_rate seconds, the n clients' schedules evenly staggered, so open_rate
 * syncs a second are offered whatever the server answers. A client still syncs one
 * at a time, as a device does (its cursors come from the last answer): a sync due
 * while the last is unanswered is sent when that answer comes, and its latency is
 * counted from when it was due, so a server that falls behind shows it in the
 * latencies instead of slowing the arrivals down (coordinated omission). A timerfd
 * on the loop sends each sync at its time (libuv's timers have millisecond steps);
 * how late the generator itself sent is reported beside (send lag). Daybook only:
 * the peer's sync is two requests and it serves about a tenth of this rate, so
 * these rows are not set against it.
 */
static uint64_t
open_due(const syncer *s, int k)
{
    return open_state.t0 + open_state.period * (uint64_t)k / (uint64_t)open_state.n +
           open_state.period * (uint64_t)s->seq;
}

/* Sends s's due sync; by_timer: it waited for its time, and how late the timer
 * sent it is the generator's own lag (a sync overdue when its client's last answer
 * came is the server's lateness, counted in its latency). */
static void
open_send(syncer *s, uint64_t now, bool by_timer)
{
    s->waiting = false;
    if (by_timer && s->seq >= OPEN_WARMUP)
        open_state.lag[open_state.nlag++] = (double)(now - s->sched) / 1e6;
    sync_next(s);
}

/* Arms the timerfd for the earliest sync due among the waiting clients. */
static void
open_arm(void)
{
    uint64_t next = 0;
    struct itimerspec its;

    for (int k = 0; k < open_state.n; k++)
        if (open_state.ss[k].waiting && (next == 0 || open_state.ss[k].sched < next))
            next = open_state.ss[k].sched;
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = (time_t)(next / 1000000000);
    its.it_value.tv_nsec = (long)(next % 1000000000);
    if (next == 0) /* none waiting: disarmed (a zero it_value disarms) */
        its.it_value.tv_nsec = 0;
    if (timerfd_settime(open_state.fd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
        die("timerfd_settime: %s", strerror(errno));
}

static void
open_on_timer(uv_poll_t *h, int status, int events)
{
    uint64_t expirations, now = bl_now_ns();
    (void)h;
    (void)status;
    (void)events;
    if (read(open_state.fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        die("timerfd read: %s", strerror(errno));
    for (int k = 0; k < open_state.n; k++)
        if (open_state.ss[k].waiting && open_state.ss[k].sched <= now)
            open_send(&open_state.ss[k], now, true);
    open_arm();
}

/* A sync answered: its latency, then the client's next one, now or when it is due. */
static void
open_done(syncer *s)
{
    uint64_t now = bl_now_ns();
    int k = (int)(s - open_state.ss);
    double ms = (double)(now - s->sched) / 1e6;

    if (s->seq >= OPEN_WARMUP) {
        if (s->measured)
            open_state.fg[open_state.nfg++] = ms;
        else
            open_state.bg[open_state.nbg++] = ms;
    }
    if (now >= open_state.win0 && now < open_state.win1)
        open_state.done_in_win++;
    s->done++;
    if (++s->seq >= OPEN_WARMUP + cfg.syncs) {
        open_state.live--;
        return;
    }
    s->sched = open_due(s, k);
    if (s->sched <= now) {
        open_send(s, now, false);
    } else {
        s->waiting = true;
        open_arm();
    }
}

static int
sync_open_run(target *t)
{
    int nbg = cfg.inflight < cfg.users - 1 ? cfg.inflight : cfg.users - 1, n = nbg + 1;
    size_t per = (size_t)cfg.syncs * (size_t)n;
    syncer *ss = calloc((size_t)n, sizeof *ss);
    uint64_t deadline;
    uv_timer_t tick;
    int rc = -1;

    memset(&sync_state, 0, sizeof sync_state);
    memset(&open_state, 0, sizeof open_state);
    open_state.n = n;
    open_state.ss = ss;
    open_state.period = (uint64_t)((double)n * 1e9 / (double)cfg.open_rate);
    open_state.fg = xmalloc(per * sizeof *open_state.fg);
    open_state.bg = xmalloc(per * sizeof *open_state.bg);
    open_state.lag = xmalloc(per * sizeof *open_state.lag);
    open_state.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (ss == NULL || open_state.fd < 0)
        die("open loop: %s", strerror(errno));
    sync_state.bg_pool = bl_pool_new(loop, t->port, t->nodes == 2 ? nbg / 2 : nbg);
    if (t->nodes == 2)
        sync_state.bg_pool2 = bl_pool_new(loop, t->port2, (nbg + 1) / 2);
    sync_state.fg_pool = bl_pool_new(loop, t->port, 1);
    if (sync_state.bg_pool == NULL || sync_state.fg_pool == NULL ||
        (t->nodes == 2 && sync_state.bg_pool2 == NULL))
        die("out of memory");
    uv_poll_init(loop, &open_state.poll, open_state.fd);
    uv_poll_start(&open_state.poll, UV_READABLE, open_on_timer);
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_tick, 50, 50); /* so the loop wakes up to check the clock */
    open_state.on = true;
    open_state.live = n;
    /* The first syncs are due 20 ms from now, the window after OPEN_WARMUP periods. */
    open_state.t0 = bl_now_ns() + 20000000;
    open_state.win0 = open_state.t0 + open_state.period * OPEN_WARMUP;
    open_state.win1 = open_state.win0 + open_state.period * (uint64_t)cfg.syncs;
    for (int k = 0; k < n; k++) {
        syncer_init(&ss[k], t, k);
        ss[k].since[0] = sync_saved[k].since[0];
        ss[k].since[1] = sync_saved[k].since[1];
        ss[k].next_env = sync_saved[k].next_env;
        ss[k].sched = open_due(&ss[k], k);
        ss[k].waiting = true;
    }
    open_arm();
    deadline = bl_now_ns() + (uint64_t)PHASE_TIMEOUT_MS * 1000000;
    while (open_state.live > 0 && sync_state.bad == 0 && bl_now_ns() < deadline &&
           bl_pool_error(sync_state.fg_pool) == NULL && bl_pool_error(sync_state.bg_pool) == NULL &&
           (sync_state.bg_pool2 == NULL || bl_pool_error(sync_state.bg_pool2) == NULL))
        uv_run(loop, UV_RUN_ONCE);
    open_state.on = false;
    uv_close((uv_handle_t *)&tick, NULL);
    uv_close((uv_handle_t *)&open_state.poll, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    close(open_state.fd);
    if (open_state.live > 0) {
        note("%s open-loop sync: %s", t->label,
             sync_state.bad ? sync_state.first_bad : "timeout or transport error");
        goto out;
    }
    if (sync_state.exhausted > 0)
        note("%s open-loop sync: %d clients ran out of new entries and only pulled at the end",
             t->label, sync_state.exhausted);
    qsort(open_state.fg, open_state.nfg, sizeof *open_state.fg, cmp_double);
    qsort(open_state.bg, open_state.nbg, sizeof *open_state.bg, cmp_double);
    qsort(open_state.lag, open_state.nlag, sizeof *open_state.lag, cmp_double);
    {
        const char *pre = cfg.sync_push ? "open_" : "nn_open_";
        double secs = (double)(open_state.win1 - open_state.win0) / 1e9;
        char key[40], label[200];
        snprintf(label, sizeof label,
                 "open loop: %s p50, measured client (%d syncing on a schedule, %d syncs/s "
                 "offered, latency from when each was due)",
                 cfg.sync_push ? "incremental sync" : "nothing-new sync", n, cfg.open_rate);
        snprintf(key, sizeof key, "%ssync_p50_ms", pre);
        row(t, key, label, pct(open_state.fg, open_state.nfg, 0.50), "ms");
        snprintf(key, sizeof key, "%ssync_p99_ms", pre);
        row(t, key, "open loop: measured client, p99", pct(open_state.fg, open_state.nfg, 0.99),
            "ms");
        snprintf(key, sizeof key, "%sbg_sync_p50_ms", pre);
        row(t, key, "open loop: the others' syncs, p50", pct(open_state.bg, open_state.nbg, 0.50),
            "ms");
        snprintf(key, sizeof key, "%sbg_sync_p99_ms", pre);
        row(t, key, "open loop: the others' syncs, p99", pct(open_state.bg, open_state.nbg, 0.99),
            "ms");
        snprintf(key, sizeof key, "%ssync_offered_per_s", pre);
        row(t, key, "open loop: syncs/s offered", (double)n * 1e9 / (double)open_state.period,
            "syncs/s");
        snprintf(key, sizeof key, "%ssync_per_s", pre);
        row(t, key, "open loop: syncs/s answered within the window",
            (double)open_state.done_in_win / secs, "syncs/s");
        snprintf(key, sizeof key, "%ssend_lag_p99_ms", pre);
        row(t, key, "open loop: how late the generator's timer sent a sync, p99",
            pct(open_state.lag, open_state.nlag, 0.99), "ms");
        fprintf(stderr,
                "bench_load: %s open-loop sync at %d/s offered: answered %.0f/s; measured p50 "
                "%.2f p99 %.2f ms, others p50 %.2f p99 %.2f ms (%zu), send lag p99 %.3f ms\n",
                t->label, cfg.open_rate, (double)open_state.done_in_win / secs,
                pct(open_state.fg, open_state.nfg, 0.50), pct(open_state.fg, open_state.nfg, 0.99),
                pct(open_state.bg, open_state.nbg, 0.50), pct(open_state.bg, open_state.nbg, 0.99),
                open_state.nbg, pct(open_state.lag, open_state.nlag, 0.99));
    }
    rc = 0;
out:
    bl_pool_free(sync_state.fg_pool);
    bl_pool_free(sync_state.bg_pool);
    if (sync_state.bg_pool2 != NULL)
        bl_pool_free(sync_state.bg_pool2);
    for (int k = 0; k < n; k++)
        free(ss[k].text);
    free(ss);
    free(open_state.fg);
    free(open_state.bg);
    free(open_state.lag);
    memset(&open_state, 0, sizeof open_state);
    return rc;
}

/* ---- one server, start to stop ---- */

static void
run_target(target *t)
{
    phase push, pull;
    int64_t du0, du1;
    long long trims = -1;

    snprintf(t->log, sizeof t->log, "%s/server.log", t->dir);
    mkdir_p(t->dir);
    fprintf(stderr, "bench_load: %s: starting\n", t->label);
    if (t->kind == K_DAYBOOK)
        start_daybook(t);
    else if (t->kind == K_PEER)
        start_peer(t);
    else
        start_trivial(t);
    measure_mem(t, "idle");
    t->pool = bl_pool_new(loop, t->port, t->nodes == 2 ? (cfg.inflight + 1) / 2 : cfg.inflight);
    if (t->nodes == 2)
        t->pool2 = bl_pool_new(loop, t->port2, cfg.inflight / 2 > 0 ? cfg.inflight / 2 : 1);
    if (t->pool == NULL || (t->nodes == 2 && t->pool2 == NULL))
        die("out of memory");
    if (t->kind == K_DAYBOOK)
        setup_daybook(t);
    else if (t->kind == K_PEER)
        setup_peer(t);
    for (int k = 0; k < cfg.users; k++)
        pull_next[k] = 0;

    phase_prepare(&push, t, OP_PUSH);
    phase_prepare(&pull, t, OP_PULL);
    du0 = bl_du(t->data_dir);
    if (phase_run(&push) == 0 && (trims = trims_now(t), phase_run(&pull)) == 0) {
        du1 = bl_du(t->data_dir);
        measure_mem(t, "after");
        /* And once the server has been at rest a while: what it keeps between bursts
         * (daybookd gives free heap memory back after DBK_IDLE_TRIM_MS at rest, at most
         * once per DBK_TRIM_INTERVAL_MS: the push's trim may hold the pull's back). */
        usleep(1000000);
        wait_trimmed(t, trims);
        measure_mem(t, "rest");
        if (t->kind != K_TRIVIAL && t->store == NULL && du0 >= 0 && du1 >= 0)
            row(t, "disk_bytes_per_record", "bytes on disk per record (data directory growth)",
                (double)(du1 - du0) / (double)push.records, "B");
        if (t->kind == K_DAYBOOK) {
            /* The same records, opened as the client's own device would. */
            size_t len;
            int status;
            char path[128], *req, *resp;
            snprintf(path, sizeof path, "/v1/streams/%s/records?since=0", users[0].shared_t);
            req = http_req(t, "GET", path, users[0].token, NULL, &len);
            if (bl_call(t->pool, req, len, &status, &resp) == 0) {
                size_t ok = verify_pulled(&users[0], resp);
                if (ok != (size_t)(cfg.rounds * cfg.batch))
                    note("%s: only %zu of %d pulled envelopes opened", t->label, ok,
                         cfg.rounds * cfg.batch);
                free(resp);
            }
            free(req);
        }
        bl_pool_free(t->pool);
        t->pool = NULL;
        bl_pool_free(t->pool2);
        t->pool2 = NULL;
        if (t->kind != K_TRIVIAL && cfg.syncs > 0 && sync_run(t) == 0 && t->kind == K_DAYBOOK &&
            cfg.open_rate > 0)
            sync_open_run(t);
    }
    phase_free(&push);
    phase_free(&pull);
    bl_pool_free(t->pool);
    t->pool = NULL;
    bl_pool_free(t->pool2);
    t->pool2 = NULL;
    if (!bl_alive(t->pid))
        note("%s exited during the run; see %s", t->label, t->log);
    else if (bl_stop(t->pid, 20000) < 0)
        note("%s did not stop on SIGTERM within 20 s and was killed", t->label);
    if (t->nodes == 2 && bl_alive(t->pid2) && bl_stop(t->pid2, 20000) < 0)
        note("%s (second node) did not stop on SIGTERM within 20 s and was killed", t->label);
    t->pid = t->pid2 = 0;
}

/* ---- main ---- */

static void
on_fatal_signal(int sig)
{
    bl_kill_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int
int_arg(const char *name, const char *v, int lo, int hi)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*end != '\0' || n < lo || n > hi)
        die("%s wants %d..%d, got '%s'", name, lo, hi, v);
    return (int)n;
}

int
main(int argc, char **argv)
{
    target targets[5];
    size_t nt = 0;
    json_t *out, *wl;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            die("%s wants a value", a);
        i++;
        if (strcmp(a, "--daybookd") == 0)
            cfg.daybookd = v;
        else if (strcmp(a, "--peer") == 0)
            cfg.peer = v;
        else if (strcmp(a, "--trivial") == 0)
            cfg.trivial = v;
        else if (strcmp(a, "--work") == 0)
            cfg.work = v;
        else if (strcmp(a, "--out") == 0)
            cfg.out = v;
        else if (strcmp(a, "--users") == 0)
            cfg.users = int_arg(a, v, 2, 10000);
        else if (strcmp(a, "--rounds") == 0)
            cfg.rounds = int_arg(a, v, 1, 1000);
        else if (strcmp(a, "--batch") == 0)
            cfg.batch = int_arg(a, v, 1, 500);
        else if (strcmp(a, "--passes") == 0)
            cfg.passes = int_arg(a, v, 1, 100);
        else if (strcmp(a, "--inflight") == 0)
            cfg.inflight = int_arg(a, v, 1, 500);
        else if (strcmp(a, "--syncs") == 0)
            cfg.syncs = int_arg(a, v, 0, 100000);
        else if (strcmp(a, "--sync-push") == 0)
            cfg.sync_push = int_arg(a, v, 0, 1);
        else if (strcmp(a, "--open-rate") == 0)
            cfg.open_rate = int_arg(a, v, 0, 1000000);
        else if (strcmp(a, "--sqlite") == 0)
            cfg.sqlite = int_arg(a, v, 0, 1);
        else if (strcmp(a, "--pg-url") == 0)
            cfg.pg_url = v;
        else if (strcmp(a, "--pg-url2") == 0)
            cfg.pg_url2 = v;
        else
            die("unknown option %s (see the comment at the top of bench_load.c)", a);
    }
    if (cfg.work == NULL || cfg.out == NULL)
        die("usage: bench_load --work DIR --out FILE [--daybookd PATH] [--peer PATH] "
            "[--trivial PATH] [--users N] [--rounds N] [--batch N] [--passes N] "
            "[--inflight N] [--syncs N] [--sync-push 0|1] [--open-rate N] [--sqlite 0|1] "
            "[--pg-url URL] [--pg-url2 URL]");
    /* The pull phase asks for everything since zero without a limit: daybookd's
     * default page (500 records, PULL_LIMIT_DEFAULT in server/api_records.c). */
    if (cfg.rounds * cfg.batch > 500)
        die("rounds x batch must stay within one pull page (500 records)");
    /* The servers run in their own directories: every path they get is absolute. */
    mkdir_p(cfg.work);
    cfg.work = absolute(cfg.work);
    cfg.daybookd = absolute(cfg.daybookd);
    cfg.peer = absolute(cfg.peer);
    cfg.trivial = absolute(cfg.trivial);
    if (dbk_init() != 0)
        die("libsodium did not start");
    atexit(bl_kill_all);
    signal(SIGINT, on_fatal_signal);
    signal(SIGTERM, on_fatal_signal);
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    rows = json_array();
    notes = json_array();
    pull_next = calloc((size_t)cfg.users, sizeof *pull_next);
    if (pull_next == NULL)
        die("out of memory");

    fprintf(stderr, "bench_load: sealing %d envelopes for %d users\n",
            cfg.users * cfg.rounds * cfg.batch, cfg.users);
    users_make();

    memset(targets, 0, sizeof targets);
    if (cfg.daybookd != NULL && cfg.sqlite)
        targets[nt++] = (target){.kind = K_DAYBOOK, .key = "daybook", .label = "daybookd"};
    if (cfg.peer != NULL)
        targets[nt++] = (target){.kind = K_PEER, .key = "peer", .label = "pouchdb-server"};
    if (cfg.trivial != NULL)
        targets[nt++] = (target){.kind = K_TRIVIAL, .key = "trivial", .label = "bench_trivial"};
    if (cfg.daybookd != NULL && cfg.pg_url != NULL)
        targets[nt++] = (target){.kind = K_DAYBOOK, .key = "daybook_pg1", .nodes = 1,
                                 .label = "daybookd on PostgreSQL", .store = cfg.pg_url};
    if (cfg.daybookd != NULL && cfg.pg_url2 != NULL)
        targets[nt++] = (target){.kind = K_DAYBOOK, .key = "daybook_pg2", .nodes = 2,
                                 .label = "2 daybookd on PostgreSQL", .store = cfg.pg_url2};
    for (size_t i = 0; i < nt; i++) {
        snprintf(targets[i].dir, sizeof targets[i].dir, "%s/%s", cfg.work, targets[i].key);
        run_target(&targets[i]);
    }

    wl = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:I}", "users", cfg.users, "rounds",
                   cfg.rounds, "batch", cfg.batch, "passes", cfg.passes, "inflight", cfg.inflight,
                   "syncs", cfg.syncs, "open_rate", cfg.open_rate, "envelope_bytes",
                   (json_int_t)env_bytes);
    out = json_pack("{s:s, s:o, s:o, s:o}", "part", "load", "workload", wl, "rows", rows, "notes",
                    notes);
    if (json_dump_file(out, cfg.out, JSON_INDENT(1)) != 0)
        die("cannot write %s", cfg.out);
    json_decref(out);
    uv_loop_close(loop);
    return 0;
}
