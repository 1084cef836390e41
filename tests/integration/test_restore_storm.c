/*
 * A restore from a backup taken in the middle of a push storm (docs/DESIGN.md, "A
 * server restored from backup"; proto/README.md on the restore generation).
 *
 * Several clients, each the real `daybook` CLI with a profile of its own in a
 * process of its own, write journal entries and sync them one by one, while the
 * test runs `daybookd backup` again and again against the live store. The backups
 * must be whole stores (`daybookd check`: integrity and the audit chain). Then the
 * server is stopped, restored from a backup taken mid-storm, and started again: the
 * restored store lacks what was pushed after that backup. Each client's next sync
 * is told to log in again; its login sees the new restore generation, puts back in
 * the outbox everything the device holds, and the next sync re-pushes it. In the
 * end every entry any client wrote is on the server exactly once, and each client
 * holds exactly what it held before the restore, nothing lost, nothing doubled.
 *
 * What it does not show: that a backup holds only what was on disk (store_sqlite.c,
 * sq_backup). A killed process leaves its writes in the page cache, so no test
 * short of a power cut tells a synced log from an unsynced one.
 */
#include "tc.h"

#include "dbk/base64.h"
#include "dbk/envelope.h"
#include "dbk/error.h"
#include "dbk/init.h"

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

enum {
    CLIENTS = 3,     /* processes pushing at once */
    ROUNDS = 8,      /* entries each client writes and syncs, one at a time */
    MAX_BACKUPS = 64 /* taken while the clients run, one every 0.1 s or so */
};

struct fx {
    dbk_server srv;
    char *home;
    tc_account co;
    char client_home[CLIENTS][4200];
    dbk_id client[CLIENTS];
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);

    assert_int_equal(dbk_server_start(&f->srv, NULL), 0);
    f->home = dbk_tmpdir("restore-storm");
    tc_passphrase_file(f->home, "a long client passphrase");
    tc_new_counselor(&f->srv, &f->co, "Counselor R");
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    if (f->srv.pid > 0)
        assert_int_equal(dbk_server_stop(&f->srv), 0);
    dbk_server_cleanup(&f->srv);
    dbk_rmtree(f->home);
    free(f->home);
    tc_account_free(&f->co);
    free(f);
    return 0;
}

/* Client i: `daybook init` and enroll with the counselor's invite, in its own home. */
static void
new_client(struct fx *f, int i)
{
    char *uri = tc_invite_uri(&f->srv, &f->co, f->co.keys->sign_pk, f->co.keys->box_pk);
    json_t *j;

    snprintf(f->client_home[i], sizeof f->client_home[i], "%s/client-%d", f->home, i);
    setenv("DAYBOOK_HOME", f->client_home[i], 1);
    j = tc_json_of(tc_cli("--json", "init", NULL), "init");
    const char *id = json_string_value(json_object_get(j, "account"));
    assert_non_null(id);
    assert_int_equal(dbk_id_from_text(&f->client[i], id, strlen(id)), 0);
    json_decref(j);
    tc_ok(tc_cli("enroll", uri, "--yes", NULL), "enroll");
    free(uri);
}

/* The storm's client i, in a child process: ROUNDS times a journal entry and a sync.
 * Exits 0 when every command did. */
static void
storm_child(struct fx *f, int i)
{
    setenv("DAYBOOK_HOME", f->client_home[i], 1);
    for (int n = 0; n < ROUNDS; n++) {
        char text[64];
        dbk_run_result r;
        snprintf(text, sizeof text, "storm client %d entry %d", i, n);
        const char *journal[] = {dbk_bin("DAYBOOK"), "journal", "-m", text, NULL};
        const char *sync[] = {dbk_bin("DAYBOOK"), "sync", NULL};
        if (dbk_run(journal, NULL, 60, &r) != 0 || r.status != 0)
            _exit(1);
        dbk_run_result_free(&r);
        if (dbk_run(sync, NULL, 60, &r) != 0 || r.status != 0)
            _exit(2);
        dbk_run_result_free(&r);
    }
    _exit(0);
}

/* `daybookd backup` of the live store into path; its exit status. */
static int
backup(struct fx *f, const char *path)
{
    const char *argv[] = {dbk_bin("DAYBOOKD"), "backup", path, "--data-dir", f->srv.data_dir,
                          NULL};
    dbk_run_result r;
    assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
    if (r.status != 0)
        print_error("backup %s: %s\n", path, r.err);
    dbk_run_result_free(&r);
    return r.status;
}

/* `daybookd check` of the backup at path (a copy of it, in a data directory of its own):
 * SQLite's integrity check and the audit chain. */
static void
check_backup(struct fx *f, const char *path, int k)
{
    char dir[4200], db[4300], buf[65536];
    dbk_run_result r;
    FILE *in, *out;
    size_t n;

    snprintf(dir, sizeof dir, "%s/check-%d", f->home, k);
    snprintf(db, sizeof db, "%s/daybook.db", dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_non_null(in = fopen(path, "rb"));
    assert_non_null(out = fopen(db, "wb"));
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    assert_false(ferror(in));
    fclose(in);
    assert_int_equal(fclose(out), 0);
    const char *argv[] = {dbk_bin("DAYBOOKD"), "check", "--data-dir", dir, NULL};
    assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
    if (r.status != 0)
        fail_msg("backup %d taken mid-storm is not a whole store: %s%s", k, r.out, r.err);
    dbk_run_result_free(&r);
    dbk_rmtree(dir);
}

/*
 * The client's shared stream as the server holds it, read by the counselor from the
 * start (every page) and opened with the key of its grant: an object of record id ->
 * the entry's plaintext (JSON), the stream's head (proto/TRUST.md T12) left out. A
 * record listed twice fails the test.
 */
static json_t *
server_entries(struct fx *f, int i)
{
    unsigned char key[32], client_pk[32];
    dbk_id stream;
    json_t *out = json_object();
    int64_t since = 0;
    bool more = true;

    assert_true(tc_counselor_stream(&f->srv, &f->co, &f->client[i], &stream, key, client_pk,
                                    NULL));
    while (more) {
        char path[512];
        long st;
        size_t k;
        json_t *e;
        snprintf(path, sizeof path, "%s?since=%lld", tc_path("/v1/streams/%s/records", &stream),
                 (long long)since);
        json_t *r = tc_req(&f->srv, &f->co, "GET", path, NULL, &st);
        assert_int_equal(st, 200);
        json_array_foreach(json_object_get(r, "records"), k, e) {
            const char *b = json_string_value(json_object_get(e, "envelope"));
            unsigned char env[8192];
            size_t n;
            dbk_envelope_hdr h;
            char id[DBK_ID_TEXT_LEN + 1];
            tc_account author;

            assert_int_equal(dbk_b64_decode(env, sizeof env, &n, b, strlen(b)), 0);
            assert_int_equal(dbk_envelope_parse(env, n, &h), 0);
            dbk_id_to_text(&h.record, id);
            memset(&author, 0, sizeof author);
            author.id = f->client[i];
            author.keys = dbk_account_keys_from_secrets(key, key); /* sign_pk is used */
            memcpy(author.keys->sign_pk, client_pk, 32);
            char *pt = tc_open(b, &author, &stream, h.epoch, key);
            dbk_account_keys_free(author.keys);
            assert_non_null(pt);
            json_t *doc = json_loads(pt, 0, NULL);
            free(pt);
            assert_non_null(doc);
            if (json_object_get(out, id) != NULL)
                fail_msg("client %d: record %s listed twice", i, id);
            if (strcmp(json_string_value(json_object_get(doc, "type")), "head") == 0)
                json_decref(doc);
            else
                json_object_set_new(out, id, doc);
        }
        more = json_is_true(json_object_get(r, "more"));
        since = json_integer_value(json_object_get(r, "next"));
        json_decref(r);
    }
    return out;
}

/* `daybook --json log` of client i: an object of entry id -> {entry, private, synced}. */
static json_t *
client_entries(struct fx *f, int i)
{
    json_t *all, *out = json_object(), *e;
    size_t k;

    setenv("DAYBOOK_HOME", f->client_home[i], 1);
    all = tc_json_of(tc_cli("--json", "log", NULL), "log");
    json_array_foreach(all, k, e) {
        const char *id = json_string_value(json_object_get(e, "id"));
        if (json_object_get(out, id) != NULL)
            fail_msg("client %d holds entry %s twice", i, id);
        json_object_set(out, id, e);
    }
    json_decref(all);
    return out;
}

/* How many of client i's storm entries (by text) are in entries (server_entries). */
static int
storm_entries_in(json_t *entries, int i, int count[ROUNDS])
{
    const char *id;
    json_t *doc;
    int total = 0;
    memset(count, 0, ROUNDS * sizeof *count);
    json_object_foreach(entries, id, doc) {
        const char *t = json_string_value(json_object_get(doc, "text"));
        int c, n;
        char tail;
        if (t != NULL && sscanf(t, "storm client %d entry %d%c", &c, &n, &tail) == 2 && c == i &&
            n >= 0 && n < ROUNDS) {
            count[n]++;
            total++;
        }
    }
    return total;
}

/*
 * What the server holds of client i's shared stream has every shared entry the
 * client holds, all acknowledged, with the same plaintext, and each storm entry once.
 */
static void
assert_server_has_all(struct fx *f, int i, json_t *held)
{
    json_t *srv = server_entries(f, i), *e;
    const char *id;
    int count[ROUNDS];

    json_object_foreach(held, id, e) {
        assert_true(json_is_true(json_object_get(e, "synced")));
        if (json_is_true(json_object_get(e, "private")))
            continue; /* the private stream: the client's own devices alone read it */
        json_t *there = json_object_get(srv, id);
        if (there == NULL)
            fail_msg("client %d: entry %s is not on the server", i, id);
        assert_true(json_equal(there, json_object_get(e, "entry")));
    }
    assert_int_equal(storm_entries_in(srv, i, count), ROUNDS);
    for (int n = 0; n < ROUNDS; n++)
        assert_int_equal(count[n], 1);
    json_decref(srv);
}

static void
test_restore_from_a_backup_taken_mid_storm(void **state)
{
    struct fx *f = *state;
    char path[MAX_BACKUPS][4300];
    pid_t kids[CLIENTS];
    json_t *held[CLIENTS];
    int nb = 0, running = CLIENTS, kept = 0, missing = 0, count[ROUNDS];
    dbk_run_result r;

    for (int i = 0; i < CLIENTS; i++)
        new_client(f, i);

    /* The storm, and backups of the live store all through it. */
    for (int i = 0; i < CLIENTS; i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0)
            storm_child(f, i);
    }
    while (running > 0) {
        if (nb < MAX_BACKUPS) {
            snprintf(path[nb], sizeof path[nb], "%s/backup-%d.db", f->home, nb);
            assert_int_equal(backup(f, path[nb]), 0);
            nb++;
        }
        usleep(100 * 1000);
        for (int i = 0; i < CLIENTS; i++) {
            int ws;
            if (kids[i] > 0 && waitpid(kids[i], &ws, WNOHANG) == kids[i]) {
                if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
                    fail_msg("storm client %d failed (status %d)", i, ws);
                kids[i] = 0;
                running--;
            }
        }
    }
    assert_true(nb >= 3);
    /* Eight of them spread over the storm, and the one restored below, are checked
     * whole (a check is a process too; all of them cost more than the storm). */
    for (int k = 0; k < nb; k++)
        if (k % ((nb + 7) / 8) == 0 || k == nb / 2)
            check_backup(f, path[k], k);

    /* What each client holds, all of it acknowledged, and all of it on the server. */
    for (int i = 0; i < CLIENTS; i++) {
        held[i] = client_entries(f, i);
        assert_server_has_all(f, i, held[i]);
    }

    /* Restore a backup from the middle of the storm. */
    assert_int_equal(dbk_server_stop(&f->srv), 0);
    const char *rs[] = {dbk_bin("DAYBOOKD"), "restore", path[nb / 2], "--data-dir",
                        f->srv.data_dir, NULL};
    assert_int_equal(dbk_run(rs, NULL, 60, &r), 0);
    if (r.status != 0)
        fail_msg("restore: %s", r.err);
    assert_non_null(strstr(r.out, "restore generation is now 2"));
    dbk_run_result_free(&r);
    assert_int_equal(dbk_server_restart(&f->srv, NULL), 0);
    f->co.token[0] = '\0'; /* the restore ends every session */
    assert_int_equal(tc_login(&f->srv, &f->co, "counselor passphrase", NULL), 200);
    for (int i = 0; i < CLIENTS; i++) {
        json_t *srv = server_entries(f, i);
        int there = storm_entries_in(srv, i, count);
        kept += there;
        missing += ROUNDS - there;
        json_decref(srv);
    }
    /* Taken mid-storm: it holds some of what was pushed, and lacks some. */
    assert_true(kept > 0);
    assert_true(missing > 0);

    /* Each client is sent to log in again, sees the restore, and re-pushes. */
    for (int i = 0; i < CLIENTS; i++) {
        setenv("DAYBOOK_HOME", f->client_home[i], 1);
        r = tc_cli("sync", NULL);
        assert_int_equal(r.status, 1);
        assert_non_null(strstr(r.err, "log in again"));
        dbk_run_result_free(&r);
        json_t *j = tc_json_of(tc_cli("--json", "login", NULL), "login");
        assert_true(json_is_true(json_object_get(j, "server_restored")));
        json_decref(j);
        r = tc_cli("sync", NULL);
        if (r.status != 0)
            fail_msg("sync after the restore: %s", r.err);
        assert_non_null(strstr(r.out, " 0 waiting"));
        dbk_run_result_free(&r);
    }

    /* Everything is back once; each client holds what it held, no more, no less. */
    for (int i = 0; i < CLIENTS; i++) {
        json_t *now = client_entries(f, i);
        assert_int_equal(json_object_size(now), json_object_size(held[i]));
        assert_true(json_equal(now, held[i]));
        assert_server_has_all(f, i, now);
        json_decref(now);
        json_decref(held[i]);
    }
    {
        const char *argv[] = {dbk_bin("DAYBOOKD"), "check", "--data-dir", f->srv.data_dir, NULL};
        assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
        assert_int_equal(r.status, 0);
        dbk_run_result_free(&r);
    }
    {
        char how[256];
        snprintf(how, sizeof how,
                 "%d clients (daybook CLI) writing and syncing %d entries each, daybookd "
                 "backup every 0.1 s meanwhile; restore of one from mid-storm, login, sync",
                 CLIENTS, ROUNDS);
        dbk_report("restore from a backup taken mid-storm", how,
                   "%d backups, those checked whole; the restored one kept %d of %d entries, "
                   "after the re-push all %d on the server once, each client as before",
                   nb, kept, CLIENTS * ROUNDS, CLIENTS * ROUNDS);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_restore_from_a_backup_taken_mid_storm, setup,
                                        teardown),
    };
    if (dbk_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
