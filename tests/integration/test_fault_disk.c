/*
 * The server's disk fills up (issue 7): daybookd's data directory is a small
 * tmpfs of its own, with a ballast file on it, and several clients push real
 * envelopes at once until the disk is full. Then:
 *
 *   - every push the server could not commit is refused with 507 storage_full
 *     (or 503 unavailable), never a 200, never a crash or a hang;
 *   - reads go on: /healthz says the storage is full, a pull answers 200;
 *   - the server's log says so in one clear line, with no payload or token;
 *   - `daybook sync` says the server's disk is full (not that access ended) and
 *     keeps the entry, which it sends once there is room;
 *   - the ballast is removed and pushes succeed again, without a restart;
 *   - the disk is filled again and the server restarted on it: it starts (or
 *     says clearly why not), and serves what it holds;
 *   - in the end every acknowledged record is there exactly once, no refused
 *     record is there at all, `daybookd check` and `daybookd audit verify` pass.
 *
 * Mounting needs root (CI runs as root); without it the test is skipped.
 */
#include "tc.h"

#include "dbk/base64.h"
#include "dbk/init.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define CLIENTS 4
#define DISK_MIB 24                      /* daybookd keeps an 8 MiB reserve on it */
#define RESERVE_BYTES (8L * 1024 * 1024)  /* DBK_STORE_RESERVE_BYTES (server/limits.h) */
#define BALLAST_BYTES (6L * 1024 * 1024) /* what else is on the disk */
#define RECORD_PLAINTEXT 40000           /* a long journal entry */
#define STR_(x) #x
#define STR(x) STR_(x)
#define REFUSALS_PER_CLIENT 6 /* each client stops after this many refused pushes */
#define STORM_SECONDS 300     /* a safety net only (a server that never refuses): the
                               * count below needs every client to reach its refusals, which
                               * under AddressSanitizer on a loaded machine took over 40 s */
/* One client pushes batches bigger than SQLite's page cache (2 MiB), so the disk
 * can fill in the middle of a group's transaction, not only at its commit. */
#define BATCH_MAX 64

struct fx {
    dbk_server s;
    char mnt[4096];
    bool mounted;
};

static void
sh(const char *const *argv, dbk_run_result *r)
{
    assert_int_equal(dbk_run(argv, NULL, 30, r), 0);
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    dbk_run_result r;
    char opts[64];

    assert_non_null(f);
    /* dbk_server_start's layout (DIR/data, DIR/port, DIR/stderr.log), with data/ a
     * small filesystem of its own; the rest stays on the ordinary temp dir. */
    f->s.dir = dbk_tmpdir("disk");
    snprintf(f->mnt, sizeof f->mnt, "%s/data", f->s.dir);
    f->s.data_dir = strdup(f->mnt);
    assert_int_equal(mkdir(f->mnt, 0700), 0);
    snprintf(opts, sizeof opts, "size=%dm,mode=0700", DISK_MIB);
    const char *mnt[] = {"mount", "-t", "tmpfs", "-o", opts, "daybook-test", f->mnt, NULL};
    sh(mnt, &r);
    f->mounted = r.status == 0;
    if (!f->mounted)
        fprintf(stderr, "fault_disk: mount refused (%s)", r.err);
    dbk_run_result_free(&r);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    dbk_run_result r;

    dbk_server_stop(&f->s);
    if (f->mounted) {
        /* Unmounted even when an assertion failed midway; lazily if something is
         * still open there, so the temp dir can always be removed. */
        const char *umnt[] = {"umount", f->mnt, NULL};
        const char *lazy[] = {"umount", "-l", f->mnt, NULL};
        sh(umnt, &r);
        if (r.status != 0) {
            dbk_run_result_free(&r);
            sh(lazy, &r);
        }
        dbk_run_result_free(&r);
    }
    dbk_server_cleanup(&f->s);
    free(f);
    return 0;
}

/* Writes zeros to path until it holds max bytes or the disk is full; returns the size. */
static long
fill(const char *path, long max)
{
    static const char block[4096];
    long n = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    assert_true(fd >= 0);
    while (n < max) {
        ssize_t w = write(fd, block, sizeof block);
        if (w <= 0)
            break;
        n += w;
    }
    close(fd);
    return n;
}

/* Bytes an unprivileged writer may still put on the filesystem holding path. */
static long
free_bytes(const char *path)
{
    struct statvfs v;
    assert_int_equal(statvfs(path, &v), 0);
    return (long)(v.f_bavail * v.f_frsize);
}

/* Pushes n new records (ids in recs) in one batch; returns the status, *code the error. */
static long
push_batch(const dbk_server *s, tc_account *c, const dbk_id *recs, size_t n, const char *plaintext,
           char code[32])
{
    json_t *records = json_array(), *body;
    for (size_t i = 0; i < n; i++)
        json_array_append_new(records, json_pack("{s:o}", "envelope",
                                                 tc_envelope(c, &c->shared, 1, c->shared_key[1],
                                                             &recs[i], plaintext)));
    body = json_pack("{s:o}", "records", records);
    char *text = json_dumps(body, JSON_COMPACT);
    char url[512], auth[128];
    const char *hdrs[] = {auth, NULL};
    dbk_http_resp r;
    long st;

    json_decref(body);
    snprintf(url, sizeof url, "%s%s", s->base_url, tc_path("/v1/streams/%s/records", &c->shared));
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
    st = dbk_http("POST", url, hdrs, text, strlen(text), &r) == 0 ? r.status : 0;
    free(text);
    code[0] = '\0';
    if (st != 200 && r.body_len > 0) {
        json_t *j = json_loads(r.body, 0, NULL);
        snprintf(code, 32, "%s", tc_code(j));
        json_decref(j);
    }
    dbk_http_resp_free(&r);
    return st;
}

static long
push(const dbk_server *s, tc_account *c, const dbk_id *rec, const char *plaintext, char code[32])
{
    return push_batch(s, c, rec, 1, plaintext, code);
}

/*
 * One client of the storm, in a child process: pushes batches of `batch` new
 * records until the server has refused REFUSALS_PER_CLIENT of them, writing
 * "ack ID" or "refused ID STATUS CODE" per record to the file at path.
 */
static void
storm_child(const dbk_server *s, tc_account *c, const char *path, const char *plaintext,
            size_t batch)
{
    FILE *out = fopen(path, "w");
    int refused = 0;
    long long deadline = dbk_now_ms() + STORM_SECONDS * 1000;

    if (out == NULL)
        _exit(2);
    while (refused < REFUSALS_PER_CLIENT && dbk_now_ms() < deadline) {
        dbk_id recs[BATCH_MAX];
        char t[DBK_ID_TEXT_LEN + 1], code[32];
        for (size_t i = 0; i < batch; i++)
            dbk_id_random(&recs[i]);
        long st = push_batch(s, c, recs, batch, plaintext, code);
        for (size_t i = 0; i < batch; i++) {
            dbk_id_to_text(&recs[i], t);
            if (st == 200)
                fprintf(out, "ack %s\n", t);
            else
                fprintf(out, "refused %s %ld %s\n", t, st, code[0] ? code : "-");
        }
        fflush(out);
        if (st != 200) {
            refused++;
            if (st == 0)
                break; /* no answer at all: the parent reports it */
        }
    }
    fclose(out);
    _exit(0);
}

/* Every record of c's shared stream, paged: record id text -> count. */
static json_t *
stored_records(const dbk_server *s, tc_account *c)
{
    json_t *seen = json_object();
    int64_t since = 0;
    bool more = true;

    while (more) {
        char path[512];
        long st;
        json_t *r, *e;
        size_t i;
        snprintf(path, sizeof path, "%s?since=%lld&limit=1000",
                 tc_path("/v1/streams/%s/records", &c->shared), (long long)since);
        r = tc_req(s, c, "GET", path, NULL, &st);
        assert_int_equal(st, 200);
        json_array_foreach(json_object_get(r, "records"), i, e)
        {
            const char *b = json_string_value(json_object_get(e, "envelope"));
            size_t n = strlen(b), len;
            unsigned char *env = malloc(DBK_B64_DECODED_MAX(n) + 1);
            dbk_envelope_hdr h;
            char t[DBK_ID_TEXT_LEN + 1];
            assert_non_null(env);
            assert_int_equal(dbk_b64_decode(env, DBK_B64_DECODED_MAX(n) + 1, &len, b, n), 0);
            assert_int_equal(dbk_envelope_parse(env, len, &h), 0);
            free(env);
            dbk_id_to_text(&h.record, t);
            json_object_set_new(seen, t,
                                json_integer(json_integer_value(json_object_get(seen, t)) + 1));
        }
        more = json_is_true(json_object_get(r, "more"));
        since = json_integer_value(json_object_get(r, "next"));
        json_decref(r);
    }
    return seen;
}

static json_t *
healthz(const dbk_server *s, long *st)
{
    return tc_req(s, NULL, "GET", "/healthz", NULL, st);
}

static void
admin(const dbk_server *s, const char *a1, const char *a2, const char *want)
{
    const char *argv[7] = {dbk_bin("DAYBOOKD"), a1};
    size_t n = 2;
    dbk_run_result r;
    if (a2 != NULL)
        argv[n++] = a2;
    argv[n++] = "--data-dir";
    argv[n++] = s->data_dir;
    argv[n] = NULL;
    assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
    if (r.status != 0 || strstr(r.out, want) == NULL)
        fail_msg("daybookd %s: exit %d: %s%s", a1, r.status, r.out, r.err);
    dbk_run_result_free(&r);
}

/* The daybook_storage_full gauge of /metrics (loopback may read it). */
static int
storage_full_gauge(const dbk_server *s)
{
    char url[128];
    dbk_http_resp r;
    const char *p;
    int v = -1;

    snprintf(url, sizeof url, "%s/metrics", s->base_url);
    assert_int_equal(dbk_http("GET", url, NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    p = strstr(r.body, "\ndaybook_storage_full ");
    if (p != NULL)
        v = atoi(p + strlen("\ndaybook_storage_full "));
    dbk_http_resp_free(&r);
    return v;
}

/* A pull of c's shared stream from the start: the status, and the records in *n. */
static long
pull_status(const dbk_server *s, tc_account *c, size_t *n, char code[32])
{
    char path[512];
    long st;
    json_t *r;
    snprintf(path, sizeof path, "%s?since=0&limit=5",
             tc_path("/v1/streams/%s/records", &c->shared));
    r = tc_req(s, c, "GET", path, NULL, &st);
    *n = json_array_size(json_object_get(r, "records"));
    snprintf(code, 32, "%s", tc_code(r));
    json_decref(r);
    return st;
}

/* Counts the lines of the server's log that contain needle. */
static int
log_lines(const dbk_server *s, const char *needle)
{
    char *log = dbk_server_log(s), *p = log;
    int n = 0;
    while ((p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    free(log);
    return n;
}

static void
test_server_disk_full(void **state)
{
    struct fx *f = *state;
    dbk_server *s = &f->s;
    tc_account co, cl[CLIENTS];
    char pushfile[CLIENTS][4200], ballast[4200], ballast2[4200], ballast3[4200], code[32];
    char *plaintext = malloc(RECORD_PLAINTEXT + 64);
    pid_t kids[CLIENTS];
    json_t *acked = json_object(), *refused = json_object();
    int n_acked = 0, n_refused = 0, n_507 = 0, n_503 = 0, refused_pushes = 0;
    size_t n;
    long st;
    json_t *r;

    if (!f->mounted)
        skip(); /* mounting a small filesystem needs root */
    assert_non_null(plaintext);
    assert_int_equal(dbk_server_restart(s, NULL), 0);
    assert_int_equal(storage_full_gauge(s), 0); /* room for the reserve at start */

    tc_new_counselor(s, &co, "Counselor D");
    for (int i = 0; i < CLIENTS; i++)
        tc_new_client(s, &cl[i], &co);
    {
        /* And one client with the daybook CLI, its profile off the small disk. */
        char home[4200], pass[4300];
        FILE *p;
        snprintf(home, sizeof home, "%s/cli", s->dir);
        snprintf(pass, sizeof pass, "%s/passphrase", s->dir);
        assert_int_equal(mkdir(home, 0700), 0);
        p = fopen(pass, "w");
        assert_non_null(p);
        fputs("a long client passphrase\n", p);
        fclose(p);
        setenv("DAYBOOK_HOME", home, 1);
        setenv("DAYBOOK_PASSPHRASE_FILE", pass, 1);
        setenv("DAYBOOK_UNLOCK_SECONDS", DBK_TEST_UNLOCK_SECONDS, 1);
        dbk_run_result cr = tc_cli("init", NULL);
        assert_int_equal(cr.status, 0);
        dbk_run_result_free(&cr);
        char *uri = tc_invite_uri(s, &co, co.keys->sign_pk, co.keys->box_pk);
        cr = tc_cli("enroll", uri, "--yes", NULL);
        free(uri);
        if (cr.status != 0)
            fail_msg("daybook enroll: %s", cr.err);
        dbk_run_result_free(&cr);
    }
    {
        /* A journal entry's shape; the text does not matter (it is encrypted). */
        int k = snprintf(plaintext, 64, "{\"type\":\"journal\",\"v\":1,\"text\":\"");
        for (int i = 0; i < RECORD_PLAINTEXT; i++)
            plaintext[k + i] = (char)('a' + (i * 7 + i / 13) % 26);
        snprintf(plaintext + k + RECORD_PLAINTEXT, 8, "\"}");
    }
    /* Something else on the disk takes part of it. */
    snprintf(ballast, sizeof ballast, "%s/ballast", f->mnt);
    snprintf(ballast3, sizeof ballast3, "%s/ballast3", f->mnt);
    assert_int_equal(fill(ballast, BALLAST_BYTES), BALLAST_BYTES);

    /* The storm: every client pushes until the server has refused it again and again. */
    for (int i = 0; i < CLIENTS; i++) {
        snprintf(pushfile[i], sizeof pushfile[i], "%s/pushes-%d", s->dir, i);
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0)
            storm_child(s, &cl[i], pushfile[i], plaintext, i == 0 ? BATCH_MAX : 1);
    }
    for (int i = 0; i < CLIENTS; i++) {
        int wst;
        assert_int_equal(waitpid(kids[i], &wst, 0), kids[i]);
        assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    }
    for (int i = 0; i < CLIENTS; i++) {
        FILE *in = fopen(pushfile[i], "r");
        char line[256];
        assert_non_null(in);
        while (fgets(line, sizeof line, in) != NULL) {
            char what[16], id[64], why[40];
            long status = 0;
            int k = sscanf(line, "%15s %63s %ld %39s", what, id, &status, why);
            if (k >= 2 && strcmp(what, "ack") == 0) {
                json_object_set_new(acked, id, json_integer(i));
                n_acked++;
                continue;
            }
            assert_int_equal(k, 4);
            /* A refusal says why, with a code a program can act on; never a 500,
             * never a dropped connection. */
            if (!((status == 507 && strcmp(why, "storage_full") == 0) ||
                  (status == 503 && strcmp(why, "unavailable") == 0)))
                fail_msg("client %d: a push was answered %ld %s", i, status, why);
            n_507 += status == 507;
            n_503 += status == 503;
            json_object_set_new(refused, id, json_integer(i));
            n_refused++;
        }
        fclose(in);
    }
    refused_pushes = CLIENTS * REFUSALS_PER_CLIENT;
    print_message("storm: %d records acknowledged, %d refused (%d x 507, %d x 503)\n", n_acked,
                  n_refused, n_507, n_503);
    assert_true(n_acked > 0);
    assert_int_equal(n_refused, (CLIENTS - 1 + BATCH_MAX) * REFUSALS_PER_CLIENT);
    /* The disk did fill under SQLite (a commit failed), not only by the server's count. */
    assert_true(log_lines(s, "event=commit_failed code=storage_full") >= 1);

    /* Still serving: alive, /metrics says the disk is full, reads work, writes say why. */
    assert_int_equal(waitpid(s->pid, NULL, WNOHANG), 0);
    r = healthz(s, &st);
    assert_int_equal(st, 200);
    json_decref(r);
    {
        size_t total = 0;
        for (int i = 0; i < CLIENTS; i++) {
            assert_int_equal(pull_status(s, &cl[i], &n, code), 200);
            total += n;
        }
        assert_true(total > 0);
    }
    {
        dbk_id rec;
        dbk_id_random(&rec);
        assert_int_equal(push(s, &cl[0], &rec, "{\"type\":\"journal\",\"v\":1}", code), 507);
        assert_string_equal(code, "storage_full");
    }
    {
        /* A device's sync (push and pull in one request): the push is refused in its
         * entry, the pull is answered. */
        dbk_id rec;
        dbk_id_random(&rec);
        json_t *body =
            json_pack("{s:[{s:o, s:[{s:o}]}], s:[{s:o, s:i}]}", "push", "stream",
                      tc_id(&cl[1].shared), "records", "envelope",
                      tc_envelope(&cl[1], &cl[1].shared, 1, cl[1].shared_key[1], &rec, "{\"v\":1}"),
                      "pull", "stream", tc_id(&cl[1].shared), "since", 0);
        r = tc_req(s, &cl[1], "POST", "/v1/sync", body, &st);
        json_decref(body);
        assert_int_equal(st, 200);
        assert_string_equal(tc_code(json_array_get(json_object_get(r, "push"), 0)), "storage_full");
        assert_true(json_array_size(json_object_get(json_array_get(json_object_get(r, "pull"), 0),
                                                    "records")) > 0);
        json_decref(r);
    }
    {
        /* The CLI's sync gets the same 200 with the push refused in its stream's entry:
         * it says the server's disk is full and the entry waits (not "access ended"). */
        dbk_run_result cr = tc_cli("journal", "-m", "written while the server is full", NULL);
        assert_int_equal(cr.status, 0);
        dbk_run_result_free(&cr);
        cr = tc_cli("sync", NULL);
        print_message("daybook sync on the full server: exit %d: %s", cr.status, cr.err);
        assert_int_equal(cr.status, 1);
        assert_non_null(strstr(cr.err, "the server's disk is full; your entries are kept"));
        assert_null(strstr(cr.err, "access ended"));
        dbk_run_result_free(&cr);
    }
    assert_int_equal(storage_full_gauge(s), 1);
    /* One clear line for the condition; no envelope, no token in the log. */
    assert_int_equal(log_lines(s, "event=storage_full"), 1);
    {
        char *log = dbk_server_log(s);
        for (int i = 0; i < CLIENTS; i++)
            assert_null(strstr(log, cl[i].token));
        assert_null(strstr(log, "abcdefg")); /* no plaintext either, of course */
        free(log);
    }

    /* Restarted on the full disk: it starts, says the disk is full, serves reads. */
    assert_int_equal(dbk_server_stop(s), 0);
    /* The checkpoint at stop may have given back a few MiB (how many varies run to
     * run); what is free again is taken, so the disk stays full in daybookd's sense
     * (less free than the reserve and half as much again). */
    if (free_bytes(f->mnt) > RESERVE_BYTES)
        (void)fill(ballast3, free_bytes(f->mnt) - RESERVE_BYTES);
    assert_int_equal(dbk_server_restart(s, NULL), 0);
    assert_int_equal(storage_full_gauge(s), 1);
    assert_int_equal(log_lines(s, "event=storage_full"), 2);
    assert_int_equal(pull_status(s, &cl[2], &n, code), 200);
    {
        dbk_id rec;
        dbk_id_random(&rec);
        assert_int_equal(push(s, &cl[2], &rec, "{\"type\":\"journal\",\"v\":1}", code), 507);
        char t[DBK_ID_TEXT_LEN + 1];
        dbk_id_to_text(&rec, t);
        json_object_set_new(refused, t, json_integer(2));
    }

    /* Full to the last byte (another program takes what was left): reads may now be
     * refused too, since each needs its audit entry, but only with 507. */
    snprintf(ballast2, sizeof ballast2, "%s/ballast2", f->mnt);
    (void)fill(ballast2, 1L << 30);
    for (int i = 0; i < CLIENTS; i++) {
        st = pull_status(s, &cl[i], &n, code);
        print_message("pull on a disk full to the last byte: %ld %s\n", st, code);
        if (st != 200 && !(st == 507 && strcmp(code, "storage_full") == 0))
            fail_msg("pull on a disk full to the last byte: %ld %s", st, code);
    }
    r = healthz(s, &st);
    assert_int_equal(st, 200);
    json_decref(r);
    {
        /* ...and started on it: it comes up or says clearly why not. */
        assert_int_equal(dbk_server_stop(s), 0);
        int up = dbk_server_restart(s, NULL) == 0;
        char *log = dbk_server_log(s);
        print_message("restart on a disk full to the last byte: %s\n", up ? "up" : "refused");
        if (!up)
            assert_non_null(strstr(log, "cannot open the store"));
        free(log);
        assert_int_equal(unlink(ballast2), 0);
        if (!up)
            assert_int_equal(dbk_server_restart(s, NULL), 0);
    }

    /* Space comes back: the ballast goes, and without a restart pushes succeed. */
    assert_int_equal(unlink(ballast), 0);
    assert_true(unlink(ballast3) == 0 || errno == ENOENT);
    for (int i = 0; i < CLIENTS; i++) {
        dbk_id rec;
        char t[DBK_ID_TEXT_LEN + 1];
        dbk_id_random(&rec);
        dbk_id_to_text(&rec, t);
        st = push(s, &cl[i], &rec, plaintext, code);
        if (st != 200)
            fail_msg("push after space returned: %ld %s", st, code);
        json_object_set_new(acked, t, json_integer(i));
        n_acked++;
    }
    assert_int_equal(storage_full_gauge(s), 0);
    assert_true(log_lines(s, "event=storage_ok") >= 1);
    {
        /* The CLI's entry was kept and goes now. */
        dbk_run_result cr = tc_cli("--json", "sync", NULL);
        if (cr.status != 0)
            fail_msg("daybook sync after space returned: %s", cr.err);
        assert_non_null(strstr(cr.out, "\"pending\":0"));
        dbk_run_result_free(&cr);
    }

    /* Everything acknowledged is there once; nothing refused is there at all. */
    int checked = 0, lost = 0, dup = 0, stray = 0;
    for (int i = 0; i < CLIENTS; i++) {
        json_t *seen = stored_records(s, &cl[i]), *v;
        const char *k;
        json_object_foreach(acked, k, v)
        {
            if (json_integer_value(v) != i)
                continue;
            json_int_t times = json_integer_value(json_object_get(seen, k));
            checked++;
            lost += times == 0;
            dup += times > 1;
        }
        json_object_foreach(refused, k, v)
        {
            stray += json_object_get(seen, k) != NULL;
        }
        json_decref(seen);
    }
    assert_int_equal(dbk_server_stop(s), 0);
    admin(s, "check", NULL, "integrity ok");
    admin(s, "audit", "verify", "audit chain ok");
    dbk_report("server disk full",
               "daybookd's data dir on a " STR(DISK_MIB) " MiB tmpfs filled by a " STR(
                   CLIENTS) "-client push storm, then to the last byte; restarted on it; "
                            "space freed without a restart",
               "%d pushes (%d records) refused with 507 storage_full or 503, reads served while "
               "full; %d acknowledged records checked, losses: %d, duplicates: %d, refused "
               "but stored: %d",
               refused_pushes, n_refused, checked, lost, dup, stray);
    assert_int_equal(lost, 0);
    assert_int_equal(dup, 0);
    assert_int_equal(stray, 0);

    json_decref(acked);
    json_decref(refused);
    free(plaintext);
    for (int i = 0; i < CLIENTS; i++)
        tc_account_free(&cl[i]);
    tc_account_free(&co);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_server_disk_full, setup, teardown),
    };
    if (dbk_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
