/*
 * The client's loop with the counselor, and a CLI that forgives (issue 16), with the
 * real daybook and daybookd: options anywhere and help for every command, journal
 * in $EDITOR and its checklist tick, revoke that asks first, the counselor told once
 * that a client stopped sharing, notes back to the client, numbered pick lists for a
 * craving. What is interactive runs on a pseudo-terminal (support/pty.c), typed as a
 * person would.
 *
 * One fixture per test: a server, a counselor (enrolled from a setup code) and a
 * client enrolled from the counselor's invite, each with its own DAYBOOK_HOME.
 */
#include "tc.h"

#include "dbk/init.h"

#include <setjmp.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

struct fx {
    dbk_server srv;
    char *home;
    char cohome[4096], clhome[4096];
    char counselor_id[DBK_ID_TEXT_LEN + 1], client_id[DBK_ID_TEXT_LEN + 1];
};

static bool
contains(const char *hay, const char *needle)
{
    return hay != NULL && strstr(hay, needle) != NULL;
}

static void
must_contain(const char *hay, const char *needle)
{
    if (!contains(hay, needle))
        fail_msg("output lacks \"%s\":\n%s", needle, hay ? hay : "(null)");
}

/* Whether j, as JSON text, holds needle. */
static bool
json_has(const json_t *j, const char *needle)
{
    char *t = json_dumps(j, 0);
    bool has = contains(t, needle);
    free(t);
    return has;
}

/* `daybook ARGS...` that must succeed with JSON on stdout. */
static json_t *
cli_json(const char *a1, ...)
{
    const char *argv[40] = {dbk_bin("DAYBOOK"), a1};
    size_t n = 2;
    va_list ap;
    dbk_run_result r;
    json_t *j;

    va_start(ap, a1);
    while (n < 39 && (argv[n] = va_arg(ap, const char *)) != NULL)
        n++;
    va_end(ap);
    assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
    if (r.status != 0)
        fail_msg("%s: exit %d: %s", a1, r.status, r.err);
    j = json_loads(r.out, 0, NULL);
    if (j == NULL)
        fail_msg("%s: not JSON: %s", a1, r.out);
    dbk_run_result_free(&r);
    return j;
}

/* `daybook ARGS...` on a terminal, playing steps. */
static dbk_pty_result
on_tty(const dbk_pty_step *steps, const char *a1, ...)
{
    const char *argv[40] = {dbk_bin("DAYBOOK"), a1};
    size_t n = 2;
    va_list ap;
    dbk_pty_result r;

    va_start(ap, a1);
    while (n < 39 && (argv[n] = va_arg(ap, const char *)) != NULL)
        n++;
    va_end(ap);
    assert_int_equal(dbk_pty_run(argv, steps, 60, &r), 0);
    return r;
}

static void
tty_done(dbk_pty_result *r, size_t steps, int status)
{
    if (r->steps_done != steps || r->status != status)
        fail_msg("terminal: %zu of %zu steps, exit %d (want %d):\n%s", r->steps_done, steps,
                 r->status, status, r->out);
}

static void
as(const char *home)
{
    setenv("DAYBOOK_HOME", home, 1);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
    FILE *p = fopen(path, "w");
    assert_non_null(p);
    fputs(text, p);
    fclose(p);
    assert_int_equal(chmod(path, mode), 0);
}

static char *
read_file(const char *path)
{
    FILE *p = fopen(path, "r");
    char *b = calloc(1, 65536);
    if (p != NULL) {
        size_t n = fread(b, 1, 65535, p);
        b[n] = '\0';
        fclose(p);
    }
    return b;
}

static void
today_text(char out[11])
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

static int setup_rest(struct fx *f);

/* A counselor of the clinic, name, set up from a setup code on its own device with
 * DAYBOOK_HOME home: its id into id. Leaves DAYBOOK_HOME at home. */
static void
add_counselor(struct fx *f, const char *name, const char *home, char id[DBK_ID_TEXT_LEN + 1])
{
    char url[64], uri[1024];
    dbk_run_result r;
    json_t *j;

    snprintf(url, sizeof url, "http://127.0.0.1:%d", f->srv.port);
    const char *argv[] = {dbk_bin("DAYBOOKD"), "counselor", "add", name, "--url", url,
                          "--data-dir", f->srv.data_dir, NULL};
    assert_int_equal(dbk_run(argv, NULL, 30, &r), 0);
    assert_int_equal(r.status, 0);
    const char *s = strstr(r.out, "setup URI: ");
    assert_non_null(s);
    snprintf(uri, sizeof uri, "%.*s", (int)strcspn(s + 11, "\n"), s + 11);
    dbk_run_result_free(&r);
    as(home);
    j = cli_json("--json", "init", NULL);
    snprintf(id, DBK_ID_TEXT_LEN + 1, "%s", json_string_value(json_object_get(j, "account")));
    json_decref(j);
    tc_ok(tc_cli("enroll", uri, "--yes", NULL), "counselor enroll");
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_int_equal(dbk_server_start(&f->srv, NULL), 0);
    f->home = dbk_tmpdir("loop");
    *state = f;
    return setup_rest(f);
}

static int
setup_rest(struct fx *f)
{
    char pass[4200], uri[1024];

    snprintf(pass, sizeof pass, "%s/passphrase", f->home);
    write_file(pass, "a long test passphrase\n", 0600);
    setenv("DAYBOOK_PASSPHRASE_FILE", pass, 1);
    setenv("DAYBOOK_UNLOCK_SECONDS", DBK_TEST_UNLOCK_SECONDS, 1);
    unsetenv("EDITOR");
    unsetenv("VISUAL");
    snprintf(f->cohome, sizeof f->cohome, "%s/counselor", f->home);
    snprintf(f->clhome, sizeof f->clhome, "%s/client", f->home);

    add_counselor(f, "Dana Reyes", f->cohome, f->counselor_id);
    json_t *j = cli_json("--json", "invite", "--name", "Sam K.", NULL);
    snprintf(uri, sizeof uri, "%s", json_string_value(json_object_get(j, "uri")));
    json_decref(j);

    as(f->clhome);
    j = cli_json("--json", "init", NULL);
    snprintf(f->client_id, sizeof f->client_id, "%s",
             json_string_value(json_object_get(j, "account")));
    json_decref(j);
    tc_ok(tc_cli("enroll", uri, "--yes", NULL), "client enroll");
    tc_ok(tc_cli("sync", NULL), "client sync");

    as(f->cohome);
    tc_ok(tc_cli("sync", NULL), "counselor sync"); /* learns "Sam K." from the consent */
    return 0;
}

/* A server with the clinic's consent template (expires_days days), and everything
 * else as setup. */
static int
setup_template(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char tpl[4200];
    f->home = dbk_tmpdir("loop-tpl");
    snprintf(tpl, sizeof tpl, "%s/consent.json", f->home);
    write_file(tpl,
               "{\"program\": \"Riverside IOP\",\n"
               " \"information\": \"My craving records, shared journal entries and checklist "
               "(CLINIC-WORDING).\",\n"
               " \"purpose\": \"Review by my counselor for my treatment at Riverside IOP.\",\n"
               " \"right_to_revoke\": \"I may revoke this consent at any time with 'daybook "
               "revoke'.\",\n"
               " \"expires_days\": 7,\n"
               " \"expires_event\": \"my discharge from the program\",\n"
               " \"redisclosure_notice\": \"42 CFR part 2 prohibits unauthorized use or "
               "disclosure of these records.\"}\n",
               0600);
    const char *extra[] = {"--consent-template", tpl, NULL};
    assert_int_equal(dbk_server_start(&f->srv, extra), 0);
    *state = f;
    return setup_rest(f);
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
    free(f);
    return 0;
}

/* --json and --help sit anywhere after the command. */
static void
test_options_anywhere(void **state)
{
    struct fx *f = *state;
    dbk_run_result r;

    as(f->clhome);
    tc_ok(tc_cli("journal", "-m", "options anywhere", NULL), "journal");
    json_t *j = cli_json("log", "--json", NULL); /* was refused: only "--json log" worked */
    assert_true(json_is_array(j));
    assert_true(json_array_size(j) >= 1);
    json_decref(j);
    r = tc_cli("init", "--help", NULL); /* was exit 2 */
    assert_int_equal(r.status, 0);
    must_contain(r.out, "usage: daybook init");
    assert_int_equal(strlen(r.err), 0);
    dbk_run_result_free(&r);
    r = tc_cli("clients", "alias", "--help", NULL); /* a subcommand: its command's help */
    assert_int_equal(r.status, 0);
    must_contain(r.out, "usage: daybook clients");
    dbk_run_result_free(&r);
}

/*
 * journal with no -m on a terminal opens $EDITOR on a file in a 0700 directory of its
 * own, gone afterwards; the entry ticks "journaling" on today's checklist.
 */
static void
test_journal_editor(void **state)
{
    struct fx *f = *state;
    char script[4200], rec[4200], path[4300];
    dbk_pty_result t;

    as(f->clhome);
    snprintf(rec, sizeof rec, "%s/editor-saw", f->home);
    assert_int_equal(mkdir(rec, 0700), 0);
    snprintf(script, sizeof script, "%s/editor.sh", f->home);
    {
        char body[16384];
        snprintf(body, sizeof body,
                 "#!/bin/sh\n"
                 "stat -c %%a \"$(dirname \"$1\")\" > '%s/dirmode'\n"
                 "stat -c %%a \"$1\" > '%s/mode'\n"
                 "dirname \"$1\" > '%s/dir'\n"
                 "printf 'Walked to the meeting instead of the bar.\\n' > \"$1\"\n",
                 rec, rec, rec);
        write_file(script, body, 0700);
    }
    setenv("EDITOR", script, 1);
    t = on_tty(NULL, "journal", NULL);
    unsetenv("EDITOR");
    tty_done(&t, 0, 0);
    must_contain(t.out, "Saved (");
    must_contain(t.out, "Ticked 'journaling'");
    dbk_pty_result_free(&t);

    snprintf(path, sizeof path, "%s/dirmode", rec);
    char *m = read_file(path);
    assert_string_equal(m, "700\n");
    free(m);
    snprintf(path, sizeof path, "%s/mode", rec);
    m = read_file(path);
    assert_string_equal(m, "600\n");
    free(m);
    snprintf(path, sizeof path, "%s/dir", rec);
    char *d = read_file(path);
    d[strcspn(d, "\n")] = '\0';
    struct stat sb;
    assert_int_not_equal(stat(d, &sb), 0); /* the directory and its file are gone */
    free(d);

    json_t *j = cli_json("--json", "log", "--type", "journal", NULL);
    assert_true(json_has(json_array_get(j, 0), "Walked to the meeting"));
    json_decref(j);
    j = cli_json("--json", "today", NULL);
    bool ticked = false;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(j, "items"), i, it)
        if (strcmp(json_string_value(json_object_get(it, "id")), "journaling") == 0)
            ticked = json_is_true(json_object_get(it, "checked"));
    assert_true(ticked);
    json_decref(j);

    /* A second entry the same day leaves the checklist as it is. */
    j = cli_json("--json", "journal", "-m", "and a second one", NULL);
    assert_int_equal(json_array_size(json_object_get(j, "ticked")), 0);
    json_decref(j);
}

/*
 * revoke shows what it will do and asks; "no" changes nothing; without a terminal it
 * needs --yes. After it, the counselor's sync says "<name> stopped sharing on <date>"
 * once and exits 0, then is quiet.
 */
static void
test_revoke_asks_and_counselor_told_once(void **state)
{
    struct fx *f = *state;
    char prefix[16], day[11], want[128];
    dbk_run_result r;
    dbk_pty_result t;

    snprintf(prefix, sizeof prefix, "%.8s", f->counselor_id);
    as(f->clhome);
    {
        const dbk_pty_step no[] = {{"Stop sharing? [yes/no]", "no\n"}, {NULL, NULL}};
        t = on_tty(no, "revoke", prefix, NULL);
        tty_done(&t, 1, 0);
        must_contain(t.out, "This ends Dana Reyes's access");
        must_contain(t.out, "what they already read stays read");
        must_contain(t.out, "Nothing changed");
        dbk_pty_result_free(&t);
    }
    r = tc_cli("revoke", prefix, NULL); /* no terminal, no --yes */
    assert_int_equal(r.status, 2);
    must_contain(r.err, "--yes");
    dbk_run_result_free(&r);
    /* An id prefix may begin with '-' (base64url): it names someone, not an option. */
    r = tc_cli("revoke", "-AbCdEf", "--yes", NULL);
    assert_int_equal(r.status, 1);
    assert_false(contains(r.err, "usage:"));
    dbk_run_result_free(&r);
    json_t *j = cli_json("--json", "access", NULL);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(j, "grants"), f->counselor_id),
                            "state")),
                        "active");
    json_decref(j);
    {
        const dbk_pty_step yes[] = {{"Stop sharing? [yes/no]", "yes\n"}, {NULL, NULL}};
        t = on_tty(yes, "revoke", prefix, NULL);
        tty_done(&t, 1, 0);
        must_contain(t.out, "can no longer read your entries");
        dbk_pty_result_free(&t);
    }

    as(f->cohome);
    today_text(day);
    snprintf(want, sizeof want, "Sam K. stopped sharing on %s", day);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0); /* was 1, on every sync from then on */
    must_contain(r.out, want);
    dbk_run_result_free(&r);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    assert_false(contains(r.out, "stopped sharing"));
    assert_int_equal(strlen(r.err), 0);
    dbk_run_result_free(&r);
}

/* Runs sql on the server's database while the server is stopped: the SQLite file, or in
 * the suite's PostgreSQL pass pg_sql (NULL: the same text) on its database. */
static void
server_sql(struct fx *f, const char *sql, const char *pg_sql)
{
    assert_int_equal(dbk_server_stop(&f->srv), 0);
    if (dbk_test_pg())
        assert_true(dbk_pg_exec_db(f->srv.store_url, pg_sql ? pg_sql : sql) >= 1);
    else
        assert_true(dbk_server_exec(&f->srv, sql) >= 1);
    assert_int_equal(dbk_server_restart(&f->srv, NULL), 0);
}

/* The counselor's review of the client, as JSON: how many cravings it holds. */
static size_t
counselor_cravings(struct fx *f)
{
    as(f->cohome);
    json_t *j = cli_json("--json", "review", f->client_id, "--since", "2000-01-01", NULL);
    json_t *c = json_object_get(j, "cravings");
    size_t n = json_is_array(c) ? json_array_size(c)
                                : (size_t)json_integer_value(json_object_get(c, "count"));
    json_decref(j);
    return n;
}

/*
 * A consent that runs out ends sharing as a revoke does: the counselor's sync says so
 * once and exits 0, and the counselor's device makes no review from it. Seven days
 * cannot pass in a test, so the server's copy of the grant is made to end an hour ago
 * (the server decides reads by its own clock).
 */
static void
test_consent_expiry_stops_sharing(void **state)
{
    struct fx *f = *state;
    char day[11], want[160], sql[256], pg_sql[256], hex[2 * DBK_ID_BYTES + 1];
    dbk_run_result r;
    dbk_id co;

    as(f->clhome);
    tc_ok(tc_cli("craving", "--intensity", "5", "--outcome", "resisted", NULL), "craving before");
    tc_ok(tc_cli("sync", NULL), "client sync");
    assert_int_equal(counselor_cravings(f), 1);

    assert_int_equal(dbk_id_from_text(&co, f->counselor_id, strlen(f->counselor_id)), 0);
    sodium_bin2hex(hex, sizeof hex, co.b, DBK_ID_BYTES);
    time_t ended = time(NULL) - 3600; /* an hour ago: yesterday in the day's first hour */
    snprintf(sql, sizeof sql, "UPDATE grants SET expires_at = %lld WHERE grantee = x'%s';",
             (long long)ended * 1000, hex);
    snprintf(pg_sql, sizeof pg_sql,
             "UPDATE grants SET expires_at = %lld WHERE grantee = '\\x%s'::bytea;",
             (long long)ended * 1000, hex);
    server_sql(f, sql, pg_sql);

    as(f->clhome);
    tc_ok(tc_cli("craving", "--intensity", "9", "--outcome", "used", NULL), "craving after");
    tc_ok(tc_cli("sync", NULL), "client sync after the end");

    as(f->cohome);
    struct tm tm;
    localtime_r(&ended, &tm);
    strftime(day, sizeof day, "%Y-%m-%d", &tm); /* the day it ended, not today */
    snprintf(want, sizeof want, "Sam K.'s consent ended on %s; sharing stopped", day);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    must_contain(r.out, want);
    dbk_run_result_free(&r);
    r = tc_cli("sync", NULL); /* told once */
    assert_int_equal(r.status, 0);
    assert_false(contains(r.out, "consent ended"));
    assert_int_equal(strlen(r.err), 0);
    dbk_run_result_free(&r);
    /* As after a revoke, the counselor's device makes no review from an ended consent,
     * and says why and what to do. */
    r = tc_cli("review", f->client_id, NULL);
    assert_int_equal(r.status, 1);
    must_contain(r.err, "Sam K. has a consent that has expired");
    must_contain(r.err, "ask in session whether they want to share again");
    dbk_run_result_free(&r);
    dbk_report("consent", "a client's consent runs out between sessions",
               "the counselor is told once, sync exits 0; no review from the ended consent");
}

/*
 * The counselor's name reaches the client in the code, with the fingerprint (proto
 * rule R9): a server that renames the counselor cannot put another name on the
 * client's consent, and the client is warned of the difference.
 */
static void
test_counselor_name_from_the_code(void **state)
{
    struct fx *f = *state;
    char uri[1024], second[4200];
    dbk_run_result r;

    as(f->cohome);
    r = tc_cli("invite", NULL);
    assert_int_equal(r.status, 0);
    must_contain(r.out, "It names you as Dana Reyes.");
    dbk_run_result_free(&r);
    json_t *j = cli_json("--json", "invite", NULL);
    snprintf(uri, sizeof uri, "%s", json_string_value(json_object_get(j, "uri")));
    json_decref(j);
    must_contain(uri, "&by=Dana%20Reyes");
    server_sql(f, "UPDATE accounts SET name = 'Mallory Impostor' WHERE name = 'Dana Reyes';", NULL);

    snprintf(second, sizeof second, "%s/renamed", f->home);
    as(second);
    tc_ok(tc_cli("init", NULL), "init");
    r = tc_cli("enroll", uri, "--yes", "--name", "Robin T.", NULL);
    if (r.status != 0)
        fail_msg("enroll: %s", r.err);
    must_contain(r.err, "the server calls your counselor \"Mallory Impostor\"");
    must_contain(r.out, "Your counselor: Dana Reyes.");
    dbk_run_result_free(&r);
    j = cli_json("--json", "consent", NULL);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(j, 0), "recipient"), "name")),
                        "Dana Reyes");
    assert_false(json_has(j, "Mallory"));
    json_decref(j);
}

/*
 * Interactive craving entry: numbered lists for triggers, HALT, coping and outcome; a
 * typo asks that question again; words typed into a list become the note, whole,
 * never coping slugs. Without a terminal, validation names the field and what it
 * takes; an unknown strategy needs --new-coping. A client command on a counselor's
 * profile says so; no passphrase is not a "wrong passphrase".
 */
static void
test_pick_lists_and_errors(void **state)
{
    struct fx *f = *state;
    dbk_run_result r;
    dbk_pty_result t;

    as(f->clhome);
    const dbk_pty_step steps[] = {
        {"How strong is the craving", "11\n"},
        {"Type a whole number from 0 to 10.", NULL},
        {"How strong is the craving", "7\n"},
        {"What was going on?", "at the bus stop\n"},
        {"What set it off?", NULL},
        {"Enter for none: ", "2\n"},
        {"Which places?", "the bar on 5th\n"},
        {"(HALT)", NULL},
        {"Enter for none: ", "9\n"},
        {"There is no 9 in the list; pick 1 to 4.", NULL},
        {"Enter for none: ", "2 4\n"},
        {"What did you do to cope?", NULL},
        {"rode the urge like a wave", NULL},
        {"Enter for none: ", "called my sponsor\n"},
        {"How did it end?", NULL},
        {"Number: ", "1\n"},
        {"Saved (", NULL},
        {NULL, NULL},
    };
    t = on_tty(steps, "craving", NULL);
    tty_done(&t, 17, 0);
    dbk_pty_result_free(&t);
    json_t *j = cli_json("--json", "log", "--type", "craving", NULL);
    json_t *c = json_object_get(json_array_get(j, json_array_size(j) - 1), "entry");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "intensity"), "value")),
                     7);
    assert_string_equal(json_string_value(json_object_get(c, "note")), "called my sponsor");
    assert_null(json_object_get(c, "coping")); /* was ["called","my","sponsor"] */
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(c, "triggers"), "places"), 0)),
                        "the bar on 5th");
    json_t *halt = json_object_get(json_object_get(c, "triggers"), "halt");
    assert_int_equal(json_array_size(halt), 2);
    assert_string_equal(json_string_value(json_array_get(halt, 0)), "angry");
    assert_string_equal(json_string_value(json_array_get(halt, 1)), "tired");
    assert_string_equal(json_string_value(json_object_get(json_object_get(c, "outcome"),
                                                          "result")),
                        "resisted");
    json_decref(j);

    /* Flags: each error names the field and what it takes. */
    r = tc_cli("craving", "--intensity", "11", "--outcome", "resisted", NULL);
    assert_int_equal(r.status, 2);
    must_contain(r.err, "--intensity on the 0-10 scale is 0 to 10; got 11");
    dbk_run_result_free(&r);
    r = tc_cli("craving", "--intensity", "3", "--outcome", "maybe", NULL);
    assert_int_equal(r.status, 2);
    must_contain(r.err, "--outcome is resisted (it passed) or used; got 'maybe'");
    dbk_run_result_free(&r);
    r = tc_cli("craving", "--intensity", "3", "--outcome", "resisted", "--halt", "sleepy", NULL);
    assert_int_equal(r.status, 2);
    must_contain(r.err, "--halt takes hungry, angry, lonely, tired");
    dbk_run_result_free(&r);
    r = tc_cli("craving", "--intensity", "3", "--outcome", "resisted", "--coping",
               "called my sponsor", NULL);
    assert_int_equal(r.status, 2);
    must_contain(r.err, "--note");
    dbk_run_result_free(&r);
    r = tc_cli("craving", "--intensity", "3", "--outcome", "resisted", "--coping", "knitting",
               NULL);
    assert_int_equal(r.status, 2);
    must_contain(r.err, "not one of Daybook's strategies");
    must_contain(r.err, "urge_surfing");
    must_contain(r.err, "--new-coping");
    dbk_run_result_free(&r);
    tc_ok(tc_cli("craving", "--intensity", "3", "--outcome", "resisted", "--coping", "knitting",
                 "--new-coping", NULL),
          "own strategy");
    r = tc_cli("log", "--type", "cravings", NULL);
    assert_int_equal(r.status, 2);
    must_contain(r.err, "craving, journal, checklist_day, note, consent");
    dbk_run_result_free(&r);

    /* No passphrase at all is not a wrong one (the keys not cached: asked for). */
    {
        tc_ok(tc_cli("lock", NULL), "lock");
        const char *pf = getenv("DAYBOOK_PASSPHRASE_FILE");
        char *keep = strdup(pf);
        unsetenv("DAYBOOK_PASSPHRASE_FILE");
        const char *argv[] = {"setsid", dbk_bin("DAYBOOK"), "journal", "-m", "x", NULL};
        assert_int_equal(dbk_run(argv, NULL, 30, &r), 0); /* setsid: no terminal at all */
        assert_int_equal(r.status, 1);
        must_contain(r.err, "no passphrase was given");
        assert_false(contains(r.err, "Wrong passphrase"));
        dbk_run_result_free(&r);
        setenv("DAYBOOK_PASSPHRASE_FILE", keep, 1);
        free(keep);
    }

    /* A client's command on the counselor's profile. */
    as(f->cohome);
    r = tc_cli("craving", "--intensity", "3", "--outcome", "resisted", NULL);
    assert_int_equal(r.status, 1);
    must_contain(r.err, "'craving' is for clients, and this is a counselor's profile");
    assert_false(contains(r.err, "corrupt"));
    dbk_run_result_free(&r);
    r = tc_cli("today", NULL);
    assert_int_equal(r.status, 1);
    must_contain(r.err, "counselor's profile");
    dbk_run_result_free(&r);

    /* Its keys locked and no passphrase to be had (no file, no terminal): told it is a
     * client's command first, not asked for a passphrase (nor refused for lack of one),
     * though the signed role check would now have a record to open (the alias). */
    tc_ok(tc_cli("clients", "alias", f->client_id, "Sam Kay", NULL), "counselor alias");
    tc_ok(tc_cli("lock", NULL), "lock"); /* the alias kept them cached */
    {
        const char *pf = getenv("DAYBOOK_PASSPHRASE_FILE");
        char *keep = strdup(pf);
        unsetenv("DAYBOOK_PASSPHRASE_FILE");
        const char *cmds[][6] = {
            {"setsid", dbk_bin("DAYBOOK"), "today", NULL},
            {"setsid", dbk_bin("DAYBOOK"), "craving", "--intensity", "3", NULL}};
        for (size_t i = 0; i < 2; i++) {
            assert_int_equal(dbk_run(cmds[i], NULL, 30, &r), 0);
            assert_int_equal(r.status, 1);
            must_contain(r.err, "is for clients, and this is a counselor's profile");
            assert_false(contains(r.err, "passphrase"));
            dbk_run_result_free(&r);
        }
        setenv("DAYBOOK_PASSPHRASE_FILE", keep, 1);
        free(keep);
    }
    tc_ok(tc_cli("clients", "alias", f->client_id, "Sam K.", NULL), "counselor alias back");
    /* A client's commands still run for a client. */
    as(f->clhome);
    tc_ok(tc_cli("today", NULL), "today on the client's profile");
}

/* A counselor's note is shared (--share, or "yes" on a terminal) or kept for its own
 * record (the default without a terminal); what is shared and newly assigned reaches
 * the client's sync summary once, today, log and notes, with the counselor's name. */
static void
test_notes_back(void **state)
{
    struct fx *f = *state;
    dbk_run_result r;
    dbk_pty_result t;

    as(f->cohome);
    json_t *j = cli_json("--json", "clients", NULL); /* the name came in the consent */
    assert_true(json_has(j, "Sam K."));
    json_decref(j);
    tc_ok(tc_cli("note", "Sam K.", "-m", "Great week, keep calling Jo. SHARED-1", "--share", NULL),
          "shared note");
    tc_ok(tc_cli("note", "Sam K.", "-m", "Watch for payday triggers. PRIVATE-1", NULL),
          "private note");
    {
        const dbk_pty_step ask[] = {{"Share this note with Sam K.?", "yes\n"}, {NULL, NULL}};
        t = on_tty(ask, "note", "Sam K.", "-m", "See you Tuesday. SHARED-2", NULL);
        tty_done(&t, 1, 0);
        must_contain(t.out, "saved and shared");
        dbk_pty_result_free(&t);
    }
    tc_ok(tc_cli("assign", "Sam K.", "call_sponsor=Call your sponsor", NULL), "assign");
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    r = tc_cli("notes", NULL);
    must_contain(r.out, "PRIVATE-1");
    must_contain(r.out, "(your own record)");
    must_contain(r.out, "(shared with the client)");
    dbk_run_result_free(&r);
    r = tc_cli("review", "Sam K.", NULL);
    must_contain(r.out, "PRIVATE-1"); /* the counselor's own record is in its review */
    must_contain(r.out, "SHARED-1");
    dbk_run_result_free(&r);

    as(f->clhome);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    must_contain(r.out, "New note from Dana Reyes: Great week, keep calling Jo. SHARED-1");
    must_contain(r.out, "New note from Dana Reyes: See you Tuesday. SHARED-2");
    must_contain(r.out, "New skill from Dana Reyes on your checklist: Call your sponsor");
    assert_false(contains(r.out, "PRIVATE-1"));
    dbk_run_result_free(&r);
    r = tc_cli("sync", NULL); /* told once */
    assert_false(contains(r.out, "New note"));
    dbk_run_result_free(&r);
    r = tc_cli("today", NULL);
    must_contain(r.out, "Notes from Dana Reyes this week");
    must_contain(r.out, "SHARED-2");
    must_contain(r.out, "Assigned by Dana Reyes:");
    dbk_run_result_free(&r);
    r = tc_cli("log", NULL);
    must_contain(r.out, "note from Dana Reyes: Great week");
    must_contain(r.out, "Dana Reyes assigned: Call your sponsor");
    dbk_run_result_free(&r);
    r = tc_cli("notes", NULL);
    must_contain(r.out, "note from Dana Reyes:");
    must_contain(r.out, "skill assigned by Dana Reyes: Call your sponsor");
    assert_false(contains(r.out, "PRIVATE-1"));
    dbk_run_result_free(&r);
    r = tc_cli("--json", "export", NULL); /* the client's own copy never holds it either */
    assert_false(contains(r.out, "PRIVATE-1"));
    dbk_run_result_free(&r);
}

/* The consent the CLI builds conforms to proto/schemas/consent-grant.schema.json. */
static void
check_consent_schema(const struct fx *f, const json_t *doc)
{
    char path[4200], schema[4200];
    dbk_run_result r;
    snprintf(path, sizeof path, "%s/signed-consent.json", f->home);
    assert_int_equal(json_dump_file(doc, path, 0), 0);
    snprintf(schema, sizeof schema, "%s/proto/schemas/consent-grant.schema.json",
             dbk_bin("DAYBOOK_SOURCE"));
    const char *argv[] = {dbk_bin("NODE"), "", schema, path, NULL};
    char script[4200];
    snprintf(script, sizeof script, "%s/tests/schemas/check_one.mjs", dbk_bin("DAYBOOK_SOURCE"));
    argv[1] = script;
    assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
    if (r.status != 0)
        fail_msg("the consent does not match the schema: %s%s", r.out, r.err);
    dbk_run_result_free(&r);
}

/*
 * Enrollment shows the whole consent with the clinic's wording and grants nothing
 * until "yes"; 'daybook consent' shows it; the name travelled in the link, never in
 * clear to the server; near its end both sides are told; revoke, then share again.
 */
static void
test_consent(void **state)
{
    struct fx *f = *state;
    char uri[1024], second[4200], url[256];
    dbk_run_result r;
    dbk_pty_result t;

    /* The server's template, as served. */
    snprintf(url, sizeof url, "%s/v1/consent-template", f->srv.base_url);
    {
        dbk_http_resp h;
        assert_int_equal(dbk_http("GET", url, NULL, NULL, 0, &h), 0);
        assert_int_equal(h.status, 200);
        must_contain(h.body, "CLINIC-WORDING");
        dbk_http_resp_free(&h);
    }

    /* The setup's client enrolled with --yes: its consent, with the clinic's words. */
    as(f->clhome);
    json_t *j = cli_json("--json", "consent", NULL);
    assert_int_equal(json_array_size(j), 1);
    json_t *doc = json_array_get(j, 0);
    check_consent_schema(f, doc);
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "patient"), "name")),
                        "Sam K.");
    must_contain(json_string_value(json_object_get(json_object_get(doc, "information"),
                                                   "description")),
                 "CLINIC-WORDING");
    json_decref(j);
    r = tc_cli("consent", NULL);
    for (const char *const *w = (const char *const[]){"Patient:", "Sam K.", "Who discloses:",
                                                      "Riverside IOP", "To whom:", "Dana Reyes",
                                                      "Purpose:", "What is disclosed:", "Until:",
                                                      "my discharge from the program",
                                                      "How to revoke:", "section 2.32",
                                                      "prohibits unauthorized use", "Signed:",
                                                      "ends in 7 days", "daybook share", NULL};
         *w != NULL; w++)
        must_contain(r.out, *w);
    dbk_run_result_free(&r);
    r = tc_cli("sync", NULL); /* 7 days: inside the warning window */
    must_contain(r.out, "Your consent to share with Dana Reyes ends in 7 days");
    dbk_run_result_free(&r);

    /* The counselor sees it too. */
    as(f->cohome);
    r = tc_cli("sync", NULL);
    must_contain(r.out, "Sam K.'s consent expires in 7 days");
    dbk_run_result_free(&r);
    r = tc_cli("consent", NULL);
    must_contain(r.out, "consent expires in 7 days");
    dbk_run_result_free(&r);

    /* The name never reached the server in clear. */
    {
        const char *argv[] = {"grep", "-r", "-c", "Sam K.", f->srv.data_dir, NULL};
        assert_int_equal(dbk_run(argv, NULL, 30, &r), 0);
        assert_false(contains(r.out, ":1"));
        assert_int_not_equal(r.status, 0); /* grep found nothing */
        dbk_run_result_free(&r);
    }

    /* A second client on a terminal: the whole consent, then "no" grants nothing. */
    j = cli_json("--json", "invite", "--name", "Alex P.", NULL);
    snprintf(uri, sizeof uri, "%s", json_string_value(json_object_get(j, "uri")));
    json_decref(j);
    snprintf(second, sizeof second, "%s/second", f->home);
    as(second);
    tc_ok(tc_cli("init", NULL), "second init");
    r = tc_cli("enroll", uri, NULL); /* no terminal, no --yes: refused before the code is used */
    assert_int_equal(r.status, 2);
    must_contain(r.err, "--yes");
    dbk_run_result_free(&r);
    {
        const dbk_pty_step no[] = {{"Type yes to agree:", "no\n"}, {NULL, NULL}};
        t = on_tty(no, "enroll", uri, NULL);
        tty_done(&t, 1, 0);
        must_contain(t.out, "Patient:");
        must_contain(t.out, "Alex P.");
        must_contain(t.out, "CLINIC-WORDING");
        must_contain(t.out, "Nothing is shared");
        dbk_pty_result_free(&t);
    }
    as(f->cohome);
    j = cli_json("--json", "clients", NULL);
    assert_false(json_has(j, "Alex P."));
    json_decref(j);
    as(second);
    {
        const dbk_pty_step yes[] = {{"Type yes to agree:", "yes\n"}, {NULL, NULL}};
        t = on_tty(yes, "share", "Dana Reyes", NULL);
        tty_done(&t, 1, 0);
        must_contain(t.out, "Sharing with Dana Reyes");
        dbk_pty_result_free(&t);
    }
    tc_ok(tc_cli("journal", "-m", "second client's first entry SECOND-1", NULL), "journal");
    tc_ok(tc_cli("sync", NULL), "second sync");
    as(f->cohome);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    r = tc_cli("review", "Alex P.", "--since", "2000-01-01", NULL);
    assert_int_equal(r.status, 0);
    must_contain(r.out, "SECOND-1");
    dbk_run_result_free(&r);

    /* Revoke, the counselor is told, then share again: reading resumes. */
    as(f->clhome);
    {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "%.8s", f->counselor_id);
        tc_ok(tc_cli("revoke", prefix, "--yes", NULL), "revoke");
    }
    as(f->cohome);
    r = tc_cli("sync", NULL);
    must_contain(r.out, "Sam K. stopped sharing on");
    dbk_run_result_free(&r);
    as(f->clhome);
    r = tc_cli("consent", NULL);
    must_contain(r.out, "Status: revoked; nothing new is shared");
    assert_false(contains(r.out, "Status: in force"));
    dbk_run_result_free(&r);
    tc_ok(tc_cli("share", "Dana Reyes", "--yes", NULL), "share again");
    r = tc_cli("consent", NULL);
    must_contain(r.out, "Status: in force");
    dbk_run_result_free(&r);
    tc_ok(tc_cli("journal", "-m", "after sharing again RESHARED-1", NULL), "journal");
    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->cohome);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    r = tc_cli("review", "Sam K.", NULL);
    assert_int_equal(r.status, 0);
    must_contain(r.out, "RESHARED-1");
    dbk_run_result_free(&r);
}

/* daybookd refuses a template that lacks a section 2.31 element, naming it. */
static void
test_template_checked(void **state)
{
    (void)state;
    char *dir = dbk_tmpdir("tpl-bad"), tpl[4200], data[4200];
    dbk_run_result r;
    snprintf(tpl, sizeof tpl, "%s/consent.json", dir);
    snprintf(data, sizeof data, "%s/data", dir);
    write_file(tpl,
               "{\"program\": \"Riverside IOP\", \"information\": \"x\", \"purpose\": \"y\", "
               "\"expires_days\": 30, \"redisclosure_notice\": \"42 CFR part 2 ...\"}\n",
               0600);
    const char *argv[] = {dbk_bin("DAYBOOKD"), "serve", "--listen", "127.0.0.1:0", "--data-dir",
                          data, "--consent-template", tpl, NULL};
    assert_int_equal(dbk_run(argv, NULL, 30, &r), 0);
    assert_int_equal(r.status, 2);
    must_contain(r.err, "right_to_revoke");
    dbk_run_result_free(&r);
    dbk_rmtree(dir);
    free(dir);
}

/* The counselor's aliases reach its other device as alias records (encrypted, in its
 * private stream), the newest winning; the server never holds the name in clear. */
static void
test_aliases_sync(void **state)
{
    struct fx *f = *state;
    char prefix[16], link[2048], dev2[4200];
    dbk_run_result r;

    as(f->cohome);
    snprintf(prefix, sizeof prefix, "%.8s", f->client_id);
    tc_ok(tc_cli("clients", "alias", prefix, "Sammy Two", NULL), "alias");
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    r = tc_cli("status", NULL);
    const char *p = strstr(r.out, "daybook login '");
    assert_non_null(p);
    snprintf(link, sizeof link, "%.*s", (int)strcspn(p + 15, "'"), p + 15);
    dbk_run_result_free(&r);

    snprintf(dev2, sizeof dev2, "%s/counselor-laptop", f->home);
    as(dev2);
    tc_ok(tc_cli("login", link, NULL), "second device login");
    tc_ok(tc_cli("sync", NULL), "second device sync");
    r = tc_cli("clients", NULL);
    must_contain(r.out, "Sammy Two");
    dbk_run_result_free(&r);
    /* A change on this device reaches the first. */
    tc_ok(tc_cli("clients", "alias", prefix, "Sam Kay", NULL), "alias on the laptop");
    tc_ok(tc_cli("sync", NULL), "laptop sync");
    as(f->cohome);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    r = tc_cli("clients", NULL);
    must_contain(r.out, "Sam Kay");
    assert_false(contains(r.out, "Sammy Two"));
    dbk_run_result_free(&r);
    {
        const char *argv[] = {"grep", "-r", "-l", "Sam Kay", f->srv.data_dir, NULL};
        assert_int_equal(dbk_run(argv, NULL, 30, &r), 0);
        assert_int_not_equal(r.status, 0); /* not on the server in clear */
        dbk_run_result_free(&r);
    }
}

/* A setup code made without --url works with the server's address, and without it
 * the CLI says what to add; daybookd prints that command. */
static void
test_setup_code_without_url(void **state)
{
    struct fx *f = *state;
    char home[4200], code[32];
    dbk_run_result r;
    const char *argv[] = {dbk_bin("DAYBOOKD"), "counselor", "add", "Lee Park", "--data-dir",
                          f->srv.data_dir, NULL};

    assert_int_equal(dbk_run(argv, NULL, 30, &r), 0);
    assert_int_equal(r.status, 0);
    const char *p = strstr(r.out, "once): ");
    assert_non_null(p);
    snprintf(code, sizeof code, "%.22s", p + 7);
    must_contain(r.out, "--server");
    dbk_run_result_free(&r);
    snprintf(home, sizeof home, "%s/lee", f->home);
    as(home);
    tc_ok(tc_cli("init", NULL), "init");
    r = tc_cli("enroll", code, NULL);
    assert_int_equal(r.status, 2);
    must_contain(r.err, "--server");
    dbk_run_result_free(&r);
    r = tc_cli("enroll", code, "--server", f->srv.base_url, NULL);
    if (r.status != 0)
        fail_msg("enroll with --server: %s", r.err);
    must_contain(r.out, "Counselor account ready");
    dbk_run_result_free(&r);
    tc_ok(tc_cli("invite", NULL), "the new counselor invites");
}

/* The recipient named by id in `daybook disclosures --json`, or NULL. */
static json_t *
recipient(json_t *doc, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(doc, "recipients"), i, v) {
        if (strcmp(json_string_value(json_object_get(v, "account_id")), id) == 0)
            return v;
    }
    return NULL;
}

/* How many records of type the recipient received, over all its disclosures. */
static json_int_t
received(json_t *r, const char *type)
{
    json_int_t n = 0;
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(r, "disclosures"), i, d) {
        n += json_integer_value(json_object_get(json_object_get(d, "types"), type));
    }
    return n;
}

/*
 * The client's disclosure report (42 CFR 2.24): nothing received before the
 * counselor syncs; after it, the counselor received exactly the records the client
 * shared, named by type, and not the private journal entry.
 */
static void
test_disclosures(void **state)
{
    struct fx *f = *state;
    json_t *doc, *r;
    dbk_run_result out;

    as(f->clhome);
    doc = cli_json("disclosures", "--json", NULL);
    r = recipient(doc, f->counselor_id);
    assert_non_null(r); /* granted at enrollment */
    assert_int_equal(received(r, "craving"), 0);
    assert_int_equal(received(r, "journal"), 0);
    json_decref(doc);

    tc_ok(tc_cli("craving", "--intensity", "6", "--outcome", "resisted", NULL), "craving 1");
    tc_ok(tc_cli("craving", "--intensity", "4", "--outcome", "resisted", NULL), "craving 2");
    tc_ok(tc_cli("journal", "-m", "shared with my counselor", NULL), "journal");
    tc_ok(tc_cli("journal", "-m", "only mine", "--private", NULL), "private journal");
    tc_ok(tc_cli("sync", NULL), "client sync");
    /* Synced, not yet read: still nothing disclosed. */
    doc = cli_json("disclosures", "--json", NULL);
    assert_int_equal(received(recipient(doc, f->counselor_id), "craving"), 0);
    json_decref(doc);

    as(f->cohome);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    as(f->clhome);
    doc = cli_json("disclosures", "--json", NULL);
    r = recipient(doc, f->counselor_id);
    assert_non_null(r);
    assert_int_equal(received(r, "craving"), 2);
    assert_int_equal(received(r, "journal"), 1);
    assert_int_equal(json_array_size(json_object_get(doc, "recipients")), 1);
    json_decref(doc);
    out = tc_cli("disclosures", NULL);
    assert_int_equal(out.status, 0);
    must_contain(out.out, "2 craving");
    must_contain(out.out, "1 journal");
    must_contain(out.out, "intermediary");
    dbk_run_result_free(&out);
}

/* A second counselor of the clinic, name, set up on its own device under f->home/sub:
 * its DAYBOOK_HOME into home, its id into id, its team link (with role, or none) into
 * link. */
static void
second_counselor(struct fx *f, const char *name, const char *sub, const char *role,
                 char home[4200], char id[DBK_ID_TEXT_LEN + 1], char link[2048])
{
    json_t *j;
    snprintf(home, 4200, "%s/%s", f->home, sub);
    add_counselor(f, name, home, id);
    j = role ? cli_json("--json", "team-link", "--role", role, NULL)
             : cli_json("--json", "team-link", NULL);
    snprintf(link, 2048, "%s", json_string_value(json_object_get(j, "uri")));
    json_decref(j);
}

/* The review of client by the counselor whose DAYBOOK_HOME is home: its cravings. */
static size_t
cravings_seen_by(const char *home, const char *client)
{
    char day[11];
    today_text(day);
    as(home);
    json_t *j = cli_json("--json", "review", client, "--since", day, "--offline", NULL);
    json_t *c = json_object_get(j, "cravings");
    size_t n = json_is_array(c) ? json_array_size(c)
                                : (size_t)json_integer_value(json_object_get(c, "count"));
    json_decref(j);
    return n;
}

/*
 * A care team (issue 19): the client shares with a second counselor, a prescriber,
 * through the link that counselor prints, under a consent of its own. A link whose
 * fingerprint does not match the keys the server gives (what a server that swaps the
 * prescriber's keys looks like to the client) shares nothing. Revoking the prescriber
 * leaves the first counselor reading; what the client writes after it reaches the
 * prescriber not at all.
 */
static void
test_care_team(void **state)
{
    struct fx *f = *state;
    char home[4200], link[2048], bad[2048], prefix[16];
    dbk_run_result r;
    json_t *j;

    /* The prescriber: a second counselor of the clinic, on their own device. */
    char rx_id[DBK_ID_TEXT_LEN + 1];
    second_counselor(f, "Dr. Rivera", "prescriber", "prescriber", home, rx_id, link);
    as(home);
    r = tc_cli("team-link", "--role", "prescriber", NULL);
    assert_int_equal(r.status, 0);
    must_contain(r.out, "daybook://team?");
    dbk_run_result_free(&r);
    must_contain(link, "by=Dr.%20Rivera");
    must_contain(link, "role=prescriber");

    /* The same link with the first counselor's fingerprint: the keys the server gives
     * for the prescriber do not match it. Nothing is shared. */
    as(f->cohome);
    j = cli_json("--json", "team-link", NULL);
    const char *fp_a = strstr(json_string_value(json_object_get(j, "uri")), "&fp=");
    assert_non_null(fp_a);
    snprintf(bad, sizeof bad, "%s", link);
    char *fp_b = strstr(bad, "&fp=");
    assert_non_null(fp_b);
    memcpy(fp_b, fp_a, 4 + 22);
    json_decref(j);
    as(f->clhome);
    r = tc_cli("share", bad, "--yes", NULL);
    assert_int_equal(r.status, 1);
    must_contain(r.err, "do not match the link's fingerprint");
    dbk_run_result_free(&r);
    j = cli_json("--json", "access", NULL);
    assert_null(json_object_get(json_object_get(j, "grants"), rx_id));
    json_decref(j);
    /* Links from elsewhere, or the client's own counselor, are turned away. */
    r = tc_cli("share", "daybook://enroll?server=x", "--yes", NULL);
    assert_int_equal(r.status, 2);
    dbk_run_result_free(&r);

    /* The real link: the consent names the prescriber and their role. */
    r = tc_cli("share", link, "--yes", NULL);
    if (r.status != 0)
        fail_msg("share with the prescriber: %s", r.err);
    must_contain(r.out, "Dr. Rivera (prescriber)");
    dbk_run_result_free(&r);
    j = cli_json("--json", "access", NULL);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(j, "grants"), rx_id), "state")),
                        "active");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(j, "grants"), f->counselor_id),
                            "state")),
                        "active");
    json_decref(j);
    tc_ok(tc_cli("craving", "--intensity", "6", "--outcome", "resisted", NULL), "craving 1");
    tc_ok(tc_cli("sync", NULL), "client sync");

    /* Both read it: the prescriber has the client in the caseload. */
    as(home);
    tc_ok(tc_cli("sync", NULL), "prescriber sync");
    r = tc_cli("--json", "clients", NULL);
    assert_int_equal(r.status, 0);
    must_contain(r.out, f->client_id);
    dbk_run_result_free(&r);
    assert_int_equal(cravings_seen_by(home, f->client_id), 1);
    as(f->cohome);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    assert_int_equal(cravings_seen_by(f->cohome, f->client_id), 1);

    /* The prescriber's access ends; the first counselor's does not. */
    as(f->clhome);
    snprintf(prefix, sizeof prefix, "%.8s", rx_id);
    tc_ok(tc_cli("revoke", prefix, "--yes", NULL), "revoke the prescriber");
    tc_ok(tc_cli("craving", "--intensity", "8", "--outcome", "used", NULL), "craving 2");
    tc_ok(tc_cli("sync", NULL), "client sync after revoke");
    as(f->cohome);
    tc_ok(tc_cli("sync", NULL), "counselor sync after revoke");
    assert_int_equal(cravings_seen_by(f->cohome, f->client_id), 2);
    as(home);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    must_contain(r.out, "stopped sharing");
    dbk_run_result_free(&r);
    /* Its device still shows what it read under the consent, and nothing written
     * after the revoke. */
    size_t seen = cravings_seen_by(home, f->client_id), leaked = seen > 1 ? seen - 1 : 0;
    assert_int_equal(seen - leaked, 1);
    dbk_report("care team: a second counselor", "a client shares with a prescriber by their "
               "team link; a link whose fingerprint does not match the keys; then a revoke",
               "shared only on the matching link; after the revoke the first counselor reads "
               "on; records the revoked prescriber could read: %zu", leaked);
    assert_int_equal(leaked, 0);
}

/*
 * A transfer (issue 19): the client's counselor hands the client another counselor's
 * team link in a record the counselor signs. The client's 'today' shows it with the
 * command to act on it; nothing is shared until the client agrees; once it has, the
 * new counselor has the client in the caseload and the request is not shown again.
 */
static void
test_transfer(void **state)
{
    struct fx *f = *state;
    char home[4200], id[DBK_ID_TEXT_LEN + 1], link[2048];
    dbk_run_result r;
    json_t *j;

    second_counselor(f, "Jordan Lee", "jordan", NULL, home, id, link);
    as(f->cohome);
    r = tc_cli("transfer", "daybook://enroll?server=x", f->client_id, NULL);
    assert_int_equal(r.status, 2);
    dbk_run_result_free(&r);
    r = tc_cli("transfer", link, f->client_id, "--message", "I am leaving in January.", NULL);
    if (r.status != 0)
        fail_msg("transfer: %s", r.err);
    must_contain(r.out, "1 client asked to move their care to Jordan Lee");
    dbk_run_result_free(&r);
    tc_ok(tc_cli("sync", NULL), "counselor sync");

    as(f->clhome);
    tc_ok(tc_cli("sync", NULL), "client sync");
    j = cli_json("--json", "today", NULL);
    json_t *ref = json_array_get(json_object_get(j, "referrals"), 0);
    assert_non_null(ref);
    assert_string_equal(json_string_value(json_object_get(ref, "link")), link);
    assert_string_equal(json_string_value(json_object_get(ref, "kind")), "transfer");
    assert_string_equal(json_string_value(json_object_get(ref, "by")), f->counselor_id);
    json_decref(j);
    r = tc_cli("today", NULL);
    assert_int_equal(r.status, 0);
    must_contain(r.out, "Dana Reyes asks you to move your care to Jordan Lee.");
    must_contain(r.out, "I am leaving in January.");
    dbk_run_result_free(&r);
    /* Nothing moved by itself: the new counselor has no access yet. */
    j = cli_json("--json", "access", NULL);
    assert_null(json_object_get(json_object_get(j, "grants"), id));
    json_decref(j);

    tc_ok(tc_cli("share", link, "--yes", NULL), "share with the new counselor");
    j = cli_json("--json", "today", NULL);
    assert_int_equal(json_array_size(json_object_get(j, "referrals")), 0);
    json_decref(j);
    tc_ok(tc_cli("sync", NULL), "client sync 2");
    as(home);
    tc_ok(tc_cli("sync", NULL), "new counselor sync");
    r = tc_cli("--json", "clients", NULL);
    assert_int_equal(r.status, 0);
    must_contain(r.out, f->client_id);
    dbk_run_result_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_options_anywhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_editor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_asks_and_counselor_told_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_notes_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pick_lists_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consent, setup_template, teardown),
        cmocka_unit_test_setup_teardown(test_consent_expiry_stops_sharing, setup_template,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_counselor_name_from_the_code, setup, teardown),
        cmocka_unit_test(test_template_checked),
        cmocka_unit_test_setup_teardown(test_setup_code_without_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aliases_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disclosures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_care_team, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transfer, setup, teardown),
    };
    if (dbk_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
