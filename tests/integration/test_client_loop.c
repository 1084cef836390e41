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

static void
ok(dbk_run_result r, const char *what)
{
    if (r.status != 0)
        fail_msg("%s: exit %d: %s", what, r.status, r.err);
    dbk_run_result_free(&r);
}

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

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char pass[4200], url[64], uri[1024];

    assert_int_equal(dbk_server_start(&f->srv, NULL), 0);
    f->home = dbk_tmpdir("loop");
    snprintf(pass, sizeof pass, "%s/passphrase", f->home);
    write_file(pass, "a long test passphrase\n", 0600);
    setenv("DAYBOOK_PASSPHRASE_FILE", pass, 1);
    setenv("DAYBOOK_UNLOCK_SECONDS", "0", 1);
    unsetenv("EDITOR");
    unsetenv("VISUAL");
    snprintf(f->cohome, sizeof f->cohome, "%s/counselor", f->home);
    snprintf(f->clhome, sizeof f->clhome, "%s/client", f->home);

    snprintf(url, sizeof url, "http://127.0.0.1:%d", f->srv.port);
    const char *argv[] = {dbk_bin("DAYBOOKD"), "counselor", "add", "Dana Reyes", "--url", url,
                          "--data-dir", f->srv.data_dir, NULL};
    dbk_run_result r;
    assert_int_equal(dbk_run(argv, NULL, 30, &r), 0);
    assert_int_equal(r.status, 0);
    const char *s = strstr(r.out, "setup URI: ");
    assert_non_null(s);
    snprintf(uri, sizeof uri, "%.*s", (int)strcspn(s + 11, "\n"), s + 11);
    dbk_run_result_free(&r);

    as(f->cohome);
    json_t *j = cli_json("--json", "init", NULL);
    snprintf(f->counselor_id, sizeof f->counselor_id, "%s",
             json_string_value(json_object_get(j, "account")));
    json_decref(j);
    ok(tc_cli("enroll", uri, NULL), "counselor enroll");
    j = cli_json("--json", "invite", NULL);
    snprintf(uri, sizeof uri, "%s", json_string_value(json_object_get(j, "uri")));
    json_decref(j);

    as(f->clhome);
    j = cli_json("--json", "init", NULL);
    snprintf(f->client_id, sizeof f->client_id, "%s",
             json_string_value(json_object_get(j, "account")));
    json_decref(j);
    ok(tc_cli("enroll", uri, "--yes", NULL), "client enroll");
    ok(tc_cli("sync", NULL), "client sync");

    as(f->cohome);
    ok(tc_cli("sync", NULL), "counselor sync");
    {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "%.8s", f->client_id);
        ok(tc_cli("clients", "alias", prefix, "Sam K.", NULL), "alias");
    }
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
    ok(tc_cli("journal", "-m", "options anywhere", NULL), "journal");
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
    must_contain(json_dumps(json_array_get(j, 0), 0), "Walked to the meeting");
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_options_anywhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_editor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_asks_and_counselor_told_once, setup,
                                        teardown),
    };
    if (dbk_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
