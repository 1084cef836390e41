/*
 * bench_growth: how daybookd's costs grow as its work grows (issue 20, "Growth").
 *
 *   bench_growth --work DIR --out-dir DIR [--daybookd PATH]
 *                [--records 10000,100000,1000000] [--accounts 10,1000,10000]
 *                [--per-account 10] [--samples 200]
 *                [--pg-dir DIR [--psql PATH] [--backends sqlite,pg1,pg2]]
 *
 * Two curves, each on its own daybookd, grown in steps:
 *   records   one client account's shared stream grown to each size in --records
 *             (pushes of 500 records, 4 in flight);
 *   accounts  the server grown to each size in --accounts enrolled clients (16 at
 *             once: set-up, not measured), then each new client's --per-account
 *             records pushed, one client after the other.
 * At each size it measures:
 *   sync_p50_ms, sync_p99_ms   --samples incremental syncs of one client, one after
 *                              the other (one entry pushed, both streams pulled since
 *                              the cursor: bench_load's shape), nothing else running
 *   pull_rec_per_s             records/s of pulls of 1000 records from random cursors
 *                              of the big stream (records), or of whole streams of
 *                              random accounts (accounts)
 *   daily_sync_per_s           (accounts) syncs/s of random accounts with nothing new
 *                              (both streams at their heads), one after the other: a
 *                              device's daily sync, mostly its first request of the
 *                              minute
 *   push_cpu_us_per_rec        daybookd's CPU (utime + stime) per record stored while
 *                              growing to this size from the previous one (accounts:
 *                              while their records were pushed, after enrolling)
 *   disk_bytes_per_rec         the data directory's growth since set-up (allocated
 *                              bytes, SQLite's WAL included) / records stored; for
 *                              accounts, their enrollment rows are in it too
 *   rss_mib                    daybookd's VmRSS
 * and writes growth.json (rows), growth.md (the table) and growth.svg (each figure
 * divided by its value at the first size, against the size on a log axis: a flat
 * line is 1) into --out-dir. Not a test: tests/bench/run.sh --growth runs it.
 *
 * With --pg-dir (a cluster of tests/support/pg_cluster.sh: its socket is DIR/sock,
 * its postmaster.pid DIR/data/postmaster.pid) the same curves are grown again on
 * PostgreSQL (--backends picks which of the three run; all by default): pg1, one
 * daybookd on a new database per curve; pg2, two daybookd on one database, every
 * request sent to one or the other in turn. There, push CPU is both nodes' and
 * db_cpu_us_per_rec the cluster's own (the postmaster and its children), disk is
 * the growth of pg_database_size, and RSS the nodes' sum.
 *
 * It is built on bench_load.c, included whole (its main renamed): the simulated
 * users, sealing, enrollment and server start-up are that file's, so the two
 * benches cannot drift apart.
 */
#define main bench_load_main
int bench_load_main(int argc, char **argv);
#include "bench_load.c"
#undef main

#include <dirent.h>
#include <pthread.h>
#include <stddef.h>

#define GROW_BATCH 500
#define GROW_INFLIGHT 4
#define ENROLLERS 16 /* clients enrolled at once while the accounts curve grows */
#define MAX_SIZES 8

typedef struct gpoint {
    long size;
    double sync_p50, sync_p99, pull_rps, daily_rps, push_cpu_us, db_cpu_us, disk_per_rec, rss_mib;
} gpoint;

/* One backend's two curves. */
typedef struct backend {
    const char *key, *label;
    int nodes; /* 0: SQLite; 1 or 2 daybookd on one PostgreSQL database */
    gpoint rp[MAX_SIZES], ap[MAX_SIZES];
    int rn, an;
} backend;

static struct {
    long records[MAX_SIZES], accounts[MAX_SIZES];
    int nrecords, naccounts, per_account, samples;
    const char *out_dir, *pg_dir, *psql, *backends;
} g = {{10000, 100000, 1000000}, {10, 1000, 10000}, 3, 3, 10, 200, NULL, NULL, "/usr/bin/psql",
       "sqlite,pg1,pg2"};

static char co_token[64];

/* ---- PostgreSQL (--pg-dir) ---- */

/* psql -Atc sql on database db of the cluster; its output, malloc'd (dies on failure). */
static char *
pg_sql(const char *db, const char *sql)
{
    char url[PATH_MAX + 64];
    snprintf(url, sizeof url, "postgresql:///%s?host=%s/sock&user=daybook", db, g.pg_dir);
    const char *argv[] = {g.psql, "-Atq", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql, NULL};
    char *out = bl_run(argv, 120);
    if (out == NULL)
        die("psql %s: %s failed", db, sql);
    return out;
}

/* A new, empty database for one curve; its URL (static buffer). */
static const char *
pg_new_db(const char *name)
{
    static char url[PATH_MAX + 64];
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
    free(pg_sql("postgres", sql));
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    free(pg_sql("postgres", sql));
    snprintf(url, sizeof url, "postgresql:///%s?host=%s/sock&user=daybook", name, g.pg_dir);
    return url;
}

static void
pg_drop_db(const char *name)
{
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    free(pg_sql("postgres", sql));
}

static int64_t
pg_db_bytes(const char *name)
{
    char *out = pg_sql(name, "SELECT pg_database_size(current_database())");
    int64_t v = strtoll(out, NULL, 10);
    free(out);
    return v;
}

/* utime + stime of the cluster's postmaster and its children, in ms; -1 unknown. The
 * backends of daybookd's pool live as long as the pool, so their CPU is all here. */
static double
pg_cpu_ms(void)
{
    char path[PATH_MAX + 32];
    FILE *f;
    long pm = -1;
    double sum;
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof path, "%s/data/postmaster.pid", g.pg_dir);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    if (fscanf(f, "%ld", &pm) != 1)
        pm = -1;
    fclose(f);
    if (pm <= 0 || (sum = bl_cpu_ms((pid_t)pm)) < 0 || (d = opendir("/proc")) == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        char stat[1024], *p;
        long ppid;
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        p = fgets(stat, sizeof stat, f);
        fclose(f);
        /* pid (comm) state ppid ...: comm may hold spaces, so from the last ')' */
        if (p == NULL || (p = strrchr(stat, ')')) == NULL || sscanf(p + 2, "%*c %ld", &ppid) != 1)
            continue;
        if (ppid == pm) {
            double c = bl_cpu_ms((pid_t)atol(e->d_name));
            if (c > 0)
                sum += c;
        }
    }
    closedir(d);
    return sum;
}

/* daybookd's CPU: both nodes'. */
static double
nodes_cpu_ms(const target *t)
{
    return bl_cpu_ms(t->pid) + (t->nodes == 2 ? bl_cpu_ms(t->pid2) : 0);
}

/* The pool of the node that takes request k: with two nodes, each in turn. */
static bl_pool *
pool_for(const target *t, long k)
{
    return t->nodes == 2 && (k & 1) ? t->pool2 : t->pool;
}

static void
pools_new(target *t)
{
    t->pool = bl_pool_new(loop, t->port, GROW_INFLIGHT);
    t->pool2 = t->nodes == 2 ? bl_pool_new(loop, t->port2, GROW_INFLIGHT) : NULL;
    if (t->pool == NULL || (t->nodes == 2 && t->pool2 == NULL))
        die("out of memory");
}

static void
nodes_stop(target *t)
{
    bl_pool_free(t->pool);
    bl_pool_free(t->pool2);
    t->pool = t->pool2 = NULL;
    bl_stop(t->pid, 20000);
    if (t->nodes == 2)
        bl_stop(t->pid2, 20000);
}

static int
parse_sizes(const char *v, long *out)
{
    int n = 0;
    char *end;
    while (*v && n < MAX_SIZES) {
        long x = strtol(v, &end, 10);
        if (end == v || x < 1)
            die("bad size list '%s'", v);
        out[n++] = x;
        v = *end == ',' ? end + 1 : end;
    }
    return n;
}

/* A user's fields, without envelopes sealed in advance. */
static void
user_init(user *u)
{
    memset(u, 0, sizeof *u);
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
}

static void
counselor_setup(target *t)
{
    const char *argv[] = {cfg.daybookd, "counselor", "add", "Bench Counselor", "--data-dir",
                          t->data_dir, NULL};
    char *out = bl_run(argv, 60), *p, code[32];
    dbk_id co_id, co_dev, co_priv;
    unsigned char co_priv_key[32];
    dbk_account_keys *co_keys = dbk_account_keys_new();

    if (co_keys == NULL || out == NULL || (p = strstr(out, "once): ")) == NULL)
        die("daybookd counselor add gave no setup code");
    snprintf(code, sizeof code, "%.22s", p + 7);
    free(out);
    dbk_id_random(&co_id);
    dbk_id_random(&co_dev);
    dbk_id_random(&co_priv);
    randombytes_buf(co_priv_key, sizeof co_priv_key);
    enroll(t, code, &co_id, &co_dev, co_keys, NULL, NULL, &co_priv, co_priv_key, co_token);
    dbk_account_keys_free(co_keys);
}

static void
client_enroll(target *t, user *u)
{
    char code[64];
    json_t *empty = json_object();
    json_t *inv = call_json(t, "POST", "/v1/invites", co_token, empty, 201);
    json_decref(empty);
    snprintf(code, sizeof code, "%s", json_string_value(json_object_get(inv, "code")));
    json_decref(inv);
    enroll(t, code, &u->id, &u->device, u->keys, &u->shared, u->shared_key, &u->priv,
           u->priv_key, u->token);
}

/* Enrollment is set-up, not measured: one client at a time it took much of the
 * accounts curve on PostgreSQL (an invite and an enrollment a client, each a commit
 * waiting for its WAL flush). ENROLLERS threads each enroll every ENROLLERS-th
 * client through their own loop and connection, so the storage threads commit them
 * in groups; with two nodes, half the threads go to each. At most ENROLLERS invites
 * are pending at once, below the counselor's limit (100). */
struct enroller {
    target t; /* a copy on one node: port and pool of its own */
    user *us;
    long first, end;
    pthread_t th;
};

static void *
enroller_run(void *arg)
{
    struct enroller *e = arg;
    uv_loop_t own;

    if (uv_loop_init(&own) != 0 || (e->t.pool = bl_pool_new(&own, e->t.port, 1)) == NULL)
        die("enroll: no loop");
    for (long k = e->first; k < e->end; k += ENROLLERS) {
        user_init(&e->us[k]);
        client_enroll(&e->t, &e->us[k]);
    }
    bl_pool_free(e->t.pool);
    uv_loop_close(&own);
    return NULL;
}

/* us[from] to us[to - 1]: new users, enrolled. */
static void
enroll_clients(const target *t, user *us, long from, long to)
{
    static struct enroller es[ENROLLERS];
    for (int i = 0; i < ENROLLERS; i++) {
        struct enroller *e = &es[i];
        e->t = *t;
        e->t.nodes = 1;
        e->t.pool2 = NULL;
        if (t->nodes == 2 && (i & 1))
            e->t.port = t->port2;
        e->us = us;
        e->first = from + i;
        e->end = to;
        if (pthread_create(&e->th, NULL, enroller_run, e) != 0)
            die("enroll: no thread");
    }
    for (int i = 0; i < ENROLLERS; i++)
        pthread_join(es[i].th, NULL);
}

/* ---- pushing many records ---- */

typedef struct gpush {
    bl_req req;
    char *text;
    size_t want;
    size_t *stored;
    int *bad;
} gpush;

static void
gpush_done(bl_req *r, int status, const char *body, size_t len)
{
    gpush *p = r->arg;
    size_t got = count(body, "\"result\":\"stored\"");
    (void)len;
    if (status != 200 || got != p->want) {
        if ((*p->bad)++ == 0)
            fprintf(stderr, "bench_growth: push: HTTP %d, %zu of %zu: %.200s\n", status, got,
                    p->want, body);
    }
    *p->stored += got;
    free(p->text);
    p->text = NULL;
}

/* n new records into u's shared stream, GROW_BATCH a request, GROW_INFLIGHT in flight.
 * Sealing is the generator's work, done between the pool's turns. */
static void
push_records(target *t, user *u, long n, int *seq_hint)
{
    gpush slots[GROW_INFLIGHT];
    size_t stored = 0;
    int bad = 0;
    long sent = 0;

    memset(slots, 0, sizeof slots);
    while (sent < n || bl_pool_busy(t->pool) > 0 ||
           (t->pool2 != NULL && bl_pool_busy(t->pool2) > 0)) {
        for (int k = 0; k < GROW_INFLIGHT && sent < n; k++) {
            gpush *p = &slots[k];
            size_t m = (size_t)(n - sent < GROW_BATCH ? n - sent : GROW_BATCH), len, cap, at;
            char *body, path[128];
            if (p->text != NULL)
                continue;
            cap = m * (DBK_B64_ENCODED_LEN(1024) + 32) + 32;
            body = xmalloc(cap);
            at = (size_t)snprintf(body, cap, "{\"records\":[");
            for (size_t i = 0; i < m; i++) {
                char *env, *rec;
                seal(u, (*seq_hint)++, &env, &rec);
                at += (size_t)snprintf(body + at, cap - at, "%s{\"envelope\":\"%s\"}",
                                       i ? "," : "", env);
                free(env);
                free(rec);
            }
            snprintf(body + at, cap - at, "]}");
            snprintf(path, sizeof path, "/v1/streams/%s/records", u->shared_t);
            p->text = http_req(t, "POST", path, u->token, body, &len);
            free(body);
            p->want = m;
            p->stored = &stored;
            p->bad = &bad;
            p->req = (bl_req){.data = p->text, .len = len, .done = gpush_done, .arg = p};
            bl_pool_submit(pool_for(t, k), &p->req);
            sent += (long)m;
        }
        uv_run(loop, UV_RUN_ONCE);
        if (bl_pool_error(t->pool) != NULL)
            die("push: %s", bl_pool_error(t->pool));
        if (t->pool2 != NULL && bl_pool_error(t->pool2) != NULL)
            die("push: %s", bl_pool_error(t->pool2));
    }
    if (bad > 0 || (long)stored != n)
        die("push: %zu of %ld stored, %d bad responses", stored, n, bad);
}

/* ---- the figures at one size ---- */

/* samples incremental syncs of u, one after the other; p50 and p99 into pt. */
static void
measure_sync(target *t, user *u, int64_t since[2], int *seq_hint, gpoint *pt)
{
    double *lat = xmalloc((size_t)g.samples * sizeof *lat);
    for (int i = 0; i < g.samples; i++) {
        char *env, *rec, *body, *req, *resp;
        size_t len, cap;
        int status;
        uint64_t t0;
        seal(u, (*seq_hint)++, &env, &rec);
        cap = strlen(env) + 512;
        body = xmalloc(cap);
        snprintf(body, cap,
                 "{\"push\":[{\"stream\":\"%s\",\"records\":[{\"envelope\":\"%s\"}]}],"
                 "\"pull\":[{\"stream\":\"%s\",\"since\":%lld},{\"stream\":\"%s\",\"since\":%lld}]}",
                 u->shared_t, env, u->shared_t, (long long)since[0], u->priv_t,
                 (long long)since[1]);
        req = http_req(t, "POST", "/v1/sync", u->token, body, &len);
        t0 = bl_now_ns();
        if (bl_call(pool_for(t, i), req, len, &status, &resp) != 0)
            die("sync: %s", bl_pool_error(pool_for(t, i)));
        lat[i] = (double)(bl_now_ns() - t0) / 1e6;
        if (status != 200 || strstr(resp, "\"result\":\"stored\"") == NULL)
            die("sync: HTTP %d: %.200s", status, resp);
        {
            json_t *j = json_loads(resp, 0, NULL), *pull = json_object_get(j, "pull");
            for (size_t k = 0; k < 2; k++)
                since[k] = json_integer_value(
                    json_object_get(json_array_get(pull, k), "next"));
            json_decref(j);
        }
        free(env);
        free(rec);
        free(body);
        free(req);
        free(resp);
    }
    qsort(lat, (size_t)g.samples, sizeof *lat, cmp_double);
    pt->sync_p50 = pct(lat, (size_t)g.samples, 0.50);
    pt->sync_p99 = pct(lat, (size_t)g.samples, 0.99);
    free(lat);
}

/* Pulls: of u's stream from random cursors below its head (pages of limit), or of
 * the whole streams of random users; records per second into pt. */
static void
measure_pull(target *t, user *us, long nus, long head, gpoint *pt)
{
    size_t got = 0;
    uint64_t t0 = bl_now_ns();
    int pulls = nus > 1 ? 200 : 20;
    for (int i = 0; i < pulls; i++) {
        user *u = &us[nus > 1 ? (long)randombytes_uniform((uint32_t)nus) : 0];
        long since = 0, limit = 1000;
        char path[256], *req, *resp;
        size_t len;
        int status;
        if (nus == 1 && head > limit)
            since = (long)randombytes_uniform((uint32_t)(head - limit));
        snprintf(path, sizeof path, "/v1/streams/%s/records?since=%ld&limit=%ld", u->shared_t,
                 since, limit);
        req = http_req(t, "GET", path, u->token, NULL, &len);
        if (bl_call(pool_for(t, i), req, len, &status, &resp) != 0 || status != 200)
            die("pull: HTTP %d", status);
        got += count(resp, "\"envelope\":");
        free(req);
        free(resp);
    }
    pt->pull_rps = (double)got / ((double)(bl_now_ns() - t0) / 1e9);
}

/* Nanoseconds of CPU used so far by every thread of pid (/proc/PID/task/TID/schedstat,
 * nanosecond resolution, where utime ticks by 10 ms: 200 nothing-new syncs are about
 * one tick); -1 when unreadable. */
static double
threads_cpu_ns(pid_t pid)
{
    char dir[64], path[320];
    struct dirent *e;
    double sum = 0;
    DIR *d;

    snprintf(dir, sizeof dir, "/proc/%ld/task", (long)pid);
    if ((d = opendir(dir)) == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        unsigned long long ns;
        FILE *f;
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "%s/%.32s/schedstat", dir, e->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        if (fscanf(f, "%llu", &ns) == 1)
            sum += (double)ns;
        fclose(f);
    }
    closedir(d);
    return sum;
}

/* daybook_storage_jobs_total of one node's /metrics (loopback may read it); -1 if
 * absent. */
static long long
node_jobs(target *t, bl_pool *pool)
{
    static const char key[] = "\ndaybook_storage_jobs_total ";
    char *req, *resp = NULL;
    const char *p;
    long long v = -1;
    size_t len;
    int status;
    req = http_req(t, "GET", "/metrics", NULL, NULL, &len);
    if (bl_call(pool, req, len, &status, &resp) == 0 && status == 200 &&
        (p = strstr(resp, key)) != NULL)
        v = atoll(p + strlen(key));
    free(req);
    free(resp);
    return v;
}

/* Every node's storage jobs so far; -1 if one cannot say. */
static long long
storage_jobs(target *t)
{
    long long a = node_jobs(t, t->pool), b = t->nodes == 2 ? node_jobs(t, t->pool2) : 0;
    return a >= 0 && b >= 0 ? a + b : -1;
}

static const char *pg_db;  /* the curve's database, NULL on SQLite */
static bool pg_statements; /* pg_stat_statements is loaded in the cluster */

/* On PostgreSQL with pg_stat_statements loaded (tests/bench/run.sh loads it when
 * DAYBOOK_BENCH_PG_STATEMENTS=1): from its reset, the curve database's statements,
 * COMMITs, shared blocks they touched and WAL records they wrote, into v. */
static bool
pg_statement_counts(double v[4])
{
    char sql[512], *out;
    if (pg_db == NULL || !pg_statements)
        return false;
    snprintf(sql, sizeof sql,
             "SELECT sum(calls), sum(calls) FILTER (WHERE query = 'COMMIT'),"
             " sum(shared_blks_hit + shared_blks_read), sum(wal_records)"
             " FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
             " WHERE d.datname = '%s'",
             pg_db);
    out = pg_sql("postgres", sql);
    bool ok = sscanf(out, "%lf|%lf|%lf|%lf", &v[0], &v[1], &v[2], &v[3]) == 4;
    free(out);
    return ok;
}

/* Syncs of random accounts other than us[0] (whose cursors move), each asking for
 * both its streams at their heads, so nothing is new; syncs per second into pt. Also
 * printed, as figures the machine's load moves less than wall time: storage jobs a
 * sync (every node's; 0 when every one is answered from memory) and daybookd's CPU
 * a sync (every thread's, both nodes), each with the work they leave for later and
 * less the one request that makes it run; and on PostgreSQL with pg_stat_statements,
 * what the database ran for them a sync: statements, COMMITs, shared blocks, WAL
 * records (a device's first request of a minute writes its last seen). */
static void
measure_daily(target *t, user *us, long nus, gpoint *pt)
{
    const int syncs = 200;
    uint64_t t0;
    long long jobs0 = storage_jobs(t), jobs1;
    double cpu0 = threads_cpu_ns(t->pid) + (t->nodes == 2 ? threads_cpu_ns(t->pid2) : 0), cpu1;
    double st[4];
    bool st_ok;
    if (nus < 2) {
        pt->daily_rps = NAN;
        return;
    }
    if (pg_db != NULL && pg_statements)
        free(pg_sql("postgres", "SELECT pg_stat_statements_reset()"));
    t0 = bl_now_ns();
    for (int i = 0; i < syncs; i++) {
        user *u = &us[1 + (long)randombytes_uniform((uint32_t)(nus - 1))];
        char body[512], *req, *resp = NULL;
        size_t len;
        int status;
        snprintf(body, sizeof body,
                 "{\"pull\":[{\"stream\":\"%s\",\"since\":%d},{\"stream\":\"%s\",\"since\":0}]}",
                 u->shared_t, g.per_account, u->priv_t);
        req = http_req(t, "POST", "/v1/sync", u->token, body, &len);
        if (bl_call(pool_for(t, i), req, len, &status, &resp) != 0 || status != 200 ||
            strstr(resp, "\"envelope\"") != NULL)
            die("daily sync: HTTP %d: %.200s", status, resp ? resp : "");
        free(req);
        free(resp);
    }
    pt->daily_rps = syncs / ((double)(bl_now_ns() - t0) / 1e9);
    st_ok = pg_statement_counts(st);
    {
        /* One request that is a job, counted out below: the uses of tokens that
         * daybookd answered from memory are handed to its storage thread before its
         * next job, and that work belongs to these syncs. */
        char *req, *resp = NULL;
        size_t len;
        int status;
        req = http_req(t, "GET", "/v1/account", us[1].token, NULL, &len);
        if (bl_call(t->pool, req, len, &status, &resp) != 0 || status != 200)
            die("account: HTTP %d", status);
        free(req);
        free(resp);
        jobs0++;
    }
    cpu1 = threads_cpu_ns(t->pid) + (t->nodes == 2 ? threads_cpu_ns(t->pid2) : 0);
    jobs1 = storage_jobs(t);
    fprintf(stderr,
            "bench_growth: %ld accounts: nothing-new sync: %.2f storage jobs a sync, "
            "%.1f us daybookd CPU a sync\n",
            nus, jobs0 >= 0 && jobs1 >= 0 ? (double)(jobs1 - jobs0) / syncs : NAN,
            cpu0 >= 0 && cpu1 >= 0 ? (cpu1 - cpu0) / 1e3 / syncs : NAN);
    if (st_ok)
        fprintf(stderr,
                "bench_growth: %ld accounts: nothing-new sync, PostgreSQL: %.2f statements, "
                "%.2f COMMITs, %.1f shared blocks, %.2f WAL records a sync\n",
                nus, st[0] / syncs, st[1] / syncs, st[2] / syncs, st[3] / syncs);
}

/* The data directory after set-up, before any record: what bytes per record leave out
 * (the schema, the accounts, SQLite's WAL and the disk-full reserve file). */
static int64_t du_base;

static int64_t
disk_bytes(const target *t)
{
    return pg_db != NULL ? pg_db_bytes(pg_db) : bl_du(t->data_dir);
}

static void
measure_rest(target *t, long records, gpoint *pt)
{
    long rss, hwm, rss2 = 0;
    int64_t du = disk_bytes(t);
    pt->disk_per_rec = du > 0 && records > 0 ? (double)(du - du_base) / (double)records : NAN;
    if (t->nodes == 2 && bl_mem_kib(t->pid2, &rss2, &hwm) != 0)
        rss2 = -1;
    pt->rss_mib = bl_mem_kib(t->pid, &rss, &hwm) == 0 && rss2 >= 0
                      ? (double)(rss + rss2) / 1024.0
                      : NAN;
}

/* Where a curve of backend b runs: its directory, and on PostgreSQL its database. */
static void
curve_target(target *t, const backend *b, const char *curve)
{
    static char db[64];
    memset(t, 0, sizeof *t);
    t->kind = K_DAYBOOK;
    t->key = curve;
    t->label = b->label;
    t->nodes = b->nodes;
    snprintf(t->dir, sizeof t->dir, "%s/%s/%s", cfg.work, b->key, curve);
    snprintf(t->log, sizeof t->log, "%s/server.log", t->dir);
    mkdir_p(t->dir);
    pg_db = NULL;
    if (b->nodes > 0) {
        snprintf(db, sizeof db, "growth_%s_%s", b->key, curve);
        t->store = pg_new_db(db);
        pg_db = db;
    }
}

static void
curve_end(target *t)
{
    nodes_stop(t);
    if (pg_db != NULL)
        pg_drop_db(pg_db);
    pg_db = NULL;
}

/* ---- the two curves ---- */

static int
grow_records(const backend *b, gpoint *pts)
{
    target t;
    user u;
    long have = 0;
    int seq_hint = 0, n = 0;
    int64_t since[2] = {0, 0};

    curve_target(&t, b, "records");
    start_daybook(&t);
    pools_new(&t);
    counselor_setup(&t);
    user_init(&u);
    client_enroll(&t, &u);
    du_base = disk_bytes(&t);
    for (int i = 0; i < g.nrecords; i++) {
        gpoint *pt = &pts[n];
        long want = g.records[i] - have;
        double cpu0 = nodes_cpu_ms(&t), db0 = b->nodes ? pg_cpu_ms() : -1, db1;
        uint64_t t0 = bl_now_ns();
        if (want < 0)
            continue;
        fprintf(stderr, "bench_growth: %s: records: growing to %ld\n", b->key, g.records[i]);
        push_records(&t, &u, want, &seq_hint);
        pt->push_cpu_us = want > 0 ? (nodes_cpu_ms(&t) - cpu0) * 1000.0 / (double)want : NAN;
        db1 = b->nodes ? pg_cpu_ms() : -1;
        pt->db_cpu_us = want > 0 && db0 >= 0 && db1 >= 0 ? (db1 - db0) * 1000.0 / (double)want
                                                         : NAN;
        fprintf(stderr, "bench_growth: %s: records: %ld pushed in %.1f s\n", b->key, want,
                (double)(bl_now_ns() - t0) / 1e9);
        have = g.records[i];
        pt->size = have;
        measure_rest(&t, have, pt);
        measure_pull(&t, &u, 1, have, pt);
        pt->daily_rps = NAN;
        since[0] = have; /* the sync client is caught up, as a device would be */
        measure_sync(&t, &u, since, &seq_hint, pt);
        have += g.samples; /* the syncs stored one record each */
        n++;
    }
    curve_end(&t);
    return n;
}

static int
grow_accounts(const backend *b, gpoint *pts)
{
    target t;
    long have = 0, max = g.accounts[g.naccounts - 1], records = 0;
    user *us = calloc((size_t)max, sizeof *us);
    int seq_hint = 0, n = 0;
    int64_t since[2] = {0, 0}; /* us[0]'s cursors: the measured syncs' client */

    if (us == NULL)
        die("out of memory");
    curve_target(&t, b, "accounts");
    start_daybook(&t);
    pools_new(&t);
    counselor_setup(&t);
    du_base = disk_bytes(&t); /* here the accounts' own rows count */
    for (int i = 0; i < g.naccounts; i++) {
        gpoint *pt = &pts[n];
        long want = g.accounts[i], added;
        double cpu0, db0, db1;
        uint64_t t0 = bl_now_ns(), t1;
        if (want <= have)
            continue;
        fprintf(stderr, "bench_growth: %s: accounts: growing to %ld\n", b->key, want);
        enroll_clients(&t, us, have, want);
        t1 = bl_now_ns();
        /* Then each new client's records, one push after the other as before: their
         * CPU (daybookd's, and the cluster's) is what push CPU a record measures. */
        cpu0 = nodes_cpu_ms(&t);
        db0 = b->nodes ? pg_cpu_ms() : -1;
        for (long k = have; k < want; k++)
            push_records(&t, &us[k], g.per_account, &seq_hint);
        db1 = b->nodes ? pg_cpu_ms() : -1;
        added = (want - have) * g.per_account;
        pt->push_cpu_us = (nodes_cpu_ms(&t) - cpu0) * 1000.0 / (double)added;
        pt->db_cpu_us = db0 >= 0 && db1 >= 0 ? (db1 - db0) * 1000.0 / (double)added : NAN;
        records += added;
        fprintf(stderr, "bench_growth: %s: accounts: %ld enrolled in %.1f s, pushed in %.1f s\n",
                b->key, want - have, (double)(t1 - t0) / 1e9, (double)(bl_now_ns() - t1) / 1e9);
        have = want;
        pt->size = have;
        measure_rest(&t, records, pt);
        measure_pull(&t, us, have, 0, pt);
        measure_daily(&t, us, have, pt);
        if (since[0] == 0)
            since[0] = g.per_account; /* then where its last sync left it */
        measure_sync(&t, &us[0], since, &seq_hint, pt);
        records += g.samples;
        n++;
    }
    curve_end(&t);
    for (long k = 0; k < have; k++)
        dbk_account_keys_free(us[k].keys);
    free(us);
    return n;
}

/* ---- output ---- */

static const struct metric {
    const char *key, *label, *unit, *color;
    size_t off;
} metrics[] = {
    {"sync_p99_ms", "incremental sync p99", "ms", "#c0392b", offsetof(gpoint, sync_p99)},
    {"sync_p50_ms", "incremental sync p50", "ms", "#e67e22", offsetof(gpoint, sync_p50)},
    {"pull_rec_per_s", "pull records/s", "records/s", "#2980b9", offsetof(gpoint, pull_rps)},
    {"daily_sync_per_s", "nothing-new syncs/s, random accounts", "syncs/s", "#d35400",
     offsetof(gpoint, daily_rps)},
    {"push_cpu_us_per_rec", "push CPU per record", "µs", "#27ae60",
     offsetof(gpoint, push_cpu_us)},
    {"db_cpu_us_per_rec", "database CPU per record (PostgreSQL)", "µs", "#16a085",
     offsetof(gpoint, db_cpu_us)},
    {"disk_bytes_per_rec", "bytes on disk per record", "B", "#8e44ad",
     offsetof(gpoint, disk_per_rec)},
    {"rss_mib", "server RSS", "MiB", "#7f8c8d", offsetof(gpoint, rss_mib)},
};
#define NMETRICS (sizeof metrics / sizeof metrics[0])

static double
val(const gpoint *p, size_t m)
{
    return *(const double *)((const char *)p + metrics[m].off);
}

static void
md_table(FILE *f, const char *title, const char *what, const gpoint *p, int n)
{
    fprintf(f, "| %s | %s |", title, what);
    for (size_t m = 0; m < NMETRICS; m++)
        fprintf(f, " %s (%s) |", metrics[m].label, metrics[m].unit);
    fprintf(f, "\n| --- | --- |");
    for (size_t m = 0; m < NMETRICS; m++)
        fprintf(f, " ---: |");
    fprintf(f, "\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "| | %ld |", p[i].size);
        for (size_t m = 0; m < NMETRICS; m++) {
            if (isfinite(val(&p[i], m)))
                fprintf(f, " %.4g |", val(&p[i], m));
            else
                fprintf(f, " – |");
        }
        fprintf(f, "\n");
    }
}

/* One panel of the plot at (x0, y0): x = log10(size), y = value / value at the first
 * size. */
static void
svg_panel(FILE *f, double x0, double y0, const char *title, const gpoint *p, int n,
          double ymax)
{
    const double w = 420, h = 300, l = 50, top = 40, pw = w - l - 20, ph = h - top - 50;
    double lx0 = log10((double)p[0].size), lx1 = log10((double)p[n - 1].size);
    if (lx1 <= lx0)
        lx1 = lx0 + 1;
    fprintf(f, "<g transform=\"translate(%.0f,%.0f)\">\n", x0, y0);
    fprintf(f, "<text x=\"%.0f\" y=\"24\" font-size=\"14\" text-anchor=\"middle\">%s</text>\n",
            l + pw / 2, title);
    fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
               "stroke=\"#999\"/>\n", l, top, pw, ph);
    for (double y = 0; y <= ymax + 1e-9; y += ymax <= 4 ? 0.5 : 1) {
        double yy = top + ph - y / ymax * ph;
        fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                   "<text x=\"%.0f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%.1f×</text>\n",
                l, yy, l + pw, yy, l - 4, yy + 3, y);
    }
    for (int i = 0; i < n; i++) {
        double xx = l + (log10((double)p[i].size) - lx0) / (lx1 - lx0) * pw;
        fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" font-size=\"10\" text-anchor=\"middle\">%ld"
                   "</text>\n", xx, top + ph + 14, p[i].size);
    }
    for (size_t m = 0; m < NMETRICS; m++) {
        double base = val(&p[0], m);
        if (!(base > 0))
            continue;
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                metrics[m].color);
        for (int i = 0; i < n; i++) {
            double r = val(&p[i], m) / base, xx, yy;
            if (!isfinite(r))
                continue;
            r = r > ymax ? ymax : r;
            xx = l + (log10((double)p[i].size) - lx0) / (lx1 - lx0) * pw;
            yy = top + ph - r / ymax * ph;
            fprintf(f, "%.1f,%.1f ", xx, yy);
        }
        fprintf(f, "\"/>\n");
    }
    fprintf(f, "</g>\n");
}

static double
max_ratio(const gpoint *p, int n)
{
    double mx = 1;
    for (size_t m = 0; m < NMETRICS; m++)
        for (int i = 0; i < n; i++)
            if (val(&p[0], m) > 0 && val(&p[i], m) / val(&p[0], m) > mx)
                mx = val(&p[i], m) / val(&p[0], m);
    return ceil(mx > 8 ? 8 : mx);
}

static json_t *
points_json(const gpoint *p, int n)
{
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        json_t *o = json_pack("{s:I}", "size", (json_int_t)p[i].size);
        for (size_t m = 0; m < NMETRICS; m++)
            if (isfinite(val(&p[i], m)))
                json_object_set_new(o, metrics[m].key, json_real(val(&p[i], m)));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* growth.json: SQLite's curves as "records" and "accounts" (as before), each other
 * backend's under its key; growth.md: a table per curve; growth.svg: a row of two
 * panels per backend, one scale for all. */
static void
write_outputs(const backend *bs, int nb)
{
    char path[PATH_MAX], title[160];
    FILE *f;
    json_t *out = json_object();
    double ymax = 1;
    int nrows = 0;

    for (int b = 0; b < nb; b++) {
        json_t *o = strcmp(bs[b].key, "sqlite") == 0 ? json_incref(out) : json_object();
        json_object_set_new(o, "records", points_json(bs[b].rp, bs[b].rn));
        json_object_set_new(o, "accounts", points_json(bs[b].ap, bs[b].an));
        json_object_set_new(o, "label", json_string(bs[b].label));
        if (o != out)
            json_object_set_new(out, bs[b].key, o);
        else
            json_decref(o);
        ymax = fmax(ymax, fmax(max_ratio(bs[b].rp, bs[b].rn), max_ratio(bs[b].ap, bs[b].an)));
        nrows += bs[b].rn > 0 || bs[b].an > 0;
    }
    json_object_set_new(out, "per_account", json_integer(g.per_account));
    json_object_set_new(out, "samples", json_integer(g.samples));
    json_object_set_new(out, "envelope_bytes", json_integer((json_int_t)env_bytes));
    snprintf(path, sizeof path, "%s/growth.json", g.out_dir);
    if (json_dump_file(out, path, JSON_INDENT(1)) != 0)
        die("cannot write %s", path);
    json_decref(out);

    snprintf(path, sizeof path, "%s/growth.md", g.out_dir);
    if ((f = fopen(path, "w")) == NULL)
        die("cannot write %s", path);
    for (int b = 0; b < nb; b++) { /* only the curves measured */
        if (bs[b].rn > 0) {
            snprintf(title, sizeof title, "%s: one account", bs[b].label);
            md_table(f, title, "records in its stream", bs[b].rp, bs[b].rn);
            fprintf(f, "\n");
        }
        if (bs[b].an > 0) {
            snprintf(title, sizeof title, "%s: many accounts", bs[b].label);
            md_table(f, title, "accounts enrolled", bs[b].ap, bs[b].an);
            fprintf(f, "\n");
        }
    }
    fclose(f);

    snprintf(path, sizeof path, "%s/growth.svg", g.out_dir);
    if ((f = fopen(path, "w")) == NULL)
        die("cannot write %s", path);
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"860\" height=\"%zu\" "
               "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" "
               "fill=\"white\"/>\n", (size_t)(300 * nrows + 20 + 18 * NMETRICS));
    nrows = 0;
    for (int b = 0; b < nb; b++) {
        if (bs[b].rn == 0 && bs[b].an == 0)
            continue;
        if (bs[b].rn > 0) {
            snprintf(title, sizeof title, "%s: one account, records", bs[b].label);
            svg_panel(f, 0, 300.0 * nrows, title, bs[b].rp, bs[b].rn, ymax);
        }
        if (bs[b].an > 0) {
            snprintf(title, sizeof title, "%s: accounts enrolled", bs[b].label);
            svg_panel(f, 430, 300.0 * nrows, title, bs[b].ap, bs[b].an, ymax);
        }
        nrows++;
    }
    for (size_t m = 0; m < NMETRICS; m++) {
        size_t y = (size_t)(300 * nrows + 10 + 18 * m);
        fprintf(f, "<line x1=\"60\" y1=\"%zu\" x2=\"90\" y2=\"%zu\" stroke=\"%s\" "
                   "stroke-width=\"2\"/><text x=\"96\" y=\"%zu\" font-size=\"12\">%s "
                   "(÷ its value at the smallest size)</text>\n",
                y, y, metrics[m].color, y + 4, metrics[m].label);
    }
    fprintf(f, "</svg>\n");
    fclose(f);
}

int
main(int argc, char **argv)
{
    static backend bs[] = {
        {.key = "sqlite", .label = "SQLite", .nodes = 0},
        {.key = "pg1", .label = "PostgreSQL, 1 node", .nodes = 1},
        {.key = "pg2", .label = "PostgreSQL, 2 nodes", .nodes = 2},
    };
    const int nb = (int)(sizeof bs / sizeof bs[0]);

    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "--daybookd") == 0)
            cfg.daybookd = v;
        else if (strcmp(a, "--work") == 0)
            cfg.work = v;
        else if (strcmp(a, "--out-dir") == 0)
            g.out_dir = v;
        else if (strcmp(a, "--records") == 0)
            g.nrecords = parse_sizes(v, g.records);
        else if (strcmp(a, "--accounts") == 0)
            g.naccounts = parse_sizes(v, g.accounts);
        else if (strcmp(a, "--per-account") == 0)
            g.per_account = int_arg(a, v, 1, 500);
        else if (strcmp(a, "--samples") == 0)
            g.samples = int_arg(a, v, 10, 100000);
        else if (strcmp(a, "--pg-dir") == 0)
            g.pg_dir = v;
        else if (strcmp(a, "--psql") == 0)
            g.psql = v;
        else if (strcmp(a, "--backends") == 0)
            g.backends = v;
        else
            die("unknown option %s (see the comment at the top of bench_growth.c)", a);
    }
    if (cfg.work == NULL || g.out_dir == NULL || cfg.daybookd == NULL)
        die("usage: bench_growth --work DIR --out-dir DIR --daybookd PATH [--records N,N,..] "
            "[--accounts N,N,..] [--per-account N] [--samples N] [--pg-dir DIR] "
            "[--backends sqlite,pg1,pg2]");
    mkdir_p(cfg.work);
    mkdir_p(g.out_dir);
    cfg.work = absolute(cfg.work);
    cfg.daybookd = absolute(cfg.daybookd);
    if (dbk_init() != 0)
        die("libsodium did not start");
    atexit(bl_kill_all);
    signal(SIGINT, on_fatal_signal);
    signal(SIGTERM, on_fatal_signal);
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    rows = json_array();
    notes = json_array();
    dbk_kdf_params_new(&kdf);
    kdf.opslimit = DBK_KDF_OPS_MIN;
    if (dbk_pass_keys_derive("bench passphrase", 16, &kdf, &pass) != DBK_OK)
        die("passphrase KDF failed");
    if (g.pg_dir != NULL) {
        char *out;
        setenv("PGOPTIONS", "-c client_min_messages=warning", 1); /* psql: no NOTICEs */
        out = pg_sql("postgres", "SELECT current_setting('shared_preload_libraries')"
                                 " LIKE '%pg_stat_statements%'");
        pg_statements = out[0] == 't';
        free(out);
        if (pg_statements)
            free(pg_sql("postgres", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"));
    }
    for (int b = 0; b < nb; b++) {
        char want[64];
        snprintf(want, sizeof want, ",%s,", bs[b].key);
        char list[256];
        snprintf(list, sizeof list, ",%s,", g.backends);
        if (strstr(list, want) == NULL || (bs[b].nodes > 0 && g.pg_dir == NULL))
            continue;
        if (g.nrecords > 0)
            bs[b].rn = grow_records(&bs[b], bs[b].rp);
        if (g.naccounts > 0)
            bs[b].an = grow_accounts(&bs[b], bs[b].ap);
        write_outputs(bs, nb); /* after each backend: a run cut short keeps what it has */
    }
    write_outputs(bs, nb);
    fprintf(stderr, "bench_growth: wrote %s/growth.{json,md,svg}\n", g.out_dir);
    return 0;
}
