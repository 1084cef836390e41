/*
 * Clock skew between devices (issue 7). One client with two devices (a laptop
 * whose clock is right, and a phone whose clock is wrong by different amounts over
 * the test) and a counselor whose clock is two hours ahead, each a real `daybook`
 * process under libfaketime (Debian's faketime: LD_PRELOAD and FAKETIME), against
 * a real daybookd on the right time. What a user would check, against DESIGN.md
 * ("Records and sync") and proto/CRYPTO.md section 6:
 *
 *   - a phone two days behind logs in (the challenge and token are the server's
 *     time), and its entries sync with no refusal, even though the laptop had
 *     already pulled past them: the server orders by its own sequence numbers, not
 *     by anyone's wall clock;
 *   - `daybook log` and the counselor's review order entries by the time they are
 *     about (occurred_at, written_at), not by when they were written or arrived;
 *   - a phone five hours ahead edits an entry; the laptop syncs, then edits it
 *     again: the laptop's edit is the later one by the hybrid logical clock (the
 *     laptop merged the phone's clock when it pulled), so it wins on both devices
 *     and for the counselor, and the phone keeps its losing edit, viewable;
 *   - a phone three days ahead (past CRYPTO.md's one-day bound) edits an entry: the
 *     server refuses the revision and the phone says its clock is wrong; the laptop
 *     edits it later in real time and the counselor reads that; once the phone's
 *     clock is set right its edit is dated again and sent, every device agrees on
 *     one text, and the phone keeps its own edit, viewable.
 *
 * Without libfaketime the test is skipped (scripts/deps.sh --test installs it).
 */
#include "tc.h"

#include "dbk/init.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define COUNSELOR_SKEW "+2h"

struct fx {
    dbk_server srv;
    char *home;
    char laptop[4096], phone[4096], counselor[4096];
    char client_id[64];
    char faketime[4096]; /* libfaketime's path, "" if not installed */
};

/*
 * Runs `daybook ARGS...` as the device whose profile is home, with its wall clock
 * moved by skew (libfaketime's "+5h", "-2d"...; NULL: the real clock). Monotonic
 * time stays real, so timeouts behave. Under AddressSanitizer the preloaded
 * library comes before ASan's runtime, which ASan accepts with
 * verify_asan_link_order=0.
 */
static dbk_run_result
cli(struct fx *f, const char *home, const char *skew, const char *a1, ...)
{
    const char *argv[32] = {dbk_bin("DAYBOOK"), a1};
    size_t n = 2;
    va_list ap;
    dbk_run_result r;
    const char *asan = getenv("ASAN_OPTIONS");
    char *asan_saved = asan ? strdup(asan) : NULL, asan_new[1024];

    va_start(ap, a1);
    while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
        n++;
    va_end(ap);
    argv[n] = NULL;
    setenv("DAYBOOK_HOME", home, 1);
    if (skew != NULL) {
        setenv("LD_PRELOAD", f->faketime, 1);
        setenv("FAKETIME", skew, 1);
        setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1);
        dbk_asan_options_preloaded(asan_new, sizeof asan_new);
        setenv("ASAN_OPTIONS", asan_new, 1);
    }
    assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
    unsetenv("LD_PRELOAD");
    unsetenv("FAKETIME");
    unsetenv("FAKETIME_DONT_FAKE_MONOTONIC");
    if (asan_saved != NULL)
        setenv("ASAN_OPTIONS", asan_saved, 1);
    else
        unsetenv("ASAN_OPTIONS");
    free(asan_saved);
    return r;
}

/* The command must succeed; its stdout as JSON (NULL when not JSON). */
static json_t *
ok(dbk_run_result r, const char *what)
{
    json_t *j;
    if (r.status != 0)
        fail_msg("%s: exit %d: %s", what, r.status, r.err);
    j = json_loads(r.out, 0, NULL);
    dbk_run_result_free(&r);
    return j;
}

static void
ok0(dbk_run_result r, const char *what)
{
    json_decref(ok(r, what));
}

/* A sync that sends and receives everything: exit 0, nothing refused, nothing waiting. */
static void
sync_all(struct fx *f, const char *home, const char *skew, const char *who)
{
    char what[64];
    snprintf(what, sizeof what, "sync on the %s", who);
    json_t *j = ok(cli(f, home, skew, "--json", "sync", NULL), what);
    assert_non_null(j);
    if (json_integer_value(json_object_get(j, "pending")) != 0 ||
        json_integer_value(json_object_get(j, "failed_streams")) != 0)
        fail_msg("%s: %lld waiting, %lld streams failed", what,
                 (long long)json_integer_value(json_object_get(j, "pending")),
                 (long long)json_integer_value(json_object_get(j, "failed_streams")));
    json_decref(j);
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char pass[4096], url[64], uri[1024];
    dbk_run_result r;
    json_t *j;
    FILE *p;

    assert_non_null(f);
    dbk_faketime_lib(f->faketime, sizeof f->faketime);
    assert_int_equal(dbk_server_start(&f->srv, NULL), 0);
    f->home = dbk_tmpdir("skew");
    snprintf(pass, sizeof pass, "%s/passphrase", f->home);
    p = fopen(pass, "w");
    assert_non_null(p);
    fputs("a long test passphrase\n", p);
    fclose(p);
    setenv("DAYBOOK_PASSPHRASE_FILE", pass, 1);
    /* Keys cached in the kernel keyring while the test runs (one Argon2id per
     * device, not per command); teardown locks every profile again. */
    setenv("DAYBOOK_UNLOCK_SECONDS", "300", 1);
    snprintf(f->laptop, sizeof f->laptop, "%s/laptop", f->home);
    snprintf(f->phone, sizeof f->phone, "%s/phone", f->home);
    snprintf(f->counselor, sizeof f->counselor, "%s/counselor", f->home);
    if (f->faketime[0] == '\0') {
        *state = f;
        return 0;
    }

    /* The admin adds the counselor; the counselor (two hours ahead) enrolls and
     * invites; the client joins from the laptop. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d", f->srv.port);
    const char *argv[] = {dbk_bin("DAYBOOKD"), "counselor",     "add", "Dana Reyes", "--url", url,
                          "--data-dir",        f->srv.data_dir, NULL};
    assert_int_equal(dbk_run(argv, NULL, 30, &r), 0);
    assert_int_equal(r.status, 0);
    const char *s = strstr(r.out, "setup URI: ");
    assert_non_null(s);
    snprintf(uri, sizeof uri, "%.*s", (int)strcspn(s + 11, "\n"), s + 11);
    dbk_run_result_free(&r);
    ok0(cli(f, f->counselor, COUNSELOR_SKEW, "init", NULL), "counselor init");
    ok0(cli(f, f->counselor, COUNSELOR_SKEW, "enroll", uri, "--yes", NULL), "counselor enroll");
    j = ok(cli(f, f->counselor, COUNSELOR_SKEW, "--json", "invite", NULL), "invite");
    snprintf(uri, sizeof uri, "%s", json_string_value(json_object_get(j, "uri")));
    json_decref(j);
    j = ok(cli(f, f->laptop, NULL, "--json", "init", NULL), "client init");
    snprintf(f->client_id, sizeof f->client_id, "%s",
             json_string_value(json_object_get(j, "account")));
    json_decref(j);
    ok0(cli(f, f->laptop, NULL, "enroll", uri, "--yes", NULL), "client enroll");
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    const char *homes[] = {f->laptop, f->phone, f->counselor};
    for (size_t i = 0; i < 3 && f->faketime[0]; i++) {
        dbk_run_result r = cli(f, homes[i], NULL, "lock", NULL); /* nothing left in the keyring */
        dbk_run_result_free(&r);
    }
    if (f->srv.pid > 0)
        assert_int_equal(dbk_server_stop(&f->srv), 0);
    dbk_server_cleanup(&f->srv);
    dbk_rmtree(f->home);
    free(f->home);
    free(f);
    return 0;
}

/* The id of a new entry from its --json output. */
static void
new_id(json_t *j, char out[64])
{
    assert_non_null(j);
    snprintf(out, 64, "%s", json_string_value(json_object_get(j, "id")));
    assert_true(strlen(out) > 10);
    json_decref(j);
}

/* What `daybook show ID --json` says the entry's text is on this device. */
static char *
shown_text(struct fx *f, const char *home, const char *skew, const char *id)
{
    json_t *j = ok(cli(f, home, skew, "--json", "show", id, NULL), "show");
    assert_non_null(j);
    char *t = strdup(json_string_value(json_object_get(json_object_get(j, "entry"), "text")));
    json_decref(j);
    return t;
}

/* Whether `daybook show ID --revisions` on this device still has text, as an older revision. */
static bool
kept_revision(struct fx *f, const char *home, const char *skew, const char *id, const char *text)
{
    json_t *j = ok(cli(f, home, skew, "--json", "show", id, "--revisions", NULL), "show revs");
    json_t *rv;
    size_t i;
    bool found = false;
    json_array_foreach(json_object_get(j, "revisions"), i, rv)
    {
        const char *t = json_string_value(json_object_get(json_object_get(rv, "entry"), "text"));
        if (!json_is_true(json_object_get(rv, "current")) && t && strcmp(t, text) == 0)
            found = true;
    }
    json_decref(j);
    return found;
}

/* The text of journal entry id in the counselor's review (JSON), or NULL. */
static char *
reviewed_text(json_t *review, const char *id)
{
    json_t *e;
    size_t i;
    json_array_foreach(json_object_get(review, "journal"), i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "id")), id) == 0)
            return strdup(json_string_value(json_object_get(e, "text")));
    }
    return NULL;
}

static json_t *
review(struct fx *f)
{
    sync_all(f, f->counselor, COUNSELOR_SKEW, "counselor");
    return ok(
        cli(f, f->counselor, COUNSELOR_SKEW, "review", f->client_id, "--format", "json", NULL),
        "review");
}

/* Every device shows want for entry id, and the counselor's review has it too. */
static void
converged(struct fx *f, const char *id, const char *want, const char *phone_skew, int *checks)
{
    char *t;
    t = shown_text(f, f->laptop, NULL, id);
    if (strcmp(t, want) != 0)
        fail_msg("laptop shows \"%s\", expected \"%s\"", t, want);
    free(t);
    t = shown_text(f, f->phone, phone_skew, id);
    if (strcmp(t, want) != 0)
        fail_msg("phone shows \"%s\", expected \"%s\"", t, want);
    free(t);
    json_t *rv = review(f);
    t = reviewed_text(rv, id);
    if (t == NULL || strcmp(t, want) != 0)
        fail_msg("the counselor's review has \"%s\", expected \"%s\"", t ? t : "(nothing)", want);
    free(t);
    json_decref(rv);
    *checks += 3;
}

static void
test_clock_skew(void **state)
{
    struct fx *f = *state;
    char first[64], slow_craving[64], slow_journal[64], late[64], today[11], minus2[11],
        yesterday[11], link[512];
    const char *p;
    dbk_run_result r;
    json_t *j;
    int checks = 0;

    if (f->faketime[0] == '\0')
        skip(); /* libfaketime is not installed: scripts/deps.sh --test */
    tc_days_ago(0, today);
    tc_days_ago(1, yesterday);
    tc_days_ago(2, minus2);

    /* The laptop writes and syncs; the phone (two days behind) logs in with the link. */
    new_id(ok(cli(f, f->laptop, NULL, "--json", "journal", "-m", "first words", NULL), "journal"),
           first);
    sync_all(f, f->laptop, NULL, "laptop");
    r = cli(f, f->laptop, NULL, "status", NULL);
    p = strstr(r.out, "daybook login '");
    assert_non_null(p);
    snprintf(link, sizeof link, "%.*s", (int)strcspn(p + 15, "'"), p + 15);
    dbk_run_result_free(&r);
    ok0(cli(f, f->phone, "-2d", "login", link, NULL), "login on a phone two days behind");
    sync_all(f, f->phone, "-2d", "phone (-2d)");

    /* Its entries carry its own (wrong) time, and still sync with nothing refused. */
    new_id(ok(cli(f, f->phone, "-2d", "--json", "craving", "--intensity", "4", "--outcome",
                  "resisted", "--coping", "urge_surfing", NULL),
              "craving on the slow phone"),
           slow_craving);
    new_id(ok(cli(f, f->phone, "-2d", "--json", "journal", "-m", "written on the slow phone", NULL),
              "journal on the slow phone"),
           slow_journal);
    j = ok(cli(f, f->phone, "-2d", "--json", "show", slow_craving, NULL), "show");
    if (strncmp(json_string_value(json_object_get(json_object_get(j, "entry"), "occurred_at")),
                minus2, 10) != 0)
        fail_msg("the phone's clock is not two days behind (libfaketime not in effect?)");
    json_decref(j);
    sync_all(f, f->phone, "-2d", "phone (-2d)");

    /* The laptop, already synced past them, still gets them; it logs a craving late
     * (about yesterday). Its log goes by the time entries are about: the phone's two
     * (two days ago), yesterday's craving, then today's journal. */
    new_id(ok(cli(f, f->laptop, NULL, "--json", "craving", "--intensity", "6", "--outcome",
                  "resisted", "--coping", "call_support", "--at", yesterday, NULL),
              "craving logged late"),
           late);
    sync_all(f, f->laptop, NULL, "laptop");
    j = ok(cli(f, f->laptop, NULL, "--json", "log", NULL), "log");
    {
        /* Cravings and journals only: not the consent kept at enrollment, nor the
         * checklist days the journals ticked. */
        json_t *cj = json_array(), *e;
        size_t k;
        json_array_foreach(j, k, e) {
            const char *ty = json_string_value(json_object_get(json_object_get(e, "entry"), "type"));
            if (!strcmp(ty, "craving") || !strcmp(ty, "journal"))
                json_array_append(cj, e);
        }
        json_decref(j);
        j = cj;
    }
    {
        const char *want[] = {slow_craving, slow_journal, late, first};
        assert_int_equal(json_array_size(j), 4);
        /* The phone's two are the same minute; either order between them. */
        for (size_t i = 0; i < 4; i++) {
            const char *got = json_string_value(json_object_get(json_array_get(j, i), "id"));
            bool okay = strcmp(got, want[i]) == 0 || (i < 2 && strcmp(got, want[1 - i]) == 0);
            if (!okay)
                fail_msg("daybook log, entry %zu: %s, expected %s", i + 1, got, want[i]);
            checks++;
        }
    }
    json_decref(j);

    /* The counselor (two hours ahead): both cravings counted, journal newest first. */
    j = review(f);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "cravings"), "count")),
                     2);
    {
        json_t *jr = json_object_get(j, "journal");
        assert_int_equal(json_array_size(jr), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(jr, 0), "id")), first);
        assert_string_equal(json_string_value(json_object_get(json_array_get(jr, 1), "id")),
                            slow_journal);
        checks += 3;
    }
    json_decref(j);

    /* Within the clock bound: the phone (now five hours ahead) edits, the laptop syncs
     * and edits after it. The laptop's edit is the later one and wins everywhere. */
    sync_all(f, f->phone, "+5h", "phone (+5h)");
    ok0(cli(f, f->phone, "+5h", "edit", first, "-m", "phone edit, clock 5 hours ahead", NULL),
        "edit on the phone");
    sync_all(f, f->phone, "+5h", "phone (+5h)");
    sync_all(f, f->laptop, NULL, "laptop");
    ok0(cli(f, f->laptop, NULL, "edit", first, "-m", "laptop edit, made after it", NULL),
        "edit on the laptop");
    sync_all(f, f->laptop, NULL, "laptop");
    sync_all(f, f->phone, "+5h", "phone (+5h)");
    converged(f, first, "laptop edit, made after it", "+5h", &checks);
    assert_true(kept_revision(f, f->phone, "+5h", first, "phone edit, clock 5 hours ahead"));

    /* Past the bound: the phone three days ahead edits. The server refuses a revision
     * dated more than a day ahead of its clock (proto/README.md section 10, check 6),
     * so it cannot win every later edit until its time passes: the phone is told its
     * clock is wrong and keeps the edit waiting. The laptop edits later in real time;
     * its edit is the one the counselor reads. */
    sync_all(f, f->phone, "+3d", "phone (+3d)");
    ok0(cli(f, f->phone, "+3d", "edit", slow_journal, "-m", "phone edit, clock 3 days ahead", NULL),
        "edit on the phone");
    r = cli(f, f->phone, "+3d", "--json", "sync", NULL);
    assert_int_equal(r.status, 1);
    if (strstr(r.err, "this device's date or time is wrong") == NULL)
        fail_msg("sync on the phone (+3d) did not say its clock is wrong:\n%s%s", r.out, r.err);
    dbk_run_result_free(&r);
    sync_all(f, f->laptop, NULL, "laptop");
    ok0(cli(f, f->laptop, NULL, "edit", slow_journal, "-m", "laptop edit, real time later", NULL),
        "edit on the laptop");
    sync_all(f, f->laptop, NULL, "laptop");
    {
        char *t = shown_text(f, f->laptop, NULL, slow_journal);
        assert_string_equal(t, "laptop edit, real time later");
        free(t);
        json_t *rv = review(f);
        t = reviewed_text(rv, slow_journal);
        assert_non_null(t);
        assert_string_equal(t, "laptop edit, real time later");
        free(t);
        json_decref(rv);
        checks += 2;
    }
    /* The phone's clock is set right: its waiting edit is dated again (after the newest
     * revision the phone holds) and sent; nothing is refused, and every device and the
     * counselor agree on one text. The laptop's edit, made later in real time on a clock
     * that had merged the phone's five hours, stays the newer; the phone keeps its own
     * edit, viewable. */
    r = cli(f, f->phone, NULL, "sync", NULL);
    if (r.status != 0 || strstr(r.out, "dated again from now") == NULL)
        fail_msg("sync on the phone with its clock set right: exit %d\n%s%s", r.status, r.out,
                 r.err);
    dbk_run_result_free(&r);
    sync_all(f, f->phone, NULL, "phone (set right)");
    sync_all(f, f->laptop, NULL, "laptop");
    converged(f, slow_journal, "laptop edit, real time later", NULL, &checks);
    assert_true(kept_revision(f, f->phone, NULL, slow_journal, "phone edit, clock 3 days ahead"));
    checks++;

    dbk_report("clock skew between devices",
               "one client's phone at -2d, +5h and +3d against its laptop and a counselor at "
               "+2h (libfaketime), logging in, writing, editing the same entries, syncing",
               "%d checks of what log, show and review say; within the one-day clock bound "
               "nothing is refused and the later edit wins; past it the server refuses the "
               "edit, the device says its clock is wrong, and once set right the edit is "
               "dated again and sent; the same on every device",
               checks);
}

/* Whether `daybook sync` on the laptop says text is a new note from the counselor. */
static bool
news_says(struct fx *f, const char *text)
{
    char want[256];
    dbk_run_result r = cli(f, f->laptop, NULL, "sync", NULL);
    bool said;
    if (r.status != 0)
        fail_msg("sync on the laptop: exit %d: %s", r.status, r.err);
    snprintf(want, sizeof want, "New note from Dana Reyes: %s", text);
    said = strstr(r.out, want) != NULL;
    dbk_run_result_free(&r);
    return said;
}

/*
 * A note that arrives after a note with a later clock is still news. The counselor
 * writes one with its clock 23 hours ahead (inside the one-day bound: the server takes
 * it), and the client's sync says it; then, its clock set 2 hours behind (so far from
 * its last clock that the device starts again from the wall, proto/CRYPTO.md section
 * 6, as a second device or one written offline would be), a second one. Before the
 * news was kept by rowid it went by the highest clock shown, and the second note never
 * appeared in the sync's news (only in `daybook notes`).
 */
static void
test_note_behind_a_later_clock(void **state)
{
    struct fx *f = *state;
    int checks = 0;

    if (f->faketime[0] == '\0')
        skip(); /* libfaketime is not installed: scripts/deps.sh --test */
    sync_all(f, f->laptop, NULL, "laptop"); /* its consent */
    sync_all(f, f->counselor, COUNSELOR_SKEW, "counselor");
    ok0(cli(f, f->counselor, "+23h", "note", f->client_id, "-m", "AHEAD note", "--share", NULL),
        "note, clock 23 hours ahead");
    sync_all(f, f->counselor, "+23h", "counselor (23 hours ahead)");
    assert_true(news_says(f, "AHEAD note"));
    checks++;
    ok0(cli(f, f->counselor, "-2h", "note", f->client_id, "-m", "BEHIND note", "--share", NULL),
        "note, clock 2 hours behind");
    sync_all(f, f->counselor, "-2h", "counselor (2 hours behind)");
    if (!news_says(f, "BEHIND note"))
        fail_msg("the note written with the earlier clock, arriving later, is not news");
    checks++;
    /* Each once: neither is news again. */
    assert_false(news_says(f, "BEHIND note"));
    assert_false(news_says(f, "AHEAD note"));
    checks += 2;
    dbk_report("a note behind a later clock",
               "a counselor's note written 23 hours ahead, then one 2 hours behind (libfaketime)",
               "%d checks: each is news in the client's sync once, the later-arriving one too",
               checks);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clock_skew, setup, teardown),
        cmocka_unit_test_setup_teardown(test_note_behind_a_later_clock, setup, teardown),
    };
    if (dbk_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
