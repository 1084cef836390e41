/*
 * Who may read, when the way to the server breaks or the server goes back in time
 * (issue: the client trusts signatures it checked, never the server; proto/TRUST.md
 * T8, T9). A real daybookd, reached through the TCP proxy of tests/support/proxy.c,
 * and the real CLIs.
 *
 *   interrupted rotation  a revoke whose signed end, revocation or new key does not
 *                         reach the server (a server error at the revocation and at the
 *                         new key, the connection cut while the signed end, the revoke's first
 *                         large request, is sent, the CLI killed with SIGKILL while it
 *                         is sent): `daybook access` shows it
 *                         waiting, the next sync completes it, and the revoked
 *                         counselor reads nothing written after the revoke
 *   restore               `daybookd restore` of a backup older than a revocation: the
 *                         client's next login notices, sends the revocation and the
 *                         rotation again from its own state and keeps sealing to the
 *                         newest epoch; the revoked counselor reads nothing new
 *
 * Each counts what leaked (must be 0): an entry written after the revoke that the
 * revoked counselor can read, and a stream the server leaves behind the client's epoch.
 *
 * In the PostgreSQL pass (integration.pg.trust_faults) the same edits go to the server's
 * database, and the server errors come from a PL/pgSQL trigger function that raises.
 */
#define _GNU_SOURCE /* strcasestr */
#include "tc.h"

#include "counselor.h"
#include "session.h"
#include "stream_key.h"
#include "trust.h"
#include "unlock.h"

#include "dbk/fingerprint.h"
#include "dbk/init.h"
#include "dbk/pct.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <linux/keyctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

struct fx {
    dbk_server srv;
    dbk_proxy *proxy;
    tc_cli_pair_t p;
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_int_equal(dbk_server_start(&f->srv, NULL), 0);
    f->proxy = dbk_proxy_start(f->srv.port);
    /* Both CLIs know the server by the proxy's port. */
    dbk_server via = f->srv;
    via.port = dbk_proxy_port(f->proxy);
    tc_cli_pair(&via, &f->p);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    dbk_proxy_stop(f->proxy);
    tc_pair_end(&f->srv, &f->p);
    free(f);
    return 0;
}

static const char *
hex_of(const char *id_text, char out[33])
{
    dbk_id id;
    assert_int_equal(dbk_id_from_text(&id, id_text, strlen(id_text)), 0);
    for (size_t i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", id.b[i]);
    return out;
}

/* Stops the server, runs sql on its file, starts it again on the same directory with
 * args (NULL: none). */
static void
turn_server_with(struct fx *f, const char *sql, const char *const *args)
{
    char path[4200], *err = NULL;
    sqlite3 *db;
    assert_int_equal(dbk_server_stop(&f->srv), 0);
    if (dbk_test_pg()) { /* the suite's PostgreSQL pass: the same edit of its database */
        assert_true(dbk_pg_exec_db(f->srv.store_url, sql) >= 0);
        assert_int_equal(dbk_server_restart(&f->srv, args), 0);
        return;
    }
    snprintf(path, sizeof path, "%s/daybook.db", f->srv.data_dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("sql: %s", err);
    sqlite3_close(db);
    assert_int_equal(dbk_server_restart(&f->srv, args), 0);
}

/* Stops the server, runs sql on its file, starts it again on the same directory. */
static void
turn_server(struct fx *f, const char *sql)
{
    turn_server_with(f, sql, NULL);
}

/* One integer the server's store answers to sql (-1 when no row). */
static long long
server_int(struct fx *f, const char *sql)
{
    return dbk_server_int(&f->srv, sql);
}

/* The epoch the server holds for the client's shared stream. */
static long long
server_epoch(struct fx *f)
{
    char sql[256], hex[33];
    snprintf(sql, sizeof sql, "SELECT epoch FROM streams WHERE owner = x'%s' AND kind = 1",
             hex_of(f->p.client_id, hex));
    return server_int(f, sql);
}

/* Whether the server shows the counselor's grant to the client's shared stream active. */
static bool
server_counselor_active(struct fx *f)
{
    char sql[512], c[33], k[33];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM grants g JOIN streams s ON s.id = g.stream WHERE s.owner = "
             "x'%s' AND s.kind = 1 AND g.grantee = x'%s' AND g.revoked_at = 0",
             hex_of(f->p.client_id, c), hex_of(f->p.counselor_id, k));
    return server_int(f, sql) > 0;
}

struct readable {
    dbk_session *s;
    size_t n;
};

static void
count_readable(const dbk_local_record *r, void *arg)
{
    struct readable *a = arg;
    unsigned char key[32];
    if (dbk_stream_key(a->s, &r->hdr.stream, r->hdr.epoch, key) == 0)
        a->n++;
    sodium_memzero(key, sizeof key);
}

/* What the counselor can read of the client's shared stream, as an attacker would count
 * it: after a sync, every record its device holds whose epoch's key it holds (the
 * review refuses once access ended; the keys are still on the device). */
static size_t
counselor_reads(struct fx *f)
{
    dbk_session s;
    dbk_local_stream st;
    dbk_id client;
    struct readable a = {&s, 0};
    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    dbk_run_result r = tc_cli("sync", NULL);
    dbk_run_result_free(&r);
    assert_int_equal(dbk_id_from_text(&client, f->p.client_id, strlen(f->p.client_id)), 0);
    assert_int_equal(dbk_session_open(&s, false), 0);
    assert_int_equal(dbk_unlock(&s), 0);
    if (dbk_co_client_stream(&s, &client, &st) == 0)
        assert_int_equal(dbk_local_records(s.L, &st.id, count_readable, &a), 0);
    dbk_session_close(&s);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    return a.n;
}

/* How many changes of access `daybook access` shows waiting for the server. */
static size_t
access_waiting(void)
{
    json_t *j = tc_json_of(tc_cli("--json", "access", NULL), "access");
    size_t n = json_array_size(json_object_get(j, "waiting"));
    json_decref(j);
    return n;
}

static void
cli_ok(const char *a1, const char *a2, const char *a3)
{
    dbk_run_result r = tc_cli(a1, a2, a3, NULL);
    if (r.status != 0)
        fail_msg("daybook %s %s: exit %d: %s", a1, a2 ? a2 : "", r.status, r.err);
    dbk_run_result_free(&r);
}

/* `daybook a1 a2 a3` (a2, a3 may be NULL) started on its own process, its output
 * dropped; returns once the proxy's armed fault fired on it. */
static pid_t
daybook_until_fired(struct fx *f, const char *a1, const char *a2, const char *a3)
{
    dbk_proxy_stats ps, before;
    dbk_proxy_stats_get(f->proxy, &before);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *null = freopen("/dev/null", "w", stdout);
        (void)null;
        null = freopen("/dev/null", "w", stderr);
        (void)null;
        execl(dbk_bin("DAYBOOK"), "daybook", a1, a2, a3, (char *)NULL);
        _exit(127);
    }
    long long until = dbk_now_ms() + 60000;
    do {
        usleep(20000);
        dbk_proxy_stats_get(f->proxy, &ps);
    } while (ps.fired == before.fired && dbk_now_ms() < until);
    assert_int_not_equal(ps.fired, before.fired);
    return pid;
}

/* The revoke on its own process, killed with SIGKILL once the proxy's fault fired (the
 * request that carries the signed end, the first large one, is stalled on its way). */
static void
revoke_killed(struct fx *f)
{
    pid_t pid = daybook_until_fired(f, "revoke", f->p.counselor_id, "--yes");
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(dbk_wait_pid(pid, 10000), 128 + SIGKILL);
    dbk_proxy_arm(f->proxy, NULL);
    (void)dbk_proxy_wait_idle(f->proxy, 15000);
}

enum step { AT_REVOCATION, AT_NEW_KEY };

struct fault {
    const char *name;
    enum step step;
    const char *trigger; /* a server error: SQL that makes the step's write fail */
    const char *pg_trigger; /* the same on PostgreSQL (a PL/pgSQL function raising) */
    dbk_proxy_kind proxy;
    bool kill;
};

/* The request that carries the signed end (a grant of the counselor's epoch ending 30 s
 * later, proto/TRUST.md T8, sent before the revocation; 1.5 kB or more) is the first of
 * the revoke larger than this; the listings and the revocation are smaller. */
#define NEW_KEY_AFTER 450

/* PostgreSQL's twin of SQLite's RAISE(ABORT): a trigger function that raises. */
#define PG_FAULT                                                                               \
    "CREATE FUNCTION fault() RETURNS trigger LANGUAGE plpgsql AS "                             \
    "$$BEGIN RAISE EXCEPTION 'fault'; END$$;"

static const struct fault faults[] = {
    {"server error at the revocation", AT_REVOCATION,
     "CREATE TRIGGER fault BEFORE UPDATE OF revoked_at ON grants "
     "BEGIN SELECT RAISE(ABORT, 'fault'); END;",
     PG_FAULT "CREATE TRIGGER fault BEFORE UPDATE OF revoked_at ON grants "
              "FOR EACH ROW EXECUTE FUNCTION fault();",
     DBK_PROXY_PASS, false},
    /* The new key's grants end never (expires_at 0); the signed end does. */
    {"server error at the new key", AT_NEW_KEY,
     "CREATE TRIGGER fault BEFORE INSERT ON grants WHEN NEW.expires_at = 0 "
     "BEGIN SELECT RAISE(ABORT, 'fault'); END;",
     PG_FAULT "CREATE TRIGGER fault BEFORE INSERT ON grants "
              "FOR EACH ROW WHEN (NEW.expires_at = 0) EXECUTE FUNCTION fault();",
     DBK_PROXY_PASS, false},
    {"connection cut at the signed end", AT_REVOCATION, NULL, NULL, DBK_PROXY_CUT, false},
    {"kill -9 at the signed end", AT_REVOCATION, NULL, NULL, DBK_PROXY_STALL, true},
};

#define NFAULTS (sizeof faults / sizeof faults[0])

static void
test_interrupted_rotation(void **state)
{
    struct fx *f = *state;
    size_t leaked = 0, waiting_shown = 0, completed = 0;
    char marker[64];
    long long epoch = server_epoch(f);

    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    for (size_t i = 0; i < NFAULTS; i++) {
        const struct fault *x = &faults[i];
        cli_ok("journal", "-m", "read by the counselor");
        cli_ok("sync", NULL, NULL);
        size_t base = counselor_reads(f);

        if (x->trigger != NULL)
            turn_server(f, dbk_test_pg() ? x->pg_trigger : x->trigger);
        if (x->proxy != DBK_PROXY_PASS) {
            dbk_proxy_fault pf = {x->proxy, DBK_PROXY_UP, NEW_KEY_AFTER, 60000};
            dbk_proxy_arm(f->proxy, &pf);
        }
        if (x->kill) {
            revoke_killed(f);
        } else {
            dbk_run_result r = tc_cli("revoke", f->p.counselor_id, "--yes", NULL);
            if (r.status == 0 || strstr(r.err, "not confirmed") == NULL)
                fail_msg("%s: revoke exit %d: %s", x->name, r.status, r.err);
            dbk_run_result_free(&r);
            dbk_proxy_arm(f->proxy, NULL);
        }
        /* The fault hit the step it names: the server has the revocation or not, and
         * the old epoch either way. */
        assert_int_equal(server_counselor_active(f), x->step == AT_REVOCATION);
        assert_int_equal(server_epoch(f), epoch);
        size_t w = access_waiting();
        if (w > 0)
            waiting_shown++;
        else
            fail_msg("%s: 'daybook access' shows nothing waiting", x->name);

        if (x->trigger != NULL)
            turn_server(f, dbk_test_pg() ? "DROP TRIGGER fault ON grants; DROP FUNCTION fault();"
                                         : "DROP TRIGGER fault;");
        /* Written while the rotation waits, then sent by the next sync after it. */
        snprintf(marker, sizeof marker, "after revoke %zu", i);
        cli_ok("journal", "-m", marker);
        dbk_run_result r = tc_cli("sync", NULL);
        if (r.status != 0)
            fail_msg("%s: the next sync: exit %d: %s", x->name, r.status, r.err);
        dbk_run_result_free(&r);
        epoch++;
        if (access_waiting() == 0 && server_epoch(f) == epoch && !server_counselor_active(f))
            completed++;
        else
            fail_msg("%s: not completed: %zu waiting, server epoch %lld of %lld", x->name,
                     access_waiting(), server_epoch(f), epoch);
        size_t reads = counselor_reads(f);
        if (reads > base)
            leaked += reads - base;

        /* Shared again for the next fault: the counselor gets the newest key. */
        cli_ok("share", f->p.counselor_id, "--yes");
    }
    dbk_report("interrupted key rotation after a revoke",
               "revoke interrupted by a server error at the revocation and at the new key, a "
               "cut connection and kill -9 of the CLI while the signed end (the revoke's first "
               "large request) is sent; then sync",
               "%zu of %zu shown waiting by 'daybook access', %zu of %zu completed by the next "
               "sync; entries written after the revoke the counselor read (leaked): %zu",
               waiting_shown, NFAULTS, completed, NFAULTS, leaked);
    assert_int_equal(completed, NFAULTS);
    assert_int_equal(leaked, 0);
}

static void
test_restore_before_revocation(void **state)
{
    struct fx *f = *state;
    char backup[4200];
    const char *bk[] = {dbk_bin("DAYBOOKD"), "backup", backup, "--data-dir", f->srv.data_dir,
                        NULL};
    const char *rs[] = {dbk_bin("DAYBOOKD"), "restore", backup, "--data-dir", f->srv.data_dir,
                        NULL};
    dbk_run_result r;

    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    cli_ok("journal", "-m", "read by the counselor");
    cli_ok("sync", NULL, NULL);
    size_t base = counselor_reads(f);
    assert_true(base >= 1);
    long long epoch = server_epoch(f);

    snprintf(backup, sizeof backup, "%s/backup.db", f->srv.dir);
    assert_int_equal(dbk_run(bk, NULL, 60, &r), 0);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    cli_ok("revoke", f->p.counselor_id, "--yes");
    cli_ok("journal", "-m", "after the revoke");
    cli_ok("sync", NULL, NULL);
    assert_int_equal(server_epoch(f), epoch + 1);

    /* The server goes back to before the revocation: the counselor's grant is active
     * again, the stream at the old epoch. */
    assert_int_equal(dbk_server_stop(&f->srv), 0);
    assert_int_equal(dbk_run(rs, NULL, 60, &r), 0);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    assert_int_equal(dbk_server_restart(&f->srv, NULL), 0);
    assert_true(server_counselor_active(f));
    assert_int_equal(server_epoch(f), epoch);

    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    cli_ok("login", NULL, NULL);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    r = tc_cli("sync", NULL);
    assert_int_not_equal(r.status, 0); /* its token went with the restore */
    dbk_run_result_free(&r);
    cli_ok("login", NULL, NULL);
    cli_ok("journal", "-m", "after the restore");
    r = tc_cli("sync", NULL);
    if (r.status != 0)
        fail_msg("sync after the restore: exit %d: %s", r.status, r.err);
    dbk_run_result_free(&r);

    bool active = server_counselor_active(f);
    long long now = server_epoch(f);
    size_t reads = counselor_reads(f);
    size_t leaked = reads > base ? reads - base : 0;
    dbk_report("malicious server: restore from before a revocation",
               "daybookd backup, revoke (rotation to a new epoch), an entry, daybookd restore of "
               "the backup (the counselor's grant active again, the old epoch); the client "
               "logs in again and writes",
               "the server after the client's login: counselor's grant %s, epoch %lld of %lld; "
               "entries written after the revoke the counselor read (leaked): %zu",
               active ? "active" : "revoked", now, epoch + 1, leaked);
    assert_false(active);
    assert_int_equal(now, epoch + 1);
    assert_int_equal(leaked, 0);
    assert_int_equal(access_waiting(), 0);
}

/* A server turned back to before a revocation while keeping its restore generation
 * and tokens (a careless restore of the data file alone, or a compromised server): the
 * client notices from its own state (the stream listed below the epoch it holds) and
 * sends the revocation and the rotation again at its next sync. */
static void
test_server_behind_same_generation(void **state)
{
    struct fx *f = *state;
    char sql[1400], c[33], k[33];
    dbk_run_result r;

    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    cli_ok("journal", "-m", "read by the counselor");
    cli_ok("sync", NULL, NULL);
    size_t base = counselor_reads(f);
    long long epoch = server_epoch(f);
    cli_ok("revoke", f->p.counselor_id, "--yes");
    assert_int_equal(server_epoch(f), epoch + 1);

    hex_of(f->p.client_id, c);
    hex_of(f->p.counselor_id, k);
    snprintf(sql, sizeof sql,
             "UPDATE grants SET revoked_at = 0 WHERE grantee = x'%s' AND stream IN "
             "(SELECT id FROM streams WHERE owner = x'%s' AND kind = 1);"
             "DELETE FROM grants WHERE epoch > %lld AND stream IN "
             "(SELECT id FROM streams WHERE owner = x'%s' AND kind = 1);"
             "UPDATE streams SET epoch = %lld, rotation_pending = 0 WHERE owner = x'%s' AND "
             "kind = 1;"
             "UPDATE accounts SET grants_seq = grants_seq + 1 WHERE id IN (x'%s', x'%s');",
             k, c, epoch, c, epoch, c, c, k);
    turn_server(f, sql);
    assert_true(server_counselor_active(f));

    r = tc_cli("--json", "sync", NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    size_t rollbacks = (size_t)json_integer_value(
        json_object_get(json_object_get(j, "refused"), "epoch_rollbacks"));
    size_t sent = (size_t)json_integer_value(
        json_object_get(json_object_get(j, "access_changes"), "sent"));
    json_decref(j);
    dbk_run_result_free(&r);
    cli_ok("journal", "-m", "after the server went back");
    r = tc_cli("sync", NULL);
    if (r.status != 0)
        fail_msg("second sync: exit %d: %s", r.status, r.err);
    dbk_run_result_free(&r);

    bool active = server_counselor_active(f);
    long long now = server_epoch(f);
    size_t reads = counselor_reads(f);
    size_t leaked = reads > base ? reads - base : 0;
    dbk_report("malicious server: turned back before a revocation",
               "after a revoke, the server's file is put back to the old epoch with the "
               "counselor's grant active and the new grants gone, keeping its restore "
               "generation and tokens; the client syncs and writes",
               "epoch rollbacks noticed: %zu, access changes sent again: %zu; the server after: "
               "counselor's grant %s, epoch %lld of %lld; entries written after the revoke the "
               "counselor can read (leaked): %zu",
               rollbacks, sent, active ? "active" : "revoked", now, epoch + 1, leaked);
    assert_true(rollbacks >= 1);
    assert_false(active);
    assert_int_equal(now, epoch + 1);
    assert_int_equal(leaked, 0);
}

/* The keys kept in the user keyring, as any other process of this uid reads them: the
 * number of bytes read (160 when kept: the signing secret key with its public key, the
 * box key pair and their check; 0 when not). */
static long
keyring_read(const char *account)
{
    char desc[64];
    unsigned char secrets[256];
    snprintf(desc, sizeof desc, "daybook:%s", account);
    long id = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", desc, 0);
    long n = id > 0 ? syscall(SYS_keyctl, KEYCTL_READ, id, secrets, sizeof secrets) : 0;
    sodium_memzero(secrets, sizeof secrets);
    return n > 0 ? n : 0;
}

/* The unlocked-key cache: readable by any process of the same uid while kept (this
 * test's own process reads it), and --no-key-cache runs without it: nothing is taken
 * from it, what was kept is forgotten, and nothing new is kept. */
static void
test_key_cache_off(void **state)
{
    struct fx *f = *state;
    const char *pass = getenv("DAYBOOK_PASSPHRASE_FILE");
    char saved[4200];
    dbk_run_result r;

    snprintf(saved, sizeof saved, "%s", pass);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    setenv("DAYBOOK_UNLOCK_SECONDS", "60", 1);
    cli_ok("today", NULL, NULL);
    long kept = keyring_read(f->p.client_id); /* another process of this uid */
    setenv("DAYBOOK_PASSPHRASE_FILE", "/nonexistent/passphrase", 1);
    r = tc_cli("today", NULL);
    int from_cache = r.status;
    dbk_run_result_free(&r);

    r = tc_cli("--no-key-cache", "today", NULL);
    int without = r.status;
    dbk_run_result_free(&r);
    long after_off = keyring_read(f->p.client_id);
    setenv("DAYBOOK_PASSPHRASE_FILE", saved, 1);
    r = tc_cli("--no-key-cache", "today", NULL);
    int with_pass = r.status;
    dbk_run_result_free(&r);
    long kept_off = keyring_read(f->p.client_id);
    setenv("DAYBOOK_UNLOCK_SECONDS", "0", 1);

    dbk_report("unlocked-key cache",
               "keys unlocked with the cache on (DAYBOOK_UNLOCK_SECONDS=60), read back by "
               "another process of the same uid; then commands with --no-key-cache, without "
               "and with the passphrase",
               "bytes another process of the uid read while kept: %ld; --no-key-cache without "
               "the passphrase: exit %d, keys left in the keyring after it: %ld bytes, after a "
               "run with the passphrase: %ld bytes",
               kept, without, after_off, kept_off);
    assert_int_equal(kept, 160);
    assert_int_equal(from_cache, 0);
    assert_int_not_equal(without, 0);
    assert_int_equal(after_off, 0);
    assert_int_equal(with_pass, 0);
    assert_int_equal(kept_off, 0);
}

/*
 * The keyring entry damaged: the signing secret kept whole, its public half and the box
 * public key changed (as a bit flip, or a build that laid the entry out otherwise,
 * leaves them). Signing with a secret key whose public half is not its own gives the
 * same nonce and another scalar for a message signed both ways: whoever sees the two
 * (the server) solves for the account's signing key; and the client would check its
 * own records against the wrong key, show a wrong safety number and seal its notes and
 * token to a box key nobody holds. Without the passphrase, no command may run on such
 * keys; with it, the keys are unlocked from the bundle and kept anew.
 */
static void
test_key_cache_damaged(void **state)
{
    struct fx *f = *state;
    const char *pass = getenv("DAYBOOK_PASSPHRASE_FILE");
    char saved[4200], desc[64];
    unsigned char c[256];
    dbk_run_result r;
    int ran = 0;

    snprintf(saved, sizeof saved, "%s", pass);
    snprintf(desc, sizeof desc, "daybook:%s", f->p.client_id);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    setenv("DAYBOOK_UNLOCK_SECONDS", "60", 1);
    cli_ok("today", NULL, NULL);
    long id = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", desc, 0);
    long n = id > 0 ? syscall(SYS_keyctl, KEYCTL_READ, id, c, sizeof c) : 0;
    assert_true(n >= 128);
    c[40] ^= 0x01;  /* the signing public key (bytes 32 to 63) */
    c[100] ^= 0x01; /* the box public key (bytes 96 to 127) */
    assert_int_equal(syscall(SYS_keyctl, KEYCTL_UPDATE, id, c, (size_t)n), 0);
    sodium_memzero(c, sizeof c);

    setenv("DAYBOOK_PASSPHRASE_FILE", "/nonexistent/passphrase", 1);
    const char *cmds[][3] = {{"journal", "-m", "written on damaged keys"}, {"today", NULL, NULL}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        r = tc_cli(cmds[i][0], cmds[i][1], cmds[i][2], NULL);
        ran += r.status == 0;
        dbk_run_result_free(&r);
    }
    setenv("DAYBOOK_PASSPHRASE_FILE", saved, 1);
    r = tc_cli("journal", "-m", "written with the passphrase", NULL);
    int with_pass = r.status;
    dbk_run_result_free(&r);
    long kept = keyring_read(f->p.client_id);
    setenv("DAYBOOK_PASSPHRASE_FILE", "/nonexistent/passphrase", 1);
    r = tc_cli("today", NULL);
    int from_cache = r.status;
    dbk_run_result_free(&r);
    setenv("DAYBOOK_PASSPHRASE_FILE", saved, 1);
    setenv("DAYBOOK_UNLOCK_SECONDS", "0", 1);

    dbk_report("unlocked-key cache damaged",
               "the keyring entry's public keys changed, its secrets kept; commands without "
               "the passphrase, then with it, then without it again",
               "commands that ran on the mismatched keys (leaked): %d; with the passphrase: "
               "exit %d, then %ld bytes kept; from that entry: exit %d",
               ran, with_pass, kept, from_cache);
    assert_int_equal(ran, 0);
    assert_int_equal(with_pass, 0);
    assert_int_equal(kept, 160);
    assert_int_equal(from_cache, 0);
}

/*
 * The keys of the client's own streams kept in the keyring beside its account keys
 * (trust/unlock.c), so that a command writing an entry does not open its self-grant
 * again: the entry is kept while the keys are, under a tag only a holder of the
 * account's box secret makes. Here its stream keys are changed in place (as damage, or
 * another process of the uid, would): no entry may be sealed under such a key. The
 * entries are then read with --no-key-cache, every key opened from its grant: each one
 * written must open. `daybook lock` forgets the kept stream keys too.
 */
static void
test_stream_key_cache_damaged(void **state)
{
    struct fx *f = *state;
    char desc[80];
    unsigned char c[1024];
    dbk_run_result r;

    snprintf(desc, sizeof desc, "daybook-streams:%s", f->p.client_id);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    setenv("DAYBOOK_UNLOCK_SECONDS", "60", 1);
    cli_ok("journal", "-m", "written before the damage");
    long id = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", desc, 0);
    long n = id > 0 ? syscall(SYS_keyctl, KEYCTL_READ, id, c, sizeof c) : 0;
    long kept = n;
    assert_true(n > 84);
    for (long i = 0; i + 84 <= n - 32; i += 84) /* each slot's key: bytes 52 to 83 */
        for (long k = 52; k < 84; k++)
            c[i + k] ^= 0x5a;
    assert_int_equal(syscall(SYS_keyctl, KEYCTL_UPDATE, id, c, (size_t)n), 0);
    sodium_memzero(c, sizeof c);
    cli_ok("journal", "-m", "written after the damage");

    r = tc_cli("--no-key-cache", "log", NULL); /* every key from its grant */
    int before = strstr(r.out, "written before the damage") != NULL;
    int after = strstr(r.out, "written after the damage") != NULL;
    int status = r.status;
    dbk_run_result_free(&r);
    setenv("DAYBOOK_UNLOCK_SECONDS", "60", 1);
    cli_ok("today", NULL, NULL);
    cli_ok("lock", NULL, NULL);
    long left = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", desc, 0);
    setenv("DAYBOOK_UNLOCK_SECONDS", "0", 1);

    dbk_report("kept stream keys damaged",
               "the client's own stream keys kept in the keyring changed in place; an entry "
               "written, then every entry read with its key opened from its grant; then a "
               "lock",
               "bytes kept: %ld; entries that open from their grants: before the damage %s, "
               "after it %s; kept stream keys left after lock: %s",
               kept, before ? "yes" : "no", after ? "yes" : "no", left > 0 ? "yes" : "none");
    assert_int_equal(status, 0);
    assert_true(before);
    assert_true(after);
    assert_true(left <= 0);
}

/*
 * The kept stream keys are the account's, not the profile's: a profile of the same
 * account restored from a backup taken before a rotation, which then rotates again,
 * holds another self-grant, so another key, for the same (stream, epoch) than the one
 * kept. Its entries must still be sealed under its own grant's key, and an entry must
 * open with the cache exactly when it opens from the grant the profile holds.
 */
static void
test_stream_key_cache_other_profile(void **state)
{
    struct fx *f = *state;
    char restored[4300], cmd[9000];
    dbk_run_result r;

    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    setenv("DAYBOOK_UNLOCK_SECONDS", "60", 1);
    cli_ok("journal", "-m", "written before the backup");
    snprintf(restored, sizeof restored, "%s/restored", f->p.home);
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", f->p.client_home, restored);
    assert_int_equal(system(cmd), 0);
    /* This profile rotates (epoch 2) and writes: its key for epoch 2 is kept. */
    cli_ok("revoke", f->p.counselor_id, "--yes");
    cli_ok("journal", "-m", "written by the first profile");

    /* The profile from the backup rotates again: its own key for epoch 2 (the server,
     * holding the first one, refuses its self-grant: another device's at that epoch). */
    setenv("DAYBOOK_HOME", restored, 1);
    r = tc_cli("revoke", f->p.counselor_id, "--yes", NULL);
    dbk_run_result_free(&r);
    r = tc_cli("journal", "-m", "written by the restored profile", NULL);
    int wrote = r.status;
    dbk_run_result_free(&r);
    r = tc_cli("sync", NULL); /* pulls the first profile's entry too */
    dbk_run_result_free(&r);

    r = tc_cli("log", NULL); /* keys from the cache */
    int cached_first = strstr(r.out, "written by the first profile") != NULL;
    int cached_own = strstr(r.out, "written by the restored profile") != NULL;
    dbk_run_result_free(&r);
    r = tc_cli("--no-key-cache", "log", NULL); /* every key from the grant held */
    int granted_first = strstr(r.out, "written by the first profile") != NULL;
    int granted_own = strstr(r.out, "written by the restored profile") != NULL;
    int status = r.status;
    dbk_run_result_free(&r);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    setenv("DAYBOOK_UNLOCK_SECONDS", "0", 1);

    dbk_report("kept stream keys of another profile",
               "a profile restored from before a rotation rotates to the same epoch again and "
               "writes, with the first profile's key for that epoch kept in the keyring",
               "its entry opens from its own grant: %s; entries opening with the cache and "
               "not from the grant held: %d",
               granted_own ? "yes" : "no (sealed under another profile's key)",
               (cached_first && !granted_first) + (cached_own && !granted_own));
    assert_int_equal(wrote, 0);
    assert_int_equal(status, 0);
    assert_true(granted_own);
    assert_int_equal(cached_first, granted_first);
    assert_int_equal(cached_own, granted_own);
}

/* The seconds /proc/keys says the user key described desc has left (its rounding: whole
 * minutes past one), or -1 when it is not listed. */
static long
proc_keys_left(const char *desc)
{
    char line[512], flags[16], timeout[16], d[128];
    long left = -1;
    FILE *f = fopen("/proc/keys", "r");

    assert_non_null(f);
    while (left < 0 && fgets(line, sizeof line, f) != NULL) {
        long n = 0;
        char unit = 0;
        /* the description, then ':' and the payload's size; an entry invalidated but
         * not yet collected ('i' among its flags) is listed until it is */
        if (sscanf(line, "%*x %15s %*d %15s %*x %*d %*d user %127s", flags, timeout, d) != 3 ||
            strchr(flags, 'i') != NULL || strncmp(d, desc, strlen(desc)) != 0 ||
            strcmp(d + strlen(desc), ":") != 0)
            continue;
        sscanf(timeout, "%ld%c", &n, &unit);
        left = unit == 's' ? n : unit == 'm' ? n * 60 : unit == 'h' ? n * 3600 : 1L << 40;
    }
    fclose(f);
    return left;
}

/* A new device of the client by 'daybook login' (link) into the pair's directory/name:
 * its exit, *said whether its stderr holds words, and whether it pinned for who the
 * signing key planted (any key, planted NULL). */
static bool
new_device_pins(struct fx *f, const char *link, const char *name, const char *words,
                const dbk_id *who, const unsigned char *planted, int *status, bool *said)
{
    char home2[4300];
    unsigned char got[32];
    dbk_session s;
    bool pinned = false;

    snprintf(home2, sizeof home2, "%s/%s", f->p.home, name);
    setenv("DAYBOOK_HOME", home2, 1);
    dbk_run_result r = tc_cli("login", link, NULL);
    *status = r.status;
    *said = strstr(r.err, words) != NULL;
    dbk_run_result_free(&r);
    if (dbk_session_open(&s, false) == 0) {
        pinned = dbk_trust_pinned(&s, who, got, NULL) == 0 &&
                 (planted == NULL || memcmp(got, planted, 32) == 0);
        dbk_session_close(&s);
    }
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    return pinned;
}

/*
 * The kept stream keys live no longer than the account keys they are kept beside
 * (TRUST.md T10, "as long"): a stream key kept when the account keys' entry has 30 s
 * left (set here, standing in for most of the unlock's 10 minutes gone by) is kept for
 * at most those 30 s, not 10 minutes more, which would leave the keys of the client's
 * entries readable after the keys themselves had expired.
 */
static void
test_stream_keys_kept_no_longer_than_keys(void **state)
{
    struct fx *f = *state;
    char keys_desc[80], streams_desc[80];

    snprintf(keys_desc, sizeof keys_desc, "daybook:%s", f->p.client_id);
    snprintf(streams_desc, sizeof streams_desc, "daybook-streams:%s", f->p.client_id);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    setenv("DAYBOOK_UNLOCK_SECONDS", "600", 1);
    cli_ok("journal", "-m", "unlocks and keeps");
    long keys = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", keys_desc, 0);
    long streams =
        syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", streams_desc, 0);
    assert_true(keys > 0 && streams > 0);
    assert_int_equal(syscall(SYS_keyctl, KEYCTL_INVALIDATE, streams), 0);
    assert_int_equal(syscall(SYS_keyctl, KEYCTL_SET_TIMEOUT, keys, 30), 0);
    cli_ok("journal", "-m", "keys from the keyring, the stream key kept again");
    long keys_left = proc_keys_left(keys_desc), streams_left = proc_keys_left(streams_desc);
    cli_ok("lock", NULL, NULL);
    setenv("DAYBOOK_UNLOCK_SECONDS", "0", 1);

    dbk_report("kept stream keys expire with the keys",
               "account keys' keyring entry set to 30 s left; an entry written (its stream "
               "key opened from its grant and kept)",
               "seconds left: account keys %ld, kept stream keys %ld", keys_left, streams_left);
    assert_true(keys_left > 0 && keys_left <= 30);
    assert_true(streams_left > 0); /* still kept, for the time there is */
    if (streams_left > keys_left)
        fail_msg("the stream keys are kept %ld s, the keys beside them %ld s", streams_left,
                 keys_left);
}

/* 32 bytes of a column of the counselor's account row on the server's file. */
static void
server_key(struct fx *f, const char *column, unsigned char out[32])
{
    char path[4200], sql[256], hex[33];
    sqlite3 *db;
    sqlite3_stmt *st;
    snprintf(sql, sizeof sql, "SELECT %s FROM accounts WHERE id = x'%s'", column,
             hex_of(f->p.counselor_id, hex));
    if (dbk_test_pg()) {
        unsigned char *o[] = {out};
        const size_t len[] = {32};
        assert_true(dbk_pg_row(f->srv.store_url, sql, o, len, 1));
        return;
    }
    snprintf(path, sizeof path, "%s/daybook.db", f->srv.data_dir);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_bytes(st, 0), 32);
    memcpy(out, sqlite3_column_blob(st, 0), 32);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* A key pair's public halves the server plants (random, no secret behind them): into
 * sign_pk and box_pk, and as hex for SQL into hs and hb. */
static void
fake_keys(unsigned char sign_pk[32], unsigned char box_pk[32], char hs[65], char hb[65])
{
    randombytes_buf(sign_pk, 32);
    randombytes_buf(box_pk, 32);
    sodium_bin2hex(hs, 65, sign_pk, 32);
    sodium_bin2hex(hb, 65, box_pk, 32);
}

/* The login link of the account of home, after a sync of it (what its other devices
 * need from it: its pin and role records pushed), as 'daybook status' prints it. */
static void
login_link_of(const char *home, char link[512])
{
    dbk_run_result r;
    setenv("DAYBOOK_HOME", home, 1);
    cli_ok("sync", NULL, NULL);
    r = tc_cli("status", NULL);
    const char *p = strstr(r.out, "daybook login '");
    assert_non_null(p);
    snprintf(link, 512, "%.*s", (int)strcspn(p + 15, "'"), p + 15);
    dbk_run_result_free(&r);
}

/* `daybook login link` on a second device of the client, its profile in home2 (made
 * here), DAYBOOK_HOME left there; the run, for the caller to read and free. */
static dbk_run_result
second_device_login(struct fx *f, const char *link, char home2[4300])
{
    snprintf(home2, 4300, "%s/second", f->p.home);
    setenv("DAYBOOK_HOME", home2, 1);
    return tc_cli("login", link, NULL);
}

/* A second device of the client signed in at home2 with the link its first device
 * gives now; fails the test if the login does. DAYBOOK_HOME is left at home2. */
static void
second_device(struct fx *f, char home2[4300])
{
    char link[512];
    login_link_of(f->p.client_home, link);
    dbk_run_result r = second_device_login(f, link, home2);
    if (r.status != 0)
        fail_msg("daybook login: exit %d: %s", r.status, r.err);
    dbk_run_result_free(&r);
}

/* A second device of the client (daybook login) facing a server that swapped the
 * counselor's keys for its own: it pins the keys the first device checked against the
 * enrollment code, from the account's own pin record, and refuses the listed ones. */
static void
test_second_device_pins(void **state)
{
    struct fx *f = *state;
    unsigned char true_s[32], true_b[32], fake_s[32], fake_b[32], got_s[32], got_b[32];
    char sql[512], hs[65], hb[65], hex[33], home2[4300], link[512];
    dbk_run_result r;
    dbk_session s;
    dbk_id counselor;

    login_link_of(f->p.client_home, link);
    server_key(f, "sign_pk", true_s);
    server_key(f, "box_pk", true_b);
    fake_keys(fake_s, fake_b, hs, hb);
    snprintf(sql, sizeof sql, "UPDATE accounts SET sign_pk = x'%s', box_pk = x'%s' WHERE id = x'%s';",
             hs, hb, hex_of(f->p.counselor_id, hex));
    turn_server(f, sql);

    r = second_device_login(f, link, home2);
    int status = r.status;
    bool warned = strstr(r.err, "WARNING: the server lists keys for your counselor") != NULL;
    dbk_run_result_free(&r);

    assert_int_equal(dbk_id_from_text(&counselor, f->p.counselor_id, strlen(f->p.counselor_id)),
                     0);
    assert_int_equal(dbk_session_open(&s, false), 0);
    int pinned = dbk_trust_pinned(&s, &counselor, got_s, got_b);
    unsigned char sign_only[32];
    int planted = (dbk_trust_pinned(&s, &counselor, sign_only, NULL) == 0 &&
                   memcmp(sign_only, fake_s, 32) == 0) +
                  (pinned == 0 && memcmp(got_b, fake_b, 32) == 0);
    dbk_session_close(&s);
    int checked = pinned == 0 && memcmp(got_s, true_s, 32) == 0 && memcmp(got_b, true_b, 32) == 0;
    r = tc_cli("verify", f->p.counselor_id, NULL);
    int verify = r.status;
    dbk_run_result_free(&r);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);

    dbk_report("malicious server: planted counselor key on a second device",
               "the server swaps the counselor's Ed25519 and X25519 keys for its own, then the "
               "client signs in on a new device with 'daybook login'",
               "login exit %d%s; the new device pinned the keys checked at enrollment: %s; "
               "'daybook verify' exit %d; planted keys pinned (leaked): %d",
               status, warned ? " with a warning" : "", checked ? "yes" : "no", verify, planted);
    assert_int_not_equal(status, 0);
    assert_true(warned);
    assert_true(checked);
    assert_int_not_equal(verify, 0);
    assert_int_equal(planted, 0);
}

/* A new device of the account of link by 'daybook login' into the pair's directory/name: its
 * login's exit, *warned (if not NULL) whether it refused the server's role, and (0 when
 * it kept no profile) its role; *checked its role_checked. */
static int
role_of_new_device(struct fx *f, const char *link, const char *name, int *status, bool *checked,
                   bool *warned)
{
    char home2[4300];
    dbk_run_result r;
    dbk_session s;
    int role = 0;

    snprintf(home2, sizeof home2, "%s/%s", f->p.home, name);
    setenv("DAYBOOK_HOME", home2, 1);
    r = tc_cli("login", link, NULL);
    *status = r.status;
    if (warned != NULL)
        *warned = strstr(r.err, "WARNING: the server says this is a") != NULL;
    dbk_run_result_free(&r);
    *checked = false;
    if (dbk_session_open(&s, false) == 0) {
        role = s.role;
        *checked = dbk_local_get_int(s.L, "role_unsigned", 0) == 0;
        dbk_session_close(&s);
    }
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    return role;
}

/* A new device of the account of home (id), logged in while the server names the other
 * role for it (proto/TRUST.md T13): its role, 0 when it kept no profile; *status the
 * login's exit, *warned whether it said so. */
static int
second_device_role(struct fx *f, const char *home, const char *id, int lie, int *status,
                   bool *warned)
{
    char sql[240], hex[33], name[64], link[512];
    bool checked;

    login_link_of(home, link); /* its sync signs the role, as any device that knows it */
    /* A server that lies consistently: a counselor's account names no counselor. */
    snprintf(sql, sizeof sql, "UPDATE accounts SET role = %d%s WHERE id = x'%s';", lie,
             lie == DBK_ROLE_COUNSELOR ? ", counselor = NULL" : "", hex_of(id, hex));
    turn_server(f, sql);
    snprintf(name, sizeof name, "second-of-%s", id);
    return role_of_new_device(f, link, name, status, &checked, warned);
}

/* A second device of the client, and of the counselor, facing a server that names the
 * other role for the account (proto/TRUST.md T13): the device takes the role the account
 * signed, never the server's, and keeps no profile of the other role. */
static void
test_second_device_role(void **state)
{
    struct fx *f = *state;
    int st_client, st_counselor;
    bool w_client, w_counselor;

    int as_client = second_device_role(f, f->p.counselor_home, f->p.counselor_id, DBK_ROLE_CLIENT,
                                       &st_counselor, &w_counselor);
    int as_counselor = second_device_role(f, f->p.client_home, f->p.client_id, DBK_ROLE_COUNSELOR,
                                          &st_client, &w_client);
    int leaked = (as_client == DBK_ROLE_CLIENT) + (as_counselor == DBK_ROLE_COUNSELOR);

    dbk_report("malicious server: the other role at a second device's login",
               "the server names the client's account a counselor's, and the counselor's a "
               "client's, then each signs in on a new device with 'daybook login'",
               "client's login exit %d%s, role kept %d; counselor's login exit %d%s, role kept "
               "%d; devices given the server's false role (leaked): %d",
               st_client, w_client ? " with a warning" : "", as_counselor, st_counselor,
               w_counselor ? " with a warning" : "", as_client, leaked);
    assert_int_equal(leaked, 0);
    assert_int_not_equal(st_client, 0);
    assert_true(w_client);
    /* A counselor's account signed in as a client's fails before its role is checked
     * (its sync finds no stream of a client's), with or without the fix: no profile. */
    assert_int_not_equal(st_counselor, 0);
}

/* The stream of kind that the account owner holds, as the profile in home lists it, and
 * its head's record id, in hex for SQL. */
static void
own_stream_hex(const char *home, const char *owner, int kind, char sh[33], char hh[33])
{
    char path[4300], hex[33], sql[200];
    sqlite3 *db;
    sqlite3_stmt *st;
    dbk_id stream, head;

    snprintf(path, sizeof path, "%s/daybook.db", home);
    snprintf(sql, sizeof sql, "SELECT id FROM streams WHERE owner = x'%s' AND kind = %d",
             hex_of(owner, hex), kind);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_bytes(st, 0), 16);
    memcpy(stream.b, sqlite3_column_blob(st, 0), 16);
    sqlite3_finalize(st);
    sqlite3_close(db);
    dbk_trust_head_id(&stream, &head);
    for (size_t i = 0; i < 16; i++) {
        snprintf(sh + 2 * i, 3, "%02x", stream.b[i]);
        snprintf(hh + 2 * i, 3, "%02x", head.b[i]);
    }
}

/* The client's shared stream and its head's record id, in hex for SQL. */
static void
client_shared_hex(struct fx *f, char sh[33], char hh[33])
{
    own_stream_hex(f->p.client_home, f->p.client_id, DBK_LOCAL_SHARED, sh, hh);
}

/* Into sql (n bytes): the edit that drops the client's role record from the server, the
 * newest record of its private stream that is not the head (the role is signed at the
 * sync after the pin record). */
static void
drop_role_sql(struct fx *f, char *sql, size_t n)
{
    char cp[33], chd[33];
    own_stream_hex(f->p.client_home, f->p.client_id, DBK_LOCAL_PRIVATE, cp, chd);
    snprintf(sql, n,
             "DELETE FROM records WHERE stream = x'%s' AND seq = (SELECT max(seq) FROM records "
             "WHERE stream = x'%s' AND record != x'%s');",
             cp, cp, chd);
}

/* A new device of the client, made by 'daybook login' into home2 (under the pair's
 * directory): what its first 'daybook sync --json' counts as its own streams with
 * nothing seen and no signed head (withheld.own_unseen), *said whether it said so in
 * words (or, withheld not NULL, that records are withheld: *withheld, withheld.records). */
static int
own_withheld_of_new_device(struct fx *f, const char *link, const char *name, bool *said,
                           bool *role_checked, long *withheld)
{
    char home2[4300];
    dbk_run_result r;
    json_t *j;

    snprintf(home2, sizeof home2, "%s/%s", f->p.home, name);
    setenv("DAYBOOK_HOME", home2, 1);
    r = tc_cli("login", link, NULL);
    if (r.status != 0)
        fail_msg("login: exit %d: %s", r.status, r.err);
    dbk_run_result_free(&r);
    r = tc_cli("--json", "sync", NULL);
    *said = strstr(r.err, "cannot tell whether the server withholds them") != NULL ||
            (withheld != NULL && strstr(r.err, "the server is withholding them") != NULL);
    j = json_loads(r.out, 0, NULL);
    if (j == NULL)
        fail_msg("sync --json: exit %d: %s", r.status, r.err);
    int n = (int)json_integer_value(json_object_get(json_object_get(j, "withheld"), "own_unseen"));
    if (withheld != NULL)
        *withheld =
            (long)json_integer_value(json_object_get(json_object_get(j, "withheld"), "records"));
    json_decref(j);
    dbk_run_result_free(&r);
    r = tc_cli("--json", "status", NULL);
    j = json_loads(r.out, 0, NULL);
    *role_checked = json_is_true(json_object_get(j, "role_checked"));
    json_decref(j);
    dbk_run_result_free(&r);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    return n;
}

static int
own_unseen_of_new_device(struct fx *f, const char *link, const char *name, bool *said,
                         bool *role_checked)
{
    return own_withheld_of_new_device(f, link, name, said, role_checked, NULL);
}
/* A second device of the client facing a server that withholds the client's own shared
 * stream whole, records and head (proto/TRUST.md T12): its sync says it cannot tell.
 * And no wolf cried: a second device of an account that wrote nothing there, before,
 * with the server honest, says nothing of the kind (the stream's first head, signed when
 * the client's first device made it, tells it there is nothing). */
static void
test_own_stream_withheld_whole(void **state)
{
    struct fx *f = *state;
    char sh[33], hh[33], hex[33], sql[200], link[512];
    bool said_honest, said_withheld, checked_honest, checked_withheld;

    login_link_of(f->p.client_home, link);
    int wolf = own_unseen_of_new_device(f, link, "honest", &said_honest, &checked_honest);

    cli_ok("journal", "-m", "written on the first device");
    cli_ok("sync", NULL, NULL);
    client_shared_hex(f, sh, hh);
    snprintf(sql, sizeof sql, "DELETE FROM records WHERE stream = x'%s';", sh);
    turn_server(f, sql);
    long records;
    int told = own_withheld_of_new_device(f, link, "withheld", &said_withheld, &checked_withheld,
                                          &records);
    /* The private stream's head counts the shared stream's records: told withheld. */
    int leaked = (told == 0 && records == 0) || !said_withheld;
    /* Then every record of the client's withheld, its pin and role records with them:
     * the new device cannot tell the pin record is not among them, so it signs nothing
     * in (no key of the counselor's taken from the server; test_private_stream_withheld_
     * whole counts that). */
    snprintf(sql, sizeof sql,
             "DELETE FROM records WHERE stream IN (SELECT id FROM streams WHERE owner = x'%s');",
             hex_of(f->p.client_id, hex));
    turn_server(f, sql);
    dbk_id counselor;
    int bare_status;
    bool said_bare;
    assert_int_equal(dbk_id_from_text(&counselor, f->p.counselor_id, strlen(f->p.counselor_id)), 0);
    (void)new_device_pins(f, link, "bare", "none of your account's private", &counselor, NULL,
                          &bare_status, &said_bare);

    dbk_report("malicious server: the client's own stream withheld whole from a new device",
               "the server drops every record of the client's shared stream, its head with "
               "them, then the client signs in on a new device with 'daybook login'",
               "streams said 'cannot tell': %d, records told withheld: %ld%s; withheld and "
               "not told (leaked): %d; a new device of the account before it wrote, the "
               "server honest: %d said (wolf cried)%s; every record withheld: login exit %d%s",
               told, records, said_withheld ? " in words" : "", leaked, wolf,
               said_honest ? " in words" : "", bare_status, said_bare ? ", said so" : "");
    assert_int_equal(leaked, 0);
    assert_int_equal(wolf, 0);
    assert_false(said_honest);
    assert_true(checked_honest && checked_withheld);
    assert_int_not_equal(bare_status, 0);
    assert_true(said_bare);
}

/*
 * Role records out of place (proto/TRUST.md T13). The server names the client's account
 * a counselor's and puts the counselor's own role record (signed, true of the
 * counselor) in the client's private stream in place of the client's, which it moves to
 * the client's shared stream; then, honest about the role, it leaves the client's
 * record in the shared stream only. A new device of the client must check its role
 * from neither: another account's record, or one outside the account's private stream.
 * (Each envelope is bound to its stream: the new device's first sync refuses the moved
 * ones as malformed, so the login fails and keeps no profile.)
 */
static void
test_role_record_out_of_place(void **state)
{
    struct fx *f = *state;
    char link[512], cp[33], chd[33], cs[33], csh[33], op[33], ohd[33], hc[33], ho[33];
    char sql[2400];
    int st1, st2;
    bool checked1, checked2;

    login_link_of(f->p.counselor_home, link); /* the counselor's role record pushed */
    login_link_of(f->p.client_home, link);
    own_stream_hex(f->p.client_home, f->p.client_id, DBK_LOCAL_PRIVATE, cp, chd);
    own_stream_hex(f->p.client_home, f->p.client_id, DBK_LOCAL_SHARED, cs, csh);
    own_stream_hex(f->p.counselor_home, f->p.counselor_id, DBK_LOCAL_PRIVATE, op, ohd);
    hex_of(f->p.client_id, hc);
    hex_of(f->p.counselor_id, ho);
    snprintf(sql, sizeof sql,
             "UPDATE records SET stream = x'%s', seq = (SELECT seq + 1 FROM streams WHERE id = "
             "x'%s') WHERE stream = x'%s' AND seq = (SELECT max(seq) FROM records WHERE stream "
             "= x'%s' AND record != x'%s');"
             "UPDATE streams SET seq = seq + 1 WHERE id = x'%s';"
             "INSERT INTO records(stream, record, seq, clock, device, epoch, creator, envelope) "
             "SELECT x'%s', record, (SELECT seq + 1 FROM streams WHERE id = x'%s'), clock, "
             "device, epoch, creator, envelope FROM records WHERE stream = x'%s' AND seq = "
             "(SELECT max(seq) FROM records WHERE stream = x'%s' AND record != x'%s');"
             "UPDATE streams SET seq = seq + 1 WHERE id = x'%s';"
             "UPDATE accounts SET role = %d, counselor = NULL WHERE id = x'%s';",
             cs, cs, cp, cp, chd, cs, cp, cp, op, op, ohd, cp, DBK_ROLE_COUNSELOR, hc);
    turn_server(f, sql);
    int role1 = role_of_new_device(f, link, "replayed", &st1, &checked1, NULL);
    /* The counselor's record out again, the role and counselor as they were. */
    snprintf(sql, sizeof sql,
             "DELETE FROM records WHERE stream = x'%s' AND creator = x'%s';"
             "UPDATE accounts SET role = %d, counselor = x'%s' WHERE id = x'%s';",
             cp, ho, DBK_ROLE_CLIENT, ho, hc);
    turn_server(f, sql);
    int role2 = role_of_new_device(f, link, "shared", &st2, &checked2, NULL);
    int leaked = (role1 == DBK_ROLE_COUNSELOR && checked1) + (role2 != 0 && checked2);

    dbk_report("malicious server: role records out of place at a second device's login",
               "the server names the client's account a counselor's and serves the "
               "counselor's own role record in the client's private stream, the client's "
               "moved to its shared stream; then the true role with the client's record "
               "in the shared stream only",
               "counselor's record replayed: login exit %d, role %d, checked %s; client's "
               "record in the shared stream: login exit %d, role %d, checked %s; roles "
               "checked from a record out of place (leaked): %d",
               st1, role1, checked1 ? "yes" : "no", st2, role2, checked2 ? "yes" : "no", leaked);
    assert_int_equal(leaked, 0);
}

/*
 * The role record withheld for good (proto/TRUST.md T13): a new device of the client
 * takes the server's word, unchecked. That must be said not only at the login but at
 * each sync while it lasts (the login told the user to sync again to check it); and the
 * account's own head, which counts the role record, tells the record is withheld.
 */
static void
test_role_withheld_for_good(void **state)
{
    struct fx *f = *state;
    char link[512], sql[600], home2[4300];
    dbk_run_result r;
    int said = 0, withheld = 0;
    const int syncs = 2;

    login_link_of(f->p.client_home, link);
    drop_role_sql(f, sql, sizeof sql);
    turn_server(f, sql);
    snprintf(home2, sizeof home2, "%s/unchecked", f->p.home);
    setenv("DAYBOOK_HOME", home2, 1);
    r = tc_cli("login", link, NULL);
    int login_status = r.status;
    bool login_said = strstr(r.err, "the server's word") != NULL;
    dbk_run_result_free(&r);
    for (int i = 0; i < syncs; i++) {
        r = tc_cli("--json", "sync", NULL);
        said += strstr(r.err, "server's word alone") != NULL;
        json_t *j = json_loads(r.out, 0, NULL);
        withheld +=
            json_integer_value(json_object_get(json_object_get(j, "withheld"), "records")) > 0;
        json_decref(j);
        dbk_run_result_free(&r);
    }
    r = tc_cli("--json", "status", NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    bool checked = json_is_true(json_object_get(j, "role_checked"));
    json_decref(j);
    dbk_run_result_free(&r);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);

    dbk_report("malicious server: the role record withheld for good from a second device",
               "the server drops the client's role record, then the client signs in on a new "
               "device and syncs it twice",
               "login exit %d%s; status role_checked %s; syncs that told the record withheld "
               "(its head): %d of %d; syncs that did not say the role is unchecked (leaked): %d",
               login_status, login_said ? ", said unchecked" : "", checked ? "true" : "false",
               withheld, syncs, syncs - said);
    assert_int_equal(login_status, 0);
    assert_true(login_said);
    assert_false(checked);
    assert_int_equal(syncs - said, 0);
}

/*
 * A device from before T13 whose role was the server's word at its login (no
 * joined_by_login or role_unsigned mark): here a second device of the client that works
 * as a counselor's. Its sync, finding the account's own role record naming the other
 * role, must say so loudly and exit 1, never take the record as "held" and go quiet.
 */
static void
test_role_old_device_other_role(void **state)
{
    struct fx *f = *state;
    char link[512], home2[4300];
    dbk_run_result r;
    dbk_session s;
    int st;
    bool checked;

    login_link_of(f->p.client_home, link); /* the client's role record pushed */
    assert_int_equal(role_of_new_device(f, link, "old", &st, &checked, NULL), DBK_ROLE_CLIENT);
    snprintf(home2, sizeof home2, "%s/old", f->p.home);
    setenv("DAYBOOK_HOME", home2, 1);
    assert_int_equal(dbk_session_open(&s, false), 0);
    assert_int_equal(dbk_local_set_role(s.L, DBK_ROLE_COUNSELOR), 0);
    (void)dbk_local_del(s.L, "role_unsigned");
    (void)dbk_local_del(s.L, "role_record");
    (void)dbk_local_del(s.L, "joined_by_login");
    dbk_session_close(&s);
    int warned = 0, fails = 0;
    for (int i = 0; i < 2; i++) {
        r = tc_cli("sync", NULL);
        warned += strstr(r.err, "WARNING: this device works as a counselor's") != NULL;
        fails += r.status != 0;
        dbk_run_result_free(&r);
    }
    setenv("DAYBOOK_HOME", f->p.client_home, 1);

    dbk_report("malicious server: a device from before role records, given the other role",
               "a second device of the client whose login (before T13) took the server's word "
               "'counselor' syncs twice; the account's own role record says client",
               "syncs that warned: %d of 2, that exited 1: %d; syncs silent on the other role "
               "(leaked): %d",
               warned, fails, 2 - warned);
    assert_int_equal(warned, 2);
    assert_int_equal(fails, 2);
}

/*
 * An unchecked counselor's role (proto/TRUST.md T13): the server names the client's
 * account a counselor's and withholds its role record, so a new device of the client
 * works as a counselor's on the server's word. It must not hand out what only a
 * counselor's checked role may: an invite (whose link makes another person's device pin
 * this account's keys as their counselor's and share their entries with it).
 */
static void
test_role_unchecked_counselor_invites(void **state)
{
    struct fx *f = *state;
    char link[512], hc[33], sql[800], home2[4300], cp[33], chd[33];
    int st;
    bool checked;

    login_link_of(f->p.client_home, link);
    /* The role record withheld, and the pin record with it: a client's pin of its
     * counselor says the account is a client's, and a login refuses a counselor's role
     * then (book/role.h). */
    own_stream_hex(f->p.client_home, f->p.client_id, DBK_LOCAL_PRIVATE, cp, chd);
    snprintf(sql, sizeof sql, "DELETE FROM records WHERE stream = x'%s' AND record != x'%s';", cp,
             chd);
    snprintf(sql + strlen(sql), sizeof sql - strlen(sql),
             "UPDATE accounts SET role = %d, counselor = NULL WHERE id = x'%s';",
             DBK_ROLE_COUNSELOR, hex_of(f->p.client_id, hc));
    turn_server(f, sql);
    int role = role_of_new_device(f, link, "unchecked-counselor", &st, &checked, NULL);
    assert_int_equal(role, DBK_ROLE_COUNSELOR);
    assert_false(checked);
    snprintf(home2, sizeof home2, "%s/unchecked-counselor", f->p.home);
    setenv("DAYBOOK_HOME", home2, 1);
    dbk_run_result r = tc_cli("invite", "--name", "Someone New", NULL);
    int status = r.status;
    bool said = strstr(r.err, "server's word") != NULL;
    dbk_run_result_free(&r);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);

    dbk_report("malicious server: an unchecked counselor's role hands out an invite",
               "the server names the client's account a counselor's and withholds its role "
               "record; the client's new device, a counselor's on the server's word, runs "
               "'daybook invite'",
               "login exit %d; invite exit %d%s; invites made on an unchecked role (leaked): %d",
               st, status, said ? ", said why" : "", status == 0);
    assert_int_not_equal(status, 0);
    assert_true(said);
}

/*
 * The server's role at a second login (proto/TRUST.md T13): a device signs in again
 * ('daybook login' without a link) while the server names the other role for the
 * account; once on a device whose role the account's record checked, once on one whose
 * record was withheld (unchecked). The role a device works by never moves on a login's
 * answer, and an unchecked one stays said so.
 */
static void
test_role_login_again(void **state)
{
    struct fx *f = *state;
    char link[512], hc[33], sql[800], home2[4300];
    int st1, st2;
    bool checked1, checked2;
    dbk_session s;

    login_link_of(f->p.client_home, link);
    assert_int_equal(role_of_new_device(f, link, "checked", &st1, &checked1, NULL),
                     DBK_ROLE_CLIENT);
    assert_true(checked1);
    drop_role_sql(f, sql, sizeof sql);
    turn_server(f, sql);
    assert_int_equal(role_of_new_device(f, link, "unchecked", &st2, &checked2, NULL),
                     DBK_ROLE_CLIENT);
    assert_false(checked2);
    snprintf(sql, sizeof sql, "UPDATE accounts SET role = %d, counselor = NULL WHERE id = x'%s';",
             DBK_ROLE_COUNSELOR, hex_of(f->p.client_id, hc));
    turn_server(f, sql);

    int moved = 0, cleared = 0, status[2];
    const char *names[] = {"checked", "unchecked"};
    for (int i = 0; i < 2; i++) {
        snprintf(home2, sizeof home2, "%s/%s", f->p.home, names[i]);
        setenv("DAYBOOK_HOME", home2, 1);
        dbk_run_result r = tc_cli("login", NULL);
        status[i] = r.status;
        dbk_run_result_free(&r);
        assert_int_equal(dbk_session_open(&s, false), 0);
        moved += s.role != DBK_ROLE_CLIENT;
        cleared += i == 1 && dbk_local_get_int(s.L, "role_unsigned", 0) == 0;
        dbk_session_close(&s);
    }
    setenv("DAYBOOK_HOME", f->p.client_home, 1);

    dbk_report("malicious server: the other role at a device's second login",
               "the server names the client's account a counselor's, then two devices of "
               "the client sign in again: one whose role was checked, one whose role record "
               "was withheld",
               "login exits %d, %d; roles moved to the server's word (leaked): %d; unchecked "
               "marks cleared (leaked): %d",
               status[0], status[1], moved, cleared);
    assert_int_equal(moved, 0);
    assert_int_equal(cleared, 0);
}

/* A new device of the counselor (daybook login, into the pair's directory/name) and its
 * first 'daybook sync --json': its exit, and what it counts withheld (*records) and as
 * others' streams with nothing seen and no signed head (*unseen). */
static int
new_counselor_sync(struct fx *f, const char *name, long *records, long *unseen)
{
    char link[512], home2[4300];
    int st;
    bool checked;

    login_link_of(f->p.counselor_home, link);
    assert_int_equal(role_of_new_device(f, link, name, &st, &checked, NULL), DBK_ROLE_COUNSELOR);
    snprintf(home2, sizeof home2, "%s/%s", f->p.home, name);
    setenv("DAYBOOK_HOME", home2, 1);
    dbk_run_result r = tc_cli("--json", "sync", NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    json_t *w = json_object_get(j, "withheld");
    *records = (long)json_integer_value(json_object_get(w, "records"));
    *unseen = (long)json_integer_value(json_object_get(w, "streams_unseen"));
    int status = r.status;
    json_decref(j);
    dbk_run_result_free(&r);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    return status;
}

/*
 * A stream's first head withheld, its owner having written nothing (proto/TRUST.md T12):
 * the server drops every record of the client's shared stream, its first head with them. A new
 * device of the counselor and a new device of the client must each say they cannot tell
 * (withheld.streams_unseen, withheld.own_unseen), never that the stream is complete.
 */
static void
test_first_head_withheld(void **state)
{
    struct fx *f = *state;
    char cs[33], csh[33], sql[300], clink[512];
    bool checked, said;

    login_link_of(f->p.client_home, clink);
    client_shared_hex(f, cs, csh);
    snprintf(sql, sizeof sql, "DELETE FROM records WHERE stream = x'%s';", cs);
    turn_server(f, sql);
    long told, unseen;
    (void)new_counselor_sync(f, "counselor-new", &told, &unseen);
    int own = own_unseen_of_new_device(f, clink, "client-new", &said, &checked);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);

    dbk_report("malicious server: a stream's first head withheld, nothing written",
               "the server drops every record of the client's shared stream, its first head "
               "with them, the client having written nothing; a new device of the counselor and "
               "one of the client sync",
               "counselor's streams_unseen %ld; client's own_unseen %d%s; readers told the "
               "stream complete (leaked): %d",
               unseen, own, said ? " in words" : "", (unseen < 1) + (own < 1));
    assert_true(unseen >= 1);
    assert_true(own >= 1);
}

/* Runs sql on the profile of the device under the pair's directory/name. */
static void
profile_sql(struct fx *f, const char *name, const char *sql)
{
    char path[4400], *err = NULL;
    sqlite3 *db;
    snprintf(path, sizeof path, "%s/%s/daybook.db", f->p.home, name);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("sql: %s", err);
    sqlite3_close(db);
}

/* A device of the client from before T13 whose login took the server's word 'counselor':
 * a second device ("wrong", by link) turned so, its marks removed and the account's role
 * record (all_private: every private record) out of its profile. DAYBOOK_HOME is left on
 * it; cp, chd: the client's private stream and its head, in hex. */
static void
old_device_as_counselor(struct fx *f, const char *link, bool all_private, char cp[33], char chd[33])
{
    char sql[600], home2[4300];
    int st;
    bool checked;
    dbk_session s;

    own_stream_hex(f->p.client_home, f->p.client_id, DBK_LOCAL_PRIVATE, cp, chd);
    assert_int_equal(role_of_new_device(f, link, "wrong", &st, &checked, NULL), DBK_ROLE_CLIENT);
    if (all_private)
        snprintf(sql, sizeof sql, "DELETE FROM records WHERE stream = x'%s' AND record != x'%s';",
                 cp, chd);
    else
        snprintf(sql, sizeof sql,
                 "DELETE FROM records WHERE stream = x'%s' AND record != x'%s' AND clock = "
                 "(SELECT max(clock) FROM records WHERE stream = x'%s' AND record != x'%s');",
                 cp, chd, cp, chd);
    profile_sql(f, "wrong", sql);
    profile_sql(
        f, "wrong",
        "DELETE FROM meta WHERE key IN ('role_unsigned', 'role_record', 'joined_by_login');");
    snprintf(home2, sizeof home2, "%s/wrong", f->p.home);
    setenv("DAYBOOK_HOME", home2, 1);
    assert_int_equal(dbk_session_open(&s, false), 0);
    assert_int_equal(dbk_local_set_role(s.L, DBK_ROLE_COUNSELOR), 0);
    dbk_session_close(&s);
}

/*
 * Two role records that disagree (proto/TRUST.md T13). A device of the client from
 * before this rule whose login took the server's word 'counselor' (here: a second
 * device turned so, its marks removed, and the account's private records out of its
 * profile, so that none contradicts the role) syncs before it holds a role record: it
 * signs 'counselor' (the limit TRUST.md says).
 * Then a new device must be refused at login, never take either; and a device of the
 * account from before this rule that holds both records when it first signs must say
 * they disagree, never go quiet.
 */
static void
test_role_records_disagree(void **state)
{
    struct fx *f = *state;
    char link[512], cp[33], chd[33], sql[600], home2[4300];
    int st;
    bool checked;
    dbk_run_result r;

    login_link_of(f->p.client_home, link); /* the client's record: client */
    assert_int_equal(role_of_new_device(f, link, "late", &st, &checked, NULL), DBK_ROLE_CLIENT);
    /* Its private records out of its profile, the pin record with the role record: no
     * record of the account's contradicts the role it then signs (book/role.h). */
    old_device_as_counselor(f, link, true, cp, chd);
    r = tc_cli("sync", NULL); /* signs 'counselor': none held */
    dbk_run_result_free(&r);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM records WHERE stream = x'%s' AND record != x'%s'", cp, chd);
    long long private_records = server_int(f, sql); /* the pin record and two role records */

    int role_new = role_of_new_device(f, link, "after-two", &st, &checked, NULL);
    snprintf(home2, sizeof home2, "%s/late", f->p.home);
    setenv("DAYBOOK_HOME", home2, 1);
    cli_ok("sync", NULL, NULL); /* pulls both; its mark was set at its login's check */
    profile_sql(f, "late", "DELETE FROM meta WHERE key IN ('role_record', 'joined_by_login');");
    r = tc_cli("sync", NULL);
    bool late_warned = strstr(r.err, "records of its role disagree") != NULL;
    int late_status = r.status;
    dbk_run_result_free(&r);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);

    dbk_report("malicious server: two role records that disagree",
               "a device of the client from before T13 whose login took the server's word "
               "'counselor' signs it before it holds the account's record; a new device "
               "signs in; a device from before T13 holding both records syncs",
               "records in the private stream besides the head: %lld; the new device's login "
               "exit %d, role kept %d; the device holding both: sync exit %d%s; devices "
               "given a role from disagreeing records or silent on them (leaked): %d",
               private_records, st, role_new, late_status, late_warned ? ", warned" : "",
               (role_new != 0) + !late_warned);
    assert_true(private_records >= 3);
    assert_int_not_equal(st, 0);
    assert_int_equal(role_new, 0);
    assert_true(late_warned);
    assert_int_not_equal(late_status, 0);
}

/* Two syncs of the device under DAYBOOK_HOME: the records they signed into the client's
 * private stream cp besides its head chd (on the server), and how many of them said
 * warning (unless NULL) and exited non-zero. */
static long long
two_syncs_signing(struct fx *f, const char *cp, const char *chd, const char *warning, int *warned,
                  int *fails)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM records WHERE stream = x'%s' AND record != x'%s'", cp, chd);
    long long before = server_int(f, sql);
    *warned = *fails = 0;
    for (int i = 0; i < 2; i++) {
        dbk_run_result r = tc_cli("sync", NULL);
        *warned += warning != NULL && strstr(r.err, warning) != NULL;
        *fails += r.status != 0;
        dbk_run_result_free(&r);
    }
    return server_int(f, sql) - before;
}

/*
 * A device from before T13 given a false role, whose account's records contradict it
 * (proto/TRUST.md T13): a second device of the client whose login took the server's
 * word 'counselor' (its marks removed, the account's role record out of its profile, as
 * before the account held one) syncs. It holds the pin of its counselor that the
 * account signed at enrollment: a counselor's account enrolls with no counselor, so it
 * must sign no 'counselor' role record for the account, and say why.
 */
static void
test_role_old_device_contradicted(void **state)
{
    struct fx *f = *state;
    char link[512], cp[33], chd[33];
    int st;
    bool checked;

    login_link_of(f->p.client_home, link); /* the client's record: client */
    old_device_as_counselor(f, link, false, cp, chd);
    int warned, fails;
    long long leaked = two_syncs_signing(
        f, cp, chd, "what your account already signed is a client's", &warned, &fails);
    int role_new = role_of_new_device(f, link, "after", &st, &checked, NULL);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);

    dbk_report("malicious server: a device from before role records, given the other role, "
               "its account's records contradicting it",
               "a second device of the client whose login (before T13) took the server's word "
               "'counselor' syncs twice, holding the account's pin of its counselor but not "
               "its role record; then a new device signs in",
               "syncs that warned: %d of 2, that exited 1: %d; the new device's login exit %d, "
               "role %d; role records signed for the false role (leaked): %lld",
               warned, fails, st, role_new, leaked);
    assert_int_equal(leaked, 0);
    assert_int_equal(warned, 2);
    assert_int_equal(fails, 2);
    assert_int_equal(role_new, DBK_ROLE_CLIENT);
}

/*
 * One role record, contradicted by what the account signed besides (proto/TRUST.md T13):
 * a device of the client from before this rule whose login took the server's word
 * 'counselor', none of the account's private records in its profile (withheld from it
 * then), signs 'counselor' (the limit TRUST.md says); the server drops the client's own
 * role record and names the account a counselor's. A new device of the client then
 * holds one role record, 'counselor', and the account's pin of its counselor taken at
 * enrollment, a client's: it must not be kept as a counselor's.
 */
static void
test_role_record_contradicted(void **state)
{
    struct fx *f = *state;
    char link[512], cp[33], chd[33], hc[33], sql[800];
    int st;
    bool checked;

    login_link_of(f->p.client_home, link); /* the client's record: client */
    old_device_as_counselor(f, link, true, cp, chd);
    drop_role_sql(f, sql, sizeof sql);
    snprintf(sql + strlen(sql), sizeof sql - strlen(sql),
             "UPDATE accounts SET role = %d, counselor = NULL WHERE id = x'%s';",
             DBK_ROLE_COUNSELOR, hex_of(f->p.client_id, hc));
    turn_server(f, sql);
    dbk_run_result r = tc_cli("sync", NULL); /* signs 'counselor': none held contradicts it */
    dbk_run_result_free(&r);
    int role = role_of_new_device(f, link, "after", &st, &checked, NULL);

    dbk_report("malicious server: one role record, the false one, contradicted by the "
               "account's other records",
               "a device of the client from before T13, given 'counselor' and none of the "
               "account's private records, signs it; the server drops the client's role "
               "record and names the account a counselor's; the client signs in on a new "
               "device (the pin of its counselor, from enrollment, reaches it)",
               "login exit %d; role kept %d; devices kept as a counselor's (leaked): %d", st, role,
               role == DBK_ROLE_COUNSELOR);
    assert_int_not_equal(role, DBK_ROLE_COUNSELOR);
    assert_int_not_equal(st, 0);
}

/* The team link of the account whose profile is under home, made as `daybook team-link`
 * makes it (cmd_team.c) but here in the test: that command is a counselor's, and a
 * device whose account's records say it is a client's is refused it (T13). */
static void
team_link_of(const char *home, char *out, size_t cap)
{
    char fp[DBK_FP_SHORT_LEN + 1], cid[DBK_ID_TEXT_LEN + 1];
    dbk_session s;
    setenv("DAYBOOK_HOME", home, 1);
    assert_int_equal(dbk_session_open(&s, false), 0);
    assert_int_equal(dbk_unlock(&s), 0);
    dbk_fingerprint_short(fp, &s.account, s.keys->sign_pk, s.keys->box_pk);
    dbk_id_to_text(&s.account, cid);
    snprintf(out, cap, "daybook://team?server=");
    assert_int_equal(dbk_pct_append(out, cap, s.server), 0);
    snprintf(out + strlen(out), cap - strlen(out), "&counselor=%s&fp=%s", cid, fp);
    dbk_session_close(&s);
}

/* The device of old_device_as_counselor ("wrong"; cp, chd as there), the server calling
 * the client's account a counselor's, and another account ("other", made with an invite
 * of the fixture's counselor; its id into other unless NULL) sharing with the account
 * that the wrong device's team link (into team) names. DAYBOOK_HOME is left at "other". */
static void
turned_device_shared_with(struct fx *f, char cp[33], char chd[33], char *team, size_t cap,
                          char other[DBK_ID_TEXT_LEN + 1])
{
    char link[512], hc[33], sql[300], home2[4300];

    login_link_of(f->p.client_home, link); /* the client's record: client */
    old_device_as_counselor(f, link, false, cp, chd);
    snprintf(home2, sizeof home2, "%s/wrong", f->p.home);
    team_link_of(home2, team, cap);
    snprintf(sql, sizeof sql, "UPDATE accounts SET role = %d, counselor = NULL WHERE id = x'%s';",
             DBK_ROLE_COUNSELOR, hex_of(f->p.client_id, hc));
    turn_server(f, sql);
    tc_cli_another_client(&f->p, "other", home2, sizeof home2, other);
    cli_ok("share", team, "--yes");
}

/*
 * A device told by its account's own records that its role is false acts in it no more
 * (proto/TRUST.md T13): a second device of the client whose login (before this rule)
 * took the server's word 'counselor', holding the account's pin of its counselor, is
 * told at each sync that its account is a client's. Another account the server's side
 * runs shares a stream with it (by a link naming the client's account, as a team link
 * does); the device, syncing as a counselor, would learn that person's name and sign an
 * alias for it into the client's private stream: a counselor's record signed with the
 * client's key, so the account's own records would then say both roles.
 */
static void
test_role_contradicted_acts_not(void **state)
{
    struct fx *f = *state;
    char cp[33], chd[33], home2[4300], team[2048];

    turned_device_shared_with(f, cp, chd, team, sizeof team, NULL);
    cli_ok("sync", NULL, NULL);

    snprintf(home2, sizeof home2, "%s/wrong", f->p.home);
    setenv("DAYBOOK_HOME", home2, 1);
    int warned, fails;
    long long leaked = two_syncs_signing(
        f, cp, chd, "what your account already signed is a client's", &warned, &fails);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);

    dbk_report("malicious server: a device from before role records, given the other role, "
               "its account's records contradicting it, shared with by another account",
               "a second device of the client whose login (before T13) took the server's word "
               "'counselor' syncs twice after another account shared a stream with the "
               "client's account",
               "syncs that warned: %d of 2; records the device signed into the client's "
               "private stream as a counselor's (leaked): %lld",
               warned, leaked);
    assert_int_equal(warned, 2);
    assert_int_equal(leaked, 0);
}

/*
 * A role record signed before the account's records reached the device, contradicted
 * after (proto/TRUST.md T13): a second device of the client whose login (before this
 * rule) took the server's word 'counselor', the account's private records withheld from
 * it, signs 'counselor' at its first sync; the server then serves those records (the
 * client's role record, its pin of its counselor) and another account shares a stream
 * with the client's account. The device now holds records that say it is a client's;
 * its syncs, learning that person's name as a counselor's alias, would sign it into the
 * client's private stream with the client's key. The mark of its own role record must
 * not stand for a check of the records it holds now.
 */
static void
test_role_signed_then_contradicted(void **state)
{
    struct fx *f = *state;
    char link[512], cp[33], chd[33], hc[33], sql[600], wrong[4300], home2[4300], team[2048];

    login_link_of(f->p.client_home, link); /* the client's record: client */
    old_device_as_counselor(f, link, true, cp, chd);
    dbk_run_result r = tc_cli("sync", NULL); /* signs 'counselor': none held contradicts it */
    dbk_run_result_free(&r);
    /* The account's private records, withheld from it until now, served: the device
     * pulls its private stream from the start again. */
    snprintf(sql, sizeof sql, "UPDATE streams SET cursor = 0 WHERE id = x'%s';", cp);
    profile_sql(f, "wrong", sql);
    snprintf(wrong, sizeof wrong, "%s/wrong", f->p.home);
    team_link_of(wrong, team, sizeof team);
    snprintf(sql, sizeof sql, "UPDATE accounts SET role = %d, counselor = NULL WHERE id = x'%s';",
             DBK_ROLE_COUNSELOR, hex_of(f->p.client_id, hc));
    turn_server(f, sql);
    tc_cli_another_client(&f->p, "other", home2, sizeof home2, NULL);
    cli_ok("share", team, "--yes");

    setenv("DAYBOOK_HOME", wrong, 1);
    int warned, fails;
    long long leaked = two_syncs_signing(f, cp, chd, "contact the clinic", &warned, &fails);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);

    dbk_report("malicious server: a role record signed by a device given the other role, the "
               "account's records served to it after",
               "a second device of the client whose login (before T13) took the server's word "
               "'counselor' signs it, the account's private records withheld; they are served "
               "after, another account shares with the client's account, the device syncs "
               "twice",
               "syncs that warned: %d of 2, that exited 1: %d; records the device signed into "
               "the client's private stream as a counselor's (leaked): %lld",
               warned, fails, leaked);
    assert_int_equal(leaked, 0);
    assert_int_equal(warned, 2);
    assert_int_equal(fails, 2);
}

/*
 * The role record withheld and the other role named (proto/TRUST.md T13): the server
 * drops the client's role record and names its account a counselor's; a new device of
 * the client signs in. With no role record it took the server's word, unchecked; but the
 * account's pin of its counselor, signed at enrollment, is a client's: the login must
 * keep no counselor's profile.
 */
static void
test_role_withheld_contradicted(void **state)
{
    struct fx *f = *state;
    char link[512], hc[33], sql[800];
    int st;
    bool warned;

    login_link_of(f->p.client_home, link);
    drop_role_sql(f, sql, sizeof sql);
    snprintf(sql + strlen(sql), sizeof sql - strlen(sql),
             "UPDATE accounts SET role = %d, counselor = NULL WHERE id = x'%s';",
             DBK_ROLE_COUNSELOR, hex_of(f->p.client_id, hc));
    turn_server(f, sql);
    char home2[4300];
    snprintf(home2, sizeof home2, "%s/contradicted", f->p.home);
    setenv("DAYBOOK_HOME", home2, 1);
    dbk_run_result r = tc_cli("login", link, NULL);
    st = r.status;
    warned = strstr(r.err, "what your account already signed is a client's") != NULL;
    dbk_run_result_free(&r);
    int role = 0;
    dbk_session s;
    if (dbk_session_open(&s, false) == 0) {
        role = s.role;
        dbk_session_close(&s);
    }
    setenv("DAYBOOK_HOME", f->p.client_home, 1);

    dbk_report("malicious server: the role record withheld, the other role named, the "
               "account's records contradicting it",
               "the server drops the client's role record and names its account a "
               "counselor's; the client signs in on a new device (the account's pin of its "
               "counselor, from enrollment, reaches it)",
               "login exit %d%s; role kept %d; devices kept as a counselor's (leaked): %d", st,
               warned ? " with a warning" : "", role, role == DBK_ROLE_COUNSELOR);
    assert_int_not_equal(role, DBK_ROLE_COUNSELOR);
    assert_int_not_equal(st, 0);
    assert_true(warned);
}

/* One integer the profile under home answers to sql. */
static long long
profile_int(const char *home, const char *sql)
{
    char path[4300];
    sqlite3 *db;
    sqlite3_stmt *st;
    long long v = -1;
    snprintf(path, sizeof path, "%s/daybook.db", home);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* What the client's profile under home believes: streams and grants it holds, whose
 * streams, its role; as one line for the report and a count of what differs from b. */
struct belief {
    long long streams, not_own_or_counselor, grants, role;
};

static void
belief_of(struct fx *f, const char *home, struct belief *b)
{
    char sql[300], c[33], k[33];
    b->streams = profile_int(home, "SELECT count(*) FROM streams");
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM streams WHERE owner != x'%s' AND owner != x'%s'",
             hex_of(f->p.client_id, c), hex_of(f->p.counselor_id, k));
    b->not_own_or_counselor = profile_int(home, sql);
    b->grants = profile_int(home, "SELECT count(*) FROM grants");
    b->role = profile_int(home, "SELECT value FROM meta WHERE key = 'role'");
}

/* Runs each command (up to ten words, NULL after the last) in the profile DAYBOOK_HOME
 * names: how many exited 0, how many said to contact the clinic (the others are shown). */
static void
run_each_refused(const char *cmds[][11], size_t n, int *ran_ok, int *told)
{
    *ran_ok = *told = 0;
    for (size_t i = 0; i < n; i++) {
        const char *const *a = cmds[i];
        dbk_run_result r =
            tc_cli(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10]);
        *ran_ok += r.status == 0;
        if (strstr(r.err, "contact the clinic") != NULL)
            ++*told;
        else
            print_message("'%s %s' (exit %d) said: %s\n", a[0], a[1] ? a[1] : "", r.status, r.err);
        dbk_run_result_free(&r);
    }
}

/*
 * A device whose false role its account's records contradict signs nothing of that role
 * by hand either (proto/TRUST.md T13): the device of test_role_contradicted_acts_not (a
 * second device of the client whose login, before role records, took the server's word
 * 'counselor', holding the account's pin of its counselor), with another account that
 * shared a stream with the client's account and wrote an entry there, runs each command
 * that signs a counselor's record (an alias, a note, a session, an entry marked
 * discussed, a skill assigned, a plan or a measure set for a client, a group session, a
 * transfer, a review's note of what it showed) or acts as a counselor (an invite, a
 * team link), and the client's own commands, which a counselor's profile is refused
 * anyway: each must refuse, saying what is wrong and to contact the clinic.
 */
static void
test_role_contradicted_commands_refused(void **state)
{
    struct fx *f = *state;
    char cp[33], chd[33], wrong[4300], team[2048];
    char other[DBK_ID_TEXT_LEN + 1], entry[DBK_ID_TEXT_LEN + 1], plan[4400];
    json_t *j;

    turned_device_shared_with(f, cp, chd, team, sizeof team, other);
    snprintf(wrong, sizeof wrong, "%s/wrong", f->p.home);
    j = tc_json_of(tc_cli("--json", "journal", "-m", "a hard evening", NULL), "other's journal");
    snprintf(entry, sizeof entry, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    cli_ok("sync", NULL, NULL);
    snprintf(plan, sizeof plan, "%s/plan.txt", f->p.home);
    FILE *pf = fopen(plan, "w");
    assert_non_null(pf);
    fputs("## warning_signs\nlate nights\n", pf);
    fclose(pf);

    setenv("DAYBOOK_HOME", wrong, 1);
    dbk_run_result r = tc_cli("sync", NULL); /* pulls the other account's stream; warns */
    dbk_run_result_free(&r);
    const char *cmds[][11] = {
        {"clients", "alias", other, "Sam"},
        {"note", other, "-m", "seen today", "--share"},
        {"note", other, "-m", "my own record", "--private"},
        {"session", "done", other, "--yes"},
        {"session", "discussed", other, entry},
        {"session", "group", other},
        {"assign", other, "walk"},
        {"unassign", other, "walk"},
        {"plan", "set", "safety", "--from", plan, "--client", other},
        {"measure", "schedule", other, "phq9", "--every", "7"},
        {"med", "set", other, "naltrexone", "--dose", "50 mg", "--frequency", "daily",
         "--take-home"},
        {"transfer", team, other},
        {"review", other, "--format", "json"},
        {"clients"},
        {"invite", "--name", "someone"},
        {"team-link"},
        {"journal", "-m", "mine"},
        {"check", "walk"},
        {"share", team, "--yes"},
    };
    size_t n = sizeof cmds / sizeof cmds[0];
    int ran_ok, told;
    long long before = profile_int(wrong, "SELECT count(*) FROM records");
    run_each_refused(cmds, n, &ran_ok, &told);
    long long after = profile_int(wrong, "SELECT count(*) FROM records");
    setenv("DAYBOOK_HOME", f->p.client_home, 1);

    dbk_report("malicious server: a device from before role records, given the other role, "
               "its account's records contradicting it, run by hand",
               "a second device of the client whose login (before T13) took the server's word "
               "'counselor', another account sharing a stream with the client's account, "
               "runs each counselor's command (alias, note, session, discussed, assign, plan, "
               "measure, med, transfer, review, invite, team-link) and the client's own",
               "commands %zu: that exited 0 %d, that said to contact the clinic %d; records "
               "signed into any stream (leaked): %lld",
               n, ran_ok, told, after - before);
    assert_int_equal(after - before, 0);
    assert_int_equal(ran_ok, 0);
    assert_int_equal(told, (int)n);
}

/*
 * The role check keeps what it read against the private stream's mark (client/book/role.c)
 * and must still see every record that arrives after: a second device of the client
 * whose login (before T13) took the server's word 'counselor', the account's private
 * records out of its profile and the server naming the account a counselor's, runs a
 * counselor's command that passes the check (and
 * keeps what it read); then the account's records, the pin of its counselor among them,
 * reach it by a sync. Each counselor's command after must be refused, signing nothing.
 */
static void
test_role_checked_then_records_arrive(void **state)
{
    struct fx *f = *state;
    char link[512], cp[33], chd[33], hc[33], sql[600], wrong[4300];

    login_link_of(f->p.client_home, link);
    old_device_as_counselor(f, link, true, cp, chd);
    snprintf(wrong, sizeof wrong, "%s/wrong", f->p.home);
    snprintf(sql, sizeof sql, "UPDATE accounts SET role = %d, counselor = NULL WHERE id = x'%s';",
             DBK_ROLE_COUNSELOR, hex_of(f->p.client_id, hc));
    turn_server(f, sql);
    dbk_run_result r = tc_cli("clients", NULL); /* checked: nothing contradicts it yet */
    int first = r.status;
    if (first != 0)
        print_message("'clients' said: %s\n", r.err);
    dbk_run_result_free(&r);
    long long kept = profile_int(wrong, "SELECT count(*) FROM meta WHERE key = 'role_seen'");
    /* The account's private records, withheld until now, served. */
    snprintf(sql, sizeof sql, "UPDATE streams SET cursor = 0 WHERE id = x'%s';", cp);
    profile_sql(f, "wrong", sql);
    long long held = profile_int(wrong, "SELECT count(*) FROM records");
    r = tc_cli("sync", NULL);
    dbk_run_result_free(&r);
    long long pins = profile_int(wrong, "SELECT count(*) FROM records");
    const char *cmds[][11] = {
        {"clients"},
        {"invite", "--name", "someone"},
        {"team-link"},
    };
    size_t n = sizeof cmds / sizeof cmds[0];
    int ran_ok, told;
    long long before = profile_int(wrong, "SELECT count(*) FROM records");
    run_each_refused(cmds, n, &ran_ok, &told);
    long long after = profile_int(wrong, "SELECT count(*) FROM records");
    setenv("DAYBOOK_HOME", f->p.client_home, 1);

    dbk_report("malicious server: the account's records reach a device after its role was "
               "checked",
               "a second device of the client whose login (before T13) took the server's word "
               "'counselor', the account's private records withheld, the server naming it a "
               "counselor's, runs 'clients' (checked, kept), then syncs them and runs counselor's "
               "commands",
               "first 'clients' exited %d, check kept: %lld; records after the sync: %lld; "
               "commands %zu: exited 0 %d, said to contact the clinic %d; signed (leaked): %lld",
               first, kept, pins, n, ran_ok, told, after - before);
    assert_int_equal(first, 0);
    assert_int_equal(kept, 1);
    assert_true(pins > held); /* the records did reach it: what follows is checked on them */
    assert_int_equal(after - before, 0);
    assert_int_equal(ran_ok, 0);
    assert_int_equal(told, (int)n);
}

/*
 * Another account's token at login (proto/TRUST.md T3, T13; the token is no trust
 * anchor): the server hands each token it makes the counselor's account (a trigger on
 * its tokens). The client's device signs in again ('daybook login') and syncs; a new
 * device of the client signs in with the client's link. What the client's devices
 * believe must be what the account signed: no stream, grant or role of the
 * counselor's account taken as the client's, and a new device keeps no profile; nor may
 * the device say it is signed in on a token that serves another account.
 */
static void
test_login_other_accounts_token(void **state)
{
    struct fx *f = *state;
    char sql[900], k[33], link[512], home2[4300];
    struct belief before, after;

    login_link_of(f->p.client_home, link);
    cli_ok("journal", "-m", "written before the swap");
    cli_ok("sync", NULL, NULL);
    belief_of(f, f->p.client_home, &before);
    hex_of(f->p.counselor_id, k);
    if (dbk_test_pg())
        snprintf(sql, sizeof sql,
                 "CREATE FUNCTION swap() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN "
                 "NEW.account := '\\x%s'::bytea; RETURN NEW; END$$;"
                 "CREATE TRIGGER swap BEFORE INSERT ON tokens FOR EACH ROW EXECUTE FUNCTION "
                 "swap();",
                 k);
    else
        snprintf(sql, sizeof sql,
                 "CREATE TRIGGER swap AFTER INSERT ON tokens BEGIN UPDATE tokens SET account = "
                 "x'%s' WHERE hash = NEW.hash; END;",
                 k);
    turn_server(f, sql);

    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    dbk_run_result r = tc_cli("login", NULL);
    int again = r.status;
    bool warned = strstr(r.err, "another account's access") != NULL;
    dbk_run_result_free(&r);
    r = tc_cli("--json", "sync", NULL);
    int sync_status = r.status;
    dbk_run_result_free(&r);
    r = tc_cli("--json", "log", NULL);
    int log_status = r.status;
    dbk_run_result_free(&r);
    belief_of(f, f->p.client_home, &after);
    int moved = (after.streams != before.streams) + (after.not_own_or_counselor != 0) +
                (after.grants != before.grants) + (after.role != before.role);

    snprintf(home2, sizeof home2, "%s/swapped", f->p.home);
    setenv("DAYBOOK_HOME", home2, 1);
    r = tc_cli("login", link, NULL);
    int fresh = r.status;
    /* Its passphrase was just taken by the login: "wrong passphrase" would send the
     * user to retry it, on the server's doing. */
    bool fresh_blamed = strstr(r.err, "passphrase") != NULL && !strstr(r.err, "another account");
    dbk_run_result_free(&r);
    long long kept = profile_int(home2, "SELECT count(*) FROM meta");
    setenv("DAYBOOK_HOME", f->p.client_home, 1);

    dbk_report("malicious server: another account's token at login",
               "the server makes every new token the counselor's account's; the client's "
               "device signs in again and syncs, and a new device of the client signs in",
               "login again exit %d%s, sync exit %d, log exit %d; streams %lld -> %lld, "
               "grants %lld -> %lld, role %lld -> %lld, others' streams %lld; the new "
               "device's login exit %d%s, profile kept: %s; beliefs moved by the other "
               "account's token, 'signed in' on it or the passphrase blamed (leaked): %d",
               again, warned ? " with a warning" : "", sync_status, log_status, before.streams,
               after.streams, before.grants, after.grants, before.role, after.role,
               after.not_own_or_counselor, fresh, fresh_blamed ? ", blaming the passphrase" : "",
               kept > 0 ? "yes" : "no", moved + (kept > 0) + (again == 0) + fresh_blamed);
    assert_int_equal(moved, 0);
    assert_int_not_equal(again, 0);
    assert_true(warned);
    assert_true(kept <= 0);
    assert_int_not_equal(fresh, 0);
    assert_false(fresh_blamed);
}

/*
 * Another counselor named at a second device's login (proto/TRUST.md T11): the server
 * makes an account of its own (its keys) and names it the client's counselor; the client
 * signs in on a new device. The account's pin record names the counselor it enrolled
 * with: the new device must not pin the server's counselor on first use, as for an
 * account that never wrote a pin record, and must say so.
 */
static void
test_second_device_other_counselor(void **state)
{
    struct fx *f = *state;
    unsigned char x_s[32], x_b[32];
    char sql[1200], hs[65], hb[65], hx[33], hk[33], hc[33], link[512];
    char xt[DBK_ID_TEXT_LEN + 1];
    dbk_id x;

    login_link_of(f->p.client_home, link);
    dbk_id_random(&x);
    dbk_id_to_text(&x, xt);
    fake_keys(x_s, x_b, hs, hb);
    snprintf(sql, sizeof sql,
             "INSERT INTO accounts(id, role, name, sign_pk, box_pk, login_pk, bundle, "
             "generation, counselor, created_at) SELECT x'%s', %d, 'Mallory Stand-In', x'%s', "
             "x'%s', login_pk, bundle, 1, NULL, created_at FROM accounts WHERE id = x'%s';"
             "UPDATE accounts SET counselor = x'%s' WHERE id = x'%s';",
             hex_of(xt, hx), DBK_ROLE_COUNSELOR, hs, hb, hex_of(f->p.counselor_id, hk), hx,
             hex_of(f->p.client_id, hc));
    turn_server(f, sql);

    int status;
    bool said;
    int planted =
        new_device_pins(f, link, "other-counselor", "never checked", &x, NULL, &status, &said);

    dbk_report("malicious server: another counselor named at a second device's login",
               "the server makes an account with keys of its own and names it the client's "
               "counselor; the client signs in on a new device (its pin record names the "
               "counselor it enrolled with)",
               "login exit %d%s; the server's counselor pinned on first use (leaked): %d", status,
               said ? " with a warning" : "", planted);
    assert_int_equal(planted, 0);
    assert_true(said);
    assert_int_not_equal(status, 0);
}

/* The server drops the client's private records (its head too unless keep_head) and
 * swaps the counselor's keys for its own; a new device of the client signs in into the
 * pair's directory/name: whether it pinned the server's keys for the counselor, *status
 * its exit, *said whether its stderr holds words. */
static bool
private_dropped_pins(struct fx *f, bool keep_head, const char *name, const char *words, int *status,
                     bool *said)
{
    unsigned char fake_s[32], fake_b[32];
    char sql[900], hs[65], hb[65], hex[33], cp[33], chd[33], link[512];
    dbk_id counselor;

    login_link_of(f->p.client_home, link);
    own_stream_hex(f->p.client_home, f->p.client_id, DBK_LOCAL_PRIVATE, cp, chd);
    fake_keys(fake_s, fake_b, hs, hb);
    snprintf(sql, sizeof sql,
             "DELETE FROM records WHERE stream = x'%s' AND (%d = 0 OR record != x'%s');"
             "UPDATE accounts SET sign_pk = x'%s', box_pk = x'%s' WHERE id = x'%s';",
             cp, keep_head, chd, hs, hb, hex_of(f->p.counselor_id, hex));
    turn_server(f, sql);
    assert_int_equal(dbk_id_from_text(&counselor, f->p.counselor_id, strlen(f->p.counselor_id)), 0);
    return new_device_pins(f, link, name, words, &counselor, fake_s, status, said);
}

/*
 * The pin record withheld (proto/TRUST.md T11, T12): the server drops every record of
 * the client's private stream but its head (the pin record and the role record), and
 * swaps the counselor's keys for its own; then the client signs in on a new device. The
 * head it gets counts the records it does not: it must not take the server's keys for
 * the counselor on first use, as for an account that never wrote a pin record.
 */
static void
test_pin_record_withheld(void **state)
{
    struct fx *f = *state;
    int status;
    bool said;
    int planted = private_dropped_pins(f, true, "pinless", "withholds", &status, &said);

    dbk_report("malicious server: the pin record withheld from a second device",
               "the server drops the client's pin and role records (its private stream but "
               "its head) and swaps the counselor's keys for its own; the client signs in on "
               "a new device",
               "login exit %d%s; the server's key pinned for the counselor (leaked): %d", status,
               said ? ", said records are withheld" : "", planted);
    assert_int_equal(planted, 0);
    assert_true(said);
    assert_int_not_equal(status, 0);
}

/* The server keeps the client's shared stream as it is (after a sync of the client:
 * its first head pushed), the client writes written entries and syncs, the server puts
 * the old stream back. *before, *after: the stream's records on the server then. */
static void
shared_served_as_made(struct fx *f, int written, long long *before, long long *after)
{
    char cs[33], csh[33], sql[600];
    client_shared_hex(f, cs, csh);
    snprintf(sql, sizeof sql,
             "CREATE TABLE saved_stream AS SELECT * FROM records WHERE stream = x'%s';", cs);
    turn_server(f, sql);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    for (int i = 0; i < written; i++)
        cli_ok("journal", "-m", "written after the backup");
    cli_ok("sync", NULL, NULL);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM records WHERE stream = x'%s'", cs);
    *before = server_int(f, sql);
    snprintf(sql, sizeof sql,
             "DELETE FROM records WHERE stream = x'%s';"
             "INSERT INTO records SELECT * FROM saved_stream; DROP TABLE saved_stream;",
             cs);
    turn_server(f, sql);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM records WHERE stream = x'%s'", cs);
    *after = server_int(f, sql);
}

/*
 * A stream's first head served again with what came after it withheld (proto/TRUST.md
 * T12: the server restores the client's shared stream from a backup taken when the
 * client had written nothing, its first head, records 0, with it). A reader that never
 * saw a later head (a new device of the counselor) sees a signed count of 0 and holds 0.
 * A count of 0 proves only that the stream was made: the reader says it cannot tell
 * (streams_unseen), as it did before first heads, never "nothing withheld".
 */
static void
test_first_head_served_again(void **state)
{
    struct fx *f = *state;
    char link[512];
    const int written = 2;
    long long before, after;

    login_link_of(f->p.client_home, link); /* the first head pushed */
    long long first = server_int(f, "SELECT count(*) FROM records");
    shared_served_as_made(f, written, &before, &after);

    long told, unseen;
    int status = new_counselor_sync(f, "counselor-new", &told, &unseen);

    dbk_report("malicious server: a stream's first head served again, what followed withheld",
               "the server keeps the client's shared stream as it was after its first sync "
               "(its first head, records 0), the client writes 2 entries and syncs, the "
               "server puts the old stream back; a new device of the counselor syncs",
               "records on the server at the backup %lld; the new counselor device's sync exit "
               "%d, withheld.records %ld, streams_unseen %ld; entries withheld and neither "
               "told nor 'cannot tell' (leaked): %ld",
               first, status, told, unseen, told > 0 || unseen > 0 ? 0L : (long)written);
    assert_true(told > 0 || unseen > 0);
}

/*
 * The private stream withheld whole (proto/TRUST.md T11, T12): the server drops every
 * record of the client's private stream, its head with them (the pin record, the role
 * record), and swaps the counselor's keys for its own; the client signs in on a new
 * device. No head counts what it does not get, so nothing is told withheld; but a device
 * that holds nothing of its account's private stream cannot tell the pin record is not
 * withheld, and must not take the server's keys for the counselor on first use.
 */
static void
test_private_stream_withheld_whole(void **state)
{
    struct fx *f = *state;
    int status;
    bool said;
    int planted = private_dropped_pins(f, false, "private-withheld",
                                       "none of your account's private", &status, &said);

    dbk_report("malicious server: the private stream withheld whole from a second device",
               "the server drops every record of the client's private stream, its head with "
               "them, and swaps the counselor's keys for its own; the client signs in on a "
               "new device",
               "login exit %d%s; the server's key pinned for the counselor (leaked): %d", status,
               said ? ", said none of the private records came" : "", planted);
    assert_int_equal(planted, 0);
    assert_true(said);
    assert_int_not_equal(status, 0);
}

/*
 * One's own stream served to a new device as it was made (proto/TRUST.md T12): the
 * server keeps the client's shared stream as it was after its first sync (its first
 * head, records 0), the client writes 2 entries and syncs, the server puts the old
 * stream back and serves the private stream as it is. A new device of the client holds
 * 0 of its shared stream and a signed count of 0: it must tell the entries withheld
 * (the account's private stream signs how many its shared stream holds), never call
 * the stream complete, as if the account had never written there.
 */
static void
test_own_first_head_served_again(void **state)
{
    struct fx *f = *state;
    char link[512];
    long long before, after;
    bool said;

    login_link_of(f->p.client_home, link); /* the first heads pushed */
    shared_served_as_made(f, 2, &before, &after);

    char home2[4300];
    snprintf(home2, sizeof home2, "%s/own-new", f->p.home);
    setenv("DAYBOOK_HOME", home2, 1);
    dbk_run_result r = tc_cli("login", link, NULL);
    int login_status = r.status;
    dbk_run_result_free(&r);
    r = tc_cli("--json", "sync", NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    json_t *w = json_object_get(j, "withheld");
    long told = (long)json_integer_value(json_object_get(w, "records"));
    long unseen = (long)json_integer_value(json_object_get(w, "own_unseen"));
    int status = r.status;
    said = strstr(r.err, "withhold") != NULL;
    json_decref(j);
    dbk_run_result_free(&r);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    long gone = (long)(before - after); /* the head's revision is one record either way */
    /* Told, not merely "cannot tell": the private head that signs the shared stream's
     * counts went in the same sync as the entries (sync.c, sync_all), so the new device
     * can count what is missing. A sync that left the head waiting said only "cannot
     * tell" (own_unseen) and reopened, for one sync, the silence T12 closes. */
    long leaked = told >= gone ? 0L : gone - told;

    dbk_report("malicious server: one's own stream served to a new device as it was made",
               "the server keeps the client's shared stream as it was after its first sync "
               "(its first head, records 0), the client writes 2 entries and syncs, the "
               "server puts the old stream back; the client signs in on a new device and syncs",
               "records of the shared stream on the server (its head with them) %lld, served "
               "back %lld; login exit %d; the new device's sync exit %d%s, withheld.records "
               "%ld, own_unseen %ld; own entries withheld and not told (leaked): %ld",
               before, after, login_status, status, said ? " with a warning" : "", told, unseen,
               leaked);
    assert_int_equal(login_status, 0);
    assert_int_equal(leaked, 0);
    assert_true(said);
}

/*
 * An entry written while a sync runs (T12, the head signed at sync). The client has
 * more entries waiting than one round pushes (200); its sync signs the head, and the
 * first round's request is stalled on its way (the proxy) while the client logs a
 * lapse. The next round pushes the lapse with the rest; a later sync has nothing new.
 * The server then drops the lapse from every pull: the counselor must be told, for
 * the client's device pushed a record it wrote, and a head must count it. Before the
 * head was signed at each round, the lapse went out with no head counting it and none
 * was ever signed (nothing waited to be pushed at the next sync), so the counselor was
 * told nothing; before the head moved to sync, the lapse signed its own.
 */
static void
test_entry_written_during_sync(void **state)
{
    struct fx *f = *state;
    char sh[33], hh[33], sql[600];
    const dbk_proxy_fault stall = {DBK_PROXY_STALL, DBK_PROXY_UP, 100000, 5000};

    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    for (int i = 0; i < 205; i++)
        cli_ok("journal", "-m", "an ordinary day");
    dbk_proxy_arm(f->proxy, &stall); /* the first request above 100 kB: the push */
    pid_t pid = daybook_until_fired(f, "sync", NULL, NULL);
    dbk_run_result r =
        tc_cli("craving", "--intensity", "9", "--outcome", "used", "--used-what", "heroin", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    assert_int_equal(dbk_wait_pid(pid, 60000), 0);
    dbk_proxy_arm(f->proxy, NULL);
    cli_ok("sync", NULL, NULL); /* nothing new */

    client_shared_hex(f, sh, hh);
    snprintf(sql, sizeof sql,
             "DELETE FROM records WHERE stream = x'%s' AND seq = (SELECT max(seq) FROM records "
             "WHERE stream = x'%s' AND record != x'%s');",
             sh, sh, hh);
    turn_server(f, sql); /* the lapse */
    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    r = tc_cli("--json", "sync", NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    long told =
        (long)json_integer_value(json_object_get(json_object_get(j, "withheld"), "records"));
    json_decref(j);
    dbk_report("trust faults: an entry written while a sync runs",
               "the client has 205 entries to push; its sync's first round is stalled while "
               "it logs a lapse; a later sync has nothing new; the server drops the lapse "
               "from every pull; the counselor syncs",
               "lapses withheld that the counselor was not told of (leaked): %ld; sync exit %d",
               told >= 1 ? 0L : 1L, r.status);
    dbk_run_result_free(&r);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    assert_int_equal(told, 1);
}

/* What a `daybook --json sync` on the profile under home counts as withheld
 * (withheld.records); *status its exit. */
static long
withheld_at_sync(const char *home, int *status)
{
    setenv("DAYBOOK_HOME", home, 1);
    dbk_run_result r = tc_cli("--json", "sync", NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    json_t *v = json_object_get(json_object_get(j, "withheld"), "records");
    /* A count the sync did not give is no count of 0 (cmd_sync always writes it). */
    if (!json_is_integer(v))
        fail_msg("sync on %s gave no withheld.records (exit %d): %s", home, r.status, r.err);
    long n = (long)json_integer_value(v);
    *status = r.status;
    json_decref(j);
    dbk_run_result_free(&r);
    return n;
}

/* The set-up of the quota tests below: a second device of the client logged in and
 * synced (home2), a journal entry of text that does not compress (the sealed entry is
 * as large as it: 24 KB) written on the client's first device, and its private entry
 * too when private_line; then the server restarted with a 1 MiB quota of which 8 KiB
 * are left: the private head fits, the entry does not. DAYBOOK_HOME is the client's. */
static void
quota_nearly_full(struct fx *f, char home2[4300], uint32_t seed, bool private_line)
{
    static const char *const quota[] = {"--quota-mb", "1", NULL};
    static char text[24001];
    char hc[33], sql[400];

    second_device(f, home2);
    cli_ok("sync", NULL, NULL);
    for (size_t i = 0; i + 1 < sizeof text; i++) {
        seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
        text[i] = (char)('a' + seed % 26);
    }
    text[sizeof text - 1] = '\0';
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    cli_ok("journal", "-m", text);
    if (private_line)
        tc_ok(tc_cli("journal", "-m", "a private line", "--private", NULL), "journal --private");
    snprintf(sql, sizeof sql, "UPDATE accounts SET used_bytes = %d WHERE id = x'%s';",
             1024 * 1024 - 8 * 1024, hex_of(f->p.client_id, hc));
    turn_server_with(f, sql, quota);
}

/*
 * A push of the shared stream refused while the private stream's head is acknowledged
 * (proto/TRUST.md T12, counts of one's other streams): the client's account is at its
 * quota but for a few kilobytes, and the client writes a journal entry larger than that
 * into its shared stream and syncs; the server answers the shared stream's push 507
 * (quota) and takes the rest. The private stream's head signs the shared stream's
 * counts: pushed beside the refused entry, it told the account's other device that the
 * server withheld a record it never had ("withheld", a false alarm, until the next
 * push). The second device syncs then, and again after the quota is lifted and the
 * client synced: no record is said withheld either time, and the entry reaches it.
 */
static void
test_shared_push_refused_no_false_withheld(void **state)
{
    struct fx *f = *state;
    char home2[4300], hc[33], sql[300];
    int st_client, st_second, st_later, st_final;

    hex_of(f->p.client_id, hc);
    quota_nearly_full(f, home2, 2463534242u, false);
    dbk_run_result r = tc_cli("sync", NULL);
    st_client = r.status;
    bool refused = strstr(r.err, "storage quota on the server is used up") != NULL;
    dbk_run_result_free(&r);
    long at_refusal = withheld_at_sync(home2, &st_second);

    snprintf(sql, sizeof sql, "UPDATE accounts SET used_bytes = 0 WHERE id = x'%s';", hc);
    turn_server(f, sql);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    r = tc_cli("sync", NULL);
    st_later = r.status;
    dbk_run_result_free(&r);
    /* The private head held back went at that sync, in a round of its own: none waits. */
    long long waits = profile_int(f->p.client_home, "SELECT count(*) FROM records WHERE pending");
    long after = withheld_at_sync(home2, &st_final);
    long long held = profile_int(home2, "SELECT count(*) FROM records WHERE length(envelope) > "
                                        "20000");
    setenv("DAYBOOK_HOME", f->p.client_home, 1);

    dbk_report("server refuses the shared stream's push (quota), takes the private stream's",
               "the client's account 8 KiB short of its quota; the client writes a 24 kB "
               "journal entry and syncs; its second device syncs; the quota is lifted, the "
               "client syncs, the second device syncs",
               "client's sync exit %d%s; the second device's sync exit %d, withheld.records "
               "%ld; after: client exit %d (records left unpushed %lld), second device exit "
               "%d, withheld.records %ld, the entry held %lld; records falsely said withheld "
               "(leaked): %ld",
               st_client, refused ? " (the full quota said)" : "", st_second, at_refusal, st_later,
               waits, st_final, after, held, at_refusal + after);
    assert_int_not_equal(st_client, 0);
    assert_true(refused);
    assert_int_equal(at_refusal, 0);
    assert_int_equal(st_second, 0);
    assert_int_equal(st_later, 0);
    assert_int_equal(waits, 0);
    assert_int_equal(after, 0);
    assert_int_equal(st_final, 0);
    assert_int_equal(held, 1);
}

/* POST /v1/sync requests the server received so far (its /metrics). */
static long long
syncs_seen(struct fx *f)
{
    char url[128];
    dbk_http_resp r;
    long long n = -1;
    snprintf(url, sizeof url, "%s/metrics", f->srv.base_url);
    assert_int_equal(dbk_http("GET", url, NULL, NULL, 0, &r), 0);
    static const char key[] = "\ndaybook_sync_requests_total ";
    const char *p = r.status == 200 ? strstr(r.body, key) : NULL;
    if (p != NULL)
        n = strtoll(p + sizeof key - 1, NULL, 10);
    dbk_http_resp_free(&r);
    assert_true(n >= 0);
    return n;
}

/* The seq of the client's private stream's head on the server (-1: none): moves when a
 * new revision of it is stored. */
static long long
server_private_head_seq(struct fx *f)
{
    char sql[200], hh[33];
    dbk_session s;
    dbk_local_stream ls;
    dbk_id head;
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    assert_int_equal(dbk_session_open(&s, false), 0);
    assert_int_equal(dbk_local_stream_of(s.L, &s.account, DBK_LOCAL_PRIVATE, &ls), 0);
    dbk_session_close(&s);
    dbk_trust_head_id(&ls.id, &head);
    for (size_t i = 0; i < 16; i++)
        snprintf(hh + 2 * i, 3, "%02x", head.b[i]);
    snprintf(sql, sizeof sql, "SELECT seq FROM records WHERE record = x'%s'", hh);
    return server_int(f, sql);
}

/*
 * Issue 20: a sync that pushes shared entries costs one round trip for the push, not
 * two: the private stream's head, which signs the shared stream's counts, goes in the
 * same POST /v1/sync as the shared records, named "after" them (README section 12), so
 * the server stores it only with them. Counted on the server (daybook_sync_requests_total):
 * the pull before the heads are signed, then one push; before, a third round carried
 * the head alone. Nothing waits after it, and the account's other device reads no
 * record as withheld.
 */
static void
test_shared_push_one_round(void **state)
{
    struct fx *f = *state;
    char home2[4300];
    int st;

    second_device(f, home2);
    cli_ok("sync", NULL, NULL);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    cli_ok("journal", "-m", "one round trip");
    long long head0 = server_private_head_seq(f), before = syncs_seen(f);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    cli_ok("sync", NULL, NULL);
    long long rounds = syncs_seen(f) - before, head1 = server_private_head_seq(f);
    long long waits = profile_int(f->p.client_home, "SELECT count(*) FROM records WHERE pending");
    long withheld = withheld_at_sync(home2, &st);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    dbk_report("a sync that pushes a shared entry: its round trips",
               "the client writes a journal entry and syncs; POST /v1/sync counted by the "
               "server's /metrics; then its second device syncs",
               "POST /v1/sync: %lld (the pull before signing, one push with the private head "
               "after the shared records); private head moved: %s; left unpushed %lld; second "
               "device exit %d, withheld.records %ld",
               rounds, head1 > head0 ? "yes" : "no", waits, st, withheld);
    assert_int_equal(rounds, 2);
    assert_true(head1 > head0);
    assert_int_equal(waits, 0);
    assert_int_equal(st, 0);
    assert_int_equal(withheld, 0);
}

/*
 * The shared stream's push refused (quota) in the round that sent the private stream's
 * entries and head "after" it: the server refuses the private push with it
 * (prerequisite_failed). The head waits, as before "after"; the private entry written
 * beside goes in one more round of the same sync, the shared stream left out. So the
 * private entry is on the server after the refused sync, only the head and the shared
 * stream's records wait, and the second device reads nothing withheld.
 */
static void
test_shared_push_refused_private_entry_goes(void **state)
{
    struct fx *f = *state;
    char home2[4300], sql[400];
    int st_second;

    quota_nearly_full(f, home2, 88172645u, true);
    long long before = syncs_seen(f);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    dbk_run_result r = tc_cli("sync", NULL);
    int st_client = r.status;
    bool said = strstr(r.err, "storage quota on the server is used up") != NULL;
    dbk_run_result_free(&r);
    long long rounds = syncs_seen(f) - before;
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM records WHERE pending AND stream IN "
             "(SELECT id FROM streams WHERE kind = %d)",
             DBK_LOCAL_PRIVATE);
    long long priv_waits = profile_int(f->p.client_home, sql);
    long withheld = withheld_at_sync(home2, &st_second);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    dbk_report("shared push refused, private entry and head sent after it",
               "the client's account 8 KiB short of its quota; it writes a 24 kB shared "
               "entry and a private one and syncs; its second device syncs",
               "client exit %d%s; POST /v1/sync %lld; private records left waiting %lld (the "
               "head alone); second device exit %d, withheld.records %ld",
               st_client, said ? " (the full quota said)" : "", rounds, priv_waits, st_second,
               withheld);
    assert_int_not_equal(st_client, 0);
    assert_true(said);
    assert_int_equal(rounds, 3); /* the pull, the push refused, the private entry alone */
    assert_int_equal(priv_waits, 1);
    assert_int_equal(st_second, 0);
    assert_int_equal(withheld, 0);
}

/* ---- a server from before "after" ---- */

/* Passes every request to the real server and its answer back, one a connection, but
 * answers a POST /v1/sync whose body has "after" 400 unknown_field, as a daybookd from
 * before README section 12's "after" does. Counts both kinds. */
struct old_server {
    int fd, port, target;
    volatile bool stop;
    int refused, relayed_syncs;
    pthread_t th;
};

/* One request from c: refused or relayed (old_server). */
static void
old_server_one(struct old_server *o, int c)
{
    static const char unknown[] = "{\"error\":{\"code\":\"unknown_field\",\"message\":\"x\"}}";
    size_t len, at, rlen, rat;
    char *q = dbk_raw_message(c, "", 0, &len, &at), *a = NULL, head[256];
    bool sync = strncmp(q, "POST /v1/sync ", 14) == 0;
    if (sync && strstr(q + at, "\"after\"") != NULL) {
        o->refused++;
        int n = snprintf(head, sizeof head,
                         "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                         strlen(unknown), unknown);
        if (write(c, head, (size_t)n) != n)
            o->refused += 1000; /* the test sees it */
        free(q);
        return;
    }
    o->relayed_syncs += sync;
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)o->target),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        write(s, q, len) == (ssize_t)len) {
        a = dbk_raw_message(s, "", 0, &rlen, &rat);
        /* The answer as it came, but the connection closed after it. */
        char *ka = strcasestr(a, "connection: keep-alive");
        if (ka != NULL && ka < a + rat)
            memcpy(ka + 12, "close     ", 10);
        if (write(c, a, rlen) != (ssize_t)rlen)
            o->refused += 1000;
    }
    if (s >= 0)
        close(s);
    free(a);
    free(q);
}

static void *
old_server_run(void *arg)
{
    struct old_server *o = arg;
    char buf[4096];
    while (!o->stop) {
        struct pollfd pf = {o->fd, POLLIN, 0};
        if (poll(&pf, 1, 100) <= 0)
            continue;
        int c = accept(o->fd, NULL, NULL);
        if (c < 0)
            continue;
        old_server_one(o, c);
        shutdown(c, SHUT_WR);
        while (read(c, buf, sizeof buf) > 0) /* until the client closes */
            ;
        close(c);
    }
    return NULL;
}

static void
old_server_start(struct old_server *o, int target)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    o->target = target;
    assert_true((o->fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
    assert_int_equal(bind(o->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(o->fd, 16), 0);
    assert_int_equal(getsockname(o->fd, (struct sockaddr *)&a, &len), 0);
    o->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&o->th, NULL, old_server_run, o), 0);
}

static void
old_server_stop(struct old_server *o)
{
    o->stop = true;
    pthread_join(o->th, NULL);
    close(o->fd);
}

/*
 * A server from before "after" answers a push that names it 400 unknown_field (README
 * section 19). The client then asks the same round again without it, and for the rest
 * of that sync holds the private head back for a round of its own, as before: the
 * sync succeeds, nothing waits, the other device reads nothing withheld. The real
 * server behind counts the rounds it got (3: pull, push, the head), the old one
 * refused the one that named "after". The profile remembers the refusal for that
 * server: the next sync names no "after" at all, every one of its rounds relayed.
 */
static void
test_old_server_without_after(void **state)
{
    struct fx *f = *state;
    struct old_server o = {0};
    char home2[4300], sql[300];
    int st;

    second_device(f, home2);
    cli_ok("sync", NULL, NULL);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    cli_ok("journal", "-m", "to an older server");
    long long before = syncs_seen(f), head0 = server_private_head_seq(f);
    /* The relay runs only around the syncs: a failed assertion before it leaves no
     * thread on this frame's struct. */
    old_server_start(&o, f->srv.port);
    snprintf(sql, sizeof sql,
             "UPDATE meta SET value = CAST('http://127.0.0.1:%d' AS BLOB) WHERE key = 'server';",
             o.port);
    profile_sql(f, "client", sql);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    dbk_run_result r = tc_cli("sync", NULL);
    int st_client = r.status;
    dbk_run_result_free(&r);
    int refused1 = o.refused, relayed1 = o.relayed_syncs;
    long long rounds = syncs_seen(f) - before, head1 = server_private_head_seq(f);
    /* The next sync, another entry to push with its head: nothing named "after". */
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    r = tc_cli("journal", "-m", "to the older server again", NULL);
    int st_journal2 = r.status;
    dbk_run_result_free(&r);
    long long before2 = syncs_seen(f);
    r = tc_cli("sync", NULL);
    int st_client2 = r.status;
    dbk_run_result_free(&r);
    old_server_stop(&o);
    long long rounds2 = syncs_seen(f) - before2, head2 = server_private_head_seq(f);
    long long waits = profile_int(f->p.client_home, "SELECT count(*) FROM records WHERE pending");
    long withheld = withheld_at_sync(home2, &st);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    dbk_report("a server from before \"after\"",
               "a relay answers POST /v1/sync naming after 400 unknown_field and passes the "
               "rest to the real server; the client writes a journal entry and syncs, twice",
               "client exit %d; refused with unknown_field %d, syncs relayed %d, the real "
               "server counted %lld; private head moved: %s; second sync: exit %d, refused "
               "%d more, relayed %d, the real server counted %lld, private head moved: %s; "
               "left unpushed %lld; second device exit %d, withheld.records %ld",
               st_client, refused1, relayed1, rounds, head1 > head0 ? "yes" : "no", st_client2,
               o.refused - refused1, o.relayed_syncs - relayed1, rounds2,
               head2 > head1 ? "yes" : "no", waits, st, withheld);
    assert_int_equal(st_client, 0);
    assert_int_equal(refused1, 1);
    assert_int_equal(relayed1, 3);
    assert_int_equal(rounds, 3);
    assert_true(head1 > head0);
    assert_int_equal(st_journal2, 0);
    assert_int_equal(st_client2, 0);
    assert_int_equal(o.refused, 1); /* the second sync named no "after" */
    assert_int_equal(o.relayed_syncs - relayed1, rounds2);
    assert_true(head2 > head1);
    assert_int_equal(waits, 0);
    assert_int_equal(st, 0);
    assert_int_equal(withheld, 0);
}

/* A journal entry written and synced by the profile in home (the first non-zero exit). */
static int
journal_and_sync(const char *home, const char *text)
{
    setenv("DAYBOOK_HOME", home, 1);
    dbk_run_result r = tc_cli("journal", "-m", text, NULL);
    int st = r.status;
    dbk_run_result_free(&r);
    r = tc_cli("sync", NULL);
    st = st != 0 ? st : r.status;
    dbk_run_result_free(&r);
    return st;
}

/*
 * The refusal of "after" the profile remembers (sync.c, meta no_after) holds only for
 * a day and only for the server that refused it: a remembered refusal older than a
 * day, or one of another server's URL, leaves the next sync naming "after" again (the
 * relay refuses it once more, the sync still succeeds).
 */
static void
test_old_server_refusal_remembered_a_day(void **state)
{
    struct fx *f = *state;
    struct old_server o = {0};
    char sql[400];

    old_server_start(&o, f->srv.port);
    snprintf(sql, sizeof sql,
             "UPDATE meta SET value = CAST('http://127.0.0.1:%d' AS BLOB) WHERE key = 'server';"
             "INSERT OR REPLACE INTO meta(key, value)"
             "  VALUES ('no_after', CAST('1 http://127.0.0.1:%d' AS BLOB));",
             o.port, o.port);
    profile_sql(f, "client", sql);
    int st_old = journal_and_sync(f->p.client_home, "a refusal long ago");
    int refused_old = o.refused;
    profile_sql(f, "client",
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('no_after',"
                "  CAST(strftime('%s', 'now') || ' http://127.0.0.1:1' AS BLOB));");
    int st_other = journal_and_sync(f->p.client_home, "a refusal by another server");
    int refused_other = o.refused - refused_old;
    /* And the planted value is read: one of this server's, made now, is honoured. */
    snprintf(sql, sizeof sql,
             "INSERT OR REPLACE INTO meta(key, value) VALUES ('no_after',"
             "  CAST(strftime('%%s', 'now') || ' http://127.0.0.1:%d' AS BLOB));",
             o.port);
    profile_sql(f, "client", sql);
    int st_same = journal_and_sync(f->p.client_home, "a refusal by this server just now");
    int refused_same = o.refused - refused_old - refused_other;
    old_server_stop(&o);
    dbk_report("a server's refusal of \"after\" remembered a day",
               "the client's profile remembers a refusal of \"after\" older than a day, then one "
               "of another server's URL, then one of this server's made now; a journal entry "
               "and a sync through the relay each time",
               "refused again after the old one: %d (exit %d); after another server's: %d "
               "(exit %d); after this server's of now: %d (exit %d)",
               refused_old, st_old, refused_other, st_other, refused_same, st_same);
    assert_int_equal(st_old, 0);
    assert_int_equal(refused_old, 1);
    assert_int_equal(st_other, 0);
    assert_int_equal(refused_other, 1);
    assert_int_equal(st_same, 0);
    assert_int_equal(refused_same, 0);
}

/* The grantee the server gives the client's self-grant to for a while (move_self_grant),
 * so that the client's GET /v1/grants leaves it out. */
static const char late_grantee[] = "00000000000000000000000000000001";

/* The edit that moves the client's self-grant of its shared stream sh, at epoch (0: at
 * any), to the grantee `to` from `from` (hex ids), so that GET /v1/grants leaves it out
 * or lists it again; with seq_moved, the grants_seq of account `to` moves too, else it is
 * left as it is. */
static void
move_self_grant(struct fx *f, const char *sh, const char *from, const char *to, int epoch,
                bool seq_moved)
{
    char sql[500], at[32] = "", seq[120] = "";
    if (epoch > 0)
        snprintf(at, sizeof at, " AND epoch = %d", epoch);
    if (seq_moved)
        snprintf(seq, sizeof seq,
                 " UPDATE accounts SET grants_seq = grants_seq + 1 WHERE id = x'%s';", to);
    snprintf(sql, sizeof sql,
             "UPDATE grants SET grantee = x'%s' WHERE stream = x'%s' AND grantee = x'%s'%s;%s", to,
             sh, from, at, seq);
    turn_server(f, sql);
}

/* The text of a `daybook sync` of the profile in home, stdout then stderr (malloc'd);
 * *status its exit. */
static char *
sync_said(const char *home, int *status)
{
    setenv("DAYBOOK_HOME", home, 1);
    dbk_run_result r = tc_cli("sync", NULL);
    size_t n = strlen(r.out) + strlen(r.err) + 2;
    char *t = malloc(n);
    assert_non_null(t);
    snprintf(t, n, "%s\n%s", r.out, r.err);
    *status = r.status;
    dbk_run_result_free(&r);
    return t;
}

/* How many times text holds what. */
static int
times_in(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

/*
 * The stage of a counselor's note that reaches the client's second device (home2, made
 * here by login) before its key: the client rotates its shared stream (revoke, share
 * again) on its first device, the server gives the new epoch's self-grant to another
 * grantee (late_grantee), and the counselor writes text as a note. sh, me: the client's
 * shared stream and account in hex, for key_listed.
 */
static void
note_before_key(struct fx *f, const char *text, char home2[4300], char sh[33], char me[33])
{
    char hh[33];

    second_device(f, home2);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    cli_ok("revoke", f->p.counselor_id, "--yes");
    cli_ok("share", f->p.counselor_id, "--yes");
    cli_ok("sync", NULL, NULL);
    client_shared_hex(f, sh, hh);
    hex_of(f->p.client_id, me);
    move_self_grant(f, sh, me, late_grantee, 2, false);
    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    cli_ok("sync", NULL, NULL);
    tc_ok(tc_cli("note", f->p.client_id, "-m", text, "--share", NULL), "note");
    cli_ok("sync", NULL, NULL);
}

/* The server lists the self-grant note_before_key gave late_grantee to its account again,
 * grants_seq moved. */
static void
key_listed(struct fx *f, const char sh[33], const char me[33])
{
    move_self_grant(f, sh, late_grantee, me, 0, true);
}

/*
 * A counselor's note that reaches a device of the client before the key that opens it
 * (book/notes.h): the client rotated its shared stream on its first device (a revoke,
 * then shared again with the same counselor), and the server leaves the new epoch's
 * self-grant out of the second device's GET /v1/grants until after the counselor's note
 * came; then lists it, grants_seq moved. The note must be news once, at the sync where
 * it opens, and said as waiting while it cannot open.
 */
static void
test_note_before_its_key(void **state)
{
    struct fx *f = *state;
    static const char note[] = "New note from Dana Reyes: BEFORE-ITS-KEY note";
    char sh[33], me[33], home2[4300];
    int st_waiting, st_opens, st_after;

    note_before_key(f, "BEFORE-ITS-KEY note", home2, sh, me);
    long long epoch = server_int(f, "SELECT max(epoch) FROM records");

    char *waiting = sync_said(home2, &st_waiting);
    key_listed(f, sh, me);
    char *opens = sync_said(home2, &st_opens);
    char *after = sync_said(home2, &st_after);
    setenv("DAYBOOK_HOME", home2, 1);
    json_t *j = tc_json_of(tc_cli("--json", "sync", NULL), "sync --json");
    json_t *w = json_object_get(j, "waiting");
    long long still = json_is_integer(w) ? json_integer_value(w) : -1; /* left out: no 0 */
    json_decref(j);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    int shown = times_in(waiting, note) + times_in(opens, note) + times_in(after, note);
    bool said = strstr(waiting, "without the key that opens them") != NULL;

    dbk_report("a counselor's note before its key",
               "the client rotates its shared stream (revoke, share again) on one device; the "
               "server leaves the new self-grant out of its second device's grants until the "
               "counselor's note reached it, then lists it with grants_seq moved",
               "the note's epoch %lld; while it cannot open: news %d, said waiting: %s; the sync "
               "where it opens: news %d; the sync after: news %d, still waiting %lld; times "
               "shown in all (must be 1): %d",
               epoch, times_in(waiting, note), said ? "yes" : "no (silent)", times_in(opens, note),
               times_in(after, note), still, shown);
    assert_int_equal(epoch, 2);
    assert_int_equal(times_in(waiting, note), 0);
    assert_true(said);
    assert_int_equal(times_in(opens, note), 1);
    assert_int_equal(shown, 1);
    assert_int_equal(still, 0);
    assert_int_equal(st_waiting, 0);
    assert_int_equal(st_opens, 0);
    assert_int_equal(st_after, 0);
    free(waiting);
    free(opens);
    free(after);
}

/*
 * The list of rows waiting for their key is bounded (book/notes.h); the server sets the
 * clocks in the headers it serves, and the news filter meets rows in clock order. A
 * note already listed as waiting must keep its place when the server then serves 64
 * rows that never open (another author's, no key for them here) with clocks made
 * earlier: pushed out of the list, the note, passed by the mark, is never news once its
 * key comes. SQLite only: the junk is made by editing envelope bytes in the file.
 */
static void
test_waiting_note_not_pushed_out(void **state)
{
    struct fx *f = *state;
    static const char note[] = "New note from Dana Reyes: KEEPS-ITS-PLACE note";
    char sh[33], me[33], sql[1400], home2[4300];
    int st_listed, st_opens, st_after, st_garbled, st_oversize;

    if (dbk_test_pg())
        skip();
    note_before_key(f, "KEEPS-ITS-PLACE note", home2, sh, me);
    char *listed = sync_said(home2, &st_listed);

    /* 64 copies of the note, each its own record id (none of the stream's: those are
     * random), clock 0 and an unknown author. */
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 64), "
             "src AS (SELECT * FROM records WHERE stream = x'%s' ORDER BY seq DESC LIMIT 1), "
             "j AS (SELECT i, CAST(x'5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a' || char(i) AS BLOB) AS rid, "
             "src.* FROM n, src) "
             "INSERT INTO records(stream, record, seq, clock, device, epoch, creator, envelope) "
             "SELECT stream, rid, seq + i, 0, device, epoch, creator, "
             "CAST(substr(envelope, 1, 20) || rid || zeroblob(8) || substr(envelope, 45, 20) || "
             "x'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' || substr(envelope, 81) AS BLOB) FROM j; "
             "UPDATE streams SET seq = seq + 64 WHERE id = x'%s';",
             sh, sh);
    turn_server(f, sql);
    setenv("DAYBOOK_HOME", home2, 1);
    json_t *j = tc_json_of(tc_cli("--json", "sync", NULL), "sync --json");
    long long flooded = json_integer_value(json_object_get(j, "waiting"));
    json_decref(j);
    key_listed(f, sh, me);
    char *opens = sync_said(home2, &st_opens);
    char *after = sync_said(home2, &st_after);
    /* The list is the user's own file: a corrupt one (words, signs, numbers past any
     * rowid; then a value longer than any list) is read as far as it goes, never a
     * crash, and shows nothing again. */
    profile_sql(f, "second",
                "UPDATE meta SET value = CAST('x -3 0 99999999999999999999999 "
                "9223372036854775807' AS BLOB) WHERE key = 'notes_waiting';");
    char *garbled = sync_said(home2, &st_garbled);
    profile_sql(f, "second",
                "UPDATE meta SET value = CAST(replace(hex(zeroblob(1000)), '00', '1 ') AS BLOB) "
                "WHERE key = 'notes_waiting';");
    char *oversize = sync_said(home2, &st_oversize);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);

    dbk_report("a waiting note pushed out of the list",
               "a note reaches the client's second device before its key and is listed as "
               "waiting; the server then serves 64 records that never open, their clocks "
               "earlier than the note's, and lists the key after",
               "news while listed %d; waiting said after the flood %lld (must be 65); news at "
               "the sync where the key came %d (must be 1); the sync after %d; with the list "
               "garbled, exit %d, news %d; oversize, exit %d, news %d",
               times_in(listed, note), flooded, times_in(opens, note), times_in(after, note),
               st_garbled, times_in(garbled, note), st_oversize, times_in(oversize, note));
    /* Each sync whose news are counted ran to its end: no news from a crash. */
    assert_int_equal(st_listed, 0);
    assert_int_equal(st_opens, 0);
    assert_int_equal(st_after, 0);
    assert_int_equal(times_in(listed, note), 0);
    assert_int_equal(flooded, 65);
    assert_int_equal(times_in(opens, note), 1);
    assert_int_equal(times_in(after, note), 0);
    assert_int_equal(st_garbled, 0);
    assert_int_equal(times_in(garbled, note), 0);
    assert_int_equal(st_oversize, 0);
    assert_int_equal(times_in(oversize, note), 0);
    free(listed);
    free(opens);
    free(after);
    free(garbled);
    free(oversize);
}

/*
 * The waiting list not kept at the sync where a note first waits (its write refused:
 * here by a trigger in the profile, as a full disk or a locked file would): the mark
 * must not move past the note either, or it is never news once its key comes
 * (book/notes.c, dbk_notes_mark_seen keeps the list first).
 */
static void
test_waiting_list_not_kept(void **state)
{
    struct fx *f = *state;
    static const char note[] = "New note from Dana Reyes: LIST-REFUSED note";
    char sh[33], me[33], home2[4300];
    int st_refused, st_opens;

    note_before_key(f, "LIST-REFUSED note", home2, sh, me);
    profile_sql(f, "second",
                "CREATE TRIGGER no_list BEFORE INSERT ON meta WHEN NEW.key = 'notes_waiting' "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END;");
    char *refused = sync_said(home2, &st_refused);
    profile_sql(f, "second", "DROP TRIGGER no_list;");
    key_listed(f, sh, me);
    char *opens = sync_said(home2, &st_opens);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);

    dbk_report("the waiting list not kept",
               "a note reaches the client's second device before its key; the profile "
               "refuses to keep the list of waiting rows at that sync",
               "news while waiting %d (exit %d); news at the sync where the key came %d (must "
               "be 1, exit %d)",
               times_in(refused, note), st_refused, times_in(opens, note), st_opens);
    assert_int_equal(times_in(refused, note), 0);
    assert_int_equal(times_in(opens, note), 1);
    assert_int_equal(st_opens, 0);
    free(refused);
    free(opens);
}

/* What a `daybook --json sync` of the profile in home counts own_unseen (-1: it failed). */
static int
own_unseen_at_sync(const char *home)
{
    setenv("DAYBOOK_HOME", home, 1);
    dbk_run_result r = tc_cli("--json", "sync", NULL);
    json_t *j = r.status == 0 ? json_loads(r.out, 0, NULL) : NULL;
    /* A count the answer leaves out is no count (-1), never a 0 that would pass. */
    json_t *v = json_object_get(json_object_get(j, "withheld"), "own_unseen");
    int n = json_is_integer(v) ? (int)json_integer_value(v) : -1;
    json_decref(j);
    dbk_run_result_free(&r);
    return n;
}

/*
 * A second device of the client that signs in while the server leaves the self-grant of
 * the client's shared stream out of GET /v1/grants, then lists it again without moving
 * grants_seq (a server restored, or one that says two things). The device must not stay
 * without its own shared stream for good and in silence: while it misses it, its syncs
 * say they cannot tell (own_unseen); once listed, its next sync takes the self-grant
 * (signed by the account, checked as any) and the counselor's note opens, as news.
 */
static void
test_self_grant_listed_late(void **state)
{
    struct fx *f = *state;
    char sh[33], hh[33], me[33], link[512], home2[4300];
    dbk_run_result r;

    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    cli_ok("sync", NULL, NULL);
    tc_ok(tc_cli("note", f->p.client_id, "-m", "LATE-GRANT note", "--share", NULL), "note");
    cli_ok("sync", NULL, NULL);
    login_link_of(f->p.client_home, link);
    client_shared_hex(f, sh, hh);
    hex_of(f->p.client_id, me);
    move_self_grant(f, sh, me, late_grantee, 0, false);

    r = second_device_login(f, link, home2);
    int login = r.status;
    bool login_said = strstr(r.err, "cannot tell whether the server withholds") != NULL;
    dbk_run_result_free(&r);
    int unseen_missing = own_unseen_at_sync(home2);

    move_self_grant(f, sh, late_grantee, me, 0, false);
    setenv("DAYBOOK_HOME", home2, 1);
    r = tc_cli("sync", NULL);
    int sync = r.status;
    bool news = strstr(r.out, "New note from Dana Reyes: LATE-GRANT note") != NULL;
    dbk_run_result_free(&r);
    int unseen_listed = own_unseen_at_sync(home2);
    r = tc_cli("notes", NULL);
    bool opened = strstr(r.out, "LATE-GRANT note") != NULL;
    dbk_run_result_free(&r);
    setenv("DAYBOOK_HOME", home2, 1);
    r = tc_cli("journal", "-m", "written on the second device", NULL);
    int wrote = r.status;
    dbk_run_result_free(&r);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);

    dbk_report("malicious server: the client's own shared self-grant listed late",
               "the server leaves the self-grant of the client's shared stream out of GET "
               "/v1/grants while a second device signs in, then lists it again with "
               "grants_seq unmoved; the counselor had shared a note",
               "login exit %d%s; own_unseen while missing %d, once listed %d; next sync exit "
               "%d, the note as news: %s; 'daybook notes' shows it: %s; a journal entry "
               "written there: exit %d",
               login, login_said ? " (said it cannot tell)" : " (silent)", unseen_missing,
               unseen_listed, sync, news ? "yes" : "no", opened ? "yes" : "no (never read)", wrote);
    assert_int_equal(login, 0);
    assert_true(login_said);
    assert_int_equal(unseen_missing, 1);
    assert_int_equal(sync, 0);
    assert_true(news);
    assert_true(opened);
    assert_int_equal(unseen_listed, 0);
    assert_int_equal(wrote, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_interrupted_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_before_revocation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_behind_same_generation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_cache_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_cache_damaged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_key_cache_damaged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_key_cache_other_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_keys_kept_no_longer_than_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_device_pins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_device_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_own_stream_withheld_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entry_written_during_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_role_record_out_of_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_role_withheld_for_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_role_old_device_other_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_head_served_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_role_unchecked_counselor_invites, setup, teardown),
        cmocka_unit_test_setup_teardown(test_role_login_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_head_withheld, setup, teardown),
        cmocka_unit_test_setup_teardown(test_role_records_disagree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pin_record_withheld, setup, teardown),
        cmocka_unit_test_setup_teardown(test_own_first_head_served_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_role_old_device_contradicted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_role_withheld_contradicted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_role_contradicted_acts_not, setup, teardown),
        cmocka_unit_test_setup_teardown(test_role_record_contradicted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_role_signed_then_contradicted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_role_contradicted_commands_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_role_checked_then_records_arrive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login_other_accounts_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_device_other_counselor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_private_stream_withheld_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_push_refused_no_false_withheld, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_shared_push_one_round, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_push_refused_private_entry_goes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_old_server_without_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_server_refusal_remembered_a_day, setup, teardown),
        cmocka_unit_test_setup_teardown(test_self_grant_listed_late, setup, teardown),
        cmocka_unit_test_setup_teardown(test_note_before_its_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waiting_note_not_pushed_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waiting_list_not_kept, setup, teardown),
    };
    if (dbk_init() != 0)
        return 1;
    if (getenv("DAYBOOK_TEST_FILTER") != NULL) /* one test by name, when working on it */
        cmocka_set_test_filter(getenv("DAYBOOK_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
