/*
 * The server as an adversary (issue: the client trusts signatures it checked, never
 * the server). A real daybookd and the real CLIs; between syncs the server is turned
 * by editing its own SQLite file while it is stopped, then started again on it, as a
 * compromised or carelessly restored server would answer. Each attack counts what
 * leaked: an entry the client meant for its counselor that the counselor cannot
 * read, an entry written into the wrong stream, a key or grant the client took from
 * the server; every count must be 0, and the client says loudly what it refused.
 *
 *   kind swap       the client's shared stream listed as private (and the reverse)
 *   epoch rollback  the client's streams listed at epoch 0, below the one it holds
 *   forged grant    a grant for the client's own shared stream signed by another key
 *                   offered in place of its self-grant
 *
 * Each was checked to fail with its protection removed (trust/trust.c: the listing
 * applied to the local kind and epoch, and a grant stored without its signature
 * checked, as before).
 */
#include "tc.h"

#include "caseload.h"
#include "counselor.h"
#include "entry.h"
#include "session.h"
#include "trust.h"

#include "dbk/base64.h"
#include "dbk/bytes.h"
#include "dbk/envelope.h"
#include "dbk/error.h"
#include "dbk/hlc.h"
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
#include <dirent.h>
#include <sqlite3.h>

struct fx {
    dbk_server srv;
    tc_cli_pair_t p;
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_int_equal(dbk_server_start(&f->srv, NULL), 0);
    tc_cli_pair(&f->srv, &f->p);
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



static const char *hex_of(const char *id_text, char out[33]);

/* Stops the server, runs sql on its file, starts it again on the same directory. The
 * client's grants_seq is bumped too, as an attacker would, so the client's next sync
 * fetches the grants and streams the server now lists. */
static void
turn_server(struct fx *f, const char *sql)
{
    char path[4200], bump[256], hex[33], *err = NULL;
    sqlite3 *db;
    assert_int_equal(dbk_server_stop(&f->srv), 0);
    snprintf(bump, sizeof bump, "UPDATE accounts SET grants_seq = grants_seq + 1 WHERE id = x'%s';",
             hex_of(f->p.client_id, hex));
    if (dbk_test_pg()) { /* the suite's PostgreSQL pass: the same edits of its database */
        assert_true(dbk_pg_exec_db(f->srv.store_url, sql) >= 0);
        assert_true(dbk_pg_exec_db(f->srv.store_url, bump) >= 0);
        assert_int_equal(dbk_server_restart(&f->srv, NULL), 0);
        return;
    }
    snprintf(path, sizeof path, "%s/daybook.db", f->srv.data_dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK ||
        sqlite3_exec(db, bump, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("sql: %s", err);
    sqlite3_close(db);
    assert_int_equal(dbk_server_restart(&f->srv, NULL), 0);
}

/*
 * How many forms of the counselor's caseload do not say, on the client's row, that
 * entries of the client's held here were left out (at least records that did not open,
 * foreign signed by someone who may not write them): its --json row ("unopened" and the
 * flag) and the table, each with the summary cache and without it. DAYBOOK_HOME is the
 * counselor's.
 */
static int
caseload_unopened_unsaid(struct fx *f, long records, long foreign)
{
    int unsaid = 0;
    for (int plain = 0; plain < 2; plain++) {
        if (plain)
            setenv("DAYBOOK_NO_SUMMARY", "1", 1);
        dbk_run_result r = tc_cli("--json", "clients", NULL);
        json_t *j = json_loads(r.out, 0, NULL), *x, *fl;
        const json_t *u = NULL;
        bool flagged = false;
        size_t i, k;
        json_array_foreach(json_object_get(j, "clients"), i, x)
        {
            if (strcmp(json_string_value(json_object_get(x, "account")), f->p.client_id) != 0)
                continue;
            u = json_object_get(x, "unopened");
            json_array_foreach(json_object_get(x, "flags"), k, fl) flagged =
                flagged || strstr(json_string_value(fl), DBK_REPORT_CASELOAD_UNOPENED) != NULL;
        }
        if (r.status != 0 || u == NULL || !flagged ||
            json_integer_value(json_object_get(u, "records")) < records ||
            json_integer_value(json_object_get(u, "foreign_author")) < foreign) {
            fprintf(stderr, "clients --json (%s) does not say so on the row: %s\n",
                    plain ? "no summary" : "summary", r.out);
            unsaid++;
        }
        json_decref(j);
        dbk_run_result_free(&r);
        r = tc_cli("clients", NULL);
        if (r.status != 0 || strstr(r.out, DBK_REPORT_CASELOAD_UNOPENED) == NULL) {
            fprintf(stderr, "clients (%s) does not say so on the row: %s\n",
                    plain ? "no summary" : "summary", r.out);
            unsaid++;
        }
        dbk_run_result_free(&r);
    }
    unsetenv("DAYBOOK_NO_SUMMARY");
    return unsaid;
}

/* The journal entries of the client the counselor can read in its review. */
static size_t
counselor_reads(struct fx *f)
{
    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    dbk_run_result r = tc_cli("sync", NULL);
    dbk_run_result_free(&r);
    json_t *j = tc_json_of(tc_cli("--json", "review", f->p.client_id, "--since", "2000-01-01", NULL),
                        "review");
    json_t *journal = json_object_get(j, "journal");
    size_t n = json_is_array(journal) ? json_array_size(journal)
                                      : (size_t)json_integer_value(json_object_get(journal, "count"));
    json_decref(j);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    return n;
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

static void
test_kind_swap_and_epoch_rollback(void **state)
{
    struct fx *f = *state;
    char sql[512], hex[33];
    dbk_run_result r;
    json_t *j;

    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    r = tc_cli("journal", "-m", "before the server turned", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    assert_int_equal(counselor_reads(f), 1);

    /* The server swaps the kinds of the client's two streams and lists them at epoch 0. */
    snprintf(sql, sizeof sql,
             "UPDATE streams SET kind = 3 - kind, epoch = 0 WHERE owner = x'%s';",
             hex_of(f->p.client_id, hex));
    turn_server(f, sql);

    r = tc_cli("--json", "sync", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.err, "WARNING: the server sent data this device refused"));
    j = json_loads(r.out, 0, NULL);
    dbk_run_result_free(&r);
    json_t *refused = json_object_get(j, "refused");
    assert_true(json_integer_value(json_object_get(refused, "kind_swaps")) >= 2);
    if (json_integer_value(json_object_get(refused, "epoch_rollbacks")) < 2)
        fail_msg("epoch rollbacks not refused: %s", json_dumps(j, 0));
    json_decref(j);

    /* Nothing changed on the client: a shared entry still goes to the shared stream, under
     * the key the counselor holds, and a private one stays private. */
    r = tc_cli("journal", "-m", "after the server turned", NULL);
    if (r.status != 0)
        fail_msg("journal after the swap: %s", r.err); /* leaked: the stream is lost */
    dbk_run_result_free(&r);
    r = tc_cli("journal", "--private", "-m", "still private", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    /* The turned server may refuse the push (it believes its own listing): a server can
     * always deny service. What matters is what the client sealed: once the server is
     * honest again, the counselor reads the shared entry and nothing private. */
    r = tc_cli("sync", NULL);
    dbk_run_result_free(&r);
    snprintf(sql, sizeof sql, "UPDATE streams SET kind = 3 - kind, epoch = 1 WHERE owner = x'%s';",
             hex_of(f->p.client_id, hex));
    turn_server(f, sql);
    r = tc_cli("sync", NULL);
    if (r.status != 0)
        fail_msg("sync with the honest server again: %s", r.err);
    dbk_run_result_free(&r);
    size_t reads = counselor_reads(f);
    int leaked = reads == 2 ? 0 : 1;
    dbk_report("malicious server: stream kind swap and epoch rollback",
               "the server lists the client's shared stream as private, the private one as "
               "shared, both at epoch 0; the client syncs and writes a shared and a private "
               "entry",
               "kind swaps refused, epoch rollbacks refused; entries in the wrong stream or "
               "unreadable by the counselor (leaked): %d",
               leaked);
    assert_int_equal(reads, 2); /* the shared one, not the private one */
}

/* The client's shared stream id and X25519 key as the server's file holds them. */
static void
client_stream_and_key(struct fx *f, dbk_id *stream, unsigned char box_pk[32])
{
    char path[4200], hex[33], sql[256];
    sqlite3 *db;
    sqlite3_stmt *st;
    snprintf(sql, sizeof sql,
             "SELECT s.id, a.box_pk FROM streams s JOIN accounts a ON a.id = s.owner "
             "WHERE s.owner = x'%s' AND s.kind = 1",
             hex_of(f->p.client_id, hex));
    if (dbk_test_pg()) {
        unsigned char *out[] = {stream->b, box_pk};
        const size_t len[] = {16, 32};
        assert_true(dbk_pg_row(f->srv.store_url, sql, out, len, 2));
        return;
    }
    snprintf(path, sizeof path, "%s/daybook.db", f->srv.data_dir);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    memcpy(stream->b, sqlite3_column_blob(st, 0), 16);
    memcpy(box_pk, sqlite3_column_blob(st, 1), 32);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void
test_forged_self_grant(void **state)
{
    struct fx *f = *state;
    char *sql, *hexg;
    unsigned char box_pk[32], key[32], *g;
    size_t len;
    dbk_run_result r;
    json_t *j;
    tc_account mallory;
    dbk_grant_hdr h = {0};

    /* A grant of the client's shared stream at epoch 1, to the client, in the client's
     * name, sealed to the client's key but signed by a key the server holds, put in
     * place of the self-grant. A device that believed it would seal entries with a
     * stream key the server knows. */
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    r = tc_cli("sync", NULL);
    dbk_run_result_free(&r);
    tc_account_init(&mallory, false, "mallory's passphrase");
    client_stream_and_key(f, &h.stream, box_pk);
    h.epoch = 1;
    assert_int_equal(dbk_id_from_text(&h.owner, f->p.client_id, strlen(f->p.client_id)), 0);
    h.grantee = h.owner;
    h.created_at = 1;
    randombytes_buf(key, sizeof key);
    const char *consent = "{\"type\":\"consent\",\"v\":1,\"self\":true}";
    assert_int_equal(dbk_grant_seal(&h, key, consent, strlen(consent), box_pk,
                                    mallory.keys->sign_sk, &g, &len),
                     0);
    hexg = malloc(2 * len + 1);
    sql = malloc(2 * len + 512);
    for (size_t i = 0; i < len; i++)
        snprintf(hexg + 2 * i, 3, "%02x", g[i]);
    char sh[33], ch[33];
    for (size_t i = 0; i < 16; i++)
        snprintf(sh + 2 * i, 3, "%02x", h.stream.b[i]);
    snprintf(sql, 2 * len + 512,
             "UPDATE grants SET grant_bytes = x'%s' WHERE stream = x'%s' AND grantee = x'%s' "
             "AND epoch = 1;",
             hexg, sh, hex_of(f->p.client_id, ch));
    turn_server(f, sql);
    free(sql);
    free(hexg);
    free(g);

    r = tc_cli("--json", "sync", NULL);
    assert_int_equal(r.status, 0);
    j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    size_t refused = (size_t)json_integer_value(
        json_object_get(json_object_get(j, "refused"), "grants"));
    json_decref(j);
    dbk_run_result_free(&r);
    /* Still sealing with its own key: the counselor reads the new entry. */
    r = tc_cli("journal", "-m", "after the forged grant", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    size_t reads = counselor_reads(f);
    dbk_report("malicious server: forged self-grant",
               "the server offers, in place of the client's self-grant, a grant in the client's "
               "name signed by a key it holds",
               "forged grants refused: %zu; entries the counselor could not read (leaked): %d",
               refused, reads == 1 ? 0 : 1);
    assert_true(refused >= 1);
    assert_int_equal(reads, 1);
    sodium_memzero(key, sizeof key);
    tc_account_free(&mallory);
}

/* Safety numbers: both sides see the same 60 digits and confirm them; then the server
 * lists other keys for the client (its own), and the counselor is warned loudly and
 * keeps the keys it verified. */
static void
test_safety_number_and_changed_key(void **state)
{
    struct fx *f = *state;
    char sql[512], hex[33], pkhex[65], bxhex[65];
    tc_account mallory;
    dbk_run_result r;
    json_t *a, *b;

    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    r = tc_cli("sync", NULL);
    dbk_run_result_free(&r);
    a = tc_json_of(tc_cli("--json", "verify", f->p.client_id, NULL), "counselor verify");
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    b = tc_json_of(tc_cli("--json", "verify", NULL), "client verify");
    assert_string_equal(json_string_value(json_object_get(a, "safety_number")),
                        json_string_value(json_object_get(b, "safety_number")));
    assert_int_equal(strlen(json_string_value(json_object_get(a, "safety_number"))), 71);
    assert_false(json_is_true(json_object_get(b, "confirmed")));
    json_decref(b);
    b = tc_json_of(tc_cli("--json", "verify", "--confirm", NULL), "client confirm");
    assert_true(json_is_true(json_object_get(b, "confirmed")));
    json_decref(b);

    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    json_decref(tc_json_of(tc_cli("--json", "verify", f->p.client_id, "--confirm", NULL), "confirm"));
    tc_account_init(&mallory, false, "mallory's passphrase");
    for (size_t i = 0; i < 32; i++) {
        snprintf(pkhex + 2 * i, 3, "%02x", mallory.keys->sign_pk[i]);
        snprintf(bxhex + 2 * i, 3, "%02x", mallory.keys->box_pk[i]);
    }
    snprintf(sql, sizeof sql, "UPDATE accounts SET sign_pk = x'%s', box_pk = x'%s' WHERE id = x'%s';",
             pkhex, bxhex, hex_of(f->p.client_id, hex));
    turn_server(f, sql);
    r = tc_cli("--json", "verify", f->p.client_id, NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "WARNING: the server now lists other keys"));
    b = json_loads(r.out, 0, NULL);
    assert_true(json_is_true(json_object_get(b, "changed")));
    assert_true(json_is_true(json_object_get(b, "confirmed"))); /* the verified keys stay */
    assert_string_equal(json_string_value(json_object_get(a, "safety_number")),
                        json_string_value(json_object_get(b, "safety_number")));
    dbk_run_result_free(&r);
    dbk_report("malicious server: substituted client key",
               "after counselor and client compared safety numbers, the server lists keys of "
               "its own for the client",
               "the counselor is warned (exit 1) and keeps the keys it verified; keys replaced: "
               "%d",
               json_is_true(json_object_get(b, "confirmed")) ? 0 : 1);
    json_decref(a);
    json_decref(b);
    tc_account_free(&mallory);
}

/* A counselor (or anyone holding the stream key) writes a craving ending in use into the
 * client's shared stream, signed with its own key. The client never shows it as its
 * own, nor does the counselor's review count it as the client's lapse. */
static void
test_forged_author(void **state)
{
    struct fx *f = *state;
    dbk_session s;
    dbk_local_stream st;
    dbk_id client, id;
    dbk_run_result r;
    json_t *j, *e;
    size_t i, shown = 0;

    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    r = tc_cli("sync", NULL);
    dbk_run_result_free(&r);
    assert_int_equal(dbk_id_from_text(&client, f->p.client_id, strlen(f->p.client_id)), 0);
    assert_int_equal(dbk_session_open(&s, false), 0);
    assert_int_equal(dbk_co_client_stream(&s, &client, &st), 0);
    json_t *doc = json_pack("{s:s, s:i, s:s, s:s, s:{s:i, s:s}, s:{s:s}, s:s}", "type", "craving",
                            "v", 1, "occurred_at", "2026-11-20T18:40:00-05:00", "tz",
                            "America/New_York", "intensity", "value", 10, "scale", "0-10",
                            "outcome", "result", "used", "note", "FORGED-BY-ANOTHER-KEY");
    assert_int_equal(dbk_entry_save_in(&s, &st.id, NULL, doc, &id), 0);
    json_decref(doc);
    dbk_session_close(&s);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);

    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    r = tc_cli("--json", "log", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.err, "signed by someone who may not write them"));
    j = json_loads(r.out, 0, NULL);
    dbk_run_result_free(&r);
    json_array_foreach(j, i, e) {
        char *t = json_dumps(e, 0);
        shown += strstr(t, "FORGED-BY-ANOTHER-KEY") != NULL;
        free(t);
    }
    json_decref(j);
    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    j = tc_json_of(tc_cli("--json", "review", f->p.client_id, "--since", "2000-01-01", NULL), "review");
    char *t = json_dumps(j, 0);
    shown += strstr(t, "FORGED-BY-ANOTHER-KEY") != NULL;
    free(t);
    json_decref(j);
    int unsaid = caseload_unopened_unsaid(f, 0, 1);
    dbk_report("malicious server: forged author",
               "a craving ending in use, signed by the counselor's key, written into the "
               "client's shared stream",
               "shown as the client's in the client's log or the counselor's review (leaked): "
               "%zu; forms of the caseload whose row does not say it left one out: %d of 4",
               shown, unsaid);
    assert_int_equal(shown, 0);
    assert_int_equal(unsaid, 0);
}

/*
 * Hostile record content. Whoever holds a stream's key (the client, its counselor, a
 * forger with a leaked key) chooses every byte of a record, times included, and the
 * counselor opens the review as HTML in a browser. Every example of proto/schemas is
 * written into the client's shared stream by the client and by the counselor, once
 * with markup appended to each string field in turn (times, dates, ids, enums: the
 * rest stays valid, so the record is shown) and once with markup in all of them; the
 * counselor's own private stream gets the same (session markers, aliases). The HTML
 * review must hold none of that markup raw. These plaintexts break the schemas on
 * purpose, so this test's profiles are kept out of the plaintext check.
 */
#define MARK "\"'><x-dbk-raw>"

static char *saved_plaintexts;

static int
setup_hostile(void **state)
{
    const char *v = getenv("DAYBOOK_PLAINTEXTS");
    saved_plaintexts = v ? strdup(v) : NULL;
    unsetenv("DAYBOOK_PLAINTEXTS");
    return setup(state);
}

static int
teardown_hostile(void **state)
{
    int rc = teardown(state);
    if (saved_plaintexts != NULL)
        setenv("DAYBOOK_PLAINTEXTS", saved_plaintexts, 1);
    free(saved_plaintexts);
    saved_plaintexts = NULL;
    return rc;
}

/* The string leaves of doc, in a stable order (at most max). "type" is left alone so
 * that the record is still read as its type. */
static size_t
string_leaves(json_t *doc, json_t **out, size_t n, size_t max)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(doc)) {
        json_object_foreach(doc, k, v) {
            if (json_is_string(v) && strcmp(k, "type") != 0 && n < max)
                out[n++] = v;
            else
                n = string_leaves(v, out, n, max);
        }
    } else if (json_is_array(doc)) {
        json_array_foreach(doc, i, v) {
            if (json_is_string(v) && n < max)
                out[n++] = v;
            else
                n = string_leaves(v, out, n, max);
        }
    }
    return n;
}

static void
mark(json_t *leaf)
{
    char buf[2048];
    snprintf(buf, sizeof buf, "%s" MARK, json_string_value(leaf));
    json_string_set(leaf, buf);
}

/* Saves every marked variant of doc into stream (NULL: the writer's own stream of
 * kind); returns how many records were written. */
static size_t
save_marked(dbk_session *s, const dbk_id *stream, int kind, const json_t *doc)
{
    json_t *leaves[256], *all = json_deep_copy(doc);
    size_t n = string_leaves(all, leaves, 0, 256), written = 0;
    for (size_t i = 0; i <= n; i++) {
        json_t *one = i < n ? json_deep_copy(doc) : all, *ol[256];
        if (i < n) {
            assert_int_equal(string_leaves(one, ol, 0, 256), n);
            mark(ol[i]);
        } else {
            for (size_t j = 0; j < n; j++)
                mark(leaves[j]);
        }
        dbk_id id;
        int rc = stream ? dbk_entry_save_in(s, stream, NULL, one, &id)
                        : dbk_entry_save(s, kind, NULL, one, &id);
        assert_int_equal(rc, 0);
        json_decref(one);
        written++;
    }
    return written;
}

/* The examples directory of proto/schemas, from this file's place in the tree. */
static void
examples_dir(char *out, size_t cap)
{
    const char *src = getenv("DAYBOOK_SOURCE");
    if (src && *src) {
        snprintf(out, cap, "%s/proto/schemas/examples/valid", src);
        return;
    }
    snprintf(out, cap, "%s", __FILE__);
    char *cut = strstr(out, "tests/integration/");
    assert_non_null(cut);
    snprintf(cut, cap - (size_t)(cut - out), "proto/schemas/examples/valid");
}

/* Writes the marked examples as the profile at home into the client's shared stream
 * (client: the profile's own; else the counselor's copy) and its private stream. */
static size_t
write_hostile(struct fx *f, const char *home, bool counselor)
{
    char dir[4200], path[4500];
    dbk_session s;
    dbk_local_stream st;
    dbk_id client;
    size_t written = 0;
    struct dirent *de;
    DIR *d;

    setenv("DAYBOOK_HOME", home, 1);
    dbk_run_result r = tc_cli("sync", NULL); /* the counselor learns the client's stream */
    dbk_run_result_free(&r);
    assert_int_equal(dbk_id_from_text(&client, f->p.client_id, strlen(f->p.client_id)), 0);
    assert_int_equal(dbk_session_open(&s, false), 0);
    if (counselor)
        assert_int_equal(dbk_co_client_stream(&s, &client, &st), 0);
    examples_dir(dir, sizeof dir);
    assert_non_null(d = opendir(dir));
    while ((de = readdir(d)) != NULL) {
        if (strstr(de->d_name, ".json") == NULL || strncmp(de->d_name, "consent-", 8) == 0 ||
            strncmp(de->d_name, "pin-", 4) == 0 || strncmp(de->d_name, "role-", 5) == 0)
            continue; /* consents live in grants; pins change what the device trusts, and
                       * role records what it takes its role to be (both roles signed:
                       * the account's own records disagree, and its devices refuse to
                       * act in either, proto/TRUST.md T13) */
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        json_t *doc = json_load_file(path, 0, NULL);
        assert_non_null(doc);
        written += save_marked(&s, counselor ? &st.id : NULL, DBK_LOCAL_SHARED, doc);
        written += save_marked(&s, NULL, DBK_LOCAL_PRIVATE, doc);
        json_decref(doc);
    }
    closedir(d);
    dbk_session_close(&s);
    r = tc_cli("sync", NULL);
    if (r.status != 0)
        fail_msg("sync after hostile records: %s", r.err);
    dbk_run_result_free(&r);
    return written;
}

static void
test_markup_in_every_field(void **state)
{
    struct fx *f = *state;
    char out[4300];
    size_t written = write_hostile(f, f->p.client_home, false);
    written += write_hostile(f, f->p.counselor_home, true);

    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    dbk_run_result r = tc_cli("sync", NULL);
    dbk_run_result_free(&r);
    snprintf(out, sizeof out, "%s/review.html", f->p.home);
    r = tc_cli("review", f->p.client_id, "--since", "2000-01-01", "--format", "html", "--out", out,
               NULL);
    if (r.status != 0)
        fail_msg("review --format html: exit %d: %s", r.status, r.err);
    dbk_run_result_free(&r);
    FILE *h = fopen(out, "rb");
    assert_non_null(h);
    static char html[4 << 20];
    size_t len = fread(html, 1, sizeof html - 1, h);
    fclose(h);
    html[len] = '\0';
    size_t raw = 0, escaped = 0;
    for (const char *p = html; (p = strstr(p, "<x-dbk-raw")) != NULL; p++)
        raw++;
    for (const char *p = html; (p = strstr(p, "&lt;x-dbk-raw&gt;")) != NULL; p++)
        escaped++;
    char how[300];
    snprintf(how, sizeof how,
             "%zu records: every schema example with markup appended to each string field "
             "(times included), written by the client and by the counselor", written);
    dbk_report("hostile record: markup in every field", how,
               "markup raw in the counselor's HTML review (leaked): %zu (shown escaped: %zu)",
               raw, escaped);
    assert_int_equal(raw, 0);
    assert_true(escaped > 0); /* the records were read and shown, escaped */
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
}

/*
 * What the server learns from sizes and clocks (proto/README.md, "What the server
 * learns"). An honest-but-curious server reads every envelope's length and revision
 * clock. A craving that ended in use must not pad to another size than the same
 * craving resisted, nor a check-in with use than one without; journals fall in the
 * same few sizes; and a clock says the minute, not the millisecond.
 */
static bool
in_buckets(size_t env_len)
{
    for (size_t b = 1024; b <= DBK_ENV_MAX_PADDED; b = b < 65536 ? b * 2 : b + 65536)
        if (env_len == DBK_ENV_OVERHEAD + crypto_aead_xchacha20poly1305_ietf_ABYTES + b)
            return true;
    return false;
}

static size_t
bucket_of_doc(json_t *doc)
{
    char *t = json_dumps(doc, JSON_COMPACT);
    size_t b = dbk_entry_bucket(doc, strlen(t));
    free(t);
    json_decref(doc);
    return b;
}

static void
test_sizes_and_clocks(void **state)
{
    struct fx *f = *state;
    char note[4200], path[4300];
    size_t split = 0, sizes = 0, outside = 0, fine_clocks = 0;

    /* Every note length up to 4000 bytes: used and resisted in the same bucket. */
    for (size_t n = 0; n < 4000; n += 3) {
        memset(note, 'a', n);
        note[n] = '\0';
        size_t r = bucket_of_doc(json_pack("{s:s, s:i, s:s, s:s, s:{s:i, s:s}, s:{s:s}, s:s}",
                                           "type", "craving", "v", 1, "occurred_at",
                                           "2026-11-20T18:40:00-05:00", "tz", "America/New_York",
                                           "intensity", "value", 8, "scale", "0-10", "outcome",
                                           "result", "resisted", "note", note));
        size_t u = bucket_of_doc(json_pack(
            "{s:s, s:i, s:s, s:s, s:{s:i, s:s}, s:{s:s, s:{s:s, s:s}}, s:s}", "type", "craving", "v",
            1, "occurred_at", "2026-11-20T18:40:00-05:00", "tz", "America/New_York", "intensity",
            "value", 8, "scale", "0-10", "outcome", "result", "used", "used", "substance",
            "alcohol", "amount", "two beers", "note", note));
        size_t c0 = bucket_of_doc(json_pack("{s:s, s:i, s:s, s:s, s:s, s:{s:b}, s:s}", "type",
                                            "checkin", "v", 1, "date", "2026-11-20", "recorded_at",
                                            "2026-11-20T21:05:00-05:00", "tz", "UTC", "use", "any",
                                            0, "note", note));
        size_t c1 = bucket_of_doc(json_pack("{s:s, s:i, s:s, s:s, s:s, s:{s:b, s:s, s:s}, s:s}",
                                            "type", "checkin", "v", 1, "date", "2026-11-20",
                                            "recorded_at", "2026-11-20T21:05:00-05:00", "tz", "UTC",
                                            "use", "any", 1, "substance", "alcohol", "amount",
                                            "4 beers", "note", note));
        split += (r != u) + (c0 != c1);
    }

    /* The real CLI: the same craving resisted and used, and journals of typical
     * lengths; what the client pushed is what its profile holds. */
    static const char *const journals[] = {
        "Rough day.",
        "Went to the meeting tonight. Talked to my sponsor after and felt better about the "
        "weekend. Still thinking about the party on Saturday.",
        NULL};
    sqlite3 *db;
    sqlite3_stmt *st;
    dbk_id stream, head;
    unsigned char box_pk[32];
    client_stream_and_key(f, &stream, box_pk);
    dbk_trust_head_id(&stream, &head); /* the stream head (T12) is written after each */
    snprintf(path, sizeof path, "%s/daybook.db", f->p.client_home);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM records WHERE record != ?1", -1,
                                        &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(st, 1, head.b, 16, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    size_t before = (size_t)sqlite3_column_int64(st, 0), k = 0, craving_len[2] = {0, 1};
    sqlite3_finalize(st);
    sqlite3_close(db);
    dbk_run_result r = tc_cli("craving", "--intensity", "6", "--outcome", "resisted", "--note",
                              "after work, the usual corner", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    r = tc_cli("craving", "--intensity", "6", "--outcome", "used", "--used-what", "two beers",
               "--note", "after work, the usual corner", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    for (size_t i = 0; journals[i]; i++) {
        r = tc_cli("journal", "-m", journals[i], NULL);
        assert_int_equal(r.status, 0);
        dbk_run_result_free(&r);
    }
    memset(note, 'x', 1500); /* a long one */
    note[1500] = '\0';
    r = tc_cli("journal", "-m", note, NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT length(envelope), clock, record = ?1 "
                                            "FROM records ORDER BY clock", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(st, 1, head.b, 16, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_int64(st, 0);
        uint64_t ms = dbk_hlc_ms((uint64_t)sqlite3_column_int64(st, 1));
        sizes++;
        outside += !in_buckets(len);
        fine_clocks += ms % 60000 != 0;
        if (sqlite3_column_int(st, 2))
            continue; /* the shared stream's head: in the buckets, not one of the entries */
        if (k >= before && k < before + 2)
            craving_len[k - before] = len; /* the first two written here: the cravings */
        k++;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    split += craving_len[0] != craving_len[1];
    dbk_report("curious server: sizes and clocks",
               "a craving resisted and the same craving used, check-ins with and without use, "
               "for every note length to 4000 bytes; journals of typical lengths; the clocks "
               "of everything the client pushed",
               "outcomes told apart by size: %zu; envelopes outside the buckets: %zu of %zu; "
               "clocks finer than the minute: %zu",
               split, outside, sizes, fine_clocks);
    assert_int_equal(split, 0);
    assert_true(sizes >= 5);
    assert_int_equal(outside, 0);
    assert_int_equal(fine_clocks, 0);
}

/* The client's shared stream and its head's record id, in hex for SQL. */
static void
shared_hex(struct fx *f, char sh[33], char hh[33])
{
    dbk_id stream, head;
    unsigned char box_pk[32];

    client_stream_and_key(f, &stream, box_pk);
    dbk_trust_head_id(&stream, &head);
    for (size_t i = 0; i < 16; i++) {
        snprintf(sh + 2 * i, 3, "%02x", stream.b[i]);
        snprintf(hh + 2 * i, 3, "%02x", head.b[i]);
    }
}

/* The server drops the records of the client's shared stream that pass the SQL
 * condition which (their rows deleted, as a server that withholds them from every pull
 * would), the head aside. */
static void
drop_records(struct fx *f, const char *which)
{
    char sh[33], hh[33], sql[800];

    shared_hex(f, sh, hh);
    snprintf(sql, sizeof sql,
             "DELETE FROM records WHERE stream = x'%s' AND record != x'%s' AND %s;", sh, hh, which);
    turn_server(f, sql);
}

/* The newest record of the client's shared stream dropped, the head aside. */
static void
drop_newest_record(struct fx *f)
{
    char sh[33], hh[33], which[200];

    shared_hex(f, sh, hh);
    snprintf(which, sizeof which,
             "seq = (SELECT max(seq) FROM records WHERE stream = x'%s' AND record != x'%s')", sh,
             hh);
    drop_records(f, which);
}

/* What the counselor is told of records withheld: its sync (JSON count, stderr, exit
 * status), then its review offline (JSON count, stderr), then its caseload (the row's
 * JSON count and flag, stderr, exit status; the table's row, within 80 columns). */
struct told {
    long sync_records, review_records, clients_records;
    bool sync_loud, review_loud, clients_flagged, clients_loud, table_flagged, table_narrow;
    bool review_file_says; /* the review kept as text and as HTML (--out) says it too */
    int sync_status, clients_status;
};

/* The caseload offline (the sync before it pulled), --json then the table, into t. The
 * pair has one client. */
static void
caseload_told(struct told *t)
{
    dbk_run_result r = tc_cli("--json", "clients", "--offline", NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    json_t *row = json_array_get(json_object_get(j, "clients"), 0);
    const char *first = json_string_value(json_array_get(json_object_get(row, "flags"), 0));
    t->clients_records =
        (long)json_integer_value(json_object_get(json_object_get(row, "withheld"), "records"));
    t->clients_flagged = first != NULL && strcmp(first, "SERVER WITHHOLDING ENTRIES") == 0;
    t->clients_loud = strstr(r.err, "withholding") != NULL;
    t->clients_status = r.status;
    json_decref(j);
    dbk_run_result_free(&r);
    r = tc_cli("clients", "--offline", NULL);
    t->table_flagged = r.status == 0 && strstr(r.out, "SERVER WITHHOLDING ENTRIES") != NULL;
    t->table_narrow = strchr(r.out, '\033') == NULL;
    for (const char *p = r.out; *p != '\0';) {
        size_t n = strcspn(p, "\n");
        if (n > 80)
            fprintf(stderr, "wider than 80 columns: %.*s\n", (int)n, p);
        t->table_narrow = t->table_narrow && n <= 80;
        p += n + (p[n] != '\0');
    }
    dbk_run_result_free(&r);
}

static struct told
counselor_told(struct fx *f)
{
    struct told t;
    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    dbk_run_result r = tc_cli("--json", "sync", NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    t.sync_records =
        (long)json_integer_value(json_object_get(json_object_get(j, "withheld"), "records"));
    t.sync_loud = strstr(r.err, "withholding") != NULL;
    t.sync_status = r.status;
    json_decref(j);
    dbk_run_result_free(&r);
    r = tc_cli("--json", "review", f->p.client_id, "--since", "2000-01-01", "--offline", NULL);
    j = json_loads(r.out, 0, NULL);
    t.review_records =
        (long)json_integer_value(json_object_get(json_object_get(j, "withheld"), "records"));
    t.review_loud = strstr(r.err, "withholding") != NULL;
    json_decref(j);
    dbk_run_result_free(&r);
    t.review_file_says = true;
    for (int html = 0; html < 2; html++) { /* read later, away from this stderr */
        char out[8300];
        snprintf(out, sizeof out, "%s/review.%s", f->p.counselor_home, html ? "html" : "txt");
        r = tc_cli("review", f->p.client_id, "--since", "2000-01-01", "--offline", "--format",
                   html ? "html" : "text", "--out", out, NULL);
        char *kept = tc_slurp(out);
        t.review_file_says = t.review_file_says && r.status == 0 && kept != NULL &&
                             strstr(kept, "SERVER WITHHOLDING ENTRIES") != NULL;
        free(kept);
        unlink(out);
        dbk_run_result_free(&r);
    }
    caseload_told(&t);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    return t;
}

/* n records withheld, and the sync, the review and the caseload say so, loudly. The
 * sync fails (exit 1); the review and the caseload are shown (exit 0), with a warning
 * and, in the caseload, the client's row flagged first. */
static void
told_of(const struct told *t, long n)
{
    assert_int_equal(t->sync_records, n);
    assert_true(t->sync_loud);
    assert_int_equal(t->sync_status, 1);
    assert_int_equal(t->review_records, n);
    assert_true(t->review_loud);
    assert_true(t->review_file_says);
    assert_int_equal(t->clients_records, n);
    assert_true(t->clients_flagged);
    assert_true(t->clients_loud);
    assert_int_equal(t->clients_status, 0);
    assert_true(t->table_flagged);
    assert_true(t->table_narrow);
}

static void
told_once(const struct told *t)
{
    told_of(t, 1);
}

/* What the counselor is told of one record withheld (the noun says what it was: lapses,
 * entries), reported as what (done as how), and checked: told once, everywhere. */
static void
one_told(struct fx *f, const char *what, const char *how, const char *noun)
{
    struct told t = counselor_told(f);
    dbk_report(what, how,
               "%s withheld that the counselor was not told of (leaked): %ld; sync exit %d; "
               "the review says so: %s; the caseload flags the row: %s",
               noun, t.review_records >= 1 ? 0L : 1L, t.sync_status,
               t.review_records == 1 && t.review_loud ? "yes" : "no",
               t.clients_flagged && t.table_flagged ? "yes" : "no");
    told_once(&t);
}

/*
 * Withheld records (proto/TRUST.md T12). The client writes three journal entries;
 * the server then drops one of them (its row deleted, as a server that withholds it
 * from every pull would). The counselor's next sync must say that an entry its
 * client signed for never arrived.
 */
static void
test_withheld_record(void **state)
{
    struct fx *f = *state;

    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    for (int i = 0; i < 3; i++)
        tc_ok(tc_cli("journal", "-m", i == 1 ? "the one the server drops" : "an ordinary day",
                     NULL),
              "journal");
    tc_ok(tc_cli("sync", NULL), "sync");
    drop_newest_record(f);

    /* The review says so too, in its JSON and on stderr. */
    one_told(f, "malicious server: withheld record",
             "the client writes 3 journal entries; the server drops one from every pull; the "
             "counselor syncs and opens the review",
             "entries");
}

/*
 * Withheld after a review (T12, the records the owner wrote). The counselor's review
 * writes its "reviewed" record into the client's stream; the client, not having pulled
 * it, logs a lapse and signs a head that counts its own records only. The server drops
 * the lapse: the counselor holds as many records as the head counts (its own record
 * fills the gap), but one record fewer of the client's own, and must be told.
 */
static void
test_withheld_after_review(void **state)
{
    struct fx *f = *state;

    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    for (int i = 0; i < 2; i++)
        tc_ok(tc_cli("journal", "-m", "an ordinary day", NULL), "journal");
    tc_ok(tc_cli("sync", NULL), "sync");

    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    tc_ok(tc_cli("--json", "review", f->p.client_id, "--since", "2000-01-01", NULL), "review");
    tc_ok(tc_cli("sync", NULL), "sync"); /* the reviewed record, into the client's stream */
    struct told calm = {0};
    caseload_told(&calm); /* nothing withheld yet: the row has no such flag */
    assert_int_equal(calm.clients_records, 0);
    assert_false(calm.clients_flagged || calm.table_flagged);
    assert_int_equal(calm.clients_status, 0);

    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    tc_ok(tc_cli("craving", "--intensity", "9", "--outcome", "used", "--used-what", "heroin",
                 NULL),
          "craving");
    tc_ok(tc_cli("sync", NULL), "sync");
    drop_newest_record(f); /* the lapse */

    one_told(f, "malicious server: withheld after a review",
             "the client writes 2 journal entries; the counselor reviews and syncs (its "
             "reviewed record in the client's stream); the client logs a lapse; the server "
             "drops the lapse from every pull; the counselor syncs, reviews, lists the caseload",
             "lapses");
}

/* The client's profile copied (the SQLite backup API: its log included) from one file
 * to another, as a backup of the device, or that backup put back, would. */
static void
profile_copy(const char *from, const char *to)
{
    sqlite3 *a, *b;
    assert_int_equal(sqlite3_open(from, &a), SQLITE_OK);
    assert_int_equal(sqlite3_open(to, &b), SQLITE_OK);
    sqlite3_backup *k = sqlite3_backup_init(b, "main", a, "main");
    assert_non_null(k);
    assert_int_equal(sqlite3_backup_step(k, -1), SQLITE_DONE);
    assert_int_equal(sqlite3_backup_finish(k), SQLITE_OK);
    sqlite3_close(b);
    sqlite3_close(a);
}

/* The revision clock the profile at home issued or merged last (its "hlc"), 0 when
 * none: a device's next clock is greater. */
static uint64_t
profile_clock(const char *home)
{
    char path[4400];
    sqlite3 *db;
    sqlite3_stmt *st;
    uint64_t clock = 0;
    snprintf(path, sizeof path, "%s/daybook.db", home);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'hlc'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        clock = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return clock;
}

/* The id of the journal entry the device at DAYBOOK_HOME writes with text. */
static void
journal_id(const char *text, char id[DBK_ID_TEXT_LEN + 1])
{
    json_t *j = tc_json_of(tc_cli("--json", "journal", "-m", text, NULL), "journal");
    snprintf(id, DBK_ID_TEXT_LEN + 1, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
}

/* The server's mark of where the records to drop begin: the greatest seq of the
 * client's shared stream, the head aside, kept in a table of its own (attack_mark). */
static void
mark_newest(struct fx *f)
{
    char sh[33], hh[33], sql[300];
    shared_hex(f, sh, hh);
    snprintf(sql, sizeof sql,
             "CREATE TABLE attack_mark AS SELECT max(seq) AS s FROM records WHERE stream = x'%s'"
             " AND record != x'%s';",
             sh, hh);
    turn_server(f, sql);
}

/*
 * Withheld after the client's profile is restored (T12, the head signed at sync). The
 * client writes an entry and its device is backed up before that entry is pushed; it
 * then syncs, logs a lapse and syncs again (the server's head counts the lapse). The
 * device is restored from the backup; the client corrects the entry it wrote before
 * the backup, and syncs: the head it signs counts what the backup held. The server
 * then drops the lapse. The counselor, who has not synced since before the lapse, must
 * be told: a head that counted it was pushed. Before the fix the restored device
 * signed a head counting one record fewer, with a newer clock than the lapse's head,
 * so the server kept it as the newest and the counselor was told nothing.
 */
static void
test_withheld_after_profile_restore(void **state)
{
    struct fx *f = *state;
    char db[4300], saved[4300];

    snprintf(db, sizeof db, "%s/daybook.db", f->p.client_home);
    snprintf(saved, sizeof saved, "%s/backup.db", f->p.home);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    for (int i = 0; i < 2; i++)
        tc_ok(tc_cli("journal", "-m", "an ordinary day", NULL), "journal");
    tc_ok(tc_cli("sync", NULL), "sync");
    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    tc_ok(tc_cli("sync", NULL), "counselor sync");

    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    char id[DBK_ID_TEXT_LEN + 1];
    journal_id("written before the backup", id);
    profile_copy(db, saved); /* the device's backup: that entry not yet pushed */
    tc_ok(tc_cli("sync", NULL), "sync");
    tc_ok(tc_cli("craving", "--intensity", "9", "--outcome", "used", "--used-what", "heroin", NULL),
          "craving");
    tc_ok(tc_cli("sync", NULL), "sync");
    mark_newest(f); /* the lapse */
    uint64_t issued = profile_clock(f->p.client_home);
    profile_copy(saved, db); /* the device restored */
    /* An edit's clock keeps the millisecond (store/session.h), so the restored device's
     * clocks run past those it issued after the backup, as a restore a minute later
     * would have them (a new record's clock is to the minute): its head is the newest. */
    tc_ok(tc_cli("edit", id, "-m", "written before the backup, corrected", NULL), "edit");
    assert_true(profile_clock(f->p.client_home) > issued);
    tc_ok(tc_cli("sync", NULL), "sync after the restore");
    drop_records(f, "seq = (SELECT s FROM attack_mark)"); /* the lapse */

    one_told(f, "malicious server: withheld after the client's profile is restored",
             "the client writes 3 journal entries, its device backed up before the third "
             "is pushed; it syncs, logs a lapse, syncs; the device is restored from the "
             "backup, the third entry corrected, and syncs; the server drops the lapse from "
             "every pull; the counselor syncs, reviews, lists the caseload",
             "lapses");
}

/*
 * Withheld while the client's other device wrote offline (T12, the head signed at
 * sync). The client's second device logs in, then writes an entry offline. The first
 * device writes an entry and syncs, logs a lapse and syncs (the server's head counts
 * both). The second device, still offline, corrects its entry (an edit's clock keeps
 * the millisecond, so its clocks run past the first device's, as when the phone is
 * back online a minute later), then syncs: the head it signs must count what the
 * server holds,
 * not only what it held before pulling. The server then drops the lapse and the
 * second device's entry. The counselor, who has not synced since, must be told of
 * both. Before the fix the second device signed, before its pull, a head counting
 * neither of the first device's records, with the newest clock, so the server kept it
 * and the counselor was told nothing; before the head moved to sync its clock was the
 * entry's and the server kept the first device's head, which counts one of the two.
 * The first device, a reader of its own stream too, must be told of the phone's entry.
 */
static void
test_withheld_after_other_device(void **state)
{
    struct fx *f = *state;
    char home2[4300], link[512], id[DBK_ID_TEXT_LEN + 1];
    const char *p;

    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    tc_ok(tc_cli("journal", "-m", "an ordinary day", NULL), "journal");
    tc_ok(tc_cli("sync", NULL), "sync");
    dbk_run_result r = tc_cli("status", NULL);
    p = strstr(r.out, "daybook login '");
    assert_non_null(p);
    snprintf(link, sizeof link, "%.*s", (int)strcspn(p + 15, "'"), p + 15);
    dbk_run_result_free(&r);
    snprintf(home2, sizeof home2, "%s/second", f->p.home);
    setenv("DAYBOOK_HOME", home2, 1);
    tc_ok(tc_cli("login", link, NULL), "login of the second device");
    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    tc_ok(tc_cli("sync", NULL), "counselor sync");

    setenv("DAYBOOK_HOME", home2, 1);
    journal_id("on the phone, offline", id);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    tc_ok(tc_cli("journal", "-m", "an ordinary evening", NULL), "journal");
    tc_ok(tc_cli("sync", NULL), "sync");
    mark_newest(f); /* where the records to drop begin */
    tc_ok(tc_cli("craving", "--intensity", "9", "--outcome", "used", "--used-what", "heroin", NULL),
          "craving");
    tc_ok(tc_cli("sync", NULL), "sync");
    setenv("DAYBOOK_HOME", home2, 1);
    tc_ok(tc_cli("edit", id, "-m", "on the phone, offline, corrected", NULL), "edit");
    assert_true(profile_clock(home2) > profile_clock(f->p.client_home));
    tc_ok(tc_cli("sync", NULL), "sync of the second device");
    drop_records(f, "seq > (SELECT s FROM attack_mark)"); /* the lapse, the phone's entry */

    struct told t = counselor_told(f);
    /* The first device reads its own stream as the counselor does (T12): the phone's
     * head tells it of the phone's entry, which it never received. */
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    r = tc_cli("--json", "sync", NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    long own = (long)json_integer_value(json_object_get(json_object_get(j, "withheld"), "records"));
    int own_status = r.status;
    json_decref(j);
    dbk_run_result_free(&r);
    dbk_report("malicious server: withheld after the client's other device wrote offline",
               "the client's second device writes an entry offline; the first writes an "
               "entry, syncs, logs a lapse, syncs; the second device corrects its entry and "
               "syncs; the server drops "
               "the lapse and the second device's entry from every pull; the counselor "
               "syncs, reviews, lists the caseload; the first device syncs",
               "entries withheld that the counselor was not told of (leaked): %ld; sync exit "
               "%d; the review says so: %s; the caseload flags the row: %s; the first device "
               "told of the phone's entry: %ld (sync exit %d)",
               2 - (t.review_records < 2 ? t.review_records : 2), t.sync_status,
               t.review_records == 2 && t.review_loud ? "yes" : "no",
               t.clients_flagged && t.table_flagged ? "yes" : "no", own, own_status);
    told_of(&t, 2);
    assert_int_equal(own, 1);
    assert_int_equal(own_status, 1);
}

/* The client writes a journal that reads as suicidal ideation and syncs; the counselor
 * syncs (DAYBOOK_HOME left at the counselor's). */
static int review_risk(struct fx *f, int *journal);

static void
risky_journal_synced(struct fx *f)
{
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    tc_ok(tc_cli("journal", "-m", "Nobody would notice. I just want to end my life.", NULL),
          "journal");
    tc_ok(tc_cli("sync", NULL), "sync");
    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
}

/* The client's row in the counselor's caseload (--json, pulled first unless offline),
 * or NULL; *risk its risk count, *flags its flags joined. */
static json_t *
caseload_row_of(struct fx *f, bool offline, long *risk, char *flags, size_t cap, dbk_run_result *r)
{
    *r = tc_cli("--json", "clients", offline ? "--offline" : NULL, NULL);
    json_t *j = json_loads(r->out, 0, NULL), *row = NULL, *x, *fl;
    size_t i, k;
    flags[0] = '\0';
    *risk = -1;
    json_array_foreach(json_object_get(j, "clients"), i, x)
    {
        if (strcmp(json_string_value(json_object_get(x, "account")), f->p.client_id) != 0)
            continue;
        row = json_incref(x);
        *risk = (long)json_integer_value(json_object_get(x, "risk"));
        json_array_foreach(json_object_get(x, "flags"), k, fl)
        {
            strncat(flags, json_string_value(fl), cap - strlen(flags) - 1);
            strncat(flags, ";", cap - strlen(flags) - 1);
        }
    }
    json_decref(j);
    return row;
}

/*
 * A client the server stops listing. The client writes a journal that reads as
 * suicidal ideation; the counselor syncs and its caseload shows the row with RISK.
 * The server then leaves the client out of GET /v1/caseload (its account's role
 * changed on the server's file, as a compromised server would answer), while this
 * device still holds the client's stream and that journal. The counselor's caseload
 * must still show the row, its RISK and a flag saying the server no longer lists the
 * client (and on stderr), never drop a client it showed without a word. Counted: rows
 * the counselor saw before that are missing now (leaked), and rows shown without the
 * flag.
 */
static void
test_client_dropped_from_caseload(void **state)
{
    struct fx *f = *state;
    char hex[33], sql[256], flags[512];
    long risk;
    dbk_run_result r;

    risky_journal_synced(f);
    json_t *seen = caseload_row_of(f, false, &risk, flags, sizeof flags, &r);
    assert_non_null(seen);
    assert_true(risk > 0);
    json_decref(seen);
    dbk_run_result_free(&r);

    snprintf(sql, sizeof sql, "UPDATE accounts SET role = 3 WHERE id = x'%s';",
             hex_of(f->p.client_id, hex));
    turn_server(f, sql);
    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    int missing = 0, unflagged = 0, quiet = 0;
    for (int offline = 0; offline < 2; offline++) {
        json_t *row = caseload_row_of(f, offline, &risk, flags, sizeof flags, &r);
        if (row == NULL || risk <= 0)
            missing++;
        else if (!offline && strstr(flags, DBK_REPORT_CASELOAD_UNLISTED) == NULL)
            unflagged++;
        if (!offline && strstr(r.err, "no longer lists") == NULL)
            quiet++;
        json_decref(row);
        dbk_run_result_free(&r);
    }
    r = tc_cli("clients", NULL);
    bool table = r.status == 0 && strstr(r.out, "RISK") != NULL &&
                 strstr(r.out, DBK_REPORT_CASELOAD_UNLISTED) != NULL;
    dbk_run_result_free(&r);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    dbk_report("malicious server: a client left out of the caseload",
               "the client writes a suicidal journal; the counselor syncs and sees the row with "
               "RISK; the server stops listing the client in GET /v1/caseload; the counselor "
               "lists the caseload online and offline",
               "rows seen before and missing now (leaked): %d of 2; shown without the flag: %d; "
               "not said on stderr: %d; the table flags it: %s",
               missing, unflagged, quiet, table ? "yes" : "no");
    assert_int_equal(missing, 0);
    assert_int_equal(unflagged, 0);
    assert_int_equal(quiet, 0);
    assert_true(table);
}

/*
 * The review of a client the server stops listing. The client writes a journal that
 * reads as suicidal ideation; the counselor syncs and reviews it. The server then
 * leaves the client out of GET /v1/caseload (as above), with no revocation of any kind:
 * its grant still stands. `daybook review` must not refuse on that silence ("has not
 * shared" was the server's word alone): it reviews what this device holds, risk
 * included, flagged NOT IN SERVER'S CASELOAD in its JSON ("consent":{"listed":false},
 * "flags"), text and HTML, with its "data as of", and says on stderr that the server
 * stopped listing the client and what to do, never that the client stopped sharing or
 * revoked. Offline afterwards it still reviews (nothing of "none" was kept). Counted:
 * reviews refused or hiding the risk (leaked), forms that do not flag it, and claims
 * that the client withdrew.
 */
static void
test_review_of_client_dropped_from_caseload(void **state)
{
    struct fx *f = *state;
    char hex[33], sql[256], html[4300];
    int leaked = 0, unflagged = 0, claimed = 0, unsaid = 0;

    risky_journal_synced(f);
    int journal;
    assert_true(review_risk(f, &journal) > 0);
    snprintf(sql, sizeof sql, "UPDATE accounts SET role = 3 WHERE id = x'%s';",
             hex_of(f->p.client_id, hex));
    turn_server(f, sql);
    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    snprintf(html, sizeof html, "%s/review.html", f->p.counselor_home);
    for (int form = 0; form < 4; form++) { /* JSON, text, HTML kept, JSON offline */
        const char *fmt = form == 1 ? "text" : form == 2 ? "html" : "json";
        dbk_run_result r =
            tc_cli("review", f->p.client_id, "--since", "2000-01-01", "--format", fmt,
                   form == 2   ? "--out"
                   : form == 3 ? "--offline"
                               : NULL,
                   form == 2 ? html : NULL, NULL);
        char *out = form == 2 ? tc_slurp(html) : strdup(r.out);
        json_t *j = form == 0 || form == 3 ? json_loads(out, 0, NULL) : NULL;
        if (r.status != 0) {
            fprintf(stderr, "review (%s) refused: %s\n", fmt, r.err);
            leaked++;
        } else if (j != NULL) {
            const json_t *c = json_object_get(j, "consent");
            if (json_integer_value(json_object_get(json_object_get(j, "read_first"), "risk")) <= 0)
                leaked++;
            if (form == 0 &&
                (!json_is_false(json_object_get(c, "listed")) ||
                 strstr(out, DBK_REPORT_CASELOAD_UNLISTED) == NULL ||
                 !json_is_string(json_object_get(json_object_get(j, "data"), "as_of"))))
                unflagged++;
        } else if (out == NULL || strstr(out, "NOT IN SERVER") == NULL ||
                   strstr(out, "end my life") == NULL || strstr(out, "ata as of") == NULL) {
            fprintf(stderr, "review (%s) does not flag it: %s\n", fmt, out ? out : "");
            unflagged++;
        }
        if (form < 3 &&
            (strstr(r.err, "no longer lists") == NULL || strstr(r.err, "Ask the clinic") == NULL))
            unsaid++;
        const char *both[] = {r.err, out ? out : ""};
        for (int k = 0; k < 2; k++)
            claimed += strstr(both[k], "has not shared") != NULL ||
                       strstr(both[k], "revoked your access") != NULL ||
                       strstr(both[k], "no review is made") != NULL;
        json_decref(j);
        free(out);
        dbk_run_result_free(&r);
    }
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    dbk_report("malicious server: the review of a client left out of the caseload",
               "the client writes a suicidal journal; the counselor syncs and reviews it; the "
               "server stops listing the client in GET /v1/caseload (no revocation); the "
               "counselor reviews (JSON, text, HTML kept, JSON offline)",
               "reviews refused or without the risk (leaked): %d of 4; forms that do not flag "
               "it: %d; not said on stderr with what to do: %d of 3; claims that the client "
               "withdrew: %d",
               leaked, unflagged, unsaid, claimed);
    assert_int_equal(leaked, 0);
    assert_int_equal(unflagged, 0);
    assert_int_equal(unsaid, 0);
    assert_int_equal(claimed, 0);
}

/*
 * The server tampers with a record of the client's shared stream (id_text, or with NULL
 * its newest, the head aside). newer: it forges a newer revision of it, the envelope as
 * the client signed it with its clock moved a minute on (so the signature no longer
 * holds) and a new sequence number, as a server that wants an entry the counselor read
 * gone from its view would serve it. Else one byte of its ciphertext is flipped in
 * place, as a server would serve an entry the counselor has not pulled yet that must not
 * be read (the stream head still counts its id). author (NULL: left): the author the
 * forged revision's header names instead of its signer's.
 */
static void
tamper_record(struct fx *f, const char *id_text, bool newer, const dbk_id *author)
{
    dbk_id stream, head;
    unsigned char box_pk[32];
    char path[4200], sh[33], hh[33], rh[33], sql[800], *hex, *upd;
    sqlite3 *db;
    sqlite3_stmt *st;

    client_stream_and_key(f, &stream, box_pk);
    dbk_trust_head_id(&stream, &head);
    for (size_t i = 0; i < 16; i++) {
        snprintf(sh + 2 * i, 3, "%02x", stream.b[i]);
        snprintf(hh + 2 * i, 3, "%02x", head.b[i]);
    }
    snprintf(path, sizeof path, "%s/daybook.db", f->srv.data_dir);
    if (id_text != NULL)
        snprintf(sql, sizeof sql,
                 "SELECT envelope FROM records WHERE stream = x'%s' AND record = x'%s' "
                 "AND record != x'%s'",
                 sh, hex_of(id_text, rh), hh);
    else
        snprintf(sql, sizeof sql,
                 "SELECT envelope FROM records WHERE stream = x'%s' AND record != x'%s' "
                 "ORDER BY seq DESC LIMIT 1",
                 sh, hh);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    unsigned char *env = malloc(len);
    memcpy(env, sqlite3_column_blob(st, 0), len);
    sqlite3_finalize(st);
    sqlite3_close(db);

    dbk_envelope_hdr h;
    assert_int_equal(dbk_envelope_parse(env, len, &h), DBK_OK);
    uint64_t clock = h.rev.clock;
    if (newer)
        dbk_put_u64(env + 36, clock = dbk_hlc_pack(dbk_hlc_ms(h.rev.clock) + 60000, 0));
    else
        env[DBK_ENV_HEADER_BYTES + 3] ^= 0x5a;
    if (author != NULL)
        memcpy(env + 64, author->b, DBK_ID_BYTES); /* the author's place (proto/CRYPTO.md 4) */
    hex = malloc(2 * len + 1);
    for (size_t i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", env[i]);
    upd = malloc(2 * len + 1024);
    sprintf(upd,
            "UPDATE streams SET seq = seq + %d WHERE id = x'%s';"
            "UPDATE records SET envelope = x'%s', clock = %llu, seq = CASE WHEN %d THEN (SELECT "
            "seq FROM streams WHERE id = x'%s') ELSE seq END WHERE stream = x'%s' AND record = x'",
            newer, sh, hex, (unsigned long long)clock, newer, sh, sh);
    for (size_t i = 0; i < 16; i++)
        sprintf(upd + strlen(upd), "%02x", h.record.b[i]);
    strcat(upd, "';");
    turn_server(f, upd);
    free(upd);
    free(hex);
    free(env);
}

/* The risk items of the review of the client (--json, pulled first) and its journal
 * entries; -1 when it was not shown. */
static int
review_risk(struct fx *f, int *journal)
{
    dbk_run_result r = tc_cli("--json", "review", f->p.client_id, "--since", "2000-01-01", NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    int risk =
        r.status == 0 && j != NULL
            ? (int)json_integer_value(json_object_get(json_object_get(j, "read_first"), "risk"))
            : -1;
    json_t *jr = json_object_get(j, "journal");
    *journal = json_is_array(jr) ? (int)json_array_size(jr)
                                 : (int)json_integer_value(json_object_get(jr, "count"));
    json_decref(j);
    dbk_run_result_free(&r);
    return risk;
}

/*
 * A forged revision does not take a risky entry away. The client writes a journal that
 * reads as suicidal ideation; the counselor syncs and reviews it (Read first: risk).
 * The server then serves a newer revision of that entry that is not the client's (its
 * signature does not hold). The counselor's next sync must not let it replace the
 * entry it read: the review (with the summary cache and without) and the caseload
 * still show the risk and the journal. Counted: risk items or journal entries gone
 * (leaked).
 */
static void
test_forged_revision_hides_nothing(void **state)
{
    struct fx *f = *state;
    int journal = 0, leaked = 0;
    long risk_row;
    char flags[512];
    dbk_run_result r;

    if (dbk_test_pg())
        skip(); /* the envelope is rewritten on the SQLite file */
    risky_journal_synced(f);
    assert_true(review_risk(f, &journal) > 0);
    assert_int_equal(journal, 1);
    json_t *lg = tc_json_of(tc_cli("--json", "log", "--type", "journal", NULL), "log");
    char id[DBK_ID_TEXT_LEN + 1];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(json_array_get(lg, 0), "id")));
    json_decref(lg);

    tamper_record(f, id, true, NULL);
    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    /* The review pulls it first, and says so too (its JSON and stderr). */
    r = tc_cli("--json", "review", f->p.client_id, "--since", "2000-01-01", NULL);
    json_t *rj = json_loads(r.out, 0, NULL);
    bool review_said =
        strstr(r.err, "forged") != NULL &&
        json_integer_value(json_object_get(json_object_get(rj, "data"), "refused_revisions")) == 1;
    json_decref(rj);
    dbk_run_result_free(&r);
    tamper_record(f, id, true, NULL); /* a second forgery, for the sync */
    r = tc_cli("sync", NULL);
    bool said = strstr(r.err, "forged") != NULL || strstr(r.err, "not signed") != NULL;
    dbk_run_result_free(&r);
    for (int plain = 0; plain < 2; plain++) {
        if (plain)
            setenv("DAYBOOK_NO_SUMMARY", "1", 1);
        int risk = review_risk(f, &journal);
        if (risk <= 0 || journal != 1) {
            fprintf(stderr, "review (%s): risk %d, journal %d\n", plain ? "no summary" : "summary",
                    risk, journal);
            leaked++;
        }
        json_decref(caseload_row_of(f, false, &risk_row, flags, sizeof flags, &r));
        dbk_run_result_free(&r);
        if (risk_row <= 0) {
            fprintf(stderr, "clients (%s): risk %ld\n", plain ? "no summary" : "summary", risk_row);
            leaked++;
        }
    }
    unsetenv("DAYBOOK_NO_SUMMARY");
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    dbk_report("malicious server: a forged newer revision of a risky entry",
               "the client writes a suicidal journal; the counselor syncs and reviews it; the "
               "server serves a newer revision of it whose signature does not hold; the counselor "
               "syncs, reviews and lists the caseload (summary cache on and off)",
               "reviews or caseload rows that lost the risk or the journal (leaked): %d of 4; the "
               "review and the sync said they refused a forged revision: %s, %s",
               leaked, review_said ? "yes" : "no", said ? "yes" : "no");
    assert_int_equal(leaked, 0);
    assert_true(said);
    assert_true(review_said);
}

/*
 * An entry that does not open is said in the review itself. The counselor is up to
 * date; the client then logs a lapse, and the server serves it with one byte of its
 * ciphertext changed (its id still counted by the client's signed stream head, so
 * nothing reads as withheld). The review cannot show the lapse; it must say, in its
 * JSON and in the text and HTML a counselor keeps (--out), that entries could not be
 * opened and the review is missing them, not on stderr alone, and what to do (tell
 * the clinic). Counted: forms of the review that say nothing of it (leaked), kept forms
 * that say it without what to do.
 */
static void
test_unopened_entry_is_said(void **state)
{
    struct fx *f = *state;
    int silent = 0, no_action = 0;

    if (dbk_test_pg())
        skip(); /* the envelope is rewritten on the SQLite file */
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    tc_ok(tc_cli("journal", "-m", "an ordinary day", NULL), "journal");
    tc_ok(tc_cli("sync", NULL), "sync");
    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    tc_ok(tc_cli("craving", "--intensity", "9", "--outcome", "used", "--used-what", "heroin", NULL),
          "lapse");
    tc_ok(tc_cli("sync", NULL), "sync");
    tamper_record(f, NULL, false, NULL);

    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    dbk_run_result r = tc_cli("--json", "review", f->p.client_id, "--since", "2000-01-01", NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    long lapses = (long)json_integer_value(json_object_get(json_object_get(j, "lapses"), "count"));
    if (json_integer_value(json_object_get(json_object_get(j, "unopened"), "records")) < 1)
        silent++;
    json_decref(j);
    dbk_run_result_free(&r);
    for (int html = 0; html < 2; html++) {
        char out[8300];
        snprintf(out, sizeof out, "%s/review.%s", f->p.counselor_home, html ? "html" : "txt");
        r = tc_cli("review", f->p.client_id, "--since", "2000-01-01", "--format",
                   html ? "html" : "text", "--out", out, NULL);
        char *kept = tc_slurp(out);
        if (r.status != 0 || kept == NULL || strstr(kept, "COULD NOT BE OPENED") == NULL)
            silent++;
        else if (strstr(kept, "clinic") == NULL)
            no_action++; /* said, but not what to do */
        free(kept);
        unlink(out);
        dbk_run_result_free(&r);
    }
    /* The caseload's row, not stderr alone (the review's words are in its row too). */
    int row_unsaid = caseload_unopened_unsaid(f, 1, 0);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    dbk_report("malicious server: an entry served so that it does not open",
               "the client logs a lapse; the server flips a byte of its ciphertext (its id still "
               "counted by the client's stream head); the counselor reviews (JSON, text and HTML "
               "kept with --out) and lists the caseload (JSON and table, with and without the "
               "summary cache)",
               "lapses shown: %ld; forms of the review that do not say an entry could not be "
               "opened (leaked): %d of 3; kept forms that say it but not what to do: %d of 2; "
               "forms of the caseload whose row does not say it: %d of 4",
               lapses, silent, no_action, row_unsaid);
    assert_int_equal(lapses, 0);
    assert_int_equal(silent, 0);
    assert_int_equal(no_action, 0);
    assert_int_equal(row_unsaid, 0);
}

/* On the server's file: the client's grants to the counselor revoked (revoked) or
 * active again, the counselor told (its grants_seq moved: told) or not. */
static void
client_grant_turned(struct fx *f, bool revoked, bool told)
{
    char ch[33], coh[33], sql[600];
    hex_of(f->p.client_id, ch);
    hex_of(f->p.counselor_id, coh);
    snprintf(sql, sizeof sql,
             "UPDATE grants SET revoked_at = %d WHERE grantee = x'%s' AND stream IN (SELECT id "
             "FROM streams WHERE owner = x'%s');%s%s%s",
             revoked ? 1 : 0, coh, ch,
             told ? "UPDATE accounts SET grants_seq = grants_seq + 1 WHERE id = x'" : "",
             told ? coh : "", told ? "';" : "");
    turn_server(f, sql);
}

/*
 * A reading ended here that the server later lists as sharing again without telling
 * (its grants_seq for the counselor not moved: a server restored, or one that says two
 * things). The server revokes the client's grant on its file and tells the counselor
 * (grants_seq bumped): the counselor's sync ends its reading of the stream, and the
 * review is refused. The server then lists the grant active again, quietly; the client
 * logs a lapse. The caseload says the client shares, so the review is made: it must
 * show the lapse or say that its data is not current, never show days old entries as
 * current. Counted: reviews that miss the lapse and call their data current (leaked).
 */
static void
test_reading_ended_but_listed_sharing(void **state)
{
    struct fx *f = *state;
    int leaked = 0;

    risky_journal_synced(f);
    client_grant_turned(f, true, true);
    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    dbk_run_result r = tc_cli("sync", NULL);
    dbk_run_result_free(&r);
    r = tc_cli("--json", "review", f->p.client_id, "--since", "2000-01-01", NULL);
    int refused = r.status != 0;
    dbk_run_result_free(&r);

    client_grant_turned(f, false, false);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    tc_ok(tc_cli("craving", "--intensity", "9", "--outcome", "used", "--used-what", "heroin", NULL),
          "lapse");
    tc_ok(tc_cli("sync", NULL), "sync");
    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    /* The caseload first (a review would look again for it): the row shows the lapse,
     * or the caseload says its data is not current. */
    long risk_row;
    char flags[512];
    json_t *row = caseload_row_of(f, false, &risk_row, flags, sizeof flags, &r);
    json_t *cj = json_loads(r.out, 0, NULL), *d = json_object_get(cj, "data");
    bool row_current =
        json_is_true(json_object_get(d, "pulled")) && json_is_false(json_object_get(d, "stale"));
    int row_leaked = r.status == 0 && row_current && strstr(flags, "USE REPORTED") == NULL;
    json_decref(cj);
    json_decref(row);
    dbk_run_result_free(&r);
    for (int i = 0; i < 2; i++)
        leaked += tc_review_misses_lapse(f->p.client_id, i);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    dbk_report("restored server: a reading ended here, listed as sharing again quietly",
               "the server revokes the client's grant and tells the counselor (its reading "
               "ends); then lists the grant active again without telling; the client logs a "
               "lapse; the counselor lists the caseload, then reviews twice",
               "reviews refused while revoked: %d of 1; caseload rows that miss the lapse and "
               "call their data current: %d of 1; reviews that do (leaked): %d of 2",
               refused, row_leaked, leaked);
    assert_int_equal(refused, 1);
    assert_int_equal(row_leaked, 0);
    assert_int_equal(leaked, 0);
}

/*
 * The pull a review makes after it undid an end of reading (the grants listed active
 * again quietly, as above) says what it refused, as the review's first pull does. The
 * counselor read a risky journal; the server ends the reading (told), lists the grant
 * active again quietly, and serves a forged newer revision of the journal. The review
 * pulls the client's stream only once it fetched the grants again: the forgery refused
 * there must be said on stderr, not in the JSON alone.
 */
static void
test_reading_ended_then_forged_is_said(void **state)
{
    struct fx *f = *state;
    char id[DBK_ID_TEXT_LEN + 1];

    if (dbk_test_pg())
        skip(); /* the envelope is rewritten on the SQLite file */
    risky_journal_synced(f);
    json_t *lg = tc_json_of(tc_cli("--json", "log", "--type", "journal", NULL), "log");
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(json_array_get(lg, 0), "id")));
    json_decref(lg);
    client_grant_turned(f, true, true);
    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    tc_ok(tc_cli("sync", NULL), "counselor sync (reading ends)");
    client_grant_turned(f, false, false);
    tamper_record(f, id, true, NULL);

    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    dbk_run_result r = tc_cli("--json", "review", f->p.client_id, "--since", "2000-01-01", NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    long refused =
        (long)json_integer_value(json_object_get(json_object_get(j, "data"), "refused_revisions"));
    bool said = strstr(r.err, "forged") != NULL;
    json_decref(j);
    dbk_run_result_free(&r);
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    dbk_report("malicious server: a forged revision in the pull after a reading ended",
               "the counselor read a risky journal; the server ends the reading (told), lists "
               "the grant active again quietly and serves a forged newer revision of the "
               "journal; the counselor reviews",
               "revisions refused in the review's JSON: %ld; said on stderr: %s", refused,
               said ? "yes" : "no");
    assert_int_equal(refused, 1);
    assert_true(said);
}

/* The notes from the counselor the client's `daybook --json notes` lists. */
static size_t
client_notes_listed(void)
{
    json_t *j = tc_json_of(tc_cli("--json", "notes", NULL), "notes");
    size_t n = json_is_array(j) ? json_array_size(j) : 0;
    json_decref(j);
    return n;
}

/*
 * A forged revision naming an author nobody here knows does not take the counselor's
 * note away from the client. The counselor shares a note; the client syncs and is
 * told of it. The server then serves a newer revision of the note whose header names
 * a made-up account as its author (no key for it here, so its signature cannot be
 * checked). A grantee writes only records it created and the owner any: a revision of
 * a record whose current author the client knows, by anyone but that author or the
 * owner, is refused (T7), as one by an unknown author of the owner's own writing was.
 * Counted: notes the client's `daybook notes` no longer lists (leaked). Before, the
 * unknown author's revision replaced the note: 1.
 */
static void
test_unknown_author_hides_no_note(void **state)
{
    struct fx *f = *state;
    int leaked = 0;
    dbk_id nobody;
    dbk_run_result r;

    if (dbk_test_pg())
        skip(); /* the envelope is rewritten on the SQLite file */
    setenv("DAYBOOK_HOME", f->p.counselor_home, 1);
    tc_ok(tc_cli("sync", NULL), "counselor sync"); /* the client's grant */
    tc_ok(tc_cli("note", f->p.client_id, "-m", "Proud of this week. NOTE-KEPT", "--share", NULL),
          "note");
    tc_ok(tc_cli("sync", NULL), "counselor sync");
    setenv("DAYBOOK_HOME", f->p.client_home, 1);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "NOTE-KEPT"));
    dbk_run_result_free(&r);
    assert_int_equal(client_notes_listed(), 1);
    json_t *lg = tc_json_of(tc_cli("--json", "notes", NULL), "notes");
    char id[DBK_ID_TEXT_LEN + 1];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(json_array_get(lg, 0), "id")));
    json_decref(lg);

    dbk_id_random(&nobody);
    tamper_record(f, id, true, &nobody);
    r = tc_cli("sync", NULL);
    bool said = strstr(r.err, "forged") != NULL || strstr(r.err, "not signed") != NULL;
    dbk_run_result_free(&r);
    leaked = 1 - (int)client_notes_listed();
    dbk_report("malicious server: a newer revision of the counselor's note by an unknown author",
               "the counselor shares a note; the client syncs; the server serves a newer "
               "revision of the note naming a made-up account as author; the client syncs "
               "and lists its notes",
               "notes no longer listed (leaked): %d of 1; the sync said it refused a forged "
               "revision: %s",
               leaked, said ? "yes" : "no");
    assert_int_equal(leaked, 0);
    assert_true(said);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kind_swap_and_epoch_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_self_grant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_safety_number_and_changed_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_author, setup, teardown),
        cmocka_unit_test_setup_teardown(test_markup_in_every_field, setup_hostile,
                                        teardown_hostile),
        cmocka_unit_test_setup_teardown(test_sizes_and_clocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_withheld_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_withheld_after_review, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_dropped_from_caseload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_review_of_client_dropped_from_caseload, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forged_revision_hides_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unopened_entry_is_said, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reading_ended_but_listed_sharing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_withheld_after_profile_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_withheld_after_other_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reading_ended_then_forged_is_said, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_author_hides_no_note, setup, teardown),
    };
    if (dbk_init() != 0)
        return 1;
    if (getenv("DAYBOOK_TEST_FILTER") != NULL) /* one test by name, when working on it */
        cmocka_set_test_filter(getenv("DAYBOOK_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
