/*
 * Nothing a client sees is sent before the sync that makes it durable (docs/DESIGN.md,
 * Storage; server/worker.c): daybookd on SQLite commits a group without syncing the
 * write-ahead log and syncs on a thread of its own, while the storage thread runs the
 * next groups, which may read the unsynced rows. Here the log's fdatasync is held
 * (tests/support/sync_hold.c, preloaded into the real daybookd): a push whose commit
 * waits for its sync is not acknowledged, and a pull that reads that push's row, run
 * meanwhile in a later group, is not answered either; once the sync goes on, both
 * are, and the pull holds the record. SQLite only (PostgreSQL syncs in its COMMIT).
 */
#include "tc.h"

#include "dbk/init.h"

#include <sodium.h>

#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* How long an answer that must not come is waited for. */
#define HELD_MS 500

/* Pushes one new record to c's shared stream; its status. */
static long
push_one(dbk_server *s, tc_account *c, const dbk_id *record)
{
    long st;
    json_t *body = json_pack("{s:[{s:o}]}", "records", "envelope",
                             tc_envelope(c, &c->shared, c->shared_epoch,
                                         c->shared_key[c->shared_epoch], record, "{\"v\":1}"));
    json_decref(tc_req(s, c, "POST", tc_path("/v1/streams/%s/records", &c->shared), body, &st));
    json_decref(body);
    return st;
}

/* A child that runs what and writes two longs to a pipe: its read end. */
static int
in_child(dbk_server *s, tc_account *c, const dbk_id *record, pid_t *pid)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    *pid = fork();
    assert_true(*pid >= 0);
    if (*pid == 0) {
        long out[2] = {0, 0};
        close(fds[0]);
        if (record != NULL) {
            out[0] = push_one(s, c, record);
        } else { /* a sync pulling the shared stream since 0: its status and records */
            json_t *body = json_pack("{s:[{s:o, s:I}]}", "pull", "stream", tc_id(&c->shared),
                                     "since", (json_int_t)0);
            json_t *r = tc_req(s, c, "POST", "/v1/sync", body, &out[0]);
            json_t *e = json_array_get(json_object_get(r, "pull"), 0);
            out[1] = (long)json_array_size(json_object_get(e, "records"));
            json_decref(r);
            json_decref(body);
        }
        _exit(write(fds[1], out, sizeof out) == (ssize_t)sizeof out ? 0 : 1);
    }
    close(fds[1]);
    return fds[0];
}

/* Whether fd has something to read within ms. */
static bool
answered_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) == 1;
}

static void
read_answer(int fd, pid_t pid, long out[2])
{
    int wst;
    assert_true(answered_within(fd, 30000));
    assert_int_equal(read(fd, out, 2 * sizeof(long)), (ssize_t)(2 * sizeof(long)));
    close(fd);
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
}

static void
test_nothing_seen_before_its_sync(void **state)
{
    (void)state;
    dbk_server s;
    tc_account co, cl;
    dbk_id first, held;
    char *dir, hold[4200], mark[4300];
    struct stat sb;
    long push[2], pull[2];
    pid_t push_pid, pull_pid;
    int push_fd, pull_fd;

    if (dbk_test_pg())
        skip(); /* PostgreSQL's COMMIT syncs: there is no sync of daybookd's to hold */
    dir = dbk_tmpdir("sync-held");
    snprintf(hold, sizeof hold, "%s/hold", dir);
    snprintf(mark, sizeof mark, "%s.held", hold);
    assert_int_equal(setenv("LD_PRELOAD", dbk_bin("SYNC_HOLD"), 1), 0);
    assert_int_equal(setenv("DBK_TEST_SYNC_HOLD", hold, 1), 0);
    assert_int_equal(dbk_server_start(&s, NULL), 0);
    unsetenv("LD_PRELOAD"); /* the test's own processes sync as they would */
    unsetenv("DBK_TEST_SYNC_HOLD");

    tc_new_counselor(&s, &co, "Counselor H");
    tc_new_client(&s, &cl, &co);
    dbk_id_random(&first);
    assert_int_equal(push_one(&s, &cl, &first), 200);

    /* The next sync of the log is held: the push commits, and waits for it. */
    FILE *f = fopen(hold, "w");
    assert_non_null(f);
    fclose(f);
    dbk_id_random(&held);
    push_fd = in_child(&s, &cl, &held, &push_pid);
    for (int i = 0; i < 3000 && stat(mark, &sb) != 0; i++)
        usleep(10000);
    assert_int_equal(stat(mark, &sb), 0); /* a commit's sync is being held */
    assert_false(answered_within(push_fd, HELD_MS));
    /* A pull of the stream since 0 is a storage job (it is not "nothing new") that
     * reads the held push's row, in a later group: it waits for a sync too. */
    pull_fd = in_child(&s, &cl, NULL, &pull_pid);
    assert_false(answered_within(pull_fd, HELD_MS));
    assert_false(answered_within(push_fd, 0));

    /* The sync goes on: both are answered, and the pull holds the record. */
    assert_int_equal(unlink(hold), 0);
    read_answer(push_fd, push_pid, push);
    read_answer(pull_fd, pull_pid, pull);
    assert_int_equal(push[0], 200);
    assert_int_equal(pull[0], 200);
    assert_int_equal(pull[1], 2);
    dbk_report("nothing seen before its sync",
               "the write-ahead log's fdatasync held while one push commits and a pull "
               "reads its row",
               "push and pull unanswered for %d ms each while held; both answered after it, "
               "the pull with the record",
               HELD_MS);

    tc_account_free(&co);
    tc_account_free(&cl);
    assert_int_equal(dbk_server_stop(&s), 0);
    dbk_server_cleanup(&s);
    dbk_rmtree(dir);
    free(dir);
}

/* The records of c's shared stream in the server's daybook.db, read by another
 * connection (this process's SQLite, its default VFS) while the server runs. */
static long long
stored_records(const dbk_server *s, const tc_account *c)
{
    char sql[160], hex[2 * DBK_ID_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, c->shared.b, DBK_ID_BYTES);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM records WHERE stream = x'%s'", hex);
    return dbk_server_int(s, sql);
}

/*
 * daybookd writes a commit's log frames with one write at its last frame
 * (server/store/sqlite/walbuf.c). Every acknowledged push is in the log file by then:
 * another connection reading daybook.db sees each one as soon as it is answered (a
 * frame still in daybookd's buffer would be one the log's index names and the file
 * lacks), and a daybookd killed with SIGKILL right after an answer keeps it.
 */
static void
test_acknowledged_in_the_log(void **state)
{
    (void)state;
    dbk_server s;
    tc_account co, cl;
    dbk_id rec;
    enum { PUSHES = 20 };

    if (dbk_test_pg())
        skip(); /* the SQLite file itself */
    assert_int_equal(dbk_server_start(&s, NULL), 0);
    tc_new_counselor(&s, &co, "Counselor L");
    tc_new_client(&s, &cl, &co);
    for (int i = 1; i <= PUSHES; i++) {
        dbk_id_random(&rec);
        assert_int_equal(push_one(&s, &cl, &rec), 200);
        assert_int_equal(stored_records(&s, &cl), i);
    }
    dbk_id_random(&rec);
    assert_int_equal(push_one(&s, &cl, &rec), 200);
    dbk_server_kill(&s);
    assert_int_equal(dbk_server_restart(&s, NULL), 0);
    assert_int_equal(stored_records(&s, &cl), PUSHES + 1);
    dbk_report("acknowledged is in the log",
               "another connection reads daybook.db after each acknowledged push; daybookd "
               "killed with SIGKILL right after the last answer, then started again",
               "all %d pushes read as soon as answered; all %d there after the kill", PUSHES,
               PUSHES + 1);

    tc_account_free(&co);
    tc_account_free(&cl);
    assert_int_equal(dbk_server_stop(&s), 0);
    dbk_server_cleanup(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_seen_before_its_sync),
        cmocka_unit_test(test_acknowledged_in_the_log),
    };
    if (dbk_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
