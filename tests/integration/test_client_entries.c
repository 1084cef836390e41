/*
 * The client's history and checklist commands, run as the real `daybook`
 * (today, check, uncheck, show, edit, rm, trends, export), with a real daybookd
 * where a counselor takes part (a counselor-assigned checklist item arrives by
 * sync). Every figure of `trends --json` is checked against values this file
 * computes from the cravings it logged. No plaintext reaches the profile's files.
 *
 * Streaks over several days cannot be made without a clock: the CLI part checks
 * today's streak (1 after check, 0 after uncheck) and test_streak_function below
 * covers multi-day streaks on client/book/daycount.c, compiled into this test.
 */
#include "tc.h"

#include "dbk/base64.h"
#include "dbk/error.h"
#include "dbk/fingerprint.h"
#include "dbk/init.h"

#include <fcntl.h>
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
#include <sqlite3.h>

/* The streak and day functions of the CLI, tested directly. */
#include "../../client/book/daycount.c"

#define CANARY "CANARY-entries-7f3a91"

struct fx {
    dbk_server srv;
    char *home;         /* the test's temp dir */
    char profile[4096]; /* DAYBOOK_HOME, inside home */
    tc_account co;
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char pass[4096];
    FILE *p;

    assert_int_equal(dbk_server_start(&f->srv, NULL), 0);
    f->home = dbk_tmpdir("entries");
    snprintf(pass, sizeof pass, "%s/passphrase", f->home);
    snprintf(f->profile, sizeof f->profile, "%s/profile", f->home);
    p = fopen(pass, "w");
    fputs("a long client passphrase\n", p);
    fclose(p);
    setenv("DAYBOOK_HOME", f->profile, 1);
    setenv("DAYBOOK_PASSPHRASE_FILE", pass, 1);
    setenv("DAYBOOK_UNLOCK_SECONDS", DBK_TEST_UNLOCK_SECONDS, 1);
    unsetenv("NO_COLOR");
    tc_new_counselor(&f->srv, &f->co, "Counselor E");
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

/* Asserts success, parses stdout as JSON and frees the result. */
static json_t *
ok_json(dbk_run_result r)
{
    json_t *j;
    if (r.status != 0)
        fail_msg("daybook exited %d: %s", r.status, r.err);
    j = json_loads(r.out, 0, NULL);
    if (j == NULL)
        fail_msg("not JSON: %s", r.out);
    dbk_run_result_free(&r);
    return j;
}

/* Asserts success and frees the result. */
static void
ok(dbk_run_result r)
{
    if (r.status != 0)
        fail_msg("daybook exited %d: %s", r.status, r.err);
    dbk_run_result_free(&r);
}

/* The "id" of a --json write command's answer. */
static char *
new_id(dbk_run_result r)
{
    json_t *j = ok_json(r);
    char *id = strdup(json_string_value(json_object_get(j, "id")));
    json_decref(j);
    assert_int_equal(strlen(id), DBK_ID_TEXT_LEN);
    return id;
}

static dbk_id
init_client(void)
{
    json_t *j = ok_json(tc_cli("--json", "init", NULL));
    const char *a = json_string_value(json_object_get(j, "account"));
    dbk_id id;
    assert_int_equal(dbk_id_from_text(&id, a, strlen(a)), 0);
    json_decref(j);
    return id;
}

/* The enrollment URI a counselor's device would show for a new invite. */
static char *
invite_uri(struct fx *f, const unsigned char *fp_sign_pk, const unsigned char *fp_box_pk)
{
    return tc_invite_uri(&f->srv, &f->co, fp_sign_pk, fp_box_pk);
}

static dbk_id
enrolled_client(struct fx *f)
{
    dbk_id me = init_client();
    char *uri = invite_uri(f, f->co.keys->sign_pk, f->co.keys->box_pk);
    ok(tc_cli("enroll", uri, "--yes", NULL));
    free(uri);
    return me;
}

/* The client's shared stream and its key at epoch 1, as the counselor's grant gives them. */
static void
counselor_stream(struct fx *f, const dbk_id *client, dbk_id *stream, unsigned char key[32],
                 unsigned char client_pk[32])
{
    assert_true(tc_counselor_stream(&f->srv, &f->co, client, stream, key, client_pk, NULL));
}

/* The plaintexts of the client's shared stream, as the counselor decrypts them. */
static json_t *
counselor_reads(struct fx *f, const dbk_id *client)
{
    long st;
    json_t *out = json_array(), *recs, *e;
    unsigned char key[32], client_pk[32];
    dbk_id stream;
    size_t i;

    counselor_stream(f, client, &stream, key, client_pk);
    recs = tc_req(&f->srv, &f->co, "GET", tc_path("/v1/streams/%s/records", &stream), NULL, &st);
    assert_int_equal(st, 200);
    json_array_foreach(json_object_get(recs, "records"), i, e) {
        tc_account author;
        char *pt;
        memset(&author, 0, sizeof author);
        dbk_envelope_hdr h;
        const char *b = json_string_value(json_object_get(e, "envelope"));
        unsigned char env[70000];
        size_t len;
        assert_int_equal(dbk_b64_decode(env, sizeof env, &len, b, strlen(b)), 0);
        assert_int_equal(dbk_envelope_parse(env, len, &h), 0);
        if (dbk_id_equal(&h.author, &f->co.id))
            continue; /* the counselor's own records */
        author.id = *client;
        author.keys = dbk_account_keys_from_secrets(key, key); /* only sign_pk is used */
        memcpy(author.keys->sign_pk, client_pk, 32);
        pt = tc_open(b, &author, &stream, 1, key);
        dbk_account_keys_free(author.keys);
        assert_non_null(pt);
        json_array_append_new(out, json_loads(pt, 0, NULL));
        free(pt);
    }
    json_decref(recs);
    return out;
}

static bool
dir_contains(const char *dir, const char *needle)
{
    const char *argv[] = {"grep", "-r", "-a", "-q", "-F", needle, dir, NULL};
    dbk_run_result r;
    assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
    dbk_run_result_free(&r);
    return r.status == 0;
}

static char *
read_all(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *b;
    long n;
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, fp), (size_t)n);
    b[n] = '\0';
    fclose(fp);
    return b;
}

static unsigned
file_mode(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return (unsigned)(sb.st_mode & 07777);
}

static double
absd(double v)
{
    return v < 0 ? -v : v;
}

static int64_t
today_day(void)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    return dbk_day_from_civil(tm.tm_year + 1900, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday);
}

/* The item of a `today --json` answer with id, or NULL. */
static json_t *
today_item(json_t *today, const char *id)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(today, "items"), i, it)
        if (strcmp(json_string_value(json_object_get(it, "id")), id) == 0)
            return it;
    return NULL;
}

/* ------------------------------------------------------------------------ */

/* Multi-day streaks, and the calendar arithmetic under them. */
static void
test_streak_function(void **state)
{
    int64_t d, t = dbk_day_from_civil(2025, 3, 14);
    char out[11];
    (void)state;

    assert_int_equal(dbk_day_from_civil(1970, 1, 1), 0);
    assert_true(dbk_day_parse("2024-02-29", &d));
    dbk_day_format(d + 1, out);
    assert_string_equal(out, "2024-03-01");
    assert_false(dbk_day_parse("2025-02-29", &d));
    assert_false(dbk_day_parse("2025-13-01", &d));
    assert_false(dbk_day_parse("2025-1-01", &d));
    assert_true(dbk_day_parse("2025-12-31T23:59:00-05:00", &d)); /* a date-time's date */
    dbk_day_format(d + 1, out);
    assert_string_equal(out, "2026-01-01");
    for (int64_t k = -700000; k < 2900000; k += 997) { /* round trip, years 0 to 9900 */
        dbk_day_format(k, out);
        assert_true(dbk_day_parse(out, &d));
        assert_int_equal(d, k);
    }

    assert_int_equal(dbk_streak(NULL, 0, t), 0);
    {
        int64_t v[] = {t};
        assert_int_equal(dbk_streak(v, 1, t), 1);
    }
    {
        int64_t v[] = {t - 2, t, t - 1, t - 1, t - 4}; /* any order, duplicates */
        assert_int_equal(dbk_streak(v, 5, t), 3);
    }
    {
        /* Not checked yet today: the run that ended yesterday is still alive. */
        int64_t v[] = {t - 1, t - 2, t - 3, t - 5};
        assert_int_equal(dbk_streak(v, 4, t), 3);
    }
    {
        int64_t v[] = {t - 2, t - 3}; /* yesterday missed: broken */
        assert_int_equal(dbk_streak(v, 2, t), 0);
    }
    {
        int64_t v[] = {t + 1, t + 2}; /* days after today do not count */
        assert_int_equal(dbk_streak(v, 2, t), 0);
    }
    {
        /* Across a month and a leap day. */
        int64_t v[4];
        assert_true(dbk_day_parse("2024-02-28", &v[0]));
        assert_true(dbk_day_parse("2024-02-29", &v[1]));
        assert_true(dbk_day_parse("2024-03-01", &v[2]));
        assert_true(dbk_day_parse("2024-03-02", &v[3]));
        assert_int_equal(dbk_streak(v, 4, v[3]), 4);
    }
}

static const char *const default_ids[] = {
    "attended_treatment", "called_support", "practised_coping_skill", "exercise",
    "regular_meals",      "slept_enough",   "took_medication",        "avoided_high_risk",
    "scheduled_day",      "mindfulness",    "journaling",
};

static void
test_checklist_today_check_uncheck(void **state)
{
    struct fx *f = *state;
    json_t *t, *j, *it;
    dbk_run_result r;
    size_t i;
    char record[DBK_ID_TEXT_LEN + 1] = "";

    (void)f;
    (void)init_client(); /* offline: no server needed for the checklist */
    t = ok_json(tc_cli("--json", "today", NULL));
    assert_int_equal(json_array_size(json_object_get(t, "items")), 11);
    json_array_foreach(json_object_get(t, "items"), i, it) {
        assert_string_equal(json_string_value(json_object_get(it, "id")), default_ids[i]);
        assert_string_equal(json_string_value(json_object_get(it, "source")), "default");
        assert_false(json_is_true(json_object_get(it, "checked")));
        assert_int_equal(json_integer_value(json_object_get(it, "streak")), 0);
    }
    assert_int_equal(json_integer_value(json_object_get(t, "done")), 0);
    assert_int_equal(json_integer_value(json_object_get(t, "total")), 11);
    json_decref(t);

    j = ok_json(tc_cli("--json", "check", "called_support", "exercise", NULL));
    assert_true(json_is_true(json_object_get(j, "saved")));
    assert_int_equal(json_integer_value(json_object_get(j, "done")), 2);
    json_decref(j);
    t = ok_json(tc_cli("--json", "today", NULL));
    assert_true(json_is_true(json_object_get(today_item(t, "called_support"), "checked")));
    assert_int_equal(json_integer_value(json_object_get(today_item(t, "called_support"), "streak")),
                     1);
    assert_int_equal(json_integer_value(json_object_get(today_item(t, "exercise"), "streak")), 1);
    assert_int_equal(json_integer_value(json_object_get(today_item(t, "journaling"), "streak")), 0);
    assert_int_equal(json_integer_value(json_object_get(t, "done")), 2);
    json_decref(t);

    /* Checking again changes nothing and writes nothing. */
    j = ok_json(tc_cli("--json", "check", "called_support", NULL));
    assert_false(json_is_true(json_object_get(j, "saved")));
    json_decref(j);

    /* The text view: boxes and the streak. */
    r = tc_cli("today", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "[x] called_support"));
    assert_non_null(strstr(r.out, "[ ] journaling"));
    assert_non_null(strstr(r.out, "streak: 1 day"));
    assert_non_null(strstr(r.out, "2 of 11 done today"));
    dbk_run_result_free(&r);

    j = ok_json(tc_cli("--json", "uncheck", "exercise", NULL));
    assert_true(json_is_true(json_object_get(j, "saved")));
    assert_int_equal(json_array_size(json_object_get(j, "checked")), 1);
    json_decref(j);
    t = ok_json(tc_cli("--json", "today", NULL));
    assert_false(json_is_true(json_object_get(today_item(t, "exercise"), "checked")));
    assert_int_equal(json_integer_value(json_object_get(today_item(t, "exercise"), "streak")), 0);
    assert_int_equal(json_integer_value(json_object_get(today_item(t, "called_support"), "streak")),
                     1);
    json_decref(t);

    /* Unknown items: a clear error with a suggestion, and nothing written. */
    r = tc_cli("check", "excercise", NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "no checklist item 'excercise'; did you mean 'exercise'?"));
    dbk_run_result_free(&r);
    r = tc_cli("check", "called_suport", "journaling", NULL);
    assert_int_equal(r.status, 2); /* all or nothing */
    assert_non_null(strstr(r.err, "did you mean 'called_support'"));
    dbk_run_result_free(&r);
    r = tc_cli("uncheck", "zzzz_not_an_item", NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "no checklist item 'zzzz_not_an_item'"));
    dbk_run_result_free(&r);
    r = tc_cli("check", NULL);
    assert_int_equal(r.status, 2);
    dbk_run_result_free(&r);
    t = ok_json(tc_cli("--json", "today", NULL));
    assert_false(json_is_true(json_object_get(today_item(t, "journaling"), "checked")));
    json_decref(t);

    /* One record for the day, with a revision per change: check, then uncheck. */
    j = ok_json(tc_cli("--json", "export", NULL));
    json_array_foreach(j, i, it) {
        json_t *e = json_object_get(it, "entry");
        if (strcmp(json_string_value(json_object_get(e, "type")), "checklist_day") == 0) {
            assert_string_equal(record, "");
            snprintf(record, sizeof record, "%s", json_string_value(json_object_get(it, "id")));
            assert_int_equal(json_array_size(json_object_get(e, "checked")), 1);
        }
    }
    json_decref(j);
    assert_int_equal(strlen(record), DBK_ID_TEXT_LEN);
    j = ok_json(tc_cli("--json", "show", record, NULL));
    assert_int_equal(json_integer_value(json_object_get(j, "revision_count")), 2);
    json_decref(j);
}

static void
test_counselor_assigned_items(void **state)
{
    struct fx *f = *state;
    dbk_id me = enrolled_client(f), stream, rec;
    unsigned char key[32], client_pk[32];
    char cid[DBK_ID_TEXT_LEN + 1], plain[1024];
    json_t *env, *body, *resp, *t, *seen, *e;
    dbk_run_result r;
    long st;
    size_t i;
    bool found = false;

    /* The counselor assigns a skill and retires a default item, in the client's stream. */
    counselor_stream(f, &me, &stream, key, client_pk);
    dbk_id_to_text(&f->co.id, cid);
    snprintf(plain, sizeof plain,
             "{\"type\":\"checklist_def\",\"v\":1,\"items\":["
             "{\"id\":\"walk_after_dinner\",\"label\":\"Walk after dinner\",\"source\":"
             "\"counselor\",\"assigned_by\":\"%s\",\"active\":true},"
             "{\"id\":\"took_medication\",\"label\":\"Took prescribed medication\",\"source\":"
             "\"default\",\"active\":false}]}",
             cid);
    dbk_id_random(&rec);
    env = tc_envelope(&f->co, &stream, 1, key, &rec, plain);
    body = json_pack("{s:[{s:o}]}", "records", "envelope", env);
    resp = tc_req(&f->srv, &f->co, "POST", tc_path("/v1/streams/%s/records", &stream), body, &st);
    assert_int_equal(st, 200);
    json_decref(resp);
    json_decref(body);

    ok(tc_cli("sync", NULL));
    t = ok_json(tc_cli("--json", "today", NULL));
    assert_int_equal(json_integer_value(json_object_get(t, "total")), 11); /* 11 - 1 + 1 */
    assert_null(today_item(t, "took_medication"));
    assert_non_null(today_item(t, "walk_after_dinner"));
    assert_string_equal(
        json_string_value(json_object_get(today_item(t, "walk_after_dinner"), "source")),
        "counselor");
    json_decref(t);
    r = tc_cli("today", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Assigned by ")); /* the counselor's name, from enrollment */
    assert_non_null(strstr(r.out, "Walk after dinner"));
    assert_null(strstr(r.out, "took_medication"));
    dbk_run_result_free(&r);

    r = tc_cli("check", "walk_after_diner", NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "did you mean 'walk_after_dinner'"));
    dbk_run_result_free(&r);
    r = tc_cli("check", "took_medication", NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "retired"));
    dbk_run_result_free(&r);
    ok(tc_cli("check", "walk_after_dinner", NULL));
    t = ok_json(tc_cli("--json", "today", NULL));
    assert_true(json_is_true(json_object_get(today_item(t, "walk_after_dinner"), "checked")));
    assert_int_equal(
        json_integer_value(json_object_get(today_item(t, "walk_after_dinner"), "streak")), 1);
    json_decref(t);

    /* After sync the counselor reads the day's checklist with the assigned item ticked. */
    ok(tc_cli("sync", NULL));
    seen = counselor_reads(f, &me);
    json_array_foreach(seen, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "type")), "checklist_day") == 0) {
            found = true;
            assert_int_equal(json_array_size(json_object_get(e, "checked")), 1);
            assert_string_equal(json_string_value(json_array_get(json_object_get(e, "checked"), 0)),
                                "walk_after_dinner");
        }
    }
    assert_true(found);
    json_decref(seen);
}

static void
test_show_edit_rm(void **state)
{
    struct fx *f = *state;
    char *jid, *pid, *cid, prefix[7], edtest[4096], script[4096], path[4200];
    json_t *j, *revs;
    dbk_run_result r;
    FILE *fp;

    (void)init_client();
    jid = new_id(tc_cli("--json", "journal", "-m", "first version " CANARY, "--mood", "2", NULL));
    pid = new_id(tc_cli("--json", "journal", "-m", "private thoughts " CANARY, "--private", NULL));
    cid = new_id(tc_cli("--json", "craving", "--intensity", "4", "--outcome", "resisted", "--coping",
                     "urge_surfing", "--situation", "after work " CANARY, NULL));

    /* show by a 6-character prefix; shorter prefixes and unknown ids are refused clearly. */
    snprintf(prefix, sizeof prefix, "%.6s", jid);
    r = tc_cli("show", prefix, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "first version " CANARY));
    assert_non_null(strstr(r.out, jid));
    assert_null(strstr(r.out, "earlier or conflicting"));
    dbk_run_result_free(&r);
    r = tc_cli("show", "abcde", NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "at least its first 6 characters"));
    dbk_run_result_free(&r);
    r = tc_cli("show", "zzzzzzzzzz", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "no entry 'zzzzzzzzzz'"));
    dbk_run_result_free(&r);
    j = ok_json(tc_cli("--json", "show", cid, NULL));
    assert_string_equal(json_string_value(json_object_get(j, "type")), "craving");
    assert_string_equal(json_string_value(json_object_get(j, "stream")), "shared");
    assert_int_equal(json_integer_value(json_object_get(j, "revision_count")), 1);
    json_decref(j);

    /* edit -m: the new text shows, the old one is kept as an earlier revision. */
    ok(tc_cli("edit", prefix, "-m", "second version " CANARY, NULL));
    r = tc_cli("show", jid, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "second version"));
    assert_null(strstr(r.out, "first version"));
    {
        char note[128];
        snprintf(note, sizeof note,
                 "1 earlier or conflicting revision kept; daybook show %s --revisions", jid);
        assert_non_null(strstr(r.out, note));
    }
    dbk_run_result_free(&r);
    r = tc_cli("show", jid, "--revisions", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "second version"));
    assert_non_null(strstr(r.out, "first version"));
    dbk_run_result_free(&r);
    j = ok_json(tc_cli("--json", "show", jid, "--revisions", NULL));
    revs = json_object_get(j, "revisions");
    assert_int_equal(json_array_size(revs), 2);
    assert_true(json_is_true(json_object_get(json_array_get(revs, 0), "current")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_array_get(revs, 1), "entry"),
                                          "text")),
        "first version " CANARY);
    /* An edit keeps what it does not change: the mood and written_at. */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "entry"), "mood")), 2);
    assert_true(json_equal(
        json_object_get(json_object_get(json_array_get(revs, 0), "entry"), "written_at"),
        json_object_get(json_object_get(json_array_get(revs, 1), "entry"), "written_at")));
    json_decref(j);

    /* edit with $EDITOR: a 0600 file in the profile directory, gone afterwards. */
    snprintf(edtest, sizeof edtest, "%s/edtest", f->home);
    assert_int_equal(mkdir(edtest, 0700), 0);
    snprintf(script, sizeof script, "%s/editor.sh", f->home);
    fp = fopen(script, "w");
    fprintf(fp, "#!/bin/sh\n"
                "stat -c %%a \"$1\" > '%s/mode'\n"
                "dirname \"$1\" > '%s/dir'\n"
                "cat \"$1\" > '%s/before'\n"
                "printf 'third, from the editor\\n\\n' > \"$1\"\n",
            edtest, edtest, edtest);
    fclose(fp);
    assert_int_equal(chmod(script, 0700), 0);
    setenv("EDITOR", script, 1);
    ok(tc_cli("edit", jid, NULL));
    snprintf(path, sizeof path, "%s/mode", edtest);
    {
        char *m = read_all(path);
        assert_string_equal(m, "600\n");
        free(m);
    }
    snprintf(path, sizeof path, "%s/dir", edtest);
    {
        char *d = read_all(path), want[4200];
        snprintf(want, sizeof want, "%s\n", f->profile);
        assert_string_equal(d, want);
        free(d);
    }
    snprintf(path, sizeof path, "%s/before", edtest);
    {
        char *b = read_all(path);
        assert_string_equal(b, "second version " CANARY "\n");
        free(b);
    }
    {
        const char *argv[] = {"sh", "-c", "ls \"$1\" | grep -c '^edit-'", "sh", f->profile, NULL};
        assert_int_equal(dbk_run(argv, NULL, 30, &r), 0);
        assert_string_equal(r.out, "0\n"); /* the temporary file is gone */
        dbk_run_result_free(&r);
    }
    j = ok_json(tc_cli("--json", "show", jid, NULL));
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "entry"), "text")),
                        "third, from the editor");
    assert_int_equal(json_integer_value(json_object_get(j, "revision_count")), 3);
    json_decref(j);
    /* An editor that fails changes nothing and leaves no file. */
    setenv("EDITOR", "false", 1);
    r = tc_cli("edit", jid, NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "nothing changed"));
    dbk_run_result_free(&r);
    unsetenv("EDITOR");
    j = ok_json(tc_cli("--json", "show", jid, NULL));
    assert_int_equal(json_integer_value(json_object_get(j, "revision_count")), 3);
    json_decref(j);

    /* A private entry stays private when edited. */
    ok(tc_cli("edit", pid, "-m", "private, edited " CANARY, NULL));
    j = ok_json(tc_cli("--json", "show", pid, NULL));
    assert_string_equal(json_string_value(json_object_get(j, "stream")), "private");
    assert_false(json_is_true(json_object_get(json_object_get(j, "entry"), "shared")));
    json_decref(j);

    /* A craving: intensity, outcome and note change; the rest is kept. */
    r = tc_cli("edit", cid, "--intensity", "9", "--outcome", "used", "--used-what", "beer", "--note",
            "at the game", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "988")); /* a use or a high craving shows the crisis card */
    dbk_run_result_free(&r);
    j = ok_json(tc_cli("--json", "show", cid, NULL));
    {
        json_t *e = json_object_get(j, "entry");
        assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "intensity"),
                                                            "value")),
                         9);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(e, "outcome"), "result")), "used");
        assert_string_equal(json_string_value(json_object_get(
                                json_object_get(json_object_get(e, "outcome"), "used"),
                                "substance")),
                            "beer");
        assert_string_equal(json_string_value(json_object_get(e, "note")), "at the game");
        assert_string_equal(json_string_value(json_object_get(e, "situation")),
                            "after work " CANARY);
        assert_string_equal(json_string_value(json_array_get(json_object_get(e, "coping"), 0)),
                            "urge_surfing");
    }
    json_decref(j);
    ok(tc_cli("edit", cid, "--outcome", "resisted", NULL));
    j = ok_json(tc_cli("--json", "show", cid, NULL));
    assert_null(json_object_get(json_object_get(json_object_get(j, "entry"), "outcome"), "used"));
    json_decref(j);
    r = tc_cli("edit", cid, "--intensity", "11", NULL);
    assert_int_equal(r.status, 2);
    dbk_run_result_free(&r);
    r = tc_cli("edit", jid, "--intensity", "3", NULL); /* not a journal flag */
    assert_int_equal(r.status, 2);
    dbk_run_result_free(&r);

    /* rm: gone from the log, shown as removed, old revisions still viewable. */
    ok(tc_cli("rm", "--", jid, NULL));
    j = ok_json(tc_cli("--json", "log", NULL));
    {
        size_t i;
        json_t *e;
        assert_int_equal(json_array_size(j), 3); /* the craving, a private journal, the day the journals ticked */
        json_array_foreach(j, i, e)
            assert_string_not_equal(json_string_value(json_object_get(e, "id")), jid);
    }
    json_decref(j);
    r = tc_cli("show", jid, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "was removed"));
    assert_null(strstr(r.out, "third, from the editor"));
    assert_non_null(strstr(r.out, "3 earlier or conflicting revisions kept"));
    dbk_run_result_free(&r);
    j = ok_json(tc_cli("--json", "show", jid, "--revisions", NULL));
    assert_true(json_is_true(json_object_get(j, "removed")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "entry"), "type")), "tombstone");
    assert_non_null(json_object_get(json_object_get(j, "entry"), "deleted_at"));
    assert_null(json_object_get(json_object_get(j, "entry"), "text")); /* nothing kept in it */
    assert_int_equal(json_array_size(json_object_get(j, "revisions")), 4);
    json_decref(j);
    r = tc_cli("edit", jid, "-m", "again", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "was removed"));
    dbk_run_result_free(&r);
    r = tc_cli("rm", "--", jid, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "already removed"));
    dbk_run_result_free(&r);

    /* Nothing readable in the profile: not the texts, not the edits. */
    assert_false(dir_contains(f->profile, CANARY));
    free(jid);
    free(pid);
    free(cid);
}

/* ---- trends: every figure against values computed here ---- */

struct craving_in {
    const char *intensity, *scale, *outcome, *used_what;
    const char *triggers[4]; /* "kind:value" for --trigger, NULL-ended */
    const char *halt;        /* for --halt, or NULL */
    const char *coping[3];
    double v10;          /* the intensity on 0-10, as logged (before any edit) */
    const char *edit_to; /* --intensity for a later edit, or NULL */
    bool removed;        /* rm'd afterwards: counts nowhere */
};

static const struct craving_in cravings_in[] = {
    {"8", "0-10", "resisted", NULL, {"places:the bar", NULL}, "tired,lonely",
     {"urge_surfing", "call_support", NULL}, 8, NULL, false},
    {"3", "0-10", "resisted", NULL, {"emotions:bored", NULL}, "tired", {"distraction", NULL}, 3,
     NULL, false},
    {"6", "0-10", "used", "beer", {"places:the bar", "people:old friend", NULL}, "tired",
     {"urge_surfing", NULL}, 6, NULL, false},
    {"55", "1-100", "resisted", NULL, {"places:the bar", "emotions:bored", NULL}, NULL,
     {"urge_surfing", NULL}, 5.5, NULL, false},
    {"0", "0-10", "resisted", NULL, {NULL}, NULL, {"distraction", NULL}, 0, NULL, false},
    {"2", "0-10", "resisted", NULL, {"places:work", NULL}, "hungry",
     {"call_support", "mindfulness", NULL}, 2, "10", false},
    {"9", "0-10", "used", "wine", {"places:casino", NULL}, "angry", {"self_talk", NULL}, 9, NULL,
     true},
};
#define NCRAVINGS (sizeof cravings_in / sizeof cravings_in[0])

struct tally {
    char key[96];
    int n, resisted;
};

static void
tally_add(struct tally *t, size_t *n, const char *key, bool resisted)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(t[i].key, key) == 0) {
            t[i].n++;
            t[i].resisted += resisted;
            return;
        }
    snprintf(t[*n].key, sizeof t[*n].key, "%s", key);
    t[*n].n = 1;
    t[*n].resisted = resisted;
    (*n)++;
}

/* Count descending, then the key ("kind:value") ascending. */
static int
tally_cmp(const void *a, const void *b)
{
    const struct tally *x = a, *y = b;
    if (x->n != y->n)
        return y->n - x->n;
    return strcmp(x->key, y->key);
}

static void
test_trends_figures(void **state)
{
    struct fx *f = *state;
    char *ids[NCRAVINGS], date[NCRAVINGS][11];
    struct tally trig[64], cop[64];
    size_t ntrig = 0, ncop = 0, count = 0, used = 0;
    double sum = 0, peak = -1, day_peak[28], day_sum[28];
    int day_n[28] = {0};
    int64_t today, from;
    json_t *j, *x;
    dbk_run_result r;
    size_t i;

    (void)f;
    (void)init_client();
    for (i = 0; i < NCRAVINGS; i++) {
        const struct craving_in *c = &cravings_in[i];
        const char *argv[32] = {"--json", "craving", "--intensity", c->intensity, "--scale",
                                c->scale, "--outcome", c->outcome};
        size_t n = 8;
        if (c->used_what) {
            argv[n++] = "--used-what";
            argv[n++] = c->used_what;
        }
        for (size_t k = 0; c->triggers[k]; k++) {
            argv[n++] = "--trigger";
            argv[n++] = c->triggers[k];
        }
        if (c->halt) {
            argv[n++] = "--halt";
            argv[n++] = c->halt;
        }
        for (size_t k = 0; c->coping[k]; k++) {
            argv[n++] = "--coping";
            argv[n++] = c->coping[k];
        }
        argv[n] = NULL;
        ids[i] = new_id(tc_cli(argv[0], argv[1], argv[2], argv[3], argv[4], argv[5], argv[6],
                            argv[7], argv[8], argv[9], argv[10], argv[11], argv[12], argv[13],
                            argv[14], argv[15], argv[16], argv[17], argv[18], argv[19], argv[20],
                            NULL));
        if (c->edit_to)
            ok(tc_cli("edit", ids[i], "--intensity", c->edit_to, NULL));
        if (c->removed)
            ok(tc_cli("rm", "--", ids[i], NULL));
        /* The local day each craving was logged on, from its own record. */
        j = ok_json(tc_cli("--json", "show", ids[i], "--revisions", NULL));
        x = json_object_get(json_array_get(json_object_get(j, "revisions"),
                                           json_array_size(json_object_get(j, "revisions")) - 1),
                            "entry");
        snprintf(date[i], sizeof date[i], "%.10s",
                 json_string_value(json_object_get(x, "occurred_at")));
        json_decref(j);
    }
    ok(tc_cli("check", "called_support", "mindfulness", NULL));
    j = ok_json(tc_cli("--json", "trends", NULL));
    today = today_day();
    from = today - 27;

    /* What the figures must be, from the table above. */
    for (i = 0; i < 28; i++)
        day_peak[i] = day_sum[i] = 0;
    for (i = 0; i < NCRAVINGS; i++) {
        const struct craving_in *c = &cravings_in[i];
        double v = c->edit_to ? atof(c->edit_to) : c->v10;
        bool resisted = strcmp(c->outcome, "resisted") == 0;
        int64_t d;
        char key[96];
        if (c->removed)
            continue;
        assert_true(dbk_day_parse(date[i], &d));
        assert_true(d >= from && d <= today);
        count++;
        sum += v;
        if (v > peak)
            peak = v;
        size_t di = (size_t)(d - from);
        if (day_n[di] == 0 || v > day_peak[di])
            day_peak[di] = v;
        day_n[di]++;
        day_sum[di] += v;
        used += !resisted;
        for (size_t k = 0; c->triggers[k]; k++)
            tally_add(trig, &ntrig, c->triggers[k], false);
        if (c->halt) {
            char h[64], *save = NULL;
            snprintf(h, sizeof h, "%s", c->halt);
            for (char *tok = strtok_r(h, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                snprintf(key, sizeof key, "halt:%s", tok);
                tally_add(trig, &ntrig, key, false);
            }
        }
        for (size_t k = 0; c->coping[k]; k++)
            tally_add(cop, &ncop, c->coping[k], resisted);
    }
    qsort(trig, ntrig, sizeof *trig, tally_cmp);
    qsort(cop, ncop, sizeof *cop, tally_cmp);

    {
        char fs[11], ts[11];
        dbk_day_format(from, fs);
        dbk_day_format(today, ts);
        assert_int_equal(json_integer_value(json_object_get(j, "days")), 28);
        assert_string_equal(json_string_value(json_object_get(j, "from")), fs);
        assert_string_equal(json_string_value(json_object_get(j, "to")), ts);
    }
    x = json_object_get(j, "cravings");
    assert_int_equal(json_integer_value(json_object_get(x, "count")), count);
    assert_true(absd(json_number_value(json_object_get(x, "mean")) - sum / (double)count) < 1e-9);
    assert_true(absd(json_number_value(json_object_get(x, "peak")) - peak) < 1e-9);
    assert_int_equal(count, 6);
    assert_true(absd(peak - 10.0) < 1e-9); /* the edited craving, not the removed one */

    /* Per day and the sparkline: a blank for days without cravings. */
    {
        static const char *const blocks[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                             "\u2585", "\u2586", "\u2587", "\u2588"};
        char spark[28 * 4 + 1] = "";
        json_t *pd = json_object_get(j, "per_day");
        assert_int_equal(json_array_size(pd), 28);
        for (i = 0; i < 28; i++) {
            json_t *d = json_array_get(pd, i);
            char ds[11];
            dbk_day_format(from + (int64_t)i, ds);
            assert_string_equal(json_string_value(json_object_get(d, "date")), ds);
            assert_int_equal(json_integer_value(json_object_get(d, "count")), day_n[i]);
            if (day_n[i] == 0) {
                assert_true(json_is_null(json_object_get(d, "peak")));
                assert_true(json_is_null(json_object_get(d, "mean")));
                strcat(spark, " ");
            } else {
                assert_true(absd(json_number_value(json_object_get(d, "peak")) - day_peak[i]) <
                            1e-9);
                assert_true(absd(json_number_value(json_object_get(d, "mean")) -
                                 day_sum[i] / day_n[i]) < 1e-9);
                strcat(spark, blocks[(int)(day_peak[i] * 0.7 + 0.5)]);
            }
        }
        assert_string_equal(json_string_value(json_object_get(j, "sparkline")), spark);
    }

    /* Top 5 triggers, all kinds and HALT. */
    x = json_object_get(j, "triggers");
    assert_int_equal(json_array_size(x), ntrig < 5 ? ntrig : 5);
    for (i = 0; i < json_array_size(x); i++) {
        json_t *t = json_array_get(x, i);
        char key[96];
        snprintf(key, sizeof key, "%s:%s", json_string_value(json_object_get(t, "kind")),
                 json_string_value(json_object_get(t, "value")));
        assert_string_equal(key, trig[i].key);
        assert_int_equal(json_integer_value(json_object_get(t, "count")), trig[i].n);
    }
    assert_string_equal(trig[0].key, "halt:tired"); /* the table's own check: 3 each, */
    assert_string_equal(trig[1].key, "places:the bar"); /* ordered by name */

    /* Coping strategies: how many cravings used each, and how many of those were resisted. */
    x = json_object_get(j, "coping");
    assert_int_equal(json_array_size(x), ncop);
    for (i = 0; i < ncop; i++) {
        json_t *c = json_array_get(x, i);
        assert_string_equal(json_string_value(json_object_get(c, "strategy")), cop[i].key);
        assert_int_equal(json_integer_value(json_object_get(c, "uses")), cop[i].n);
        assert_int_equal(json_integer_value(json_object_get(c, "resisted")), cop[i].resisted);
    }
    for (i = 0; i < ncop; i++) /* only the removed craving used self_talk */
        assert_string_not_equal(cop[i].key, "self_talk");

    /* Reported use: listed plainly. */
    x = json_object_get(j, "used");
    assert_int_equal(json_integer_value(json_object_get(x, "count")), used);
    assert_int_equal(used, 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(x, "entries"), 0), "substance")),
                        "beer");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(x, "entries"), 0), "id")),
        ids[2]);

    /* Checklist completion per item over the period. */
    x = json_object_get(j, "checklist");
    assert_int_equal(json_array_size(x), 11);
    for (i = 0; i < json_array_size(x); i++) {
        json_t *c = json_array_get(x, i);
        const char *item = json_string_value(json_object_get(c, "item"));
        int want = strcmp(item, "called_support") == 0 || strcmp(item, "mindfulness") == 0;
        assert_string_equal(item, default_ids[i]);
        assert_int_equal(json_integer_value(json_object_get(c, "days_checked")), want);
        assert_int_equal(json_integer_value(json_object_get(c, "days")), 28);
        assert_true(absd(json_number_value(json_object_get(c, "rate")) - want / 28.0) < 1e-12);
    }
    json_decref(j);

    /* --days 1: the same cravings, all from today; one day of checklist. */
    j = ok_json(tc_cli("--json", "trends", "--days", "1", NULL));
    {
        size_t today_count = 0;
        char ts[11];
        dbk_day_format(today, ts);
        for (i = 0; i < NCRAVINGS; i++)
            today_count += !cravings_in[i].removed && strcmp(date[i], ts) == 0;
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "cravings"),
                                                            "count")),
                         today_count);
        assert_int_equal(json_array_size(json_object_get(j, "per_day")), 1);
        assert_true(absd(json_number_value(json_object_get(
                             json_array_get(json_object_get(j, "checklist"), 1), "rate")) -
                         1.0) < 1e-12);
    }
    json_decref(j);

    /* The text view says the same, plainly. */
    r = tc_cli("trends", NULL);
    assert_int_equal(r.status, 0);
    {
        char line[128];
        snprintf(line, sizeof line, "%zu cravings, mean intensity %.1f, peak 10", count,
                 sum / (double)count);
        assert_non_null(strstr(r.out, line));
    }
    assert_non_null(strstr(r.out, "places: the bar"));
    assert_non_null(strstr(r.out, "Cravings that ended in use: 1"));
    assert_null(strstr(r.out, "relapse"));
    assert_null(strstr(r.out, "fail"));
    dbk_run_result_free(&r);
    r = tc_cli("trends", "--days", "0", NULL);
    assert_int_equal(r.status, 2);
    dbk_run_result_free(&r);
    for (i = 0; i < NCRAVINGS; i++)
        free(ids[i]);
}

/* ---- export ---- */

/* Parses RFC 4180 text into an array of arrays of strings. */
static json_t *
parse_csv(const char *s)
{
    json_t *rows = json_array(), *row = json_array();
    char field[8192];
    size_t n = 0;
    bool quoted = false;

    for (;; s++) {
        if (quoted) {
            assert_true(*s != '\0');
            if (*s == '"' && s[1] == '"') {
                field[n++] = '"';
                s++;
            } else if (*s == '"') {
                quoted = false;
            } else {
                field[n++] = *s;
            }
            continue;
        }
        if (*s == '"') {
            quoted = true;
        } else if (*s == ',' || *s == '\r' || *s == '\0') {
            field[n] = '\0';
            if (*s == '\0' && n == 0 && json_array_size(row) == 0)
                break;
            json_array_append_new(row, json_string(field));
            n = 0;
            if (*s == '\r') {
                assert_int_equal(s[1], '\n');
                s++;
                json_array_append_new(rows, row);
                row = json_array();
            }
            if (*s == '\0') {
                json_array_append_new(rows, row);
                row = NULL;
                break;
            }
        } else {
            field[n++] = *s;
        }
        assert_true(n < sizeof field);
    }
    json_decref(row);
    return rows;
}

static void
test_export_and_no_plaintext(void **state)
{
    struct fx *f = *state;
    const char *multi = "line one, with \"quotes\"\nline two " CANARY;
    char *jid, *pid, *cid, *gone, out[4200], csv[4200];
    json_t *j, *e, *rows;
    dbk_run_result r;
    size_t i;
    int seen = 0;
    FILE *fp;

    (void)enrolled_client(f);
    jid = new_id(tc_cli("--json", "journal", "-m", multi, "--tag", "group", NULL));
    pid = new_id(tc_cli("--json", "journal", "-m", "private " CANARY, "--private", NULL));
    cid = new_id(tc_cli("--json", "craving", "--intensity", "7", "--outcome", "resisted",
                     "--trigger", "people:my brother", "--halt", "angry", "--coping",
                     "leave_situation", "--duration", "25", "--note", "note " CANARY, NULL));
    gone = new_id(tc_cli("--json", "journal", "-m", "to be removed " CANARY, NULL));
    ok(tc_cli("rm", "--", gone, NULL));
    ok(tc_cli("check", "attended_treatment", NULL));

    /* JSON to a file: an existing file is refused and left as it was without --force;
     * with it, overwritten and made mode 0600 even over a readable file. */
    snprintf(out, sizeof out, "%s/export.json", f->home);
    fp = fopen(out, "w");
    fputs("old", fp);
    fclose(fp);
    assert_int_equal(chmod(out, 0644), 0);
    r = tc_cli("export", "--out", out, NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "already exists"));
    assert_non_null(strstr(r.err, "--force"));
    dbk_run_result_free(&r);
    {
        char *text = read_all(out);
        assert_string_equal(text, "old");
        free(text);
    }
    j = ok_json(tc_cli("--json", "export", "--out", out, "--force", NULL));
    /* two journals, a craving, the checklist day, the consent signed at enrollment (not
     * the counselor's pin kept then: keys, not a record) */
    assert_int_equal(json_integer_value(json_object_get(j, "entries")), 5);
    json_decref(j);
    assert_int_equal(file_mode(out), 0600);
    {
        char *text = read_all(out);
        j = json_loads(text, 0, NULL);
        free(text);
    }
    assert_true(json_is_array(j));
    assert_int_equal(json_array_size(j), 5); /* two journals, a craving, the checklist day,
                                                the consent */
    json_array_foreach(j, i, e) {
        const char *id = json_string_value(json_object_get(e, "id"));
        json_t *entry = json_object_get(e, "entry");
        assert_string_not_equal(id, gone);
        if (strcmp(id, jid) == 0) {
            assert_string_equal(json_string_value(json_object_get(e, "stream")), "shared");
            assert_string_equal(json_string_value(json_object_get(entry, "text")), multi);
            seen |= 1;
        } else if (strcmp(id, pid) == 0) {
            assert_string_equal(json_string_value(json_object_get(e, "stream")), "private");
            seen |= 2;
        } else if (strcmp(id, cid) == 0) {
            assert_int_equal(json_integer_value(json_object_get(
                                 json_object_get(entry, "intensity"), "value")),
                             7);
            seen |= 4;
        } else if (strcmp(json_string_value(json_object_get(entry, "type")), "consent") == 0) {
            assert_string_equal(json_string_value(json_object_get(e, "stream")), "private");
            seen |= 16;
        } else {
            assert_string_equal(json_string_value(json_object_get(entry, "type")),
                                "checklist_day");
            seen |= 8;
        }
    }
    assert_int_equal(seen, 31);
    json_decref(j);
    /* The same to standard output. */
    j = ok_json(tc_cli("export", "--format", "json", NULL));
    assert_int_equal(json_array_size(j), 5);
    json_decref(j);

    /* CSV: a header and one row per entry, fields quoted where needed. */
    snprintf(csv, sizeof csv, "%s/export.csv", f->home);
    r = tc_cli("export", "--format", "csv", "--out", csv, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Wrote 5 entries"));
    dbk_run_result_free(&r);
    assert_int_equal(file_mode(csv), 0600);
    {
        char *text = read_all(csv);
        rows = parse_csv(text);
        free(text);
    }
    assert_int_equal(json_array_size(rows), 6); /* the header and five entries */
    {
        json_t *hdr = json_array_get(rows, 0);
        size_t ncol = json_array_size(hdr);
        int col_id = -1, col_type = -1, col_text = -1, col_trig = -1, col_dur = -1;
        for (i = 0; i < ncol; i++) {
            const char *h = json_string_value(json_array_get(hdr, i));
            col_id = strcmp(h, "id") == 0 ? (int)i : col_id;
            col_type = strcmp(h, "type") == 0 ? (int)i : col_type;
            col_text = strcmp(h, "text") == 0 ? (int)i : col_text;
            col_trig = strcmp(h, "triggers") == 0 ? (int)i : col_trig;
            col_dur = strcmp(h, "duration") == 0 ? (int)i : col_dur;
        }
        assert_int_equal(col_id, 0);
        assert_int_equal(col_type, 2);
        assert_true(col_text > 0 && col_trig > 0 && col_dur > 0);
        assert_string_equal(json_string_value(json_array_get(hdr, 3)), "time");
        for (i = 1; i < json_array_size(rows); i++) {
            json_t *row = json_array_get(rows, i);
            const char *id = json_string_value(json_array_get(row, 0));
            assert_int_equal(json_array_size(row), ncol);
            if (strcmp(id, jid) == 0)
                assert_string_equal(json_string_value(json_array_get(row, (size_t)col_text)),
                                    multi);
            if (strcmp(id, cid) == 0) {
                assert_string_equal(json_string_value(json_array_get(row, (size_t)col_type)),
                                    "craving");
                assert_string_equal(json_string_value(json_array_get(row, (size_t)col_trig)),
                                    "people:my brother;halt:angry");
                assert_string_equal(json_string_value(json_array_get(row, (size_t)col_dur)),
                                    "25");
            }
        }
    }
    json_decref(rows);
    r = tc_cli("export", "--format", "xml", NULL);
    assert_int_equal(r.status, 2);
    dbk_run_result_free(&r);
    r = tc_cli("export", "--help", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "used_substance"));
    dbk_run_result_free(&r);

    /* After a sync the profile and the server still hold no plaintext. */
    ok(tc_cli("sync", NULL));
    assert_false(dir_contains(f->profile, CANARY));
    assert_false(dir_contains(f->srv.dir, CANARY));
    free(jid);
    free(pid);
    free(cid);
    free(gone);
}

/* ---- durable before "Saved" ---- */

/* A profile file's path. */
static void
profile_file(const struct fx *f, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", f->profile, name);
}

/*
 * What the kernel saw of one process, from strace's log at path, read in order with
 * what earlier processes left (d): the log's and the profile directory's descriptors,
 * whether the log has writes not yet synced, and whether its name still waits for a
 * sync of the directory (set when the log is opened by a process before which it did
 * not exist). Each "Saved" written to stdout is counted, and counted durable only when
 * every write to the log before it was synced and no sync of the directory is owed.
 */
struct durable {
    int wal_fd, dir_fd;
    bool dirty, synced, name_owed;
    int saved, saved_durable;
};

static void
durable_read(const struct fx *f, const char *path, bool wal_was_there, struct durable *d)
{
    char wal[4200], line[8192], name[4200];
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    profile_file(f, "daybook.db-wal", wal, sizeof wal);
    d->wal_fd = d->dir_fd = -1;
    d->synced = false; /* this process's own syncs; what is dirty stays dirty */
    while (fgets(line, sizeof line, in) != NULL) {
        int fd = -1, ret = -1;
        char *eq = strrchr(line, '=');
        if (eq != NULL)
            ret = atoi(eq + 1);
        if (sscanf(line, "openat(AT_FDCWD, \"%4199[^\"]\"", name) == 1 && ret >= 0) {
            if (strcmp(name, wal) == 0) {
                d->wal_fd = ret;
                d->name_owed = d->name_owed || !wal_was_there;
            } else if (strcmp(name, f->profile) == 0) {
                d->dir_fd = ret;
            }
        } else if (sscanf(line, "close(%d)", &fd) == 1) {
            if (fd == d->wal_fd)
                d->wal_fd = -1;
            if (fd == d->dir_fd)
                d->dir_fd = -1;
        } else if ((sscanf(line, "pwrite64(%d,", &fd) == 1 || sscanf(line, "write(%d,", &fd) == 1 ||
                    sscanf(line, "pwritev(%d,", &fd) == 1) &&
                   fd >= 0 && fd == d->wal_fd) {
            d->dirty = true;
        } else if ((sscanf(line, "fdatasync(%d)", &fd) == 1 ||
                    sscanf(line, "fsync(%d)", &fd) == 1) &&
                   ret == 0 && fd >= 0) {
            if (fd == d->wal_fd) {
                d->dirty = false;
                d->synced = true;
            }
            if (fd == d->dir_fd)
                d->name_owed = false;
        } else if (strncmp(line, "write(1, \"Saved", 15) == 0) {
            d->saved++;
            d->saved_durable += d->synced && !d->dirty && !d->name_owed;
        }
    }
    fclose(in);
}

/* Runs `daybook a1 a2 ...` under strace into trace (a 0 status asserted). */
static void
traced(const char *strace, const char *trace, const char *a1, const char *a2, const char *a3,
       const char *a4, const char *a5)
{
    /* LeakSanitizer cannot run under ptrace (the ASan build's daybook would abort at
     * exit): leaks are off for the traced command only, the rest of its options kept. */
    const char *asan = getenv("ASAN_OPTIONS");
    char env[1024];
    snprintf(env, sizeof env, "ASAN_OPTIONS=%s%sdetect_leaks=0", asan ? asan : "",
             asan && *asan ? ":" : "");
    const char *argv[] = {strace,
                          "-o",
                          trace,
                          "-s",
                          "16",
                          "-e",
                          "trace=openat,close,write,pwrite64,pwritev,fsync,fdatasync",
                          "-E",
                          env,
                          dbk_bin("DAYBOOK"),
                          a1,
                          a2,
                          a3,
                          a4,
                          a5,
                          NULL};
    dbk_run_result r;
    assert_int_equal(dbk_run(argv, NULL, 120, &r), 0);
    if (r.status != 0)
        fail_msg("daybook %s under strace: exit %d: %s", a1, r.status, r.err);
    dbk_run_result_free(&r);
}

/* The profile's write-ahead log checkpointed and deleted, as SQLite's own tools do. */
static void
log_taken_away(const char *db, const char *wal)
{
    sqlite3 *conn;
    struct stat sb;
    assert_int_equal(sqlite3_open(db, &conn), SQLITE_OK);
    assert_int_equal(sqlite3_exec(conn, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(conn);
    assert_int_not_equal(stat(wal, &sb), 0); /* the log is gone */
}

/*
 * "Saved" means on disk: a power cut after it loses nothing. Each `daybook craving` is
 * watched with strace: every write to the write-ahead log before "Saved" is synced, and
 * so is the log's name in the directory once the log was made anew. The log is taken
 * away (checkpointed and deleted, as SQLite's own tools do), a reading command makes it
 * again (a reader never syncs), and the next craving must still leave the log's name
 * synced before it says Saved. Skipped where strace is not installed or cannot trace
 * (scripts/deps.sh --test installs it).
 */
static void
test_saved_is_durable(void **state)
{
    struct fx *f = *state;
    const char *strace = NULL,
               *where[] = {"/usr/bin/strace", "/bin/strace", "/usr/local/bin/strace"};
    char trace[4200], wal[4200], db[4200];
    struct durable d = {0};
    struct stat sb;

    for (size_t i = 0; i < sizeof where / sizeof where[0] && strace == NULL; i++)
        if (access(where[i], X_OK) == 0)
            strace = where[i];
    if (strace == NULL)
        skip();
    {
        /* Installed but unable to trace (ptrace refused in some containers): skipped too. */
        char probe[4300];
        snprintf(probe, sizeof probe, "%s -o /dev/null /bin/true >/dev/null 2>&1", strace);
        if (system(probe) != 0)
            skip();
    }
    init_client();
    profile_file(f, "daybook.db-wal", wal, sizeof wal);
    profile_file(f, "daybook.db", db, sizeof db);
    snprintf(trace, sizeof trace, "%s/trace", f->home);

    bool there = stat(wal, &sb) == 0;
    traced(strace, trace, "craving", "--intensity", "3", "--outcome", "resisted");
    durable_read(f, trace, there, &d);

    log_taken_away(db, wal);
    traced(strace, trace, "log", NULL, NULL, NULL, NULL);
    durable_read(f, trace, false, &d);
    assert_int_equal(stat(wal, &sb), 0); /* made again by a reader */
    traced(strace, trace, "craving", "--intensity", "4", "--outcome", "resisted");
    durable_read(f, trace, true, &d);

    /* Taken away again and made again, empty, by another process that never syncs its
     * name (a tool, a crash between making it and the directory's sync): the craving
     * finds a log there and must still sync its name before Saved. */
    log_taken_away(db, wal);
    int made = open(wal, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(made >= 0);
    close(made);
    traced(strace, trace, "craving", "--intensity", "5", "--outcome", "resisted");
    durable_read(f, trace, false, &d);

    dbk_report("saved is durable",
               "`daybook craving` watched by strace: before \"Saved\", the log synced after "
               "its last write, and its name synced once the log was made anew (by a reader "
               "here, after the log was checkpointed and deleted; then by another process, "
               "empty, never synced)",
               "\"Saved\" printed: %d; with the log and its name durable: %d", d.saved,
               d.saved_durable);
    assert_int_equal(d.saved, 3);
    assert_int_equal(d.saved_durable, 3);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_streak_function),
        cmocka_unit_test_setup_teardown(test_checklist_today_check_uncheck, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counselor_assigned_items, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_edit_rm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trends_figures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_and_no_plaintext, setup, teardown),
        cmocka_unit_test_setup_teardown(test_saved_is_durable, setup, teardown),
    };
    if (dbk_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
