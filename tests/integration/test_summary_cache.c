/*
 * The counselor's summary cache (client/report/summary.h, issue 20) with the real
 * daybook and daybookd: the caseload and the review drawn from it must say what the
 * records say, never less. Each check compares `clients --json` and `review --json`
 * against the same commands with DAYBOOK_NO_SUMMARY=1 (computed from every entry, as
 * before the cache), on the same profile, and checks the figures a counselor reads:
 *
 * (a) a lapse and risk language that arrive by sync after the cache was made show in
 *     `clients` (USE REPORTED, RISK) and in the review's Read first;
 * (b) a cache damaged on disk (a flipped byte), deleted, or screened with another
 *     list of risk phrases is rebuilt, and the output equals the output without it;
 * (c) after the client revokes the counselor and shares again (a new epoch and
 *     stream key, no new entry), the cache sealed under the old key, put back as an
 *     old copy of the file would hold it, is not believed: it is rewritten, and the
 *     output equals the output without it;
 * (d) the Read first items of old flagged entries, which a review takes from the
 *     cache without opening them, equal what opening them says, and one marked
 *     discussed leaves both;
 * (e) the trend against the previous period, whose cravings a review takes from the
 *     cache without opening them (intensities on both scales, a lapse among them),
 *     equals what opening them says, and counts a craving that arrives in it later;
 * (f) the counselor's own entries (session markers, private notes, aliases), which a
 *     review reads from the cache of its own streams without opening them, say what
 *     opening them says, after each is added, and after a marker is taken back (a new
 *     revision of it) and the cache is damaged;
 * (g) the client's entries a review shows, which it reads from the documents kept
 *     for the client's stream without opening them, say what opening them says:
 *     after an entry is edited and another removed (new revisions of the same
 *     records) while the documents are an old copy that still holds the first
 *     revisions, after 'daybook clients' pulled what they do not hold yet, and with
 *     the documents damaged; a note the counselor writes into the client's stream
 *     reads as pending until sent;
 * (h) a change of the records that leaves their count and greatest rowid as they were
 *     (a revision deleted, and the row stored next taking its rowid, as SQLite gives
 *     a new row the greatest rowid plus one) is not missed: the review says what the
 *     records say;
 * (i) documents that still open (sealed again under the cache's own key, as only a
 *     bug of ours could write them) but do not parse: each entry the review shows is
 *     read from the store instead, the review is the same as without the cache, and
 *     nothing is said about it;
 * (j) the cache's writes are committed without a sync of the disk, and the next
 *     write that is not the cache's is synced again (syncs counted by a VFS under the
 *     profile's, registered before the first profile is opened).
 *
 * The cache is read and damaged through the counselor's daybook.db with SQLite, as
 * a disk fault or an old copy of the file would leave it; for (i) the counselor's keys
 * are also unlocked in-process, to seal the damaged documents again.
 */
#include "tc.h"

#include "entries.h"
#include "session.h"
#include "summary.h"
#include "sync.h"
#include "trust.h"
#include "stream_key.h"
#include "unlock.h"

#include "dbk/error.h"
#include "dbk/id.h"
#include "dbk/init.h"

#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

struct fx {
    dbk_server srv;
    tc_cli_pair_t p;
};

static const char ideation[] = "Nothing helps anymore. I just want to end my life.";

static void
as(const char *home)
{
    setenv("DAYBOOK_HOME", home, 1);
}

/* `daybook --json ARGS...` (offline: no pull), with or without the cache; the
 * freshness line ("data") is left out, as it differs from run to run. */
static json_t *
cli_json(bool cache, const char *a1, ...)
{
    const char *argv[40] = {dbk_bin("DAYBOOK"), "--json", a1};
    size_t n = 3;
    va_list ap;
    dbk_run_result r;
    json_t *j;

    va_start(ap, a1);
    while (n < 39 && (argv[n] = va_arg(ap, const char *)) != NULL)
        n++;
    va_end(ap);
    if (!cache)
        setenv("DAYBOOK_NO_SUMMARY", "1", 1);
    assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
    unsetenv("DAYBOOK_NO_SUMMARY");
    if (r.status != 0)
        fail_msg("%s: exit %d: %s", a1, r.status, r.err);
    if ((j = json_loads(r.out, 0, NULL)) == NULL)
        fail_msg("%s: not JSON: %s", a1, r.out);
    dbk_run_result_free(&r);
    json_object_del(j, "data");
    return j;
}

/* clients and the client's review, with the cache, must equal both without it. */
static void
same_as_without_cache(struct fx *f, json_t **clients, json_t **review)
{
    json_t *c1 = cli_json(true, "clients", "--offline", NULL);
    json_t *r1 = cli_json(true, "review", "--offline", "--", f->p.client_id, NULL);
    json_t *c0 = cli_json(false, "clients", "--offline", NULL);
    json_t *r0 = cli_json(false, "review", "--offline", "--", f->p.client_id, NULL);
    if (!json_equal(c1, c0)) {
        char *a = json_dumps(c1, JSON_COMPACT), *b = json_dumps(c0, JSON_COMPACT);
        fail_msg("clients with the cache:\n%s\nwithout:\n%s", a, b);
    }
    if (!json_equal(r1, r0)) {
        char *a = json_dumps(json_object_get(r1, "read_first"), JSON_COMPACT),
             *b = json_dumps(json_object_get(r0, "read_first"), JSON_COMPACT),
             *c = json_dumps(json_object_get(r1, "cravings"), JSON_COMPACT),
             *d = json_dumps(json_object_get(r0, "cravings"), JSON_COMPACT);
        fail_msg("the review differs with the cache; read_first with:\n%s\nwithout:\n%s\n"
                 "cravings with:\n%s\nwithout:\n%s",
                 a, b, c, d);
    }
    json_decref(c0);
    json_decref(r0);
    *clients = c1;
    *review = r1;
}

static const json_t *
row(const json_t *clients)
{
    assert_int_equal(json_array_size(json_object_get(clients, "clients")), 1);
    return json_array_get(json_object_get(clients, "clients"), 0);
}

static bool
has_flag(const json_t *r, const char *flag)
{
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(r, "flags"), i, x)
        if (strcmp(json_string_value(x), flag) == 0)
            return true;
    return false;
}

/* ---- the cache on disk ---- */

static sqlite3 *
counselor_db(struct fx *f)
{
    char path[4300];
    sqlite3 *db;
    snprintf(path, sizeof path, "%s/daybook.db", f->p.counselor_home);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static void
exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err ? err : "?");
}

/* The summaries of the client's streams (the counselor's own, whose owner also owns a
 * private stream, have theirs too). */
#define CLIENT_SUMMARIES                                                                       \
    "(SELECT * FROM summaries WHERE stream IN (SELECT id FROM streams WHERE owner !="          \
    " (SELECT owner FROM streams WHERE kind = 2)))"

/* The client's summaries as one hex string (NULL when there are none). */
static char *
cache_hex(struct fx *f)
{
    sqlite3 *db = counselor_db(f);
    sqlite3_stmt *s;
    char *out = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT group_concat(hex(body), '/') FROM"
                                            " (SELECT body FROM " CLIENT_SUMMARIES
                                            " ORDER BY stream)",
                                        -1, &s, NULL),
                     SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL)
        out = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return out;
}

/* The greatest rowid among the records of the client's one summarised stream. */
static long long
stream_max_rowid(struct fx *f)
{
    sqlite3 *db = counselor_db(f);
    sqlite3_stmt *s;
    long long v = -1;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT max(rowid) FROM records WHERE stream ="
                                            " (SELECT stream FROM " CLIENT_SUMMARIES ")",
                                        -1, &s, NULL),
                     SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    assert_true(v > 0);
    return v;
}

/* Flips one bit of the byte at off of every sealed summary. */
static void
flip_byte(struct fx *f, int off)
{
    sqlite3 *db = counselor_db(f);
    sqlite3_stmt *s, *u;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT stream, body FROM summaries", -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "UPDATE summaries SET body = ?2 WHERE stream = ?1", -1, &u, NULL),
        SQLITE_OK);
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        int len = sqlite3_column_bytes(s, 1);
        unsigned char *b = malloc((size_t)len);
        assert_true(len > off);
        memcpy(b, sqlite3_column_blob(s, 1), (size_t)len);
        b[off] ^= 1;
        sqlite3_bind_blob(u, 1, sqlite3_column_blob(s, 0), sqlite3_column_bytes(s, 0),
                          SQLITE_TRANSIENT);
        sqlite3_bind_blob(u, 2, b, len, SQLITE_TRANSIENT);
        assert_int_equal(sqlite3_step(u), SQLITE_DONE);
        sqlite3_reset(u);
        free(b);
        n++;
    }
    assert_true(n > 0);
    sqlite3_finalize(s);
    sqlite3_finalize(u);
    sqlite3_close(db);
}

/* ---- fixture ---- */

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_int_equal(dbk_server_start(&f->srv, NULL), 0);
    tc_cli_pair(&f->srv, &f->p);
    /* An ordinary history, synced, and the counselor's cache made by its sync. */
    as(f->p.client_home);
    tc_ok(tc_cli("craving", "--intensity", "3", "--outcome", "resisted", NULL), "craving");
    tc_ok(tc_cli("journal", "-m", "went to group, felt fine", NULL), "journal");
    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->p.counselor_home);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
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

/* The client logs a lapse and risk language and syncs; so does the counselor. */
static void
lapse_and_risk(struct fx *f)
{
    as(f->p.client_home);
    tc_ok(tc_cli("craving", "--intensity", "9", "--outcome", "used", "--used-what", "heroin", NULL),
          "lapse");
    tc_ok(tc_cli("journal", "-m", ideation, NULL), "risk journal");
    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->p.counselor_home);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
}

/* The review counts the one lapse and puts the risk language in Read first. */
static void
review_shows_lapse_and_risk(const json_t *rev)
{
    assert_int_equal(json_integer_value(json_object_get(json_object_get(rev, "lapses"), "count")),
                     1);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(rev, "read_first"), "risk")), 1);
}

/* (a) What arrives by sync after the cache was made is shown, the lapse first. */
static void
test_sync_updates_the_cache(void **state)
{
    struct fx *f = *state;
    json_t *cl, *rev;

    same_as_without_cache(f, &cl, &rev);
    char *before = cache_hex(f);
    assert_non_null(before); /* the counselor's sync made it */
    assert_false(has_flag(row(cl), "USE REPORTED"));
    assert_int_equal(json_integer_value(json_object_get(row(cl), "risk")), 0);
    json_decref(cl);
    json_decref(rev);

    lapse_and_risk(f);
    char *after = cache_hex(f);
    assert_non_null(after);
    assert_string_not_equal(before, after); /* the sync applied what it pulled */

    same_as_without_cache(f, &cl, &rev);
    assert_true(has_flag(row(cl), "USE REPORTED"));
    assert_true(has_flag(row(cl), "HIGH CRAVING"));
    assert_int_equal(json_integer_value(json_object_get(row(cl), "risk")), 1);
    review_shows_lapse_and_risk(rev);
    json_decref(cl);
    json_decref(rev);
    free(before);
    free(after);
}

/* (b) A damaged, deleted or differently screened cache is rebuilt, never believed. */
static void
test_bad_cache_is_rebuilt(void **state)
{
    struct fx *f = *state;
    json_t *cl, *rev;
    sqlite3 *db;

    as(f->p.client_home);
    tc_ok(tc_cli("journal", "-m", "I went by the old bar on Fifth street today", NULL), "journal");
    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->p.counselor_home);
    tc_ok(tc_cli("sync", NULL), "counselor sync");

    /* A flipped byte in the sealed summary. */
    flip_byte(f, 40);
    char *damaged = cache_hex(f);
    same_as_without_cache(f, &cl, &rev);
    char *rebuilt = cache_hex(f);
    assert_string_not_equal(damaged, rebuilt);
    json_decref(cl);
    json_decref(rev);

    /* A truncated one, then none at all. */
    db = counselor_db(f);
    exec(db, "UPDATE summaries SET body = substr(body, 1, 60)");
    sqlite3_close(db);
    same_as_without_cache(f, &cl, &rev);
    json_decref(cl);
    json_decref(rev);
    db = counselor_db(f);
    exec(db, "DELETE FROM summaries");
    sqlite3_close(db);
    same_as_without_cache(f, &cl, &rev);
    assert_int_equal(json_integer_value(json_object_get(row(cl), "risk")), 0);
    json_decref(cl);
    json_decref(rev);

    /* The clinic adds a phrase that an old entry holds: the cache screened without it is
     * stale, and the entry now raises risk language in both. */
    char path[4400];
    snprintf(path, sizeof path, "%s/risk-phrases.txt", f->p.counselor_home);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("intent_to_use: old bar\n", fp);
    fclose(fp);
    same_as_without_cache(f, &cl, &rev);
    assert_int_equal(json_integer_value(json_object_get(row(cl), "risk")), 1);
    json_decref(cl);
    json_decref(rev);
    free(damaged);
    free(rebuilt);
}

/* (c) After a revocation and a new share (a new epoch, a new stream key), the cache
 * sealed under the old key is not believed: it is written again. */
static void
test_cache_under_old_key_is_not_believed(void **state)
{
    struct fx *f = *state;
    json_t *cl, *rev;
    char prefix[16];

    same_as_without_cache(f, &cl, &rev);
    json_decref(cl);
    json_decref(rev);
    json_decref(cli_json(true, "clients", "--offline", NULL)); /* after the review's record */
    char *old = cache_hex(f);
    assert_non_null(old);
    long long mark = stream_max_rowid(f);

    snprintf(prefix, sizeof prefix, "%.8s", f->p.counselor_id);
    as(f->p.client_home);
    tc_ok(tc_cli("revoke", prefix, "--yes", NULL), "revoke");
    tc_ok(tc_cli("share", prefix, "--yes", NULL), "share again");
    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->p.counselor_home);
    tc_ok(tc_cli("sync", NULL), "counselor sync");

    char sql[1 << 16];
    /* The old records and the old cache put back, as an old copy of the file would hold
     * them, beside the new grant: the cache then matches the records, and only the key it
     * was sealed under (the old epoch's) tells it apart. */
    sqlite3 *db = counselor_db(f);
    snprintf(sql, sizeof sql, "DELETE FROM records WHERE rowid > %lld AND stream = (SELECT"
             " stream FROM " CLIENT_SUMMARIES ")", mark);
    exec(db, sql);
    assert_true(strlen(old) + 100 < sizeof sql);
    assert_null(strchr(old, '/')); /* one stream */
    snprintf(sql, sizeof sql, "UPDATE summaries SET body = x'%s' WHERE stream = (SELECT"
             " stream FROM " CLIENT_SUMMARIES ")", old);
    exec(db, sql);
    sqlite3_close(db);

    /* clients alone (a review writes its reviewed record, which would change the mark). */
    json_decref(cli_json(true, "clients", "--offline", NULL));
    char *now = cache_hex(f);
    assert_string_not_equal(old, now);
    same_as_without_cache(f, &cl, &rev);
    json_decref(cl);
    json_decref(rev);
    free(old);
    free(now);
}

/* The Read first item of kind that is carried forward (and holds text), or NULL. */
static const json_t *
carried_item(const json_t *rev, const char *kind, const char *text)
{
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(json_object_get(rev, "read_first"), "items"), i, x) {
        const char *t = json_string_value(json_object_get(x, "text"));
        if (strcmp(json_string_value(json_object_get(x, "kind")), kind) == 0 &&
            json_is_true(json_object_get(x, "carried_forward")) &&
            (text == NULL || (t != NULL && strstr(t, text) != NULL)))
            return x;
    }
    return NULL;
}

/*
 * (d) Flagged entries from before the previous period are not opened by a review:
 * what they carry forward comes from the cache. It must be what opening them says
 * (the use, the craving of 9, the risk language quoted), in the same order, and an
 * item the counselor marks discussed leaves both, the others staying.
 */
static void
test_old_flags_come_from_the_cache(void **state)
{
    struct fx *f = *state;
    json_t *cl, *rev;
    char d40[11], d30[11], d25[11], d20[11], rec[64];

    tc_days_ago(40, d40);
    tc_days_ago(30, d30);
    tc_days_ago(25, d25);
    tc_days_ago(20, d20);
    as(f->p.client_home);
    tc_ok(tc_cli("craving", "--intensity", "4", "--outcome", "resisted", "--at", d40, NULL),
          "first craving");
    tc_ok(tc_cli("craving", "--intensity", "9", "--outcome", "used", "--used-what", "heroin",
                 "--at", d30, NULL),
          "old lapse");
    tc_ok(tc_cli("journal", "-m", ideation, "--at", d25, NULL), "old risk journal");
    tc_ok(tc_cli("craving", "--intensity", "2", "--outcome", "resisted", "--at", d20, NULL),
          "old plain craving");
    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->p.counselor_home);
    tc_ok(tc_cli("sync", NULL), "counselor sync");

    same_as_without_cache(f, &cl, &rev);
    assert_non_null(carried_item(rev, "use", "heroin"));
    assert_non_null(carried_item(rev, "high_craving", NULL));
    const json_t *risk = carried_item(rev, "risk", NULL);
    assert_non_null(risk);
    assert_non_null(strstr(json_string_value(json_object_get(risk, "quote")), "end my life"));
    snprintf(rec, sizeof rec, "%s", json_string_value(json_object_get(risk, "record")));
    json_decref(cl);
    json_decref(rev);

    tc_ok(tc_cli("session", "discussed", f->p.client_id, rec, NULL), "discussed");
    same_as_without_cache(f, &cl, &rev);
    assert_null(carried_item(rev, "risk", NULL));
    assert_non_null(carried_item(rev, "use", "heroin"));
    json_decref(cl);
    json_decref(rev);
}

/* The review's trend against the previous period, as JSON text. */
static char *
trend_text(const json_t *rev)
{
    return json_dumps(json_object_get(json_object_get(rev, "cravings"), "trend"),
                      JSON_COMPACT | JSON_SORT_KEYS);
}

/*
 * (e) The previous period's cravings are not opened by a review (the default period is
 * the last 7 days, so days 8 to 14 back): the trend takes their intensities from the
 * cache and must say what opening them says, to the last digit of the mean (1-100
 * values are tenths), and a craving synced into that period later counts.
 */
static void
test_trend_from_the_cache(void **state)
{
    struct fx *f = *state;
    json_t *cl, *rev;
    char d40[11], d13[11], d11[11], d10[11], d9[11];

    tc_days_ago(40, d40);
    tc_days_ago(13, d13);
    tc_days_ago(11, d11);
    tc_days_ago(10, d10);
    tc_days_ago(9, d9);
    as(f->p.client_home);
    tc_ok(tc_cli("craving", "--intensity", "2", "--outcome", "resisted", "--at", d40, NULL),
       "first craving");
    tc_ok(tc_cli("craving", "--intensity", "47", "--scale", "1-100", "--outcome", "resisted",
              "--at", d13, NULL),
       "1-100 craving");
    tc_ok(tc_cli("craving", "--intensity", "6", "--outcome", "used", "--used-what", "alcohol",
              "--at", d11, NULL),
       "lapse");
    tc_ok(tc_cli("craving", "--intensity", "33", "--scale", "1-100", "--outcome", "resisted",
              "--at", d10, NULL),
       "another 1-100 craving");
    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->p.counselor_home);
    tc_ok(tc_cli("sync", NULL), "counselor sync");

    same_as_without_cache(f, &cl, &rev);
    const json_t *trend = json_object_get(json_object_get(rev, "cravings"), "trend");
    assert_int_equal(json_integer_value(json_object_get(trend, "previous_count")), 3);
    assert_true(json_real_value(json_object_get(trend, "previous_peak")) == 6.0);
    char *before = trend_text(rev);
    json_decref(cl);
    json_decref(rev);

    /* One more in the previous period, after the cache was made. */
    as(f->p.client_home);
    tc_ok(tc_cli("craving", "--intensity", "91", "--scale", "1-100", "--outcome", "resisted",
              "--at", d9, NULL),
       "late craving");
    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->p.counselor_home);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    same_as_without_cache(f, &cl, &rev);
    trend = json_object_get(json_object_get(rev, "cravings"), "trend");
    assert_int_equal(json_integer_value(json_object_get(trend, "previous_count")), 4);
    assert_true(json_real_value(json_object_get(trend, "previous_peak")) == 9.1);
    char *after = trend_text(rev);
    assert_string_not_equal(before, after);
    json_decref(cl);
    json_decref(rev);
    free(before);
    free(after);
}

static const char *
period_since(const json_t *rev)
{
    return json_string_value(json_object_get(json_object_get(rev, "period"), "since"));
}

/*
 * (f) The counselor's own entries come from the cache of their own streams: a session
 * marker (the period starts there), a private note, a new alias, then the marker taken
 * back (a tombstone, a new revision of the same record), and a damaged cache.
 */
static void
test_own_entries_from_the_cache(void **state)
{
    struct fx *f = *state;
    json_t *cl, *rev;

    as(f->p.counselor_home);
    same_as_without_cache(f, &cl, &rev); /* the own streams' cache made */
    assert_string_equal(period_since(rev), "default");
    json_decref(cl);
    json_decref(rev);

    tc_ok(tc_cli("session", "done", f->p.client_id, "--yes", NULL), "session done");
    tc_ok(tc_cli("note", f->p.client_id, "-m", "talked about the weekend plan", "--private",
              NULL),
       "note");
    tc_ok(tc_cli("clients", "alias", f->p.client_id, "Robin Q", NULL), "alias");
    same_as_without_cache(f, &cl, &rev);
    assert_string_equal(period_since(rev), "last-session");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(rev, "client"), "label")), "Robin Q");
    assert_int_equal(json_array_size(json_object_get(rev, "notes")), 1);
    json_decref(cl);
    json_decref(rev);

    tc_ok(tc_cli("session", "undo", f->p.client_id, NULL), "session undo");
    same_as_without_cache(f, &cl, &rev);
    assert_string_equal(period_since(rev), "default");
    json_decref(cl);
    json_decref(rev);

    flip_byte(f, 40);
    same_as_without_cache(f, &cl, &rev);
    assert_string_equal(period_since(rev), "default");
    assert_int_equal(json_array_size(json_object_get(rev, "notes")), 1);
    json_decref(cl);
    json_decref(rev);
}

/* ---- the documents kept for the client's stream (g) ---- */

/* The documents' rows: under ids that are no stream's (summary.c row_of). */
#define DOC_ROWS "(SELECT * FROM summaries WHERE stream NOT IN (SELECT id FROM streams))"

/* The documents' row as hex (NULL when there is none); exactly one is expected. */
static char *
docs_hex(struct fx *f)
{
    sqlite3 *db = counselor_db(f);
    sqlite3_stmt *s;
    char *out = NULL;
    int n = 0;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT hex(body) FROM " DOC_ROWS, -1, &s, NULL),
                     SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) {
        free(out);
        out = strdup((const char *)sqlite3_column_text(s, 0));
        n++;
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    assert_true(n <= 1);
    return out;
}

/* Puts back the documents' row an old copy of the file held. */
static void
docs_put(struct fx *f, const char *hex)
{
    sqlite3 *db = counselor_db(f);
    char *sql = malloc(strlen(hex) + 200);
    sprintf(sql, "UPDATE summaries SET body = x'%s' WHERE stream IN (SELECT stream FROM " DOC_ROWS
                 ")",
            hex);
    exec(db, sql);
    assert_int_equal(sqlite3_changes(db), 1);
    free(sql);
    sqlite3_close(db);
}

/* The journal texts of a review, one string. */
static char *
journal_texts(const json_t *rev)
{
    size_t i;
    const json_t *x;
    char *out = calloc(1, 4096);
    json_array_foreach(json_object_get(rev, "journal"), i, x) {
        strncat(out, json_string_value(json_object_get(x, "text")), 4000 - strlen(out));
        strcat(out, "|");
    }
    return out;
}

/* The "id" of a --json write command's answer. */
static char *
written_id(dbk_run_result r)
{
    json_t *j;
    if (r.status != 0 || (j = json_loads(r.out, 0, NULL)) == NULL)
        fail_msg("exit %d: %s", r.status, r.err);
    char *id = strdup(json_string_value(json_object_get(j, "id")));
    json_decref(j);
    dbk_run_result_free(&r);
    return id;
}

/*
 * (g) The client's entries come from the documents kept for its stream: made by the
 * counselor's sync, used only for the revision they hold. An old copy of them, put
 * back after an entry was edited and another removed, must not show either as it
 * was; 'daybook clients' pulls without bringing them up to date, and the review
 * does; a damaged copy is rebuilt.
 */
static void
test_documents_from_the_cache(void **state)
{
    struct fx *f = *state;
    json_t *cl, *rev;

    as(f->p.client_home);
    char *edited = written_id(tc_cli("--json", "journal", "-m", "first words, kept", NULL));
    char *removed = written_id(tc_cli("--json", "journal", "-m", "a day I want gone", NULL));
    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->p.counselor_home);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    char *old = docs_hex(f);
    assert_non_null(old); /* the sync made them */
    same_as_without_cache(f, &cl, &rev);
    char *texts = journal_texts(rev);
    assert_non_null(strstr(texts, "first words, kept"));
    assert_non_null(strstr(texts, "a day I want gone"));
    free(texts);
    json_decref(cl);
    json_decref(rev);

    /* The client edits one and removes the other; the counselor's documents are put
     * back as the old copy had them (both first revisions). */
    as(f->p.client_home);
    tc_ok(tc_cli("edit", edited, "-m", "second words, now", NULL), "edit");
    tc_ok(tc_cli("rm", "--", removed, NULL), "rm");
    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->p.counselor_home);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    char *synced = docs_hex(f);
    assert_string_not_equal(old, synced); /* the sync applied both */
    docs_put(f, old);
    same_as_without_cache(f, &cl, &rev);
    texts = journal_texts(rev);
    assert_non_null(strstr(texts, "second words, now"));
    assert_null(strstr(texts, "first words, kept"));
    assert_null(strstr(texts, "a day I want gone"));
    free(texts);
    json_decref(cl);
    json_decref(rev);
    char *now = docs_hex(f);
    assert_string_not_equal(old, now); /* brought up to date */

    /* 'clients' pulls a lapse without touching the documents; the review reads it. */
    as(f->p.client_home);
    tc_ok(tc_cli("journal", "-m", ideation, NULL), "risk journal");
    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->p.counselor_home);
    tc_ok(tc_cli("clients", NULL), "clients");
    char *after_clients = docs_hex(f);
    assert_string_equal(now, after_clients);
    same_as_without_cache(f, &cl, &rev);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(rev, "read_first"), "risk")), 1);
    json_decref(cl);
    json_decref(rev);

    /* A note the counselor writes into the client's stream, not sent yet: the review
     * reads it from the documents too, and says it is pending, as the store does. */
    tc_ok(tc_cli("note", f->p.client_id, "-m", "asked about the new job", "--share", NULL),
          "shared note");
    same_as_without_cache(f, &cl, &rev);
    assert_int_equal(json_array_size(json_object_get(rev, "notes")), 1);
    assert_true(json_is_true(json_object_get(json_array_get(json_object_get(rev, "notes"), 0),
                                             "pending")));
    json_decref(cl);
    json_decref(rev);
    /* Several waiting at once (the outbox is searched, not walked): each says so. */
    tc_ok(tc_cli("note", f->p.client_id, "-m", "spoke with the sponsor", "--share", NULL),
          "second note");
    tc_ok(tc_cli("note", f->p.client_id, "-m", "plans for the weekend", "--share", NULL),
          "third note");
    same_as_without_cache(f, &cl, &rev);
    json_t *notes = json_object_get(rev, "notes");
    assert_int_equal(json_array_size(notes), 3);
    for (size_t i = 0; i < 3; i++)
        assert_true(json_is_true(json_object_get(json_array_get(notes, i), "pending")));
    json_decref(cl);
    json_decref(rev);

    /* Damaged: rebuilt, and the same again. */
    flip_byte(f, 40);
    same_as_without_cache(f, &cl, &rev);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(rev, "read_first"), "risk")), 1);
    json_decref(cl);
    json_decref(rev);
    free(edited);
    free(removed);
    free(old);
    free(synced);
    free(now);
    free(after_clients);
}

/*
 * (h) The documents' mark is the count of the stream's revisions and its greatest
 * rowid; a delete followed by an insert that takes the deleted rowid (SQLite's next
 * rowid is the greatest plus one) left both as they were. Here the edited entry's two
 * revisions change places, rowids included: the first is current again, the count and
 * the greatest rowid unchanged, as a revision dropped (restamped) and the next row
 * written would leave them. The review must show what the records say.
 */
static void
test_mark_sees_a_reused_rowid(void **state)
{
    struct fx *f = *state;
    json_t *cl, *rev;
    dbk_id id;
    char hex[2 * DBK_ID_BYTES + 1], sql[2048];

    as(f->p.client_home);
    char *edited = written_id(tc_cli("--json", "journal", "-m", "the words as first written", NULL));
    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->p.counselor_home);
    tc_ok(tc_cli("sync", NULL), "counselor sync"); /* the first revision */
    as(f->p.client_home);
    tc_ok(tc_cli("edit", edited, "-m", "the words as edited", NULL), "edit");
    tc_ok(tc_cli("sync", NULL), "client sync");
    as(f->p.counselor_home);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    same_as_without_cache(f, &cl, &rev);
    json_decref(cl);
    json_decref(rev);

    assert_int_equal(dbk_id_from_text(&id, edited, strlen(edited)), 0);
    for (size_t i = 0; i < DBK_ID_BYTES; i++)
        snprintf(hex + 2 * i, 3, "%02x", id.b[i]);
    long long max_before = stream_max_rowid(f);
    sqlite3 *db = counselor_db(f);
    sqlite3_stmt *q;
    snprintf(sql, sizeof sql, "SELECT count(*), sum(current) FROM records WHERE record = x'%s'", hex);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 2); /* both revisions, the edit current */
    assert_int_equal(sqlite3_column_int(q, 1), 1);
    sqlite3_finalize(q);
    snprintf(sql, sizeof sql,
             "BEGIN;"
             "CREATE TEMP TABLE r AS SELECT rowid AS rid, stream, record, clock, device,"
             " envelope, current, seq, pending FROM records WHERE record = x'%s';"
             "DELETE FROM records WHERE record = x'%s';"
             "INSERT INTO records(rowid, stream, record, clock, device, envelope, current, seq,"
             " pending) SELECT (SELECT rid FROM r WHERE current = 1), stream, record, clock,"
             " device, envelope, 1, seq, pending FROM r WHERE current = 0;"
             "INSERT INTO records(rowid, stream, record, clock, device, envelope, current, seq,"
             " pending) SELECT (SELECT rid FROM r WHERE current = 0), stream, record, clock,"
             " device, envelope, 0, seq, pending FROM r WHERE current = 1;"
             "DROP TABLE r;"
             "COMMIT;",
             hex, hex);
    exec(db, sql);
    sqlite3_close(db);
    assert_int_equal(stream_max_rowid(f), max_before);

    same_as_without_cache(f, &cl, &rev);
    char *texts = journal_texts(rev);
    assert_non_null(strstr(texts, "the words as first written"));
    assert_null(strstr(texts, "the words as edited"));
    free(texts);
    json_decref(cl);
    json_decref(rev);
    free(edited);
}

/* The counselor's session, unlocked, and the client's shared stream and its key. */
static void
counselor_opens_client(struct fx *f, dbk_session *s, dbk_id *client, dbk_local_stream *st,
                       unsigned char skey[32])
{
    as(f->p.counselor_home);
    assert_int_equal(dbk_session_open(s, false), 0);
    assert_int_equal(dbk_unlock(s), 0);
    assert_int_equal(dbk_id_from_text(client, f->p.client_id, strlen(f->p.client_id)), 0);
    assert_int_equal(dbk_local_stream_of(s->L, client, DBK_LOCAL_SHARED, st), 0);
    assert_int_equal(dbk_stream_key(s, &st->id, st->epoch, skey), 0);
}

/*
 * (i) The documents are sealed (XChaCha20-Poly1305), so a fault on disk never opens:
 * that is (b) and (g). What opens but does not parse can only be written by a bug of
 * ours; the review must then read those entries from the store, say nothing alarming,
 * and show what the records say. The documents are opened here with the cache's key
 * (report/summary.c: BLAKE2b-256 keyed with the account's X25519 secret key over
 * "daybook summary v1", the stream id, its epoch, 1 and the stream key), the first
 * byte of every document's plaintext (its '{') made a '!', and sealed again.
 */
static void
spoil_documents(struct fx *f)
{
    static const char label[] = "daybook summary v1", docs_row[] = "daybook summary documents v1";
    dbk_session s;
    dbk_local_stream st;
    unsigned char skey[32], key[32], ep[4], have = 1, ad[11 + 1 + DBK_ID_BYTES + 4];
    dbk_id client, row;
    crypto_generichash_state h;

    counselor_opens_client(f, &s, &client, &st, skey);
    for (int i = 0; i < 4; i++)
        ep[i] = (unsigned char)(st.epoch >> (8 * i));
    crypto_generichash_init(&h, s.keys->box_sk, sizeof s.keys->box_sk, 32);
    crypto_generichash_update(&h, (const unsigned char *)label, sizeof label);
    crypto_generichash_update(&h, st.id.b, DBK_ID_BYTES);
    crypto_generichash_update(&h, ep, sizeof ep);
    crypto_generichash_update(&h, &have, 1);
    crypto_generichash_update(&h, skey, sizeof skey);
    crypto_generichash_final(&h, key, sizeof key);
    crypto_generichash_init(&h, NULL, 0, DBK_ID_BYTES);
    crypto_generichash_update(&h, (const unsigned char *)docs_row, sizeof docs_row);
    crypto_generichash_update(&h, st.id.b, DBK_ID_BYTES);
    crypto_generichash_final(&h, row.b, DBK_ID_BYTES);
    memcpy(ad, "dbk-summary", 11);
    ad[11] = DBK_SUMMARY_VERSION;
    memcpy(ad + 12, st.id.b, DBK_ID_BYTES);
    memcpy(ad + 12 + DBK_ID_BYTES, ep, 4);

    unsigned char *body = NULL;
    size_t len = 0;
    assert_int_equal(dbk_local_summary_get(s.L, &row, &body, &len), 0);
    assert_true(len > 24 + 16 + 48);
    size_t plen = len - 24 - 16;
    unsigned char *plain = malloc(plen);
    assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, body + 24,
                                                                len - 24, ad, sizeof ad, body, key),
                     0);
    assert_memory_equal(plain, "DBKE", 4);
    uint32_t n = (uint32_t)plain[44] | (uint32_t)plain[45] << 8 | (uint32_t)plain[46] << 16 |
                 (uint32_t)plain[47] << 24;
    size_t at = 48 + (size_t)n * 44, spoiled = 0;
    for (uint32_t i = 0; i < n; i++) {
        const unsigned char *r = plain + 48 + (size_t)i * 44;
        uint32_t xlen =
            (uint32_t)r[40] | (uint32_t)r[41] << 8 | (uint32_t)r[42] << 16 | (uint32_t)r[43] << 24;
        assert_true(at + xlen <= plen);
        if (xlen > 44 && plain[at + 44] == '{') {
            plain[at + 44] = '!';
            spoiled++;
        }
        at += xlen;
    }
    assert_true(spoiled > 0);
    crypto_aead_xchacha20poly1305_ietf_encrypt(body + 24, NULL, plain, plen, ad, sizeof ad, NULL,
                                               body, key);
    assert_int_equal(dbk_local_summary_put(s.L, &row, body, len), 0);
    sodium_memzero(plain, plen);
    sodium_memzero(key, sizeof key);
    sodium_memzero(skey, sizeof skey);
    free(plain);
    free(body);
    dbk_session_close(&s);
}

static void
test_documents_that_do_not_parse(void **state)
{
    struct fx *f = *state;
    json_t *cl, *rev;
    dbk_run_result r;

    lapse_and_risk(f);
    char *made = docs_hex(f);
    assert_non_null(made);
    spoil_documents(f);
    char *spoiled = docs_hex(f);
    assert_string_not_equal(made, spoiled);

    same_as_without_cache(f, &cl, &rev);
    char *texts = journal_texts(rev);
    assert_non_null(strstr(texts, "went to group, felt fine"));
    assert_non_null(strstr(texts, ideation));
    free(texts);
    review_shows_lapse_and_risk(rev);
    json_decref(cl);
    json_decref(rev);
    /* The text review: exit 0, and nothing on stderr about it. */
    const char *argv[] = {dbk_bin("DAYBOOK"), "review", "--offline", "--", f->p.client_id, NULL};
    assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
    if (r.status != 0 || r.err[0] != '\0')
        fail_msg("review: exit %d: %s", r.status, r.err);
    assert_non_null(strstr(r.out, "reported use"));
    dbk_run_result_free(&r);
    free(made);
    free(spoiled);
}

/* Whether the profile file in home has a table or trigger named name. */
static bool
has_object(const char *home, const char *name)
{
    char path[4300];
    sqlite3 *db;
    sqlite3_stmt *q;
    bool found;
    snprintf(path, sizeof path, "%s/daybook.db", home);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = ?1", -1, &q, NULL),
        SQLITE_OK);
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    found = sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
    sqlite3_close(db);
    return found;
}

/*
 * The role set after the profile was opened (a counselor's enroll or login): the
 * counselor's tables are there for the rest of the process. A new profile (no role: a
 * client's schema, without summaries or counts) is made a counselor's on the handle
 * that opened it; its summaries and marks must then be written and read at once.
 */
static void
test_role_set_after_open_has_its_tables(void **state)
{
    struct fx *f = *state;
    char dir[4300];
    dbk_local *L;
    dbk_id stream;
    unsigned char *body = NULL;
    size_t len = 0;
    int64_t rows = -1, max_rowid = -1;

    snprintf(dir, sizeof dir, "%s/fresh", f->p.home);
    assert_int_equal(mkdir(dir, 0700), 0);
    randombytes_buf(stream.b, sizeof stream.b);
    assert_int_equal(dbk_local_open(dir, true, &L), 0);
    assert_int_equal(dbk_local_set_role(L, DBK_ROLE_COUNSELOR), 0);
    int put = dbk_local_summary_put(L, &stream, (const unsigned char *)"sealed", 6);
    int got = dbk_local_summary_get(L, &stream, &body, &len);
    int mark = dbk_local_stream_mark(L, &stream, &rows, &max_rowid);
    free(body);
    dbk_local_close(L);
    assert_int_equal(put, 0);
    assert_int_equal(got, 0);
    assert_int_equal(len, 6);
    assert_int_equal(mark, 0);
    assert_int_equal(rows, 0);
}

/* (j) Every sync SQLite asks of a file of this process, counted. The unix VFS gives a
 * database file one table of methods and its log another: each wrapped. */
#define METHOD_TABLES 4
static int syncs;
static sqlite3_vfs counting_vfs;
static sqlite3_io_methods counted[METHOD_TABLES];
static const sqlite3_io_methods *real_methods[METHOD_TABLES];

static int
count_sync(sqlite3_file *f, int flags)
{
    syncs++;
    return real_methods[f->pMethods - counted]->xSync(f, flags);
}

static int
count_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out)
{
    sqlite3_vfs *unix_vfs = v->pAppData;
    int rc = unix_vfs->xOpen(unix_vfs, name, f, flags, out);
    for (size_t i = 0; rc == SQLITE_OK && f->pMethods != NULL && i < METHOD_TABLES; i++) {
        if (real_methods[i] == NULL) {
            real_methods[i] = f->pMethods;
            counted[i] = *f->pMethods;
            counted[i].xSync = count_sync;
        }
        if (real_methods[i] == f->pMethods) {
            f->pMethods = &counted[i];
            break;
        }
    }
    return rc;
}

/* Under the name the profile's VFS looks for, first in the list: it wraps this one. */
static void
count_syncs(void)
{
    sqlite3_vfs *unix_vfs = sqlite3_vfs_find("unix");
    assert_non_null(unix_vfs);
    counting_vfs = *unix_vfs;
    counting_vfs.pAppData = unix_vfs;
    counting_vfs.xOpen = count_open;
    counting_vfs.pNext = NULL;
    assert_int_equal(sqlite3_vfs_register(&counting_vfs, 1), SQLITE_OK);
}

/*
 * (j) The summaries are a cache, made again from the records (a power cut may take
 * what was not synced, and only with the log after it): their commit is not synced,
 * 40 syncs of a counselor's cold sync. A journal entry written after them by the
 * same connection is synced as before.
 */
static void
test_cache_writes_are_not_synced_and_the_next_write_is(void **state)
{
    struct fx *f = *state;
    char dir[4300];
    dbk_local *L;
    dbk_id stream;

    snprintf(dir, sizeof dir, "%s/cachesync", f->p.home);
    assert_int_equal(mkdir(dir, 0700), 0);
    randombytes_buf(stream.b, sizeof stream.b);
    assert_int_equal(dbk_local_open(dir, true, &L), 0);
    assert_int_equal(dbk_local_set_role(L, DBK_ROLE_COUNSELOR), 0);
    int first = dbk_local_put_int(L, "first", 1), at = syncs;
    bool began = dbk_local_cache_begin(L);
    int put = dbk_local_summary_put(L, &stream, (const unsigned char *)"sealed", 6);
    int end = dbk_local_cache_end(L, began, put);
    int cache_syncs = syncs - at;
    at = syncs;
    int after = dbk_local_put_int(L, "after", 1);
    int after_syncs = syncs - at;
    dbk_local_close(L);
    assert_int_equal(first, 0);
    assert_true(began);
    assert_int_equal(end, 0);
    assert_int_equal(after, 0);
    assert_int_equal(cache_syncs, 0);
    assert_true(after_syncs > 0);
}

/*
 * A client's profile as the previous build left it: every table (the counselor's
 * counts, summaries and deletes too, kept by their triggers) under the role "client".
 * Opened by this build it loses them, and its stream heads count as before.
 */
static void
test_older_client_profile_loses_the_counselors_tables(void **state)
{
    struct fx *f = *state;
    dbk_local *L;
    dbk_local_stream st;
    dbk_id client;
    int64_t n[3], own[3];

    assert_int_equal(dbk_id_from_text(&client, f->p.client_id, strlen(f->p.client_id)), 0);
    /* The previous build's file: the counselor's part made, the role left "client". */
    assert_int_equal(dbk_local_open(f->p.client_home, false, &L), 0);
    assert_int_equal(dbk_local_stream_of(L, &client, DBK_LOCAL_SHARED, &st), 0);
    n[0] = dbk_local_record_count(L, &st.id, NULL);
    own[0] = dbk_local_authored_count(L, &st.id, NULL, &client);
    assert_int_equal(dbk_local_set_role(L, DBK_ROLE_COUNSELOR), 0);
    assert_int_equal(dbk_local_put_int(L, "role", DBK_ROLE_CLIENT), 0);
    n[1] = dbk_local_record_count(L, &st.id, NULL); /* from the counts the triggers keep */
    own[1] = dbk_local_authored_count(L, &st.id, NULL, &client);
    dbk_local_close(L);
    assert_true(has_object(f->p.client_home, "record_counts"));
    assert_true(has_object(f->p.client_home, "summaries"));

    assert_int_equal(dbk_local_open(f->p.client_home, false, &L), 0);
    n[2] = dbk_local_record_count(L, &st.id, NULL);
    own[2] = dbk_local_authored_count(L, &st.id, NULL, &client);
    dbk_local_close(L);
    static const char *const gone[] = {
        "record_counts",        "record_deletes",       "summaries",
        "records_count_insert", "records_count_delete", "records_count_update",
        "records_mark_delete"};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        if (has_object(f->p.client_home, gone[i]))
            fail_msg("the client's profile kept %s", gone[i]);
    assert_true(n[0] >= 2); /* the craving and the journal */
    assert_int_equal(n[1], n[0]);
    assert_int_equal(n[2], n[0]);
    assert_int_equal(own[1], own[0]);
    assert_int_equal(own[2], own[0]);
    /* And the client's commands go on. */
    as(f->p.client_home);
    tc_ok(tc_cli("craving", "--intensity", "2", "--outcome", "resisted", NULL), "craving");
    tc_ok(tc_cli("sync", NULL), "client sync");
}

/*
 * A stream dropped from this device (a counselor's own shared one, at enrollment) goes
 * with its mark of not being brought up to date ("stream_unpulled:<id>"): nothing of
 * it is left in the profile.
 */
static void
test_stream_dropped_with_its_unpulled_mark(void **state)
{
    struct fx *f = *state;
    dbk_session s;
    dbk_local_stream st;
    dbk_id client;
    char key[96], id[DBK_ID_TEXT_LEN + 1];

    as(f->p.client_home);
    assert_int_equal(dbk_id_from_text(&client, f->p.client_id, strlen(f->p.client_id)), 0);
    assert_int_equal(dbk_session_open(&s, false), 0);
    assert_int_equal(dbk_local_stream_of(s.L, &client, DBK_LOCAL_SHARED, &st), 0);
    dbk_id_to_text(&st.id, id);
    snprintf(key, sizeof key, "stream_unpulled:%s", id);
    assert_int_equal(dbk_local_put_int(s.L, key, 1), 0);
    assert_int_equal(dbk_sync_stream_drop(&s, &st.id), 0);
    int gone = dbk_local_stream_of(s.L, &client, DBK_LOCAL_SHARED, &st);
    int64_t mark = dbk_local_get_int(s.L, key, -1);
    bool any = dbk_local_has_prefix(s.L, "stream_unpulled:");
    dbk_session_close(&s);
    assert_int_not_equal(gone, 0);
    assert_int_equal(mark, -1);
    assert_false(any);
}

/* Flips the last bit of every stored envelope of the client's streams: none verifies. */
static void
spoil_client_envelopes(struct fx *f)
{
    sqlite3 *db = counselor_db(f);
    sqlite3_stmt *s, *u;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT rowid, envelope FROM records WHERE stream IN"
                                        " (SELECT stream FROM " CLIENT_SUMMARIES ")",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "UPDATE records SET envelope = ?2 WHERE rowid = ?1", -1, &u, NULL),
        SQLITE_OK);
    exec(db, "BEGIN");
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        int len = sqlite3_column_bytes(s, 1);
        unsigned char *b = malloc((size_t)len);
        memcpy(b, sqlite3_column_blob(s, 1), (size_t)len);
        b[len - 1] ^= 1;
        sqlite3_bind_int64(u, 1, sqlite3_column_int64(s, 0));
        sqlite3_bind_blob(u, 2, b, len, free);
        assert_int_equal(sqlite3_step(u), SQLITE_DONE);
        sqlite3_reset(u);
        n++;
    }
    exec(db, "DELETE FROM summaries");
    exec(db, "COMMIT");
    sqlite3_finalize(s);
    sqlite3_finalize(u);
    sqlite3_close(db);
    assert_true(n > 40);
}

/* (k) The summaries open revisions in batches on several threads: a revision whose
 * signature does not verify is refused there as one by one (more than a thread's
 * share of 16 here, so the workers run), and the cache rebuilt from them says what
 * the reader without it says: no risk, no use. */
static void
test_unverified_revisions_are_refused_in_batches(void **state)
{
    struct fx *f = *state;
    json_t *cl, *rev;

    as(f->p.client_home);
    for (int i = 0; i < 40; i++)
        tc_ok(tc_cli("craving", "--intensity", "3", "--outcome", "resisted", NULL), "craving");
    lapse_and_risk(f);
    same_as_without_cache(f, &cl, &rev);
    assert_int_equal(json_integer_value(json_object_get(row(cl), "risk")), 1);
    json_decref(cl);
    json_decref(rev);

    spoil_client_envelopes(f);
    as(f->p.counselor_home);
    same_as_without_cache(f, &cl, &rev); /* its clients rebuild the summaries */
    char *hex = cache_hex(f);
    assert_non_null(hex);
    free(hex);
    assert_int_equal(json_integer_value(json_object_get(row(cl), "risk")), 0);
    assert_false(has_flag(row(cl), "USE REPORTED"));
    json_decref(cl);
    json_decref(rev);
}

/* ---- what a cold sync checked ahead (book/entries.h dbk_eu_opener) ---- */

/* The client's journal entry as the counselor holds it: its envelope (malloc'd), its
 * header and its plaintext with the text replaced by ideation (malloc'd). */
static unsigned char *
journal_held(dbk_session *s, const unsigned char skey[32], const unsigned char client_pk[32],
             const dbk_local_stream *st, size_t *len, dbk_envelope_hdr *h, unsigned char **forged,
             size_t *flen)
{
    static const char said[] = "went to group, felt fine";
    sqlite3 *db;
    sqlite3_stmt *q;
    char path[4300];
    unsigned char *env = NULL;

    snprintf(path, sizeof path, "%s/daybook.db", s->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT envelope FROM records WHERE current = 1 AND"
                                        " stream = ?1",
                                        -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(q, 1, st->id.b, DBK_ID_BYTES, SQLITE_STATIC);
    while (env == NULL && sqlite3_step(q) == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(q, 0), plen;
        const unsigned char *e = sqlite3_column_blob(q, 0);
        unsigned char *plain;
        assert_int_equal(dbk_envelope_parse(e, n, h), 0);
        dbk_envelope_expect x = {&st->id, &h->record, h->epoch, &h->author, client_pk};
        if (dbk_envelope_open(e, n, &x, skey, &plain, &plen) != DBK_OK)
            continue;
        char *at = strstr((char *)plain, said);
        if (at != NULL) {
            size_t pre = (size_t)(at - (char *)plain), post = plen - pre - strlen(said);
            *flen = pre + strlen(ideation) + post;
            *forged = malloc(*flen);
            memcpy(*forged, plain, pre);
            memcpy(*forged + pre, ideation, strlen(ideation));
            memcpy(*forged + pre + strlen(ideation), at + strlen(said), post);
            env = malloc(n);
            memcpy(env, e, n);
            *len = n;
        }
        dbk_plaintext_free(plain, plen);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    assert_non_null(env);
    return env;
}

/* The stored envelope old replaced by new (same record, same revision), and the
 * summaries dropped so that the next refresh opens every revision again. */
static void
swap_stored(struct fx *f, const unsigned char *old, size_t olen, const unsigned char *new,
            size_t nlen)
{
    sqlite3 *db = counselor_db(f);
    sqlite3_stmt *u;
    assert_int_equal(sqlite3_prepare_v2(db, "UPDATE records SET envelope = ?2 WHERE envelope = ?1",
                                        -1, &u, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(u, 1, old, (int)olen, SQLITE_STATIC);
    sqlite3_bind_blob(u, 2, new, (int)nlen, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(u), SQLITE_DONE);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_finalize(u);
    exec(db, "DELETE FROM summaries");
    sqlite3_close(db);
}

/* The sign key pinned for the client here (trust/pins.c names it so). */
static void
pin_client(dbk_session *s, const dbk_id *client, const unsigned char pk[32])
{
    char t[DBK_ID_TEXT_LEN + 1], key[64];
    dbk_id_to_text(client, t);
    snprintf(key, sizeof key, "sign_pk:%s", t);
    assert_int_equal(dbk_local_put(s->L, key, pk, 32), 0);
}

/*
 * The attack on the checks made ahead: a revision of the client's journal forged with
 * ideation in it, sealed under the stream's key (as a member holding it could) but
 * signed with the counselor's key, never the client's. The opener checks one thing,
 * the summaries read another:
 *   bytes: the genuine revision is checked ahead, then the stored one is the forgery
 *          (same record and revision, other bytes);
 *   key:   the forgery is checked ahead while the client's pin names the forger's key,
 *          then the pin is the client's again when the summaries read it.
 * Returns how many forged revisions the summaries believed (risk or a journal shown).
 */
static int
forged_behind_checked(struct fx *f, bool key)
{
    dbk_session s;
    dbk_local_stream st;
    dbk_envelope_hdr h;
    dbk_id client;
    unsigned char skey[32], cpk[32], *forged_plain = NULL, *forged = NULL;
    size_t len = 0, plen = 0, flen = 0;

    counselor_opens_client(f, &s, &client, &st, skey);
    assert_int_equal(dbk_trust_sign_pk(&s, &client, cpk), 0);
    unsigned char *genuine = journal_held(&s, skey, cpk, &st, &len, &h, &forged_plain, &plen);
    assert_int_equal(
        dbk_envelope_seal(&h, skey, s.keys->sign_sk, forged_plain, plen, NULL, &forged, &flen), 0);

    dbk_eu_opener *o = dbk_eu_opener_start(&s);
    assert_non_null(o);
    dbk_local_record lr = {
        .hdr = h, .env = key ? forged : genuine, .len = key ? flen : len, .current = true};
    if (key)
        pin_client(&s, &client, s.keys->sign_pk); /* the forger's key, while checked ahead */
    dbk_eu_opener_add(o, &lr);
    if (key)
        pin_client(&s, &client, cpk);
    swap_stored(f, genuine, len, forged, flen);
    assert_int_equal(dbk_report_summary_refresh_pre(&s, o), 0);
    dbk_eu_opener_free(o);
    dbk_session_close(&s);
    sodium_memzero(skey, sizeof skey);
    sodium_memzero(forged_plain, plen);
    free(forged_plain);
    free(forged);
    free(genuine);

    json_t *cl = cli_json(true, "clients", "--offline", NULL);
    json_t *rev = cli_json(true, "review", "--offline", "--", f->p.client_id, NULL);
    char *texts = journal_texts(rev);
    int believed =
        (int)json_integer_value(json_object_get(row(cl), "risk")) +
        (strstr(texts, ideation) != NULL) +
        (int)json_integer_value(json_object_get(json_object_get(rev, "read_first"), "risk"));
    free(texts);
    json_decref(cl);
    json_decref(rev);
    return believed;
}

/* forged_behind_checked(f, key), reported as what / how: nothing believed, and the
 * caseload and review with the cache as without it. */
static void
none_believed(struct fx *f, bool key, const char *what, const char *how)
{
    json_t *cl, *rev;
    int believed = forged_behind_checked(f, key);
    dbk_report(what, how, "forged revisions believed by clients/review: %d", believed);
    assert_int_equal(believed, 0);
    same_as_without_cache(f, &cl, &rev);
    json_decref(cl);
    json_decref(rev);
}

/* (l) A revision checked ahead is taken as checked only for the same bytes. */
static void
test_checked_ahead_other_bytes(void **state)
{
    none_believed(*state, false,
                  "summaries after a cold sync: bytes other than those checked ahead",
                  "the client's journal revision checked ahead, then the stored one swapped for "
                  "a forgery of the same record and revision (ideation, signed by another key)");
}

/* (m) ... and only under the author's key looked up when the summaries read it. */
static void
test_checked_ahead_other_key(void **state)
{
    none_believed(*state, true,
                  "summaries after a cold sync: the author's key changed since checked ahead",
                  "a forgery of the client's journal checked ahead under the forger's key, "
                  "pinned for the client then; the client's own key pinned again before the "
                  "summaries");
}

/* Slots the opener's table walked past while n revisions of the counselor's own, made
 * ahead with record ids that share their first 8 bytes (collide) or drawn at random,
 * were checked ahead and then opened through it. */
static size_t
open_ahead_probes(dbk_session *s, const dbk_local_stream *st, const unsigned char skey[32],
                  size_t n, bool collide)
{
    dbk_local_record *v = calloc(n, sizeof *v);
    json_t **docs = calloc(n, sizeof *docs);
    dbk_eu_opener *o = dbk_eu_opener_start(s);
    assert_non_null(o);
    for (size_t i = 0; i < n; i++) {
        dbk_envelope_hdr h = {.stream = st->id, .epoch = st->epoch, .author = s->account};
        randombytes_buf(h.record.b, DBK_ID_BYTES);
        if (collide)
            memset(h.record.b, 0, 8);
        h.rev.clock = 1000 + i, h.rev.device = s->device;
        unsigned char *env;
        size_t len;
        assert_int_equal(dbk_envelope_seal(&h, skey, s->keys->sign_sk, (const unsigned char *)"{}",
                                           2, NULL, &env, &len),
                         0);
        v[i] = (dbk_local_record){.hdr = h, .env = env, .len = len, .current = true};
        dbk_eu_opener_add(o, &v[i]);
    }
    dbk_eu_open_records_pre(s, o, v, n, docs);
    size_t opened = 0, probes = dbk_eu_opener_probes(o);
    for (size_t i = 0; i < n; i++) {
        opened += docs[i] != NULL;
        json_decref(docs[i]);
        free((void *)v[i].env);
    }
    assert_int_equal(opened, n);
    dbk_eu_opener_free(o);
    free(docs);
    free(v);
    return probes;
}

/* (n) Record ids are their authors' choice: a client that makes many share their first
 * bytes must not make the opener's table a run of slots walked for each revision (the
 * work then grows with the square of their number: n * n / 2 probes, 8 million here).
 * The slots walked past, against random ids of the same count in the same run. */
static void
test_checked_ahead_colliding_ids(void **state)
{
    struct fx *f = *state;
    dbk_session s;
    dbk_local_stream st;
    unsigned char skey[32];
    const size_t n = 4000;

    as(f->p.counselor_home);
    assert_int_equal(dbk_session_open(&s, false), 0);
    assert_int_equal(dbk_unlock(&s), 0);
    assert_int_equal(dbk_local_stream_of(s.L, &s.account, DBK_LOCAL_SHARED, &st) == 0 ||
                         dbk_local_stream_of(s.L, &s.account, DBK_LOCAL_PRIVATE, &st) == 0,
                     1);
    assert_int_equal(dbk_stream_key(&s, &st.id, st.epoch, skey), 0);
    size_t random = open_ahead_probes(&s, &st, skey, n, false);
    size_t collide = open_ahead_probes(&s, &st, skey, n, true);
    sodium_memzero(skey, sizeof skey);
    dbk_session_close(&s);
    dbk_report("a cold sync's opener: record ids made to collide",
               "4000 revisions checked ahead, ids sharing their first 8 bytes vs drawn at random",
               "slots walked past: %zu colliding, %zu random", collide, random);
    assert_true(collide <= 2 * random + n);
}

/* This process's resident memory, in MiB. */
static long
resident_mib(void)
{
    long pages = 0, rss = 0;
    FILE *in = fopen("/proc/self/statm", "r");
    assert_non_null(in);
    assert_int_equal(fscanf(in, "%ld %ld", &pages, &rss), 2);
    fclose(in);
    return rss * sysconf(_SC_PAGESIZE) / (1024 * 1024);
}

/* What the opener holds (dbk_eu_opener_held) once n small revisions (sealed with skey,
 * as h) are handed to it: each is a copy and a job that keeps at least its record. */
static size_t
held_small(dbk_session *s, dbk_envelope_hdr h, const unsigned char skey[32], size_t *n, size_t *len)
{
    unsigned char *env;
    assert_int_equal(dbk_envelope_seal(&h, skey, s->keys->sign_sk, (const unsigned char *)"{}", 2,
                                       NULL, &env, len),
                     0);
    /* About as many as one of its blocks of copies holds (1 MiB): counting the copies'
     * blocks alone, the jobs' bytes would not show. */
    *n = ((size_t)1 << 20) / *len;
    dbk_eu_opener *o = dbk_eu_opener_start(s);
    assert_non_null(o);
    for (size_t i = 0; i < *n; i++) {
        dbk_local_record r = {.hdr = h, .env = env, .len = *len, .current = true};
        dbk_eu_opener_add(o, &r);
    }
    size_t held = dbk_eu_opener_held(o);
    dbk_eu_opener_free(o);
    free(env);
    return held;
}

/* (o) What a cold sync checks ahead is copied and kept until the summaries read it: a
 * server that answers each of a sync's 100 rounds with as much as the client takes
 * (64 MiB) must not make it hold them all. 1 GiB of revisions handed to the opener; the
 * bytes it says it holds (its copies, jobs, their index and table) at most 256 MiB, and
 * for small revisions, whose jobs outweigh their copies, the jobs counted too. */
static void
test_checked_ahead_memory_bounded(void **state)
{
    struct fx *f = *state;
    dbk_session s;
    dbk_envelope_hdr h;
    unsigned char skey[32], *env, *plain = calloc(1, DBK_ENV_MAX_PLAINTEXT);
    size_t len;

    as(f->p.counselor_home);
    assert_int_equal(dbk_session_open(&s, false), 0);
    assert_int_equal(dbk_unlock(&s), 0);
    randombytes_buf(skey, sizeof skey);
    memset(&h, 0, sizeof h);
    h.author = s.account, h.rev.clock = 1;
    assert_int_equal(dbk_envelope_seal(&h, skey, s.keys->sign_sk, plain, DBK_ENV_MAX_PLAINTEXT,
                                       NULL, &env, &len),
                     0);
    dbk_eu_opener *o = dbk_eu_opener_start(&s);
    long before = resident_mib();
    size_t n = (size_t)1024 * 1024 * 1024 / len;
    for (size_t i = 0; i < n; i++) {
        dbk_local_record r = {.hdr = h, .env = env, .len = len, .current = true};
        dbk_eu_opener_add(o, &r);
    }
    long grew = resident_mib() - before;
    size_t held = dbk_eu_opener_held(o);
    dbk_local_record one = {.hdr = h, .env = env, .len = len, .current = true};
    json_t *doc = NULL;
    dbk_eu_open_records_pre(&s, o, &one, 1, &doc); /* finished: its table made */
    json_decref(doc);
    size_t held_done = dbk_eu_opener_held(o);
    dbk_eu_opener_free(o);
    size_t n_small, len_small, small = held_small(&s, h, skey, &n_small, &len_small);
    size_t small_least = n_small * (len_small + sizeof(dbk_local_record));
    dbk_session_close(&s);
    free(env);
    free(plain);
    dbk_report("a cold sync's opener: what a server can make it hold",
               "1 GiB of revisions (512 KiB each) handed to the opener; then small ones",
               "resident grew %ld MiB; held (its count) %zu MiB, %zu MiB once finished; %zu "
               "small revisions of %zu bytes: held %zu bytes (at least %zu: copies and "
               "jobs' records)",
               grew, held >> 20, held_done >> 20, n_small, len_small, small, small_least);
    assert_true(grew < 400);
    assert_true(held <= (size_t)256 << 20);
    assert_true(held_done <= (size_t)256 << 20);
    assert_true(small >= small_least);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sync_updates_the_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_cache_is_rebuilt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_under_old_key_is_not_believed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_flags_come_from_the_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trend_from_the_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_own_entries_from_the_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_documents_from_the_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mark_sees_a_reused_rowid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_documents_that_do_not_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_role_set_after_open_has_its_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_dropped_with_its_unpulled_mark, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_older_client_profile_loses_the_counselors_tables,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_checked_ahead_other_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checked_ahead_other_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checked_ahead_colliding_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checked_ahead_memory_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unverified_revisions_are_refused_in_batches, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cache_writes_are_not_synced_and_the_next_write_is,
                                        setup, teardown),
    };
    if (dbk_init() != 0)
        return 1;
    count_syncs();
    if (getenv("DAYBOOK_TEST_FILTER") != NULL) /* one test by name, when working on it */
        cmocka_set_test_filter(getenv("DAYBOOK_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
