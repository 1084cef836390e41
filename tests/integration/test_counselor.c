/*
 * The counselor's side with the real CLIs against a real daybookd: clients,
 * review (JSON, text, HTML), session done, note; the client's access and
 * revoke, after which the counselor's review fails and new entries are under a
 * key the counselor was never granted.
 *
 * A deterministic generator (a seeded xorshift PRNG) makes a 90-day client
 * history ending today: cravings on most days (both intensity scales) whose
 * intensities drift down over the weeks, triggers, HALT and coping from small
 * vocabularies, a few ending in use, a quiet stretch with no entries, journal
 * entries a few times a week, and checklist items checked on most days in
 * streaks. It is logged through `daybook craving --at`, `journal --at` and
 * `check/uncheck --date` (today's entries without them). Every figure of
 * `review --format json` is checked against values this file computes from the
 * generator's own table, for the default 7 days, the last 14 days and the whole
 * 90 days, and the text output is checked for the same figures.
 *
 * The HTML report is written to $DAYBOOK_ARTIFACTS/review.html with the figures
 * the browser check expects (expected.txt); tests/integration/counselor_html.sh
 * opens it in headless Chromium.
 */
#include "tc.h"

#include "dbk/init.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#define SEED 0x5EED2025C0FFEEULL
#define N_DAYS 90 /* day index N_DAYS - 1 is today */
#define TODAY (N_DAYS - 1)
#define MAX_CRAVINGS 400
#define MAX_JOURNALS 80
#define CANARY "POST-REVOKE-CANARY-91c2"

/* ---- the generator ---- */

static uint64_t rng;

static uint32_t
next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static uint32_t
pick(uint32_t n)
{
    return next() % n;
}

static const char *const kinds[] = {"people", "places", "emotions", "times"};
static const char *const values[4][3] = {
    {"old using friend", "my brother", "coworker"},
    {"bar on 5th", "home alone", "payday"},
    {"bored", "anxious", "lonely at night"},
    {"friday night", "after work", "sunday"},
};
static const char *const halts[] = {"hungry", "angry", "lonely", "tired"};
static const char *const copings[] = {"urge_surfing", "call_support", "distraction",
                                      "recall_consequences", "exercise"};
static const char *const substances[] = {"alcohol", "cannabis", "opioids"};
/* The checklist: Daybook's 11 default items; the client ticks the first NCK. */
#define NCK 5
#define N_DEFAULT_ITEMS 11
static const char *const items[N_DEFAULT_ITEMS] = {
    "exercise",           "journaling",  "called_support",   "mindfulness",
    "slept_enough",       "regular_meals", "attended_treatment", "practised_coping_skill",
    "took_medication",    "avoided_high_risk", "scheduled_day"};
#define UNCHECKED_ITEM "attended_treatment" /* checked, then unchecked, on some days */

struct craving {
    int day;            /* index, 0 .. TODAY */
    char at[40];        /* --at (and the expected occurred_at); "" today (logged now) */
    bool date_only;     /* --at YYYY-MM-DD */
    int value;          /* on its scale */
    bool scale100;      /* "1-100" */
    double i10;         /* on 0-10 */
    bool used;
    const char *substance;
    int ntrig;
    int tk[3], tv[3];   /* trigger kind and value indexes, distinct pairs */
    bool halt[4];
    bool coping[5];
};

struct journal {
    int day;
    char at[40]; /* as for cravings */
    bool date_only;
    char text[400];
    int mood;
};

static struct craving cr[MAX_CRAVINGS];
static struct journal jr[MAX_JOURNALS];
static int ncr, njr;
static bool ck[N_DAYS][NCK];  /* item k checked on day d */
static bool ck_rec[N_DAYS];   /* a checklist_day record exists for day d */
static bool unchecked[N_DAYS]; /* UNCHECKED_ITEM checked, then unchecked */
static time_t t0;              /* when the table was made */
static const char *const notes[] = {"Good work calling your sponsor on Friday.",
                                    "Next week: try urge surfing first & write it down."};

/* Local time h:mi on day index d (negative: before the history). */
static void
day_tm(int d, int h, int mi, struct tm *out)
{
    struct tm tm;
    time_t t;
    localtime_r(&t0, &tm);
    tm.tm_mday -= TODAY - d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = 0;
    tm.tm_isdst = -1;
    t = mktime(&tm);
    localtime_r(&t, out);
}

static void
date_of(int d, char out[11])
{
    struct tm tm;
    day_tm(d, 12, 0, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

static void
at_of(int d, int h, int mi, char out[40])
{
    struct tm tm;
    char off[8];
    day_tm(d, h, mi, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(off, sizeof off, "%z", &tm);
    snprintf(out + strlen(out), 40 - strlen(out), "%.3s:%.2s", off, off + 3);
}

static void
gen_craving(int d, int j, bool force_used)
{
    static const int hours[] = {9, 12, 16, 21};
    struct craving *c = &cr[ncr++];
    /* Stronger early on, weaker later: from about 8 down to about 3, with noise. */
    double base = 8.0 - 5.0 * d / (N_DAYS - 1);
    int i10 = (int)(base + 0.5) + (int)pick(5) - 2;

    memset(c, 0, sizeof *c);
    c->day = d;
    if (d < TODAY) {
        c->date_only = j == 1 && pick(2) == 0;
        at_of(d, hours[j], c->date_only ? 0 : (int)pick(60), c->at);
    }
    i10 = i10 < 0 ? 0 : i10 > 10 ? 10 : i10;
    c->scale100 = pick(6) == 0;
    if (c->scale100) {
        c->value = i10 * 10 + (int)pick(10) - 4;
        c->value = c->value < 1 ? 1 : c->value > 100 ? 100 : c->value;
        c->i10 = c->value / 10.0;
    } else {
        c->value = i10;
        c->i10 = c->value;
    }
    c->used = force_used || pick(40) == 0;
    c->substance = c->used && pick(3) != 0 ? substances[pick(3)] : NULL;
    c->ntrig = (int)pick(4);
    for (int t = 0; t < c->ntrig; t++) {
        bool dup;
        do {
            c->tk[t] = (int)pick(4);
            c->tv[t] = (int)pick(3);
            dup = false;
            for (int u = 0; u < t; u++)
                dup = dup || (c->tk[u] == c->tk[t] && c->tv[u] == c->tv[t]);
        } while (dup);
    }
    for (int h = 0; h < 4; h++)
        c->halt[h] = pick(3) == 0;
    for (int k = 0; k < 5; k++)
        c->coping[k] = pick(3) == 0;
}

static void
generate(void)
{
    rng = SEED;
    t0 = time(NULL);
    ncr = njr = 0;
    memset(ck, 0, sizeof ck);
    memset(ck_rec, 0, sizeof ck_rec);
    memset(unchecked, 0, sizeof unchecked);
    for (int d = 0; d < N_DAYS; d++) {
        /* A quiet stretch (days 40-43) and some other days without any entry. */
        bool quiet = (d >= 40 && d <= 43) ||
                     (d < TODAY && d != TODAY - 3 && d != 20 && pick(12) == 0);
        if (quiet)
            continue;
        int n = d == TODAY ? 2 : (int)pick(3) + (d < N_DAYS / 2);
        for (int j = 0; j < n; j++)
            gen_craving(d, j, (d == TODAY && j == 0) || (d == TODAY - 3 && j == 0) ||
                                  (d == 20 && j == 0));
        if (d == TODAY || pick(7) < 3) {
            struct journal *w = &jr[njr++];
            w->day = d;
            w->mood = 1 + (int)pick(5);
            if (d < TODAY) {
                w->date_only = pick(2) == 0;
                at_of(d, w->date_only ? 12 : 22, w->date_only ? 0 : (int)pick(60), w->at);
            }
            snprintf(w->text, sizeof w->text, "Journal %d (seed %u): ", njr - 1, pick(100000));
            if (d == TODAY) /* long enough to wrap, with markup that must stay text in HTML */
                strncat(w->text,
                        "Today was long. I noticed the urge at the bus stop and remembered what "
                        "we said about riding it out; <script>alert(1)</script> & <b>not bold</b> "
                        "it passed after twenty minutes, which surprised me a lot.",
                        sizeof w->text - strlen(w->text) - 1);
            else
                strncat(w->text, pick(2) ? "slept badly, walked to the meeting anyway."
                                         : "a calmer day; cooked dinner with my sister.",
                        sizeof w->text - strlen(w->text) - 1);
        }
        /* Items kept up in streaks: likelier the day after a day done. */
        for (int k = 0; k < NCK; k++) {
            bool prev = d > 0 && ck[d - 1][k];
            ck[d][k] = pick(100) < (prev ? 85u : 40u);
            ck_rec[d] = ck_rec[d] || ck[d][k];
        }
        /* Writing a journal entry ticks "journaling" (items[1]) that day. */
        for (int i = 0; i < njr; i++)
            if (jr[i].day == d)
                ck[d][1] = ck_rec[d] = true;
        if (d % 15 == 7 && d < TODAY)
            unchecked[d] = ck_rec[d] = true;
    }
}

/* ---- the figures, computed from the table ---- */

struct tcount {
    int kind, value, n;
};

static int
by_expected(const void *a, const void *b)
{
    const struct tcount *x = a, *y = b;
    int d;
    if (x->n != y->n)
        return y->n - x->n;
    if ((d = strcmp(kinds[x->kind], kinds[y->kind])) != 0)
        return d;
    return strcmp(values[x->kind][x->value], values[y->kind][y->value]);
}

struct ccount {
    int k, uses, resisted;
};

static int
by_uses(const void *a, const void *b)
{
    const struct ccount *x = a, *y = b;
    if (x->uses != y->uses)
        return y->uses - x->uses;
    return strcmp(copings[x->k], copings[y->k]);
}

/* The craving figures of days [from, to] (indexes; before 0 there is nothing). */
struct figs {
    int count, nused, used_idx[MAX_CRAVINGS], halt[4];
    double sum, peak;
    struct tcount tc[12];
    struct ccount cc[5];
    size_t ntc, ncc;
};

static void
figures(int from, int to, struct figs *g)
{
    memset(g, 0, sizeof *g);
    g->peak = -1;
    for (int k = 0; k < 5; k++)
        g->cc[k] = (struct ccount){k, 0, 0};
    for (int i = 0; i < ncr; i++) {
        const struct craving *c = &cr[i];
        if (c->day < from || c->day > to)
            continue;
        g->count++;
        g->sum += c->i10;
        if (c->i10 > g->peak)
            g->peak = c->i10;
        if (c->used)
            g->used_idx[g->nused++] = i;
        for (int h = 0; h < 4; h++)
            g->halt[h] += c->halt[h];
        for (int t = 0; t < c->ntrig; t++) {
            size_t k;
            for (k = 0; k < g->ntc; k++)
                if (g->tc[k].kind == c->tk[t] && g->tc[k].value == c->tv[t])
                    break;
            if (k == g->ntc)
                g->tc[g->ntc++] = (struct tcount){c->tk[t], c->tv[t], 0};
            g->tc[k].n++;
        }
        for (int k = 0; k < 5; k++)
            if (c->coping[k]) {
                g->cc[k].uses++;
                g->cc[k].resisted += !c->used;
            }
    }
    qsort(g->tc, g->ntc, sizeof *g->tc, by_expected);
    for (int k = 0; k < 5; k++)
        if (g->cc[k].uses > 0)
            g->cc[g->ncc++] = g->cc[k];
    qsort(g->cc, g->ncc, sizeof *g->cc, by_uses);
}

/* Entries on day d, of every kind the review counts. */
static int
entries_on(int d)
{
    int n = ck_rec[d];
    for (int i = 0; i < ncr; i++)
        n += cr[i].day == d;
    for (int i = 0; i < njr; i++)
        n += jr[i].day == d;
    return n;
}

/* Consecutive days up to today item k was checked (up to yesterday when not today). */
static int
streak(int k)
{
    int n = 0, d = ck[TODAY][k] ? TODAY : TODAY - 1;
    while (d >= 0 && ck[d][k])
        n++, d--;
    return n;
}

static int
item_index(const char *id)
{
    for (int k = 0; k < NCK; k++)
        if (strcmp(items[k], id) == 0)
            return k;
    return -1;
}

/* ---- fixture and CLI ---- */

struct fx {
    dbk_server srv;
    char *home;
    char cohome[4096], clhome[4096];
    char client_id[64], counselor_id[64];
};

static json_t *
cli_json(const char *what, const char *a1, ...)
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
    argv[n] = NULL;
    assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
    if (r.status != 0)
        fail_msg("%s: exit %d: %s", what, r.status, r.err);
    j = json_loads(r.out, 0, NULL);
    if (j == NULL)
        fail_msg("%s: not JSON: %s", what, r.out);
    dbk_run_result_free(&r);
    return j;
}

static void
as(const char *home)
{
    setenv("DAYBOOK_HOME", home, 1);
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char pass[4096], url[64], uri[1024];
    FILE *p;

    assert_int_equal(dbk_server_start(&f->srv, NULL), 0);
    f->home = dbk_tmpdir("counselor");
    snprintf(pass, sizeof pass, "%s/passphrase", f->home);
    p = fopen(pass, "w");
    fputs("a long test passphrase\n", p);
    fclose(p);
    setenv("DAYBOOK_PASSPHRASE_FILE", pass, 1);
    setenv("DAYBOOK_UNLOCK_SECONDS", DBK_TEST_UNLOCK_SECONDS, 1);
    snprintf(f->cohome, sizeof f->cohome, "%s/counselor", f->home);
    snprintf(f->clhome, sizeof f->clhome, "%s/client", f->home);

    /* The admin adds the counselor; the counselor enrolls and invites; the client joins. */
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
    json_t *j = cli_json("counselor init", "--json", "init", NULL);
    snprintf(f->counselor_id, sizeof f->counselor_id, "%s",
             json_string_value(json_object_get(j, "account")));
    json_decref(j);
    tc_ok(tc_cli("enroll", uri, "--yes", NULL), "counselor enroll");
    j = cli_json("invite", "--json", "invite", NULL);
    snprintf(uri, sizeof uri, "%s", json_string_value(json_object_get(j, "uri")));
    json_decref(j);

    as(f->clhome);
    j = cli_json("client init", "--json", "init", NULL);
    snprintf(f->client_id, sizeof f->client_id, "%s",
             json_string_value(json_object_get(j, "account")));
    json_decref(j);
    tc_ok(tc_cli("enroll", uri, "--yes", NULL), "client enroll");
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

/* Logs the generator's history as the client, day by day, and syncs. */
static void
log_history(struct fx *f)
{
    int ci = 0, ji = 0;
    dbk_run_result r;

    as(f->clhome);
    /* Keys cached in the kernel keyring while logging (no Argon2id per command);
     * `daybook lock` at the end leaves nothing behind. */
    setenv("DAYBOOK_UNLOCK_SECONDS", "300", 1);
    tc_ok(tc_cli("unlock", NULL), "unlock");
    for (int d = 0; d < N_DAYS; d++) {
        char date[11];
        date_of(d, date);
        for (; ci < ncr && cr[ci].day == d; ci++) {
            const struct craving *c = &cr[ci];
            const char *argv[48] = {dbk_bin("DAYBOOK"), "craving"};
            char val[8], trig[3][80], halt[40] = "";
            size_t n = 2;
            snprintf(val, sizeof val, "%d", c->value);
            argv[n++] = "--intensity";
            argv[n++] = val;
            if (c->scale100) {
                argv[n++] = "--scale";
                argv[n++] = "1-100";
            }
            argv[n++] = "--outcome";
            argv[n++] = c->used ? "used" : "resisted";
            if (c->substance) {
                argv[n++] = "--used-what";
                argv[n++] = c->substance;
            }
            for (int t = 0; t < c->ntrig; t++) {
                snprintf(trig[t], sizeof trig[t], "%s:%s", kinds[c->tk[t]],
                         values[c->tk[t]][c->tv[t]]);
                argv[n++] = "--trigger";
                argv[n++] = trig[t];
            }
            for (int h = 0; h < 4; h++)
                if (c->halt[h]) {
                    if (halt[0])
                        strcat(halt, ",");
                    strcat(halt, halts[h]);
                }
            if (halt[0]) {
                argv[n++] = "--halt";
                argv[n++] = halt;
            }
            for (int k = 0; k < 5; k++)
                if (c->coping[k]) {
                    argv[n++] = "--coping";
                    argv[n++] = copings[k];
                }
            if (c->at[0]) {
                argv[n++] = "--at";
                argv[n++] = c->date_only ? date : c->at;
            }
            argv[n] = NULL;
            assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
            if (r.status != 0)
                fail_msg("craving %d: %s", ci, r.err);
            dbk_run_result_free(&r);
        }
        for (; ji < njr && jr[ji].day == d; ji++) {
            char mood[4];
            snprintf(mood, sizeof mood, "%d", jr[ji].mood);
            if (jr[ji].at[0])
                tc_ok(tc_cli("journal", "-m", jr[ji].text, "--mood", mood, "--at",
                             jr[ji].date_only ? date : jr[ji].at, NULL),
                      "journal");
            else
                tc_ok(tc_cli("journal", "-m", jr[ji].text, "--mood", mood, NULL), "journal");
        }
        if (ck_rec[d]) {
            const char *argv[16] = {dbk_bin("DAYBOOK"), "check"};
            size_t n = 2;
            for (int k = 0; k < NCK; k++)
                if (ck[d][k])
                    argv[n++] = items[k];
            if (unchecked[d])
                argv[n++] = UNCHECKED_ITEM;
            if (d < TODAY) {
                argv[n++] = "--date";
                argv[n++] = date;
            }
            argv[n] = NULL;
            assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
            if (r.status != 0)
                fail_msg("check on %s: %s", date, r.err);
            dbk_run_result_free(&r);
            if (unchecked[d])
                tc_ok(tc_cli("uncheck", UNCHECKED_ITEM, "--date", date, NULL), "uncheck");
        }
    }
    assert_int_equal(ci, ncr);
    assert_int_equal(ji, njr);
    /* Refused: the future, more than a year back, a malformed time. */
    r = tc_cli("craving", "--intensity", "3", "--outcome", "resisted", "--at", "2999-01-01", NULL);
    assert_int_equal(r.status, 2);
    dbk_run_result_free(&r);
    r = tc_cli("journal", "-m", "x", "--at", "2001-01-01T10:00:00+00:00", NULL);
    assert_int_equal(r.status, 2);
    dbk_run_result_free(&r);
    r = tc_cli("journal", "-m", "x", "--at", "yesterday", NULL);
    assert_int_equal(r.status, 2);
    dbk_run_result_free(&r);
    r = tc_cli("check", "exercise", "--date", "2999-01-01", NULL);
    assert_int_equal(r.status, 2);
    dbk_run_result_free(&r);
    tc_ok(tc_cli("sync", NULL), "client sync");
    tc_ok(tc_cli("lock", NULL), "lock");
    setenv("DAYBOOK_UNLOCK_SECONDS", "0", 1);
    as(f->cohome);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
}

static void
assert_close(double a, double b)
{
    if (fabs(a - b) > 1e-9)
        fail_msg("%.12f != %.12f", a, b);
}

static bool
contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

static void
must_contain(const char *hay, const char *needle)
{
    if (!contains(hay, needle))
        fail_msg("output lacks \"%s\":\n%s", needle, hay);
}

/* Every line fits 80 columns (code points). */
static void
fits_80(const char *text)
{
    size_t c = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '\n') {
            c = 0;
            continue;
        }
        if (((unsigned char)*p & 0xC0) != 0x80 && ++c > 80)
            fail_msg("a line is wider than 80 columns near: %.60s", p - 60 > text ? p - 60 : text);
    }
}

static const char *const blocks[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                     "\u2585", "\u2586", "\u2587", "\u2588"};

static void
fmt_num(char *out, size_t cap, double v)
{
    if (v == (double)(long)v)
        snprintf(out, cap, "%ld", (long)v);
    else
        snprintf(out, cap, "%.1f", v);
}


/* Every figure of a review over days [from, TODAY]: the JSON r, and text (the same
 * period in text) for the same numbers. */
static void
check_review(const json_t *r, const char *text, int from)
{
    int days = TODAY - from + 1, active = 0, jn = 0;
    struct figs g, pg;
    char buf[512], date[11], pf[11], pt[11], pk[16];
    const json_t *p = json_object_get(r, "period"), *la = json_object_get(r, "lapses"),
                 *en = json_object_get(r, "engagement"), *c = json_object_get(r, "cravings"),
                 *ckj = json_object_get(r, "checklist"), *v, *x;
    size_t i;
    char strip[4 * N_DAYS + 1] = "", spark[4 * N_DAYS + 1] = "";

    figures(from, TODAY, &g);
    figures(from - days, from - 1, &pg);

    /* The period. */
    date_of(from, date);
    assert_string_equal(json_string_value(json_object_get(p, "from")), date);
    date_of(TODAY, date);
    assert_string_equal(json_string_value(json_object_get(p, "to")), date);
    assert_int_equal(json_integer_value(json_object_get(p, "days")), days);

    /* Reported use: newest first, each with when, how strong, what was used. */
    assert_int_equal(json_integer_value(json_object_get(la, "count")), g.nused);
    assert_int_equal(json_array_size(json_object_get(la, "entries")), (size_t)g.nused);
    json_array_foreach(json_object_get(la, "entries"), i, x) {
        const struct craving *u = &cr[g.used_idx[g.nused - 1 - (int)i]];
        const char *at = json_string_value(json_object_get(x, "occurred_at"));
        assert_close(json_number_value(json_object_get(x, "intensity")), u->i10);
        if (u->at[0]) {
            assert_string_equal(at, u->at);
        } else {
            date_of(TODAY, date);
            assert_memory_equal(at, date, 10);
        }
        if (u->substance)
            assert_string_equal(json_string_value(json_object_get(x, "substance")), u->substance);
        else
            assert_true(json_is_null(json_object_get(x, "substance")));
        fmt_num(pk, sizeof pk, u->i10);
        /* The time as the client's device wrote it, with the zone it was written in. */
        const char *when = json_string_value(json_object_get(x, "when"));
        snprintf(buf, sizeof buf, "%.10s %.5s ", at, at + 11);
        assert_memory_equal(when, buf, 17);
        assert_true(strlen(when) > 17);
        snprintf(buf, sizeof buf, "   %s  intensity %s/10\n     %s\n", when, pk,
                 u->substance ? u->substance : "(not said)");
        must_contain(text, buf);
    }
    if (g.nused == 0)
        must_contain(text, "REPORTED USE: none in this period\n");
    else {
        snprintf(buf, sizeof buf, "!! REPORTED USE: %d craving%s ended in use\n", g.nused,
                 g.nused == 1 ? "" : "s");
        must_contain(text, buf);
    }

    /* Engagement: days with any client entry; the calendar. */
    assert_int_equal(json_array_size(json_object_get(en, "calendar")), (size_t)days);
    json_array_foreach(json_object_get(en, "calendar"), i, x) {
        int d = from + (int)i, n = entries_on(d);
        date_of(d, date);
        assert_string_equal(json_string_value(json_object_get(x, "date")), date);
        assert_int_equal(json_integer_value(json_object_get(x, "entries")), n);
        active += n > 0;
        strcat(strip, n > 0 ? "\u25a0" : "\u00b7");
    }
    if (from == 0)
        assert_true(active < days); /* the history has quiet days */
    assert_int_equal(json_integer_value(json_object_get(en, "days_with_entries")), active);
    assert_int_equal(json_integer_value(json_object_get(en, "days")), days);
    assert_close(json_number_value(json_object_get(en, "rate")), (double)active / days);
    assert_string_equal(json_string_value(json_object_get(en, "strip")), strip);
    assert_int_equal(json_integer_value(json_object_get(en, "days_since_last_entry")), 0);
    snprintf(buf, sizeof buf, "ENGAGEMENT: entries on %d of %d days (%.0f%%)\n", active, days,
             (double)active / days * 100.0);
    must_contain(text, buf);

    /* Cravings: overall, per day (count, mean, peak), the sparkline. */
    assert_int_equal(json_integer_value(json_object_get(c, "count")), g.count);
    assert_true(g.count > 0);
    assert_close(json_number_value(json_object_get(c, "mean")), g.sum / g.count);
    assert_close(json_number_value(json_object_get(c, "peak")), g.peak);
    fmt_num(pk, sizeof pk, g.peak);
    snprintf(buf, sizeof buf, "CRAVINGS: %d, mean %.1f, peak %s (0-10)\n", g.count,
             g.sum / g.count, pk);
    must_contain(text, buf);
    assert_int_equal(json_array_size(json_object_get(c, "per_day")), (size_t)days);
    json_array_foreach(json_object_get(c, "per_day"), i, x) {
        int d = from + (int)i, n = 0;
        double sum = 0, peak = -1;
        for (int k = 0; k < ncr; k++)
            if (cr[k].day == d) {
                n++;
                sum += cr[k].i10;
                peak = cr[k].i10 > peak ? cr[k].i10 : peak;
            }
        date_of(d, date);
        assert_string_equal(json_string_value(json_object_get(x, "date")), date);
        assert_int_equal(json_integer_value(json_object_get(x, "count")), n);
        if (n == 0) {
            assert_true(json_is_null(json_object_get(x, "mean")));
            assert_true(json_is_null(json_object_get(x, "peak")));
            strcat(spark, " ");
            continue;
        }
        assert_close(json_number_value(json_object_get(x, "mean")), sum / n);
        assert_close(json_number_value(json_object_get(x, "peak")), peak);
        int level = (int)(peak * 7.0 / 10.0 + 0.5);
        strcat(spark, blocks[level > 7 ? 7 : level]);
        fmt_num(pk, sizeof pk, peak);
        snprintf(buf, sizeof buf, "  %s  %2d craving%s  mean %4.1f  peak %s\n", date, n,
                 n == 1 ? " " : "s", sum / n, pk);
        must_contain(text, buf);
    }
    assert_string_equal(json_string_value(json_object_get(c, "sparkline")), spark);

    /* The trend against the previous period of equal length. */
    v = json_object_get(c, "trend");
    date_of(from - days, pf);
    date_of(from - 1, pt);
    if (from == 0) {
        /* Before the first day of data there is no baseline: "no earlier data", not 0. */
        assert_true(json_is_true(json_object_get(v, "no_earlier_data")));
        assert_string_equal(json_string_value(json_object_get(v, "mean_direction")),
                            "no earlier data");
        snprintf(buf, sizeof buf, "  trend: no earlier data");
    } else {
        assert_false(json_is_true(json_object_get(v, "no_earlier_data")));
        assert_string_equal(json_string_value(json_object_get(v, "previous_from")), pf);
        assert_string_equal(json_string_value(json_object_get(v, "previous_to")), pt);
        assert_int_equal(json_integer_value(json_object_get(v, "previous_count")), pg.count);
        assert_int_equal(json_integer_value(json_object_get(v, "count_change")), g.count - pg.count);
        snprintf(buf, sizeof buf, "  trend: previous %d days (%s to %s): %d craving%s", days, pf, pt,
                 pg.count, pg.count == 1 ? "" : "s");
        if (pg.count > 0) {
            double mean = g.sum / g.count, pmean = pg.sum / pg.count;
            const char *dir = mean > pmean + 0.05   ? "stronger"
                              : mean < pmean - 0.05 ? "weaker"
                                                    : "about the same";
            assert_close(json_number_value(json_object_get(v, "previous_mean")), pmean);
            assert_close(json_number_value(json_object_get(v, "previous_peak")), pg.peak);
            assert_close(json_number_value(json_object_get(v, "mean_change")), mean - pmean);
            assert_string_equal(json_string_value(json_object_get(v, "mean_direction")), dir);
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf),
                     ", mean %.1f\n  now: %+d craving%s, mean %+.1f (%s)\n", pmean,
                     g.count - pg.count, abs(g.count - pg.count) == 1 ? "" : "s", mean - pmean, dir);
        } else {
            assert_true(json_is_null(json_object_get(v, "previous_mean")));
            assert_true(json_is_null(json_object_get(v, "mean_change")));
            assert_string_equal(json_string_value(json_object_get(v, "mean_direction")),
                                "none before");
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "\n  now: %+d craving%s\n",
                     g.count, g.count == 1 ? "" : "s");
        }
    }
    must_contain(text, buf);

    /* Top triggers, in order (HALT counted on its own); HALT; coping -> resisted. */
    assert_int_equal(json_array_size(json_object_get(c, "triggers")), g.ntc < 5 ? g.ntc : 5);
    json_array_foreach(json_object_get(c, "triggers"), i, x) {
        assert_string_equal(json_string_value(json_object_get(x, "kind")), kinds[g.tc[i].kind]);
        assert_string_equal(json_string_value(json_object_get(x, "value")),
                            values[g.tc[i].kind][g.tc[i].value]);
        assert_int_equal(json_integer_value(json_object_get(x, "count")), g.tc[i].n);
        /* Every trigger is listed with its side (external or internal) in the text. */
        snprintf(buf, sizeof buf, "    %3d  %-8s %-9s %s\n", g.tc[i].n,
                 strcmp(kinds[g.tc[i].kind], "emotions") == 0 ? "internal" : "external",
                 kinds[g.tc[i].kind], values[g.tc[i].kind][g.tc[i].value]);
        must_contain(text, buf);
    }
    for (int h = 0; h < 4; h++)
        assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "halt"), halts[h])),
                         g.halt[h]);
    snprintf(buf, sizeof buf, "  HALT: hungry %d, angry %d, lonely %d, tired %d\n", g.halt[0],
             g.halt[1], g.halt[2], g.halt[3]);
    must_contain(text, buf);
    assert_int_equal(json_array_size(json_object_get(c, "coping")), g.ncc);
    json_array_foreach(json_object_get(c, "coping"), i, x) {
        assert_string_equal(json_string_value(json_object_get(x, "strategy")),
                            copings[g.cc[i].k]);
        assert_int_equal(json_integer_value(json_object_get(x, "uses")), g.cc[i].uses);
        assert_int_equal(json_integer_value(json_object_get(x, "resisted")), g.cc[i].resisted);
        snprintf(buf, sizeof buf, "    %-40s %3d used  %3d resisted\n", copings[g.cc[i].k],
                 g.cc[i].uses, g.cc[i].resisted);
        must_contain(text, buf);
    }

    /* Checklist: 11 default items and one assigned; days done, rate, streak as of today;
     * items done per day. */
    assert_int_equal(json_array_size(json_object_get(ckj, "items")), 12);
    json_array_foreach(json_object_get(ckj, "items"), i, x) {
        const char *id = json_string_value(json_object_get(x, "item"));
        int k = item_index(id), done = 0, st = k >= 0 ? streak(k) : 0;
        bool assigned = !strcmp(id, "call_sponsor") || !strcmp(id, "exercise");
        for (int d = from; d <= TODAY && k >= 0; d++)
            done += ck[d][k];
        assert_int_equal(json_integer_value(json_object_get(x, "days_checked")), done);
        assert_int_equal(json_integer_value(json_object_get(x, "days")), days);
        assert_close(json_number_value(json_object_get(x, "rate")), (double)done / days);
        assert_int_equal(json_integer_value(json_object_get(x, "streak")), st);
        assert_string_equal(json_string_value(json_object_get(x, "source")),
                            assigned ? "counselor" : "default");
        snprintf(buf, sizeof buf, "  %-24.24s %3d  %3.0f%%  streak %d%s\n", id, done,
                 (double)done / days * 100.0, st, assigned ? "  (assigned)" : "");
        must_contain(text, buf);
    }
    assert_int_equal(json_array_size(json_object_get(ckj, "per_day")), (size_t)days);
    json_array_foreach(json_object_get(ckj, "per_day"), i, x) {
        int n = 0;
        for (int k = 0; k < NCK; k++)
            n += ck[from + (int)i][k];
        assert_int_equal(json_integer_value(json_object_get(x, "checked")), n);
        assert_int_equal(json_integer_value(json_object_get(x, "of")), 12);
    }
    assert_int_equal(json_array_size(json_object_get(ckj, "assigned_not_practised")), 1);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(ckj, "assigned_not_practised"), 0)),
        "call_sponsor");
    must_contain(text, "  assigned, not practised: call_sponsor\n");

    /* Journal entries of the period, newest first, in full. */
    for (int k = 0; k < njr; k++)
        jn += jr[k].day >= from;
    assert_int_equal(json_array_size(json_object_get(r, "journal")), (size_t)jn);
    json_array_foreach(json_object_get(r, "journal"), i, x) {
        const struct journal *w = &jr[njr - 1 - (int)i];
        const char *at = json_string_value(json_object_get(x, "written_at"));
        assert_string_equal(json_string_value(json_object_get(x, "text")), w->text);
        assert_int_equal(json_integer_value(json_object_get(x, "mood")), w->mood);
        if (w->at[0]) {
            assert_string_equal(at, w->at);
            /* Short ones are shown whole, on one line. */
            snprintf(buf, sizeof buf, "  -- %s  mood %d/5\n",
                     json_string_value(json_object_get(x, "when")), w->mood);
            assert_memory_equal(json_string_value(json_object_get(x, "when")), at, 10);
            must_contain(text, buf);
            must_contain(text, w->text);
        } else {
            date_of(TODAY, date);
            assert_memory_equal(at, date, 10);
        }
    }
    snprintf(buf, sizeof buf, "JOURNAL (shared, newest first): %d\n", jn);
    must_contain(text, buf);
    {
        /* The long one (today's): each word, in order (it is wrapped). */
        char w[400], *save = NULL, *tok;
        const char *at = strstr(text, "JOURNAL (shared");
        memcpy(w, jr[njr - 1].text, sizeof w);
        for (tok = strtok_r(w, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
            const char *hit = strstr(at, tok);
            if (hit == NULL)
                fail_msg("today's journal: \"%s\" missing or out of order", tok);
            at = hit + strlen(tok);
        }
    }
    fits_80(text);
}

/* The review of the last n days (n > 0), or the default period (n == 0): JSON and text. */
static json_t *
review_checked(int n)
{
    char since[11];
    json_t *r;
    dbk_run_result t;

    date_of(TODAY - n + 1, since);
    r = n ? cli_json("review json", "review", "Sam R", "--since", since, "--format", "json", NULL)
          : cli_json("review json", "review", "Sam R", "--format", "json", NULL);
    t = n ? tc_cli("review", "Sam R", "--since", since, NULL) : tc_cli("review", "Sam R", NULL);
    assert_int_equal(t.status, 0);
    check_review(r, t.out, n ? TODAY - n + 1 : TODAY - 6);
    if (n == 0) {
        must_contain(t.out, "42 CFR part 2 prohibits unauthorized use or disclosure of these "
                            "records.");
        assert_true(strstr(t.out, "REPORTED USE") < strstr(t.out, "ENGAGEMENT"));
        assert_true(strstr(t.out, "ENGAGEMENT") < strstr(t.out, "CRAVINGS"));
        assert_true(strstr(t.out, "CRAVINGS") < strstr(t.out, "CHECKLIST"));
        assert_true(strstr(t.out, "CHECKLIST") < strstr(t.out, "JOURNAL"));
        assert_true(strstr(t.out, "JOURNAL") < strstr(t.out, "YOUR NOTES"));
        must_contain(t.out, notes[0]);
        must_contain(t.out, notes[1]);
    }
    dbk_run_result_free(&t);
    return r;
}

static void
test_review_figures(void **state)
{
    struct fx *f = *state;
    struct figs g7, gt;
    char buf[512];
    json_t *r, *p, *ckj, *x;
    size_t i;
    int d7 = 0, cdays = 0, j7 = 0, ckdays = 0;
    time_t started = time(NULL);

    generate();
    log_history(f);
    for (int d = 0; d < N_DAYS; d++)
        ckdays += ck_rec[d];
    print_message("logged %d cravings, %d journal entries, %d checklist days over %d days in "
                  "%lds\n",
                  ncr, njr, ckdays, N_DAYS, (long)(time(NULL) - started));
    figures(TODAY - 6, TODAY, &g7);
    figures(TODAY, TODAY, &gt);
    for (int d = TODAY - 6; d <= TODAY; d++) {
        d7 += entries_on(d) > 0;
        for (int k = 0; k < ncr; k++)
            if (cr[k].day == d) {
                cdays++;
                break;
            }
    }
    for (int k = 0; k < njr; k++)
        j7 += jr[k].day >= TODAY - 6;
    assert_true(g7.nused >= 2);

    /* ---- clients ---- */
    as(f->cohome);
    json_t *cl = cli_json("clients", "--json", "clients", NULL);
    json_t *row = json_array_get(json_object_get(cl, "clients"), 0);
    assert_int_equal(json_array_size(json_object_get(cl, "clients")), 1);
    assert_string_equal(json_string_value(json_object_get(row, "account")), f->client_id);
    assert_int_equal(json_integer_value(json_object_get(row, "days_logged")), d7);
    assert_string_equal(json_string_value(json_object_get(row, "recency")), "2days");
    assert_string_equal(json_string_value(json_object_get(row, "grant_state")), "active");
    {
        json_t *fl = json_object_get(row, "flags");
        assert_string_equal(json_string_value(json_array_get(fl, 0)), "USE REPORTED");
        assert_int_equal(json_array_size(fl), g7.peak >= 7 ? 2 : 1);
        if (g7.peak >= 7)
            assert_string_equal(json_string_value(json_array_get(fl, 1)), "HIGH CRAVING");
    }
    json_decref(cl);
    snprintf(buf, sizeof buf, "%.8s", f->client_id);
    tc_ok(tc_cli("clients", "alias", buf, "Sam R", NULL), "alias");
    {
        dbk_run_result t = tc_cli("clients", NULL);
        assert_int_equal(t.status, 0);
        must_contain(t.out, "Sam R");
        must_contain(t.out, "USE REPORTED");
        assert_null(strchr(t.out, '\033')); /* not a terminal: no colour */
        dbk_run_result_free(&t);
    }
    /* The alias is not stored in the clear (it travels as an encrypted record). */
    {
        char db[4200];
        FILE *fp;
        static char content[8 << 20];
        /* The file and its write-ahead log, which is kept between commands. */
        for (int w = 0; w < 2; w++) {
            snprintf(db, sizeof db, "%s/daybook.db%s", f->cohome, w ? "-wal" : "");
            fp = fopen(db, "rb");
            if (fp == NULL && w == 1)
                break;
            assert_non_null(fp);
            size_t n = fread(content, 1, sizeof content, fp);
            fclose(fp);
            for (size_t k = 0; k + 5 <= n; k++)
                assert_false(memcmp(content + k, "Sam R", 5) == 0);
        }
    }

    /* Notes, for the review and the client. */
    tc_ok(tc_cli("note", "Sam R", "-m", notes[0], "--share", NULL), "note 0");
    {
        /* The option first with its text attached, as getopt reads it: "-mTEXT CLIENT". */
        char opt[256];
        snprintf(opt, sizeof opt, "-m%s", notes[1]);
        tc_ok(tc_cli("note", opt, "sam r", "--share", NULL), "note 1");
    }
    /* An assigned skill the client has not practised, and a default one re-assigned. */
    tc_ok(tc_cli("assign", "Sam R", "call_sponsor=Call your sponsor", "exercise", NULL), "assign");
    {
        dbk_run_result t = tc_cli("unassign", "Sam R", "journaling", NULL);
        assert_int_equal(t.status, 1); /* not the counselor's item */
        dbk_run_result_free(&t);
        t = tc_cli("assign", "Sam R", "Bad Slug", NULL);
        assert_int_equal(t.status, 2);
        dbk_run_result_free(&t);
    }
    tc_ok(tc_cli("sync", NULL), "counselor sync notes");

    /* ---- the last 14 days and the whole 90: every figure, JSON and text ---- */
    r = review_checked(14);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "period"), "since")),
                        "date");
    json_decref(r);
    r = review_checked(N_DAYS);
    json_decref(r);

    /* ---- the default review (no session yet: the last 7 days) ---- */
    r = review_checked(0);
    p = json_object_get(r, "period");
    assert_string_equal(json_string_value(json_object_get(r, "notice")),
                        "42 CFR part 2 prohibits unauthorized use or disclosure of these records.");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "client"), "label")),
                        "Sam R");
    assert_string_equal(json_string_value(json_object_get(p, "since")), "default");
    assert_int_equal(json_integer_value(json_object_get(p, "days")), 7);
    assert_true(json_is_null(json_object_get(p, "last_session")));
    /* The counselor's notes, newest first. */
    assert_int_equal(json_array_size(json_object_get(r, "notes")), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "notes"), 0), "text")), notes[1]);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "notes"), 1), "text")), notes[0]);

    /* ---- HTML: for the browser check ---- */
    {
        const char *art = getenv("DAYBOOK_ARTIFACTS");
        char path[4200], exp[4200];
        struct stat st;
        FILE *e;
        int circles = 0;
        assert_non_null(art);
        snprintf(path, sizeof path, "%s/review.html", art);
        tc_ok(tc_cli("review", "Sam R", "--format", "html", "--out", path, NULL), "review html");
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        json_array_foreach(json_object_get(json_object_get(r, "cravings"), "per_day"), i, x)
            circles += json_integer_value(json_object_get(x, "count")) > 0;
        assert_int_equal(circles, cdays);
        snprintf(exp, sizeof exp, "%s/expected.txt", art);
        e = fopen(exp, "w");
        assert_non_null(e);
        fprintf(e, "circles=%d\ndays=7\njournal=%d\nnotes=2\nlapses=%d\n", cdays, j7, g7.nused);
        fclose(e);
    }
    json_decref(r);

    /* ---- session done: the next review starts today ---- */
    tc_ok(tc_cli("session", "done", "Sam R", "--yes", NULL), "session done");
    r = cli_json("review since", "review", "Sam R", "--since", "last-session", "--format",
                 "json", NULL);
    p = json_object_get(r, "period");
    assert_string_equal(json_string_value(json_object_get(p, "since")), "last-session");
    assert_int_equal(json_integer_value(json_object_get(p, "days")), 1);
    assert_true(json_is_string(json_object_get(p, "last_session")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "cravings"), "count")),
                     gt.count);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "lapses"), "count")),
                     gt.nused);
    json_decref(r);
    {
        /* A long period still fits 80 columns in text. */
        char since[11];
        tc_days_ago(99, since);
        r = cli_json("review 100 days", "review", "Sam R", "--since", since, "--format", "json",
                     NULL);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "period"), "days")),
                         100);
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(r, "cravings"), "count")), ncr);
        json_decref(r);
        dbk_run_result t = tc_cli("review", "Sam R", "--since", since, NULL);
        assert_int_equal(t.status, 0);
        fits_80(t.out);
        dbk_run_result_free(&t);
        t = tc_cli("review", "Sam R", "--since", "2999-01-01", NULL);
        assert_int_equal(t.status, 2);
        dbk_run_result_free(&t);
        t = tc_cli("review", "nobody", NULL);
        assert_int_equal(t.status, 1);
        dbk_run_result_free(&t);
        /* About one account id in 64 begins with '-': read as a client, not an option
         * ("no client", exit 1, rather than a usage error). */
        t = tc_cli("review", "-AbCdEfGhIjKlMnOpQrStUv", "--format", "json", NULL);
        assert_int_equal(t.status, 1);
        assert_non_null(strstr(t.err, "no client"));
        dbk_run_result_free(&t);
        t = tc_cli("note", "-AbCdEfGhIjKlMnOpQrStUv", "-m", "x", NULL);
        assert_int_equal(t.status, 1);
        assert_non_null(strstr(t.err, "no client"));
        dbk_run_result_free(&t);
        t = tc_cli("note", "-m", "x", "-AbCdEfGhIjKlMnOpQrStUv", NULL);
        assert_int_equal(t.status, 2); /* after an option it reads as one: first, or after -- */
        dbk_run_result_free(&t);
        /* An option with its argument attached comes first as getopt allows ("-mTEXT"):
         * the operand is the client, after it. An id (22 characters) may begin "-m". */
        t = tc_cli("note", "-mx", "nobody", NULL);
        assert_int_equal(t.status, 1);
        assert_non_null(strstr(t.err, "no client"));
        dbk_run_result_free(&t);
        t = tc_cli("note", "-mAbCdEfGhIjKlMnOpQrSt", "-m", "x", NULL);
        assert_int_equal(t.status, 1);
        assert_non_null(strstr(t.err, "no client"));
        dbk_run_result_free(&t);
    }

    /* Unassigning retires the item: no longer on the list of the period. */
    tc_ok(tc_cli("unassign", "Sam R", "call_sponsor", NULL), "unassign");
    r = cli_json("review after unassign", "review", "Sam R", "--format", "json", NULL);
    ckj = json_object_get(r, "checklist");
    assert_int_equal(json_array_size(json_object_get(ckj, "assigned_not_practised")), 0);
    assert_int_equal(json_array_size(json_object_get(ckj, "items")), 11);
    json_decref(r);
    tc_ok(tc_cli("sync", NULL), "counselor sync unassign");

    /* The client reads the notes after sync, and sees who holds a key. */
    as(f->clhome);
    tc_ok(tc_cli("sync", NULL), "client sync notes");
    {
        dbk_run_result t = tc_cli("--json", "today", NULL);
        assert_int_equal(t.status, 0);
        must_contain(t.out, "\"id\":\"exercise\",\"label\":\"Exercise\",\"source\":\"counselor\"");
        assert_false(contains(t.out, "call_sponsor")); /* retired, never checked */
        dbk_run_result_free(&t);
        t = tc_cli("--json", "log", NULL);
        assert_int_equal(t.status, 0);
        must_contain(t.out, "urge surfing first");
        must_contain(t.out, "sponsor on Friday");
        dbk_run_result_free(&t);
        t = tc_cli("access", NULL);
        assert_int_equal(t.status, 0);
        must_contain(t.out, "Dana Reyes");
        must_contain(t.out, "can read them, since");
        must_contain(t.out, "Dana Reyes received");
        must_contain(t.out, "Dana Reyes wrote 3 to your shared entries"); /* notes, assign */
        fits_80(t.out);
        dbk_run_result_free(&t);
        t = tc_cli("review", "x", NULL);
        assert_int_equal(t.status, 1); /* clients do not review */
        dbk_run_result_free(&t);
    }

    /* Risk language: the client sees the crisis card at once; the counselor's review
     * opens with it, quoted, in Read first, and the caseload shows RISK. */
    {
        dbk_run_result t = tc_cli("journal", "-m", "Group was fine. Some nights I want to die.",
                                  NULL);
        assert_int_equal(t.status, 0);
        must_contain(t.out, "988");
        dbk_run_result_free(&t);
        tc_ok(tc_cli("sync", NULL), "client sync risk");
        as(f->cohome);
        r = cli_json("review risk", "review", "Sam R", "--format", "json", NULL);
        json_t *rf = json_object_get(r, "read_first"), *it = json_array_get(json_object_get(rf, "items"), 0);
        assert_true(json_integer_value(json_object_get(rf, "risk")) >= 1);
        assert_string_equal(json_string_value(json_object_get(it, "kind")), "risk");
        assert_string_equal(json_string_value(json_object_get(it, "quote")), "Some nights I want to die");
        assert_true(json_is_false(json_object_get(json_object_get(r, "data"), "offline")));
        char id8[9];
        snprintf(id8, sizeof id8, "%s", json_string_value(json_object_get(it, "record")));
        json_decref(r);
        t = tc_cli("review", "Sam R", NULL);
        assert_int_equal(t.status, 0);
        must_contain(t.out, "!! RISK LANGUAGE");
        must_contain(t.out, "\"Some nights I want to die\"");
        must_contain(t.out, "data as of");
        fits_80(t.out);
        /* Read first comes before everything else. */
        assert_true(strstr(t.out, "READ FIRST") < strstr(t.out, "REPORTED USE"));
        dbk_run_result_free(&t);
        t = tc_cli("review", "Sam R", "--offline", NULL);
        must_contain(t.out, "!! DATA AS OF");
        dbk_run_result_free(&t);
        json_t *rows = cli_json("clients risk", "--json", "clients", NULL);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(rows, "clients"), 0), "risk")), 1);
        json_decref(rows);
        tc_ok(tc_cli("session", "discussed", "Sam R", id8, NULL), "discussed");
        r = cli_json("review discussed", "review", "Sam R", "--format", "json", NULL);
        it = json_array_get(json_object_get(json_object_get(r, "read_first"), "items"), 0);
        assert_true(json_is_true(json_object_get(it, "discussed")));
        json_decref(r);
    }
}

/* After the client revokes, the counselor's review fails and new entries are under a
 * key it was never granted. */
static void
test_revoke(void **state)
{
    struct fx *f = *state;
    json_t *j, *e;
    size_t i;
    char prefix[16];

    as(f->clhome);
    tc_ok(tc_cli("journal", "-m", "before the revocation", NULL), "journal");
    tc_ok(tc_cli("sync", NULL), "sync");
    as(f->cohome);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    snprintf(prefix, sizeof prefix, "%.8s", f->client_id);
    tc_ok(tc_cli("review", "--", prefix, NULL), "review before"); /* an id may start with - */

    as(f->clhome);
    snprintf(prefix, sizeof prefix, "%.8s", f->counselor_id);
    j = cli_json("revoke", "--json", "revoke", prefix, "--yes", NULL);
    assert_string_equal(json_string_value(json_object_get(j, "revoked")), f->counselor_id);
    assert_int_equal(json_integer_value(json_object_get(j, "epoch")), 2);
    json_decref(j);
    {
        dbk_run_result t = tc_cli("revoke", prefix, "--yes", NULL); /* again: nothing more to rotate */
        assert_int_equal(t.status, 0);
        dbk_run_result_free(&t);
    }
    tc_ok(tc_cli("journal", "-m", CANARY, NULL), "journal after");
    tc_ok(tc_cli("sync", NULL), "sync after");

    /* The server's access log: the counselor was granted epoch 1 only (the share, and
     * the signed end the revoke sends first: proto/TRUST.md T8), then revoked; the new
     * entry was written under epoch 2. */
    j = cli_json("access", "--json", "access", NULL);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_object_get(j, "grants"),
                                                          f->counselor_id),
                                          "state")),
        "revoked");
    int grants_to_counselor = 0, revokes = 0, writes_e2 = 0;
    json_array_foreach(json_object_get(j, "log"), i, e) {
        const char *a = json_string_value(json_object_get(e, "action"));
        const char *g = json_string_value(json_object_get(e, "grantee"));
        if (!strcmp(a, "grant") && g && !strcmp(g, f->counselor_id)) {
            grants_to_counselor++;
            assert_int_equal(json_integer_value(json_object_get(e, "epoch")), 1);
        }
        revokes += !strcmp(a, "revoke");
        writes_e2 += !strcmp(a, "write") && json_integer_value(json_object_get(e, "epoch")) == 2;
    }
    assert_int_equal(grants_to_counselor, 2);
    assert_int_equal(revokes, 1);
    assert_true(writes_e2 >= 1);
    json_decref(j);
    {
        /* In words, the signed end is not a share: one "gave ... a key" (the share). */
        dbk_run_result t = tc_cli("access", "--all", NULL);
        assert_int_equal(t.status, 0);
        must_contain(t.out, "signed the end of");
        const char *gave = strstr(t.out, "gave ");
        assert_non_null(gave);
        if (strstr(gave + 1, "gave ") != NULL)
            fail_msg("the signed end reads as a share:\n%s", t.out);
        dbk_run_result_free(&t);
    }

    /* The counselor: sync reports the stream, review refuses, nothing new opens. */
    as(f->cohome);
    {
        /* Told once, on the sync that found it, with the day; it is not a failure. */
        dbk_run_result t = tc_cli("--json", "sync", NULL);
        char today[11];
        date_of(TODAY, today);
        assert_int_equal(t.status, 0);
        must_contain(t.out, "\"reason\":\"revoked\""); /* nothing of it opens: see log below */
        must_contain(t.out, today);
        /* What the counselor's reviews queued for the client (the reviewed record) can no
         * longer be sent: it leaves the outbox, said once, instead of failing every sync. */
        must_contain(t.out, "\"pending\":0");
        assert_false(contains(t.out, "\"undeliverable\":0"));
        must_contain(t.err, "not sent: the client stopped sharing first");
        dbk_run_result_free(&t);
        t = tc_cli("sync", NULL);
        assert_int_equal(t.status, 0);
        assert_false(contains(t.out, "stopped sharing"));
        assert_int_equal(strlen(t.err), 0);
        dbk_run_result_free(&t);
        snprintf(prefix, sizeof prefix, "%.8s", f->client_id);
        t = tc_cli("review", "--", prefix, NULL);
        assert_int_equal(t.status, 1);
        must_contain(t.err, "ended your access to their records on");
        must_contain(t.err, "(signed by the client)");
        assert_int_equal(strlen(t.out), 0);
        dbk_run_result_free(&t);
        t = tc_cli("note", "-m", "still there?", "--share", "--", prefix, NULL);
        assert_int_equal(t.status, 1);
        dbk_run_result_free(&t);
        t = tc_cli("--json", "log", NULL);
        assert_int_equal(t.status, 0);
        assert_false(contains(t.out, CANARY));
        must_contain(t.out, "before the revocation"); /* what was read stays read */
        dbk_run_result_free(&t);
        j = cli_json("clients", "--json", "clients", NULL);
        e = json_object_get(json_array_get(json_object_get(j, "clients"), 0), "flags");
        bool revoked_flag = false;
        json_t *fl;
        json_array_foreach(e, i, fl)
            revoked_flag = revoked_flag || !strcmp(json_string_value(fl), "ACCESS REVOKED");
        assert_true(revoked_flag);
        json_decref(j);
    }
    /* The client's own devices still read everything. */
    as(f->clhome);
    {
        dbk_run_result t = tc_cli("--json", "log", NULL);
        must_contain(t.out, CANARY);
        dbk_run_result_free(&t);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_review_figures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
    };
    if (dbk_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
