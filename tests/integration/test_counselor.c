/*
 * The counselor's side with the real CLIs against a real daybookd: clients,
 * review (JSON, text, HTML), session done, note; the client's access and
 * revoke, after which the counselor's review fails and new entries are under a
 * key the counselor was never granted.
 *
 * A deterministic generator (a seeded xorshift PRNG) makes a client history of
 * cravings (both intensity scales, triggers, HALT, coping, some ending in use),
 * journal entries and a checklist day, logged through `daybook craving`,
 * `journal` and `check`. The CLI dates every entry now, so the history is one
 * day deep; every figure of `review --format json` is checked against values
 * this file computes from the generator's own table, and the text output is
 * checked for the same figures.
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
#define N_CRAVINGS 24
#define N_JOURNALS 5
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

struct craving {
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
    char text[400];
    int mood;
};

static struct craving cr[N_CRAVINGS];
static struct journal jr[N_JOURNALS];
static const char *const checked[] = {"exercise", "journaling", "called_support"};
static const char *const notes[] = {"Good work calling your sponsor on Friday.",
                                    "Next week: try urge surfing first & write it down."};

static void
generate(void)
{
    rng = SEED;
    for (int i = 0; i < N_CRAVINGS; i++) {
        struct craving *c = &cr[i];
        memset(c, 0, sizeof *c);
        c->scale100 = pick(6) == 0;
        if (c->scale100) {
            c->value = 1 + (int)pick(100);
            c->i10 = c->value / 10.0;
        } else {
            c->value = (int)pick(11);
            c->i10 = c->value;
        }
        c->used = i == 3 || i == 17 || pick(10) == 0;
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
    for (int i = 0; i < N_JOURNALS; i++) {
        jr[i].mood = 1 + (int)pick(5);
        snprintf(jr[i].text, sizeof jr[i].text, "Journal %d (seed %u): ", i, pick(100000));
        if (i == 1) /* long enough to wrap, with markup that must stay text in HTML */
            strncat(jr[i].text,
                    "Today was long. I noticed the urge at the bus stop and remembered what we "
                    "said about riding it out; <script>alert(1)</script> & <b>not bold</b> "
                    "it passed after twenty minutes, which surprised me a lot.",
                    sizeof jr[i].text - strlen(jr[i].text) - 1);
        else
            strncat(jr[i].text, "slept badly, walked to the meeting anyway.",
                    sizeof jr[i].text - strlen(jr[i].text) - 1);
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

/* ---- fixture and CLI ---- */

struct fx {
    dbk_server srv;
    char *home;
    char cohome[4096], clhome[4096];
    char client_id[64], counselor_id[64];
};

static void
ok(dbk_run_result r, const char *what)
{
    if (r.status != 0)
        fail_msg("%s: exit %d: %s", what, r.status, r.err);
    dbk_run_result_free(&r);
}

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
    setenv("DAYBOOK_UNLOCK_SECONDS", "0", 1);
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
    ok(tc_cli("enroll", uri, NULL), "counselor enroll");
    j = cli_json("invite", "--json", "invite", NULL);
    snprintf(uri, sizeof uri, "%s", json_string_value(json_object_get(j, "uri")));
    json_decref(j);

    as(f->clhome);
    j = cli_json("client init", "--json", "init", NULL);
    snprintf(f->client_id, sizeof f->client_id, "%s",
             json_string_value(json_object_get(j, "account")));
    json_decref(j);
    ok(tc_cli("enroll", uri, NULL), "client enroll");
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

/* Logs the generator's history as the client, and syncs. */
static void
log_history(struct fx *f)
{
    as(f->clhome);
    for (int i = 0; i < N_CRAVINGS; i++) {
        const struct craving *c = &cr[i];
        const char *argv[48] = {dbk_bin("DAYBOOK"), "craving"};
        char val[8], trig[3][80], halt[40] = "";
        size_t n = 2;
        dbk_run_result r;
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
            snprintf(trig[t], sizeof trig[t], "%s:%s", kinds[c->tk[t]], values[c->tk[t]][c->tv[t]]);
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
        argv[n] = NULL;
        assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
        if (r.status != 0)
            fail_msg("craving %d: %s", i, r.err);
        dbk_run_result_free(&r);
    }
    for (int i = 0; i < N_JOURNALS; i++) {
        char mood[4];
        snprintf(mood, sizeof mood, "%d", jr[i].mood);
        ok(tc_cli("journal", "-m", jr[i].text, "--mood", mood, NULL), "journal");
    }
    ok(tc_cli("check", checked[0], checked[1], checked[2], NULL), "check");
    ok(tc_cli("sync", NULL), "client sync");
    as(f->cohome);
    ok(tc_cli("sync", NULL), "counselor sync");
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

static void
test_review_figures(void **state)
{
    struct fx *f = *state;
    int count = 0, nused = 0, halt[4] = {0}, used_idx[N_CRAVINGS];
    double sum = 0, peak = -1;
    struct tcount tc[12];
    struct ccount cc[5];
    size_t ntc = 0, ncc = 0, i;
    char buf[512];
    json_t *v, *x;

    generate();
    log_history(f);

    /* Independent figures from the generator's table. */
    for (int k = 0; k < 5; k++)
        cc[k] = (struct ccount){k, 0, 0};
    for (int i2 = 0; i2 < N_CRAVINGS; i2++) {
        const struct craving *c = &cr[i2];
        count++;
        sum += c->i10;
        if (c->i10 > peak)
            peak = c->i10;
        if (c->used)
            used_idx[nused++] = i2;
        for (int h = 0; h < 4; h++)
            halt[h] += c->halt[h];
        for (int t = 0; t < c->ntrig; t++) {
            size_t k;
            for (k = 0; k < ntc; k++)
                if (tc[k].kind == c->tk[t] && tc[k].value == c->tv[t])
                    break;
            if (k == ntc)
                tc[ntc++] = (struct tcount){c->tk[t], c->tv[t], 0};
            tc[k].n++;
        }
        for (int k = 0; k < 5; k++)
            if (c->coping[k]) {
                cc[k].uses++;
                cc[k].resisted += !c->used;
            }
    }
    qsort(tc, ntc, sizeof *tc, by_expected);
    for (int k = 0; k < 5; k++)
        if (cc[k].uses > 0)
            cc[ncc++] = cc[k];
    qsort(cc, ncc, sizeof *cc, by_uses);
    assert_true(nused >= 2);

    /* ---- clients ---- */
    as(f->cohome);
    json_t *cl = cli_json("clients", "--json", "clients", NULL);
    json_t *row = json_array_get(json_object_get(cl, "clients"), 0);
    assert_int_equal(json_array_size(json_object_get(cl, "clients")), 1);
    assert_string_equal(json_string_value(json_object_get(row, "account")), f->client_id);
    assert_int_equal(json_integer_value(json_object_get(row, "days_logged")), 1);
    assert_string_equal(json_string_value(json_object_get(row, "recency")), "2days");
    assert_string_equal(json_string_value(json_object_get(row, "grant_state")), "active");
    {
        json_t *fl = json_object_get(row, "flags");
        assert_string_equal(json_string_value(json_array_get(fl, 0)), "USE REPORTED");
        assert_int_equal(json_array_size(fl), peak >= 7 ? 2 : 1);
        if (peak >= 7)
            assert_string_equal(json_string_value(json_array_get(fl, 1)), "HIGH CRAVING");
    }
    json_decref(cl);
    snprintf(buf, sizeof buf, "%.8s", f->client_id);
    ok(tc_cli("clients", "alias", buf, "Sam R", NULL), "alias");
    {
        dbk_run_result r = tc_cli("clients", NULL);
        assert_int_equal(r.status, 0);
        must_contain(r.out, "Sam R");
        must_contain(r.out, "USE REPORTED");
        assert_null(strchr(r.out, '\033')); /* not a terminal: no colour */
        dbk_run_result_free(&r);
    }
    /* The alias never leaves the device, and is not stored in the clear. */
    {
        char db[4200];
        FILE *fp;
        snprintf(db, sizeof db, "%s/daybook.db", f->cohome);
        fp = fopen(db, "rb");
        assert_non_null(fp);
        static char content[8 << 20];
        size_t n = fread(content, 1, sizeof content, fp);
        fclose(fp);
        for (size_t k = 0; k + 5 <= n; k++)
            assert_false(memcmp(content + k, "Sam R", 5) == 0);
    }

    /* Notes, for the review and the client. */
    ok(tc_cli("note", "Sam R", "-m", notes[0], NULL), "note 0");
    ok(tc_cli("note", "sam r", "-m", notes[1], NULL), "note 1");
    /* An assigned skill the client has not practised, and a default one re-assigned. */
    ok(tc_cli("assign", "Sam R", "call_sponsor=Call your sponsor", "exercise", NULL), "assign");
    {
        dbk_run_result t = tc_cli("unassign", "Sam R", "journaling", NULL);
        assert_int_equal(t.status, 1); /* not the counselor's item */
        dbk_run_result_free(&t);
        t = tc_cli("assign", "Sam R", "Bad Slug", NULL);
        assert_int_equal(t.status, 2);
        dbk_run_result_free(&t);
    }
    ok(tc_cli("sync", NULL), "counselor sync notes");

    /* ---- review --format json: every figure ---- */
    json_t *r = cli_json("review json", "review", "Sam R", "--format", "json", NULL);
    json_t *p = json_object_get(r, "period"), *la = json_object_get(r, "lapses"),
           *en = json_object_get(r, "engagement"), *c = json_object_get(r, "cravings"),
           *ck = json_object_get(r, "checklist");
    assert_string_equal(json_string_value(json_object_get(r, "notice")),
                        "42 CFR part 2 prohibits unauthorized use or disclosure of these records.");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "client"), "label")),
                        "Sam R");
    assert_string_equal(json_string_value(json_object_get(p, "since")), "default");
    assert_int_equal(json_integer_value(json_object_get(p, "days")), 7);
    assert_true(json_is_null(json_object_get(p, "last_session")));

    /* Reported use: newest first, each with what was used. */
    assert_int_equal(json_integer_value(json_object_get(la, "count")), nused);
    assert_int_equal(json_array_size(json_object_get(la, "entries")), (size_t)nused);
    json_array_foreach(json_object_get(la, "entries"), i, x) {
        const struct craving *u = &cr[used_idx[nused - 1 - (int)i]];
        assert_close(json_number_value(json_object_get(x, "intensity")), u->i10);
        if (u->substance)
            assert_string_equal(json_string_value(json_object_get(x, "substance")), u->substance);
        else
            assert_true(json_is_null(json_object_get(x, "substance")));
    }

    /* Engagement: today only, every client entry counted. */
    assert_int_equal(json_integer_value(json_object_get(en, "days_with_entries")), 1);
    assert_int_equal(json_integer_value(json_object_get(en, "days")), 7);
    assert_close(json_number_value(json_object_get(en, "rate")), 1.0 / 7.0);
    json_array_foreach(json_object_get(en, "calendar"), i, x)
        assert_int_equal(json_integer_value(json_object_get(x, "entries")),
                         i == 6 ? N_CRAVINGS + N_JOURNALS + 1 : 0);
    assert_string_equal(json_string_value(json_object_get(en, "strip")),
                        "\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u25a0");

    /* Cravings. */
    assert_int_equal(json_integer_value(json_object_get(c, "count")), count);
    assert_close(json_number_value(json_object_get(c, "mean")), sum / count);
    assert_close(json_number_value(json_object_get(c, "peak")), peak);
    json_array_foreach(json_object_get(c, "per_day"), i, x) {
        if (i < 6) {
            assert_int_equal(json_integer_value(json_object_get(x, "count")), 0);
            assert_true(json_is_null(json_object_get(x, "mean")));
            continue;
        }
        assert_int_equal(json_integer_value(json_object_get(x, "count")), count);
        assert_close(json_number_value(json_object_get(x, "mean")), sum / count);
        assert_close(json_number_value(json_object_get(x, "peak")), peak);
    }
    {
        int level = (int)(peak * 7.0 / 10.0 + 0.5);
        snprintf(buf, sizeof buf, "      %s", blocks[level > 7 ? 7 : level]);
        assert_string_equal(json_string_value(json_object_get(c, "sparkline")), buf);
    }
    v = json_object_get(c, "trend");
    assert_int_equal(json_integer_value(json_object_get(v, "previous_count")), 0);
    assert_int_equal(json_integer_value(json_object_get(v, "count_change")), count);
    assert_string_equal(json_string_value(json_object_get(v, "mean_direction")), "none before");
    /* Top triggers, in order (HALT counted on its own). */
    assert_int_equal(json_array_size(json_object_get(c, "triggers")), ntc < 5 ? ntc : 5);
    json_array_foreach(json_object_get(c, "triggers"), i, x) {
        assert_string_equal(json_string_value(json_object_get(x, "kind")), kinds[tc[i].kind]);
        assert_string_equal(json_string_value(json_object_get(x, "value")),
                            values[tc[i].kind][tc[i].value]);
        assert_int_equal(json_integer_value(json_object_get(x, "count")), tc[i].n);
    }
    for (int h = 0; h < 4; h++)
        assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "halt"), halts[h])),
                         halt[h]);
    assert_int_equal(json_array_size(json_object_get(c, "coping")), ncc);
    json_array_foreach(json_object_get(c, "coping"), i, x) {
        assert_string_equal(json_string_value(json_object_get(x, "strategy")), copings[cc[i].k]);
        assert_int_equal(json_integer_value(json_object_get(x, "uses")), cc[i].uses);
        assert_int_equal(json_integer_value(json_object_get(x, "resisted")), cc[i].resisted);
    }

    /* Checklist: 11 default items and one assigned, three done today. */
    assert_int_equal(json_array_size(json_object_get(ck, "items")), 12);
    json_array_foreach(json_object_get(ck, "items"), i, x) {
        const char *id = json_string_value(json_object_get(x, "item"));
        bool done = !strcmp(id, checked[0]) || !strcmp(id, checked[1]) || !strcmp(id, checked[2]);
        assert_int_equal(json_integer_value(json_object_get(x, "days_checked")), done);
        assert_int_equal(json_integer_value(json_object_get(x, "streak")), done);
        assert_close(json_number_value(json_object_get(x, "rate")), done / 7.0);
        assert_string_equal(json_string_value(json_object_get(x, "source")),
                            !strcmp(id, "call_sponsor") || !strcmp(id, "exercise") ? "counselor"
                                                                                   : "default");
    }
    json_array_foreach(json_object_get(ck, "per_day"), i, x) {
        assert_int_equal(json_integer_value(json_object_get(x, "checked")), i == 6 ? 3 : 0);
        assert_int_equal(json_integer_value(json_object_get(x, "of")), 12);
    }
    assert_int_equal(json_array_size(json_object_get(ck, "assigned_not_practised")), 1);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(ck, "assigned_not_practised"), 0)),
        "call_sponsor");

    /* Journal: all of them, newest first, in full; the notes, newest first. */
    assert_int_equal(json_array_size(json_object_get(r, "journal")), N_JOURNALS);
    json_array_foreach(json_object_get(r, "journal"), i, x) {
        assert_string_equal(json_string_value(json_object_get(x, "text")),
                            jr[N_JOURNALS - 1 - i].text);
        assert_int_equal(json_integer_value(json_object_get(x, "mood")),
                         jr[N_JOURNALS - 1 - i].mood);
    }
    assert_int_equal(json_array_size(json_object_get(r, "notes")), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "notes"), 0), "text")), notes[1]);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "notes"), 1), "text")), notes[0]);

    /* ---- the text report: the same figures, 80 columns ---- */
    {
        dbk_run_result t = tc_cli("review", "Sam R", NULL);
        char pk[16];
        assert_int_equal(t.status, 0);
        fits_80(t.out);
        must_contain(t.out, "42 CFR part 2 prohibits unauthorized use or disclosure of these "
                            "records.");
        snprintf(buf, sizeof buf, "!! REPORTED USE: %d cravings ended in use", nused);
        must_contain(t.out, buf);
        assert_true(strstr(t.out, "REPORTED USE") < strstr(t.out, "ENGAGEMENT"));
        assert_true(strstr(t.out, "ENGAGEMENT") < strstr(t.out, "CRAVINGS"));
        assert_true(strstr(t.out, "CRAVINGS") < strstr(t.out, "CHECKLIST"));
        assert_true(strstr(t.out, "CHECKLIST") < strstr(t.out, "JOURNAL"));
        assert_true(strstr(t.out, "JOURNAL") < strstr(t.out, "YOUR NOTES"));
        must_contain(t.out, "ENGAGEMENT: entries on 1 of 7 days (14%)");
        fmt_num(pk, sizeof pk, peak);
        snprintf(buf, sizeof buf, "CRAVINGS: %d, mean %.1f, peak %s (0-10)", count, sum / count,
                 pk);
        must_contain(t.out, buf);
        snprintf(buf, sizeof buf, "  HALT: hungry %d, angry %d, lonely %d, tired %d", halt[0],
                 halt[1], halt[2], halt[3]);
        must_contain(t.out, buf);
        for (i = 0; i < ntc && i < 5; i++) {
            snprintf(buf, sizeof buf, "    %3d  %s: %s\n", tc[i].n, kinds[tc[i].kind],
                     values[tc[i].kind][tc[i].value]);
            must_contain(t.out, buf);
        }
        for (i = 0; i < ncc; i++) {
            snprintf(buf, sizeof buf, "    %-40s %3d used  %3d resisted", copings[cc[i].k],
                     cc[i].uses, cc[i].resisted);
            must_contain(t.out, buf);
        }
        for (i = 0; i < 3; i++) {
            snprintf(buf, sizeof buf, "  %-24s %3d  %3.0f%%  streak 1", checked[i], 1, 100.0 / 7);
            must_contain(t.out, buf);
        }
        for (int k = 0; k < N_JOURNALS; k++) {
            /* Each word of each entry, in order (long ones are wrapped). */
            char w[400], *save = NULL, *tok;
            const char *at = t.out;
            memcpy(w, jr[k].text, sizeof w);
            for (tok = strtok_r(w, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
                const char *hit = strstr(at, tok);
                if (hit == NULL)
                    fail_msg("journal %d: \"%s\" missing or out of order", k, tok);
                at = hit + strlen(tok);
            }
        }
        must_contain(t.out, notes[0]);
        must_contain(t.out, notes[1]);
        must_contain(t.out, "  assigned, not practised: call_sponsor\n");
        dbk_run_result_free(&t);
    }

    /* ---- HTML: for the browser check ---- */
    {
        const char *art = getenv("DAYBOOK_ARTIFACTS");
        char path[4200], exp[4200];
        struct stat st;
        FILE *e;
        int cdays = 0;
        assert_non_null(art);
        snprintf(path, sizeof path, "%s/review.html", art);
        ok(tc_cli("review", "Sam R", "--format", "html", "--out", path, NULL), "review html");
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        json_array_foreach(json_object_get(c, "per_day"), i, x)
            cdays += json_integer_value(json_object_get(x, "count")) > 0;
        snprintf(exp, sizeof exp, "%s/expected.txt", art);
        e = fopen(exp, "w");
        assert_non_null(e);
        fprintf(e, "circles=%d\ndays=7\njournal=%d\nnotes=2\nlapses=%d\n", cdays, N_JOURNALS,
                nused);
        fclose(e);
    }
    json_decref(r);

    /* ---- session done: the next review starts today ---- */
    ok(tc_cli("session", "done", "Sam R", NULL), "session done");
    r = cli_json("review since", "review", "Sam R", "--since", "last-session", "--format",
                 "json", NULL);
    p = json_object_get(r, "period");
    assert_string_equal(json_string_value(json_object_get(p, "since")), "last-session");
    assert_int_equal(json_integer_value(json_object_get(p, "days")), 1);
    assert_true(json_is_string(json_object_get(p, "last_session")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "cravings"), "count")),
                     count);
    json_decref(r);
    {
        /* A long period still fits 80 columns in text. */
        time_t now = time(NULL) - 99 * 86400;
        struct tm tm;
        char since[16];
        localtime_r(&now, &tm);
        strftime(since, sizeof since, "%Y-%m-%d", &tm);
        r = cli_json("review 100 days", "review", "Sam R", "--since", since, "--format", "json",
                     NULL);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "period"), "days")),
                         100);
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
    }

    /* Unassigning retires the item: no longer on the list of the period. */
    ok(tc_cli("unassign", "Sam R", "call_sponsor", NULL), "unassign");
    r = cli_json("review after unassign", "review", "Sam R", "--format", "json", NULL);
    ck = json_object_get(r, "checklist");
    assert_int_equal(json_array_size(json_object_get(ck, "assigned_not_practised")), 0);
    assert_int_equal(json_array_size(json_object_get(ck, "items")), 11);
    json_decref(r);
    ok(tc_cli("sync", NULL), "counselor sync unassign");

    /* The client reads the notes after sync, and sees who holds a key. */
    as(f->clhome);
    ok(tc_cli("sync", NULL), "client sync notes");
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
    ok(tc_cli("journal", "-m", "before the revocation", NULL), "journal");
    ok(tc_cli("sync", NULL), "sync");
    as(f->cohome);
    ok(tc_cli("sync", NULL), "counselor sync");
    snprintf(prefix, sizeof prefix, "%.8s", f->client_id);
    ok(tc_cli("review", "--", prefix, NULL), "review before"); /* an id may start with - */

    as(f->clhome);
    snprintf(prefix, sizeof prefix, "%.8s", f->counselor_id);
    j = cli_json("revoke", "--json", "revoke", prefix, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "revoked")), f->counselor_id);
    assert_int_equal(json_integer_value(json_object_get(j, "epoch")), 2);
    json_decref(j);
    {
        dbk_run_result t = tc_cli("revoke", prefix, NULL); /* again: nothing more to rotate */
        assert_int_equal(t.status, 0);
        dbk_run_result_free(&t);
    }
    ok(tc_cli("journal", "-m", CANARY, NULL), "journal after");
    ok(tc_cli("sync", NULL), "sync after");

    /* The server's access log: the counselor was granted epoch 1 only, then revoked;
     * the new entry was written under epoch 2. */
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
    assert_int_equal(grants_to_counselor, 1);
    assert_int_equal(revokes, 1);
    assert_true(writes_e2 >= 1);
    json_decref(j);

    /* The counselor: sync reports the stream, review refuses, nothing new opens. */
    as(f->cohome);
    {
        dbk_run_result t = tc_cli("--json", "sync", NULL);
        assert_int_equal(t.status, 1);
        must_contain(t.err, "could not be synced");
        must_contain(t.out, "\"pulled\":0");
        dbk_run_result_free(&t);
        snprintf(prefix, sizeof prefix, "%.8s", f->client_id);
        t = tc_cli("review", "--", prefix, NULL);
        assert_int_equal(t.status, 1);
        must_contain(t.err, "revoked your access");
        assert_int_equal(strlen(t.out), 0);
        dbk_run_result_free(&t);
        t = tc_cli("note", "-m", "still there?", "--", prefix, NULL);
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
