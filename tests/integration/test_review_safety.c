/*
 * The counselor's review as a clinical instrument (issue 15), with the real daybook
 * and daybookd: what a counselor reads minutes before a session must not be
 * silently stale, hide a lapse or risk language, or lose what the counselor saw.
 * Each test scripts a small caseload whose story is known, then checks what the
 * counselor would check: the review's text and JSON, `clients`, and what the
 * client is told. What is interactive runs on a pseudo-terminal (support/pty.c).
 *
 * One fixture per test: a server, a counselor and one client (tc_cli_pair); a test
 * adds more clients from the counselor's invites as its story needs.
 */
#define _GNU_SOURCE /* memmem */
#include "tc.h"

#include "dbk/init.h"

#include <ctype.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

struct fx {
    dbk_server srv;
    tc_cli_pair_t p;
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

static void
as(const char *home)
{
    setenv("DAYBOOK_HOME", home, 1);
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
    if ((j = json_loads(r.out, 0, NULL)) == NULL)
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

/* The review of who as JSON (pulled first). */
static json_t *
review_json(const char *who)
{
    return cli_json("--json", "review", who, NULL);
}

static long long
count_of(const json_t *r, const char *section)
{
    return json_integer_value(json_object_get(json_object_get(r, section), "count"));
}

/* The Read first item of kind (and, when not NULL, whose text holds text), or NULL. */
static const json_t *
read_first_item(const json_t *r, const char *kind, const char *text)
{
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(json_object_get(r, "read_first"), "items"), i, x) {
        if (strcmp(json_string_value(json_object_get(x, "kind")), kind) == 0 &&
            (text == NULL || contains(json_string_value(json_object_get(x, "text")), text)))
            return x;
    }
    return NULL;
}

/* Whether text holds words, its lines wrapped anywhere (each run of white space read as
 * one space): what a reader sees, whatever the terminal's width. */
static bool
says(const char *text, const char *words)
{
    size_t n = text != NULL ? strlen(text) : 0, k = 0;
    char *flat = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)text[i]))
            flat[k++] = text[i];
        else if (k == 0 || flat[k - 1] != ' ')
            flat[k++] = ' ';
    flat[k] = '\0';
    bool yes = strstr(flat, words) != NULL;
    free(flat);
    return yes;
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_int_equal(dbk_server_start(&f->srv, NULL), 0);
    tc_cli_pair(&f->srv, &f->p);
    as(f->p.counselor_home);
    tc_ok(tc_cli("clients", "alias", f->p.client_id, "Sam R", NULL), "alias");
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    tc_pair_end(&f->srv, &f->p);
    free(f);
    return 0;
}

/*
 * Sam lapses; the counselor's 'session done' lists the lapse and asks first. "no"
 * marks nothing; without a terminal it needs --yes; "yes" marks it and the lapse
 * stays in Read first as not yet discussed; 'session undo' brings the period back.
 */
static void
test_session_done_asks_and_undoes(void **state)
{
    struct fx *f = *state;
    json_t *r;

    as(f->p.client_home);
    tc_ok(tc_cli("craving", "--intensity", "8", "--outcome", "used", "--used-what", "two beers",
                 NULL),
          "lapse");
    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->p.counselor_home);

    /* A script without --yes marks nothing. */
    dbk_run_result t = tc_cli("session", "done", "Sam R", NULL);
    assert_int_equal(t.status, 2);
    must_contain(t.err, "--yes");
    dbk_run_result_free(&t);

    /* On a terminal: the lapse is listed, "no" keeps the period. */
    const dbk_pty_step no[] = {{"with use", NULL},
                               {"Mark the session done?", "no\n"},
                               {"Not marked", NULL},
                               {NULL, NULL}};
    dbk_pty_result pr = on_tty(no, "session", "done", "Sam R", NULL);
    tty_done(&pr, 3, 0);
    must_contain(pr.out, "1 craving (1 with use)");
    must_contain(pr.out, "Read first");
    dbk_pty_result_free(&pr);
    r = review_json("Sam R");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "period"), "since")),
                        "default");
    assert_int_equal(count_of(r, "lapses"), 1);
    json_decref(r);

    /* "yes" marks it; the lapse is carried forward, not hidden. */
    const dbk_pty_step yes[] = {{"Mark the session done?", "yes\n"},
                                {"Session with Sam R marked", NULL},
                                {NULL, NULL}};
    pr = on_tty(yes, "session", "done", "Sam R", NULL);
    tty_done(&pr, 2, 0);
    dbk_pty_result_free(&pr);
    r = review_json("Sam R");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "period"), "since")),
                        "last-session");
    const json_t *use = read_first_item(r, "use", NULL);
    assert_non_null(use);
    json_decref(r);

    /* Undo: the marker is gone, the review starts where it did before. */
    t = tc_cli("session", "undo", "Sam R", NULL);
    assert_int_equal(t.status, 0);
    must_contain(t.out, "undone");
    dbk_run_result_free(&t);
    r = review_json("Sam R");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "period"), "since")),
                        "default");
    assert_int_equal(count_of(r, "lapses"), 1);
    json_decref(r);
    t = tc_cli("session", "undo", "Sam R", NULL); /* nothing left to undo */
    assert_int_equal(t.status, 1);
    must_contain(t.err, "nothing to undo");
    dbk_run_result_free(&t);
}

/* Whether any file of the profile dir (the SQLite file and its log) holds text. */
static bool
profile_holds(const char *home, const char *text)
{
    static const char *const files[] = {"daybook.db", "daybook.db-wal", "daybook.db-shm"};
    bool found = false;
    for (size_t i = 0; i < sizeof files / sizeof *files && !found; i++) {
        char path[4300];
        snprintf(path, sizeof path, "%s/%s", home, files[i]);
        FILE *p = fopen(path, "rb");
        if (p == NULL)
            continue;
        size_t cap = 64 << 20, n;
        char *b = malloc(cap);
        assert_non_null(b);
        n = fread(b, 1, cap, p);
        fclose(p);
        found = memmem(b, n, text, strlen(text)) != NULL;
        free(b);
    }
    return found;
}

static void
write_pass(const char *path, const char *pass)
{
    FILE *p = fopen(path, "w");
    assert_non_null(p);
    fprintf(p, "%s\n", pass);
    fclose(p);
}

/*
 * A craving typed after a wrong passphrase is not lost: the passphrase is asked
 * before the questions, the entry is kept sealed (never in plaintext in the
 * profile), the crisis card shows, and the next unlock saves it; the counselor's
 * review then quotes its risk language.
 */
static void
test_wrong_passphrase_keeps_the_craving(void **state)
{
    struct fx *f = *state;
    char good[4300], bad[4300];
    const char *risky = "alone at home and I want to die";

    as(f->p.client_home);
    tc_ok(tc_cli("journal", "-m", "an ordinary day", NULL), "journal"); /* unlocked once */
    tc_ok(tc_cli("lock", NULL), "lock"); /* the keys not cached: the passphrase is asked */
    snprintf(good, sizeof good, "%s", getenv("DAYBOOK_PASSPHRASE_FILE"));
    snprintf(bad, sizeof bad, "%s/wrong-passphrase", f->p.home);
    write_pass(bad, "not the passphrase at all");
    setenv("DAYBOOK_PASSPHRASE_FILE", bad, 1);
    const dbk_pty_step steps[] = {
        {"did not unlock Daybook", NULL},
        {"How strong is the craving", "9\n"},
        {"What was going on?", "alone at home and I want to die\n"},
        {"Enter for none: ", "\n"},
        {"Enter for none: ", "\n"},
        {"Enter for none: ", "\n"},
        {"Number: ", "2\n"},
        {"is not lost", NULL},
        {"988", NULL},
        {NULL, NULL},
    };
    dbk_pty_result pr = on_tty(steps, "craving", NULL);
    setenv("DAYBOOK_PASSPHRASE_FILE", good, 1);
    tty_done(&pr, 9, 1);
    /* The questions came after the passphrase, not before. */
    assert_true(strstr(pr.out, "did not unlock") < strstr(pr.out, "How strong"));
    dbk_pty_result_free(&pr);
    assert_false(profile_holds(f->p.client_home, risky));

    /* The next unlock saves it, and says so. */
    dbk_run_result t = tc_cli("craving", "--intensity", "2", "--outcome", "resisted", NULL);
    assert_int_equal(t.status, 0);
    must_contain(t.err, "Saved 1 entry you typed earlier");
    dbk_run_result_free(&t);
    json_t *j = cli_json("--json", "log", "--type", "craving", NULL);
    char *dump = json_dumps(j, 0);
    must_contain(dump, risky);
    free(dump);
    json_decref(j);
    t = tc_cli("craving", "--intensity", "1", "--outcome", "resisted", NULL); /* once only */
    assert_false(contains(t.err, "typed earlier"));
    dbk_run_result_free(&t);

    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->p.counselor_home);
    json_t *r = review_json("Sam R");
    const json_t *risk = read_first_item(r, "risk", NULL);
    assert_non_null(risk);
    must_contain(json_string_value(json_object_get(risk, "quote")), "I want to die");
    json_decref(r);
}

/*
 * The clinical records reach Read first: Sam is on buprenorphine and misses two
 * days in a row, reports use and a low mood in a check-in, and answers PHQ-9 item
 * 9 above 0. Each is flagged, most urgent first, in the JSON and the text.
 */
static void
test_clinical_records_are_flagged(void **state)
{
    struct fx *f = *state;
    char start[11], d2[11], d3[11];
    tc_days_ago(5, start);
    tc_days_ago(3, d3);
    tc_days_ago(2, d2);

    as(f->p.counselor_home);
    tc_ok(tc_cli("sync", NULL), "counselor sync first"); /* the client's grant */
    tc_ok(tc_cli("med", "set", "Sam R", "buprenorphine", "--dose", "8 mg", "--frequency", "daily",
                 "--take-home", "--start", start, NULL),
          "med set");
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    as(f->p.client_home);
    tc_ok(tc_cli("sync", NULL), "client sync");
    tc_ok(tc_cli("med", "take", "--date", d3, "--missed", NULL), "missed d3");
    tc_ok(tc_cli("med", "take", "--date", d2, "--missed", NULL), "missed d2");
    tc_ok(tc_cli("med", "take", NULL), "taken today");
    tc_ok(tc_cli("checkin", "--mood", "2", "--craving", "9", "--used", "--substance", "alcohol",
                 "--meds", "taken", NULL),
          "checkin");
    tc_ok(tc_cli("measure", "phq9", "--answers", "1,1,1,1,1,1,1,1,2,1", NULL), "phq9");
    tc_ok(tc_cli("sync", NULL), "client sync 2");

    as(f->p.counselor_home);
    json_t *r = review_json("Sam R");
    const json_t *med = json_object_get(r, "medication");
    assert_string_equal(json_string_value(json_object_get(med, "source")), "mat");
    assert_int_equal(json_integer_value(json_object_get(med, "doses_missed")), 2);
    assert_int_equal(json_integer_value(json_object_get(med, "missed_streak")), 2);
    const json_t *x = read_first_item(r, "missed_medication", "in a row");
    assert_non_null(x);
    x = read_first_item(r, "risk", "PHQ-9 item 9");
    assert_non_null(x);
    assert_string_equal(json_string_value(json_object_get(x, "category")), "self_harm");
    assert_non_null(read_first_item(r, "use", "check-in: alcohol"));
    assert_non_null(read_first_item(r, "high_craving", "check-in"));
    assert_non_null(read_first_item(r, "low_mood", "check-in"));
    /* Most urgent first: the PHQ-9's item 9 opens the box. */
    x = json_array_get(json_object_get(json_object_get(r, "read_first"), "items"), 0);
    assert_string_equal(json_string_value(json_object_get(x, "kind")), "risk");
    json_decref(r);

    dbk_run_result t = tc_cli("review", "Sam R", NULL);
    assert_int_equal(t.status, 0);
    must_contain(t.out, "!! RISK LANGUAGE");
    must_contain(t.out, "PHQ-9 item 9");
    must_contain(t.out, "MEDICATION (MAT schedule)");
    must_contain(t.out, "doses missed 2 days in a row");
    dbk_run_result_free(&t);
}

/* A client enrolled from the counselor's invite, with the counselor's alias name;
 * home gets their profile, under the fixture's directory. */
static void
add_client(struct fx *f, const char *name, char home[4300], char id[DBK_ID_TEXT_LEN + 1])
{
    as(f->p.counselor_home);
    json_t *j = cli_json("--json", "invite", NULL);
    char uri[1024];
    snprintf(uri, sizeof uri, "%s", json_string_value(json_object_get(j, "uri")));
    json_decref(j);
    snprintf(home, 4300, "%s/client-%s", f->p.home, name);
    as(home);
    j = cli_json("--json", "init", NULL);
    snprintf(id, DBK_ID_TEXT_LEN + 1, "%s", json_string_value(json_object_get(j, "account")));
    json_decref(j);
    tc_ok(tc_cli("enroll", uri, "--yes", NULL), "enroll");
    as(f->p.counselor_home);
    tc_ok(tc_cli("clients", "alias", id, name, NULL), "alias");
}

/* The row of `clients --json` labelled label, and its place (0 first). */
static const json_t *
client_row(const json_t *cl, const char *label, size_t *place)
{
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(cl, "clients"), i, x) {
        if (strcmp(json_string_value(json_object_get(x, "label")), label) == 0) {
            if (place != NULL)
                *place = i;
            return x;
        }
    }
    fail_msg("no client %s in the caseload", label);
    return NULL;
}

static bool
has_flag(const json_t *row, const char *flag)
{
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(row, "flags"), i, x)
        if (contains(json_string_value(x), flag))
            return true;
    return false;
}

/*
 * A small caseload, each client with a known story, as a counselor would meet it
 * before a day of sessions:
 *   Sam     a lapse synced after the counselor's last pull: the review pulls first
 *           and shows it; with --offline it says OFFLINE loudly and does not;
 *   Alex    a shared journal that reads as suicidal ideation: first in `clients`
 *           with RISK, and quoted in Read first, labelled decision support;
 *   Jordan  wrote once, eight days ago, then nothing: the silent days are flagged;
 *   Casey   revoked the share: no review, and `clients` says ACCESS REVOKED.
 * The counselor's log names each entry's client by alias.
 */
static void
test_caseload_scenarios(void **state)
{
    struct fx *f = *state;
    char alex[4300], jordan[4300], casey[4300], aid[DBK_ID_TEXT_LEN + 1],
        jid[DBK_ID_TEXT_LEN + 1], cid[DBK_ID_TEXT_LEN + 1], eight[11];
    const char *ideation = "Nothing helps anymore. I just want to end my life.";
    json_t *r, *cl;
    dbk_run_result t;

    add_client(f, "Alex", alex, aid);
    add_client(f, "Jordan", jordan, jid);
    add_client(f, "Casey", casey, cid);
    as(f->p.counselor_home);
    tc_ok(tc_cli("sync", NULL), "counselor sync");

    /* Casey shares one ordinary day, then revokes. */
    as(casey);
    tc_ok(tc_cli("journal", "-m", "went to group, felt fine", NULL), "casey journal");
    tc_ok(tc_cli("sync", NULL), "casey sync");
    char prefix[16];
    snprintf(prefix, sizeof prefix, "%.8s", f->p.counselor_id);
    tc_ok(tc_cli("revoke", prefix, "--yes", NULL), "casey revokes");
    /* Jordan wrote once, eight days ago. */
    tc_days_ago(8, eight);
    as(jordan);
    tc_ok(tc_cli("craving", "--intensity", "4", "--outcome", "resisted", "--at", eight, NULL),
          "jordan craving");
    tc_ok(tc_cli("sync", NULL), "jordan sync");
    /* Alex's journal reads as suicidal ideation. */
    as(alex);
    tc_ok(tc_cli("journal", "-m", ideation, NULL), "alex journal");
    tc_ok(tc_cli("sync", NULL), "alex sync");
    as(f->p.counselor_home);
    tc_ok(tc_cli("sync", NULL), "counselor sync 2");
    /* Sam lapses after the counselor's last pull. */
    as(f->p.client_home);
    tc_ok(tc_cli("craving", "--intensity", "9", "--outcome", "used", "--used-what", "heroin",
                 "--situation", "ran into an old friend", NULL),
          "sam lapse");
    tc_ok(tc_cli("sync", NULL), "sam sync");

    /* ---- Sam: offline, the review says so and cannot show the lapse ---- */
    as(f->p.counselor_home);
    r = cli_json("--json", "review", "Sam R", "--offline", NULL);
    assert_true(json_is_true(json_object_get(json_object_get(r, "data"), "offline")));
    assert_int_equal(count_of(r, "lapses"), 0);
    json_decref(r);
    t = tc_cli("review", "Sam R", "--offline", NULL);
    must_contain(t.out, "!! DATA AS OF");
    must_contain(t.out, "OFFLINE");
    dbk_run_result_free(&t);
    /* Online it pulls first: the lapse is there, with what and where. */
    r = review_json("Sam R");
    assert_true(json_is_true(json_object_get(json_object_get(r, "data"), "pulled")));
    assert_int_equal(count_of(r, "lapses"), 1);
    assert_non_null(read_first_item(r, "use", "heroin"));
    assert_non_null(read_first_item(r, "high_craving", NULL));
    json_decref(r);
    t = tc_cli("review", "Sam R", NULL);
    must_contain(t.out, "data as of");
    must_contain(t.out, "reported use: heroin");
    must_contain(t.out, "ran into an old friend");
    dbk_run_result_free(&t);

    /* ---- the caseload, ordered by risk ---- */
    cl = cli_json("--json", "clients", NULL);
    size_t alex_at = 99, sam_at = 99, jordan_at = 99;
    const json_t *row = client_row(cl, "Alex", &alex_at);
    assert_true(json_integer_value(json_object_get(row, "risk")) > 0);
    client_row(cl, "Sam R", &sam_at);
    client_row(cl, "Jordan", &jordan_at);
    assert_int_equal(alex_at, 0);           /* risk first */
    assert_true(sam_at < jordan_at);        /* then use, before silence */
    assert_true(has_flag(client_row(cl, "Casey", NULL), "ACCESS REVOKED"));
    json_decref(cl);
    t = tc_cli("clients", NULL);
    must_contain(t.out, "RISK");
    dbk_run_result_free(&t);

    /* ---- Alex: Read first quotes the sentence, and says what it is ---- */
    r = review_json("Alex");
    const json_t *rf = json_object_get(r, "read_first");
    assert_true(contains(json_string_value(json_object_get(rf, "label")), "Decision support"));
    const json_t *risk = read_first_item(r, "risk", NULL);
    assert_non_null(risk);
    assert_string_equal(json_string_value(json_object_get(risk, "category")),
                        "suicidal_ideation");
    must_contain(json_string_value(json_object_get(risk, "quote")), "I just want to end my life");
    json_decref(r);
    t = tc_cli("review", "Alex", NULL);
    must_contain(t.out, "READ FIRST");
    must_contain(t.out, "!! RISK LANGUAGE");
    must_contain(t.out, "not a diagnosis");
    /* Read first comes before everything else the review says. */
    assert_true(strstr(t.out, "READ FIRST") < strstr(t.out, "ENGAGEMENT") ||
                strstr(t.out, "ENGAGEMENT") == NULL);
    dbk_run_result_free(&t);

    /* ---- Jordan: the silent week is flagged, not read as "no cravings" ---- */
    r = review_json("Jordan");
    const json_t *quiet = read_first_item(r, "silence", "no entry at all");
    assert_non_null(quiet);
    assert_true(json_array_size(json_object_get(quiet, "dates")) >= 7);
    json_decref(r);

    /* ---- Casey: no review at all, said plainly ---- */
    t = tc_cli("review", "Casey", NULL);
    assert_int_equal(t.status, 1);
    must_contain(t.err, "Casey ended your access to their records on");
    must_contain(t.err, "(signed by the client)"); /* the client's device signed the end */
    assert_int_equal(strlen(t.out), 0);
    dbk_run_result_free(&t);

    /* ---- the counselor's log: a client column, by alias ---- */
    t = tc_cli("log", NULL);
    assert_int_equal(t.status, 0);
    must_contain(t.out, "Alex  ");
    must_contain(t.out, "Jordan  ");
    must_contain(t.out, "Sam R  ");
    dbk_run_result_free(&t);
    json_t *lg = cli_json("--json", "log", "--type", "journal", NULL);
    bool alex_journal = false;
    size_t i;
    const json_t *x;
    json_array_foreach(lg, i, x) {
        if (contains(json_string_value(json_object_get(json_object_get(x, "entry"), "text")),
                     "end my life")) {
            assert_string_equal(json_string_value(json_object_get(x, "client_label")), "Alex");
            assert_string_equal(json_string_value(json_object_get(x, "client")), aid);
            alex_journal = true;
        }
    }
    assert_true(alex_journal);
    json_decref(lg);
    (void)jid;
    (void)cid;
}

/* The client's safety plan comes first on the crisis card a risky entry brings up:
 * the people they chose to call before the national lines. */
/*
 * A client who enrolled, lapsed and synced after the counselor's last sync: the
 * review, with no 'daybook sync' before it, pulls their stream (its pull learns the
 * new grant from the server's grants_seq, as 'daybook sync' does) and shows the
 * lapse, rather than a client with nothing to say.
 */
static void
test_new_client_reviewed_without_a_sync(void **state)
{
    struct fx *f = *state;
    char riley[4300], rid[DBK_ID_TEXT_LEN + 1];
    json_t *r;

    as(f->p.counselor_home);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    add_client(f, "Riley", riley, rid);
    as(riley);
    tc_ok(
        tc_cli("craving", "--intensity", "9", "--outcome", "used", "--used-what", "alcohol", NULL),
        "riley lapse");
    tc_ok(tc_cli("sync", NULL), "riley sync");
    as(f->p.counselor_home);
    r = review_json("Riley");
    assert_true(json_is_true(json_object_get(json_object_get(r, "data"), "pulled")));
    assert_int_equal(count_of(r, "lapses"), 1);
    assert_non_null(read_first_item(r, "use", "alcohol"));
    json_decref(r);
}

static void
test_crisis_card_shows_the_safety_plan(void **state)
{
    struct fx *f = *state;
    char path[4300];
    snprintf(path, sizeof path, "%s/safety.txt", f->p.home);
    write_pass(path, "## Warning signs that a crisis may be developing\n- Not sleeping\n"
                     "## People I can ask for help\n- My sister Ana 555-0142");
    as(f->p.client_home);
    dbk_run_result t = tc_cli("journal", "-m", "I want to die tonight", NULL);
    assert_int_equal(t.status, 0);
    must_contain(t.out, "988"); /* no plan yet: the card alone */
    assert_false(contains(t.out, "Your safety plan"));
    dbk_run_result_free(&t);
    tc_ok(tc_cli("plan", "set", "safety", "--from", path, NULL), "plan set");
    t = tc_cli("journal", "-m", "I want to die tonight", NULL);
    assert_int_equal(t.status, 0);
    must_contain(t.out, "Your safety plan");
    must_contain(t.out, "My sister Ana 555-0142");
    assert_true(strstr(t.out, "My sister Ana") < strstr(t.out, "988"));
    dbk_run_result_free(&t);
    t = tc_cli("craving", "--intensity", "10", "--outcome", "resisted", NULL);
    must_contain(t.out, "Not sleeping");
    dbk_run_result_free(&t);
}

/*
 * A reviewed lapse the client then removes: the counselor's review marks what it
 * showed (a signed "reviewed" record in the client's stream), so at 'daybook rm'
 * the client is told plainly that the counselor already read it, and asked on a
 * terminal; an entry no review showed gets no such word. The counselor's next
 * review says the client removed it.
 */
static void
test_rm_says_the_counselor_read_it(void **state)
{
    struct fx *f = *state;
    char lapse[DBK_ID_TEXT_LEN + 1], later[DBK_ID_TEXT_LEN + 1];

    as(f->p.client_home);
    json_t *j = cli_json("--json", "craving", "--intensity", "8", "--outcome", "used",
                         "--used-what", "three beers", NULL);
    snprintf(lapse, sizeof lapse, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->p.counselor_home);
    json_t *r = review_json("Sam R");
    assert_int_equal(count_of(r, "lapses"), 1);
    json_decref(r);
    tc_ok(tc_cli("sync", NULL), "counselor sync");

    as(f->p.client_home);
    j = cli_json("--json", "journal", "-m", "A quiet evening, nothing to report", NULL);
    snprintf(later, sizeof later, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    tc_ok(tc_cli("sync", NULL), "client sync");

    /* An entry no review showed: no word about the counselor having read it. */
    dbk_run_result t = tc_cli("rm", "--", later, NULL);
    assert_int_equal(t.status, 0);
    assert_false(contains(t.out, "already read"));
    dbk_run_result_free(&t);

    /* On a terminal: said plainly, then asked; "no" removes nothing. */
    const dbk_pty_step no[] = {{"Your counselor has already read this entry", NULL},
                               {"Remove it anyway?", "no\n"},
                               {"Nothing removed", NULL},
                               {NULL, NULL}};
    dbk_pty_result pr = on_tty(no, "rm", "--", lapse, NULL);
    tty_done(&pr, 3, 0);
    dbk_pty_result_free(&pr);
    const dbk_pty_step yes[] = {{"Removing it does not take it back", NULL},
                                {"Remove it anyway?", "yes\n"},
                                {"Removed", NULL},
                                {NULL, NULL}};
    pr = on_tty(yes, "rm", "--", lapse, NULL);
    tty_done(&pr, 3, 0);
    dbk_pty_result_free(&pr);
    tc_ok(tc_cli("sync", NULL), "client sync");

    as(f->p.counselor_home);
    r = review_json("Sam R");
    assert_non_null(read_first_item(r, "removed", "three beers"));
    json_decref(r);
}

/* Moves client's enrollment days back on the server's SQLite file (server stopped):
 * the only way to have "a client enrolled 3 days ago" without waiting 3 days. */
static void
enrolled_days_ago(struct fx *f, const char *client, int days)
{
    char path[4300];
    sqlite3 *db;
    sqlite3_stmt *st;
    dbk_id id;

    assert_int_equal(dbk_id_from_text(&id, client, strlen(client)), 0);
    assert_int_equal(dbk_server_stop(&f->srv), 0);
    if (dbk_test_pg()) { /* the suite's PostgreSQL pass: the server's own database */
        char sql[256], hex[2 * DBK_ID_BYTES + 1];
        sodium_bin2hex(hex, sizeof hex, id.b, DBK_ID_BYTES);
        snprintf(sql, sizeof sql,
                 "UPDATE accounts SET created_at = created_at - %lld WHERE id = x'%s';",
                 (long long)days * 86400000, hex);
        assert_int_equal(dbk_pg_exec_db(f->srv.store_url, sql), 1);
        assert_int_equal(dbk_server_restart(&f->srv, NULL), 0);
        return;
    }
    snprintf(path, sizeof path, "%s/daybook.db", f->srv.data_dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "UPDATE accounts SET created_at = created_at - ? "
                                            "WHERE id = ?", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)days * 86400000);
    sqlite3_bind_blob(st, 2, id.b, DBK_ID_BYTES, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_int_equal(dbk_server_restart(&f->srv, NULL), 0);
}

/* The DOM of an HTML file as headless Chromium renders it (malloc'd), or NULL when
 * Chromium is not installed. */
/* Chromium found on PATH (Debian's package installs "chromium") into out, or false. */
static bool
find_chromium(char *out, size_t cap)
{
    const char *path = getenv("PATH");
    while (path != NULL && *path != '\0') {
        size_t n = strcspn(path, ":");
        if (n > 0 && (size_t)snprintf(out, cap, "%.*s/chromium", (int)n, path) < cap &&
            access(out, X_OK) == 0)
            return true;
        path += n + (path[n] == ':');
    }
    return false;
}

static char *
chromium_dom(const char *html)
{
    char browser[4200], url[4500], profile[4500];
    dbk_run_result r;
    if (!find_chromium(browser, sizeof browser))
        return NULL;
    snprintf(url, sizeof url, "file://%s", html);
    snprintf(profile, sizeof profile, "--user-data-dir=%s.chromium", html);
    const char *argv[] = {browser, "--headless", "--no-sandbox", "--disable-gpu",
                          "--disable-background-networking", "--no-first-run", profile,
                          "--dump-dom", url, NULL};
    assert_int_equal(dbk_run(argv, NULL, 90, &r), 0);
    assert_int_equal(r.status, 0);
    char *dom = strdup(r.out);
    dbk_run_result_free(&r);
    return dom;
}

/*
 * A client enrolled 3 days ago, in a 7-day review: the days before enrollment are
 * neither silence nor "0 cravings" (the baseline says "no earlier data"); and the
 * HTML review, rendered in Chromium, opens with Read first quoting the risk
 * sentence of a client who wrote one.
 */
static void
test_enrolled_three_days_ago(void **state)
{
    struct fx *f = *state;
    char riley[4300], rid[DBK_ID_TEXT_LEN + 1], two[11], html[4400];
    const char *ideation = "I keep thinking about how to kill myself";

    add_client(f, "Riley", riley, rid);
    enrolled_days_ago(f, rid, 3);
    tc_days_ago(2, two);
    as(riley);
    tc_ok(tc_cli("craving", "--intensity", "5", "--outcome", "resisted", "--at", two, NULL),
          "riley craving");
    tc_ok(tc_cli("journal", "-m", ideation, NULL), "riley journal");
    tc_ok(tc_cli("sync", NULL), "riley sync");

    as(f->p.counselor_home);
    json_t *r = review_json("Riley");
    const json_t *trend = json_object_get(json_object_get(r, "cravings"), "trend");
    assert_true(json_is_true(json_object_get(trend, "no_earlier_data")));
    const json_t *quiet = read_first_item(r, "silence", NULL);
    /* Only days since enrollment can be silent: of the 4 (3 days ago to today), 2
     * have entries; the 3 days before enrollment are not "no entry". */
    assert_true(quiet == NULL || json_array_size(json_object_get(quiet, "dates")) <= 2);
    json_decref(r);
    dbk_run_result t = tc_cli("review", "Riley", NULL);
    must_contain(t.out, "no earlier data");
    assert_false(contains(t.out, "0 cravings"));
    dbk_run_result_free(&t);

    snprintf(html, sizeof html, "%s/riley.html", f->p.home);
    tc_ok(tc_cli("review", "Riley", "--format", "html", "--out", html, NULL), "html review");
    char *dom = chromium_dom(html);
    if (dom == NULL) {
        fprintf(stderr, "SKIPPED: the HTML checks (no chromium on PATH)\n");
        return;
    }
    const char *box = strstr(dom, "id=\"read-first\""), *quote = strstr(dom, ideation);
    assert_non_null(box);
    assert_non_null(quote);
    assert_true(box < quote);
    assert_true(strstr(dom, "id=\"engagement\"") == NULL || box < strstr(dom, "id=\"engagement\""));
    assert_true(strstr(dom, "id=\"cravings\"") == NULL || box < strstr(dom, "id=\"cravings\""));
    must_contain(dom, "no earlier data");
    free(dom);
}

/* The files of the profile in home (daybook.db, its log and shared memory) to mode. */
static void
profile_mode(const char *home, mode_t mode)
{
    const char *const side[] = {"", "-wal", "-shm"};
    char path[4400];
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/daybook.db%s", home, side[i]);
        if (access(path, F_OK) == 0)
            assert_int_equal(chmod(path, mode), 0);
    }
}

/* The schema stamp of the profile in home (PRAGMA user_version), read without writing;
 * with sql, that is run first on the file, as another build would have left it. */
static int
profile_stamp(const char *home, const char *sql)
{
    char path[4400];
    sqlite3 *db;
    sqlite3_stmt *st;
    int stamp = -1;

    snprintf(path, sizeof path, "%s/daybook.db", home);
    assert_int_equal(
        sqlite3_open_v2(path, &db, sql ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY, NULL),
        SQLITE_OK);
    if (sql != NULL)
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        stamp = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return stamp;
}

/*
 * Profiles stamped by an older build and then made read-only (mode 0400: by a backup
 * restored so, a locked-down machine, an archive). The counselor's review (offline),
 * the client's log and 'version' read them as they are: the review still shows the
 * lapse, and counts nothing as withheld although the stream heads' counts a build may
 * keep in the file are gone (a client's profile keeps none). A command that writes says
 * which file is read-only and what to do, and writes nothing: the stamp is the older
 * build's until the file is writable again. The mode is honoured by root too (CI's
 * user), who the file system would let write.
 */
static void
test_read_only_older_profile(void **state)
{
    struct fx *f = *state;
    /* An older build also kept no high-water mark of the heads seen (head_seen:*): the
     * check must stand on the heads it holds, though it cannot keep the mark. */
    const char *older = "PRAGMA user_version = 12345; DROP TABLE IF EXISTS record_counts;"
                        "DROP TABLE IF EXISTS record_deletes;"
                        "DELETE FROM meta WHERE key LIKE 'head_seen%';";
    char file[4400];
    dbk_run_result r;
    json_t *j;

    as(f->p.client_home);
    tc_ok(
        tc_cli("craving", "--intensity", "8", "--outcome", "used", "--used-what", "alcohol", NULL),
        "lapse");
    tc_ok(tc_cli("journal", "-m", "Rough night after the party.", NULL), "journal");
    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->p.counselor_home);
    tc_ok(tc_cli("sync", NULL), "counselor sync");

    assert_int_equal(profile_stamp(f->p.counselor_home, older), 12345);
    assert_int_equal(profile_stamp(f->p.client_home, older), 12345);
    profile_mode(f->p.counselor_home, 0400);
    profile_mode(f->p.client_home, 0400);

    as(f->p.counselor_home);
    r = tc_cli("--json", "review", "Sam R", "--offline", NULL);
    if ((j = json_loads(r.out, 0, NULL)) == NULL)
        fail_msg("review on a read-only profile: exit %d: %s", r.status, r.err);
    assert_int_equal(count_of(j, "lapses"), 1);
    assert_non_null(read_first_item(j, "use", "alcohol"));
    const json_t *withheld = json_object_get(j, "withheld"); /* checked, and nothing is */
    assert_non_null(withheld);
    assert_int_equal(json_integer_value(json_object_get(withheld, "records")), 0);
    assert_false(json_is_true(json_object_get(withheld, "cannot_tell")));
    json_decref(j);
    assert_int_equal(r.status, 0);
    assert_false(contains(r.err, "withheld"));
    must_contain(r.err, "your copy of the entries reviewed was not kept"); /* and why: */
    must_contain(r.err, "counselor/daybook.db is read-only");
    dbk_run_result_free(&r);

    as(f->p.client_home);
    r = tc_cli("log", NULL);
    assert_int_equal(r.status, 0);
    must_contain(r.out, "Rough night after the party.");
    dbk_run_result_free(&r);
    tc_ok(tc_cli("version", NULL), "version");
    r = tc_cli("journal", "-m", "Better today.", NULL);
    assert_int_equal(r.status, 1);
    snprintf(file, sizeof file, "%s/daybook.db is read-only", f->p.client_home);
    must_contain(r.err, file);
    must_contain(r.err, "chmod u+w");
    dbk_run_result_free(&r);
    assert_int_equal(profile_stamp(f->p.client_home, NULL), 12345);

    profile_mode(f->p.client_home, 0600);
    tc_ok(tc_cli("journal", "-m", "Better today.", NULL), "journal, writable again");
    assert_int_not_equal(profile_stamp(f->p.client_home, NULL), 12345);
    profile_mode(f->p.counselor_home, 0600);
}

/* A lapse-free journal entry the client syncs and the counselor pulls: the stream
 * head's check has something to count. */
static void
journal_seen_by_counselor(struct fx *f)
{
    as(f->p.client_home);
    tc_ok(tc_cli("journal", "-m", "Rough night after the party.", NULL), "journal");
    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->p.counselor_home);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
}

/* The review r (--json) says the withheld check could not be made, in its JSON and on
 * stderr, never that nothing was withheld. Frees r. */
static void
review_says_not_checked(dbk_run_result r, const char *why)
{
    json_t *j = json_loads(r.out, 0, NULL);
    if (j == NULL)
        fail_msg("review with %s: exit %d: %s", why, r.status, r.err);
    const json_t *withheld = json_object_get(j, "withheld");
    assert_non_null(withheld);
    assert_true(json_is_true(json_object_get(withheld, "cannot_tell")));
    json_decref(j);
    must_contain(r.err, "could not check whether the server withheld");
    dbk_run_result_free(&r);
}

/*
 * The high-water mark of the client's head (head_seen) cannot be kept although the
 * profile is writable: another process holds its write lock past the wait (a sync
 * run meanwhile; a full disk does the same). Unlike a read-only profile's, that
 * mark is lost to the next check, which could then not see the server hand back an
 * older head: the review says the check could not be made, never that nothing was
 * withheld.
 */
static void
test_head_mark_not_kept_is_said(void **state)
{
    struct fx *f = *state;
    char path[4400];
    sqlite3 *db;
    json_t *j;

    journal_seen_by_counselor(f);
    profile_stamp(f->p.counselor_home, "DELETE FROM meta WHERE key LIKE 'head_seen%';");

    snprintf(path, sizeof path, "%s/daybook.db", f->p.counselor_home);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    dbk_run_result r = tc_cli("--json", "review", "Sam R", "--offline", NULL);
    dbk_run_result c = tc_cli("--json", "clients", "--offline", NULL); /* the caseload too */
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    review_says_not_checked(r, "its profile locked");

    /* The caseload's row is flagged first, and says so on stderr. */
    if ((j = json_loads(c.out, 0, NULL)) == NULL)
        fail_msg("caseload with its profile locked: exit %d: %s", c.status, c.err);
    const json_t *row = json_array_get(json_object_get(j, "clients"), 0);
    const char *first = json_string_value(json_array_get(json_object_get(row, "flags"), 0));
    assert_non_null(first);
    assert_string_equal(first, "WITHHELD? NOT CHECKED");
    assert_true(json_is_null(json_object_get(json_object_get(row, "withheld"), "records")));
    json_decref(j);
    must_contain(c.err, "could not check whether the server withheld");
    dbk_run_result_free(&c);
}

/*
 * A high-water mark that cannot be read (damaged: longer than any count) is not "no
 * mark": a server that hands back an older head would then pass unseen. The review
 * says the check could not be made.
 */
static void
test_head_mark_unreadable_is_said(void **state)
{
    struct fx *f = *state;

    journal_seen_by_counselor(f);
    dbk_run_result r = tc_cli("review", "Sam R", "--offline", NULL); /* keeps the marks */
    dbk_run_result_free(&r);
    profile_stamp(f->p.counselor_home, "UPDATE meta SET value = "
                                       "CAST('99999999999999999999999999999' AS BLOB)"
                                       " WHERE key LIKE 'head_seen%';");
    review_says_not_checked(tc_cli("--json", "review", "Sam R", "--offline", NULL),
                            "a damaged mark");
}

/*
 * The client's identity key pinned on the counselor's device cannot be read (damaged:
 * 31 bytes). That is not "no key pinned": the review would then say calmly that it
 * cannot tell whether anything was withheld. It says the check could not be made.
 */
static void
test_pin_unreadable_is_said(void **state)
{
    struct fx *f = *state;

    journal_seen_by_counselor(f);
    profile_stamp(f->p.counselor_home,
                  "UPDATE meta SET value = substr(value, 1, 31) WHERE key LIKE 'sign_pk:%';");
    review_says_not_checked(tc_cli("--json", "review", "Sam R", "--offline", NULL),
                            "a damaged pin");
}

/* The length of the first value in the meta table of the profile in home whose key is
 * LIKE pattern (-1: none). */
static int
meta_len(const char *home, const char *pattern)
{
    char path[4400];
    sqlite3 *db;
    sqlite3_stmt *st;
    int n = -1;

    snprintf(path, sizeof path, "%s/daybook.db", home);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT length(value) FROM meta WHERE key LIKE ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, pattern, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Every row of the meta table of the profile in home whose key is LIKE pattern, as
 * "key=hex(value)" lines in key order (malloc'd; "" when none); *n how many. */
static char *
meta_rows(const char *home, const char *pattern, int *n)
{
    char path[4400];
    sqlite3 *db;
    sqlite3_stmt *st;
    char *rows;

    snprintf(path, sizeof path, "%s/daybook.db", home);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db,
                           "SELECT count(*), coalesce(group_concat(row, char(10)), '') FROM "
                           "(SELECT key || '=' || hex(value) AS row FROM meta WHERE key LIKE ?1 "
                           "ORDER BY key)",
                           -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, pattern, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    *n = sqlite3_column_int(st, 0);
    rows = strdup((const char *)sqlite3_column_text(st, 1));
    assert_non_null(rows);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rows;
}

/*
 * A sync keeps the heads' high-water marks it checked (trust/heads.c; sync.c
 * check_heads writes them in one transaction, which this test does not tell from
 * several): a mark not kept is a rollback the next check cannot see. The marks
 * dropped first, the counselor's sync alone writes every one of them again, each
 * with the count it had (no record came in between).
 */
static void
test_sync_keeps_head_marks(void **state)
{
    struct fx *f = *state;
    int before_n, gone_n, after_n;

    journal_seen_by_counselor(f);
    char *before = meta_rows(f->p.counselor_home, "head_seen%", &before_n);
    profile_stamp(f->p.counselor_home, "DELETE FROM meta WHERE key LIKE 'head_seen%';");
    free(meta_rows(f->p.counselor_home, "head_seen%", &gone_n));
    as(f->p.counselor_home);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    char *after = meta_rows(f->p.counselor_home, "head_seen%", &after_n);
    /* Both kinds of mark (head_seen, head_seen_own) of at least the client's stream: a
     * sync that kept only some of them is told from one that kept all. */
    if (before_n < 2 || gone_n != 0 || strcmp(before, after) != 0)
        fail_msg("head marks: %d before:\n%s\n%d after the sync (%d left by the delete):\n%s",
                 before_n, before, after_n, gone_n, after);
    free(before);
    free(after);
}

/*
 * The same damaged pin at the counselor's next sync: the client's key is never pinned
 * anew from what the server lists (that would be the server's word for a key this
 * device once checked), and the sync says it failed.
 */
static void
test_pin_unreadable_not_repinned(void **state)
{
    struct fx *f = *state;

    journal_seen_by_counselor(f);
    profile_stamp(f->p.counselor_home,
                  "UPDATE meta SET value = substr(value, 1, 31) WHERE key LIKE 'sign_pk:%';");
    as(f->p.counselor_home);
    dbk_run_result r = tc_cli("sync", NULL);
    if (r.status == 0)
        fail_msg("sync over a damaged pin exited 0: %s%s", r.out, r.err);
    dbk_run_result_free(&r);
    assert_int_equal(meta_len(f->p.counselor_home, "sign_pk:%"), 31);
}

/*
 * The counselor's record that they compared the safety number with the client in
 * person cannot be read (damaged: 7 bytes). That is not "not confirmed yet", which
 * would pass for a fact: 'daybook verify' says it cannot tell and what to do, and
 * exits 1; comparing again and confirming records it anew. (A damaged pin of the
 * client's keys fails verify before that, as it must: no safety number from it.)
 */
static void
test_confirmation_unreadable_is_said(void **state)
{
    struct fx *f = *state;
    dbk_run_result r;

    journal_seen_by_counselor(f);
    tc_ok(tc_cli("verify", "Sam R", "--confirm", NULL), "verify --confirm");
    profile_stamp(f->p.counselor_home,
                  "UPDATE meta SET value = substr(value, 1, 7) WHERE key LIKE 'confirmed:%';");
    assert_int_equal(meta_len(f->p.counselor_home, "confirmed:%"), 7);
    r = tc_cli("--json", "verify", "Sam R", NULL);
    if (r.status != 1 || !contains(r.out, "\"confirmed\":null"))
        fail_msg("verify over a damaged confirmation: exit %d: %s%s", r.status, r.out, r.err);
    must_contain(r.err, "cannot be read");
    must_contain(r.err, "--confirm");
    dbk_run_result_free(&r);
    r = tc_cli("verify", "Sam R", NULL);
    if (r.status != 1 || contains(r.out, "Not confirmed yet"))
        fail_msg("verify over a damaged confirmation: exit %d: %s", r.status, r.out);
    must_contain(r.out, "Cannot tell whether you compared");
    dbk_run_result_free(&r);

    tc_ok(tc_cli("verify", "Sam R", "--confirm", NULL), "verify --confirm again");
    r = tc_cli("verify", "Sam R", NULL);
    assert_int_equal(r.status, 0);
    must_contain(r.out, "Confirmed: you compared");
    dbk_run_result_free(&r);

    profile_stamp(f->p.counselor_home,
                  "UPDATE meta SET value = substr(value, 1, 31) WHERE key LIKE 'sign_pk:%';");
    r = tc_cli("verify", "Sam R", NULL);
    if (r.status != 1 || contains(r.out, "Confirmed") || contains(r.out, "Not confirmed"))
        fail_msg("verify over a damaged pin: exit %d: %s%s", r.status, r.out, r.err);
    dbk_run_result_free(&r);
}

/* ---- a server that answers the caseload as it likes ---- */

/* One answer: HTTP status and body. */
struct answer {
    int status;
    const char *body;
};

/* A server on 127.0.0.1 that answers GET /v1/caseload?account= with one, GET
 * /v1/caseload with whole, anything else 503 with no body (cannot be reached), and
 * counts the caseload requests of each kind. One request a connection. */
struct liar {
    int fd, port;
    volatile bool stop;
    struct answer one, whole;
    int asked_one, asked_whole;
    /* POST /v1/sync: NULL, 503; else answered 200 for each stream asked as this says
     * (liar_sync), with grants_seq as this device holds it. */
    const char *sync;
    long long grants_seq;
    int asked_sync;
    /* "fail_one": this stream answered with an error, every other one with nothing new;
     * "forbid_one": this one refused as if the reader's access had ended. */
    char fail_stream[DBK_ID_TEXT_LEN + 1];
    /* GET /v1/grants: when body is not NULL, else 503; with real_port, only the first
     * request so, every later one relayed to the real server on that port. */
    struct answer grants;
    /* When not 0: every request is passed to the real server on this port and its answer
     * passed back, but POST /v1/sync's leaves fail_stream out of its pull (counted); with
     * relay_more 1, the first time as it is but with more to come; 2, refused
     * (forbidden) the first time; 3, answered twice every time: an error, then its
     * records dropped with no more to come (withheld); 4, answered once every time, its
     * records (its stream head too) dropped with no more to come: "nothing new". */
    int relay_port;
    int relay_more;
    int relayed_out;
    int real_port, asked_grants;
    int grants_gets; /* every GET /v1/grants, however answered */
    /* With relay_port: the first GET /v1/grants held this long (ms) before it is relayed,
     * as a slow server holds it, or until grants_release; grants_held is set once it is
     * being held. */
    int grants_delay_ms;
    volatile bool grants_held, grants_release;
    /* POST /v1/sync's answer (liar_sync) padded with this many bytes more, in a field no
     * client reads: what a server can make a client receive, up to its 64 MiB cap. */
    size_t pad;
    pthread_t th;
};

/* POST /v1/sync's answer to body (the request's): nothing pushed, and each stream it
 * asks for left out ("none"), answered with an error ("error"), refused as if the
 * reader's access had ended ("forbidden"), or answered with no records and more to
 * come, for ever ("more"); or ("fail_one") l->fail_stream answered with an error and
 * every other stream with nothing new, as an honest server answers when nothing was
 * written since. */
static char *
liar_sync(const struct liar *l, const char *body)
{
    json_t *req = json_loads(body, 0, NULL), *pull = json_array(), *x;
    size_t i;
    json_array_foreach(json_object_get(req, "pull"), i, x) {
        json_t *stream = json_object_get(x, "stream");
        bool failing = strcmp(json_string_value(stream), l->fail_stream) == 0;
        bool one = strcmp(l->sync, "fail_one") == 0 || strcmp(l->sync, "forbid_one") == 0;
        if (one && !failing)
            json_array_append_new(pull, json_pack("{s:O, s:[], s:O, s:b, s:i}", "stream", stream,
                                                  "records", "next", json_object_get(x, "since"),
                                                  "more", 0, "epoch", 1000000));
        else if (strcmp(l->sync, "fail_one") == 0)
            json_array_append_new(pull, json_pack("{s:O, s:{s:s, s:s}}", "stream", stream, "error",
                                                  "code", "internal", "message", "x"));
        else if (strcmp(l->sync, "forbidden") == 0 || strcmp(l->sync, "forbid_one") == 0)
            json_array_append_new(pull, json_pack("{s:O, s:{s:s, s:s}}", "stream", stream, "error",
                                                  "code", "forbidden", "message", "x"));
        else if (strcmp(l->sync, "error") == 0)
            json_array_append_new(pull, json_pack("{s:O, s:{s:s, s:s}}", "stream", stream, "error",
                                                  "code", "internal", "message", "x"));
        else if (strcmp(l->sync, "more") == 0)
            json_array_append_new(pull, json_pack("{s:O, s:[], s:O, s:b, s:i}", "stream", stream,
                                                  "records", "next", json_object_get(x, "since"),
                                                  "more", 1, "epoch", 1000000));
    }
    json_t *a = json_pack("{s:[], s:o, s:I}", "push", "pull", pull, "grants_seq",
                          (json_int_t)l->grants_seq);
    if (l->pad > 0) {
        char *pad = malloc(l->pad);
        assert_non_null(pad);
        memset(pad, 'p', l->pad);
        json_object_set_new(a, "pad", json_stringn(pad, l->pad));
        free(pad);
    }
    char *out = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    json_decref(req);
    return out;
}

static void
liar_answer(int c, const struct answer *a)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     a->status, strlen(a->body));
    if (write(c, head, (size_t)n) != n || write(c, a->body, strlen(a->body)) < 0)
        return;
}

/* The request req (n bytes read of it) from c passed to the real server on port, and its
 * answer passed back: a sync's without l->fail_stream in its pull. */
static void
liar_relay(struct liar *l, int c, const char *req, size_t n, int port)
{
    size_t len, at, rlen, rat;
    char *q = dbk_raw_message(c, req, n, &len, &at), *a = NULL;
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        write(s, q, len) != (ssize_t)len) {
        liar_answer(c, &(struct answer){503, ""});
        goto out;
    }
    a = dbk_raw_message(s, "", 0, &rlen, &rat);
    int status = (int)strtol(a + 9, NULL, 10);
    json_t *j = NULL;
    if (strncmp(q, "POST /v1/sync ", 14) == 0 && status == 200 &&
        (j = json_loads(a + rat, 0, NULL)) != NULL) {
        json_t *pull = json_object_get(j, "pull"), *kept = json_array(), *x;
        size_t i;
        json_array_foreach(pull, i, x)
        {
            bool failing =
                strcmp(json_string_value(json_object_get(x, "stream")), l->fail_stream) == 0;
            l->relayed_out += failing;
            bool page = failing && l->relay_more != 0 && l->relayed_out == 1;
            if (page && l->relay_more == 1)
                json_object_set_new(x, "more", json_true());
            if (failing && l->relay_more == 3) { /* an error, then "nothing new" */
                json_array_append_new(kept, json_pack("{s:O, s:{s:s, s:s}}", "stream",
                                                      json_object_get(x, "stream"), "error", "code",
                                                      "internal", "message", "x"));
                json_object_set_new(x, "records", json_array());
                json_object_set_new(x, "more", json_false());
                json_array_append(kept, x);
            } else if (failing && l->relay_more == 4) { /* "nothing new", all dropped */
                json_object_set_new(x, "records", json_array());
                json_object_set_new(x, "more", json_false());
                json_array_append(kept, x);
            } else if (page && l->relay_more == 2)
                json_array_append_new(kept, json_pack("{s:O, s:{s:s, s:s}}", "stream",
                                                      json_object_get(x, "stream"), "error", "code",
                                                      "forbidden", "message", "x"));
            else if (!failing || page)
                json_array_append(kept, x);
        }
        json_object_set_new(j, "pull", kept);
        char *b = json_dumps(j, JSON_COMPACT);
        liar_answer(c, &(struct answer){status, b});
        free(b);
        json_decref(j);
    } else {
        liar_answer(c, &(struct answer){status, a + rat});
    }
out:
    if (s >= 0)
        close(s);
    free(a);
    free(q);
}

static void *
liar_run(void *arg)
{
    struct liar *l = arg;
    while (!l->stop) {
        struct pollfd pf = {l->fd, POLLIN, 0};
        if (poll(&pf, 1, 100) <= 0)
            continue;
        int c = accept(l->fd, NULL, NULL);
        char req[8192];
        size_t n = 0;
        ssize_t r;
        if (c < 0)
            continue;
        while (n < sizeof req - 1 && (r = read(c, req + n, sizeof req - 1 - n)) > 0) {
            n += (size_t)r;
            req[n] = '\0';
            if (strstr(req, "\r\n\r\n") != NULL)
                break;
        }
        req[n] = '\0';
        static const struct answer down = {503, ""};
        l->grants_gets += strncmp(req, "GET /v1/grants ", 15) == 0;
        if (l->relay_port != 0 && l->grants_delay_ms > 0 && !l->grants_held &&
            strncmp(req, "GET /v1/grants ", 15) == 0) {
            l->grants_held = true;
            for (int w = 0; w < l->grants_delay_ms && !l->stop && !l->grants_release; w += 50)
                poll(NULL, 0, 50);
        }
        if (l->relay_port != 0) {
            liar_relay(l, c, req, n, l->relay_port);
        } else if (l->sync != NULL && strncmp(req, "POST /v1/sync ", 14) == 0) {
            /* The body, to its Content-Length. */
            const char *cl = strcasestr(req, "content-length:"), *b = strstr(req, "\r\n\r\n");
            size_t want = cl ? (size_t)strtoul(cl + 15, NULL, 10) : 0, at = (size_t)(b + 4 - req);
            while (n < sizeof req - 1 && n - at < want &&
                   (r = read(c, req + n, sizeof req - 1 - n)) > 0)
                n += (size_t)r;
            req[n] = '\0';
            l->asked_sync++;
            char *body = liar_sync(l, req + at);
            liar_answer(c, &(struct answer){200, body});
            free(body);
        } else if (strncmp(req, "GET /v1/caseload?account=", 25) == 0) {
            l->asked_one++;
            liar_answer(c, &l->one);
        } else if (strncmp(req, "GET /v1/caseload ", 17) == 0) {
            l->asked_whole++;
            liar_answer(c, &l->whole);
        } else if (strncmp(req, "GET /v1/grants ", 15) == 0 && l->real_port != 0 &&
                   l->asked_grants++ > 0) {
            liar_relay(l, c, req, n, l->real_port);
        } else if (strncmp(req, "GET /v1/grants ", 15) == 0 && l->grants.body != NULL) {
            liar_answer(c, &l->grants);
        } else {
            liar_answer(c, &down);
        }
        shutdown(c, SHUT_WR);
        while (read(c, req, sizeof req) > 0) /* until the client closes */
            ;
        close(c);
    }
    return NULL;
}

static void
liar_start(struct liar *l)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_true((l->fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
    assert_int_equal(bind(l->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(l->fd, 16), 0);
    assert_int_equal(getsockname(l->fd, (struct sockaddr *)&a, &len), 0);
    l->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&l->th, NULL, liar_run, l), 0);
}

static void
liar_stop(struct liar *l)
{
    l->stop = true;
    pthread_join(l->th, NULL);
    close(l->fd);
}

/* The counselor's profile pointed at the liar l (l NULL: back at the real server). */
static void
counselor_asks(struct fx *f, const struct liar *l)
{
    char url[4200], sql[4400];
    if (l != NULL)
        snprintf(url, sizeof url, "http://127.0.0.1:%d", l->port);
    else
        snprintf(url, sizeof url, "%s", f->srv.base_url);
    snprintf(sql, sizeof sql, "UPDATE meta SET value = CAST('%s' AS BLOB) WHERE key = 'server';",
             url);
    profile_stamp(f->p.counselor_home, sql);
}

/*
 * A server that answers the review's one-row caseload (GET /v1/caseload?account=)
 * otherwise than the whole caseload, refuses the parameter on purpose to be asked for
 * the whole one, or cannot be reached but for the caseload. Each answer that says the
 * client revoked or let consent expire, wherever it comes from, refuses the review: two
 * rows whose last is a revocation, an unknown_field that brings the whole caseload
 * saying "revoked" (and then, holding no row, this device's last sight of it: revoked);
 * the whole caseload's "active" is never asked for once the one row said otherwise.
 * Reviews shown against such an answer are counted (leaked: 0). An answer that only
 * leaves the client out (a row for another account, no row), for a client whose
 * stream this device holds, is the server's silence, not the client's word: the review
 * is made from what this device holds, flagged NOT IN SERVER'S CASELOAD
 * ("consent":{"listed":false}), never saying the client did not share. The one review
 * the answer allows says the server could not be reached for the entries (pulled:
 * false).
 */
static void
test_caseload_row_lies(void **state)
{
    struct fx *f = *state;
    char other[DBK_ID_TEXT_LEN + 1], bodies[6][512];
    dbk_id id;
    const char *me = f->p.client_id;
    struct liar l = {0};
    dbk_run_result r;
    int leaked = 0, refused = 0, unlisted = 0, unlisted_said = 0;

    journal_seen_by_counselor(f);
    json_decref(review_json("Sam R"));  /* the real server: shared, and said so */
    randombytes_buf(id.b, sizeof id.b); /* an account that is no client of this counselor */
    dbk_id_to_text(&id, other);
    snprintf(bodies[0], sizeof bodies[0],
             "{\"clients\":[{\"account\":\"%s\",\"grant_state\":\"active\"}]}", other);
    snprintf(bodies[1], sizeof bodies[1], "{\"clients\":[]}");
    snprintf(bodies[2], sizeof bodies[2],
             "{\"clients\":[{\"account\":\"%s\",\"grant_state\":\"active\"},"
             "{\"account\":\"%s\",\"grant_state\":\"revoked\"}]}",
             me, me);
    snprintf(bodies[3], sizeof bodies[3],
             "{\"clients\":[{\"account\":\"%s\",\"grant_state\":\"revoked\"}]}", me);
    snprintf(bodies[4], sizeof bodies[4],
             "{\"clients\":[{\"account\":\"%s\",\"grant_state\":\"active\"}]}", me);
    snprintf(bodies[5], sizeof bodies[5],
             "{\"clients\":[{\"account\":\"%s\",\"grant_state\":\"expired\"}]}", me);
    static const char unknown[] = "{\"error\":{\"code\":\"unknown_field\",\"message\":\"x\"}}";
    const struct {
        struct answer one, whole;
        bool unlisted; /* only leaves the client out: reviewed, flagged */
    } lies[] = {
        {{200, bodies[0]}, {200, bodies[4]}, true},  /* a row for another account */
        {{200, bodies[1]}, {200, bodies[4]}, true},  /* no row */
        {{200, bodies[2]}, {200, bodies[4]}, false}, /* two rows, the last a revocation */
        {{200, bodies[3]}, {200, bodies[4]}, false}, /* revoked here, active in the whole */
        {{400, unknown}, {200, bodies[3]}, false},   /* refused: the whole says revoked */
        {{400, unknown}, {200, bodies[1]}, false},   /* refused: no row, as last seen: revoked */
        {{400, unknown}, {400, unknown}, false},     /* refused both ways */
        {{200, bodies[5]}, {200, bodies[4]}, false}, /* expired */
        {{503, ""}, {200, bodies[4]}, false},        /* unreachable: as it last said (expired) */
    };
    size_t nrefusing = 0;

    liar_start(&l);
    counselor_asks(f, &l);
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        l.one = lies[i].one;
        l.whole = lies[i].whole;
        r = tc_cli("--json", "review", "Sam R", NULL);
        if (lies[i].unlisted) {
            json_t *u = json_loads(r.out, 0, NULL);
            unlisted += r.status == 0 &&
                        json_is_false(json_object_get(json_object_get(u, "consent"), "listed"));
            unlisted_said +=
                contains(r.err, "no longer lists") && !contains(r.err, "has not shared");
            json_decref(u);
        } else if (r.status == 0) {
            leaked++;
        } else {
            refused += contains(r.err, "no review is made") || contains(r.err, "caseload");
        }
        nrefusing += !lies[i].unlisted;
        dbk_run_result_free(&r);
    }
    int asked_whole_after_row = l.asked_whole;

    /* The one answer that allows it: a review from this device's entries, said unpulled. */
    l.one = (struct answer){200, bodies[4]};
    r = tc_cli("--json", "review", "Sam R", NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    int shown = r.status == 0 && j != NULL;
    bool said = shown && json_is_false(json_object_get(json_object_get(j, "data"), "pulled")) &&
                json_is_true(json_object_get(json_object_get(j, "data"), "stale"));
    json_decref(j);
    dbk_run_result_free(&r);

    /* Then the caseload does not answer: the review follows the consent this device last
     * saw (active), and says so in the JSON, on stderr and in the text. */
    l.one = (struct answer){503, ""};
    l.whole = l.one;
    r = tc_cli("--json", "review", "Sam R", NULL);
    j = json_loads(r.out, 0, NULL);
    const json_t *c = json_object_get(j, "consent");
    bool unchecked_said = r.status == 0 && json_is_false(json_object_get(c, "checked")) &&
                          json_is_string(json_object_get(c, "state")) &&
                          strcmp(json_string_value(json_object_get(c, "state")), "active") == 0 &&
                          contains(r.err, "did not answer for");
    json_decref(j);
    dbk_run_result_free(&r);
    r = tc_cli("review", "Sam R", NULL);
    unchecked_said = unchecked_said && r.status == 0 && contains(r.out, "CONSENT NOT CHECKED NOW");
    dbk_run_result_free(&r);
    liar_stop(&l);
    counselor_asks(f, NULL);

    dbk_report("malicious server: the review's one caseload row",
               "the server answers GET /v1/caseload?account= otherwise than the whole "
               "caseload (another account's row, none, two, revoked against active, "
               "unknown_field on purpose, expired, unreachable) and serves no entries",
               "reviews shown against a refusal (leaked): %d of %zu, refused with a reason: %d; "
               "answers that only leave the client out, reviewed flagged not listed: %d of 2, "
               "said on stderr without 'has not shared': %d of 2; "
               "whole caseloads asked for: %d (after unknown_field: 3); the review it allows "
               "says it is not fresh: %s; with the caseload unanswered, says its consent "
               "was not checked now: %s",
               leaked, nrefusing, refused, unlisted, unlisted_said, asked_whole_after_row,
               said ? "yes" : "no", unchecked_said ? "yes" : "no");
    assert_int_equal(leaked, 0);
    assert_int_equal(refused, (int)nrefusing);
    assert_int_equal(unlisted, 2);
    assert_int_equal(unlisted_said, 2);
    assert_int_equal(asked_whole_after_row, 3);
    assert_true(shown);
    assert_true(said);
    assert_true(unchecked_said);
}

/* The days the review's checklist counts item checked; -1 when it is not listed. */
static json_int_t
checklist_days(const json_t *r, const char *item)
{
    const json_t *items = json_object_get(json_object_get(r, "checklist"), "items");
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *x = json_array_get(items, i);
        if (strcmp(json_string_value(json_object_get(x, "item")), item) == 0)
            return json_integer_value(json_object_get(x, "days_checked"));
    }
    return -1;
}

/* The days item is counted in a `trends --json` checklist; -1 when it is not listed. */
static json_int_t
trends_days(const json_t *t, const char *item)
{
    const json_t *rows = json_object_get(t, "checklist");
    for (size_t i = 0; i < json_array_size(rows); i++) {
        const json_t *x = json_array_get(rows, i);
        if (strcmp(json_string_value(json_object_get(x, "item")), item) == 0)
            return json_integer_value(json_object_get(x, "days_checked"));
    }
    return -1;
}

/*
 * A client whose day is ahead of the counselor's: in a time zone ahead (here UTC+14
 * against the counselor's UTC-11, so the client's date is always the counselor's
 * tomorrow or later; across US zones it is so every night between the client's
 * midnight and the counselor's), or a device clock ahead within the server's bound.
 * The client writes a journal that reads as suicidal ideation and logs a lapse; both
 * are dated by the client's day. The counselor's review and caseload, with the
 * summary cache and without it, must show both in Read first, the journal, the
 * lapses and the row's RISK and USE REPORTED: an entry dated after the counselor's
 * today is not an entry outside the review. The client also fills in its checklist
 * without ticking took_medication (a day without the medication), and, once the
 * counselor set a MAT schedule, reports a missed dose: the review's checklist and
 * medication show them too, and so do the counselor's `med --client` and, once the
 * client is back behind (UTC-11: it flew west), the client's own `trends`. Counted:
 * risk, lapse, checklist day, craving or missed medication hidden (leaked).
 */
static void
test_entry_dated_after_the_counselors_today(void **state)
{
    struct fx *f = *state;
    const char *ideation = "Nobody would notice. I just want to end my life.";
    int hidden = 0;

    as(f->p.counselor_home);
    tc_ok(tc_cli("sync", NULL), "counselor sync first");
    as(f->p.client_home);
    setenv("TZ", "AHEAD-14", 1); /* POSIX: UTC+14 */
    tc_ok(tc_cli("journal", "-m", ideation, NULL), "journal");
    tc_ok(tc_cli("craving", "--intensity", "9", "--outcome", "used", "--used-what", "heroin", NULL),
          "lapse");
    tc_ok(tc_cli("check", "avoided_high_risk", NULL), "checklist");
    tc_ok(tc_cli("sync", NULL), "client sync");
    setenv("TZ", "BEHIND+11", 1); /* UTC-11 */
    json_t *tr = cli_json("--json", "trends", "--days", "7", NULL);
    if (trends_days(tr, "avoided_high_risk") != 1 ||
        json_integer_value(json_object_get(json_object_get(tr, "cravings"), "count")) != 1 ||
        json_integer_value(json_object_get(json_object_get(tr, "used"), "count")) != 1) {
        fprintf(stderr, "trends (the client, now UTC-11): %s\n", json_dumps(tr, 0));
        hidden++;
    }
    json_decref(tr);
    as(f->p.counselor_home);
    for (int plain = 0; plain < 2; plain++) {
        if (plain)
            setenv("DAYBOOK_NO_SUMMARY", "1", 1);
        json_t *r = review_json("Sam R");
        const json_t *risk = read_first_item(r, "risk", NULL);
        bool journal =
            json_array_size(json_object_get(r, "journal")) == 1 || count_of(r, "journal") == 1;
        if (risk == NULL || read_first_item(r, "use", "heroin") == NULL ||
            count_of(r, "lapses") != 1 || !journal) {
            fprintf(stderr, "review (%s): risk %s, use %s, lapses %lld, journal %s\n",
                    plain ? "no summary" : "summary", risk ? "shown" : "HIDDEN",
                    read_first_item(r, "use", "heroin") ? "shown" : "HIDDEN", count_of(r, "lapses"),
                    journal ? "shown" : "HIDDEN");
            hidden++;
        }
        const json_t *med = json_object_get(r, "medication");
        if (checklist_days(r, "avoided_high_risk") != 1 ||
            json_array_size(json_object_get(med, "missed_days")) != 1) {
            fprintf(stderr, "review (%s): checklist avoided_high_risk %lld days, medication %s\n",
                    plain ? "no summary" : "summary",
                    (long long)checklist_days(r, "avoided_high_risk"), json_dumps(med, 0));
            hidden++;
        }
        json_decref(r);
        json_t *cl = cli_json("--json", "clients", NULL);
        const json_t *row = client_row(cl, "Sam R", NULL);
        if (json_integer_value(json_object_get(row, "risk")) <= 0 ||
            !has_flag(row, "USE REPORTED")) {
            fprintf(stderr, "clients (%s): risk %lld, use reported %s\n",
                    plain ? "no summary" : "summary",
                    (long long)json_integer_value(json_object_get(row, "risk")),
                    has_flag(row, "USE REPORTED") ? "yes" : "NO");
            hidden++;
        }
        json_decref(cl);
    }
    unsetenv("DAYBOOK_NO_SUMMARY");
    dbk_run_result t = tc_cli("review", "Sam R", NULL);
    if (!contains(t.out, "!! RISK LANGUAGE") || !contains(t.out, "end my life"))
        hidden++;
    dbk_run_result_free(&t);

    /* A MAT schedule from the counselor's today; the client misses its dose of its day. */
    tc_ok(tc_cli("med", "set", "Sam R", "buprenorphine", "--dose", "8 mg", "--frequency", "daily",
                 "--take-home", NULL),
          "med set");
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    as(f->p.client_home);
    setenv("TZ", "AHEAD-14", 1);
    tc_ok(tc_cli("sync", NULL), "client sync 2");
    tc_ok(tc_cli("med", "take", "--missed", NULL), "missed dose");
    tc_ok(tc_cli("sync", NULL), "client sync 3");
    setenv("TZ", "BEHIND+11", 1);
    as(f->p.counselor_home);
    json_t *r = review_json("Sam R");
    const json_t *med = json_object_get(r, "medication");
    if (strcmp(json_string_value(json_object_get(med, "source")), "mat") != 0 ||
        json_integer_value(json_object_get(med, "doses_missed")) != 1) {
        fprintf(stderr, "review: MAT %s\n", json_dumps(med, 0));
        hidden++;
    }
    json_decref(r);
    json_t *mc = cli_json("--json", "med", "--client", "Sam R", NULL);
    const json_t *ad = json_object_get(json_array_get(mc, 0), "adherence");
    if (json_integer_value(json_object_get(ad, "missed")) != 1 ||
        json_array_size(json_object_get(ad, "missed_days")) != 1) {
        fprintf(stderr, "med --client: %s\n", json_dumps(mc, 0));
        hidden++;
    }
    json_decref(mc);
    unsetenv("TZ");
    dbk_report("review: an entry dated after the counselor's today",
               "the client (UTC+14) writes a suicidal journal, logs a lapse, fills in its "
               "checklist without its medication and misses a MAT dose; the counselor (UTC-11) "
               "reviews, lists the caseload (with the summary cache and without) and asks "
               "'med --client'; the client, now at UTC-11, asks 'trends'",
               "risk, lapse, checklist day, craving or missed medication hidden from a review, "
               "a caseload row, 'med --client' or 'trends' (leaked): %d of 10",
               hidden);
    assert_int_equal(hidden, 0);
}

/* The text of meta key in the profile in home (read-only), into out; "" when none. */
static void
profile_meta(const char *home, const char *key, char *out, size_t cap)
{
    char path[4400];
    sqlite3 *db;
    sqlite3_stmt *st;
    snprintf(path, sizeof path, "%s/daybook.db", home);
    out[0] = '\0';
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT CAST(value AS TEXT) FROM meta WHERE key = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Whether the JSON of a review or caseload (r, --json) says its data is current. */
static bool
says_current(const dbk_run_result *r)
{
    json_t *j = json_loads(r->out, 0, NULL);
    const json_t *d = json_object_get(j, "data");
    bool cur = r->status == 0 && json_is_true(json_object_get(d, "pulled")) &&
               json_is_false(json_object_get(d, "stale"));
    json_decref(j);
    return cur;
}

/*
 * A server that answers the pull but not for the client's stream. The counselor synced
 * an hour's worth ago (not yet stale by age); then the server answers POST /v1/sync
 * with 200 but leaves every stream asked out of its answer, or answers each with an
 * error, or with no records and "more" for ever (the client gives up after its rounds).
 * Nothing of the client's was brought up to date: the review and the caseload must not
 * say their data is current (pulled, not stale), and the "data as of" must stay the
 * last sync that did pull everything, so that a review --offline later is not made
 * current by it either. Counted: reviews and caseloads that called such data current
 * (leaked).
 */
static void
test_pull_not_answered_is_not_fresh(void **state)
{
    struct fx *f = *state;
    static const char *const modes[] = {"none", "error", "more"};
    char seq[32], before[32], after[32];
    struct liar l = {0};
    int leaked = 0, loud = 0, moved = 0, sync_unsaid = 0;

    journal_seen_by_counselor(f);
    json_decref(review_json("Sam R")); /* the real server: current, and said so */
    profile_meta(f->p.counselor_home, "grants_seq", seq, sizeof seq);
    profile_meta(f->p.counselor_home, "last_sync", before, sizeof before);
    char body[512];
    snprintf(body, sizeof body, "{\"clients\":[{\"account\":\"%s\",\"grant_state\":\"active\"}]}",
             f->p.client_id);
    l.one = l.whole = (struct answer){200, body};
    l.grants_seq = strtoll(seq, NULL, 10);
    liar_start(&l);
    counselor_asks(f, &l);
    sleep(1); /* a last_sync written now would differ from before */
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
        l.sync = modes[i];
        dbk_run_result r = tc_cli("--json", "review", "Sam R", NULL);
        if (says_current(&r)) {
            fprintf(stderr, "review called current after a pull answered '%s'\n", modes[i]);
            leaked++;
        }
        dbk_run_result_free(&r);
        r = tc_cli("--json", "clients", NULL);
        if (says_current(&r)) {
            fprintf(stderr, "clients called current after a pull answered '%s'\n", modes[i]);
            leaked++;
        }
        dbk_run_result_free(&r);
        r = tc_cli("review", "Sam R", NULL);
        loud += r.status == 0 && contains(r.out, "!! DATA AS OF");
        dbk_run_result_free(&r);
        /* 'daybook sync' itself: not up to date, so exit 1, and what to do. */
        r = tc_cli("sync", NULL);
        if (r.status == 0 || !contains(r.err, "'daybook sync' again")) {
            fprintf(stderr, "sync after a pull answered '%s': exit %d, said: %s\n", modes[i],
                    r.status, r.err);
            sync_unsaid++;
        }
        dbk_run_result_free(&r);
    }
    profile_meta(f->p.counselor_home, "last_sync", after, sizeof after);
    moved = strcmp(before, after) != 0;
    int asked = l.asked_sync;
    liar_stop(&l);
    counselor_asks(f, NULL);
    dbk_report("malicious server: a pull answered without the client's stream",
               "the counselor synced; the server then answers POST /v1/sync with 200 but leaves "
               "the streams out, answers each with an error, or says more for ever; the "
               "counselor reviews and lists the caseload",
               "reviews and caseloads called current (leaked): %d of 6; text reviews saying !! "
               "DATA AS OF: %d of 3; data as of moved to a sync that pulled nothing: %s; syncs "
               "asked: %d; syncs that exit 0 or do not say to sync again: %d of 3",
               leaked, loud, moved ? "yes" : "no", asked, sync_unsaid);
    assert_true(asked >= 9);
    assert_int_equal(leaked, 0);
    assert_int_equal(sync_unsaid, 0);
    assert_int_equal(loud, 3);
    assert_false(moved);
}

/* The text id of client's shared stream in the profile under home. */
static void
shared_stream_in(const char *home, const char *client, char out[DBK_ID_TEXT_LEN + 1])
{
    char path[4400];
    sqlite3 *db;
    sqlite3_stmt *st;
    dbk_id owner, id;
    assert_int_equal(dbk_id_from_text(&owner, client, strlen(client)), 0);
    snprintf(path, sizeof path, "%s/daybook.db", home);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT id FROM streams WHERE owner = ?1 AND kind = 1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(st, 1, owner.b, DBK_ID_BYTES, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_bytes(st, 0), DBK_ID_BYTES);
    memcpy(id.b, sqlite3_column_blob(st, 0), DBK_ID_BYTES);
    sqlite3_finalize(st);
    sqlite3_close(db);
    dbk_id_to_text(&id, out);
}

/* The text id of client's shared stream on the counselor's device. */
static void
shared_stream_of(struct fx *f, const char *client, char out[DBK_ID_TEXT_LEN + 1])
{
    shared_stream_in(f->p.counselor_home, client, out);
}

/* The "data" of client's row in `clients --json` (cl), or NULL. */
static const json_t *
row_data(const json_t *cl, const char *client)
{
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(cl, "clients"), i,
                       x) if (strcmp(json_string_value(json_object_get(x, "account")), client) ==
                              0) return json_object_get(x, "data");
    return NULL;
}

/*
 * One client's stream keeps failing to sync; another's is pulled. Sam and Alex share;
 * the counselor syncs with the honest server. Then the server answers every pull but
 * Alex's stream's with nothing new, and Alex's with an error, sync after sync. Sam's
 * review and row must be current ("data as of" now, pulled, not stale), not marked
 * STALE because of Alex; Alex's must be stale, loudly (text !! DATA AS OF, the row's
 * STALE AS OF flag, the caseload's first line), with their own "as of": the last sync
 * that pulled Alex's stream, which later failing syncs do not move. Counted: Sam's
 * forms called stale (false alarms that bury a real one), Alex's called current
 * (leaked), and Alex's "as of" moved.
 */
static void
test_stale_per_client(void **state)
{
    struct fx *f = *state;
    char alex[4300], aid[DBK_ID_TEXT_LEN + 1], seq[32], before[32], body[1024];
    struct liar l = {0};
    int leaked = 0, false_alarm = 0, moved = 0, quiet = 0;

    add_client(f, "Alex", alex, aid);
    as(alex);
    tc_ok(tc_cli("journal", "-m", "a quiet evening", NULL), "alex journal");
    tc_ok(tc_cli("sync", NULL), "alex sync");
    journal_seen_by_counselor(f);
    json_decref(review_json("Alex")); /* the honest server: both pulled */
    profile_meta(f->p.counselor_home, "grants_seq", seq, sizeof seq);
    profile_meta(f->p.counselor_home, "pulled_at", before, sizeof before);
    snprintf(body, sizeof body,
             "{\"clients\":[{\"account\":\"%s\",\"grant_state\":\"active\"},"
             "{\"account\":\"%s\",\"grant_state\":\"active\"}]}",
             f->p.client_id, aid);
    l.one = l.whole = (struct answer){200, body};
    l.grants_seq = strtoll(seq, NULL, 10);
    l.sync = "fail_one";
    shared_stream_of(f, aid, l.fail_stream);
    liar_start(&l);
    counselor_asks(f, &l);
    sleep(1); /* a time written now differs from before */
    for (int round = 0; round < 2; round++) {
        json_t *sam = review_json("Sam R"), *al = review_json("Alex");
        const json_t *sd = json_object_get(sam, "data"), *ad = json_object_get(al, "data");
        false_alarm += !json_is_true(json_object_get(sd, "pulled")) ||
                       !json_is_false(json_object_get(sd, "stale"));
        leaked += !json_is_false(json_object_get(ad, "pulled")) ||
                  !json_is_true(json_object_get(ad, "stale"));
        moved += json_integer_value(json_object_get(ad, "as_of_unix")) != strtoll(before, NULL, 10);
        json_decref(sam);
        json_decref(al);
        json_t *cl = cli_json("--json", "clients", NULL);
        sd = row_data(cl, f->p.client_id), ad = row_data(cl, aid);
        false_alarm += !json_is_false(json_object_get(sd, "stale")) ||
                       has_flag(client_row(cl, "Sam R", NULL), "STALE AS OF");
        leaked += !json_is_true(json_object_get(ad, "stale")) ||
                  !has_flag(client_row(cl, "Alex", NULL), "STALE AS OF");
        moved += json_integer_value(json_object_get(ad, "as_of_unix")) != strtoll(before, NULL, 10);
        json_decref(cl);
        dbk_run_result r = tc_cli("review", "Sam R", NULL);
        false_alarm += r.status != 0 || contains(r.out, "!! DATA AS OF");
        dbk_run_result_free(&r);
        r = tc_cli("review", "Alex", NULL);
        quiet += r.status != 0 || !contains(r.out, "!! DATA AS OF");
        dbk_run_result_free(&r);
        r = tc_cli("clients", NULL);
        quiet += r.status != 0 || !contains(r.out, "1 of 2 clients STALE");
        dbk_run_result_free(&r);
    }
    int asked = l.asked_sync;
    liar_stop(&l);
    counselor_asks(f, NULL);
    dbk_report("malicious server: one client's stream keeps failing to sync",
               "two clients share; the counselor syncs; the server then answers every pull "
               "but one client's stream's with nothing new, and that one with an error, twice; "
               "the counselor reviews both and lists the caseload (JSON and text)",
               "the pulled client's forms called stale (false alarms): %d of 8; the failing "
               "client's called current (leaked): %d of 4; its \"as of\" moved: %d of 4; "
               "text forms that do not say it loudly: %d of 4; syncs asked: %d",
               false_alarm, leaked, moved, quiet, asked);
    assert_true(asked >= 6);
    assert_int_equal(leaked, 0);
    assert_int_equal(false_alarm, 0);
    assert_int_equal(moved, 0);
    assert_int_equal(quiet, 0);
}

/* Sam shares and the counselor syncs; then Alex enrolls, writes risk language and syncs
 * (home alex, id aid); the counselor is left pointed at l, a relay to the real server
 * in mode more (struct liar) for Alex's stream, and is the one who runs commands. */
static void
alex_behind_relay(struct fx *f, char alex[4300], char aid[DBK_ID_TEXT_LEN + 1], struct liar *l,
                  int more)
{
    journal_seen_by_counselor(f);
    add_client(f, "Alex", alex, aid);
    as(alex);
    tc_ok(tc_cli("journal", "-m", "I want to die; used again last night.", NULL), "alex journal");
    tc_ok(tc_cli("sync", NULL), "alex sync");
    shared_stream_in(alex, aid, l->fail_stream);
    l->relay_port = f->srv.port;
    l->relay_more = more;
    liar_start(l);
    counselor_asks(f, l);
    as(f->p.counselor_home);
}

/*
 * A stream this device never pulled is not "as of" any sync. Sam shares and the
 * counselor syncs; then Alex enrolls, writes risk language and syncs. The server
 * (every request passed to the real one) hands the counselor Alex's grant, so this
 * device holds Alex's stream, but leaves that stream out of every pull, sync after
 * sync. Alex's review and row must say their data is as of never (none of it was
 * ever pulled), stale: an "as of" of the sync that brought the grant says the entries
 * Alex wrote before it are shown, and the journal with risk language is not. Counted:
 * forms with an "as of" (leaked), forms called current.
 */
static void
never_pulled(void **state, int more)
{
    struct fx *f = *state;
    char alex[4300], aid[DBK_ID_TEXT_LEN + 1];
    struct liar l = {0};
    int leaked = 0, current = 0;

    alex_behind_relay(f, alex, aid, &l, more);
    sleep(1); /* a time written now differs from Alex's entry's */
    for (int round = 0; round < 2; round++) {
        json_t *al = review_json("Alex");
        const json_t *ad = json_object_get(al, "data");
        leaked += !json_is_null(json_object_get(ad, "as_of_unix"));
        current += !json_is_true(json_object_get(ad, "stale"));
        json_decref(al);
        json_t *cl = cli_json("--json", "clients", NULL);
        ad = row_data(cl, aid);
        leaked += !json_is_null(json_object_get(ad, "as_of_unix"));
        current += !json_is_true(json_object_get(ad, "stale"));
        json_decref(cl);
    }
    int out = l.relayed_out;
    liar_stop(&l);
    counselor_asks(f, NULL);
    static const char *const how[] = {
        "malicious server: a client's stream handed over but never pulled",
        "malicious server: a client's stream handed over, its first page answered with more "
        "to come, then left out",
        "malicious server: a client's stream handed over, its first pull refused as if the "
        "grant had ended, then left out"};
    dbk_report(how[more],
               "a client enrolls, writes risk language and syncs; the server gives the "
               "counselor the client's grant and leaves the client's stream out of every "
               "pull (or the first with more to come, or refused); the counselor reviews the "
               "client and lists the caseload, twice",
               "forms that give the never-pulled client's data an \"as of\" (leaked): %d of 4; "
               "forms that call it current: %d of 4; pulls the server left it out of: %d",
               leaked, current, out);
    assert_true(out >= 2);
    assert_int_equal(leaked, 0);
    assert_int_equal(current, 0);
}

static void
test_never_pulled_is_as_of_never(void **state)
{
    never_pulled(state, 0);
}

/* As test_never_pulled_is_as_of_never, the first page of the stream handed over (all of
 * it) answered with more to come, the stream left out of every pull after it: its cursor
 * moved, but it was never brought up to date. */
static void
test_first_page_only_is_as_of_never(void **state)
{
    never_pulled(state, 1);
}

/* As test_never_pulled_is_as_of_never, the first pull of the stream handed over refused
 * as if the grant had ended (its reading ends here, and is not asked for again until
 * the grants say otherwise). */
static void
test_first_pull_refused_is_as_of_never(void **state)
{
    never_pulled(state, 2);
}

/*
 * A stream answered twice in one answer: an error, then "nothing new, no more" with
 * its records dropped (withheld), every sync. Alex enrolls, writes risk language and
 * syncs; the counselor reviews Alex and lists the caseload, twice. What the second
 * answer says is the server's word, as any "no more" is; the signed stream head must
 * then say what was withheld. Counted: forms that call Alex's data current without
 * flagging entries withheld (leaked); forms that call it current (the server's word).
 */
static void
test_answered_twice_is_not_silent(void **state)
{
    struct fx *f = *state;
    char alex[4300], aid[DBK_ID_TEXT_LEN + 1];
    struct liar l = {0};
    int leaked = 0, current = 0;

    alex_behind_relay(f, alex, aid, &l, 3);
    for (int round = 0; round < 2; round++) {
        json_t *al = review_json("Alex");
        bool cur = json_is_false(json_object_get(json_object_get(al, "data"), "stale"));
        current += cur;
        leaked += cur && json_integer_value(
                             json_object_get(json_object_get(al, "withheld"), "records")) < 1;
        json_decref(al);
        json_t *cl = cli_json("--json", "clients", NULL);
        const json_t *row = client_row(cl, "Alex", NULL);
        cur = json_is_false(json_object_get(row_data(cl, aid), "stale"));
        current += cur;
        leaked += cur && json_integer_value(
                             json_object_get(json_object_get(row, "withheld"), "records")) < 1;
        json_decref(cl);
    }
    int out = l.relayed_out;
    liar_stop(&l);
    counselor_asks(f, NULL);
    dbk_report("malicious server: a stream answered twice, an error then nothing new",
               "a client enrolls, writes risk language and syncs; the server answers the "
               "client's stream twice in every pull, an error and then no records and no "
               "more; the counselor reviews the client and lists the caseload, twice",
               "forms that call the client's data current without flagging entries "
               "withheld (leaked): %d of 4; forms that call it current: %d of 4; pulls: %d",
               leaked, current, out);
    assert_true(out >= 2);
    assert_int_equal(leaked, 0);
}

/* The scene of a reading ended while the caseload says the client shares: the
 * counselor reviewed once against the real server; seq its grants_seq, sid the client's
 * stream, body a caseload listing the client active, one the client's grant listed
 * revoked (unsigned: the server's word), bad a grant of another stream whose bytes are
 * no grant. */
static void
ended_scene(struct fx *f, char *seq, char *sid, char *body, char *one, char *bad)
{
    char other[DBK_ID_TEXT_LEN + 1];
    dbk_id junk;
    journal_seen_by_counselor(f);
    json_decref(review_json("Sam R"));
    profile_meta(f->p.counselor_home, "grants_seq", seq, 32);
    shared_stream_of(f, f->p.client_id, sid);
    randombytes_buf(junk.b, sizeof junk.b);
    dbk_id_to_text(&junk, other);
    snprintf(body, 512, "{\"clients\":[{\"account\":\"%s\",\"grant_state\":\"active\"}]}",
             f->p.client_id);
    long long at = (long long)time(NULL) * 1000 - 60000;
    snprintf(one, 600,
             "{\"stream\":\"%s\",\"owner\":\"%s\",\"grantee\":\"%s\",\"epoch\":1,"
             "\"created_at\":1,\"expires_at\":0,\"state\":\"revoked\",\"revoked_at\":%lld}",
             sid, f->p.client_id, f->p.counselor_id, at);
    snprintf(bad, 600,
             "{\"stream\":\"%s\",\"owner\":\"%s\",\"grantee\":\"%s\",\"epoch\":1,"
             "\"created_at\":1,\"expires_at\":0,\"state\":\"active\",\"grant\":\"AAAA\"}",
             other, f->p.client_id, f->p.counselor_id);
}

/* Whether a review's or row's data and withheld say "current, nothing withheld" with
 * no doubt: not stale, no record withheld, cannot_tell false. */
static bool
all_clear(const json_t *data, const json_t *withheld)
{
    return json_is_false(json_object_get(data, "stale")) &&
           json_integer_value(json_object_get(withheld, "records")) < 1 &&
           !json_is_true(json_object_get(withheld, "cannot_tell"));
}

/*
 * A brand-new client's stream withheld whole. Alex enrolls, writes risk language and
 * syncs (the journal and the stream head Alex's device signed); the server hands the
 * counselor Alex's grant and answers Alex's stream once in every pull, "nothing new, no
 * more", every record dropped. With no head of Alex's seen, an empty journal and one
 * withheld whole look the same: the review and the caseload (JSON and text, what stdout
 * keeps) must say this device cannot tell, never "current, nothing withheld". Counted:
 * forms that call Alex's data current and say nothing of it (leaked). Sam, whose head
 * the counselor holds, must not be said so (false alarms); nor may Alex's own sync warn
 * of Alex's own streams, nor the counselor's sync text cry wolf (its JSON counts it).
 */
static void
test_new_stream_withheld_whole_is_said(void **state)
{
    struct fx *f = *state;
    char alex[4300], aid[DBK_ID_TEXT_LEN + 1];
    struct liar l = {0};
    int leaked = 0, false_alarm = 0, wolf = 0;

    alex_behind_relay(f, alex, aid, &l, 4);
    json_t *al = review_json("Alex");
    const json_t *w = json_object_get(al, "withheld");
    leaked += all_clear(json_object_get(al, "data"), w);
    json_decref(al);
    dbk_run_result r = tc_cli("review", "Alex", NULL);
    leaked += !contains(r.out, "!! Data as of") && !says(r.out, "this device cannot tell");
    dbk_run_result_free(&r);
    json_t *cl = cli_json("--json", "clients", NULL);
    w = json_object_get(client_row(cl, "Alex", NULL), "withheld");
    leaked += all_clear(row_data(cl, aid), w);
    w = json_object_get(client_row(cl, "Sam R", NULL), "withheld");
    false_alarm += json_is_true(json_object_get(w, "cannot_tell")) ||
                   json_is_true(json_object_get(w, "none_seen"));
    json_decref(cl);
    r = tc_cli("clients", NULL);
    leaked += !contains(r.out, "STALE") && !contains(r.out, "CANNOT TELL");
    dbk_run_result_free(&r);
    json_t *sam = review_json("Sam R");
    false_alarm += json_is_true(json_object_get(json_object_get(sam, "withheld"), "cannot_tell"));
    json_decref(sam);
    json_t *sy = cli_json("--json", "sync", NULL);
    long long unseen =
        json_integer_value(json_object_get(json_object_get(sy, "withheld"), "streams_unseen"));
    json_decref(sy);
    r = tc_cli("sync", NULL);
    wolf += contains(r.err, "cannot tell");
    dbk_run_result_free(&r);
    int out = l.relayed_out;
    liar_stop(&l);
    counselor_asks(f, NULL);
    as(alex);
    r = tc_cli("sync", NULL);
    wolf += r.status != 0 || contains(r.err, "cannot tell");
    dbk_run_result_free(&r);
    sy = cli_json("--json", "sync", NULL);
    wolf +=
        json_integer_value(json_object_get(json_object_get(sy, "withheld"), "streams_unseen")) != 0;
    json_decref(sy);
    as(f->p.counselor_home);
    dbk_report("malicious server: a new client's stream withheld whole",
               "a client enrolls, writes risk language and syncs; the server gives the "
               "counselor the client's grant and answers the client's stream with nothing "
               "new, every record and the signed stream head dropped; the counselor reviews "
               "the client and lists the caseload (JSON and text)",
               "forms that call the client's data current, nothing withheld, and do not say "
               "this device cannot tell (leaked): %d of 4; honest client said so (false "
               "alarms): %d of 2; syncs crying wolf: %d of 3; streams unseen in the "
               "counselor's sync JSON: %lld; pulls: %d",
               leaked, false_alarm, wolf, unseen, out);
    assert_true(out >= 4);
    assert_int_equal(leaked, 0);
    assert_int_equal(false_alarm, 0);
    assert_int_equal(wolf, 0);
    assert_int_equal(unseen, 1);
}

/*
 * The review's "still ended" branch: the grants say revoked while the caseload says
 * active. The server refuses Sam's stream in the pull, its grants list Sam's grant
 * revoked, and its caseload lists Sam as sharing. The review (and `clients`) fetches
 * the grants again, finds the reading still ended and must say so: stderr (this device
 * stopped reading Sam, yet the server lists them as sharing), data not current
 * ("pulled":false, "stale":true, "reading_ended_at"), !! DATA AS OF in the text, the
 * row's STALE AS OF. Then the grants fetched again hold one this device refuses
 * (bytes that are no grant): the review and `clients` must warn of it themselves
 * (stderr, "refused_grants"), as 'daybook sync' does. Counted: forms that call the data
 * current or do not say why (leaked), refusals not warned.
 */
static void
test_still_ended_is_said(void **state)
{
    struct fx *f = *state;
    char seq[32], sid[DBK_ID_TEXT_LEN + 1], body[512], grants[2][2048], one[600], bad[600];
    struct liar l = {0};
    int leaked = 0, unwarned = 0;

    ended_scene(f, seq, sid, body, one, bad);
    snprintf(grants[0], sizeof grants[0], "{\"grants\":[%s],\"grants_seq\":%s}", one, seq);
    snprintf(grants[1], sizeof grants[1], "{\"grants\":[%s,%s],\"grants_seq\":%s}", one, bad, seq);
    l.one = l.whole = (struct answer){200, body};
    l.grants = (struct answer){200, grants[0]};
    l.grants_seq = strtoll(seq, NULL, 10);
    l.sync = "forbid_one";
    snprintf(l.fail_stream, sizeof l.fail_stream, "%s", sid);
    liar_start(&l);
    counselor_asks(f, &l);

    /* The reading ends in the review's own pull and stays ended when looked at again. */
    dbk_run_result r = tc_cli("--json", "review", "Sam R", NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    const json_t *d = json_object_get(j, "data");
    if (r.status != 0 || !json_is_false(json_object_get(d, "pulled")) ||
        !json_is_true(json_object_get(d, "stale")) ||
        !json_is_integer(json_object_get(d, "reading_ended_at")) ||
        !contains(r.err, "stopped reading")) {
        fprintf(stderr, "review, still ended: exit %d: %s%s\n", r.status, r.out, r.err);
        leaked++;
    }
    json_decref(j);
    dbk_run_result_free(&r);
    r = tc_cli("review", "Sam R", NULL);
    leaked +=
        r.status != 0 || !contains(r.out, "!! DATA AS OF") || !contains(r.err, "stopped reading");
    dbk_run_result_free(&r);
    r = tc_cli("--json", "clients", NULL);
    j = json_loads(r.out, 0, NULL);
    d = j != NULL ? row_data(j, f->p.client_id) : NULL;
    if (r.status != 0 || !json_is_true(json_object_get(d, "stale")) ||
        !has_flag(client_row(j, "Sam R", NULL), "STALE AS OF") ||
        !json_is_true(json_object_get(json_object_get(j, "data"), "stale")) ||
        !contains(r.err, "stopped reading")) {
        fprintf(stderr, "clients, still ended: exit %d: %s%s\n", r.status, r.out, r.err);
        leaked++;
    }
    json_decref(j);
    dbk_run_result_free(&r);

    /* The grants fetched again hold one this device refuses: each command says so. */
    l.grants = (struct answer){200, grants[1]};
    r = tc_cli("--json", "review", "Sam R", NULL);
    j = json_loads(r.out, 0, NULL);
    if (!contains(r.err, "key grant(s) this device refused") ||
        json_integer_value(json_object_get(json_object_get(j, "data"), "refused_grants")) < 1) {
        fprintf(stderr, "review, a grant refused: exit %d: %s%s\n", r.status, r.out, r.err);
        unwarned++;
    }
    json_decref(j);
    dbk_run_result_free(&r);
    r = tc_cli("clients", NULL);
    unwarned += !contains(r.err, "key grant(s) this device refused");
    dbk_run_result_free(&r);
    liar_stop(&l);
    counselor_asks(f, NULL);
    dbk_report("malicious server: the grants say revoked while the caseload says active",
               "the server refuses the client's stream, lists its grant revoked and the client "
               "as sharing; the counselor reviews (JSON, text) and lists the caseload; then the "
               "grants fetched again hold bytes that are no grant",
               "forms that call the data current or do not say the reading ended (leaked): %d "
               "of 3; commands that do not warn of the grant refused: %d of 2",
               leaked, unwarned);
    assert_int_equal(leaked, 0);
    assert_int_equal(unwarned, 0);
}

/*
 * The review's pull ends a reading and refuses a key grant; the grants fetched again
 * undo the end and the review pulls again. The server moves its grants_seq, refuses
 * the client's stream in each pull, and answers the pull's grants with the client's
 * grant listed revoked beside bytes that are no grant (refused); the grants fetched
 * again are the real server's (the grant active: the end undone). The review's JSON
 * "data" must count the first pull's refused grant, which stderr said, not the second
 * pull's alone. Counted: the refused grants the JSON gives.
 */
static void
test_pull_again_keeps_the_first_refusals(void **state)
{
    struct fx *f = *state;
    char seq[32], sid[DBK_ID_TEXT_LEN + 1], body[512], grants[2048], one[600], bad[600];
    struct liar l = {0};

    ended_scene(f, seq, sid, body, one, bad);
    l.grants_seq = strtoll(seq, NULL, 10) + 1;
    snprintf(grants, sizeof grants, "{\"grants\":[%s,%s],\"grants_seq\":%lld}", one, bad,
             l.grants_seq);
    l.one = l.whole = (struct answer){200, body};
    l.grants = (struct answer){200, grants};
    l.real_port = atoi(strrchr(f->srv.base_url, ':') + 1);
    l.sync = "forbid_one";
    snprintf(l.fail_stream, sizeof l.fail_stream, "%s", sid);
    liar_start(&l);
    counselor_asks(f, &l);
    dbk_run_result r = tc_cli("--json", "review", "Sam R", NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    json_int_t counted =
        json_integer_value(json_object_get(json_object_get(j, "data"), "refused_grants"));
    bool said = contains(r.err, "key grant(s) this device refused");
    int asked = l.asked_grants, pulls = l.asked_sync;
    if (counted < 1)
        fprintf(stderr, "review, pulled again: exit %d: %s%s\n", r.status, r.out, r.err);
    json_decref(j);
    dbk_run_result_free(&r);
    liar_stop(&l);
    counselor_asks(f, NULL);
    dbk_report("malicious server: a reading ended and undone in the review",
               "the review's pull refuses the client's stream and a key grant; the grants "
               "fetched again (the real server's) undo the end and the review pulls again",
               "grants asked for: %d (2 or more), pulls: %d (2 or more), refused grant said on "
               "stderr: %s, "
               "counted in the JSON data: %lld (1)",
               asked, pulls, said ? "yes" : "no", (long long)counted);
    assert_true(asked >= 2);
    assert_true(pulls >= 2);
    assert_true(said);
    assert_int_equal(counted, 1);
}

/*
 * A server that refuses the client's stream once, as if the client had revoked, while
 * its grants and caseload still say the client shares (grants_seq unchanged). The
 * counselor's review meets the refusal in its pull; then the server answers honestly
 * again and the client logs a lapse. The counselor's next review must show the lapse,
 * or say loudly that it cannot: one refusal from the server must not stop this device
 * pulling a client who still shares, with reviews that call themselves current.
 * Counted: reviews that miss the lapse and call their data current (leaked).
 */
static void
test_one_refusal_does_not_stop_the_pull(void **state)
{
    struct fx *f = *state;
    char seq[32], body[512];
    struct liar l = {0};
    int leaked = 0;

    journal_seen_by_counselor(f);
    json_decref(review_json("Sam R"));
    profile_meta(f->p.counselor_home, "grants_seq", seq, sizeof seq);
    snprintf(body, sizeof body, "{\"clients\":[{\"account\":\"%s\",\"grant_state\":\"active\"}]}",
             f->p.client_id);
    l.one = l.whole = (struct answer){200, body};
    l.grants_seq = strtoll(seq, NULL, 10);
    l.sync = "forbidden";
    liar_start(&l);
    counselor_asks(f, &l);
    dbk_run_result r = tc_cli("--json", "review", "Sam R", NULL);
    dbk_run_result_free(&r);
    liar_stop(&l);
    counselor_asks(f, NULL);

    as(f->p.client_home);
    tc_ok(tc_cli("craving", "--intensity", "9", "--outcome", "used", "--used-what", "heroin", NULL),
          "lapse");
    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->p.counselor_home);
    for (int i = 0; i < 2; i++)
        leaked += tc_review_misses_lapse("Sam R", i);
    dbk_report("malicious server: one refusal of the client's stream",
               "the server refuses the client's stream once in a review's pull (grants and "
               "caseload still active); the client then logs a lapse; the counselor reviews "
               "twice against the honest server",
               "reviews that miss the lapse and call their data current (leaked): %d of 2",
               leaked);
    assert_int_equal(leaked, 0);
}

/* Marks every grant of the counselor revoked on the server's own database (server
 * stopped), as a malicious server would: no request of the client's. */
static void
server_revokes_alone(struct fx *f)
{
    char sql[256], hex[2 * DBK_ID_BYTES + 1];
    dbk_id co;

    assert_int_equal(dbk_id_from_text(&co, f->p.counselor_id, strlen(f->p.counselor_id)), 0);
    sodium_bin2hex(hex, sizeof hex, co.b, DBK_ID_BYTES);
    snprintf(sql, sizeof sql, "UPDATE grants SET revoked_at = %lld WHERE grantee = x'%s';",
             (long long)time(NULL) * 1000, hex);
    assert_int_equal(dbk_server_stop(&f->srv), 0);
    assert_true(dbk_server_exec(&f->srv, sql) >= 1);
    assert_int_equal(dbk_server_restart(&f->srv, NULL), 0);
}

/* What the counselor is told of Sam's end: *signed_claims counts each place that says
 * the client signed it (the review's refusal, the row's flag, the row's JSON; the
 * tests add the sync that learnt the end);
 * *server_said each that says it is the server's word alone. The review is refused
 * either way. */
static void
end_as_told(int *signed_claims, int *server_said)
{
    dbk_run_result r = tc_cli("review", "Sam R", NULL);
    assert_int_equal(r.status, 1);
    must_contain(r.err, "no review is made");
    assert_int_equal(strlen(r.out), 0);
    *signed_claims += contains(r.err, "(signed by the client)");
    *server_said +=
        contains(r.err, "the server says") && contains(r.err, "not signed by the client");
    dbk_run_result_free(&r);
    json_t *cl = cli_json("--json", "clients", NULL);
    const json_t *row = client_row(cl, "Sam R", NULL);
    assert_true(has_flag(row, "ACCESS REVOKED"));
    *signed_claims += has_flag(row, "SIGNED BY CLIENT") && !has_flag(row, "NOT SIGNED BY CLIENT");
    *signed_claims += json_is_true(json_object_get(row, "end_signed"));
    *server_said += has_flag(row, "SERVER'S WORD, NOT SIGNED BY CLIENT");
    *server_said += json_is_false(json_object_get(row, "end_signed"));
    json_decref(cl);
}

/*
 * A counselor's "revoked" rests on the client's signature when there is one (proto/
 * TRUST.md T8). (a) The client revokes through an honest server: its device first sends
 * the counselor a grant of the same epoch ending a moment later, signed, so the review's
 * refusal, the caseload's row and its JSON say the client ended it (signed). What the
 * client writes afterwards never reaches the counselor, as before.
 */
static void
test_end_signed_by_client(void **state)
{
    struct fx *f = *state;
    char prefix[16];
    int signed_claims = 0, server_said = 0;
    dbk_run_result r;

    as(f->p.client_home);
    tc_ok(tc_cli("journal", "-m", "a quiet day", NULL), "journal");
    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->p.counselor_home);
    json_decref(review_json("Sam R")); /* shared, and reviewed */
    as(f->p.client_home);
    snprintf(prefix, sizeof prefix, "%.8s", f->p.counselor_id);
    tc_ok(tc_cli("revoke", prefix, "--yes", NULL), "client revokes");
    tc_ok(tc_cli("craving", "--intensity", "9", "--outcome", "used", "--used-what", "heroin", NULL),
          "lapse after the revoke");
    tc_ok(tc_cli("sync", NULL), "client sync after the revoke");

    as(f->p.counselor_home);
    r = tc_cli("--json", "sync", NULL); /* an honest end is no refused grant */
    json_t *j = json_loads(r.out, 0, NULL);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "refused"), "replaced_grants")), 0);
    const json_t *ended = json_array_get(json_object_get(j, "ended"), 0);
    assert_string_equal(json_string_value(json_object_get(ended, "reason")), "revoked");
    signed_claims += json_is_true(json_object_get(ended, "end_signed"));
    json_decref(j);
    dbk_run_result_free(&r);
    end_as_told(&signed_claims, &server_said);
    r = tc_cli("review", "Sam R", NULL);
    must_contain(r.err, "Sam R ended your access to their records on");
    dbk_run_result_free(&r);
    r = tc_cli("clients", NULL);
    must_contain(r.out, "SIGNED BY CLIENT");
    assert_false(contains(r.out, "NOT SIGNED BY CLIENT"));
    dbk_run_result_free(&r);
    dbk_report("signed end: honest server",
               "the client revokes the counselor; the counselor syncs, reviews, lists clients",
               "places saying the end is signed by the client: %d of 4; the server's word: %d",
               signed_claims, server_said);
    assert_int_equal(signed_claims, 4);
    assert_int_equal(server_said, 0);
}

/*
 * (b) A malicious server marks the counselor's grant revoked with no act of the
 * client's (its own database edited): the counselor is refused the review as before,
 * and told the end is the server's word, not the client's signature, everywhere.
 */
static void
test_end_by_server_alone_not_signed(void **state)
{
    struct fx *f = *state;
    int signed_claims = 0, server_said = 0;

    as(f->p.client_home);
    tc_ok(tc_cli("journal", "-m", "a quiet day", NULL), "journal");
    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->p.counselor_home);
    json_decref(review_json("Sam R"));
    server_revokes_alone(f);
    as(f->p.counselor_home);
    dbk_run_result r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    must_contain(r.out, "Sam R stopped sharing on");
    signed_claims += contains(r.out, "(signed by the client)");
    server_said += contains(r.out, "(the server's word; not signed by the client)");
    dbk_run_result_free(&r);
    end_as_told(&signed_claims, &server_said);
    dbk_report("signed end: malicious server",
               "the server marks the counselor's grant revoked without the client; the counselor "
               "syncs, reviews, lists clients",
               "false claims that the client signed the end: %d (must be 0); places saying it "
               "is the server's word: %d of 4",
               signed_claims, server_said);
    assert_int_equal(signed_claims, 0);
    assert_int_equal(server_said, 4);
}

/*
 * (c) An older signed end, the later share withheld (proto/TRUST.md T8): the client
 * revokes the counselor (its device signs the end), then shares again; the server drops
 * the new grant, so the counselor's device holds the client's end as the newest grant
 * it verified. That end is the client's, but not the last word: a share signed after it
 * never reached this device. Every place that says the end is signed must say this
 * device cannot tell whether the client shared again since.
 */
static void
test_signed_end_later_share_withheld(void **state)
{
    struct fx *f = *state;
    char prefix[16], sql[400], hex[2 * DBK_ID_BYTES + 1];
    int signed_places = 0, told = 0;
    dbk_run_result r;
    dbk_id co;

    as(f->p.client_home);
    tc_ok(tc_cli("journal", "-m", "a quiet day", NULL), "journal");
    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->p.counselor_home);
    json_decref(review_json("Sam R"));
    as(f->p.client_home);
    snprintf(prefix, sizeof prefix, "%.8s", f->p.counselor_id);
    tc_ok(tc_cli("revoke", prefix, "--yes", NULL), "client revokes");
    tc_ok(tc_cli("share", prefix, "--yes", NULL), "client shares again");
    tc_ok(tc_cli("sync", NULL), "client sync after sharing again");
    /* The share again withheld: its grant (the client's stream's, not revoked) dropped. */
    assert_int_equal(dbk_id_from_text(&co, f->p.counselor_id, strlen(f->p.counselor_id)), 0);
    sodium_bin2hex(hex, sizeof hex, co.b, DBK_ID_BYTES);
    snprintf(sql, sizeof sql,
             "DELETE FROM grants WHERE grantee = x'%s' AND revoked_at = 0 AND stream IN "
             "(SELECT id FROM streams WHERE owner != x'%s');",
             hex, hex);
    assert_int_equal(dbk_server_stop(&f->srv), 0);
    assert_true(dbk_server_exec(&f->srv, sql) >= 1);
    assert_int_equal(dbk_server_restart(&f->srv, NULL), 0);

    as(f->p.counselor_home);
    r = tc_cli("sync", NULL);
    signed_places += contains(r.out, "(signed by the client)");
    told += contains(r.out, "(signed by the client)") && contains(r.out, "cannot tell");
    dbk_run_result_free(&r);
    r = tc_cli("review", "Sam R", NULL);
    signed_places += contains(r.err, "(signed by the client)");
    told += contains(r.err, "(signed by the client)") && contains(r.err, "cannot tell");
    dbk_run_result_free(&r);
    json_t *cl = cli_json("--json", "clients", NULL);
    const json_t *row = client_row(cl, "Sam R", NULL);
    signed_places += json_is_true(json_object_get(row, "end_signed"));
    told += json_is_true(json_object_get(row, "end_signed")) &&
            json_is_true(json_object_get(row, "later_share_cannot_tell"));
    json_decref(cl);
    dbk_report("signed end: the later share withheld",
               "the client revokes the counselor, then shares again; the server drops the new "
               "grant; the counselor syncs, reviews, lists clients",
               "places saying the end is signed by the client: %d of 3; of them, saying this "
               "device cannot tell whether the client shared again since: %d; signed ends "
               "shown as the last word (leaked): %d",
               signed_places, told, signed_places - told);
    assert_int_equal(signed_places, 3);
    assert_int_equal(signed_places - told, 0);
}

/*
 * The grants asked for again in a sync (grants_seq moved) over a slow server: the GET
 * is held until the test lets it go. Meanwhile the client writes a journal entry from a
 * second process, which must not wait for the sync's network round trip: the grants are
 * fetched outside the sync answer's write transaction (held under it, the entry waits
 * out the profile's busy timeout and fails). Counted: whether the entry was saved while
 * the sync still waited; the sync must still end well once the GET is answered.
 */
static void
test_slow_grants_do_not_block_writes(void **state)
{
    struct fx *f = *state;
    struct liar l = {.relay_port = f->srv.port, .grants_delay_ms = 120000};
    char url[128], sql[300];

    as(f->p.client_home);
    tc_ok(tc_cli("sync", NULL), "first sync");
    liar_start(&l);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", l.port);
    snprintf(sql, sizeof sql,
             "UPDATE meta SET value = CAST('%s' AS BLOB) WHERE key = 'server';"
             "DELETE FROM meta WHERE key = 'grants_seq';",
             url);
    profile_stamp(f->p.client_home, sql);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1), dup2(null, 2);
        execl(dbk_bin("DAYBOOK"), "daybook", "sync", (char *)NULL);
        _exit(127);
    }
    for (int w = 0; w < 20000 && !l.grants_held; w += 20)
        poll(NULL, 0, 20);
    bool held = l.grants_held;
    dbk_run_result j = tc_cli("journal", "-m", "Wrote while the sync waited.", NULL);
    bool waiting = waitpid(pid, NULL, WNOHANG) == 0; /* the GET is still held */
    l.grants_release = true;
    int synced = dbk_wait_pid(pid, 60000);
    liar_stop(&l);
    dbk_report("slow server: GET /v1/grants held while a sync waits on it",
               "the client syncs with grants_seq moved, so the sync asks for the grants; "
               "the server holds that GET; meanwhile the client writes a journal entry",
               "the entry's exit status: %d (the sync still waiting: %s); the sync's exit "
               "status once the GET was answered: %d",
               j.status, waiting ? "yes" : "no", synced);
    assert_true(held);
    assert_true(waiting);
    assert_int_equal(j.status, 0);
    assert_int_equal(synced, 0);
    dbk_run_result_free(&j);
}

/*
 * A refusal the grants could not be asked about. The counselor reads Sam; the server
 * (grants_seq unmoved) refuses the pull of Sam's stream as if the grant had ended and
 * answers GET /v1/grants with 503, so the sync cannot check the refusal against the
 * grants and fails. The counselor then syncs with the honest server, where Sam's grant
 * is active: that sync must ask again. Counted: the end marked by the refusal alone
 * still there after the honest sync (the stream no longer pulled, the reading told as
 * ended, with no new grants_seq to look again).
 */
static void
test_refusal_unchecked_is_asked_again(void **state)
{
    struct fx *f = *state;
    char seq[32], key[64], end[32];
    struct liar l = {.sync = "forbid_one"};

    journal_seen_by_counselor(f);
    profile_meta(f->p.counselor_home, "grants_seq", seq, sizeof seq);
    l.grants_seq = strtoll(seq, NULL, 10);
    shared_stream_of(f, f->p.client_id, l.fail_stream);
    liar_start(&l);
    counselor_asks(f, &l);
    dbk_run_result r = tc_cli("sync", NULL);
    int first = r.status, asked = l.asked_sync, grants_asked = l.grants_gets;
    dbk_run_result_free(&r);
    liar_stop(&l);
    counselor_asks(f, NULL);
    r = tc_cli("sync", NULL);
    int second = r.status;
    dbk_run_result_free(&r);
    snprintf(key, sizeof key, "stream_end:%s", l.fail_stream);
    profile_meta(f->p.counselor_home, key, end, sizeof end);
    int leaked = end[0] != '\0' && strcmp(end, "0") != 0;
    dbk_report("malicious server: a pull refused as ended, the grants not answered",
               "the counselor syncs; the server refuses the client's stream as if the grant "
               "had ended and answers GET /v1/grants with 503; the counselor syncs again "
               "with the honest server, the grant active",
               "syncs the server refused it in: %d; grants asked (503) in it: %d; the first "
               "sync's exit status: %d; the second's: %d; the reading still marked ended "
               "after it (leaked): %d of 1",
               asked, grants_asked, first, second, leaked);
    assert_true(asked >= 1);
    assert_true(grants_asked >= 1); /* the refusal could not be checked: the case tested */
    assert_int_not_equal(first, 0);
    assert_int_equal(second, 0);
    assert_int_equal(leaked, 0);
}

/* What the counselor's review and caseload say of Sam's reading after a pull refused as
 * ended whose grants could not be asked about: neither ended nor current. Returns the
 * forms that say otherwise (leaked). */
static int
refused_unchecked_said(struct fx *f)
{
    int leaked = 0;
    dbk_run_result r = tc_cli("--json", "review", "Sam R", NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    const json_t *d = json_object_get(j, "data");
    if (r.status != 0 || !json_is_false(json_object_get(d, "pulled")) ||
        !json_is_true(json_object_get(d, "stale")) ||
        json_object_get(d, "reading_ended_at") != NULL || contains(r.err, "stopped reading")) {
        fprintf(stderr, "review, refusal unchecked: exit %d: %s%s\n", r.status, r.out, r.err);
        leaked++;
    }
    json_decref(j);
    dbk_run_result_free(&r);
    r = tc_cli("review", "Sam R", NULL);
    leaked += r.status != 0 || !contains(r.out, "!! D") || contains(r.err, "stopped reading");
    dbk_run_result_free(&r);
    r = tc_cli("--json", "clients", NULL);
    j = json_loads(r.out, 0, NULL);
    d = j != NULL ? row_data(j, f->p.client_id) : NULL;
    if (r.status != 0 || !json_is_true(json_object_get(d, "stale")) ||
        contains(r.err, "stopped reading")) {
        fprintf(stderr, "clients, refusal unchecked: exit %d: %s%s\n", r.status, r.out, r.err);
        leaked++;
    }
    json_decref(j);
    dbk_run_result_free(&r);
    return leaked;
}

/*
 * A refusal the grants could not be asked about, as the review and the caseload say it.
 * The counselor reads Sam; the server (grants_seq unmoved, Sam listed as sharing)
 * refuses the pull of Sam's stream as if the grant had ended and answers GET
 * /v1/grants with 503 in every pull the review and `clients` make. Sam's data must be
 * said not current, and the reading not ended on the refusal alone (the stream still
 * asked for, marked not pulled). Then Sam really revokes (signed), the grants are
 * answered (the honest server), and the review must say the reading ended. Counted:
 * forms that call the data current or say the reading ended while unchecked, or
 * miss the end once the grants say it (leaked).
 */
static void
test_refusal_unchecked_not_ended(void **state)
{
    struct fx *f = *state;
    char seq[32], key[64], end[32], unpulled[32], body[512], prefix[16];
    struct liar l = {.sync = "forbid_one"};
    int leaked = 0;

    journal_seen_by_counselor(f);
    profile_meta(f->p.counselor_home, "grants_seq", seq, sizeof seq);
    snprintf(body, sizeof body, "{\"clients\":[{\"account\":\"%s\",\"grant_state\":\"active\"}]}",
             f->p.client_id);
    l.one = l.whole = (struct answer){200, body};
    l.grants_seq = strtoll(seq, NULL, 10);
    shared_stream_of(f, f->p.client_id, l.fail_stream);
    liar_start(&l);
    counselor_asks(f, &l);
    leaked += refused_unchecked_said(f);
    int asked = l.asked_sync, grants_asked = l.grants_gets;
    liar_stop(&l);
    counselor_asks(f, NULL);
    snprintf(key, sizeof key, "stream_end:%s", l.fail_stream);
    profile_meta(f->p.counselor_home, key, end, sizeof end);
    leaked += end[0] != '\0' && strcmp(end, "0") != 0;
    snprintf(key, sizeof key, "stream_unpulled:%s", l.fail_stream);
    profile_meta(f->p.counselor_home, key, unpulled, sizeof unpulled);
    leaked += unpulled[0] == '\0';

    as(f->p.client_home);
    snprintf(prefix, sizeof prefix, "%.8s", f->p.counselor_id);
    tc_ok(tc_cli("revoke", prefix, "--yes", NULL), "client revokes");
    tc_ok(tc_cli("sync", NULL), "client sync after the revoke");
    as(f->p.counselor_home);
    dbk_run_result r = tc_cli("review", "Sam R", NULL);
    leaked += r.status != 1 || !contains(r.err, "Sam R ended your access to their records on") ||
              !contains(r.err, "(signed by the client)");
    dbk_run_result_free(&r);
    snprintf(key, sizeof key, "stream_end:%s", l.fail_stream);
    profile_meta(f->p.counselor_home, key, end, sizeof end);
    leaked += end[0] == '\0' || strcmp(end, "0") == 0;
    json_t *cl = cli_json("--json", "clients", NULL);
    leaked += !has_flag(client_row(cl, "Sam R", NULL), "ACCESS REVOKED");
    json_decref(cl);
    dbk_report("malicious server: a pull refused as ended, the grants not answered, reviewed",
               "the server refuses the client's stream as if the grant had ended and answers "
               "GET /v1/grants with 503; the counselor reviews (JSON, text) and lists the "
               "caseload; then the client revokes (signed) and the counselor reviews against "
               "the honest server",
               "pulls refused: %d; grants asked (503): %d; forms calling the data current or "
               "the reading ended on the refusal alone, marks missing, or the signed end "
               "not said (leaked): %d of 9",
               asked, grants_asked, leaked);
    assert_true(asked >= 3);
    assert_true(grants_asked >= 3); /* the refusal could not be checked: the case tested */
    assert_int_equal(leaked, 0);
}

/* Seconds of CPU (user and system) in ru. */
static double
cpu_s(const struct rusage *ru)
{
    return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
           (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
}

/* The minor page faults of one `daybook --json sync` (its pages first touched: the
 * memory it wrote), read from this process's reaped children; its exit code in *status,
 * its CPU seconds in *cpu (said, never asserted). */
static long
sync_faults(int *status, double *cpu)
{
    struct rusage before, after;
    assert_int_equal(getrusage(RUSAGE_CHILDREN, &before), 0);
    dbk_run_result r = tc_cli("--json", "sync", NULL);
    assert_int_equal(getrusage(RUSAGE_CHILDREN, &after), 0);
    *status = r.status;
    *cpu = cpu_s(&after) - cpu_s(&before);
    dbk_run_result_free(&r);
    return after.ru_minflt - before.ru_minflt;
}

/*
 * A large answer is read in work that grows with its size, not with its square. The
 * counselor syncs against a server that answers every stream "nothing new", once as
 * is and once padded with 12 MiB (a field no client reads; a cold sync's pages are 4
 * MiB of records, and a server may send up to the client's 64 MiB cap). The memory
 * the sync writes is counted as the pages it first touches (minor faults, a count, not
 * a time): reading the padded answer touches some 3 pages a page of it (the answer grown
 * by doubling, parsed, wiped; 16 allowed, for other allocators: a sanitizer's), not the
 * 400 that copying it whole for each 16 KiB libcurl hands over made (some 1.2 million
 * faults and 2.2 s of CPU here; a 64 MiB answer 97 s).
 */
static void
test_large_answer_read_in_linear_work(void **state)
{
    struct fx *f = *state;
    char seq[32];
    struct liar l = {.sync = "fail_one"}; /* fail_stream "": every stream "nothing new" */
    int small_rc, big_rc;
    double small_cpu, big_cpu;

    journal_seen_by_counselor(f);
    profile_meta(f->p.counselor_home, "grants_seq", seq, sizeof seq);
    l.grants_seq = strtoll(seq, NULL, 10);
    liar_start(&l);
    counselor_asks(f, &l);
    long small = sync_faults(&small_rc, &small_cpu);
    int asked = l.asked_sync;
    l.pad = (size_t)12 << 20;
    long big = sync_faults(&big_rc, &big_cpu);
    int asked_big = l.asked_sync - asked;
    liar_stop(&l);
    counselor_asks(f, NULL);
    long pages = (long)(l.pad / 4096), more = big - small;
    dbk_report("malicious server: a 12 MiB answer",
               "the counselor syncs against a server answering every stream 'nothing new', "
               "as is and padded with 12 MiB; the sync's minor page faults (wait4)",
               "as is: %ld faults, %.2f s CPU (exit %d); padded: %ld, %.2f s (exit %d); %ld "
               "faults more for %ld pages of padding (at most 16 per page)",
               small, small_cpu, small_rc, big, big_cpu, big_rc, more, pages);
    assert_true(asked >= 1 && asked_big >= 1);
    assert_int_equal(small_rc, 0);      /* the sync ran, its answer read */
    assert_int_equal(big_rc, small_rc); /* the padded answer read as the other */
    assert_true(more <= 16 * pages);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_session_done_asks_and_undoes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_passphrase_keeps_the_craving, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clinical_records_are_flagged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caseload_scenarios, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_client_reviewed_without_a_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crisis_card_shows_the_safety_plan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enrolled_three_days_ago, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rm_says_the_counselor_read_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_older_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_keeps_head_marks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_mark_not_kept_is_said, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_mark_unreadable_is_said, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pin_unreadable_is_said, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pin_unreadable_not_repinned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_confirmation_unreadable_is_said, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caseload_row_lies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pull_not_answered_is_not_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_refusal_does_not_stop_the_pull, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_per_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_never_pulled_is_as_of_never, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_page_only_is_as_of_never, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_pull_refused_is_as_of_never, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answered_twice_is_not_silent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_stream_withheld_whole_is_said, setup, teardown),
        cmocka_unit_test_setup_teardown(test_still_ended_is_said, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pull_again_keeps_the_first_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entry_dated_after_the_counselors_today, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_end_signed_by_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_by_server_alone_not_signed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signed_end_later_share_withheld, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_grants_do_not_block_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusal_unchecked_is_asked_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusal_unchecked_not_ended, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_answer_read_in_linear_work, setup, teardown),
    };
    if (dbk_init() != 0)
        return 1;
    if (getenv("DAYBOOK_TEST_FILTER") != NULL) /* one test by name, when working on it */
        cmocka_set_test_filter(getenv("DAYBOOK_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
