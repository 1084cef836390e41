/*
 * Several daybookd nodes on one PostgreSQL database (issue 18), with real processes:
 * a throwaway cluster of its own (tests/support/pg_cluster.sh, as an unprivileged
 * user), three daybookd on it, pushers and pullers as forked processes speaking
 * HTTP.
 *
 * - The storm: several pushers per stream, each starting on a different node,
 *   push new records in small batches until told to stop; a puller per stream on
 *   every node follows with "since=cursor". Mid-storm one node is killed (kill -9)
 *   and later started again, and the database is restarted. A client whose node is
 *   gone goes to the next one (what a load balancer does), and retries the same
 *   batch (pushes are idempotent) after a 503. Every acknowledged record must reach
 *   every puller exactly once: losses 0, duplicates 0.
 * - The trap the cursor design avoids, shown on the same PostgreSQL: a global
 *   sequence read as "id > cursor" loses a row that commits after a later one. The
 *   same interleaving against daybookd's rule (the stream's row locked until
 *   commit) makes the second writer wait instead.
 * - The database away altogether: 503 store_unavailable with Retry-After, the node
 *   stays up and serves again when the database is back.
 */
#include "tc.h"

#include "dbk/base64.h"
#include "dbk/init.h"

#include <libpq-fe.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

enum { NODES = 3, STREAMS = 2, PUSHERS = 3, BATCH = 3, MAX_BATCHES = 2000 };

static const char *script, *state;
static char *db_url;
static char *work;
static dbk_server nodes[NODES];
static const char *node_args[] = {"--store", NULL, "--rate-per-s", "100000", "--rate-burst",
                                  "100000", "--store-pool", "3", NULL};

/* pg_cluster.sh CMD, its output on our stderr. Not dbk_run: the postmaster it starts
 * would keep dbk_run's pipes open, and dbk_run waits for their end. */
static int
cluster(const char *cmd)
{
    pid_t p = fork();
    int st;
    if (p < 0)
        return -1;
    if (p == 0) {
        dup2(2, 1);
        execlp("bash", "bash", script, cmd, state, (char *)NULL);
        _exit(127);
    }
    if (waitpid(p, &st, 0) != p)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static bool
exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void
touch(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f != NULL)
        fclose(f);
}

/* One HTTP request as a pusher or puller makes it: the status, 0 when the node could
 * not be reached. *body gets the parsed answer on 200 (NULL otherwise). */
static long
call(int node, const tc_account *as, const char *method, const char *path, const char *text,
     json_t **body, bool *retry_after)
{
    char url[512], auth[128];
    const char *hdrs[] = {auth, NULL};
    dbk_http_resp r;
    long st;

    snprintf(url, sizeof url, "%s%s", nodes[node].base_url, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", as->token);
    if (body != NULL)
        *body = NULL;
    if (dbk_http(method, url, hdrs, text, text ? strlen(text) : 0, &r) != 0)
        return 0;
    st = r.status;
    if (retry_after != NULL)
        *retry_after = r.headers != NULL && strstr(r.headers, "Retry-After:") != NULL;
    if (st == 200 && body != NULL && r.body_len > 0) {
        json_error_t e;
        *body = json_loadb(r.body, r.body_len, 0, &e);
    }
    dbk_http_resp_free(&r);
    return st;
}

/* What a pusher or puller counted, one line in its stats file. */
struct counts {
    long acked, unavailable, unreachable, other, switched;
};

static void
write_counts(const char *path, const struct counts *c)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return;
    fprintf(f, "%ld %ld %ld %ld %ld\n", c->acked, c->unavailable, c->unreachable, c->other,
            c->switched);
    fclose(f);
}

static void
read_counts(const char *path, struct counts *c)
{
    FILE *f = fopen(path, "r");
    memset(c, 0, sizeof *c);
    if (f == NULL)
        return;
    if (fscanf(f, "%ld %ld %ld %ld %ld", &c->acked, &c->unavailable, &c->unreachable, &c->other,
               &c->switched) != 5)
        memset(c, 0, sizeof *c);
    fclose(f);
}

/*
 * A pusher: batches of BATCH new records into cl's shared stream, until the stop
 * file appears. A batch is sent again until it is acknowledged: to the next node
 * when its node cannot be reached, after a pause on 503. Acknowledged ids, with the
 * time, go to ackfile.
 */
static void
pusher(tc_account *cl, int node, const char *ackfile, const char *statsfile, const char *stop)
{
    FILE *f = fopen(ackfile, "w");
    struct counts c = {0};
    char path[256];

    snprintf(path, sizeof path, "%s", tc_path("/v1/streams/%s/records", &cl->shared));
    for (int b = 0; b < MAX_BATCHES && !exists(stop); b++) {
        dbk_id rec[BATCH];
        json_t *arr = json_array();
        for (int i = 0; i < BATCH; i++) {
            dbk_id_random(&rec[i]);
            json_array_append_new(arr, json_pack("{s:o}", "envelope",
                                                 tc_envelope(cl, &cl->shared, 1,
                                                             cl->shared_key[1], &rec[i],
                                                             "{\"v\":1}")));
        }
        json_t *req = json_pack("{s:o}", "records", arr);
        char *text = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        bool acked = false;
        for (int attempt = 0; attempt < 600 && !acked; attempt++) {
            long st = call(node, cl, "POST", path, text, NULL, NULL);
            if (st == 200) {
                acked = true;
            } else if (st == 0) {
                c.unreachable++;
                c.switched++;
                node = (node + 1) % NODES;
                usleep(20 * 1000);
            } else if (st == 503) {
                c.unavailable++;
                usleep(50 * 1000);
            } else {
                c.other++;
                usleep(50 * 1000);
            }
        }
        free(text);
        if (!acked)
            break; /* counted as not acknowledged: never checked */
        for (int i = 0; i < BATCH; i++) {
            char t[DBK_ID_TEXT_LEN + 1];
            dbk_id_to_text(&rec[i], t);
            fprintf(f, "%s %lld\n", t, dbk_now_ms());
        }
        fflush(f);
        c.acked += BATCH;
    }
    fclose(f);
    write_counts(statsfile, &c);
}

/*
 * A puller: follows cl's shared stream from seq 0 with "since=cursor" on its node,
 * moving to the next node when its node cannot be reached (the cursor is the
 * database's, good on every node). Every record id it receives goes to seenfile.
 * Once the done file existed before a request whose answer was empty, it stops.
 */
static void
puller(const tc_account *cl, int node, const char *seenfile, const char *statsfile,
       const char *done)
{
    FILE *f = fopen(seenfile, "w");
    struct counts c = {0};
    long long since = 0, deadline = dbk_now_ms() + 240000;

    while (dbk_now_ms() < deadline) {
        char path[256];
        json_t *body, *e;
        size_t i;
        bool finishing = exists(done);
        snprintf(path, sizeof path, "%s?since=%lld",
                 tc_path("/v1/streams/%s/records", &cl->shared), since);
        long st = call(node, cl, "GET", path, NULL, &body, NULL);
        if (st == 0) {
            c.unreachable++;
            c.switched++;
            node = (node + 1) % NODES;
            usleep(20 * 1000);
            continue;
        }
        if (st != 200 || body == NULL) {
            json_decref(body);
            *(st == 503 ? &c.unavailable : &c.other) += 1;
            usleep(50 * 1000);
            continue;
        }
        json_t *records = json_object_get(body, "records");
        json_array_foreach(records, i, e) {
            const char *b = json_string_value(json_object_get(e, "envelope"));
            unsigned char env[4096];
            size_t n;
            dbk_envelope_hdr h;
            char t[DBK_ID_TEXT_LEN + 1];
            if (b == NULL || dbk_b64_decode(env, sizeof env, &n, b, strlen(b)) != 0 ||
                dbk_envelope_parse(env, n, &h) != 0) {
                c.other++;
                continue;
            }
            dbk_id_to_text(&h.record, t);
            fprintf(f, "%s\n", t);
            c.acked++;
        }
        bool more = json_is_true(json_object_get(body, "more"));
        size_t got = json_array_size(records);
        since = json_integer_value(json_object_get(body, "next"));
        json_decref(body);
        if (got == 0 && !more && finishing)
            break;
        if (got == 0)
            usleep(10 * 1000);
    }
    fclose(f);
    write_counts(statsfile, &c);
}

/* The ids of a file of lines "ID ..." into a JSON object id -> count. */
static void
count_ids(const char *path, json_t *into)
{
    FILE *f = fopen(path, "r");
    char line[128];
    assert_non_null(f);
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, " \n")] = '\0';
        if (line[0] == '\0')
            continue;
        json_int_t n = json_integer_value(json_object_get(into, line));
        json_object_set_new(into, line, json_integer(n + 1));
    }
    fclose(f);
}

/* Acknowledgements in ackfile at or after t (ms). */
static long
acked_after(const char *path, long long t)
{
    FILE *f = fopen(path, "r");
    char id[64];
    long long at;
    long n = 0;
    if (f == NULL)
        return 0;
    while (fscanf(f, "%63s %lld", id, &at) == 2)
        n += at >= t;
    fclose(f);
    return n;
}

/* The last forked clients, for release_lone (should a test fail before it waited for
 * them): a ring, since the storm forks more than a lone node's test. */
enum { MAX_SPAWNED = 32 };
static pid_t spawned[MAX_SPAWNED];
static unsigned int nspawned;

static pid_t
spawn(void (*fn)(void *), void *arg)
{
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0) {
        fn(arg);
        _exit(0);
    }
    spawned[nspawned++ % MAX_SPAWNED] = p;
    return p;
}

struct role {
    tc_account *cl;
    int node;
    char file[600], stats[600];
};
static char stop_file[600], done_file[600];

static void
run_pusher(void *arg)
{
    struct role *r = arg;
    pusher(r->cl, r->node, r->file, r->stats, stop_file);
}

static void
run_puller(void *arg)
{
    struct role *r = arg;
    puller(r->cl, r->node, r->file, r->stats, done_file);
}

static bool
alive(const dbk_server *s)
{
    return s->pid > 0 && waitpid(s->pid, NULL, WNOHANG) == 0;
}

static void
test_storm_across_nodes_loses_nothing(void **unused)
{
    (void)unused;
    tc_account co, cl[STREAMS];
    struct role push[STREAMS][PUSHERS], pull[STREAMS][NODES];
    pid_t pushers[STREAMS * PUSHERS], pullers[STREAMS * NODES];
    long long t_kill, t_db;
    size_t np = 0, nq = 0;

    /* Set up on node 0; everything after goes anywhere. */
    tc_new_counselor(&nodes[0], &co, "Counselor N");
    for (int k = 0; k < STREAMS; k++)
        tc_new_client(&nodes[0], &cl[k], &co);
    snprintf(stop_file, sizeof stop_file, "%s/stop", work);
    snprintf(done_file, sizeof done_file, "%s/done", work);
    unlink(stop_file);
    unlink(done_file);

    for (int k = 0; k < STREAMS; k++) {
        for (int j = 0; j < NODES; j++) {
            struct role *r = &pull[k][j];
            r->cl = &cl[k];
            r->node = j;
            snprintf(r->file, sizeof r->file, "%s/seen-%d-%d", work, k, j);
            snprintf(r->stats, sizeof r->stats, "%s/seen-%d-%d.stats", work, k, j);
            pullers[nq++] = spawn(run_puller, r);
        }
        for (int p = 0; p < PUSHERS; p++) {
            struct role *r = &push[k][p];
            r->cl = &cl[k];
            r->node = (p + k) % NODES;
            snprintf(r->file, sizeof r->file, "%s/acked-%d-%d", work, k, p);
            snprintf(r->stats, sizeof r->stats, "%s/acked-%d-%d.stats", work, k, p);
            pushers[np++] = spawn(run_pusher, r);
        }
    }

    long long t0 = dbk_now_ms();
    usleep(1500 * 1000);
    t_kill = dbk_now_ms();
    dbk_server_kill(&nodes[NODES - 1]); /* SIGKILL: its clients move on */
    usleep(1000 * 1000);
    t_db = dbk_now_ms();
    assert_int_equal(cluster("restart"), 0); /* every node's connections cut */
    long long t_db_back = dbk_now_ms();
    usleep(1000 * 1000);
    assert_int_equal(dbk_server_restart(&nodes[NODES - 1], node_args), 0);
    long long t_node_back = dbk_now_ms();
    usleep(1500 * 1000);
    touch(stop_file);
    print_message("storm: kill at %lld ms, database restart %lld..%lld ms, node back at %lld "
                  "ms, stop at %lld ms\n", t_kill - t0, t_db - t0, t_db_back - t0,
                  t_node_back - t0, dbk_now_ms() - t0);
    for (size_t i = 0; i < np; i++)
        assert_int_equal(dbk_wait_pid(pushers[i], 120000), 0);
    touch(done_file);
    for (size_t i = 0; i < nq; i++)
        assert_int_equal(dbk_wait_pid(pullers[i], 120000), 0);
    for (int j = 0; j < NODES - 1; j++)
        assert_true(alive(&nodes[j])); /* the database's restart took no node down */

    long acked = 0, after_kill = 0, after_db = 0, lost = 0, dup = 0, unacked_seen = 0;
    struct counts ps = {0}, qs = {0};
    for (int k = 0; k < STREAMS; k++) {
        json_t *want = json_object();
        for (int p = 0; p < PUSHERS; p++) {
            struct counts c;
            count_ids(push[k][p].file, want);
            after_kill += acked_after(push[k][p].file, t_kill);
            after_db += acked_after(push[k][p].file, t_db);
            read_counts(push[k][p].stats, &c);
            ps.unavailable += c.unavailable;
            ps.unreachable += c.unreachable;
            ps.other += c.other;
        }
        acked += (long)json_object_size(want);
        for (int j = 0; j < NODES; j++) {
            json_t *seen = json_object(), *v;
            const char *id;
            struct counts c;
            count_ids(pull[k][j].file, seen);
            read_counts(pull[k][j].stats, &c);
            qs.unavailable += c.unavailable;
            qs.unreachable += c.unreachable;
            qs.other += c.other;
            json_object_foreach(want, id, v) {
                json_int_t n = json_integer_value(json_object_get(seen, id));
                if (n != 1)
                    print_error("stream %d puller %d: acknowledged %s seen %d times\n", k, j,
                                id, (int)n);
                lost += n == 0;
                dup += n > 1;
            }
            json_object_foreach(seen, id, v) {
                if (json_integer_value(v) > 1 && json_object_get(want, id) == NULL)
                    dup++; /* stored without an acknowledgement, and seen twice */
                unacked_seen += json_object_get(want, id) == NULL;
            }
            json_decref(seen);
        }
        json_decref(want);
    }
    /* The events happened mid-storm: records were acknowledged after each. */
    assert_true(after_kill > 0);
    assert_true(after_db > 0);
    assert_true(acked > 0);
    dbk_report("several nodes, one database (PostgreSQL)",
               "3 daybookd on one PostgreSQL 15; 3 pushers and a puller on every node for each of "
               "2 streams; one node killed (kill -9) and started again, the database restarted "
               "(pg_ctl restart -m fast), mid-storm",
               "%ld acknowledged records (%ld after the kill, %ld after the database restart), "
               "each followed by 3 pullers; 503 answers while the database was away: %ld; "
               "requests moved off the dead node: %ld; losses: %ld, duplicates: %ld",
               acked, after_kill, after_db, ps.unavailable + qs.unavailable,
               ps.unreachable + qs.unreachable, lost, dup);
    print_message("storm: %ld acked, unacknowledged but stored and pulled: %ld, other answers: "
                  "%ld\n", acked, unacked_seen, ps.other + qs.other);
    assert_int_equal(lost, 0);
    assert_int_equal(dup, 0);

    /* daybookd check and audit verify on the database after all that. */
    {
        const char *argv[] = {dbk_bin("DAYBOOKD"), "check", "--store", db_url, NULL};
        dbk_run_result rr;
        assert_int_equal(dbk_run(argv, NULL, 120, &rr), 0);
        if (rr.status != 0)
            print_error("check: %s%s", rr.out, rr.err);
        assert_int_equal(rr.status, 0);
        dbk_run_result_free(&rr);
    }
    for (int k = 0; k < STREAMS; k++)
        tc_account_free(&cl[k]);
    tc_account_free(&co);
}

/* Runs sql on c; the first column of the first row as a number (0 if none). */
static long long
q(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    long long v = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        print_error("%s: %s", sql, PQerrorMessage(c));
    assert_true(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/*
 * The trap, made to happen: writer A takes id 1 from a global sequence, writer B takes
 * id 2 and commits, a reader following "id > cursor" reads 2 and moves its cursor to
 * 2, then A commits 1, which that reader never sees. The same interleaving with
 * daybookd's rule (the stream's counter read FOR UPDATE, held to commit): B cannot
 * take a number while A holds the row, so the reader cannot get ahead of A.
 */
static void
test_naive_cursor_would_lose_records(void **unused)
{
    (void)unused;
    char *url = dbk_pg_create_db(state);
    PGconn *a = PQconnectdb(url), *b = PQconnectdb(url), *rd = PQconnectdb(url);
    long long cursor, lost_naive = 0, seen_after = 0;
    assert_int_equal(PQstatus(a), CONNECTION_OK);
    assert_int_equal(PQstatus(b), CONNECTION_OK);
    assert_int_equal(PQstatus(rd), CONNECTION_OK);

    /* The naive design: one global serial. */
    q(a, "CREATE TABLE naive (id BIGSERIAL PRIMARY KEY, body TEXT)");
    q(a, "BEGIN");
    assert_int_equal(q(a, "INSERT INTO naive(body) VALUES ('a') RETURNING id"), 1);
    q(b, "BEGIN");
    assert_int_equal(q(b, "INSERT INTO naive(body) VALUES ('b') RETURNING id"), 2);
    q(b, "COMMIT");
    cursor = q(rd, "SELECT max(id) FROM naive WHERE id > 0"); /* the reader's pull */
    assert_int_equal(cursor, 2);
    q(a, "COMMIT");
    {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM naive WHERE id > %lld", cursor);
        seen_after = q(rd, sql);
    }
    lost_naive = q(rd, "SELECT count(*) FROM naive") - 1 /* what the reader got */ - seen_after;
    assert_int_equal(lost_naive, 1); /* record 1 committed, and never pulled */

    /* daybookd's design: the stream's counter under its row lock. */
    q(a, "CREATE TABLE s (id INT PRIMARY KEY, seq BIGINT NOT NULL)");
    q(a, "INSERT INTO s VALUES (1, 0)");
    q(a, "BEGIN");
    q(a, "SELECT seq FROM s WHERE id = 1 FOR UPDATE");
    q(a, "UPDATE s SET seq = seq + 1 WHERE id = 1");
    q(b, "BEGIN");
    PGresult *r = PQexec(b, "SELECT seq FROM s WHERE id = 1 FOR UPDATE NOWAIT");
    /* 55P03 lock_not_available: B would wait for A's commit, not run ahead of it. */
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "55P03");
    PQclear(r);
    q(b, "ROLLBACK");
    q(a, "COMMIT");
    PQfinish(a);
    PQfinish(b);
    PQfinish(rd);
    dbk_pg_drop_db(state, url);
    free(url);
    dbk_report("the naive pull cursor (PostgreSQL)",
               "one global sequence read as 'id > cursor': writer A takes 1, B takes 2 and "
               "commits, a puller reads 2, A commits; the same with the stream's counter "
               "locked to commit (daybookd)",
               "global sequence: %lld of 2 records never pulled; per-stream counter: the "
               "second writer waits (55P03 with NOWAIT), nothing to skip",
               lost_naive);
}

/* GET /healthz on a node: 200, or 503 only with store_unavailable and Retry-After
 * (any other answer is returned as is, and said). */
static long
healthz(const dbk_server *s)
{
    char url[256];
    dbk_http_resp r;
    long st;
    snprintf(url, sizeof url, "%s/healthz", s->base_url);
    if (dbk_http("GET", url, NULL, NULL, 0, &r) != 0)
        return 0;
    st = r.status;
    if (st == 503) {
        json_t *body = r.body_len > 0 ? dbk_http_json(&r) : NULL;
        if (r.headers == NULL || strstr(r.headers, "Retry-After:") == NULL ||
            strcmp(tc_code(body), "store_unavailable") != 0)
            st = -503;
        json_decref(body);
    }
    if (st != 200 && st != 503)
        print_error("healthz: %ld %s\n", r.status, r.body);
    dbk_http_resp_free(&r);
    return st;
}

/* The database away: 503 store_unavailable with Retry-After, on /healthz too; the node
 * stays up and serves again once the database is back. */
static void
test_database_away_answers_503(void **unused)
{
    (void)unused;
    tc_account co, cl;
    bool retry = false;
    long st;
    char path[256];
    int ok503 = 0, health503 = 0;

    tc_new_counselor(&nodes[0], &co, "Counselor W");
    tc_new_client(&nodes[0], &cl, &co);
    snprintf(path, sizeof path, "%s?since=0", tc_path("/v1/streams/%s/records", &cl.shared));
    for (int j = 0; j < NODES; j++)
        assert_int_equal(healthz(&nodes[j]), 200);
    assert_int_equal(cluster("pause"), 0);
    /* /healthz asks the database too: a load balancer takes every node out. */
    for (int j = 0; j < NODES; j++)
        if (healthz(&nodes[j]) == 503)
            health503++;
    for (int i = 0; i < 3; i++) {
        json_t *body = NULL;
        char url[512], auth[128];
        const char *hdrs[] = {auth, NULL};
        dbk_http_resp r;
        snprintf(url, sizeof url, "%s%s", nodes[i % NODES].base_url, path);
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", cl.token);
        assert_int_equal(dbk_http("GET", url, hdrs, NULL, 0, &r), 0);
        retry = r.headers != NULL && strstr(r.headers, "Retry-After:") != NULL;
        if (r.body_len > 0)
            body = dbk_http_json(&r);
        if (r.status == 503 && retry && strcmp(tc_code(body), "store_unavailable") == 0)
            ok503++;
        else
            print_error("database away: %ld %s\n", r.status, r.body);
        json_decref(body);
        dbk_http_resp_free(&r);
    }
    assert_int_equal(cluster("resume"), 0);
    for (int j = 0; j < NODES; j++)
        assert_true(alive(&nodes[j]));
    /* Back: served again (a reconnect is tried at most once a second). */
    st = 0;
    for (int i = 0; i < 50 && st != 200; i++) {
        json_t *body = NULL;
        st = call(1, &cl, "GET", path, NULL, &body, NULL);
        json_decref(body);
        if (st != 200)
            usleep(100 * 1000);
    }
    assert_int_equal(st, 200);
    assert_int_equal(ok503, 3);
    assert_int_equal(health503, NODES);
    for (int j = 0; j < NODES; j++) {
        long h = 0;
        for (int i = 0; i < 50 && h != 200; i++)
            if ((h = healthz(&nodes[j])) != 200)
                usleep(100 * 1000);
        assert_int_equal(h, 200);
    }
    tc_account_free(&cl);
    tc_account_free(&co);
}

/* `daybookd ARGS...` (NULL-terminated); its exit status, its output in *out if given. */
static int
daybookd(char **out, const char *a1, ...)
{
    const char *argv[16];
    size_t n = 0;
    va_list ap;
    dbk_run_result r;
    argv[n++] = dbk_bin("DAYBOOKD");
    argv[n++] = a1;
    va_start(ap, a1);
    while (n < 15 && (argv[n] = va_arg(ap, const char *)) != NULL)
        n++;
    va_end(ap);
    argv[n] = NULL;
    assert_int_equal(dbk_run(argv, NULL, 120, &r), 0);
    if (r.status != 0)
        print_message("daybookd %s: %s%s", a1, r.out, r.err);
    if (out != NULL)
        *out = strdup(r.out);
    int st = r.status;
    dbk_run_result_free(&r);
    return st;
}

/* Pushes n new journal records into cl's shared stream on s. */
static void
push_n(const dbk_server *s, tc_account *cl, int n)
{
    for (int i = 0; i < n; i++) {
        dbk_id rec;
        long st;
        dbk_id_random(&rec);
        json_t *body = json_pack("{s:[{s:o}]}", "records", "envelope",
                                 tc_envelope(cl, &cl->shared, 1, cl->shared_key[1], &rec,
                                             "{\"v\":1}"));
        json_decref(tc_req(s, cl, "POST", tc_path("/v1/streams/%s/records", &cl->shared), body,
                           &st));
        json_decref(body);
        assert_int_equal(st, 200);
    }
}

/* How many records cl's shared stream holds, as cl pulls them from s. */
static size_t
pull_count(const dbk_server *s, const tc_account *cl)
{
    size_t n = 0;
    long long since = 0;
    bool more = true;
    while (more) {
        char path[256];
        long st;
        snprintf(path, sizeof path, "%s?since=%lld",
                 tc_path("/v1/streams/%s/records", &cl->shared), since);
        json_t *r = tc_req(s, cl, "GET", path, NULL, &st);
        assert_int_equal(st, 200);
        n += json_array_size(json_object_get(r, "records"));
        more = json_is_true(json_object_get(r, "more"));
        since = json_integer_value(json_object_get(r, "next"));
        json_decref(r);
    }
    return n;
}

/*
 * An SQLite store moved to PostgreSQL (daybookd migrate, verified), served from
 * there (its config file names the store) with the same accounts, tokens and
 * records; check and audit verify on it;
 * then the restore drill with pg_dump: backup, more records, restore, the client
 * logs in again and finds what the backup held.
 */
static void
test_migrate_check_backup_restore(void **unused)
{
    (void)unused;
    dbk_server sq, pgs;
    tc_account co, cl;
    char from[4200], archive[600], conf[600], *out = NULL, *url = dbk_pg_create_db(state);
    const char *args[] = {"--config", conf, NULL};
    FILE *f;

    /* This node is told its store the way a clinic's config file does. */
    snprintf(conf, sizeof conf, "%s/daybookd.conf", work);
    assert_non_null(f = fopen(conf, "w"));
    fprintf(f, "# the PostgreSQL store\nstore = %s\nstore-pool = 2\n", url);
    fclose(f);

    assert_int_equal(dbk_server_start(&sq, NULL), 0); /* SQLite, the default */
    tc_new_counselor(&sq, &co, "Counselor M");
    tc_new_client(&sq, &cl, &co);
    push_n(&sq, &cl, 12);
    assert_int_equal(dbk_server_stop(&sq), 0);

    snprintf(from, sizeof from, "sqlite:%s/daybook.db", sq.data_dir);
    assert_int_equal(daybookd(&out, "migrate", "--from", from, "--to", url, NULL), 0);
    assert_non_null(strstr(out, "copied and verified"));
    assert_null(strstr(out, "DIFFERENT"));
    free(out);
    /* Into a store that holds data: refused, nothing touched. */
    assert_int_not_equal(daybookd(NULL, "migrate", "--from", from, "--to", url, NULL), 0);

    /* Served from PostgreSQL: the same token, the same records. */
    assert_int_equal(dbk_server_start(&pgs, args), 0);
    {
        char *log = dbk_server_log(&pgs);
        assert_non_null(strstr(log, "store=postgresql"));
        free(log);
    }
    assert_int_equal(pull_count(&pgs, &cl), 12);
    push_n(&pgs, &cl, 3);
    assert_int_equal(pull_count(&pgs, &cl), 15);
    assert_int_equal(daybookd(NULL, "check", "--store", url, NULL), 0);
    assert_int_equal(daybookd(&out, "audit", "verify", "--store", url, NULL), 0);
    free(out);

    /* The restore drill: backup (pg_dump), 4 more records, restore, log in again. */
    snprintf(archive, sizeof archive, "%s/daybook.pgdump", work);
    assert_int_equal(daybookd(NULL, "backup", archive, "--store", url, NULL), 0);
    push_n(&pgs, &cl, 4);
    assert_int_equal(pull_count(&pgs, &cl), 19);
    assert_int_not_equal(daybookd(NULL, "restore", archive, "--store", url, NULL), 0); /* node up */
    assert_int_equal(dbk_server_stop(&pgs), 0);
    assert_int_equal(daybookd(&out, "restore", archive, "--store", url, NULL), 0);
    free(out);
    assert_int_equal(dbk_server_restart(&pgs, args), 0);
    {
        long st;
        json_decref(tc_req(&pgs, &cl, "GET", "/v1/account", NULL, &st));
        assert_int_equal(st, 401); /* tokens end with a restore */
    }
    assert_int_equal(tc_login(&pgs, &cl, cl.passphrase, NULL), 200);
    assert_int_equal(pull_count(&pgs, &cl), 15);
    assert_int_equal(daybookd(NULL, "check", "--store", url, NULL), 0);
    dbk_report("store moved to PostgreSQL and restored (pg_dump)",
               "daybookd migrate of an SQLite store (12 records) verified by counts, hashes and "
               "the audit chain; served from PostgreSQL; backup, 4 more records, restore",
               "migrate: every table the same, a second migrate into it refused; restore "
               "refused while a node was connected; after it the client logged in again and "
               "found the 15 records of the backup; check passed");
    dbk_server_cleanup(&pgs);
    dbk_server_cleanup(&sq);
    tc_account_free(&cl);
    tc_account_free(&co);
    dbk_pg_drop_db(state, url);
    free(url);
}

/*
 * Last seen is the minute of a device's last authenticated request on every node
 * (proto/README.md section 5): a client's request to node 0 shows, in the same
 * minute, in its counselor's caseload read from node 1. A node keeps which minutes
 * it wrote, to send nothing for the device's later requests in that minute; it does
 * not keep the write itself for later, as the SQLite store does, because node 1
 * could not see it.
 */
static void
test_last_seen_across_nodes(void **unused)
{
    tc_account co, cl;
    char sql[200], hex[2 * DBK_ID_BYTES + 1];
    long long t0, t1, seen = 0;
    long st;

    (void)unused;
    tc_new_counselor(&nodes[0], &co, "Counselor S");
    tc_new_client(&nodes[0], &cl, &co);
    sodium_bin2hex(hex, sizeof hex, cl.device.b, DBK_ID_BYTES);
    snprintf(sql, sizeof sql, "UPDATE devices SET last_seen = 60000 WHERE id = '\\x%s'", hex);
    /* Set back while node 0 is down, so it remembers nothing of the device. */
    assert_int_equal(dbk_server_stop(&nodes[0]), 0);
    assert_true(dbk_pg_exec_db(db_url, sql) >= 0);
    assert_int_equal(dbk_server_restart(&nodes[0], node_args), 0);
    t0 = (long long)dbk_hlc_wall_ms();
    json_decref(tc_req(&nodes[0], &cl, "GET", "/v1/account", NULL, &st));
    assert_int_equal(st, 200);
    json_decref(tc_req(&nodes[0], &cl, "GET", "/v1/account", NULL, &st)); /* remembered */
    assert_int_equal(st, 200);
    seen = tc_caseload_last_sync(&nodes[1], &co, &cl.id);
    t1 = (long long)dbk_hlc_wall_ms();
    if (seen % 60000 != 0 || seen < t0 / 60000 * 60000 || seen > t1 / 60000 * 60000)
        fail_msg("caseload on node 1: last_sync_at %lld, not the minute of the request to "
                 "node 0 (%lld..%lld)",
                 seen, t0, t1);
    dbk_report("last seen across nodes",
               "a device last seen in 1970 makes two requests to node 0; its counselor reads "
               "the caseload from node 1 in the same minute",
               "node 1 shows the minute of the requests (written with the first one)");
    tc_account_free(&cl);
    tc_account_free(&co);
}

/* ---- opposite lock orders: two groups that push to the same two streams ---- */

/* One push of record rec into stream (key, epoch 1) as cl, on s: the status. */
static long
push_record(const dbk_server *s, tc_account *cl, const dbk_id *stream, const unsigned char *key,
            const dbk_id *rec)
{
    long st;
    json_t *body = json_pack("{s:[{s:o}]}", "records", "envelope",
                             tc_envelope(cl, stream, 1, key, rec, "{\"v\":1}"));
    json_decref(tc_req(s, cl, "POST", tc_path("/v1/streams/%s/records", stream), body, &st));
    json_decref(body);
    return st;
}

/* The same with a new record. */
static long
push_one(const dbk_server *s, tc_account *cl, const dbk_id *stream, const unsigned char *key)
{
    dbk_id rec;
    dbk_id_random(&rec);
    return push_record(s, cl, stream, key, &rec);
}

/* A forked push: its status is the child's exit code (200 -> 0, else 1..). */
struct bg_push {
    const dbk_server *s;
    tc_account *cl;
    const dbk_id *stream;
    const unsigned char *key;
};

static void
run_bg_push(void *arg)
{
    struct bg_push *b = arg;
    long st = push_one(b->s, b->cl, b->stream, b->key);
    if (st != 200)
        print_error("push: HTTP %ld\n", st);
    _exit(st == 200 ? 0 : st == 503 ? 3 : 4);
}

/* The node's figure name (a line "name value") from /metrics; -1 if missing. */
static long
metric(const dbk_server *s, const char *name)
{
    char url[256], line[80];
    dbk_http_resp r;
    long n = -1;
    const char *p;
    snprintf(url, sizeof url, "%s/metrics", s->base_url);
    snprintf(line, sizeof line, "\n%s ", name);
    if (dbk_http("GET", url, NULL, NULL, 0, &r) != 0)
        return -1;
    if (r.status == 200 && r.body != NULL && (p = strstr(r.body, line)) != NULL)
        n = strtol(p + strlen(line), NULL, 10);
    dbk_http_resp_free(&r);
    return n;
}

/* The node's daybook_storage_jobs_pending (queued or running). */
static long
jobs_pending(const dbk_server *s)
{
    return metric(s, "daybook_storage_jobs_pending");
}

static void
wait_pending(const dbk_server *s, long want)
{
    long n = -1;
    for (int i = 0; i < 3000 && n != want; i++)
        if ((n = jobs_pending(s)) != want)
            usleep(10 * 1000);
    if (n != want)
        fail_msg("node: %ld jobs pending, waited for %ld", n, want);
}

/* The test's own sessions (pg_session), ended by session_end or, should the test fail,
 * by release_lone: an open one would keep its locks for the tests after it. */
enum { MAX_SESSIONS = 8 };
static PGconn *sessions[MAX_SESSIONS];

/* A session of the test's own, connected. */
static PGconn *
pg_session(void)
{
    PGconn *c = PQconnectdb(db_url);
    int i = 0;
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    while (i < MAX_SESSIONS && sessions[i] != NULL)
        i++;
    assert_true(i < MAX_SESSIONS);
    sessions[i] = c;
    return c;
}

/* Ends c (what it holds is rolled back). */
static void
session_end(PGconn *c)
{
    for (int i = 0; i < MAX_SESSIONS; i++)
        if (sessions[i] == c)
            sessions[i] = NULL;
    PQfinish(c);
}

/* Connections of daybookd (any node) that wait for a lock held by session holder, as
 * PostgreSQL's lock manager says (pg_blocking_pids): directly, or queued behind another
 * connection that waits for it (the second waiter for a row waits for the first). A
 * waiter for anything else, or one that pg_stat_activity still shows waiting after its
 * lock was given back, is not one. */
static long long
blocked_by(PGconn *look, PGconn *holder)
{
    char sql[600];
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE w(pid) AS (SELECT pid FROM pg_stat_activity"
             " WHERE %d = ANY(pg_blocking_pids(pid))"
             " UNION SELECT a.pid FROM pg_stat_activity a JOIN w"
             " ON w.pid = ANY(pg_blocking_pids(a.pid)))"
             " SELECT count(*) FROM w JOIN pg_stat_activity USING (pid)"
             " WHERE application_name LIKE 'daybookd%%'",
             PQbackendPID(holder));
    return q(look, sql);
}

/* Ends the connections of daybookd that wait for holder; how many. */
static long long
terminate_blocked_by(PGconn *look, PGconn *holder)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE"
             " application_name LIKE 'daybookd%%' AND %d = ANY(pg_blocking_pids(pid))",
             PQbackendPID(holder));
    return q(look, sql);
}

/* Until n of daybookd's connections wait for a lock holder holds. The bound is generous
 * (60 s: a loaded machine can take seconds to run a job that far); the count asserted
 * is the one the last look saw, and on failure what every daybookd connection waits for
 * is printed. */
static void
wait_blocked_by(PGconn *look, PGconn *holder, long long n)
{
    long long seen = -1, deadline = dbk_now_ms() + 60000;
    PGresult *r;

    while ((seen = blocked_by(look, holder)) != n && dbk_now_ms() < deadline)
        usleep(10 * 1000);
    if (seen == n)
        return;
    r = PQexec(look, "SELECT pid, state, wait_event_type, wait_event, pg_blocking_pids(pid),"
                     " left(query, 60) FROM pg_stat_activity"
                     " WHERE application_name LIKE 'daybookd%'");
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++)
        print_error("daybookd backend %s: %s, waits %s/%s on %s: %s\n", PQgetvalue(r, i, 0),
                    PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
                    PQgetvalue(r, i, 4), PQgetvalue(r, i, 5));
    PQclear(r);
    fail_msg("%lld of daybookd's connections wait for session %d, waited for %lld", seen,
             PQbackendPID(holder), n);
}

static void
lock_rows(PGconn *c, const dbk_id *a, const dbk_id *b)
{
    char sql[300], ha[2 * DBK_ID_BYTES + 1], hb[2 * DBK_ID_BYTES + 1];
    sodium_bin2hex(ha, sizeof ha, a->b, DBK_ID_BYTES);
    sodium_bin2hex(hb, sizeof hb, b->b, DBK_ID_BYTES);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM (SELECT 1 FROM streams WHERE id IN ('\\x%s', '\\x%s')"
             " FOR UPDATE) l",
             ha, hb);
    q(c, "BEGIN");
    assert_int_equal(q(c, sql), 2);
}

/*
 * Two nodes, one storage thread each. Node A's next group pushes to streams S1 then
 * S2, node B's to S2 then S1, the groups made to start together while an outside
 * session holds S1 and S2, so that each has taken its first stream when it asks for
 * its second: the interleaving of a deadlock (SQLSTATE 40P01), which PostgreSQL broke
 * after deadlock_timeout by failing one of the four pushes (503). daybookd must
 * never wait for a lock while its transaction holds one taken by an earlier job: the
 * second push of each group finds its stream taken, commits the group so far and
 * waits with nothing held. Every push is stored; no 503, no deadlock in the
 * database's statistics.
 */
/* Nodes with one storage thread each, so that the jobs queued while it waits are one
 * group; stopped by teardown, should a test fail. */
static dbk_server lone[2];
static char *lone_url; /* db_url, with the application name release_lone looks for */
static const char *lone_args[] = {
    "--store", NULL, "--rate-per-s", "100000", "--rate-burst", "100000", "--store-pool", "1", NULL};

static void
test_opposite_lock_orders_do_not_deadlock(void **unused)
{
    (void)unused;
    dbk_server *a = &lone[0], *b = &lone[1];
    tc_account co, cl, blk;
    PGconn *hold = pg_session(), *hold2 = pg_session(), *look = pg_session();
    int rounds = 3, failed = 0;
    long long deadlocks0, deadlocks1;

    assert_int_equal(dbk_server_start(a, lone_args), 0);
    assert_int_equal(dbk_server_start(b, lone_args), 0);
    tc_new_counselor(a, &co, "Counselor D");
    tc_new_client(a, &cl, &co);  /* S1 its shared stream, S2 its private one */
    tc_new_client(a, &blk, &co); /* its two streams keep each node's thread busy */
    deadlocks0 = q(look, "SELECT deadlocks FROM pg_stat_database WHERE datname ="
                         " current_database()");
    long commits0 =
        metric(a, "daybook_storage_commits_total") + metric(b, "daybook_storage_commits_total");
    for (int round = 0; round < rounds; round++) {
        pid_t p[6];
        int np = 0;
        struct bg_push blocker_a = {a, &blk, &blk.shared, blk.shared_key[1]},
                       blocker_b = {b, &blk, &blk.priv, blk.priv_key},
                       a1 = {a, &cl, &cl.shared, cl.shared_key[1]},
                       a2 = {a, &cl, &cl.priv, cl.priv_key}, b1 = {b, &cl, &cl.priv, cl.priv_key},
                       b2 = {b, &cl, &cl.shared, cl.shared_key[1]};
        /* Each node's connection has seen the clients' tokens and devices this minute
         * (no token look-up or last-seen write of one job waits for the other's). */
        if (dbk_hlc_wall_ms() % 60000 > 50000)
            usleep((useconds_t)(61000 - dbk_hlc_wall_ms() % 60000) * 1000);
        assert_int_equal(push_one(a, &cl, &cl.shared, cl.shared_key[1]), 200);
        assert_int_equal(push_one(b, &cl, &cl.shared, cl.shared_key[1]), 200);
        assert_int_equal(push_one(a, &blk, &blk.shared, blk.shared_key[1]), 200);
        assert_int_equal(push_one(b, &blk, &blk.shared, blk.shared_key[1]), 200);

        lock_rows(hold, &blk.shared, &blk.priv); /* each node's thread waits on one */
        lock_rows(hold2, &cl.shared, &cl.priv);  /* S1, S2 */
        p[np++] = spawn(run_bg_push, &blocker_a);
        p[np++] = spawn(run_bg_push, &blocker_b);
        wait_pending(a, 1);
        wait_pending(b, 1);
        /* Queued behind them, each pair one group: A S1 then S2, B S2 then S1. */
        p[np++] = spawn(run_bg_push, &a1);
        wait_pending(a, 2);
        p[np++] = spawn(run_bg_push, &a2);
        wait_pending(a, 3);
        p[np++] = spawn(run_bg_push, &b1);
        wait_pending(b, 2);
        p[np++] = spawn(run_bg_push, &b2);
        wait_pending(b, 3);
        q(hold, "COMMIT"); /* the blockers go; the groups start and wait on S1 and S2 */
        wait_blocked_by(look, hold2, 2);
        q(hold2, "COMMIT"); /* A takes S1, B takes S2, together */
        for (int i = 0; i < np; i++) {
            int st = dbk_wait_pid(p[i], 60000);
            failed += st != 0;
        }
    }
    deadlocks1 = q(look, "SELECT deadlocks FROM pg_stat_database WHERE datname ="
                         " current_database()");
    /* Each round the nodes ran 8 groups (4 pushes alone, 2 blockers, the two pairs), and
     * a pair that found its second stream taken committed its first push before waiting
     * for it: daybook_storage_commits_total counts that commit too, not the group once.
     * A round need not split: when the outside session lets both streams go, one node
     * may take its second stream before the other's backend has woken to take it (a
     * row lock is taken by the waiter when it runs, and SKIP LOCKED sees it free), and
     * the fewer round trips a job takes (token, account and stream rows in one), the
     * likelier that is (26 commits, 2 splits, in 1 of 4 runs). At least one of the
     * rounds met the crossing. */
    long commits = metric(a, "daybook_storage_commits_total") +
                   metric(b, "daybook_storage_commits_total") - commits0;
    dbk_report(
        "opposite lock orders (PostgreSQL)",
        "2 daybookd with one storage thread each; node A's group pushes to S1 then "
        "S2, node B's to S2 then S1, both started while S1 and S2 were held, 3 times",
        "pushes not stored (503): %d of 18; deadlocks counted by PostgreSQL: %lld; "
        "commits counted by the nodes' metrics: %ld (24 groups or more, and 1 or more splits)",
        failed, deadlocks1 - deadlocks0, commits);
    if (failed != 0)
        for (int j = 0; j < 2; j++) { /* which statement failed, and why */
            char *log = dbk_server_log(&lone[j]);
            for (char *l = strtok(log, "\n"); l != NULL; l = strtok(NULL, "\n"))
                if (strstr(l, "store_error") != NULL || strstr(l, "request_failed") != NULL)
                    print_error("node %c: %s\n", 'A' + j, l);
            free(log);
        }
    assert_int_equal(failed, 0);
    assert_int_equal(deadlocks1 - deadlocks0, 0);
    assert_true(commits >= 8 * rounds + 1);
    /* Everything pushed is there: 1 + 2 + 3 rounds' worth in each stream. */
    assert_int_equal(daybookd(NULL, "check", "--store", db_url, NULL), 0);
    session_end(hold);
    session_end(hold2);
    session_end(look);
    dbk_server_cleanup(a);
    dbk_server_cleanup(b);
    tc_account_free(&blk);
    tc_account_free(&cl);
    tc_account_free(&co);
}

/* Ends a test's three sessions and its lone node. */
static void
end_sessions(PGconn *a, PGconn *b, PGconn *c, dbk_server *s)
{
    session_end(a);
    session_end(b);
    session_end(c);
    dbk_server_cleanup(s);
}

/* The audit chain's lock (AUDIT_LOCK) taken or given back by session c: while c holds
 * it, every commit that writes an audit row waits. */
static void
chain_lock(PGconn *c, bool take)
{
    char sql[80];
    snprintf(sql, sizeof sql, "SELECT pg_advisory_%slock(%lld)", take ? "" : "un",
             0x64626b0000000002LL);
    q(c, sql);
}


/* One pull of stream since 0 as cl, on s: the status. */
static long
pull_one(const dbk_server *s, tc_account *cl, const dbk_id *stream)
{
    char path[256];
    long st;
    snprintf(path, sizeof path, "%s?since=0", tc_path("/v1/streams/%s/records", stream));
    json_decref(tc_req(s, cl, "GET", path, NULL, &st));
    return st;
}

static void
run_bg_pull(void *arg)
{
    struct bg_push *b = arg;
    long st = pull_one(b->s, b->cl, b->stream);
    _exit(st == 200 ? 0 : st == 503 ? 3 : 4);
}

/* On s's one storage thread, the group [f1(a1), f2(a2)] queued behind blocker's pull,
 * whose commit waits for the audit chain's lock (adv holds it until chain_lock(adv,
 * false)); p[0..2] the three processes. */
static void
group_behind(const dbk_server *s, PGconn *adv, PGconn *look, struct bg_push *blocker,
             void (*f1)(void *), void *a1, void (*f2)(void *), void *a2, pid_t p[3])
{
    chain_lock(adv, true);
    p[0] = spawn(run_bg_pull, blocker);
    wait_pending(s, 1);
    wait_blocked_by(look, adv, 1);
    p[1] = spawn(f1, a1);
    wait_pending(s, 2);
    p[2] = spawn(f2, a2);
    wait_pending(s, 3);
}

/* A forked enrollment with the invite code in .key (as text). */
static void
run_bg_enroll(void *arg)
{
    struct bg_push *b = arg;
    long st;
    tc_account_init(b->cl, false, "client passphrase");
    json_decref(tc_enroll(b->s, b->cl, (const char *)b->key, &st));
    _exit(st == 201 ? 0 : st == 503 ? 3 : 4);
}

/*
 * A statement prepared for the first time while a job's savepoint waits to be sent
 * (it goes with the job's first statement), and the preparation fails: only that
 * job fails. One node with one storage thread; the job's first statement is one this
 * connection never prepared (an enrollment's use of its invite, where the node had
 * only served pulls), and its preparation waits for the table an outside session
 * holds until lock_timeout (10 s), then fails. The pull before it in the same group
 * is answered 200: before, the failure aborted the transaction above the job's
 * savepoint, and the whole group was answered 503.
 */
static void
test_failed_prepare_fails_its_job_alone(void **unused)
{
    (void)unused;
    dbk_server *s = &lone[0];
    tc_account co, a, c, d;
    char code[32];
    PGconn *adv = pg_session(), *tbl = pg_session(), *look = pg_session();
    pid_t p[3];
    int st[3];

    /* Set up on node 0; the lone node only ever pulls until the push. */
    tc_new_counselor(&nodes[0], &co, "Counselor P");
    tc_new_client(&nodes[0], &a, &co);
    tc_new_client(&nodes[0], &c, &co);
    push_n(&nodes[0], &c, 1); /* c's pull has a record: its commit writes an audit row */
    {
        long hs;
        json_t *empty = json_object(),
               *r = tc_req(&nodes[0], &co, "POST", "/v1/invites", empty, &hs);
        assert_int_equal(hs, 201);
        snprintf(code, sizeof code, "%s", json_string_value(json_object_get(r, "code")));
        json_decref(r);
        json_decref(empty);
    }
    assert_int_equal(dbk_server_start(s, lone_args), 0);
    assert_int_equal(pull_one(s, &a, &a.shared), 200);
    assert_int_equal(pull_one(s, &c, &c.shared), 200);

    /* c's pull keeps the thread: its commit waits for the audit chain's lock. */
    struct bg_push pc = {s, &c, &c.shared, NULL}, pa = {s, &a, &a.shared, NULL},
                   pd = {s, &d, NULL, (const unsigned char *)code};
    /* The next group: a's pull, then d's enrollment. */
    group_behind(s, adv, look, &pc, run_bg_pull, &pa, run_bg_enroll, &pd, p);
    q(tbl, "BEGIN");
    q(tbl, "LOCK TABLE invites IN ACCESS EXCLUSIVE MODE"); /* the enrollment's first */
    chain_lock(adv, false);
    for (int i = 0; i < 3; i++)
        st[i] = dbk_wait_pid(p[i], 60000);
    q(tbl, "ROLLBACK");
    dbk_report("a failed preparation (PostgreSQL)",
               "one group: a pull, then an enrollment whose first statement is prepared for "
               "the first time on the connection while its savepoint waits, and fails (its "
               "table locked past lock_timeout)",
               "the pull: %s; the enrollment: %s", st[1] == 0 ? "200" : "failed",
               st[2] == 3   ? "503 store_unavailable"
               : st[2] == 0 ? "200"
                            : "other");
    assert_int_equal(st[0], 0);
    assert_int_equal(st[1], 0); /* the job before it: stored, answered */
    assert_int_equal(st[2], 3); /* the job itself: 503 (lock timeout) */
    /* The connection is still good, and the code unused: the enrollment goes through. */
    {
        long es;
        tc_account_init(&d, false, "client passphrase");
        json_decref(tc_enroll(s, &d, code, &es));
        assert_int_equal(es, 201);
    }
    end_sessions(adv, tbl, look, s);
    tc_account_free(&a);
    tc_account_free(&c);
    tc_account_free(&d);
    tc_account_free(&co);
}

/* Whether the row of table (streams, accounts) with id is free to lock now. */
static bool
row_free(PGconn *c, const char *table, const dbk_id *id)
{
    char sql[300], h[2 * DBK_ID_BYTES + 1];
    sodium_bin2hex(h, sizeof h, id->b, DBK_ID_BYTES);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM (SELECT 1 FROM %s WHERE id = '\\x%s' FOR UPDATE SKIP LOCKED) l",
             table, h);
    q(c, "BEGIN");
    long long n = q(c, sql);
    q(c, "ROLLBACK");
    return n == 1;
}

/*
 * The lock order for a read's audit row: a pull charges its reader's account for the
 * row (used_bytes), a row lock another transaction may hold. One node with one
 * storage thread; one group: x's push (its stream's and account's rows locked), then
 * y's pull while an outside session holds y's account row. y's pull must not wait
 * for it with x's rows held: two such groups on two nodes (x then y, y then x) are a
 * deadlock. x's push is committed first, so its rows are free while the pull waits.
 */
static void
test_read_charge_waits_with_nothing_held(void **unused)
{
    (void)unused;
    dbk_server *s = &lone[0];
    tc_account co, c, x, y;
    PGconn *adv = pg_session(), *hold = pg_session(), *look = pg_session();
    char sql[300], hy[2 * DBK_ID_BYTES + 1];
    pid_t p[3];
    int st[3];

    tc_new_counselor(&nodes[0], &co, "Counselor R");
    tc_new_client(&nodes[0], &c, &co);
    tc_new_client(&nodes[0], &x, &co);
    tc_new_client(&nodes[0], &y, &co);
    push_n(&nodes[0], &c, 1);
    push_n(&nodes[0], &y, 1); /* y's pull reads a record: it charges y's account */
    assert_int_equal(dbk_server_start(s, lone_args), 0);
    assert_int_equal(pull_one(s, &c, &c.shared), 200);
    assert_int_equal(push_one(s, &x, &x.shared, x.shared_key[1]), 200);
    assert_int_equal(pull_one(s, &y, &y.shared), 200);

    /* c's pull keeps the thread (its commit waits for the audit chain's lock) while
     * x's push and y's pull are queued behind it: one group. */
    struct bg_push pc = {s, &c, &c.shared, NULL}, px = {s, &x, &x.shared, x.shared_key[1]},
                   py = {s, &y, &y.shared, NULL};
    group_behind(s, adv, look, &pc, run_bg_push, &px, run_bg_pull, &py, p);
    sodium_bin2hex(hy, sizeof hy, y.id.b, DBK_ID_BYTES);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM (SELECT 1 FROM accounts WHERE id = '\\x%s' FOR UPDATE) l", hy);
    q(hold, "BEGIN");
    assert_int_equal(q(hold, sql), 1);
    chain_lock(adv, false);
    wait_blocked_by(look, hold, 1); /* the group runs: y's pull waits for y's account row */
    bool stream_free = row_free(look, "streams", &x.shared),
         account_free = row_free(look, "accounts", &x.id);
    q(hold, "ROLLBACK");
    for (int i = 0; i < 3; i++)
        st[i] = dbk_wait_pid(p[i], 60000);
    dbk_report("a read's charge waits with nothing held (PostgreSQL)",
               "one group: x's push, then y's pull while y's account row is held outside",
               "while the pull waited, x's stream row %s, x's account row %s",
               stream_free ? "free" : "held", account_free ? "free" : "held");
    assert_true(stream_free);
    assert_true(account_free);
    for (int i = 0; i < 3; i++)
        assert_int_equal(st[i], 0);
    end_sessions(adv, hold, look, s);
    tc_account_free(&c);
    tc_account_free(&x);
    tc_account_free(&y);
    tc_account_free(&co);
}

/* ---- a group that fails after a split: what the split committed is answered ---- */

/* A push of record rec into stream (key, epoch 1), or an enrollment with code. */
struct bg_rec {
    const dbk_server *s;
    tc_account *cl;
    const dbk_id *stream;
    const unsigned char *key;
    const dbk_id *rec;
    const char *code; /* an enrollment's invite code (run_bg_enroll_as) */
};

static long
push_rec(const struct bg_rec *b)
{
    return push_record(b->s, b->cl, b->stream, b->key, b->rec);
}

/* Forked: exits 0 on 200, 3 on 503. */
static void
run_bg_push_rec(void *arg)
{
    long st = push_rec(arg);
    _exit(st == 200 ? 0 : st == 503 ? 3 : 4);
}

/* A forked enrollment of b->cl (initialised by the parent, so it knows the ids) with
 * b->code: exits 0 on 201 once the token it was given is accepted (GET /v1/account;
 * 503 is waited out: the node reconnects), 3 on 503, 4 otherwise. */
static void
run_bg_enroll_as(void *arg)
{
    struct bg_rec *b = arg;
    long st, as = 0;
    json_decref(tc_enroll(b->s, b->cl, b->code, &st));
    if (st != 201)
        _exit(st == 503 ? 3 : 4);
    for (int i = 0; i < 100 && (as == 0 || as == 503); i++) {
        if (i > 0)
            usleep(100 * 1000);
        json_decref(tc_req(b->s, b->cl, "GET", "/v1/account", NULL, &as));
    }
    _exit(as == 200 ? 0 : 5);
}

/* The status of b's push sent again until the node has its database back (not 503). */
static long
push_rec_again(const struct bg_rec *b)
{
    long st = 503;
    for (int i = 0; i < 100 && st == 503; i++) {
        if (i > 0)
            usleep(100 * 1000);
        st = push_rec(b);
    }
    return st;
}

/* The rows of table whose column is id; with lock, locked FOR UPDATE. */
static long long
rows_with(PGconn *c, const char *table, const char *column, const dbk_id *id, bool lock)
{
    char sql[300], h[2 * DBK_ID_BYTES + 1];
    sodium_bin2hex(h, sizeof h, id->b, DBK_ID_BYTES);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM (SELECT 1 FROM %s WHERE %s = '\\x%s'%s) l",
             table, column, h, lock ? " FOR UPDATE" : "");
    return q(c, sql);
}

/* An invite code of co's, made on node 0. */
static void
new_invite(tc_account *co, char code[32])
{
    long hs;
    json_t *empty = json_object(), *r = tc_req(&nodes[0], co, "POST", "/v1/invites", empty, &hs);
    assert_int_equal(hs, 201);
    snprintf(code, 32, "%s", json_string_value(json_object_get(r, "code")));
    json_decref(r);
    json_decref(empty);
}

/*
 * A group's transaction committed early (the lock order's split) and then lost: the
 * jobs the split committed are durable, so they must be answered as stored, and only
 * the later ones fail. One node with one storage thread, two groups:
 *
 * - d's enrollment, then x's push while an outside session holds x's stream row: the
 *   push commits the enrollment and waits for the row; its connection is then ended
 *   (pg_terminate_backend), so the group's COMMIT never happens. Before, the
 *   enrollment was answered 503 although its invite was used: its retry got 410 and
 *   the client could never learn its token.
 * - y's push, then e's enrollment, whose first write commits the push; the group's
 *   COMMIT then fails (a constraint trigger deferred to commit, installed here,
 *   raises a serialization failure for e's account). Before, the stored push was
 *   answered 503 too.
 *
 * Each later job fails with 503 and loses nothing: the push sent again is stored once,
 * the invite not used up by the failed enrollment still enrolls.
 */
static void
test_split_commit_answers_what_it_stored(void **unused)
{
    (void)unused;
    dbk_server *s = &lone[0];
    tc_account co, c, x, y, d, e;
    char code_d[32], code_e[32];
    PGconn *adv = pg_session(), *hold = pg_session(), *look = pg_session();
    dbk_id rec_x, rec_y;
    pid_t p[3];
    int st1[3], st2[3];
    long again_x, retry_e;

    tc_new_counselor(&nodes[0], &co, "Counselor T");
    tc_new_client(&nodes[0], &c, &co);
    tc_new_client(&nodes[0], &x, &co);
    tc_new_client(&nodes[0], &y, &co);
    push_n(&nodes[0], &c, 1); /* c's pull writes an audit row: group_behind's blocker */
    new_invite(&co, code_d);
    new_invite(&co, code_e);
    tc_account_init(&d, false, "client passphrase");
    tc_account_init(&e, false, "client passphrase");
    dbk_id_random(&rec_x);
    dbk_id_random(&rec_y);
    assert_int_equal(dbk_server_start(s, lone_args), 0);
    assert_int_equal(pull_one(s, &c, &c.shared), 200);
    assert_int_equal(push_one(s, &x, &x.shared, x.shared_key[1]), 200);
    assert_int_equal(push_one(s, &y, &y.shared, y.shared_key[1]), 200);

    /* 1: [d's enrollment, x's push]; the push waits for x's stream, then its
     * connection is ended. */
    struct bg_push pc = {s, &c, &c.shared, NULL};
    struct bg_rec ed = {s, &d, NULL, NULL, NULL, code_d},
                  px = {s, &x, &x.shared, x.shared_key[1], &rec_x, NULL};
    group_behind(s, adv, look, &pc, run_bg_enroll_as, &ed, run_bg_push_rec, &px, p);
    q(hold, "BEGIN");
    assert_int_equal(rows_with(hold, "streams", "id", &x.shared, true), 1);
    chain_lock(adv, false);
    /* The push waits for the row (not the blocker for the chain's lock): the split has
     * committed the enrollment. */
    wait_blocked_by(look, hold, 1);
    assert_int_equal(terminate_blocked_by(look, hold), 1);
    for (int i = 0; i < 3; i++)
        st1[i] = dbk_wait_pid(p[i], 60000);
    q(hold, "ROLLBACK");
    again_x = push_rec_again(&px);

    /* 2: [y's push, e's enrollment]; the COMMIT after the split fails. */
    char sql[600], he[2 * DBK_ID_BYTES + 1];
    sodium_bin2hex(he, sizeof he, e.id.b, DBK_ID_BYTES);
    snprintf(sql, sizeof sql,
             "CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
             " IF NEW.id = '\\x%s'::bytea THEN RAISE EXCEPTION 'refused at commit'"
             " USING ERRCODE = '40001'; END IF; RETURN NULL; END $$;"
             " CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT ON accounts DEFERRABLE"
             " INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit()",
             he);
    q(look, sql);
    struct bg_rec py = {s, &y, &y.shared, y.shared_key[1], &rec_y, NULL},
                  ee = {s, &e, NULL, NULL, NULL, code_e};
    group_behind(s, adv, look, &pc, run_bg_push_rec, &py, run_bg_enroll_as, &ee, p);
    chain_lock(adv, false);
    for (int i = 0; i < 3; i++)
        st2[i] = dbk_wait_pid(p[i], 60000);
    q(look, "DROP TRIGGER fail_at_commit ON accounts; DROP FUNCTION fail_at_commit()");
    json_decref(tc_enroll(s, &e, code_e, &retry_e)); /* the same enrollment sent again */

    dbk_report("a split commit's jobs answered as stored (PostgreSQL)",
               "one storage thread; a group [enrollment, push] whose push commits the "
               "enrollment and waits for its stream, then loses its connection; a group "
               "[push, enrollment] whose enrollment commits the push, then whose COMMIT "
               "fails",
               "the enrollment committed first: %s (its token %s); the push committed "
               "first: %s; the later push: %s, sent again %ld; the later enrollment: %s, "
               "sent again %ld",
               st1[1] == 0   ? "201"
               : st1[1] == 3 ? "503"
                             : "other",
               st1[1] == 0 ? "accepted" : "never learnt", st2[1] == 0 ? "200" : "503",
               st1[2] == 3 ? "503" : "other", again_x, st2[2] == 3 ? "503" : "other", retry_e);
    assert_int_equal(st1[0], 0);
    assert_int_equal(st2[0], 0);
    /* What the splits committed: answered as stored, there once. */
    assert_int_equal(st1[1], 0);
    assert_int_equal(rows_with(look, "accounts", "id", &d.id, false), 1);
    assert_int_equal(rows_with(look, "tokens", "device", &d.device, false), 1);
    assert_int_equal(st2[1], 0);
    assert_int_equal(rows_with(look, "records", "record", &rec_y, false), 1);
    /* The later jobs: 503, and nothing lost. */
    assert_int_equal(st1[2], 3);
    assert_int_equal(again_x, 200);
    assert_int_equal(rows_with(look, "records", "record", &rec_x, false), 1);
    assert_int_equal(st2[2], 3);
    assert_int_equal(retry_e, 201);
    assert_int_equal(rows_with(look, "accounts", "id", &e.id, false), 1);
    assert_int_equal(daybookd(NULL, "check", "--store", db_url, NULL), 0);
    end_sessions(adv, hold, look, s);
    tc_account_free(&c);
    tc_account_free(&x);
    tc_account_free(&y);
    tc_account_free(&d);
    tc_account_free(&e);
    tc_account_free(&co);
}

/* The body of a sync of x's records ra into its private stream, then rb into its
 * shared one (epoch 1 each), sealed once: sent again, it is the same envelopes. */
static json_t *
sync_two_body(tc_account *x, const dbk_id *ra, const dbk_id *rb)
{
    return json_pack("{s:[{s:o, s:[{s:o}]}, {s:o, s:[{s:o}]}]}", "push", "stream", tc_id(&x->priv),
                     "records", "envelope",
                     tc_envelope(x, &x->priv, 1, x->priv_key, ra, "{\"v\":1}"), "stream",
                     tc_id(&x->shared), "records", "envelope",
                     tc_envelope(x, &x->shared, 1, x->shared_key[1], rb, "{\"v\":1}"));
}

struct bg_sync {
    const dbk_server *s;
    tc_account *x;
    json_t *body;
};

/* Forked: exits 0 on 200, 3 on 503. */
static void
run_bg_sync(void *arg)
{
    struct bg_sync *b = arg;
    long st;
    json_decref(tc_req(b->s, b->x, "POST", "/v1/sync", b->body, &st));
    _exit(st == 200 ? 0 : st == 503 ? 3 : 4);
}

/* The result of a sync's push entry i, record 0 ("stored", "duplicate"...), or "". */
static const char *
sync_result(json_t *r, size_t i)
{
    const char *v = json_string_value(json_object_get(
        json_array_get(json_object_get(json_array_get(json_object_get(r, "push"), i), "results"),
                       0),
        "result"));
    return v != NULL ? v : "";
}

/*
 * The job running at a split: a sync whose second stream is held by another
 * transaction commits its first stream's push (the split) and waits; when its
 * connection is then lost it is answered 503, although the first stream's record is
 * stored (docs/DESIGN.md: stored work still answered 503). Sent again, the sync finds
 * that record there (duplicate) and stores the other: each record once, nothing lost.
 * (A device sends the same envelopes again, as here.)
 */
static void
test_sync_at_split_sent_again_stores_once(void **unused)
{
    (void)unused;
    dbk_server *s = &lone[0];
    tc_account co, x;
    PGconn *hold = pg_session(), *look = pg_session();
    dbk_id ra, rb;
    json_t *r = NULL;
    long st = 503, first;
    pid_t p;

    tc_new_counselor(&nodes[0], &co, "Counselor S");
    tc_new_client(&nodes[0], &x, &co);
    dbk_id_random(&ra);
    dbk_id_random(&rb);
    assert_int_equal(dbk_server_start(s, lone_args), 0);
    assert_int_equal(push_one(s, &x, &x.priv, x.priv_key), 200);
    assert_int_equal(push_one(s, &x, &x.shared, x.shared_key[1]), 200);

    q(hold, "BEGIN");
    assert_int_equal(rows_with(hold, "streams", "id", &x.shared, true), 1);
    struct bg_sync bs = {s, &x, sync_two_body(&x, &ra, &rb)};
    p = spawn(run_bg_sync, &bs);
    wait_blocked_by(look, hold, 1);
    /* The sync waits for its second stream: its first is committed already. */
    assert_int_equal(rows_with(look, "records", "record", &ra, false), 1);
    assert_int_equal(terminate_blocked_by(look, hold), 1);
    first = dbk_wait_pid(p, 60000);
    q(hold, "ROLLBACK");
    for (int i = 0; i < 100 && st == 503; i++) {
        if (i > 0)
            usleep(100 * 1000);
        json_decref(r);
        r = tc_req(s, &x, "POST", "/v1/sync", bs.body, &st);
    }
    dbk_report("a sync running at a split (PostgreSQL)",
               "one storage thread; a sync of two streams whose second is held by another "
               "session, its connection ended while it waits; then the same sync again",
               "first: %s with its first stream's record stored; sent again: %ld, %s and %s",
               first == 3 ? "503" : "other", st, sync_result(r, 0), sync_result(r, 1));
    assert_int_equal(first, 3);
    assert_int_equal(st, 200);
    assert_string_equal(sync_result(r, 0), "duplicate");
    assert_string_equal(sync_result(r, 1), "stored");
    assert_int_equal(rows_with(look, "records", "record", &ra, false), 1);
    assert_int_equal(rows_with(look, "records", "record", &rb, false), 1);
    assert_int_equal(daybookd(NULL, "check", "--store", db_url, NULL), 0);
    json_decref(r);
    json_decref(bs.body);
    session_end(hold);
    session_end(look);
    dbk_server_cleanup(s);
    tc_account_free(&x);
    tc_account_free(&co);
}

/* The expiry of device's token, as committed. */
static long long
token_expiry(PGconn *c, const dbk_id *device)
{
    char sql[200], h[2 * DBK_ID_BYTES + 1];
    sodium_bin2hex(h, sizeof h, device->b, DBK_ID_BYTES);
    snprintf(sql, sizeof sql, "SELECT expires_at FROM tokens WHERE device = '\\x%s'", h);
    return q(c, sql);
}

/*
 * The token's once-a-day expiry slide never waits for its row (SKIP LOCKED): a row
 * another transaction holds is left to it. When that transaction rolls back, the
 * slide it made goes with it; the token's next request slides it instead, since the
 * row it reads says the slide is due until one is committed. A device used daily is
 * so never logged out at expiry. Here the holder is an outside session that locks the
 * token's row and rolls back; the token is set due (2 days left).
 */
static void
test_token_slide_skipped_is_retried(void **unused)
{
    (void)unused;
    const long long day = 24LL * 3600 * 1000;
    tc_account co, cl;
    PGconn *hold = pg_session(), *look = pg_session();
    char sql[200], h[2 * DBK_ID_BYTES + 1];
    long st1, st2;
    long long t0, due, skipped, slid;

    tc_new_counselor(&nodes[0], &co, "Counselor E");
    tc_new_client(&nodes[0], &cl, &co);
    t0 = (long long)dbk_hlc_wall_ms();
    due = t0 + 2 * day;
    sodium_bin2hex(h, sizeof h, cl.device.b, DBK_ID_BYTES);
    snprintf(sql, sizeof sql, "UPDATE tokens SET expires_at = %lld WHERE device = '\\x%s'", due, h);
    q(look, sql);
    q(hold, "BEGIN");
    assert_int_equal(rows_with(hold, "tokens", "device", &cl.device, true), 1);
    json_decref(tc_req(&nodes[0], &cl, "GET", "/v1/account", NULL, &st1)); /* does not wait */
    skipped = token_expiry(look, &cl.device);
    q(hold, "ROLLBACK");
    json_decref(tc_req(&nodes[0], &cl, "GET", "/v1/account", NULL, &st2));
    slid = token_expiry(look, &cl.device);
    dbk_report("a skipped expiry slide is retried (PostgreSQL)",
               "a token 2 days from expiry; a request while another session holds its row "
               "(and then rolls back), then another request",
               "first request %ld, expiry moved %lld days; second request %ld, expiry %lld "
               "days ahead",
               st1, (skipped - due) / day, st2, (slid - t0) / day);
    assert_int_equal(st1, 200);
    assert_int_equal(skipped, due);
    assert_int_equal(st2, 200);
    assert_true(slid >= t0 + 29 * day);
    session_end(hold);
    session_end(look);
    tc_account_free(&cl);
    tc_account_free(&co);
}

static int
setup(void **unused)
{
    (void)unused;
    script = getenv("DAYBOOK_PG_CLUSTER_SCRIPT");
    state = getenv("DAYBOOK_PG_NODES_STATE");
    if (script == NULL || state == NULL)
        return -1;
    (void)cluster("stop"); /* a cluster left by a run that was killed */
    if (cluster("start") != 0)
        return -1;
    db_url = dbk_pg_create_db(state);
    node_args[1] = db_url;
    lone_url = malloc(strlen(db_url) + 64);
    assert_non_null(lone_url);
    sprintf(lone_url, "%s%capplication_name=daybookd-lone", db_url,
            strchr(db_url, '?') != NULL ? '&' : '?');
    lone_args[1] = lone_url;
    work = dbk_tmpdir("pg-nodes");
    for (int j = 0; j < NODES; j++)
        if (dbk_server_start(&nodes[j], node_args) != 0)
            return -1;
    return 0;
}

/*
 * After each test of the lone nodes, passed or failed: what it still holds is given
 * back, so that its failure cannot fail the tests after it. Its forked clients still
 * running are killed, its nodes killed, its sessions ended (their transactions roll
 * back, their locks go), and the connections of its killed nodes ended too, waited
 * for until PostgreSQL lists none: a backend waiting for a lock notices its client is
 * gone only once it gets the lock.
 */
static int
release_lone(void **unused)
{
    PGconn *c;
    long long left = -1, deadline = dbk_now_ms() + 60000;

    (void)unused;
    for (unsigned int i = 0; i < nspawned && i < MAX_SPAWNED; i++)
        if (waitpid(spawned[i], NULL, WNOHANG) == 0) { /* still running, and ours */
            kill(spawned[i], SIGKILL);
            waitpid(spawned[i], NULL, 0);
        }
    nspawned = 0;
    for (int j = 0; j < 2; j++)
        dbk_server_cleanup(&lone[j]);
    for (int i = 0; i < MAX_SESSIONS; i++)
        if (sessions[i] != NULL)
            session_end(sessions[i]);
    c = PQconnectdb(db_url);
    if (PQstatus(c) != CONNECTION_OK) {
        print_error("release_lone: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    while (left != 0 && dbk_now_ms() < deadline) {
        left = q(c, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = 'daybookd-lone'");
        if (left != 0)
            usleep(10 * 1000);
    }
    PQfinish(c);
    if (left != 0)
        print_error("release_lone: %lld connections of stopped nodes left\n", left);
    return left == 0 ? 0 : -1;
}

static int
teardown(void **unused)
{
    (void)unused;
    for (int j = 0; j < NODES; j++)
        dbk_server_cleanup(&nodes[j]);
    for (int j = 0; j < 2; j++)
        if (lone[j].pid > 0)
            dbk_server_cleanup(&lone[j]);
    if (getenv("DAYBOOK_KEEP_TMP") == NULL) {
        dbk_rmtree(work);
        (void)cluster("stop");
    }
    free(work);
    free(lone_url);
    free(db_url);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_naive_cursor_would_lose_records),
        cmocka_unit_test(test_storm_across_nodes_loses_nothing),
        cmocka_unit_test(test_database_away_answers_503),
        cmocka_unit_test(test_last_seen_across_nodes),
        cmocka_unit_test(test_migrate_check_backup_restore),
        cmocka_unit_test_teardown(test_opposite_lock_orders_do_not_deadlock, release_lone),
        cmocka_unit_test_teardown(test_failed_prepare_fails_its_job_alone, release_lone),
        cmocka_unit_test_teardown(test_read_charge_waits_with_nothing_held, release_lone),
        cmocka_unit_test_teardown(test_split_commit_answers_what_it_stored, release_lone),
        cmocka_unit_test_teardown(test_token_slide_skipped_is_retried, release_lone),
        cmocka_unit_test_teardown(test_sync_at_split_sent_again_stores_once, release_lone),
    };
    if (dbk_init() != 0)
        return 1;
    if (getenv("DAYBOOK_TEST_FILTER") != NULL) /* one test by name, when working on it */
        cmocka_set_test_filter(getenv("DAYBOOK_TEST_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
