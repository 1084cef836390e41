/*
 * The craving spool (client/book/spool.h) with the real CLI, a real daybookd and the
 * real files: `daybook craving` with the keys unlocked appends to cravings.spool
 * without opening the profile, and the next command that reads entries or syncs folds
 * it in. Each craving is seen once in `daybook log` and pushed once by `daybook sync`,
 * whatever stops where: a fold killed between its commit and the spool's cut, a
 * craving torn mid-append, cravings logged while other commands fold. A counselor's
 * profile and locked keys take the path they took before.
 */
#include "tc.h"

#include "dbk/error.h"
#include "dbk/init.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* ASAN_OPTIONS as this process began (NULL: unset), what teardown puts back: a test
 * that changes it for its daybook runs leaves it so to no other, failed or not. */
static char *asan_at_start;

/* Cravings a test logs at most until one meets the refused mapping. */
#define MAP_TRIES 64

struct fx {
    dbk_server srv;
    char *home;
    tc_account co;
    char spool[4200], pass[4200];
};

static long
spool_size(const struct fx *f)
{
    struct stat sb;
    return stat(f->spool, &sb) == 0 ? (long)sb.st_size : -1;
}

static void
ok(dbk_run_result r, const char *what)
{
    if (r.status != 0)
        fail_msg("%s: exit %d: %s", what, r.status, r.err);
    dbk_run_result_free(&r);
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    FILE *p;
    dbk_run_result r;

    assert_int_equal(dbk_server_start(&f->srv, NULL), 0);
    f->home = dbk_tmpdir("spool");
    snprintf(f->pass, sizeof f->pass, "%s/passphrase", f->home);
    snprintf(f->spool, sizeof f->spool, "%s/cravings.spool", f->home);
    p = fopen(f->pass, "w");
    fputs("a long client passphrase\n", p);
    fclose(p);
    setenv("DAYBOOK_HOME", f->home, 1);
    setenv("DAYBOOK_PASSPHRASE_FILE", f->pass, 1);
    /* The spool needs the keys in the keyring; teardown forgets them (daybook lock). */
    setenv("DAYBOOK_UNLOCK_SECONDS", "600", 1);
    tc_new_counselor(&f->srv, &f->co, "Counselor S");
    ok(tc_cli("init", NULL), "init");
    char *uri = tc_invite_uri(&f->srv, &f->co, f->co.keys->sign_pk, f->co.keys->box_pk);
    r = tc_cli("enroll", uri, "--yes", NULL);
    free(uri);
    ok(r, "enroll");
    ok(tc_cli("unlock", NULL), "unlock");
    ok(tc_cli("sync", NULL), "first sync"); /* and the spool's header, written by its fold */
    assert_int_equal(spool_size(f), 64);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    unsetenv("LD_PRELOAD"); /* a test that failed with it set leaves it to no other */
    unsetenv("DBK_FAIL_MMAP_LOG");
    if (asan_at_start != NULL)
        setenv("ASAN_OPTIONS", asan_at_start, 1);
    else
        unsetenv("ASAN_OPTIONS");
    setenv("DAYBOOK_HOME", f->home, 1);
    setenv("DAYBOOK_UNLOCK_SECONDS", "600", 1);
    dbk_run_result r = tc_cli("lock", NULL);
    dbk_run_result_free(&r);
    if (f->srv.pid > 0)
        assert_int_equal(dbk_server_stop(&f->srv), 0);
    dbk_server_cleanup(&f->srv);
    dbk_rmtree(f->home);
    free(f->home);
    tc_account_free(&f->co);
    free(f);
    return 0;
}

/* `daybook craving` of this intensity: its id (malloc'd), after checking it said saved. */
static char *
crave(const char *intensity)
{
    dbk_run_result r =
        tc_cli("--json", "craving", "--intensity", intensity, "--outcome", "resisted", "--trigger",
               "emotions:bored", "--halt", "tired", "--coping", "urge_surfing", NULL);
    if (r.status != 0)
        fail_msg("craving: exit %d: %s", r.status, r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_true(json_is_true(json_object_get(j, "saved")));
    char *id = strdup(json_string_value(json_object_get(j, "id")));
    json_decref(j);
    dbk_run_result_free(&r);
    return id;
}

/* How many times `daybook log` lists id (NULL: how many cravings it lists); the
 * command's stderr into err (may be NULL; malloc'd). */
static size_t
in_log(const char *id, char **err)
{
    dbk_run_result r = tc_cli("--json", "log", NULL);
    size_t i, n = 0;
    json_t *j, *e;
    if (r.status != 0)
        fail_msg("log: exit %d: %s", r.status, r.err);
    j = json_loads(r.out, 0, NULL);
    assert_true(json_is_array(j));
    json_array_foreach(j, i, e)
    {
        const char *type = json_string_value(json_object_get(json_object_get(e, "entry"), "type"));
        if (id != NULL ? strcmp(json_string_value(json_object_get(e, "id")), id) == 0
                       : strcmp(type, "craving") == 0)
            n++;
    }
    json_decref(j);
    if (err != NULL)
        *err = strdup(r.err);
    dbk_run_result_free(&r);
    return n;
}

/* How many rows the server holds for record id (revisions of one record share a row). */
static long long
on_server(const struct fx *f, const char *id)
{
    dbk_id b;
    char sql[256], hex[2 * DBK_ID_BYTES + 1];
    assert_int_equal(dbk_id_from_text(&b, id, strlen(id)), 0);
    for (size_t i = 0; i < DBK_ID_BYTES; i++)
        snprintf(hex + 2 * i, 3, "%02X", b.b[i]);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM records WHERE record = X'%s'", hex);
    return dbk_server_int(&f->srv, sql);
}

/* What `daybook status` says waits to sync. */
static long long
pending(void)
{
    dbk_run_result r = tc_cli("--json", "status", NULL);
    assert_int_equal(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    long long n = json_integer_value(json_object_get(j, "pending"));
    json_decref(j);
    dbk_run_result_free(&r);
    return n;
}

/* A craving logged with the keys unlocked goes to the spool, the profile untouched; the
 * next `daybook log` shows it and empties the spool; `daybook sync` folds the one logged
 * since and pushes each exactly once (a second sync pushes nothing). */
static void
test_spooled_seen_and_pushed_once(void **state)
{
    struct fx *f = *state;
    char *a = crave("6");
    assert_true(spool_size(f) > 64); /* spooled, not saved in the profile */
    assert_int_equal(in_log(a, NULL), 1);
    assert_int_equal(spool_size(f), 64); /* folded, then cut */
    long long waiting = pending();
    char *b = crave("5");
    assert_true(spool_size(f) > 64);
    assert_int_equal(pending(), waiting + 1); /* `status` counts the spooled one */
    dbk_run_result r = tc_cli("--json", "sync", NULL);
    if (r.status != 0)
        fail_msg("sync: %s", r.err);
    assert_non_null(strstr(r.out, "\"pending\":0"));
    dbk_run_result_free(&r);
    assert_int_equal(spool_size(f), 64);
    assert_int_equal(on_server(f, a), 1);
    assert_int_equal(on_server(f, b), 1);
    r = tc_cli("--json", "sync", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"pushed\":0"));
    dbk_run_result_free(&r);
    assert_int_equal(in_log(a, NULL), 1);
    assert_int_equal(in_log(b, NULL), 1);
    assert_int_equal(in_log(NULL, NULL), 2);
    /* A craving that calls for the crisis card opens the profile (the card reads the
     * plan there) and shows the card: the spool is not used. */
    r = tc_cli("craving", "--intensity", "8", "--outcome", "resisted", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "988"));
    dbk_run_result_free(&r);
    assert_int_equal(spool_size(f), 64);
    assert_int_equal(in_log(NULL, NULL), 3);
    free(a);
    free(b);
}

/*
 * On a file system that maps no files (some FUSE and 9p mounts; here an LD_PRELOAD
 * that makes mmap of the spool fail with ENODEV, as they do) the spool is read
 * instead: a craving is spooled, `daybook log` shows it once and empties the spool,
 * `daybook sync` pushes it. Before, opening the spool failed as an I/O error.
 */
static void
test_spool_where_files_do_not_map(void **state)
{
    struct fx *f = *state;
    const char *asan_saved = asan_at_start;
    char asan_new[1024], refusals[4200];
    char *err = NULL;
    struct stat sb;

    /* Under AddressSanitizer the preloaded library comes first, which ASan accepts so;
     * teardown puts ASAN_OPTIONS back should an assertion end the test before the end. */
    dbk_asan_options_preloaded(asan_new, sizeof asan_new);
    setenv("ASAN_OPTIONS", asan_new, 1);
    snprintf(refusals, sizeof refusals, "%s/mmap-refused", f->home);
    setenv("DBK_FAIL_MMAP_LOG", refusals, 1);
    setenv("LD_PRELOAD", DBK_FAIL_MMAP, 1);
    /* Cravings until one meets the refusal: a spool of a page or less is read, never
     * mapped (client/store/spool_file.h, DBK_SPOOL_READ_MAX). */
    char *a = crave("6");
    size_t logged = 1;
    bool refused;
    while (!(refused = stat(refusals, &sb) == 0 && sb.st_size > 0) && logged < MAP_TRIES) {
        free(a);
        a = crave("6");
        logged++;
    }
    long spooled = spool_size(f);
    size_t listed = in_log(a, &err);
    long after_log = spool_size(f);
    char *b = crave("5");
    dbk_run_result r = tc_cli("--json", "sync", NULL);
    unsetenv("LD_PRELOAD");
    unsetenv("DBK_FAIL_MMAP_LOG");
    if (asan_saved != NULL)
        setenv("ASAN_OPTIONS", asan_saved, 1);
    else
        unsetenv("ASAN_OPTIONS");
    /* The fault was met by a craving, the last logged (the MAP_TRIES-th may be it): the
     * spool's mapping was refused, not skipped. */
    if (!refused)
        fail_msg("no mapping refused after %zu cravings", logged);
    if (spooled <= 64 || listed != 1 || after_log != 64)
        fail_msg("spool where files do not map: %ld bytes after the craving, listed %zu times, "
                 "%ld bytes after the log: %s",
                 spooled, listed, after_log, err ? err : "");
    free(err);
    if (r.status != 0)
        fail_msg("sync where files do not map: %s", r.err);
    assert_non_null(strstr(r.out, "\"pending\":0"));
    dbk_run_result_free(&r);
    assert_int_equal(spool_size(f), 64);
    assert_int_equal(on_server(f, a), 1);
    assert_int_equal(on_server(f, b), 1);
    assert_int_equal(in_log(NULL, NULL), logged + 1);
    free(a);
    free(b);
}

/* strace's path, when it is installed and may trace here; else NULL (the test skips). */
static const char *
find_strace(void)
{
    static const char *const where[] = {"/usr/bin/strace", "/bin/strace", "/usr/local/bin/strace"};
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        char probe[4300];
        if (access(where[i], X_OK) != 0)
            continue;
        snprintf(probe, sizeof probe, "%s -o /dev/null /bin/true >/dev/null 2>&1", where[i]);
        return system(probe) == 0 ? where[i] : NULL;
    }
    return NULL;
}

/* The ASan build's daybook cannot check leaks under ptrace: off for the traced run. */
static const char *
traced_env(char *env, size_t cap)
{
    const char *asan = getenv("ASAN_OPTIONS");
    snprintf(env, cap, "ASAN_OPTIONS=%s%sdetect_leaks=0", asan ? asan : "",
             asan && *asan ? ":" : "");
    return env;
}

/*
 * A fold killed (SIGKILL, by strace at the spool's ftruncate: after the profile's
 * commit, before the cut) leaves the spool whole beside the committed cravings; the next
 * fold finds each held and skips it, so `log` and the server see each exactly once.
 */
static void
test_killed_between_commit_and_cut(void **state)
{
    struct fx *f = *state;
    const char *strace = find_strace();
    char env[1024], trace[4300];
    dbk_run_result r;

    if (strace == NULL)
        skip();
    char *a = crave("3"), *b = crave("4");
    long before = spool_size(f);
    snprintf(trace, sizeof trace, "%s/trace", f->home);
    const char *argv[] = {strace,
                          "-f",
                          "-o",
                          trace,
                          "-P",
                          f->spool,
                          "-e",
                          "trace=ftruncate",
                          "-e",
                          "inject=ftruncate:signal=KILL",
                          "-E",
                          traced_env(env, sizeof env),
                          dbk_bin("DAYBOOK"),
                          "log",
                          NULL};
    assert_int_equal(dbk_run(argv, NULL, 120, &r), 0);
    assert_int_equal(r.status, 128 + 9); /* killed at the cut */
    dbk_run_result_free(&r);
    assert_int_equal(spool_size(f), before); /* not cut: the cravings are still there */
    r = tc_cli("--json", "sync", NULL);
    if (r.status != 0)
        fail_msg("sync: %s", r.err);
    dbk_run_result_free(&r);
    assert_int_equal(spool_size(f), 64);
    assert_int_equal(on_server(f, a), 1);
    assert_int_equal(on_server(f, b), 1);
    assert_int_equal(in_log(a, NULL), 1);
    assert_int_equal(in_log(b, NULL), 1);
    assert_int_equal(in_log(NULL, NULL), 2);
    dbk_report("spool fold killed", "SIGKILL at the spool's cut, after the fold's commit",
               "each craving in log and on the server: once");
    free(a);
    free(b);
}

/*
 * "Saved" means on disk: under strace, the craving's record is written to the spool and
 * fdatasync'd before "Saved" reaches stdout, and the profile is not opened at all.
 */
static void
test_saved_after_the_sync(void **state)
{
    struct fx *f = *state;
    const char *strace = find_strace();
    char env[1024], trace[4300], line[8192], db[4300];
    int spool_fd = -1;
    bool dirty = false, synced = false, saved_durable = false, db_opened = false;
    dbk_run_result r;

    if (strace == NULL)
        skip();
    snprintf(trace, sizeof trace, "%s/trace", f->home);
    snprintf(db, sizeof db, "%s/daybook.db", f->home);
    const char *argv[] = {strace,
                          "-o",
                          trace,
                          "-s",
                          "16",
                          "-e",
                          "trace=openat,close,write,pwrite64,fdatasync,fsync",
                          "-E",
                          traced_env(env, sizeof env),
                          dbk_bin("DAYBOOK"),
                          "craving",
                          "--intensity",
                          "2",
                          "--outcome",
                          "resisted",
                          NULL};
    assert_int_equal(dbk_run(argv, NULL, 120, &r), 0);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    FILE *in = fopen(trace, "r");
    assert_non_null(in);
    while (fgets(line, sizeof line, in) != NULL) {
        char *eq = strrchr(line, '=');
        int fd = -1, ret = eq ? atoi(eq + 1) : -1;
        if (strstr(line, "openat(") != NULL && strstr(line, db) != NULL)
            db_opened = true;
        if (strstr(line, "openat(") != NULL && strstr(line, f->spool) != NULL && ret >= 0)
            spool_fd = ret;
        else if (sscanf(line, "pwrite64(%d,", &fd) == 1 && fd == spool_fd)
            dirty = true;
        else if (sscanf(line, "fdatasync(%d)", &fd) == 1 && fd == spool_fd && ret == 0)
            dirty = false, synced = true;
        else if (strncmp(line, "write(1, \"Saved", 15) == 0)
            saved_durable = synced && !dirty;
    }
    fclose(in);
    assert_false(db_opened);
    assert_true(saved_durable);
    assert_int_equal(in_log(NULL, NULL), 1);
}

/* Appends n bytes of p to the spool, as a process that died mid-append left them. */
static void
append_raw(const struct fx *f, const unsigned char *p, size_t n)
{
    int fd = open(f->spool, O_WRONLY | O_APPEND | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

/* The spool's bytes from offset at to its end (malloc'd, *n). */
static unsigned char *
spool_tail(const struct fx *f, long at, size_t *n)
{
    long size = spool_size(f);
    unsigned char *p = malloc((size_t)(size - at));
    int fd = open(f->spool, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0 && p != NULL);
    assert_int_equal(pread(fd, p, (size_t)(size - at), at), size - at);
    close(fd);
    *n = (size_t)(size - at);
    return p;
}

/*
 * A torn tail (half a record; a whole-length record whose bytes do not open) is dropped,
 * with a warning when a fold meets it, and cut off silently by the next append; the
 * whole cravings before it are all kept, each once.
 */
static void
test_torn_tail(void **state)
{
    struct fx *f = *state;
    char *a = crave("3");
    long mid = spool_size(f);
    char *b = crave("4");
    size_t n;
    unsigned char *rec = spool_tail(f, mid, &n); /* b's record */
    char *err = NULL;

    append_raw(f, rec, n / 2); /* a third craving, torn mid-append */
    assert_int_equal(in_log(a, &err), 1);
    assert_non_null(strstr(err, "being written when Daybook stopped"));
    free(err);
    assert_int_equal(in_log(b, NULL), 1);
    assert_int_equal(spool_size(f), 64);

    char *c = crave("5");
    free(rec);
    rec = spool_tail(f, 64, &n); /* c's record */
    rec[n - 1] ^= 0x5a;          /* whole by its length, not by its bytes */
    append_raw(f, rec, n);
    char *d = crave("6"); /* the append cuts the torn record off first */
    assert_int_equal(spool_size(f), 64 + 2 * (long)n);
    assert_int_equal(in_log(c, &err), 1);
    assert_null(strstr(err, "being written"));
    free(err);
    assert_int_equal(in_log(d, NULL), 1);
    assert_int_equal(in_log(NULL, NULL), 4);

    /* Cravings waiting behind a header that no longer checks (spoiled: a draft kept,
     * a role set) and a torn tail: every whole one is still folded, once. */
    char *e = crave("2"), *g = crave("3");
    static const unsigned char zero[16];
    int fd = open(f->spool, O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, zero, sizeof zero, 48), (ssize_t)sizeof zero);
    close(fd);
    append_raw(f, rec, n / 3);
    assert_int_equal(in_log(e, NULL), 1);
    assert_int_equal(in_log(g, NULL), 1);
    assert_int_equal(in_log(NULL, NULL), 6);
    assert_int_equal(spool_size(f), 64);
    free(e);
    free(g);
    free(rec);
    free(a);
    free(b);
    free(c);
    free(d);
}

/*
 * Many cravings waiting (a person offline for weeks: records over many pages of the
 * spool, which is mapped, not read, and walked twice, to count and to list), then a
 * torn tail behind them: each whole one is seen in `daybook log` exactly once, the
 * torn one is dropped and said.
 */
#define MANY 150

static void
test_many_waiting_fold_once(void **state)
{
    struct fx *f = *state;
    char *ids[MANY], *err = NULL;
    size_t one = 0, n, i, k;
    dbk_run_result r;
    json_t *j, *e;

    for (k = 0; k < MANY; k++) {
        long before = spool_size(f);
        ids[k] = crave(k % 2 ? "4" : "5");
        if (k == 0)
            one = (size_t)(spool_size(f) - before);
    }
    assert_int_equal(spool_size(f), 64 + MANY * (long)one); /* every one spooled */
    assert_true(spool_size(f) > 8 * 4096);
    unsigned char *rec = spool_tail(f, spool_size(f) - (long)one, &n);
    append_raw(f, rec, n - 1); /* one more, torn a byte short */
    free(rec);

    r = tc_cli("--json", "log", NULL);
    if (r.status != 0)
        fail_msg("log: exit %d: %s", r.status, r.err);
    assert_non_null(strstr(r.err, "being written when Daybook stopped"));
    j = json_loads(r.out, 0, NULL);
    assert_true(json_is_array(j));
    for (k = 0; k < MANY; k++) {
        size_t seen = 0;
        json_array_foreach(j, i, e)
        {
            seen += strcmp(json_string_value(json_object_get(e, "id")), ids[k]) == 0;
        }
        if (seen != 1)
            fail_msg("craving %zu of %d (%s) seen %zu times", k, MANY, ids[k], seen);
        free(ids[k]);
    }
    json_decref(j);
    dbk_run_result_free(&r);
    assert_int_equal(in_log(NULL, &err), MANY);
    assert_null(strstr(err, "being written"));
    free(err);
    assert_int_equal(spool_size(f), 64);
}

/*
 * `daybook status` counts what waits: a craving that does not open, kept in the middle
 * of the spool, keeps the folded ones beside it in the file (the spool is cut back to
 * its header only when nothing is kept), and those are not waiting once the profile
 * holds them.
 */
static void
test_status_counts_what_waits(void **state)
{
    struct fx *f = *state;
    char *a = crave("3");
    long mid = spool_size(f);
    char *c = crave("4");
    size_t n;
    unsigned char *rc = spool_tail(f, mid, &n), *bad = malloc(n);

    assert_non_null(bad);
    memcpy(bad, rc, n);
    bad[8] ^= 0x01;     /* another id, */
    bad[n - 1] ^= 0x5a; /* whose bytes do not open */
    assert_int_equal(truncate(f->spool, mid), 0);
    append_raw(f, bad, n);
    append_raw(f, rc, n); /* a, a craving that does not open, c */
    assert_int_equal(pending(), 3);
    assert_int_equal(in_log(a, NULL), 1); /* folds a and c, keeps all three in the file */
    assert_int_equal(in_log(c, NULL), 1);
    assert_int_equal(spool_size(f), mid + 2 * (long)n);
    ok(tc_cli("sync", NULL), "sync");
    assert_int_equal(pending(), 1); /* the one that does not open; a and c went */
    assert_int_equal(on_server(f, a), 1);
    assert_int_equal(on_server(f, c), 1);
    free(bad);
    free(rc);
    free(a);
    free(c);
}

/* A spool that cannot be read (here a folder where the file should be) holds back no
 * sync: the sync warns, names the file, and pushes what the profile holds. */
static void
test_sync_goes_on_without_the_spool(void **state)
{
    struct fx *f = *state;
    ok(tc_cli("journal", "-m", "a day I want my counselor to see", NULL), "journal");
    assert_int_equal(unlink(f->spool), 0);
    assert_int_equal(mkdir(f->spool, 0700), 0);
    dbk_run_result r = tc_cli("--json", "sync", NULL);
    if (r.status != 0)
        fail_msg("sync: exit %d: %s", r.status, r.err);
    assert_non_null(strstr(r.err, "cravings.spool"));
    json_t *j = json_loads(r.out, 0, NULL);
    assert_true(json_integer_value(json_object_get(j, "pushed")) >= 1); /* and its head */
    assert_int_equal(json_integer_value(json_object_get(j, "pending")), 0);
    json_decref(j);
    dbk_run_result_free(&r);
    assert_int_equal(rmdir(f->spool), 0);
}

#define WRITERS 2
#define EACH 6

/* Cravings logged by WRITERS processes while this one runs `log` and `sync` (each a
 * fold): every one is kept, and each is listed and pushed once. */
static void
test_concurrent_cravings_while_folding(void **state)
{
    struct fx *f = *state;
    char ids[WRITERS][4300];
    pid_t pid[WRITERS];

    for (int w = 0; w < WRITERS; w++) {
        snprintf(ids[w], sizeof ids[w], "%s/ids-%d", f->home, w);
        if ((pid[w] = fork()) == 0) {
            FILE *o = fopen(ids[w], "w");
            for (int i = 0; i < EACH && o != NULL; i++) {
                const char *argv[] = {dbk_bin("DAYBOOK"), "--json",   "craving", "--intensity", "2",
                                      "--outcome",        "resisted", NULL};
                dbk_run_result r;
                if (dbk_run(argv, NULL, 120, &r) != 0 || r.status != 0) {
                    fprintf(o, "FAILED\n");
                    break;
                }
                json_t *j = json_loads(r.out, 0, NULL);
                fprintf(o, "%s\n", json_string_value(json_object_get(j, "id")));
                json_decref(j);
                dbk_run_result_free(&r);
            }
            if (o != NULL)
                fclose(o);
            _exit(0);
        }
        assert_true(pid[w] > 0);
    }
    for (int i = 0; i < EACH; i++) {
        size_t seen = in_log(NULL, NULL);
        (void)seen;
        if (i % 2 == 1)
            ok(tc_cli("sync", NULL), "sync");
    }
    for (int w = 0; w < WRITERS; w++)
        assert_int_equal(dbk_wait_pid(pid[w], 300000), 0);
    ok(tc_cli("sync", NULL), "last sync");
    size_t total = 0;
    for (int w = 0; w < WRITERS; w++) {
        char line[128];
        FILE *in = fopen(ids[w], "r");
        assert_non_null(in);
        while (fgets(line, sizeof line, in) != NULL) {
            line[strcspn(line, "\n")] = '\0';
            assert_string_not_equal(line, "FAILED");
            assert_int_equal(in_log(line, NULL), 1);
            assert_int_equal(on_server(f, line), 1);
            total++;
        }
        fclose(in);
    }
    assert_int_equal(total, WRITERS * EACH);
    assert_int_equal(in_log(NULL, NULL), WRITERS * EACH);
    assert_int_equal(spool_size(f), 64);
}

/* The client's spool copied to path, as `cp` does. */
static void
copy_spool(const struct fx *f, const char *path)
{
    const char *cp[] = {"cp", f->spool, path, NULL};
    dbk_run_result r;
    assert_int_equal(dbk_run(cp, NULL, 30, &r), 0);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
}

/* A counselor's profile still refuses `daybook craving` with its keys unlocked, and no
 * spool is made for it. */
static void
test_counselor_refuses(void **state)
{
    struct fx *f = *state;
    char uri[1024], cohome[4300], cospool[4400];
    dbk_run_result r;
    struct stat sb;

    tc_setup_uri(&f->srv, "Counselor T", uri, sizeof uri);
    snprintf(cohome, sizeof cohome, "%s/counselor", f->home);
    snprintf(cospool, sizeof cospool, "%s/cravings.spool", cohome);
    setenv("DAYBOOK_HOME", cohome, 1);
    ok(tc_cli("init", NULL), "counselor init");
    ok(tc_cli("enroll", uri, "--yes", NULL), "counselor enroll");
    ok(tc_cli("unlock", NULL), "counselor unlock");
    ok(tc_cli("sync", NULL), "counselor sync");
    r = tc_cli("craving", "--intensity", "3", "--outcome", "resisted", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "'craving' is for clients, and this is a counselor's profile"));
    dbk_run_result_free(&r);
    assert_true(stat(cospool, &sb) != 0 || sb.st_size <= 64);
    /* The client's spool copied beside the counselor's profile (its header says a
     * client's, and that client's keys are unlocked on this machine): still refused,
     * since the header names the client's profile file, not this one. */
    copy_spool(f, cospool);
    r = tc_cli("craving", "--intensity", "3", "--outcome", "resisted", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "'craving' is for clients, and this is a counselor's profile"));
    dbk_run_result_free(&r);
    assert_int_equal(stat(cospool, &sb), 0);
    assert_int_equal(sb.st_size, 64);
    ok(tc_cli("lock", NULL), "counselor lock");
    setenv("DAYBOOK_HOME", f->home, 1);
}

/* Locked keys behave as before: with the cache off the passphrase unlocks and the
 * craving is saved in the profile (the spool untouched); a wrong passphrase keeps it
 * as a draft, saved by the next craving once unlocked. */
static void
test_locked_keys_as_before(void **state)
{
    struct fx *f = *state;
    char wrong[4300];
    dbk_run_result r;
    FILE *p;

    ok(tc_cli("lock", NULL), "lock");
    setenv("DAYBOOK_UNLOCK_SECONDS", "0", 1);
    r = tc_cli("craving", "--intensity", "3", "--outcome", "resisted", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Saved ("));
    dbk_run_result_free(&r);
    assert_int_equal(spool_size(f), 64);

    snprintf(wrong, sizeof wrong, "%s/wrong", f->home);
    p = fopen(wrong, "w");
    fputs("not the passphrase\n", p);
    fclose(p);
    setenv("DAYBOOK_PASSPHRASE_FILE", wrong, 1);
    r = tc_cli("craving", "--intensity", "4", "--outcome", "resisted", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "kept on this device, sealed"));
    dbk_run_result_free(&r);
    assert_int_equal(spool_size(f), 64);
    /* Unlocked again: the next craving still saves the draft at once, as before the
     * spool (a kept draft sends the next craving to the profile). */
    setenv("DAYBOOK_PASSPHRASE_FILE", f->pass, 1);
    setenv("DAYBOOK_UNLOCK_SECONDS", "600", 1);
    ok(tc_cli("unlock", NULL), "unlock");
    r = tc_cli("craving", "--intensity", "5", "--outcome", "resisted", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.err, "Saved 1 entry you typed earlier"));
    dbk_run_result_free(&r);
    assert_int_equal(spool_size(f), 64);
    free(crave("6")); /* and the one after goes to the spool again */
    assert_true(spool_size(f) > 64);
    assert_int_equal(in_log(NULL, NULL), 4);
}

/*
 * `daybook sync` with the keys locked and cravings waiting asks the passphrase before
 * it takes the spool's lock: a craving logged in another terminal while the prompt
 * waits (here a FIFO nobody writes yet) is saved at once, not held until the
 * passphrase is typed; and each craving is pushed once.
 */
static void
test_passphrase_asked_outside_the_lock(void **state)
{
    struct fx *f = *state;
    char fifo[4300];
    dbk_run_result r;
    pid_t pid;

    char *a = crave("4");
    ok(tc_cli("lock", NULL), "lock");
    snprintf(fifo, sizeof fifo, "%s/passphrase.fifo", f->home);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    setenv("DAYBOOK_PASSPHRASE_FILE", fifo, 1);
    if ((pid = fork()) == 0) { /* exec'd as is: dbk_run's check would read the FIFO again */
        execl(dbk_bin("DAYBOOK"), "daybook", "sync", (char *)NULL);
        _exit(127);
    }
    assert_true(pid > 0);
    setenv("DAYBOOK_PASSPHRASE_FILE", f->pass, 1);
    int fd = open(fifo, O_WRONLY | O_CLOEXEC); /* the sync now waits for the passphrase */
    assert_true(fd >= 0);
    const char *argv[] = {dbk_bin("DAYBOOK"), "--json",   "craving", "--intensity", "3",
                          "--outcome",        "resisted", NULL};
    int run = dbk_run(argv, NULL, 60, &r);
    bool saved = run == 0 && r.status == 0 && strstr(r.out, "\"saved\":true") != NULL;
    json_t *j = saved ? json_loads(r.out, 0, NULL) : NULL;
    char *b = j != NULL ? strdup(json_string_value(json_object_get(j, "id"))) : NULL;
    json_decref(j);
    if (run == 0)
        dbk_run_result_free(&r);
    assert_int_equal(write(fd, "a long client passphrase\n", 25), 25);
    close(fd);
    assert_int_equal(dbk_wait_pid(pid, 300000), 0);
    assert_true(saved); /* not held until the passphrase was typed */
    ok(tc_cli("sync", NULL), "sync");
    assert_int_equal(on_server(f, a), 1);
    assert_int_equal(on_server(f, b), 1);
    assert_int_equal(in_log(NULL, NULL), 2);
    assert_int_equal(spool_size(f), 64);
    free(a);
    free(b);
}

/* Whether /proc/locks shows a process waiting for an flock of the file with inode ino. */
static bool
flock_waited(unsigned long ino)
{
    char line[512], needle[64];
    bool seen = false;
    FILE *in = fopen("/proc/locks", "r");
    if (in == NULL)
        return false;
    snprintf(needle, sizeof needle, ":%lu ", ino);
    while (!seen && fgets(line, sizeof line, in) != NULL)
        seen = strstr(line, "-> FLOCK") != NULL && strstr(line, needle) != NULL;
    fclose(in);
    return seen;
}

/*
 * `daybook enroll` spoils an old spool's header outside its write transaction (the lock
 * order is the spool's, then SQLite's): while a fold holds the spool's lock (here this
 * process) and the enroll waits for it, the profile's write lock is free, so the fold's
 * own transaction is not refused after SQLite's busy timeout.
 */
static void
test_enroll_waits_for_the_spool_without_the_write_lock(void **state)
{
    struct fx *f = *state;
    char home[4300], spool[4400], db[4400];
    dbk_run_result r;
    struct stat sb;
    sqlite3 *conn = NULL;
    bool waited = false, writable = false;
    pid_t pid;

    snprintf(home, sizeof home, "%s/second", f->home);
    snprintf(spool, sizeof spool, "%s/cravings.spool", home);
    snprintf(db, sizeof db, "%s/daybook.db", home);
    setenv("DAYBOOK_HOME", home, 1);
    ok(tc_cli("init", NULL), "second init");
    copy_spool(f, spool); /* an old spool left beside it */
    int fd = open(spool, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &sb), 0);
    assert_int_equal(flock(fd, LOCK_EX), 0); /* a fold under way */
    char *uri = tc_invite_uri(&f->srv, &f->co, f->co.keys->sign_pk, f->co.keys->box_pk);
    if ((pid = fork()) == 0) {
        const char *argv[] = {dbk_bin("DAYBOOK"), "enroll", uri, "--yes", NULL};
        _exit(dbk_run(argv, NULL, 300, &r) == 0 && r.status == 0 ? 0 : 1);
    }
    assert_true(pid > 0);
    for (long long until = dbk_now_ms() + 120000; !waited && dbk_now_ms() < until;) {
        waited = flock_waited((unsigned long)sb.st_ino);
        if (!waited)
            usleep(20000);
    }
    /* The fold's write transaction, as it would begin it now. */
    if (waited && sqlite3_open(db, &conn) == SQLITE_OK) {
        writable = sqlite3_exec(conn, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
        if (writable)
            sqlite3_exec(conn, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_close(conn);
    assert_int_equal(flock(fd, LOCK_UN), 0);
    close(fd);
    assert_int_equal(dbk_wait_pid(pid, 300000), 0); /* enrolled once the fold is done */
    free(uri);
    assert_true(waited);
    assert_true(writable);
    ok(tc_cli("lock", NULL), "second lock");
    setenv("DAYBOOK_HOME", f->home, 1);
}

/*
 * `daybook login LINK` over a profile moved aside (damaged, say, as the CLI then says to
 * do), the cravings spooled beside it left there: the login's first sync folds them as
 * `daybook sync` does and pushes them, so the counselor has them once the device is
 * signed in again, not after some later command happens to fold them.
 */
static void
test_login_folds_the_spool(void **state)
{
    struct fx *f = *state;
    static const char *const parts[] = {"", "-wal", "-shm"};
    char link[512], from[4300], to[4300];
    dbk_run_result r = tc_cli("status", NULL);
    const char *p = strstr(r.out, "daybook login '");
    assert_non_null(p);
    snprintf(link, sizeof link, "%.*s", (int)strcspn(p + 15, "'"), p + 15);
    dbk_run_result_free(&r);
    char *a = crave("6");
    assert_true(spool_size(f) > 64);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        snprintf(from, sizeof from, "%s/daybook.db%s", f->home, parts[i]);
        snprintf(to, sizeof to, "%s/daybook.db.aside%s", f->home, parts[i]);
        assert_true(rename(from, to) == 0 || i > 0);
    }
    r = tc_cli("login", link, NULL);
    int login = r.status;
    dbk_run_result_free(&r);
    long long pushed = on_server(f, a);
    dbk_report("craving spool: the device signed in again over a profile moved aside",
               "a craving spooled, the profile moved aside, daybook login LINK",
               "login exit %d; the spooled craving on the server after the login: %lld "
               "(left out of the login's sync, leaked: %lld)",
               login, pushed, 1 - pushed);
    assert_int_equal(login, 0);
    assert_int_equal(pushed, 1);
    assert_int_equal(spool_size(f), 64);
    assert_int_equal(in_log(a, NULL), 1);
    free(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spooled_seen_and_pushed_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_where_files_do_not_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_between_commit_and_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_saved_after_the_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_waiting_fold_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_counts_what_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_goes_on_without_the_spool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_cravings_while_folding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counselor_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locked_keys_as_before, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passphrase_asked_outside_the_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login_folds_the_spool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enroll_waits_for_the_spool_without_the_write_lock,
                                        setup, teardown),
    };
    const char *asan = getenv("ASAN_OPTIONS");
    if (dbk_init() != 0)
        return 1;
    if (asan != NULL && (asan_at_start = strdup(asan)) == NULL)
        return 1;
    if (getenv("DAYBOOK_TEST_FILTER") != NULL) /* one test by name, when working on it */
        cmocka_set_test_filter(getenv("DAYBOOK_TEST_FILTER"));
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    free(asan_at_start);
    return failed;
}
