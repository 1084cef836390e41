/*
 * daybookd's API end to end, with real clients (tests/support/tc.c: the crypto of
 * common/ over real HTTP) against a real daybookd and its real SQLite file:
 * enrollment, sharing, reading, idempotent push, conflicts, revocation and key
 * rotation, login without account enumeration, multi-stream sync, the access
 * log and its hash chain, no plaintext on the server's disk, and kill -9 in the
 * middle of a push storm.
 */
#include "tc.h"

#include "dbk/base64.h"
#include "dbk/envelope.h"
#include "dbk/error.h"
#include "dbk/init.h"
#include <sqlite3.h>

#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define CANARY "CANARY-craving-at-the-bar-on-5th-7f3a"

static int
start(void **state)
{
    dbk_server *s = calloc(1, sizeof *s);
    assert_int_equal(dbk_server_start(s, NULL), 0);
    *state = s;
    return 0;
}

static int
stop(void **state)
{
    dbk_server *s = *state;
    if (s->pid > 0)
        assert_int_equal(dbk_server_stop(s), 0); /* clean drain, no leaks under ASan */
    dbk_server_cleanup(s);
    free(s);
    return 0;
}

/* Pushes one new record with plaintext to client's shared stream; returns its status. */
static long
push_one(dbk_server *s, tc_account *c, const dbk_id *record, const char *plaintext,
         json_t **resp)
{
    long st;
    json_t *body = json_pack("{s:[{s:o}]}", "records", "envelope",
                             tc_envelope(c, &c->shared, c->shared_epoch,
                                         c->shared_key[c->shared_epoch], record, plaintext));
    json_t *r = tc_req(s, c, "POST", tc_path("/v1/streams/%s/records", &c->shared), body, &st);
    json_decref(body);
    if (resp)
        *resp = r;
    else
        json_decref(r);
    return st;
}

static void
test_enroll_share_read_and_audit(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl, other;
    json_t *r, *recs;
    dbk_id rec[3];
    long st;
    char *pt;

    tc_new_counselor(s, &co, "Counselor A");
    tc_new_client(s, &cl, &co);
    tc_new_client(s, &other, &co);

    for (int i = 0; i < 3; i++) {
        char text[128];
        dbk_id_random(&rec[i]);
        snprintf(text, sizeof text, "{\"type\":\"craving\",\"v\":1,\"note\":\"%s-%d\"}", CANARY, i);
        assert_int_equal(push_one(s, &cl, &rec[i], text, &r), 200);
        assert_string_equal(json_string_value(json_object_get(
                                json_array_get(json_object_get(r, "results"), 0), "result")),
                            "stored");
        assert_int_equal(json_integer_value(json_object_get(r, "high_seq")), i + 1);
        json_decref(r);
    }

    /* The counselor pulls the shared stream and can open what it gets. */
    r = tc_req(s, &co, "GET", tc_path("/v1/streams/%s/records?since=0", &cl.shared), NULL, &st);
    assert_int_equal(st, 200);
    recs = json_object_get(r, "records");
    assert_int_equal(json_array_size(recs), 3);
    assert_false(json_is_true(json_object_get(r, "more")));
    assert_int_equal(json_integer_value(json_object_get(r, "next")), 3);
    for (size_t i = 0; i < 3; i++) {
        pt = tc_open(json_string_value(json_object_get(json_array_get(recs, i), "envelope")), &cl,
                     &cl.shared, 1, cl.shared_key[1]);
        assert_non_null(pt);
        assert_non_null(strstr(pt, CANARY));
        free(pt);
    }
    json_decref(r);

    /* Paging: two at a time. */
    r = tc_req(s, &co, "GET", tc_path("/v1/streams/%s/records?since=0&limit=2", &cl.shared), NULL,
               &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(r, "records")), 2);
    assert_true(json_is_true(json_object_get(r, "more")));
    json_decref(r);

    /* The private stream is the client's alone; other clients see nothing of its streams. */
    r = tc_req(s, &co, "GET", tc_path("/v1/streams/%s/records", &cl.priv), NULL, &st);
    assert_int_equal(st, 403);
    assert_string_equal(tc_code(r), "forbidden");
    json_decref(r);
    r = tc_req(s, &other, "GET", tc_path("/v1/streams/%s/records", &cl.shared), NULL, &st);
    assert_int_equal(st, 403);
    json_decref(r);
    r = tc_req(s, NULL, "GET", tc_path("/v1/streams/%s/records", &cl.shared), NULL, &st);
    assert_int_equal(st, 401);
    assert_string_equal(tc_code(r), "unauthenticated");
    json_decref(r);

    /* The client's access log shows the counselor's read and its own write. */
    r = tc_req(s, &cl, "GET", "/v1/access-log", NULL, &st);
    assert_int_equal(st, 200);
    {
        json_t *e;
        size_t i;
        bool read_by_counselor = false, wrote = false;
        json_array_foreach(json_object_get(r, "entries"), i, e) {
            const char *action = json_string_value(json_object_get(e, "action"));
            const char *role = json_string_value(json_object_get(e, "actor_role"));
            if (strcmp(action, "read") == 0 && strcmp(role, "counselor") == 0)
                read_by_counselor = true;
            if (strcmp(action, "write") == 0 && strcmp(role, "client") == 0)
                wrote = true;
        }
        assert_true(read_by_counselor);
        assert_true(wrote);
    }
    json_decref(r);
    /* ...and the other client's log has nothing about this stream. */
    r = tc_req(s, &other, "GET", "/v1/access-log", NULL, &st);
    assert_int_equal(st, 200);
    {
        json_t *e;
        size_t i;
        json_array_foreach(json_object_get(r, "entries"), i, e) {
            json_t *want = tc_id(&other.id);
            assert_true(json_equal(json_object_get(e, "owner"), want));
            json_decref(want);
        }
    }
    json_decref(r);

    /* The admin's check of the chain. */
    {
        const char *argv[] = {dbk_bin("DAYBOOKD"), "audit", "verify", "--data-dir", s->data_dir,
                              NULL};
        dbk_run_result rr;
        assert_int_equal(dbk_run(argv, NULL, 60, &rr), 0);
        assert_int_equal(rr.status, 0);
        assert_non_null(strstr(rr.out, "audit chain ok"));
        dbk_run_result_free(&rr);
    }

    /* Caseload: both clients, with an active grant. */
    r = tc_req(s, &co, "GET", "/v1/caseload", NULL, &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(r, "clients")), 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r, "clients"), 0), "grant_state")),
                        "active");
    /* While a client shares, the counselor sees when it last synced. */
    assert_true(json_integer_value(json_object_get(json_array_get(json_object_get(r, "clients"),
                                                                  0),
                                                   "last_sync_at")) > 1700000000000LL);
    json_decref(r);
    /* ?account=: that client's row alone; none for an account that is no client of the
     * counselor's (itself); any other parameter, or an id that does not parse, refused. */
    {
        char path[96], t[DBK_ID_TEXT_LEN + 1];
        json_t *want = tc_id(&cl.id);
        dbk_id_to_text(&cl.id, t);
        snprintf(path, sizeof path, "/v1/caseload?account=%s", t);
        r = tc_req(s, &co, "GET", path, NULL, &st);
        assert_int_equal(st, 200);
        assert_int_equal(json_array_size(json_object_get(r, "clients")), 1);
        assert_true(json_equal(
            json_object_get(json_array_get(json_object_get(r, "clients"), 0), "account"), want));
        json_decref(want);
        json_decref(r);
        dbk_id_to_text(&co.id, t);
        snprintf(path, sizeof path, "/v1/caseload?account=%s", t);
        r = tc_req(s, &co, "GET", path, NULL, &st);
        assert_int_equal(st, 200);
        assert_int_equal(json_array_size(json_object_get(r, "clients")), 0);
        json_decref(r);
        r = tc_req(s, &co, "GET", "/v1/caseload?account=nope", NULL, &st);
        assert_int_equal(st, 400);
        assert_string_equal(json_string_value(json_object_get(json_object_get(r, "error"), "code")),
                            "bad_field");
        json_decref(r);
        r = tc_req(s, &co, "GET", "/v1/caseload?limit=1", NULL, &st);
        assert_int_equal(st, 400);
        assert_string_equal(json_string_value(json_object_get(json_object_get(r, "error"), "code")),
                            "unknown_field");
        json_decref(r);
    }
    r = tc_req(s, &cl, "GET", "/v1/caseload", NULL, &st);
    assert_int_equal(st, 403);
    json_decref(r);

    tc_account_free(&co);
    tc_account_free(&cl);
    tc_account_free(&other);
}

/* GET path as co: its status and its body as sent (compact JSON, in the server's order). */
static char *
caseload_text(dbk_server *s, tc_account *co, const char *path, long *st)
{
    json_t *r = tc_req(s, co, "GET", path, NULL, st);
    char *t = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_non_null(t);
    json_decref(r);
    return t;
}

/* GET /v1/caseload?account=<id> as co: its status and body as caseload_text. */
static char *
caseload_of(dbk_server *s, tc_account *co, const dbk_id *id, long *st)
{
    char path[96], t[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(id, t);
    snprintf(path, sizeof path, "/v1/caseload?account=%s", t);
    return caseload_text(s, co, path, st);
}

/*
 * GET /v1/caseload?account= (README section 15), as a counselor who wants to learn
 * about accounts not its own would use it: its own client's row is the one of the
 * whole caseload, field for field and in the same order; a client of another
 * counselor's and an id no account has get the same answer, byte for byte (nothing
 * says the first exists); a repeated or empty parameter is refused, before and
 * without a token alike; a client may not ask.
 */
static void
test_caseload_of_one_client(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl, co2, cl2;
    dbk_id nobody, rec;
    json_t *all, *one, *r, *row = NULL, *want, *e;
    char *t_all, *t_one, *t_theirs, *t_nobody, path[160], id[DBK_ID_TEXT_LEN + 1];
    long st, st2;
    size_t i;

    tc_new_counselor(s, &co, "Counselor K");
    tc_new_client(s, &cl, &co);
    tc_new_counselor(s, &co2, "Counselor L");
    tc_new_client(s, &cl2, &co2);
    dbk_id_random(&nobody);
    dbk_id_random(&rec);
    assert_int_equal(push_one(s, &cl, &rec, "x", NULL), 200); /* cl's last sync */

    /* The row alone is the whole caseload's row, as sent. */
    t_all = caseload_text(s, &co, "/v1/caseload", &st);
    assert_int_equal(st, 200);
    t_one = caseload_of(s, &co, &cl.id, &st2);
    assert_int_equal(st2, 200);
    all = json_loads(t_all, 0, NULL);
    one = json_loads(t_one, 0, NULL);
    want = tc_id(&cl.id);
    for (i = 0; i < json_array_size(json_object_get(all, "clients")); i++) {
        e = json_array_get(json_object_get(all, "clients"), i);
        if (json_equal(json_object_get(e, "account"), want))
            row = e;
    }
    assert_non_null(row);
    assert_non_null(json_object_get(row, "last_sync_at"));
    assert_int_equal(json_array_size(json_object_get(one, "clients")), 1);
    {
        char *a = json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER),
             *b = json_dumps(json_array_get(json_object_get(one, "clients"), 0),
                             JSON_COMPACT | JSON_PRESERVE_ORDER);
        assert_string_equal(a, b);
        free(a);
        free(b);
    }
    json_decref(want);
    json_decref(all);
    json_decref(one);

    /* Another counselor's client, and no account at all: the same answer. */
    t_theirs = caseload_of(s, &co, &cl2.id, &st);
    t_nobody = caseload_of(s, &co, &nobody, &st2);
    assert_int_equal(st, 200);
    assert_int_equal(st2, 200);
    assert_string_equal(t_theirs, "{\"clients\":[]}");
    assert_string_equal(t_theirs, t_nobody);

    /* Repeated, empty, not an id: refused, and with no token the same way. */
    dbk_id_to_text(&cl.id, id);
    snprintf(path, sizeof path, "/v1/caseload?account=%s&account=%s", id, id);
    r = tc_req(s, &co, "GET", path, NULL, &st);
    assert_int_equal(st, 400);
    assert_string_equal(tc_code(r), "unknown_field");
    json_decref(r);
    r = tc_req(s, NULL, "GET", path, NULL, &st);
    assert_int_equal(st, 400);
    json_decref(r);
    r = tc_req(s, &co, "GET", "/v1/caseload?account=", NULL, &st);
    assert_int_equal(st, 400);
    assert_string_equal(tc_code(r), "bad_field");
    json_decref(r);
    snprintf(path, sizeof path, "/v1/caseload?account=%s=", id);
    r = tc_req(s, &co, "GET", path, NULL, &st);
    assert_int_equal(st, 400);
    assert_string_equal(tc_code(r), "bad_field");
    json_decref(r);
    /* A valid id with no token: 401, as without the parameter. */
    snprintf(path, sizeof path, "/v1/caseload?account=%s", id);
    r = tc_req(s, NULL, "GET", path, NULL, &st);
    assert_int_equal(st, 401);
    json_decref(r);
    /* A client may not ask, about itself either. */
    r = tc_req(s, &cl, "GET", path, NULL, &st);
    assert_int_equal(st, 403);
    json_decref(r);

    free(t_all);
    free(t_one);
    free(t_theirs);
    free(t_nobody);
    tc_account_free(&co);
    tc_account_free(&cl);
    tc_account_free(&co2);
    tc_account_free(&cl2);
}

static void
test_push_is_idempotent_and_orders_revisions(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl;
    dbk_id record;
    json_t *env1, *env2, *body, *r, *res;
    const char *path;
    long st;

    tc_new_counselor(s, &co, "Counselor B");
    tc_new_client(s, &cl, &co);
    dbk_id_random(&record);
    path = tc_path("/v1/streams/%s/records", &cl.shared);
    char pathbuf[128];
    snprintf(pathbuf, sizeof pathbuf, "%s", path);

    env1 = tc_envelope(&cl, &cl.shared, 1, cl.shared_key[1], &record, "{\"v\":1,\"n\":1}");
    env2 = tc_envelope(&cl, &cl.shared, 1, cl.shared_key[1], &record, "{\"v\":1,\"n\":2}");

    /* A push whose answer was lost is simply sent again: nothing is stored twice. */
    body = json_pack("{s:[{s:O}]}", "records", "envelope", env1);
    r = tc_req(s, &cl, "POST", pathbuf, body, &st);
    assert_int_equal(st, 200);
    json_decref(r);
    r = tc_req(s, &cl, "POST", pathbuf, body, &st);
    assert_int_equal(st, 200);
    res = json_array_get(json_object_get(r, "results"), 0);
    assert_string_equal(json_string_value(json_object_get(res, "result")), "duplicate");
    assert_int_equal(json_integer_value(json_object_get(res, "seq")), 1);
    assert_int_equal(json_integer_value(json_object_get(r, "high_seq")), 1);
    json_decref(r);
    json_decref(body);

    /* The newer revision wins; the older one sent afterwards is "superseded". */
    body = json_pack("{s:[{s:O}]}", "records", "envelope", env2);
    r = tc_req(s, &cl, "POST", pathbuf, body, &st);
    assert_int_equal(st, 200);
    json_decref(r);
    json_decref(body);
    body = json_pack("{s:[{s:O}]}", "records", "envelope", env1);
    r = tc_req(s, &cl, "POST", pathbuf, body, &st);
    res = json_array_get(json_object_get(r, "results"), 0);
    assert_string_equal(json_string_value(json_object_get(res, "result")), "superseded");
    assert_non_null(json_object_get(res, "current"));
    json_decref(r);
    json_decref(body);

    /* Expected revisions: "none" for an existing record is stale, and nothing in the
     * batch is stored. */
    {
        dbk_id fresh;
        dbk_id_random(&fresh);
        body = json_pack("{s:[{s:o}, {s:o, s:s}]}", "records", "envelope",
                         tc_envelope(&cl, &cl.shared, 1, cl.shared_key[1], &fresh, "{\"v\":1}"),
                         "envelope",
                         tc_envelope(&cl, &cl.shared, 1, cl.shared_key[1], &record, "{\"v\":1}"),
                         "expected", "none");
        r = tc_req(s, &cl, "POST", pathbuf, body, &st);
        assert_int_equal(st, 409);
        assert_string_equal(tc_code(r), "stale_revision");
        assert_int_equal(json_array_size(json_object_get(json_object_get(r, "error"), "stale")),
                         1);
        json_decref(r);
        json_decref(body);
        r = tc_req(s, &cl, "GET", tc_path("/v1/streams/%s/records", &cl.shared), NULL, &st);
        assert_int_equal(json_array_size(json_object_get(r, "records")), 1); /* all or nothing */
        json_decref(r);
    }

    /* Another account's signature on a record it claims is refused. */
    {
        tc_account mallory;
        tc_account_init(&mallory, false, "x");
        body = json_pack("{s:[{s:o}]}", "records", "envelope",
                         tc_envelope(&mallory, &cl.shared, 1, cl.shared_key[1], &record, "{}"));
        r = tc_req(s, &cl, "POST", pathbuf, body, &st);
        assert_int_equal(st, 403); /* the author is not an account of this stream */
        json_decref(r);
        json_decref(body);
        tc_account_free(&mallory);
    }
    json_decref(env1);
    json_decref(env2);
    tc_account_free(&co);
    tc_account_free(&cl);
}

static void
test_revocation_cuts_access_and_rotates(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl;
    dbk_id rec;
    json_t *r;
    long st;
    char path[512], t[DBK_ID_TEXT_LEN + 1];

    tc_new_counselor(s, &co, "Counselor C");
    tc_new_client(s, &cl, &co);
    dbk_id_random(&rec);
    assert_int_equal(push_one(s, &cl, &rec, "{\"v\":1,\"before\":true}", NULL), 200);
    r = tc_req(s, &co, "GET", tc_path("/v1/streams/%s/records", &cl.shared), NULL, &st);
    assert_int_equal(st, 200);
    json_decref(r);

    /* Revoke: the counselor is cut off at once, and writes wait for the rotation. */
    dbk_id_to_text(&co.id, t);
    snprintf(path, sizeof path, "%s/%s", tc_path("/v1/streams/%s/grants", &cl.shared), t);
    r = tc_req(s, &cl, "DELETE", path, NULL, &st);
    assert_int_equal(st, 200);
    assert_true(json_is_true(json_object_get(r, "rotation_pending")));
    json_decref(r);
    r = tc_req(s, &co, "GET", tc_path("/v1/streams/%s/records", &cl.shared), NULL, &st);
    assert_int_equal(st, 403);
    json_decref(r);
    r = tc_req(s, &co, "GET", "/v1/streams", NULL, &st);
    assert_int_equal(json_array_size(json_object_get(r, "streams")), 1); /* its own only */
    json_decref(r);
    dbk_id_random(&rec);
    assert_int_equal(push_one(s, &cl, &rec, "{\"v\":1}", &r), 409);
    assert_true(json_is_true(json_object_get(json_object_get(r, "error"), "rotation_pending")));
    json_decref(r);

    /* Rotate (self-grant for epoch 2); new entries use a key the counselor never got. */
    cl.shared_epoch = 2;
    randombytes_buf(cl.shared_key[2], 32);
    {
        json_t *body = json_pack("{s:[o]}", "grants",
                                 tc_grant_json(&cl, &cl.shared, 2, cl.shared_key[2], &cl.id,
                                               cl.keys->box_pk));
        r = tc_req(s, &cl, "POST", tc_path("/v1/streams/%s/grants", &cl.shared), body, &st);
        assert_int_equal(st, 200);
        assert_int_equal(json_integer_value(json_object_get(r, "epoch")), 2);
        json_decref(r);
        json_decref(body);
    }
    assert_int_equal(push_one(s, &cl, &rec, "{\"v\":1,\"after\":true}", NULL), 200);
    r = tc_req(s, &co, "GET", tc_path("/v1/streams/%s/records", &cl.shared), NULL, &st);
    assert_int_equal(st, 403);
    json_decref(r);
    /* The caseload still lists the client, now as revoked. */
    r = tc_req(s, &co, "GET", "/v1/caseload", NULL, &st);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r, "clients"), 0), "grant_state")),
                        "revoked");
    assert_null(json_object_get(json_array_get(json_object_get(r, "clients"), 0), "streams"));
    json_decref(r);
    /* Revoking again is accepted and changes nothing (no second audit entry);
     * revoking the owner is not accepted. */
    {
        size_t before, after;
        r = tc_req(s, &cl, "GET", "/v1/access-log?limit=1000", NULL, &st);
        before = json_array_size(json_object_get(r, "entries"));
        json_decref(r);
        r = tc_req(s, &cl, "DELETE", path, NULL, &st);
        assert_int_equal(st, 200);
        json_decref(r);
        r = tc_req(s, &cl, "GET", "/v1/access-log?limit=1000", NULL, &st);
        after = json_array_size(json_object_get(r, "entries"));
        json_decref(r);
        assert_int_equal(after, before);
    }
    dbk_id_to_text(&cl.id, t);
    snprintf(path, sizeof path, "%s/%s", tc_path("/v1/streams/%s/grants", &cl.shared), t);
    r = tc_req(s, &cl, "DELETE", path, NULL, &st);
    assert_int_equal(st, 400);
    json_decref(r);
    tc_account_free(&co);
    tc_account_free(&cl);
}

/* A revocation stays in the consent history even when the same grant is given again. */
static void
test_regrant_keeps_revocation_history(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl;
    char path[512], t[DBK_ID_TEXT_LEN + 1];
    json_t *r, *g;
    size_t i, revoked = 0, active = 0;
    long st;

    tc_new_counselor(s, &co, "Counselor R");
    tc_new_client(s, &cl, &co);
    dbk_id_to_text(&co.id, t);
    snprintf(path, sizeof path, "%s/%s", tc_path("/v1/streams/%s/grants", &cl.shared), t);
    r = tc_req(s, &cl, "DELETE", path, NULL, &st);
    assert_int_equal(st, 200);
    json_decref(r);
    assert_int_equal(tc_grant(s, &cl, &co, 1), 200); /* consent given again, same epoch */
    r = tc_req(s, &cl, "GET", tc_path("/v1/streams/%s/grants", &cl.shared), NULL, &st);
    assert_int_equal(st, 200);
    json_array_foreach(json_object_get(r, "grants"), i, g) {
        json_t *want = tc_id(&co.id);
        if (json_equal(json_object_get(g, "grantee"), want)) {
            const char *gs = json_string_value(json_object_get(g, "state"));
            revoked += strcmp(gs, "revoked") == 0;
            active += strcmp(gs, "active") == 0;
        }
        json_decref(want);
    }
    json_decref(r);
    assert_int_equal(revoked, 1);
    assert_int_equal(active, 1);
    tc_account_free(&co);
    tc_account_free(&cl);
}

static void
test_login_without_enumeration(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl, ghost;
    json_t *r, *r2, *body;
    long st;

    tc_new_counselor(s, &co, "Counselor D");
    tc_new_client(s, &cl, &co);

    /* A second device logs in with the passphrase and gets a working token. */
    dbk_id_random(&cl.device);
    cl.token[0] = '\0';
    assert_int_equal(tc_login(s, &cl, "client passphrase", NULL), 200);
    r = tc_req(s, &cl, "GET", "/v1/account", NULL, &st);
    assert_int_equal(st, 200);
    json_decref(r);
    r = tc_req(s, &cl, "GET", "/v1/devices", NULL, &st);
    assert_int_equal(json_array_size(json_object_get(r, "devices")), 2);
    json_decref(r);

    /* Wrong passphrase and unknown account get the same answer. */
    assert_int_equal(tc_login(s, &cl, "not the passphrase", &r), 401);
    assert_string_equal(tc_code(r), "wrong_passphrase");
    json_decref(r);
    tc_account_init(&ghost, false, "whatever");
    assert_int_equal(tc_login(s, &ghost, "whatever", &r), 401);
    assert_string_equal(tc_code(r), "wrong_passphrase");
    json_decref(r);

    /* The unknown account's KDF salt is stable, and the response has the same fields. */
    body = json_pack("{s:o, s:o}", "account", tc_id(&ghost.id), "device", tc_id(&ghost.device));
    r = tc_req(s, NULL, "POST", "/v1/login/start", body, &st);
    r2 = tc_req(s, NULL, "POST", "/v1/login/start", body, &st);
    assert_true(json_equal(json_object_get(r, "kdf"), json_object_get(r2, "kdf")));
    assert_false(json_equal(json_object_get(r, "challenge"), json_object_get(r2, "challenge")));
    json_decref(r2);
    json_decref(body);
    body = json_pack("{s:o, s:o}", "account", tc_id(&cl.id), "device", tc_id(&cl.device));
    r2 = tc_req(s, NULL, "POST", "/v1/login/start", body, &st);
    {
        const char *k;
        json_t *v;
        json_object_foreach(r, k, v) assert_non_null(json_object_get(r2, k));
        json_object_foreach(r2, k, v) assert_non_null(json_object_get(r, k));
    }
    json_decref(r);

    /* A challenge is single-use: replaying a finish is 410 gone. */
    {
        json_t *fin = json_pack("{s:o, s:o, s:O, s:s}", "account", tc_id(&cl.id), "device",
                                tc_id(&cl.device), "challenge", json_object_get(r2, "challenge"),
                                "signature",
                                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        r = tc_req(s, NULL, "POST", "/v1/login/finish", fin, &st);
        assert_int_equal(st, 401);
        json_decref(r);
        r = tc_req(s, NULL, "POST", "/v1/login/finish", fin, &st);
        assert_int_equal(st, 410);
        assert_string_equal(tc_code(r), "gone");
        json_decref(r);
        json_decref(fin);
    }
    json_decref(r2);
    json_decref(body);

    /* Guessing is limited per account: a run of wrong passphrases meets 429. */
    {
        bool limited = false;
        for (int i = 0; i < 15 && !limited; i++) {
            long fst = tc_login(s, &cl, "guess", &r);
            if (fst == 429)
                limited = true;
            else
                assert_int_equal(fst, 401);
            json_decref(r);
        }
        assert_true(limited);
    }

    /* Logout ends the token at once. */
    r = tc_req(s, &cl, "POST", "/v1/logout", NULL, &st);
    assert_int_equal(st, 204);
    r = tc_req(s, &cl, "GET", "/v1/account", NULL, &st);
    assert_int_equal(st, 401);
    json_decref(r);
    tc_account_free(&ghost);
    tc_account_free(&co);
    tc_account_free(&cl);
}

static void
test_sync_many_streams_in_one_round_trip(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl[3], stranger;
    json_t *pull = json_array(), *body, *r, *e;
    dbk_id rec;
    size_t i;
    long st;

    tc_new_counselor(s, &co, "Counselor E");
    for (i = 0; i < 3; i++) {
        tc_new_client(s, &cl[i], &co);
        for (int k = 0; k < 2; k++) {
            dbk_id_random(&rec);
            assert_int_equal(push_one(s, &cl[i], &rec, "{\"v\":1}", NULL), 200);
        }
        json_array_append_new(pull, json_pack("{s:o, s:i}", "stream", tc_id(&cl[i].shared),
                                              "since", 0));
    }
    tc_new_client(s, &stranger, &co);
    json_array_append_new(pull, json_pack("{s:o}", "stream", tc_id(&stranger.priv)));
    body = json_pack("{s:o}", "pull", pull);
    r = tc_req(s, &co, "POST", "/v1/sync", body, &st);
    assert_int_equal(st, 200);
    json_array_foreach(json_object_get(r, "pull"), i, e) {
        if (i < 3)
            assert_int_equal(json_array_size(json_object_get(e, "records")), 2);
        else
            assert_string_equal(tc_code(e), "forbidden"); /* one stream's error only */
    }
    assert_non_null(json_object_get(r, "grants_seq"));
    json_decref(r);
    json_decref(body);
    for (i = 0; i < 3; i++)
        tc_account_free(&cl[i]);
    tc_account_free(&stranger);
    tc_account_free(&co);
}

/* How many records a's GET of stream answers (status 200 required). */
static size_t
stream_records(dbk_server *s, tc_account *a, const dbk_id *stream)
{
    long st;
    json_t *r =
        tc_req(s, a, "GET", tc_path("/v1/streams/%s/records?limit=1000", stream), NULL, &st);
    assert_int_equal(st, 200);
    size_t n = json_array_size(json_object_get(r, "records"));
    json_decref(r);
    return n;
}

/* A new record of a's private stream, sealed: {"envelope": ...}. */
static json_t *
priv_item(tc_account *a)
{
    dbk_id rec;
    dbk_id_random(&rec);
    return json_pack("{s:o}", "envelope",
                     tc_envelope(a, &a->priv, 1, a->priv_key, &rec, "{\"v\":1}"));
}

/* A new record of stream (of owner's shared stream, under owner's key, written by a). */
static json_t *
shared_item(tc_account *a, tc_account *owner, const dbk_id *rec, const char *expected)
{
    dbk_id id;
    if (rec == NULL)
        dbk_id_random(&id);
    json_t *it = json_pack("{s:o}", "envelope",
                           tc_envelope(a, &owner->shared, owner->shared_epoch,
                                       owner->shared_key[owner->shared_epoch], rec ? rec : &id,
                                       "{\"v\":1}"));
    if (expected != NULL)
        json_object_set_new(it, "expected", json_string(expected));
    return it;
}

/* One POST /v1/sync by a of push (consumed); the answer, *st its status. */
static json_t *
sync_push(dbk_server *s, tc_account *a, json_t *push, long *st)
{
    json_t *body = json_pack("{s:o}", "push", push);
    json_t *r = tc_req(s, a, "POST", "/v1/sync", body, st);
    json_decref(body);
    return r;
}

/* The error code of a sync answer's push entry i, "" when it has none. */
static const char *
entry_code(json_t *answer, size_t i)
{
    return tc_code(json_array_get(json_object_get(answer, "push"), i));
}

/*
 * A push entry of POST /v1/sync that names an earlier one ("after", README section 12)
 * is stored only if that one was stored whole in the same request: a client's private
 * stream's head, which signs its shared stream's counts, goes beside the shared
 * stream's records in one round trip, and never outlives their refusal. Stored ->
 * stored; refused before writing (forbidden: another account's stream) or inside its
 * savepoint (stale_revision, rolled back) -> the dependent entry is refused with
 * prerequisite_failed naming it, nothing of it stored, and so is one after that. Both
 * parsers (the fast one, "after" last; jansson, "after" first). A request naming a
 * stream pushed later, itself, none pushed, or a bad id is refused 400 whole.
 */
static void
test_sync_push_after(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl, other;
    dbk_id rec;
    json_t *r, *push;
    long st;

    tc_new_counselor(s, &co, "Counselor After");
    tc_new_client(s, &cl, &co);
    tc_new_client(s, &other, &co);

    /* stored -> stored, "after" last (fast path) and first (jansson). */
    dbk_id_random(&rec);
    push = json_pack("[{s:o, s:[o]}, {s:o, s:[o], s:o}]", "stream", tc_id(&cl.shared), "records",
                     shared_item(&cl, &cl, &rec, NULL), "stream", tc_id(&cl.priv), "records",
                     priv_item(&cl), "after", tc_id(&cl.shared));
    r = sync_push(s, &cl, push, &st);
    assert_int_equal(st, 200);
    assert_string_equal(entry_code(r, 0), "");
    assert_string_equal(entry_code(r, 1), "");
    json_decref(r);
    push = json_pack("[{s:o, s:[o]}, {s:o, s:o, s:[o]}]", "stream", tc_id(&cl.shared), "records",
                     shared_item(&cl, &cl, NULL, NULL), "after", tc_id(&cl.shared), "stream",
                     tc_id(&cl.priv), "records", priv_item(&cl));
    r = sync_push(s, &cl, push, &st);
    assert_int_equal(st, 200);
    assert_string_equal(entry_code(r, 1), "");
    json_decref(r);
    assert_int_equal(stream_records(s, &cl, &cl.shared), 2);
    assert_int_equal(stream_records(s, &cl, &cl.priv), 2);

    /* refused before writing (another account's stream) -> refused, and the next too */
    push = json_pack("[{s:o, s:[o]}, {s:o, s:[o], s:o}, {s:o, s:[o], s:o}]", "stream",
                     tc_id(&other.shared), "records", shared_item(&cl, &other, NULL, NULL),
                     "stream", tc_id(&cl.priv), "records", priv_item(&cl), "after",
                     tc_id(&other.shared), "stream", tc_id(&cl.shared), "records",
                     shared_item(&cl, &cl, NULL, NULL), "after", tc_id(&cl.priv));
    r = sync_push(s, &cl, push, &st);
    assert_int_equal(st, 200);
    assert_string_equal(entry_code(r, 0), "forbidden");
    assert_string_equal(entry_code(r, 1), "prerequisite_failed");
    assert_string_equal(entry_code(r, 2), "prerequisite_failed");
    json_t *err = json_object_get(json_array_get(json_object_get(r, "push"), 1), "error");
    char want[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(&other.shared, want);
    assert_string_equal(json_string_value(json_object_get(err, "after")), want);
    json_decref(r);
    assert_int_equal(stream_records(s, &cl, &cl.priv), 2);
    assert_int_equal(stream_records(s, &cl, &cl.shared), 2);

    /* refused inside its savepoint (a stale expected revision) -> refused; a push that
     * names nothing stays its own unit */
    push = json_array();
    json_t *bad = json_array();
    json_array_append_new(bad, shared_item(&cl, &cl, NULL, NULL));
    json_array_append_new(bad, shared_item(&cl, &cl, &rec, "none")); /* stored already */
    json_array_append_new(push,
                          json_pack("{s:o, s:o}", "stream", tc_id(&cl.shared), "records", bad));
    json_array_append_new(push, json_pack("{s:o, s:[o], s:o}", "stream", tc_id(&cl.priv), "records",
                                          priv_item(&cl), "after", tc_id(&cl.shared)));
    r = sync_push(s, &cl, push, &st);
    assert_int_equal(st, 200);
    assert_string_equal(entry_code(r, 0), "stale_revision");
    assert_string_equal(entry_code(r, 1), "prerequisite_failed");
    json_decref(r);
    assert_int_equal(stream_records(s, &cl, &cl.shared), 2);
    assert_int_equal(stream_records(s, &cl, &cl.priv), 2);

    /* 400: after a stream pushed later, itself, one not pushed, a bad id: nothing stored */
    json_t *bodies[4] = {
        json_pack("[{s:o, s:[o], s:o}, {s:o, s:[o]}]", "stream", tc_id(&cl.priv), "records",
                  priv_item(&cl), "after", tc_id(&cl.shared), "stream", tc_id(&cl.shared),
                  "records", shared_item(&cl, &cl, NULL, NULL)),
        json_pack("[{s:o, s:[o], s:o}]", "stream", tc_id(&cl.priv), "records", priv_item(&cl),
                  "after", tc_id(&cl.priv)),
        json_pack("[{s:o, s:[o], s:o}]", "stream", tc_id(&cl.priv), "records", priv_item(&cl),
                  "after", tc_id(&other.shared)),
        json_pack("[{s:o, s:[o]}, {s:o, s:[o], s:s}]", "stream", tc_id(&cl.shared), "records",
                  shared_item(&cl, &cl, NULL, NULL), "stream", tc_id(&cl.priv), "records",
                  priv_item(&cl), "after", "not-an-id"),
    };
    const char *codes[4] = {"invalid_request", "invalid_request", "invalid_request", "bad_base64"};
    for (size_t i = 0; i < 4; i++) {
        r = sync_push(s, &cl, bodies[i], &st);
        if (st != 400 || strcmp(tc_code(r), codes[i]) != 0)
            fail_msg("case %zu: %ld %s, not 400 %s", i, st, tc_code(r), codes[i]);
        json_decref(r);
    }
    assert_int_equal(stream_records(s, &cl, &cl.shared), 2);
    assert_int_equal(stream_records(s, &cl, &cl.priv), 2);
    dbk_report("sync push after another",
               "POST /v1/sync with a private push naming the shared one (after): stored; "
               "the earlier refused (forbidden, stale_revision); 4 bad requests",
               "stored with it: yes; refused with it: prerequisite_failed, nothing stored; "
               "bad requests: 400 each");
    tc_account_free(&other);
    tc_account_free(&cl);
    tc_account_free(&co);
}

/* The results of a sync answer's push entry i, joined "stored,duplicate,..." into buf. */
static const char *
entry_results(json_t *answer, size_t i, char *buf, size_t cap)
{
    json_t *res = json_object_get(json_array_get(json_object_get(answer, "push"), i), "results");
    json_t *e;
    size_t k;
    buf[0] = '\0';
    json_array_foreach(res, k, e)
    {
        const char *v = json_string_value(json_object_get(e, "result"));
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", k ? "," : "", v ? v : "?");
    }
    return buf;
}

/*
 * "after" whose earlier push was stored whole only in part by new rows (README
 * section 12: every item stored, duplicate or superseded is whole): a shared push
 * sent again (every item a duplicate), and one with a duplicate beside a new record,
 * each let the private entry naming it be stored; the private entry's own duplicate
 * too. A shared push refused before its savepoint (a revision's clock two days ahead,
 * clock_ahead) refuses the private one, nothing of it stored, on both parsers' shapes.
 * Long: four requests in order against one account, each the setup of the next.
 */
static void
test_sync_push_after_duplicates(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl;
    dbk_id rec;
    json_t *r, *push, *dup, *pdup;
    char got[128];
    long st;

    tc_new_counselor(s, &co, "Counselor After Dup");
    tc_new_client(s, &cl, &co);
    dbk_id_random(&rec);
    dup = shared_item(&cl, &cl, &rec, NULL);
    pdup = priv_item(&cl);
    push = json_pack("[{s:o, s:[O]}, {s:o, s:[O], s:o}]", "stream", tc_id(&cl.shared), "records",
                     dup, "stream", tc_id(&cl.priv), "records", pdup, "after", tc_id(&cl.shared));
    r = sync_push(s, &cl, push, &st);
    assert_int_equal(st, 200);
    assert_string_equal(entry_results(r, 0, got, sizeof got), "stored");
    assert_string_equal(entry_results(r, 1, got, sizeof got), "stored");
    json_decref(r);

    /* all duplicates -> the dependent (itself a duplicate and a new one) stored */
    push = json_pack("[{s:o, s:[O]}, {s:o, s:[O, o], s:o}]", "stream", tc_id(&cl.shared), "records",
                     dup, "stream", tc_id(&cl.priv), "records", pdup, priv_item(&cl), "after",
                     tc_id(&cl.shared));
    r = sync_push(s, &cl, push, &st);
    assert_int_equal(st, 200);
    assert_string_equal(entry_results(r, 0, got, sizeof got), "duplicate");
    assert_string_equal(entry_results(r, 1, got, sizeof got), "duplicate,stored");
    json_decref(r);

    /* a duplicate beside a new record ("after" first: the jansson path) */
    push = json_pack("[{s:o, s:[O, o]}, {s:o, s:o, s:[o]}]", "stream", tc_id(&cl.shared), "records",
                     dup, shared_item(&cl, &cl, NULL, NULL), "after", tc_id(&cl.shared), "stream",
                     tc_id(&cl.priv), "records", priv_item(&cl));
    r = sync_push(s, &cl, push, &st);
    assert_int_equal(st, 200);
    assert_string_equal(entry_results(r, 0, got, sizeof got), "duplicate,stored");
    assert_string_equal(entry_results(r, 1, got, sizeof got), "stored");
    json_decref(r);
    assert_int_equal(stream_records(s, &cl, &cl.shared), 2);
    assert_int_equal(stream_records(s, &cl, &cl.priv), 3);

    /* the shared push refused before writing (clock_ahead) -> refused, nothing stored */
    dbk_envelope_hdr h = {
        .stream = cl.shared,
        .epoch = cl.shared_epoch,
        .author = cl.id,
        .rev = {.clock = dbk_hlc_pack(dbk_hlc_wall_ms() + 2 * DBK_HLC_MAX_DRIFT_MS, 0),
                .device = cl.device}};
    unsigned char *env;
    size_t len;
    char *text = malloc(DBK_B64_ENCODED_LEN(DBK_ENV_MAX_BYTES) + 1);
    assert_non_null(text);
    dbk_id_random(&h.record);
    assert_int_equal(dbk_envelope_seal(&h, cl.shared_key[cl.shared_epoch], cl.keys->sign_sk,
                                       (const unsigned char *)"{\"v\":1}", 7, NULL, &env, &len),
                     DBK_OK);
    (void)dbk_b64_encode(text, DBK_B64_ENCODED_LEN(len) + 1, env, len);
    free(env);
    json_t *ahead = json_pack("{s:s}", "envelope", text);
    free(text);
    push = json_pack("[{s:o, s:[O, o]}, {s:o, s:[o], s:o}]", "stream", tc_id(&cl.shared), "records",
                     dup, ahead, "stream", tc_id(&cl.priv), "records", priv_item(&cl), "after",
                     tc_id(&cl.shared));
    r = sync_push(s, &cl, push, &st);
    assert_int_equal(st, 200);
    assert_string_equal(entry_code(r, 0), "clock_ahead");
    assert_string_equal(entry_code(r, 1), "prerequisite_failed");
    json_decref(r);
    assert_int_equal(stream_records(s, &cl, &cl.shared), 2);
    assert_int_equal(stream_records(s, &cl, &cl.priv), 3);
    json_decref(dup);
    json_decref(pdup);
    dbk_report("sync push after a duplicate push",
               "POST /v1/sync: the shared push all duplicates, then a duplicate and a new "
               "record, then one with a clock two days ahead; a private push after it each time",
               "private stored after duplicates: yes (twice); after clock_ahead: "
               "prerequisite_failed, nothing stored");
    tc_account_free(&cl);
    tc_account_free(&co);
}

/* POST /v1/sync of body as written (not re-serialized), by a; *st the status. */
static json_t *
sync_text(dbk_server *s, const tc_account *a, const char *body, size_t len, long *st)
{
    char url[512], auth[128];
    const char *hdrs[2] = {auth, NULL};
    dbk_http_resp r;
    json_t *j = NULL;
    snprintf(url, sizeof url, "%s/v1/sync", s->base_url);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", a->token);
    assert_int_equal(dbk_http("POST", url, hdrs, body, len, &r), 0);
    *st = r.status;
    if (r.body_len > 0)
        j = dbk_http_json(&r);
    dbk_http_resp_free(&r);
    return j;
}

/*
 * The fast parse of a sync's push (dbk_fj_str_raw: the envelope up to the next quote,
 * checked by the table decoder) against bodies written by hand, "after" in each: an
 * envelope whose first character is a JSON escape (\u00XX) means what it spells and
 * is stored with the private entry after it (the jansson path); an escaped quote or
 * slash inside, the text cut to a length of 1 mod 4, a non-canonical last character,
 * and a body that ends inside the envelope string are refused 400 whole, nothing
 * stored. Real server, real sockets. Long: one loop over the six bodies, each written
 * by hand beside its expected answer.
 */
static void
test_sync_push_raw_envelope(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl;
    char sid[DBK_ID_TEXT_LEN + 1], pid[DBK_ID_TEXT_LEN + 1], *body, *env;
    json_t *r, *it;
    size_t cap, n, el;
    long st;

    tc_new_counselor(s, &co, "Counselor Raw");
    tc_new_client(s, &cl, &co);
    dbk_id_to_text(&cl.shared, sid);
    dbk_id_to_text(&cl.priv, pid);
    static const char *const bad[][2] = {
        /* {what goes in place of the envelope's first 4 characters, code} */
        {"\\\"AAA", "bad_base64"}, {"\\/AAA", "bad_base64"}, {"1mod4", "bad_base64"},
        {"trail", "bad_base64"},   {"cut", "bad_json"},      {"esc", ""},
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        /* An envelope whose text ends in a partial group (its length not 0 mod 4), so
         * that the non-canonical case decodes to the very bytes that were signed. */
        char pt[4 * DBK_PAD_BLOCK + 32], xs[3 * DBK_PAD_BLOCK + 1];
        memset(xs, 'x', sizeof xs - 1);
        xs[sizeof xs - 1] = '\0';
        env = NULL;
        for (size_t pad = 0; env == NULL || strlen(env) % 4 == 0; pad += DBK_PAD_BLOCK) {
            dbk_id rec;
            free(env);
            assert_true(pad < sizeof xs); /* padded a block longer: another length mod 3 */
            dbk_id_random(&rec);
            snprintf(pt, sizeof pt, "{\"v\":1,\"p\":\"%.*s\"}", (int)pad, xs);
            it = tc_envelope(&cl, &cl.shared, cl.shared_epoch, cl.shared_key[cl.shared_epoch], &rec,
                             pt);
            env = strdup(json_string_value(it));
            json_decref(it);
        }
        el = strlen(env);
        json_t *pit = priv_item(&cl);
        const char *penv = json_string_value(json_object_get(pit, "envelope"));
        cap = 2 * el + strlen(penv) + 512;
        body = malloc(cap);
        assert_non_null(body);
        const char *code = bad[c][1];
        if (strcmp(bad[c][0], "esc") == 0) {
            n = (size_t)snprintf(
                body, cap,
                "{\"push\":[{\"stream\":\"%s\",\"records\":[{\"envelope\":"
                "\"\\u00%02x%s\"}]},{\"stream\":\"%s\",\"records\":[{\"envelope\":\"%s\"}],"
                "\"after\":\"%s\"}]}",
                sid, (unsigned char)env[0], env + 1, pid, penv, sid);
        } else if (strcmp(bad[c][0], "cut") == 0) {
            n = (size_t)snprintf(body, cap,
                                 "{\"push\":[{\"stream\":\"%s\",\"records\":[{\"envelope\":"
                                 "\"%s",
                                 sid, env);
        } else {
            if (strcmp(bad[c][0], "1mod4") == 0) {
                el -= (el % 4 + 3) % 4; /* down to 1 mod 4 */
                env[el] = '\0';
            } else if (strcmp(bad[c][0], "trail") == 0) {
                /* the last character's unused low bits set: the same bytes, spelled
                 * otherwise (a canonical last character never has value 1) */
                env[el - 1] = (char)(env[el - 1] + 1);
            } else {
                memcpy(env, bad[c][0], 4);
                if (bad[c][0][0] == '\\') /* 5 bytes for 4 characters: keep the length */
                    memmove(env + 5, env + 4, el - 4), memcpy(env, bad[c][0], 5), env[el] = '\0';
            }
            n = (size_t)snprintf(body, cap,
                                 "{\"push\":[{\"stream\":\"%s\",\"records\":[{\"envelope\":"
                                 "\"%s\"}]},{\"stream\":\"%s\",\"records\":[{\"envelope\":\"%s\"}],"
                                 "\"after\":\"%s\"}]}",
                                 sid, env, pid, penv, sid);
        }
        assert_true(n < cap);
        r = sync_text(s, &cl, body, n, &st);
        if (code[0] == '\0') {
            if (st != 200 || strcmp(entry_code(r, 0), "") != 0 || strcmp(entry_code(r, 1), "") != 0)
                fail_msg("escaped first character: %ld %s %s", st, entry_code(r, 0),
                         entry_code(r, 1));
        } else if (st != 400 || strcmp(tc_code(r), code) != 0) {
            fail_msg("case %zu (%s): %ld %s, not 400 %s", c, bad[c][0], st, tc_code(r), code);
        }
        json_decref(r);
        json_decref(pit);
        free(body);
        free(env);
    }
    assert_int_equal(stream_records(s, &cl, &cl.shared), 1);
    assert_int_equal(stream_records(s, &cl, &cl.priv), 1);
    dbk_report("sync push envelope as raw text",
               "POST /v1/sync bodies by hand: escaped quote, escaped slash, 1 mod 4 chars, "
               "non-canonical last char, body cut in the string, an escaped first char",
               "400 bad_base64 x4, 400 bad_json, escaped: stored with its private entry");
    tc_account_free(&cl);
    tc_account_free(&co);
}

static void edit_store(dbk_server *s, const char *sql);

/* An account's used bytes and the audit rows it is the actor of, read from the store. */
static void
reader_charges(const dbk_server *s, const tc_account *a, long long *used, long long *rows)
{
    char sql[160], hex[2 * DBK_ID_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, a->id.b, DBK_ID_BYTES);
    snprintf(sql, sizeof sql, "SELECT used_bytes FROM accounts WHERE id = x'%s'", hex);
    *used = dbk_server_int(s, sql);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM audit WHERE actor = x'%s'", hex);
    *rows = dbk_server_int(s, sql);
}

/* One sync by a pulling the shared streams of cl[0..n) since 0; its status. */
static long
sync_pull_shared(dbk_server *s, tc_account *a, tc_account *cl, size_t n, json_t **answer)
{
    long st;
    json_t *pull = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(pull,
                              json_pack("{s:o, s:i}", "stream", tc_id(&cl[i].shared), "since", 0));
    json_t *body = json_pack("{s:o}", "pull", pull);
    *answer = tc_req(s, a, "POST", "/v1/sync", body, &st);
    json_decref(body);
    return st;
}

/* Makes the store refuse every read's audit row of stream (action 1 is a read), by a
 * trigger named fault (restarts the server). */
static void
refuse_read_rows(dbk_server *s, const dbk_id *stream)
{
    char sql[600], hex[2 * DBK_ID_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, stream->b, DBK_ID_BYTES);
    if (dbk_test_pg())
        snprintf(sql, sizeof sql,
                 "CREATE FUNCTION fault() RETURNS trigger LANGUAGE plpgsql AS "
                 "$$BEGIN RAISE EXCEPTION 'fault'; END$$;"
                 "CREATE TRIGGER fault BEFORE INSERT ON audit FOR EACH ROW "
                 "WHEN (NEW.stream = x'%s' AND NEW.action = 1) EXECUTE FUNCTION fault();",
                 hex);
    else
        snprintf(sql, sizeof sql,
                 "CREATE TRIGGER fault BEFORE INSERT ON audit "
                 "WHEN NEW.stream = x'%s' AND NEW.action = 1 "
                 "BEGIN SELECT RAISE(ABORT, 'fault'); END;",
                 hex);
    edit_store(s, sql);
}

/*
 * A read's audit row and its charge against the reader are one unit. A sync whose
 * pull of one stream cannot write its audit row (a trigger on the store refuses that
 * row) answers that stream's error in its entry and goes on; the reader is charged
 * for exactly the rows written. Before, on SQLite, the charge stayed without its row
 * (the job's savepoint is released after a stream's error). On PostgreSQL the rows
 * are written at the commit, which the refusal fails with everything else.
 */
static void
test_sync_audit_row_and_charge_together(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl[2];
    long long used0, rows0, used1, rows1, used2, rows2;
    json_t *r;
    dbk_id rec;
    bool pg = dbk_test_pg();

    tc_new_counselor(s, &co, "Counselor Q");
    for (size_t i = 0; i < 2; i++) {
        tc_new_client(s, &cl[i], &co);
        dbk_id_random(&rec);
        assert_int_equal(push_one(s, &cl[i], &rec, "{\"v\":1}", NULL), 200);
    }
    /* A clean sync: what one read's row costs. */
    reader_charges(s, &co, &used0, &rows0);
    assert_int_equal(sync_pull_shared(s, &co, cl, 2, &r), 200);
    json_decref(r);
    reader_charges(s, &co, &used1, &rows1);
    assert_int_equal(rows1 - rows0, 2);
    long long per_row = (used1 - used0) / 2;
    assert_true(per_row > 0);
    assert_int_equal(used1 - used0, 2 * per_row);

    /* The first client's stream: its read's audit row refused. */
    refuse_read_rows(s, &cl[0].shared);
    long st = sync_pull_shared(s, &co, cl, 2, &r);
    if (pg) {
        assert_true(st >= 500); /* the commit failed: nothing of the sync stored */
    } else {
        json_t *pulls = json_object_get(r, "pull");
        assert_int_equal(st, 200);
        assert_non_null(json_object_get(json_array_get(pulls, 0), "error"));
        assert_int_equal(json_array_size(json_object_get(json_array_get(pulls, 1), "records")), 1);
    }
    json_decref(r);
    reader_charges(s, &co, &used2, &rows2);
    assert_int_equal(rows2 - rows1, pg ? 0 : 1);
    if (used2 - used1 != (rows2 - rows1) * per_row)
        fail_msg("charged %lld bytes for %lld audit rows of %lld bytes", used2 - used1,
                 rows2 - rows1, per_row);

    /* Without the fault both are read and charged again, one row each. */
    edit_store(s,
               pg ? "DROP TRIGGER fault ON audit; DROP FUNCTION fault();" : "DROP TRIGGER fault;");
    assert_int_equal(sync_pull_shared(s, &co, cl, 2, &r), 200);
    json_decref(r);
    reader_charges(s, &co, &used1, &rows1);
    assert_int_equal(rows1 - rows2, 2);
    assert_int_equal(used1 - used2, 2 * per_row);
    for (size_t i = 0; i < 2; i++)
        tc_account_free(&cl[i]);
    tc_account_free(&co);
}

/* The envelope (base64url) of a new record in c's shared stream. */
static json_t *
shared_envelope(tc_account *c, const char *plaintext)
{
    dbk_id rec;
    dbk_id_random(&rec);
    return tc_envelope(c, &c->shared, c->shared_epoch, c->shared_key[c->shared_epoch], &rec,
                       plaintext);
}

/*
 * As author, one sync pushing records (a JSON array of {"envelope"}, taken) into
 * stream and pulling stream since since; checks it answered, and gives the pull's
 * record count, high_seq and epoch. Returns the push's high_seq.
 */
static int64_t
sync_push_pull(dbk_server *s, tc_account *author, const dbk_id *stream, json_t *records,
               int64_t since, size_t *n, int64_t *high_seq, int64_t *epoch)
{
    long st;
    json_t *body = json_pack("{s:[{s:o, s:o}], s:[{s:o, s:I}]}", "push", "stream", tc_id(stream),
                             "records", records, "pull", "stream", tc_id(stream), "since",
                             (json_int_t)since);
    json_t *r = tc_req(s, author, "POST", "/v1/sync", body, &st);
    assert_int_equal(st, 200);
    json_t *push = json_array_get(json_object_get(r, "push"), 0);
    json_t *e = json_array_get(json_object_get(r, "pull"), 0);
    assert_null(json_object_get(push, "error"));
    assert_non_null(e);
    assert_null(json_object_get(e, "error"));
    int64_t pushed = json_integer_value(json_object_get(push, "high_seq"));
    *n = json_array_size(json_object_get(e, "records"));
    *high_seq = json_integer_value(json_object_get(e, "high_seq"));
    *epoch = json_integer_value(json_object_get(e, "epoch"));
    json_decref(r);
    json_decref(body);
    return pushed;
}

/*
 * A sync that pushes into a stream and pulls the same stream in one round trip: the
 * pull answers with the stream's head after the push (also when the push stored
 * nothing new), for the owner and for a grantee writing into it.
 */
static void
test_sync_pull_after_push_in_one_round_trip(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl;
    size_t n;
    int64_t high, epoch;
    dbk_id note;

    tc_new_counselor(s, &co, "Counselor P");
    tc_new_client(s, &cl, &co);
    json_t *first = shared_envelope(&cl, "{\"v\":1}");
    json_t *three = json_pack("[{s:O}, {s:o}, {s:o}]", "envelope", first, "envelope",
                              shared_envelope(&cl, "{\"v\":2}"), "envelope",
                              shared_envelope(&cl, "{\"v\":3}"));
    assert_int_equal(sync_push_pull(s, &cl, &cl.shared, three, 0, &n, &high, &epoch), 3);
    assert_int_equal(n, 3);
    assert_int_equal(high, 3);
    assert_int_equal(epoch, cl.shared_epoch);

    /* The first entry again, a duplicate: nothing stored, the head the same. */
    sync_push_pull(s, &cl, &cl.shared, json_pack("[{s:o}]", "envelope", first), 0, &n, &high,
                   &epoch);
    assert_int_equal(n, 3);
    assert_int_equal(high, 3);
    assert_int_equal(epoch, cl.shared_epoch);

    /* The counselor, a grantee, writes a note into the client's stream and pulls it. */
    dbk_id_random(&note);
    sync_push_pull(s, &co, &cl.shared,
                   json_pack("[{s:o}]", "envelope",
                             tc_envelope(&co, &cl.shared, cl.shared_epoch,
                                         cl.shared_key[cl.shared_epoch], &note, "{\"note\":1}")),
                   3, &n, &high, &epoch);
    assert_int_equal(n, 1);
    assert_int_equal(high, 4);
    tc_account_free(&cl);
    tc_account_free(&co);
}

/*
 * A sync that pushes into its owner's stream and pulls it back: on SQLite the read
 * row's bytes are charged in the push's statement, before the pull knows whether it
 * reads anything. The account is still charged for exactly the rows written: both
 * rows when the pull reads; the write row alone when it reads nothing (a cursor past
 * the head) or when its read row is refused (a trigger; SQLite only, as on
 * PostgreSQL the refusal fails the commit). Without the give-back of an unwritten
 * read row's bytes the last two charge one row too many.
 */
static void
test_sync_own_read_charged_with_push(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl;
    long long used0, rows0, used1, rows1;
    int64_t high, epoch, head;
    size_t n;
    dbk_id rec;
    json_t *r;

    tc_new_counselor(s, &co, "Counselor R");
    tc_new_client(s, &cl, &co);
    /* What a record and its write row cost, and what a read row costs. */
    reader_charges(s, &cl, &used0, &rows0);
    dbk_id_random(&rec);
    assert_int_equal(push_one(s, &cl, &rec, "{\"v\":1}", NULL), 200);
    reader_charges(s, &cl, &used1, &rows1);
    assert_int_equal(rows1 - rows0, 1);
    long long pushed = used1 - used0;
    assert_int_equal(sync_pull_shared(s, &cl, &cl, 1, &r), 200);
    json_decref(r);
    reader_charges(s, &cl, &used0, &rows0);
    assert_int_equal(rows0 - rows1, 1);
    long long read = used0 - used1;
    assert_true(pushed > read && read > 0);

    /* Push and pull back: both rows, both charged. */
    head = sync_push_pull(s, &cl, &cl.shared,
                          json_pack("[{s:o}]", "envelope", shared_envelope(&cl, "{\"v\":2}")), 1,
                          &n, &high, &epoch);
    assert_int_equal(n, 1);
    reader_charges(s, &cl, &used1, &rows1);
    assert_int_equal(rows1 - rows0, 2);
    assert_int_equal(used1 - used0, pushed + read);

    /* A cursor past the head reads nothing: no read row, no read charge. */
    sync_push_pull(s, &cl, &cl.shared,
                   json_pack("[{s:o}]", "envelope", shared_envelope(&cl, "{\"v\":3}")), head + 1000,
                   &n, &high, &epoch);
    assert_int_equal(n, 0);
    reader_charges(s, &cl, &used0, &rows0);
    assert_int_equal(rows0 - rows1, 1);
    if (used0 - used1 != pushed)
        fail_msg("charged %lld bytes for one record and its write row (%lld)", used0 - used1,
                 pushed);
    if (dbk_test_pg()) {
        tc_account_free(&cl);
        tc_account_free(&co);
        return;
    }

    /* The read row refused: the pull's entry fails, its charge with it. */
    refuse_read_rows(s, &cl.shared);
    json_t *body =
        json_pack("{s:[{s:o, s:[{s:o}]}], s:[{s:o, s:I}]}", "push", "stream", tc_id(&cl.shared),
                  "records", "envelope", shared_envelope(&cl, "{\"v\":4}"), "pull", "stream",
                  tc_id(&cl.shared), "since", (json_int_t)head);
    long st;
    r = tc_req(s, &cl, "POST", "/v1/sync", body, &st);
    assert_int_equal(st, 200);
    assert_null(json_object_get(json_array_get(json_object_get(r, "push"), 0), "error"));
    assert_non_null(json_object_get(json_array_get(json_object_get(r, "pull"), 0), "error"));
    json_decref(r);
    json_decref(body);
    reader_charges(s, &cl, &used1, &rows1);
    assert_int_equal(rows1 - rows0, 1);
    if (used1 - used0 != pushed)
        fail_msg("charged %lld bytes for one record and its write row (%lld)", used1 - used0,
                 pushed);
    edit_store(s, "DROP TRIGGER fault;");
    tc_account_free(&cl);
    tc_account_free(&co);
}

/* Reads every file in dir (one level and data/) looking for needle. */
/* The base64url JSON string of n bytes. */
static json_t *
b64_json(const unsigned char *b, size_t n)
{
    char t[128];
    assert_int_equal(dbk_b64_encode(t, sizeof t, b, n), 0);
    return json_string(t);
}

/*
 * A login finish that succeeded, captured and sent again (as by someone who saw
 * the traffic), gets no token; a token after logout, and a device's token after
 * the device is revoked, are refused at once.
 */
static void
test_replayed_login_and_dead_tokens(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl, other;
    json_t *body, *r, *fin;
    dbk_id server;
    unsigned char ch[32], sig[64];
    const char *t;
    char token[64], path[256];
    long st;
    int refused = 0;

    tc_new_counselor(s, &co, "Counselor R");
    tc_new_client(s, &cl, &co);

    body = json_pack("{s:o, s:o}", "account", tc_id(&cl.id), "device", tc_id(&cl.device));
    r = tc_req(s, NULL, "POST", "/v1/login/start", body, &st);
    assert_int_equal(st, 200);
    json_decref(body);
    t = json_string_value(json_object_get(r, "challenge"));
    assert_int_equal(dbk_b64_decode_exact(ch, 32, t, strlen(t)), 0);
    t = json_string_value(json_object_get(r, "server_id"));
    assert_int_equal(dbk_id_from_text(&server, t, strlen(t)), 0);
    json_decref(r);
    dbk_login_sign(sig, cl.pass, &server, &cl.id, ch, &cl.device);
    fin = json_pack("{s:o, s:o, s:o, s:o}", "account", tc_id(&cl.id), "device",
                    tc_id(&cl.device), "challenge", b64_json(ch, 32), "signature",
                    b64_json(sig, 64));
    r = tc_req(s, NULL, "POST", "/v1/login/finish", fin, &st);
    assert_int_equal(st, 200);
    snprintf(token, sizeof token, "%s", json_string_value(json_object_get(r, "token")));
    json_decref(r);
    for (int i = 0; i < 3; i++) { /* the same, valid, signed answer: no second token */
        r = tc_req(s, NULL, "POST", "/v1/login/finish", fin, &st);
        refused += st == 410 && json_object_get(r, "token") == NULL;
        json_decref(r);
    }
    json_decref(fin);
    assert_int_equal(refused, 3);

    /* Logout ends that token at once. */
    snprintf(cl.token, sizeof cl.token, "%s", token);
    r = tc_req(s, &cl, "GET", "/v1/account", NULL, &st);
    assert_int_equal(st, 200);
    json_decref(r);
    r = tc_req(s, &cl, "POST", "/v1/logout", NULL, &st);
    assert_true(st == 200 || st == 204);
    json_decref(r);
    r = tc_req(s, &cl, "GET", "/v1/account", NULL, &st);
    assert_int_equal(st, 401);
    json_decref(r);

    /* A second device of the same account, revoked from the first: its token is dead. */
    assert_int_equal(tc_login(s, &cl, cl.passphrase, NULL), 200);
    other = cl;
    dbk_id_random(&other.device);
    assert_int_equal(tc_login(s, &other, cl.passphrase, NULL), 200);
    r = tc_req(s, &other, "GET", "/v1/account", NULL, &st);
    assert_int_equal(st, 200);
    json_decref(r);
    snprintf(path, sizeof path, "%s", tc_path("/v1/devices/%s", &other.device));
    r = tc_req(s, &cl, "DELETE", path, NULL, &st);
    assert_true(st == 200 || st == 204);
    json_decref(r);
    r = tc_req(s, &other, "GET", "/v1/account", NULL, &st);
    assert_int_equal(st, 401);
    json_decref(r);
    r = tc_req(s, &other, "GET", tc_path("/v1/streams/%s/records", &cl.shared), NULL, &st);
    assert_int_equal(st, 401);
    json_decref(r);
    dbk_report("replayed logins and dead tokens",
               "a successful login answer sent again; a token used after logout and after "
               "its device was revoked", "replays refused: %d of 3; dead tokens refused: 3 of 3",
               refused);
    tc_account_free(&co);
    tc_account_free(&cl); /* other shares cl's keys */
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

static void
test_no_plaintext_on_server_disk_or_logs(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl;
    dbk_id rec;

    tc_new_counselor(s, &co, "Counselor F");
    tc_new_client(s, &cl, &co);
    for (int i = 0; i < 20; i++) {
        dbk_id_random(&rec);
        assert_int_equal(push_one(s, &cl, &rec,
                                  "{\"type\":\"journal\",\"v\":1,\"text\":\"" CANARY "\"}", NULL),
                         200);
    }
    assert_int_equal(dbk_server_stop(s), 0); /* flush the WAL into the main file too */
    assert_false(dir_contains(s->dir, CANARY));
    assert_false(dir_contains(s->dir, "CANARY"));
    assert_false(dir_contains(s->dir, cl.token)); /* no token in logs or store */
    assert_false(dir_contains(s->dir, cl.passphrase));
    dbk_report("plaintext on the server", "20 journal entries with a canary pushed; data dir, "
               "WAL and logs searched", "canary found: 0 times; token and passphrase: 0 times");
    tc_account_free(&co);
    tc_account_free(&cl);
}

/* A write-ahead log bound of 1 MiB (--wal-max-mb): the checkpoint thread runs at
 * 128 pages waiting and the storage thread copies the rest at 256, so a storm
 * checkpoints all the time and a kill lands in or near one. */
static const char *const small_wal_args[] = {"--wal-max-mb", "1", NULL};
#define SMALL_WAL_BYTES (1024 * 1024)

static int
start_small_wal(void **state)
{
    dbk_server *s = calloc(1, sizeof *s);
    assert_int_equal(dbk_server_start(s, small_wal_args), 0);
    *state = s;
    return 0;
}

/* A line of /metrics ("name" or "name{labels}"; loopback may read it), or -1 when it
 * is not there; metric() for a count. */
static double
metric_value(const dbk_server *s, const char *name)
{
    char url[128], key[96];
    dbk_http_resp r;
    const char *p;
    double v = -1;

    snprintf(url, sizeof url, "%s/metrics", s->base_url);
    snprintf(key, sizeof key, "\n%s ", name);
    assert_int_equal(dbk_http("GET", url, NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    if ((p = strstr(r.body, key)) != NULL)
        v = strtod(p + strlen(key), NULL);
    dbk_http_resp_free(&r);
    return v;
}

static long long
metric(const dbk_server *s, const char *name)
{
    return (long long)metric_value(s, name);
}

/*
 * kill -9 in a push storm: four clients push records as fast as they can, each
 * writing the id of every acknowledged record to a file; the server is killed
 * mid-storm and restarted. Every acknowledged record must be there, once. The
 * server runs with a 1 MiB bound on its write-ahead log, so checkpoints run all
 * through the storm (one may be cut short by the kill), and the log, watched
 * meanwhile, must stay near its bound: one group over it at most.
 */
static void
test_kill9_during_push_storm_loses_nothing_acknowledged(void **state)
{
    dbk_server *s = *state;
    enum { CLIENTS = 4 };
    tc_account co, cl[CLIENTS];
    pid_t kids[CLIENTS];
    char ackfile[CLIENTS][512];
    size_t acked_total = 0, lost = 0, duplicated = 0;

    tc_new_counselor(s, &co, "Counselor G");
    for (int i = 0; i < CLIENTS; i++) {
        tc_new_client(s, &cl[i], &co);
        snprintf(ackfile[i], sizeof ackfile[i], "%s/acked-%d", s->dir, i);
    }
    for (int i = 0; i < CLIENTS; i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0) {
            FILE *f = fopen(ackfile[i], "w");
            for (int n = 0; n < 400; n++) {
                dbk_id rec;
                char t[DBK_ID_TEXT_LEN + 1];
                long st;
                json_t *body;
                char url[512], auth[128];
                const char *hdrs[] = {auth, NULL};
                dbk_http_resp r;
                dbk_id_random(&rec);
                body = json_pack("{s:[{s:o}]}", "records", "envelope",
                                 tc_envelope(&cl[i], &cl[i].shared, 1, cl[i].shared_key[1], &rec,
                                             "{\"v\":1}"));
                char *text = json_dumps(body, JSON_COMPACT);
                json_decref(body);
                snprintf(url, sizeof url, "%s%s", s->base_url,
                         tc_path("/v1/streams/%s/records", &cl[i].shared));
                snprintf(auth, sizeof auth, "Authorization: Bearer %s", cl[i].token);
                st = dbk_http("POST", url, hdrs, text, strlen(text), &r) == 0 ? r.status : 0;
                free(text);
                dbk_http_resp_free(&r);
                if (st == 200) {
                    dbk_id_to_text(&rec, t);
                    fprintf(f, "%s\n", t);
                    fflush(f);
                } else {
                    break; /* the server is gone */
                }
            }
            fclose(f);
            _exit(0);
        }
    }
    {
        char wal[4200];
        off_t wal_max = 0;
        snprintf(wal, sizeof wal, "%s/daybook.db-wal", s->data_dir);
        for (int t = 0; t < 160; t++) { /* 800 ms */
            struct stat sb;
            if (!dbk_test_pg() && stat(wal, &sb) == 0 && sb.st_size > wal_max)
                wal_max = sb.st_size;
            usleep(5 * 1000);
        }
        long long by_thread = -1, by_storage = -1, storage_pages = -1;
        double storage_s = -1;
        if (!dbk_test_pg()) {
            by_thread = metric(s, "daybook_wal_checkpoints_total{by=\"thread\"}");
            by_storage = metric(s, "daybook_wal_checkpoints_total{by=\"storage\"}");
            storage_pages = metric(s, "daybook_wal_checkpoint_storage_pages_total");
            storage_s = metric_value(s, "daybook_wal_checkpoint_storage_seconds_total");
        }
        dbk_server_kill(s); /* SIGKILL: no drain, no checkpoint */
        if (!dbk_test_pg()) {
            dbk_report("write-ahead log under a push storm",
                       "4 clients pushing one record "
                       "at a time for 800 ms, daybookd --wal-max-mb 1",
                       "largest daybook.db-wal seen: %lld bytes; checkpoints by the thread %lld, "
                       "by the storage thread %lld (%lld pages left)",
                       (long long)wal_max, by_thread, by_storage, storage_pages);
            assert_true(wal_max > 0);
            assert_true(wal_max <= 2 * SMALL_WAL_BYTES);
            /* Both threads checkpointed, and the log started over (the storage thread
             * copied the rest at the bound). */
            assert_true(by_thread > 0);
            assert_true(by_storage > 0);
            assert_true(storage_pages > 0);
            /* and an operator sees how long those held every request */
            assert_true(storage_s > 0);
        }
    }
    for (int i = 0; i < CLIENTS; i++)
        waitpid(kids[i], NULL, 0);
    assert_int_equal(dbk_server_restart(s, small_wal_args), 0);

    for (int i = 0; i < CLIENTS; i++) {
        FILE *f = fopen(ackfile[i], "r");
        char line[64];
        json_t *all = json_array(), *r;
        int64_t since = 0;
        long st;
        bool more = true;
        assert_non_null(f);
        while (more) {
            char path[512];
            snprintf(path, sizeof path, "%s?since=%lld",
                     tc_path("/v1/streams/%s/records", &cl[i].shared), (long long)since);
            r = tc_req(s, &cl[i], "GET", path, NULL, &st);
            assert_int_equal(st, 200);
            json_array_extend(all, json_object_get(r, "records"));
            more = json_is_true(json_object_get(r, "more"));
            since = json_integer_value(json_object_get(r, "next"));
            json_decref(r);
        }
        while (fgets(line, sizeof line, f) != NULL) {
            dbk_id want;
            size_t k, found = 0;
            json_t *e;
            line[strcspn(line, "\n")] = '\0';
            assert_int_equal(dbk_id_from_text(&want, line, strlen(line)), 0);
            json_array_foreach(all, k, e) {
                const char *b = json_string_value(json_object_get(e, "envelope"));
                unsigned char env[2048];
                size_t n;
                dbk_envelope_hdr h;
                assert_int_equal(dbk_b64_decode(env, sizeof env, &n, b, strlen(b)), 0);
                assert_int_equal(dbk_envelope_parse(env, n, &h), 0);
                if (dbk_id_equal(&h.record, &want))
                    found++;
            }
            if (found != 1)
                print_error("acknowledged record %s found %zu times\n", line, found);
            lost += found == 0;
            duplicated += found > 1;
            acked_total++;
        }
        fclose(f);
        json_decref(all);
    }
    assert_true(acked_total > 0); /* the storm did run before the kill */
    dbk_report("server killed mid-write", "kill -9 of daybookd during a 4-client push storm",
               "%zu acknowledged records checked, losses: %zu, duplicates: %zu", acked_total,
               lost, duplicated);
    assert_int_equal(lost + duplicated, 0);
    {
        const char *argv[] = {dbk_bin("DAYBOOKD"), "check", "--data-dir", s->data_dir, NULL};
        dbk_run_result rr;
        assert_int_equal(dbk_run(argv, NULL, 60, &rr), 0);
        assert_int_equal(rr.status, 0);
        dbk_run_result_free(&rr);
    }
    for (int i = 0; i < CLIENTS; i++)
        tc_account_free(&cl[i]);
    tc_account_free(&co);
}

static int
run_admin(const char *a1, const char *a2, const char *data_dir, dbk_run_result *r)
{
    const char *argv[6] = {dbk_bin("DAYBOOKD"), a1};
    size_t n = 2;
    if (a2 != NULL)
        argv[n++] = a2;
    argv[n++] = "--data-dir";
    argv[n++] = data_dir;
    argv[n] = NULL;
    assert_int_equal(dbk_run(argv, NULL, 60, r), 0);
    return r->status;
}

static size_t
count_records(dbk_server *s, tc_account *c)
{
    long st;
    json_t *r = tc_req(s, c, "GET", tc_path("/v1/streams/%s/records?limit=1000", &c->shared), NULL,
                       &st);
    assert_int_equal(st, 200);
    size_t n = json_array_size(json_object_get(r, "records"));
    json_decref(r);
    return n;
}

/*
 * The restore drill: back up while serving, write more, restore the backup. The
 * restore generation moves, old tokens are gone, and a client that re-pushes what
 * it holds leaves nothing lost.
 */
static void
test_backup_restore_drill(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl;
    json_t *later[2], *r, *body;
    dbk_id rec;
    dbk_run_result rr;
    char backup[4096];
    long st;

    tc_new_counselor(s, &co, "Counselor H");
    tc_new_client(s, &cl, &co);
    for (int i = 0; i < 3; i++) {
        dbk_id_random(&rec);
        assert_int_equal(push_one(s, &cl, &rec, "{\"v\":1,\"before\":true}", NULL), 200);
    }
    snprintf(backup, sizeof backup, "%s/backup.db", s->dir);
    assert_int_equal(run_admin("backup", backup, s->data_dir, &rr), 0);
    dbk_run_result_free(&rr);
    for (int i = 0; i < 2; i++) {
        dbk_id_random(&rec);
        later[i] = tc_envelope(&cl, &cl.shared, 1, cl.shared_key[1], &rec, "{\"v\":1}");
        body = json_pack("{s:[{s:O}]}", "records", "envelope", later[i]);
        r = tc_req(s, &cl, "POST", tc_path("/v1/streams/%s/records", &cl.shared), body, &st);
        assert_int_equal(st, 200);
        json_decref(r);
        json_decref(body);
    }
    assert_int_equal(count_records(s, &cl), 5);

    /* A file that is not a Daybook store is refused, and left as it was. */
    {
        char junk[4096];
        snprintf(junk, sizeof junk, "%s/junk.db", s->dir);
        const char *mk[] = {"sqlite3", junk, "CREATE TABLE t(x); INSERT INTO t VALUES (1);", NULL};
        assert_int_equal(dbk_run(mk, NULL, 30, &rr), 0);
        assert_int_equal(rr.status, 0);
        dbk_run_result_free(&rr);
    }
    /* Restoring under a running server is refused. */
    assert_int_equal(run_admin("restore", backup, s->data_dir, &rr), 1);
    assert_non_null(strstr(rr.err, "Stop it first"));
    dbk_run_result_free(&rr);

    assert_int_equal(dbk_server_stop(s), 0);
    {
        char junk[4096];
        snprintf(junk, sizeof junk, "%s/junk.db", s->dir);
        assert_int_equal(run_admin("restore", junk, s->data_dir, &rr), 1);
        assert_non_null(strstr(rr.err, "not a usable Daybook backup"));
        dbk_run_result_free(&rr);
    }
    {
        const char *sum[] = {"sha256sum", backup, NULL};
        assert_int_equal(dbk_run(sum, NULL, 30, &rr), 0);
    }
    char before_sum[65];
    snprintf(before_sum, sizeof before_sum, "%.64s", rr.out);
    dbk_run_result_free(&rr);
    assert_int_equal(run_admin("restore", backup, s->data_dir, &rr), 0);
    assert_non_null(strstr(rr.out, "restore generation is now 2"));
    dbk_run_result_free(&rr);
    {
        const char *sum[] = {"sha256sum", backup, NULL};
        assert_int_equal(dbk_run(sum, NULL, 30, &rr), 0);
        assert_memory_equal(rr.out, before_sum, 64); /* the backup itself is untouched */
        dbk_run_result_free(&rr);
    }
    assert_int_equal(dbk_server_restart(s, NULL), 0);

    r = tc_req(s, NULL, "GET", "/healthz", NULL, &st);
    assert_int_equal(json_integer_value(json_object_get(r, "restore_generation")), 2);
    json_decref(r);
    r = tc_req(s, &cl, "GET", "/v1/account", NULL, &st);
    assert_int_equal(st, 401); /* every token is gone */
    json_decref(r);

    /* The client logs in again, finds 3 of its 5 records, and re-pushes what it holds. */
    assert_int_equal(tc_login(s, &cl, "client passphrase", NULL), 200);
    assert_int_equal(count_records(s, &cl), 3);
    body = json_pack("{s:[{s:o}, {s:o}]}", "records", "envelope", later[0], "envelope", later[1]);
    r = tc_req(s, &cl, "POST", tc_path("/v1/streams/%s/records", &cl.shared), body, &st);
    assert_int_equal(st, 200);
    json_decref(r);
    json_decref(body);
    assert_int_equal(count_records(s, &cl), 5);
    assert_int_equal(run_admin("check", NULL, s->data_dir, &rr), 0);
    dbk_run_result_free(&rr);
    tc_account_free(&co);
    tc_account_free(&cl);
}

static int
start_limited(void **state)
{
    static const char *const args[] = {"--quota-mb", "1", "--rate-per-s", "1", "--rate-burst",
                                       "40", NULL};
    dbk_server *s = calloc(1, sizeof *s);
    assert_int_equal(dbk_server_start(s, args), 0);
    *state = s;
    return 0;
}

/* Quota (507 quota_exceeded, nothing of the refused batch stored) and rate (429). */
static void
test_quota_and_rate_limits(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl;
    char *big = malloc(200 * 1024);
    long st = 0;
    int stored = 0, n;
    json_t *r;

    tc_new_counselor(s, &co, "Counselor Q");
    tc_new_client(s, &cl, &co);
    memset(big, 'x', 200 * 1024 - 1);
    big[200 * 1024 - 1] = '\0';
    /* 1 MiB quota, ~200 KiB records: the fifth or sixth is refused. */
    for (n = 0; n < 10; n++) {
        dbk_id rec;
        dbk_id_random(&rec);
        st = push_one(s, &cl, &rec, big, &r);
        if (st != 200)
            break;
        stored++;
        json_decref(r);
    }
    assert_int_equal(st, 507);
    assert_string_equal(tc_code(r), "quota_exceeded");
    json_decref(r);
    assert_true(stored >= 4 && stored <= 5);
    assert_int_equal(count_records(s, &cl), (size_t)stored);
    free(big);

    /* 40 requests of burst, 1 per second after: a quick run of 60 must meet a 429. */
    bool limited = false;
    for (n = 0; n < 60 && !limited; n++) {
        r = tc_req(s, &cl, "GET", "/v1/streams", NULL, &st);
        if (st == 429) {
            limited = true;
            assert_string_equal(tc_code(r), "rate_limited");
            assert_int_equal(
                json_integer_value(json_object_get(json_object_get(r, "error"), "retry_after_s")),
                1);
        }
        json_decref(r);
    }
    assert_true(limited);
    /* Another account is not slowed down by this one. */
    r = tc_req(s, &co, "GET", "/v1/streams", NULL, &st);
    assert_int_equal(st, 200);
    json_decref(r);
    tc_account_free(&co);
    tc_account_free(&cl);
}

/* Runs `daybookd counselor ARGS` on s's data dir; the result is the caller's to free. */
static dbk_run_result
admin(dbk_server *s, const char *verb, const char *who)
{
    const char *argv[] = {dbk_bin("DAYBOOKD"), "counselor", verb, who,
                          "--data-dir", s->data_dir, NULL};
    dbk_run_result r;
    if (who == NULL) { /* list: no positional after the verb */
        argv[3] = "--data-dir";
        argv[4] = s->data_dir;
        argv[5] = NULL;
    }
    assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
    return r;
}

/* The line of `counselor list` naming who, or NULL. */
static const char *
list_line(const char *out, const char *who, char *line, size_t len)
{
    for (const char *p = out; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        snprintf(line, len, "%.*s", (int)n, p);
        if (strstr(line, who) != NULL)
            return line;
        p = e ? e + 1 : NULL;
    }
    return NULL;
}

/*
 * The administrator lists, disables and enables counselors (daybookd counselor
 * list|disable|enable). Disabling ends the counselor's sessions at once and refuses
 * its logins (403 forbidden, and only after the passphrase was proven: a wrong one
 * still gets the usual 401); it moves no access: the client's grant is untouched,
 * the client keeps working, and once enabled the counselor reads again under the
 * same consent.
 */
static void
test_counselor_admin_list_disable_enable(void **state)
{
    dbk_server *s = *state;
    tc_account a, b, b2, cl;
    dbk_run_result r;
    json_t *resp;
    long st;
    char line[512];
    dbk_id stream;
    unsigned char key[32], cpk[32];

    r = admin(s, "list", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "no counselors yet"));
    dbk_run_result_free(&r);

    tc_new_counselor(s, &a, "Counselor Avery");
    tc_new_counselor(s, &b, "Counselor Twin");
    tc_new_counselor(s, &b2, "Counselor Twin");
    tc_new_client(s, &cl, &a);

    r = admin(s, "list", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(list_line(r.out, "Counselor Avery", line, sizeof line));
    assert_non_null(strstr(line, "active"));
    assert_non_null(strstr(line, " 1  ")); /* one client */
    assert_non_null(list_line(r.out, "Counselor Twin", line, sizeof line));
    assert_non_null(strstr(line, " 0  "));
    dbk_run_result_free(&r);

    /* Two counselors share a name: the name alone is refused, nothing changes. */
    r = admin(s, "disable", "Counselor Twin");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "2 counselors are named"));
    dbk_run_result_free(&r);
    r = admin(s, "disable", "Nobody Here");
    assert_int_equal(r.status, 1);
    dbk_run_result_free(&r);
    resp = tc_req(s, &b, "GET", "/v1/account", NULL, &st);
    assert_int_equal(st, 200);
    json_decref(resp);

    {
        /* A transfer is the clients' to make: the command lists Avery's clients and the
         * steps, and moves no access (the client's grant still names Avery alone). */
        char cid[DBK_ID_TEXT_LEN + 1], bid[DBK_ID_TEXT_LEN + 1];
        dbk_id_to_text(&cl.id, cid);
        dbk_id_to_text(&b.id, bid);
        const char *argv[] = {dbk_bin("DAYBOOKD"), "counselor", "transfer", "Counselor Avery",
                              bid, "--data-dir", s->data_dir, NULL};
        assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
        assert_int_equal(r.status, 0);
        assert_non_null(strstr(r.out, cid));
        assert_non_null(strstr(r.out, "The server cannot move them"));
        assert_non_null(strstr(r.out, "daybook transfer 'LINK' CLIENT..."));
        dbk_run_result_free(&r);
        const char *twin[] = {dbk_bin("DAYBOOKD"), "counselor", "transfer", "Counselor Avery",
                              "Counselor Twin", "--data-dir", s->data_dir, NULL};
        assert_int_equal(dbk_run(twin, NULL, 60, &r), 0);
        assert_int_equal(r.status, 1);
        assert_non_null(strstr(r.err, "2 counselors are named"));
        dbk_run_result_free(&r);
        resp = tc_req(s, &b, "GET", "/v1/caseload", NULL, &st);
        assert_int_equal(st, 200);
        assert_int_equal(json_array_size(json_object_get(resp, "clients")), 0);
        json_decref(resp);
    }
    r = admin(s, "disable", "Counselor Avery");
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    /* Its session ended now; its login is refused; a wrong passphrase learns nothing. */
    resp = tc_req(s, &a, "GET", "/v1/account", NULL, &st);
    assert_int_equal(st, 401);
    json_decref(resp);
    assert_int_equal(tc_login(s, &a, "not the passphrase", &resp), 401);
    assert_string_equal(tc_code(resp), "wrong_passphrase");
    json_decref(resp);
    assert_int_equal(tc_login(s, &a, "counselor passphrase", &resp), 403);
    assert_string_equal(tc_code(resp), "forbidden");
    json_decref(resp);
    /* The other counselors and the client go on. */
    resp = tc_req(s, &b, "GET", "/v1/account", NULL, &st);
    assert_int_equal(st, 200);
    json_decref(resp);
    resp = tc_req(s, &cl, "GET", "/v1/account", NULL, &st);
    assert_int_equal(st, 200);
    json_decref(resp);
    {
        /* An id that begins with '-' (one id in 64 does) is an operand, not an option:
         * an unknown one is "no counselor", exit 1, not a usage error. */
        const char *argv[] = {dbk_bin("DAYBOOKD"), "counselor", "enable", "-AAAAAAAAAAAAAAAAAAAAA",
                              "--data-dir", s->data_dir, NULL};
        assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
        assert_int_equal(r.status, 1);
        assert_non_null(strstr(r.err, "no counselor"));
        dbk_run_result_free(&r);
    }
    r = admin(s, "list", NULL);
    assert_non_null(list_line(r.out, "Counselor Avery", line, sizeof line));
    assert_non_null(strstr(line, "disabled"));
    dbk_run_result_free(&r);

    /* Enabled by its id: it logs in and reads under the client's unchanged consent. */
    {
        char id[DBK_ID_TEXT_LEN + 1];
        dbk_id_to_text(&a.id, id);
        r = admin(s, "enable", id);
        assert_int_equal(r.status, 0);
        dbk_run_result_free(&r);
    }
    assert_int_equal(tc_login(s, &a, "counselor passphrase", NULL), 200);
    assert_true(tc_counselor_stream(s, &a, &cl.id, &stream, key, cpk, NULL));
    assert_memory_equal(key, cl.shared_key[1], 32);

    tc_account_free(&a);
    tc_account_free(&b);
    tc_account_free(&b2);
    tc_account_free(&cl);
}

/* proto rule R12: login/start is limited per account (a burst, then one every few
 * seconds); the 429 says, in the body and in Retry-After, how long until one is allowed,
 * and that is true: after waiting it, login/start answers again. */
static void
test_login_retry_after_is_true(void **state)
{
    dbk_server *s = *state;
    tc_account cl;
    char url[256], *text;
    const char *const hdrs[] = {"Content-Type: application/json", NULL};
    dbk_http_resp r;
    long wait_s = 0;

    tc_account_init(&cl, false, "a passphrase");
    json_t *body = json_pack("{s:o, s:o}", "account", tc_id(&cl.id), "device", tc_id(&cl.device));
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    snprintf(url, sizeof url, "%s/v1/login/start", s->base_url);
    for (int n = 0; n < 40 && wait_s == 0; n++) {
        assert_int_equal(dbk_http("POST", url, hdrs, text, strlen(text), &r), 0);
        if (r.status == 429) {
            json_t *e = dbk_http_json(&r);
            wait_s = (long)json_integer_value(
                json_object_get(json_object_get(e, "error"), "retry_after_s"));
            char want[40];
            snprintf(want, sizeof want, "Retry-After: %ld", wait_s);
            assert_non_null(strstr(r.headers, want));
            json_decref(e);
        } else {
            assert_int_equal(r.status, 200);
        }
        dbk_http_resp_free(&r);
    }
    /* The limit refills one start in 6 s: more than the old fixed "1", at most 6. */
    assert_true(wait_s >= 2 && wait_s <= 6);
    sleep((unsigned)wait_s);
    assert_int_equal(dbk_http("POST", url, hdrs, text, strlen(text), &r), 0);
    assert_int_equal(r.status, 200);
    dbk_http_resp_free(&r);
    free(text);
    tc_account_free(&cl);
}

/* The storage thread's commits and failed group commits (/metrics) that a counselor's
 * sync of cl's shared stream adds, after a request that warms what it reads; *st its
 * status. */
static void
commits_of_sync(dbk_server *s, tc_account *co, tc_account *cl, long *st, long long *commits,
                long long *failures)
{
    long gst;
    json_t *r = tc_req(s, co, "GET", "/v1/grants", NULL, &gst);
    json_decref(r);
    assert_int_equal(gst, 200);
    long long c0 = metric(s, "daybook_storage_commits_total");
    long long f0 = metric(s, "daybook_storage_commit_failures_total");
    assert_true(c0 >= 0 && f0 >= 0);
    *st = sync_pull_shared(s, co, cl, 1, &r);
    json_decref(r);
    *commits = metric(s, "daybook_storage_commits_total") - c0;
    *failures = metric(s, "daybook_storage_commit_failures_total") - f0;
}

/*
 * daybook_storage_commits_total counts only commits that committed. A group whose own
 * commit fails (a counselor's sync whose read's audit row the store refuses at the
 * commit: on SQLite a deferred foreign key the row's trigger breaks, on PostgreSQL the
 * trigger's exception, raised there at the commit) adds one commit less than the same
 * sync without the fault, and one to daybook_storage_commit_failures_total. Before,
 * the failed group was counted as committed.
 */
static void
test_metrics_count_failed_commit(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl;
    char sql[900], hex[2 * DBK_ID_BYTES + 1];
    long long ok_commits, ok_failures, bad_commits, bad_failures;
    long st;
    dbk_id rec;
    bool pg = dbk_test_pg();

    tc_new_counselor(s, &co, "Counselor M");
    tc_new_client(s, &cl, &co);
    dbk_id_random(&rec);
    assert_int_equal(push_one(s, &cl, &rec, "{\"v\":1}", NULL), 200);
    if (pg) {
        refuse_read_rows(s, &cl.shared);
    } else {
        sodium_bin2hex(hex, sizeof hex, cl.shared.b, DBK_ID_BYTES);
        snprintf(sql, sizeof sql,
                 "CREATE TABLE fault_parent(id INTEGER PRIMARY KEY);"
                 "CREATE TABLE fault_child(p INTEGER REFERENCES fault_parent(id) "
                 "DEFERRABLE INITIALLY DEFERRED);"
                 "CREATE TRIGGER fault AFTER INSERT ON audit "
                 "WHEN NEW.stream = x'%s' AND NEW.action = 1 "
                 "BEGIN INSERT INTO fault_child VALUES (1); END;",
                 hex);
        edit_store(s, sql);
    }
    commits_of_sync(s, &co, &cl, &st, &bad_commits, &bad_failures);
    assert_true(st >= 400); /* the commit failed: nothing of the sync stored */
    /* Without the fault (the server restarted the same way) the same sync commits. */
    edit_store(s,
               pg ? "DROP TRIGGER fault ON audit; DROP FUNCTION fault();" : "DROP TRIGGER fault;");
    commits_of_sync(s, &co, &cl, &st, &ok_commits, &ok_failures);
    assert_int_equal(st, 200);
    assert_int_equal(ok_failures, 0);
    assert_true(ok_commits >= 1);
    if (bad_commits != ok_commits - 1 || bad_failures != 1)
        fail_msg("a failed group commit: %lld commits counted (%lld without the fault), "
                 "%lld failures",
                 bad_commits, ok_commits, bad_failures);
    tc_account_free(&co);
    tc_account_free(&cl);
}

/* A rate limit no test of these reaches. */
static const char *const unlimited[] = {"--rate-per-s", "100000", "--rate-burst", "100000", NULL};

static int
start_unlimited(void **state)
{
    dbk_server *s = calloc(1, sizeof *s);
    assert_int_equal(dbk_server_start(s, unlimited), 0);
    *state = s;
    return 0;
}

static long long
storage_jobs(const dbk_server *s)
{
    return metric(s, "daybook_storage_jobs_total");
}

/*
 * After a burst of requests daybookd gives its free heap memory back to the kernel,
 * once it has been at rest a while (server/main.c, on_trim_tick), and not again
 * while nothing more comes: daybook_heap_trims_total goes up, then stays. Reading
 * /metrics is not an API answer, so it does not end the rest.
 */
static void
test_heap_given_back_at_rest(void **state)
{
    dbk_server *s = *state;
    long long before = metric(s, "daybook_heap_trims_total"), after = before;
    long st;

    assert_true(before >= 0);
    for (int i = 0; i < 20; i++) {
        json_decref(tc_req(s, NULL, "GET", "/healthz", NULL, &st));
        assert_int_equal(st, 200);
    }
    for (int n = 0; n < 200 && after == before; n++) {
        usleep(50000);
        after = metric(s, "daybook_heap_trims_total");
    }
    assert_true(after > before);
    usleep(1000000); /* four ticks at rest */
    assert_int_equal(metric(s, "daybook_heap_trims_total"), after);
}

/* Times the threads of process pid went to sleep and were woken since they started:
 * voluntary_ctxt_switches summed over the status file of each /proc/PID/task. */
static long long
wakeups(pid_t pid)
{
    char path[320], line[256];
    long long sum = 0;
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    d = opendir(path);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        FILE *f;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%s/status", (int)pid, e->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue; /* a thread that just ended */
        while (fgets(line, sizeof line, f) != NULL)
            if (strncmp(line, "voluntary_ctxt_switches:", 24) == 0)
                sum += atoll(line + 24);
        fclose(f);
    }
    closedir(d);
    return sum;
}

/*
 * An idle daybookd sleeps: nothing wakes any of its threads while no request comes,
 * after start and after a request once its heap trim has run (server/main.c,
 * on_trim_tick; the trim timer used to repeat every 250 ms, 12 wake-ups in 3 s).
 * What is counted is wake-ups, not time: 3 s of rest must cost at most 3.
 */
static void
test_idle_server_sleeps(void **state)
{
    dbk_server *s = *state;
    long long w;
    long st;

    usleep(1000000); /* start-up's own work done */
    w = wakeups(s->pid);
    usleep(3000000);
    assert_true(wakeups(s->pid) - w <= 3);

    json_decref(tc_req(s, NULL, "GET", "/healthz", NULL, &st));
    assert_int_equal(st, 200);
    usleep(1000000); /* its trim, DBK_IDLE_TRIM_MS later */
    w = wakeups(s->pid);
    usleep(3000000);
    assert_true(wakeups(s->pid) - w <= 3);
}

/*
 * A trickle of requests, each a little more than DBK_IDLE_TRIM_MS after the one
 * before (a few devices syncing), trims at most once per DBK_TRIM_INTERVAL_MS (10 s),
 * not after each request; the memory they freed still goes back once they stop. The
 * trickle takes about 5 s; on a loaded machine it may take longer, and each 10 s it
 * took allows one trim more (the rule, not a slack): 8 requests trimmed one by one
 * still fail it unless they took over 70 s.
 */
static void
test_trickle_trims_seldom(void **state)
{
    dbk_server *s = *state;
    long long first, during, after, t0 = dbk_now_ms(), allowed;
    long st;

    json_decref(tc_req(s, NULL, "GET", "/healthz", NULL, &st));
    first = metric(s, "daybook_heap_trims_total");
    for (int n = 0; n < 300 && first == 0; n++) {
        usleep(50000);
        first = metric(s, "daybook_heap_trims_total");
    }
    assert_int_equal(first, 1); /* the first trim is not held back */
    for (int i = 0; i < 8; i++) {
        json_decref(tc_req(s, NULL, "GET", "/healthz", NULL, &st));
        assert_int_equal(st, 200);
        usleep(600000);
    }
    during = metric(s, "daybook_heap_trims_total");
    allowed = 1 + (dbk_now_ms() - t0) / 10000;
    if (during - first > allowed) /* was 8, one after each */
        fail_msg("%lld trims during the trickle, at most %lld allowed", during - first, allowed);
    after = during;
    for (int n = 0; n < 400 && after == during; n++) { /* within the interval: 20 s */
        usleep(50000);
        after = metric(s, "daybook_heap_trims_total");
    }
    assert_int_equal(after, during + 1);
}

#define STORM_PUSHERS 4
#define STORM_BATCH 16 /* records a push: two verify preps each (api_records.c) */
#define STORM_BATCHES 400
#define STORM_ACKS 24 /* acknowledged pushes before the SIGTERM */

/* A pusher of test_sigterm_during_push_storm, in a child process: pushes batches of
 * new records to c's shared stream, plaintexts {"p":P,"n":N} with N counting the
 * records, and tells fd each batch's pusher, number and status, until one is not
 * acknowledged. */
static void
storm_pusher(dbk_server *s, tc_account *c, int p, int fd)
{
    char url[512], auth[128];
    const char *hdrs[] = {auth, NULL};
    snprintf(url, sizeof url, "%s%s", s->base_url, tc_path("/v1/streams/%s/records", &c->shared));
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
    for (int b = 0; b < STORM_BATCHES; b++) {
        json_t *recs = json_array(), *body;
        int msg[3] = {p, b, 0};
        dbk_http_resp r;
        char *text;
        for (int i = 0; i < STORM_BATCH; i++) {
            char pt[64];
            dbk_id rec;
            dbk_id_random(&rec);
            snprintf(pt, sizeof pt, "{\"p\":%d,\"n\":%d}", p, b * STORM_BATCH + i);
            json_array_append_new(recs,
                                  json_pack("{s:o}", "envelope",
                                            tc_envelope(c, &c->shared, c->shared_epoch,
                                                        c->shared_key[c->shared_epoch], &rec, pt)));
        }
        body = json_pack("{s:o}", "records", recs);
        text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        /* No cmocka assert here, in a child: a refused connection is an answer too. */
        msg[2] = dbk_http("POST", url, hdrs, text, strlen(text), &r) == 0 ? (int)r.status : 0;
        free(text);
        dbk_http_resp_free(&r);
        if (write(fd, msg, sizeof msg) != (ssize_t)sizeof msg || msg[2] != 200)
            _exit(0);
    }
    _exit(0);
}

/*
 * SIGTERM during a storm of pushes, whose signatures are being verified on the prep
 * threads while the server drains (server/worker.h, dbk_worker_pending: a job at
 * its preps holds the drain). The server exits 0; after a restart every
 * acknowledged push is there, each record once, and every other push is there
 * whole, once, or not at all.
 */
static void
test_sigterm_during_push_storm(void **state)
{
    dbk_server *s = *state;
    static int acked[STORM_PUSHERS][STORM_BATCHES], found[STORM_PUSHERS][STORM_BATCHES];
    int tried[STORM_PUSHERS], fds[2], msg[3], nacked = 0, stopped = -2;
    pid_t kids[STORM_PUSHERS];
    tc_account co, cl;
    long long since = 0;
    bool more = true;
    ssize_t n;

    memset(acked, 0, sizeof acked);
    memset(found, 0, sizeof found);
    tc_new_counselor(s, &co, "Counselor S");
    tc_new_client(s, &cl, &co);
    assert_int_equal(pipe(fds), 0);
    for (int p = 0; p < STORM_PUSHERS; p++) {
        kids[p] = fork();
        assert_true(kids[p] >= 0);
        if (kids[p] == 0) {
            close(fds[0]);
            storm_pusher(s, &cl, p, fds[1]);
        }
    }
    close(fds[1]);
    /* Each message comes whole (12 bytes < PIPE_BUF). */
    for (int p = 0; p < STORM_PUSHERS; p++)
        tried[p] = -1;
    while ((n = read(fds[0], msg, sizeof msg)) == (ssize_t)sizeof msg) {
        assert_true(msg[0] >= 0 && msg[0] < STORM_PUSHERS && msg[1] == tried[msg[0]] + 1);
        tried[msg[0]] = msg[1];
        acked[msg[0]][msg[1]] = msg[2] == 200;
        if (msg[2] == 200 && ++nacked == STORM_ACKS)
            stopped = dbk_server_stop(s);
    }
    close(fds[0]);
    for (int p = 0; p < STORM_PUSHERS; p++)
        assert_int_equal(dbk_wait_pid(kids[p], 60000), 0);
    if (stopped == -2)
        stopped = dbk_server_stop(s);
    assert_int_equal(stopped, 0); /* drained: every request answered, then exit 0 */
    assert_int_equal(dbk_server_restart(s, NULL), 0);
    while (more) {
        long st;
        char path[512];
        json_t *r, *recs;
        snprintf(path, sizeof path, "%s?since=%lld", tc_path("/v1/streams/%s/records", &cl.shared),
                 since);
        r = tc_req(s, &cl, "GET", path, NULL, &st);
        assert_int_equal(st, 200);
        recs = json_object_get(r, "records");
        for (size_t i = 0; i < json_array_size(recs); i++) {
            char *pt =
                tc_open(json_string_value(json_object_get(json_array_get(recs, i), "envelope")),
                        &cl, &cl.shared, cl.shared_epoch, cl.shared_key[cl.shared_epoch]);
            int p, k;
            assert_non_null(pt);
            assert_int_equal(sscanf(pt, "{\"p\":%d,\"n\":%d}", &p, &k), 2);
            free(pt);
            assert_true(p >= 0 && p < STORM_PUSHERS && k >= 0 && k < STORM_BATCH * STORM_BATCHES);
            found[p][k / STORM_BATCH]++;
        }
        more = json_is_true(json_object_get(r, "more"));
        since = json_integer_value(json_object_get(r, "next"));
        json_decref(r);
    }
    /* Every acknowledged push is there, each record once; one that was not is there
     * whole or not at all; one never sent is not there. */
    assert_true(nacked >= STORM_ACKS);
    int unacked = 0, unacked_stored = 0;
    for (int p = 0; p < STORM_PUSHERS; p++)
        for (int b = 0; b < STORM_BATCHES; b++) {
            if (acked[p][b]) {
                assert_int_equal(found[p][b], STORM_BATCH);
            } else if (b <= tried[p]) {
                assert_true(found[p][b] == 0 || found[p][b] == STORM_BATCH);
                unacked++;
                unacked_stored += found[p][b] == STORM_BATCH;
            } else {
                assert_int_equal(found[p][b], 0);
            }
        }
    dbk_report("server stopped mid-push", "SIGTERM during a 4-client storm of 16-record pushes",
               "%d acknowledged pushes all there once; %d unacknowledged: %d stored whole, "
               "the others not at all; exit 0",
               nacked, unacked, unacked_stored);
    tc_account_free(&co);
    tc_account_free(&cl);
}

/* A sync that pulls c's shared stream since cursor: the response, status 200 checked. */
static json_t *
sync_since(dbk_server *s, tc_account *c, long long cursor)
{
    long st;
    json_t *body = json_pack("{s:[{s:o, s:I}]}", "pull", "stream", tc_id(&c->shared), "since",
                             (json_int_t)cursor);
    json_t *r = tc_req(s, c, "POST", "/v1/sync", body, &st);
    json_decref(body);
    assert_int_equal(st, 200);
    return r;
}

/* The status of that sync. */
static long
sync_status(dbk_server *s, tc_account *c, long long cursor)
{
    long st;
    json_t *body = json_pack("{s:[{s:o, s:I}]}", "pull", "stream", tc_id(&c->shared), "since",
                             (json_int_t)cursor);
    json_decref(tc_req(s, c, "POST", "/v1/sync", body, &st));
    json_decref(body);
    return st;
}

/* The compact text of a response, in the order the server wrote it; malloc'd. */
static char *
text_of(json_t *r)
{
    char *t = json_dumps(r, JSON_COMPACT);
    assert_non_null(t);
    json_decref(r);
    return t;
}

#define RACE_RECORDS 60

/*
 * The "nothing new" answer (server/heads.h) never hides a record. A second process
 * pushes records one by one, and tells after each acknowledgement which seq it got;
 * meanwhile the owner's device syncs as fast as it can from its cursor. Every
 * record acknowledged before a sync was sent is in that sync's answer or an earlier
 * one, seqs arrive in order without a gap, and all of them arrive. Then a sync with
 * nothing new is answered byte for byte as the storage thread answers it, without a
 * storage job on SQLite (on PostgreSQL, shared by nodes, every one is a job), and
 * after logout the same sync is refused at once.
 */
static void
test_nothing_new_hides_nothing(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl, other;
    int fds[2];
    pid_t pid;
    long long cursor = 0, acked = 0, jobs0, jobs1, jobs2;
    size_t got = 0, late = 0, syncs = 0;
    bool child_done = false;
    char *first, path[512];
    long st;
    json_t *r;
    int wst;

    tc_new_counselor(s, &co, "Counselor N");
    tc_new_client(s, &cl, &co);
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        for (int i = 0; i < RACE_RECORDS; i++) {
            dbk_id rec;
            long long seq;
            dbk_id_random(&rec);
            if (push_one(s, &cl, &rec, "{\"v\":1}", &r) != 200)
                _exit(1);
            seq = json_integer_value(json_object_get(r, "high_seq"));
            json_decref(r);
            if (write(fds[1], &seq, sizeof seq) != (ssize_t)sizeof seq)
                _exit(1);
        }
        _exit(0);
    }
    close(fds[1]);
    while (got < RACE_RECORDS && syncs < 100000) {
        long long seq, asked_after, next;
        json_t *e, *rec;
        size_t i;
        /* What was acknowledged before this sync is sent. */
        while (!child_done) {
            struct timeval tv = {0, 0};
            fd_set rd;
            FD_ZERO(&rd);
            FD_SET(fds[0], &rd);
            if (select(fds[0] + 1, &rd, NULL, NULL, &tv) != 1)
                break;
            ssize_t n = read(fds[0], &seq, sizeof seq);
            if (n == 0) {
                child_done = true;
            } else {
                assert_int_equal(n, sizeof seq);
                acked = seq > acked ? seq : acked;
            }
        }
        asked_after = acked;
        r = sync_since(s, &cl, cursor);
        syncs++;
        e = json_array_get(json_object_get(r, "pull"), 0);
        json_array_foreach(json_object_get(e, "records"), i, rec) {
            seq = json_integer_value(json_object_get(rec, "seq"));
            assert_int_equal(seq, cursor + 1); /* in order, no gap */
            cursor = seq;
            got++;
        }
        next = json_integer_value(json_object_get(e, "next"));
        assert_int_equal(next, cursor);
        if (cursor < asked_after)
            late++; /* acknowledged before the sync, missing from its answer */
        assert_true(json_integer_value(json_object_get(e, "high_seq")) >= asked_after);
        json_decref(r);
        if (child_done && got < RACE_RECORDS && cursor == acked)
            break; /* the pusher is done and nothing more can come */
    }
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    close(fds[0]);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    assert_int_equal(late, 0);
    assert_int_equal(got, RACE_RECORDS);

    /* Something else (any non-records request) makes the next sync go to the store;
     * the ones after it answer the same bytes. */
    r = tc_req(s, &cl, "GET", "/v1/account", NULL, &st);
    assert_int_equal(st, 200);
    json_decref(r);
    jobs0 = storage_jobs(s);
    first = text_of(sync_since(s, &cl, cursor));
    jobs1 = storage_jobs(s);
    assert_int_equal(jobs1 - jobs0, 1);
    for (int i = 0; i < 20; i++) {
        char *again = text_of(sync_since(s, &cl, cursor));
        assert_string_equal(again, first);
        free(again);
    }
    snprintf(path, sizeof path, "%s?since=%lld",
             tc_path("/v1/streams/%s/records", &cl.shared), cursor);
    r = tc_req(s, &cl, "GET", path, NULL, &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(r, "records")), 0);
    json_decref(r);
    jobs2 = storage_jobs(s);
    if (dbk_test_pg())
        assert_int_equal(jobs2 - jobs1, 21);
    else
        assert_true(jobs2 - jobs1 <= 1); /* at most one new minute's token check */

    /* A second device syncs (so its token could answer "nothing new"), is revoked
     * from the first, and its next sync is refused; then the first logs out, and its
     * next sync is refused too, whatever was known a moment before. */
    other = cl;
    dbk_id_random(&other.device);
    assert_int_equal(tc_login(s, &other, cl.passphrase, NULL), 200);
    json_decref(sync_since(s, &other, cursor));
    json_decref(sync_since(s, &other, cursor));
    snprintf(path, sizeof path, "%s", tc_path("/v1/devices/%s", &other.device));
    r = tc_req(s, &cl, "DELETE", path, NULL, &st);
    assert_true(st == 200 || st == 204);
    json_decref(r);
    assert_int_equal(sync_status(s, &other, cursor), 401);
    r = tc_req(s, &cl, "POST", "/v1/logout", NULL, &st);
    assert_true(st == 200 || st == 204);
    json_decref(r);
    assert_int_equal(sync_status(s, &cl, cursor), 401);
    dbk_report("nothing new hides nothing",
               "records pushed one by one by another process while the owner syncs from "
               "its cursor; then nothing new 21 times; then after a device revocation and a logout",
               "%d of %d records, in order, none late (%zu syncs); nothing-new answers "
               "identical, %lld storage jobs for 21 (%s); revoked device and logged-out token: 401",
               (int)got, RACE_RECORDS, syncs, jobs2 - jobs1,
               dbk_test_pg() ? "PostgreSQL: every one a job" : "SQLite");
    free(first);
    tc_account_free(&co);
    tc_account_free(&cl);
}

/* A pull-only sync of a's stream since cursor; its one stream's object and the
 * response's grants_seq. */
static void
sync_own(dbk_server *s, tc_account *a, const dbk_id *stream, long long cursor,
         long long *high_seq, long long *epoch, bool *rotation_pending, long long *grants_seq)
{
    long st;
    json_t *body = json_pack("{s:[{s:o, s:I}]}", "pull", "stream", tc_id(stream), "since",
                             (json_int_t)cursor);
    json_t *r = tc_req(s, a, "POST", "/v1/sync", body, &st), *e;
    json_decref(body);
    assert_int_equal(st, 200);
    e = json_array_get(json_object_get(r, "pull"), 0);
    assert_int_equal(json_array_size(json_object_get(e, "records")), 0);
    *high_seq = json_integer_value(json_object_get(e, "high_seq"));
    *epoch = json_integer_value(json_object_get(e, "epoch"));
    *rotation_pending = json_is_true(json_object_get(e, "rotation_pending"));
    *grants_seq = json_integer_value(json_object_get(r, "grants_seq"));
    json_decref(r);
}

/* DELETE /v1/streams/{client's shared}/grants/{counselor}: the status. */
static long
revoke_grant(dbk_server *s, tc_account *cl, const tc_account *co)
{
    char path[512], t[DBK_ID_TEXT_LEN + 1];
    long st;
    dbk_id_to_text(&co->id, t);
    snprintf(path, sizeof path, "%s/%s", tc_path("/v1/streams/%s/grants", &cl->shared), t);
    json_decref(tc_req(s, cl, "DELETE", path, NULL, &st));
    return st;
}

/*
 * "Nothing new" from memory (server/heads.h) follows a change of access at once for
 * every account the change touches, though only one of them made it: a client's
 * revocation and its grant move its counselor's grants_seq, and the counselor's next
 * sync of its own stream, answered from memory a moment before, carries the new
 * one; the client's own stream shows its revocation's rotation_pending at once. An
 * account the change does not touch keeps answering from memory (SQLite, within one
 * minute, since the storage thread's look for changes from outside is per minute;
 * PostgreSQL answers every sync from the store).
 */
static void
test_nothing_new_follows_grants(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl, by;
    long long co_seq, cl_seq, by_seq, epoch, g0, g1, g2, gx, jobs0, jobs1, jobs2, t0;
    bool rot;
    long st;

    tc_new_counselor(s, &co, "Counselor G");
    tc_new_client(s, &cl, &co);
    tc_new_client(s, &by, &co); /* a bystander: its grant to co is made before the syncs */

    /* Each syncs its own stream twice: the second answer may come from memory. */
    t0 = (long long)dbk_hlc_wall_ms();
    sync_own(s, &co, &co.priv, 0, &co_seq, &epoch, &rot, &g0);
    sync_own(s, &cl, &cl.shared, 0, &cl_seq, &epoch, &rot, &gx);
    sync_own(s, &by, &by.shared, 0, &by_seq, &epoch, &rot, &gx);
    jobs0 = storage_jobs(s);
    sync_own(s, &co, &co.priv, co_seq, &co_seq, &epoch, &rot, &gx);
    assert_int_equal(gx, g0);
    sync_own(s, &cl, &cl.shared, cl_seq, &cl_seq, &epoch, &rot, &gx);
    assert_false(rot);
    sync_own(s, &by, &by.shared, by_seq, &by_seq, &epoch, &rot, &gx);
    jobs1 = storage_jobs(s);
    if (!dbk_test_pg() && (long long)dbk_hlc_wall_ms() / 60000 == t0 / 60000)
        assert_int_equal(jobs1 - jobs0, 0); /* all three from memory */

    /* The client revokes its counselor: one job, by the client. */
    assert_int_equal(revoke_grant(s, &cl, &co), 200);
    sync_own(s, &co, &co.priv, co_seq, &co_seq, &epoch, &rot, &g1);
    assert_true(g1 > g0); /* the counselor's grants_seq, moved by the client */
    sync_own(s, &cl, &cl.shared, cl_seq, &cl_seq, &epoch, &rot, &gx);
    assert_true(rot); /* the client's own stream: rotation pending */
    jobs1 = storage_jobs(s);
    sync_own(s, &by, &by.shared, by_seq, &by_seq, &epoch, &rot, &gx);
    jobs2 = storage_jobs(s);
    if (!dbk_test_pg() && (long long)dbk_hlc_wall_ms() / 60000 == t0 / 60000)
        assert_int_equal(jobs2 - jobs1, 0); /* the bystander's answer was not forgotten */

    /* A stranger's write with a made-up token is refused and forgets nothing. */
    {
        tc_account stranger = by;
        char path[256];
        snprintf(stranger.token, sizeof stranger.token, "%s",
                 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        snprintf(path, sizeof path, "%s", tc_path("/v1/devices/%s", &by.device));
        json_decref(tc_req(s, &stranger, "DELETE", path, NULL, &st));
        assert_int_equal(st, 401);
        jobs1 = storage_jobs(s);
        sync_own(s, &by, &by.shared, by_seq, &by_seq, &epoch, &rot, &gx);
        jobs2 = storage_jobs(s);
        if (!dbk_test_pg() && (long long)dbk_hlc_wall_ms() / 60000 == t0 / 60000)
            assert_int_equal(jobs2 - jobs1, 0);
    }

    /* The counselor's answer is from memory again; then the client grants again. */
    sync_own(s, &co, &co.priv, co_seq, &co_seq, &epoch, &rot, &gx);
    assert_int_equal(gx, g1);
    assert_int_equal(tc_grant(s, &cl, &co, 1), 200);
    sync_own(s, &co, &co.priv, co_seq, &co_seq, &epoch, &rot, &g2);
    assert_true(g2 > g1);
    dbk_report("nothing new follows grants",
               "a client revokes and grants its counselor while both, and a bystander client, "
               "sync their own streams with nothing new; a stranger's write with a made-up "
               "token",
               "counselor's grants_seq %lld -> %lld -> %lld at its next sync; the client's "
               "stream rotation-pending at once; the bystander's sync %s",
               g0, g1, g2,
               dbk_test_pg() ? "from the store (PostgreSQL: every one a job)"
               : jobs2 - jobs1 == 0 ? "still from memory (no storage job)"
                                    : "a job (a new minute began)");
    tc_account_free(&co);
    tc_account_free(&cl);
    tc_account_free(&by);
}

/* Stops s, runs sql on its store (SQLite file or PostgreSQL database), starts it again. */
static void
edit_store(dbk_server *s, const char *sql)
{
    char path[4200], *err = NULL;
    sqlite3 *db;
    assert_int_equal(dbk_server_stop(s), 0);
    if (dbk_test_pg()) {
        assert_true(dbk_pg_exec_db(s->store_url, sql) >= 0);
    } else {
        snprintf(path, sizeof path, "%s/daybook.db", s->data_dir);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
            fail_msg("sql: %s", err);
        sqlite3_close(db);
    }
    assert_int_equal(dbk_server_restart(s, NULL), 0);
}

/* The last_seen the store holds for device (the server stopped or not). */
static long long
stored_last_seen(const dbk_server *s, const dbk_id *device)
{
    char sql[160], hex[2 * DBK_ID_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, device->b, DBK_ID_BYTES);
    snprintf(sql, sizeof sql, "SELECT last_seen FROM devices WHERE id = x'%s'", hex);
    return dbk_server_int(s, sql);
}

/* Whether v is the start of a minute from the one of t0 to the one of t1 (Unix ms). */
static bool
in_minutes(long long v, long long t0, long long t1)
{
    return v % 60000 == 0 && v >= t0 / 60000 * 60000 && v <= t1 / 60000 * 60000;
}

/* Stops the server cleanly, checks that the store holds device last seen in a minute
 * from t0's to t1's, and starts the server again. */
static void
seen_after_stop(dbk_server *s, const dbk_id *device, long long t0, long long t1)
{
    long long stored;
    assert_int_equal(dbk_server_stop(s), 0);
    stored = stored_last_seen(s, device);
    if (!in_minutes(stored, t0, t1))
        fail_msg("store after stop: last_seen %lld, not the minute of the request (%lld..%lld)",
                 stored, t0, t1);
    assert_int_equal(dbk_server_restart(s, NULL), 0);
}

/*
 * A device's last seen is the minute of its last authenticated request, in what the
 * API answers (the devices list, the counselor's caseload) and in the store after a
 * clean stop, although the SQLite store writes it with a later commit rather than
 * with each request (store_sqlite.c, "Last seen"). Each time the store is first set
 * to say the device was last seen in 1970, then the device makes one request that
 * writes nothing else.
 */
static void
test_last_seen_to_the_minute(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl;
    char sql[200], hex[2 * DBK_ID_BYTES + 1];
    long long t0, t1, seen = 0;
    json_t *r, *e;
    size_t i;
    long st;

    tc_new_counselor(s, &co, "Counselor L");
    tc_new_client(s, &cl, &co);
    sodium_bin2hex(hex, sizeof hex, cl.device.b, DBK_ID_BYTES);
    if (dbk_test_pg())
        snprintf(sql, sizeof sql, "UPDATE devices SET last_seen = 60000 WHERE id = '\\x%s'", hex);
    else
        snprintf(sql, sizeof sql, "UPDATE devices SET last_seen = 60000 WHERE id = x'%s'", hex);

    /* The counselor's caseload. */
    edit_store(s, sql);
    t0 = (long long)dbk_hlc_wall_ms();
    json_decref(tc_req(s, &cl, "GET", "/v1/account", NULL, &st));
    assert_int_equal(st, 200);
    seen = tc_caseload_last_sync(s, &co, &cl.id);
    t1 = (long long)dbk_hlc_wall_ms();
    if (!in_minutes(seen, t0, t1))
        fail_msg("caseload: last_sync_at %lld, not the minute of the request (%lld..%lld)", seen,
                 t0, t1);

    /* The client's own devices list. */
    edit_store(s, sql);
    t0 = (long long)dbk_hlc_wall_ms();
    json_decref(tc_req(s, &cl, "GET", "/v1/account", NULL, &st));
    r = tc_req(s, &cl, "GET", "/v1/devices", NULL, &st);
    t1 = (long long)dbk_hlc_wall_ms();
    assert_int_equal(st, 200);
    seen = 0;
    json_array_foreach(json_object_get(r, "devices"), i, e) {
        if (json_is_true(json_object_get(e, "current")))
            seen = json_integer_value(json_object_get(e, "last_seen_at"));
    }
    json_decref(r);
    if (!in_minutes(seen, t0, t1))
        fail_msg("devices: last_seen_at %lld, not the minute of the request (%lld..%lld)", seen,
                 t0, t1);

    /* In the store after a clean stop, though nothing else was written. */
    edit_store(s, sql);
    t0 = (long long)dbk_hlc_wall_ms();
    json_decref(tc_req(s, &cl, "GET", "/v1/account", NULL, &st));
    t1 = (long long)dbk_hlc_wall_ms();
    assert_int_equal(st, 200);
    seen_after_stop(s, &cl.device, t0, t1);
    dbk_report("last seen to the minute",
               "a device last seen in 1970 makes one request that writes nothing else; then "
               "the caseload, the devices list, and the store after a clean stop",
               "each shows the minute of the request (%s)",
               dbk_test_pg() ? "PostgreSQL: written with the request" : "SQLite: written later");
    tc_account_free(&co);
    tc_account_free(&cl);
}

/* A push of one new record by author into stream (epoch 1 unless the client's shared). */
static long
push_as(dbk_server *s, tc_account *author, const dbk_id *stream, const unsigned char key[32],
        uint32_t epoch)
{
    dbk_id rec;
    long st;
    json_t *body;

    dbk_id_random(&rec);
    body = json_pack("{s:[{s:o}]}", "records", "envelope",
                     tc_envelope(author, stream, epoch, key, &rec, "{\"v\":1}"));
    json_decref(tc_req(s, author, "POST", tc_path("/v1/streams/%s/records", stream), body, &st));
    json_decref(body);
    return st;
}

/*
 * The server's wall clock, for the tests of what changes with its minute: daybookd
 * runs under libfaketime with its offset from the real clock in a file, read at every
 * call (FAKETIME_NO_CACHE), so the test moves the server's clock on by rewriting the
 * file rather than waiting for the real one. Monotonic time stays real (timeouts,
 * libuv's timers). Without libfaketime the server runs on the real clock.
 */
static struct {
    char lib[4096];   /* libfaketime, "" when not installed */
    char *dir;        /* the offset's file is dir/offset */
    long long offset; /* seconds ahead of the real clock */
    char preload[4200], file[4200], asan[1100];
    const char *env[6];
} server_clock;

/* Writes the server's offset: whole seconds ("+65"), renamed into place so that the
 * server reads the old offset or the new one, never a file half written. */
static void
clock_set(long long offset)
{
    char path[4200], tmp[4200];
    FILE *f;
    snprintf(path, sizeof path, "%s/offset", server_clock.dir);
    snprintf(tmp, sizeof tmp, "%s/offset.new", server_clock.dir);
    f = fopen(tmp, "w");
    assert_non_null(f);
    fprintf(f, "+%lld\n", offset);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0);
    server_clock.offset = offset;
}

/* The server's wall clock now (Unix ms): the real one plus its offset. */
static long long
server_now_ms(void)
{
    return (long long)dbk_hlc_wall_ms() + server_clock.offset * 1000;
}

/* Moves the server's clock on by at least min_s seconds, and on to second 1 of the next
 * minute when it would land after second last_s of one. Without libfaketime, waits
 * (as little as that). With it a step costs nothing, so it always lands on second 1 of
 * a minute: 58 s before the minute turns, whatever the machine's speed. */
static void
server_clock_forward(long long min_s, int last_s)
{
    long long step = min_s;
    int sec = (int)((server_now_ms() / 1000 + step) % 60);
    if (server_clock.lib[0] != '\0') {
        step += sec <= 1 ? 1 - sec : 61 - sec;
        if (step > 0)
            clock_set(server_clock.offset + step);
        return;
    }
    if (sec > last_s)
        step += 61 - sec;
    sleep((unsigned)step);
}

/* start_unlimited's server on a clock of its own (above), from the real time. */
static int
start_clocked(void **state)
{
    dbk_server *s = calloc(1, sizeof *s);
    char asan[1024];
    size_t n = 0;

    memset(server_clock.env, 0, sizeof server_clock.env);
    server_clock.offset = 0;
    if (dbk_faketime_lib(server_clock.lib, sizeof server_clock.lib)) {
        server_clock.dir = dbk_tmpdir("clock");
        clock_set(0);
        dbk_asan_options_preloaded(asan, sizeof asan);
        snprintf(server_clock.asan, sizeof server_clock.asan, "ASAN_OPTIONS=%s", asan);
        snprintf(server_clock.preload, sizeof server_clock.preload, "LD_PRELOAD=%s",
                 server_clock.lib);
        snprintf(server_clock.file, sizeof server_clock.file, "FAKETIME_TIMESTAMP_FILE=%s/offset",
                 server_clock.dir);
        server_clock.env[n++] = server_clock.preload;
        server_clock.env[n++] = server_clock.file;
        server_clock.env[n++] = "FAKETIME_NO_CACHE=1";
        server_clock.env[n++] = "FAKETIME_DONT_FAKE_MONOTONIC=1";
        server_clock.env[n++] = server_clock.asan;
    }
    assert_int_equal(dbk_server_start_env(s, unlimited, n > 0 ? server_clock.env : NULL), 0);
    *state = s;
    return 0;
}

static int
stop_clocked(void **state)
{
    int r = stop(state);
    if (server_clock.dir != NULL)
        dbk_rmtree(server_clock.dir);
    free(server_clock.dir);
    server_clock.dir = NULL;
    server_clock.offset = 0;
    return r;
}

/* Moves the server's clock, if need be, into a minute with at least 15 s left: the
 * storage thread's token cache (server/authcache.h) answers only within the minute of
 * the store's check, so a step that crossed into the next one would pass without the
 * cache being tried. */
static void
fresh_minute(void)
{
    server_clock_forward(0, 45);
}

/* A client invite of co's: its code into code and its id, as text, into id. */
static long
new_invite(dbk_server *s, tc_account *co, char code[32], char id[DBK_ID_TEXT_LEN + 1])
{
    long st;
    json_t *body = json_object(), *r = tc_req(s, co, "POST", "/v1/invites", body, &st);
    json_decref(body);
    if (st == 201) {
        snprintf(code, 32, "%s", json_string_value(json_object_get(r, "code")));
        snprintf(id, DBK_ID_TEXT_LEN + 1, "%s", json_string_value(json_object_get(r, "invite")));
    }
    json_decref(r);
    return st;
}

/* POST /v1/enroll/check with code for co: its status. */
static long
enroll_check(dbk_server *s, const tc_account *co, const char *code)
{
    char cid[DBK_ID_TEXT_LEN + 1];
    long st;
    dbk_id_to_text(&co->id, cid);
    json_t *body = json_pack("{s:s, s:s}", "code", code, "counselor", cid);
    json_decref(tc_req(s, NULL, "POST", "/v1/enroll/check", body, &st));
    json_decref(body);
    return st;
}

/* New invites until one is refused: how many were made. */
static int
invites_until_refused(dbk_server *s, tc_account *co)
{
    char code[32], id[DBK_ID_TEXT_LEN + 1];
    long st;
    int n = 0;
    while ((st = new_invite(s, co, code, id)) == 201 && n < 1000)
        n++;
    assert_int_equal(st, 429); /* rate_limited: the pending limit (this server has no other) */
    return n;
}

/* The records of stream as the server answers a pull from since (one page). */
static json_t *
pull_all(dbk_server *s, tc_account *as, const dbk_id *stream, long long since)
{
    char path[256];
    long st;
    json_t *r, *recs;
    snprintf(path, sizeof path, "%s?since=%lld&limit=1000",
             tc_path("/v1/streams/%s/records", stream), since);
    r = tc_req(s, as, "GET", path, NULL, &st);
    assert_int_equal(st, 200);
    assert_false(json_is_true(json_object_get(r, "more")));
    recs = json_incref(json_object_get(r, "records"));
    json_decref(r);
    return recs;
}

/* Main's records table (schema version 2, migration 1's text), for a store to go back to. */
#define RECORDS_V2_COLS                                                                            \
    "  stream %s NOT NULL, record %s NOT NULL, seq %s NOT NULL, clock %s NOT NULL,"                \
    "  device %s NOT NULL, epoch %s NOT NULL, creator %s NOT NULL, envelope %s NOT NULL,"          \
    "  PRIMARY KEY (stream, record))%s;"

/*
 * A store made before records were kept in seq order (schema version 2: keyed by
 * (stream, record), with an index records_seq) is moved to the new table at the next
 * start: every record there once, with its seq and envelope, pulled in seq order, and
 * a revision still replaces its record under a new seq.
 */
static void
test_records_after_seq_order_upgrade(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl;
    enum { N = 60 };
    dbk_id rec[N];
    json_t *before, *after, *r;
    char sql[1200], cols[400];
    bool pg = dbk_test_pg();
    const char *b = pg ? "BYTEA" : "BLOB", *i = pg ? "BIGINT" : "INTEGER";

    tc_new_counselor(s, &co, "Seq Order");
    tc_new_client(s, &cl, &co);
    for (size_t k = 0; k < N; k++) {
        dbk_id_random(&rec[k]);
        assert_int_equal(push_one(s, &cl, &rec[k], "{\"v\":1,\"n\":1}", NULL), 200);
    }
    for (size_t k = 0; k < N; k += 7) /* revisions: seqs no longer follow the ids' order */
        assert_int_equal(push_one(s, &cl, &rec[k], "{\"v\":1,\"n\":2}", NULL), 200);
    before = pull_all(s, &cl, &cl.shared, 0);
    assert_int_equal(json_array_size(before), N);

    snprintf(cols, sizeof cols, RECORDS_V2_COLS, b, b, i, i, b, i, b, b,
             pg ? "" : " STRICT, WITHOUT ROWID");
    snprintf(sql, sizeof sql,
             "CREATE TABLE records_v2 (%s"
             "INSERT INTO records_v2 SELECT stream, record, seq, clock, device, epoch, creator,"
             " envelope FROM records ORDER BY stream, record;"
             "DROP TABLE records; ALTER TABLE records_v2 RENAME TO records;"
             "CREATE UNIQUE INDEX records_seq ON records(stream, seq);"
             "UPDATE meta SET value = %s WHERE key = 'schema_version'",
             cols, pg ? "'\\x0000000000000002'::bytea" : "x'0000000000000002'");
    edit_store(s, sql); /* stops daybookd, makes the old table, starts it again */

    assert_int_equal(dbk_server_int(s, pg ? "SELECT count(*) FROM meta WHERE key = 'schema_version'"
                                            " AND value = '\\x0000000000000003'::bytea"
                                          : "SELECT count(*) FROM meta WHERE key = 'schema_version'"
                                            " AND value = x'0000000000000003'"),
                     1);
    assert_int_equal(dbk_server_int(s, pg ? "SELECT count(*) FROM pg_indexes WHERE"
                                            " indexname IN ('records_seq', 'records_v2_pkey')"
                                          : "SELECT count(*) FROM sqlite_master WHERE"
                                            " name = 'records_seq' OR sql LIKE '%records_v2%'"),
                     0);
    if (!pg)
        assert_int_equal(dbk_server_int(s, "SELECT count(*) FROM sqlite_master WHERE"
                                           " name = 'records' AND sql LIKE"
                                           " '%PRIMARY KEY (stream, seq)%WITHOUT ROWID'"),
                         1);
    assert_int_equal(dbk_server_int(s, "SELECT count(*) FROM records"), N);
    after = pull_all(s, &cl, &cl.shared, 0);
    assert_true(json_equal(before, after)); /* the same seqs and envelopes, in seq order */
    for (size_t k = 1; k < N; k++)
        assert_true(json_integer_value(json_object_get(json_array_get(after, k), "seq")) >
                    json_integer_value(json_object_get(json_array_get(after, k - 1), "seq")));
    json_decref(after);
    /* A counselor's pull from the middle: what follows the tenth record in seq order. */
    after = pull_all(s, &co, &cl.shared,
                     json_integer_value(json_object_get(json_array_get(before, 9), "seq")));
    assert_int_equal(json_array_size(after), N - 10);
    json_decref(after);

    /* A revision replaces its record under the next seq; a new record follows it. */
    long long last = json_integer_value(json_object_get(json_array_get(before, N - 1), "seq"));
    assert_int_equal(push_one(s, &cl, &rec[3], "{\"v\":1,\"n\":3}", &r), 200);
    long long revised = json_integer_value(
        json_object_get(json_array_get(json_object_get(r, "results"), 0), "seq"));
    assert_true(revised > last);
    json_decref(r);
    dbk_id fresh;
    dbk_id_random(&fresh);
    assert_int_equal(push_one(s, &cl, &fresh, "{\"v\":1}", NULL), 200);
    after = pull_all(s, &cl, &cl.shared, 0);
    assert_int_equal(json_array_size(after), N + 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(after, N - 1), "seq")),
                     revised);
    assert_true(json_integer_value(json_object_get(json_array_get(after, N), "seq")) > revised);
    char *pt = tc_open(json_string_value(json_object_get(json_array_get(after, N - 1), "envelope")),
                       &cl, &cl.shared, 1, cl.shared_key[1]);
    assert_non_null(pt);
    assert_string_equal(pt, "{\"v\":1,\"n\":3}");
    free(pt);
    assert_int_equal(dbk_server_int(s, "SELECT count(*) FROM records"), N + 1);
    json_decref(after);
    json_decref(before);
    tc_account_free(&co);
    tc_account_free(&cl);
}

/*
 * A seq given twice (a stream's counter set back, as a faulty restore could leave it)
 * fails the push: the record that holds the seq stays, nothing else is dropped.
 */
static void
test_seq_given_twice_drops_nothing(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl;
    dbk_id rec;
    json_t *before, *after;
    char sql[200], hex[2 * DBK_ID_BYTES + 1];

    tc_new_counselor(s, &co, "Seq Twice");
    tc_new_client(s, &cl, &co);
    for (int k = 0; k < 3; k++) {
        dbk_id_random(&rec);
        assert_int_equal(push_one(s, &cl, &rec, "{\"v\":1}", NULL), 200);
    }
    before = pull_all(s, &cl, &cl.shared, 0);
    sodium_bin2hex(hex, sizeof hex, cl.shared.b, DBK_ID_BYTES);
    snprintf(sql, sizeof sql,
             dbk_test_pg() ? "UPDATE streams SET seq = seq - 1 WHERE id = decode('%s', 'hex')"
                           : "UPDATE streams SET seq = seq - 1 WHERE id = x'%s'",
             hex);
    edit_store(s, sql);
    dbk_id_random(&rec);
    assert_int_not_equal(push_one(s, &cl, &rec, "{\"v\":1}", NULL), 200);
    after = pull_all(s, &cl, &cl.shared, 0);
    assert_true(json_equal(before, after));
    json_decref(after);
    json_decref(before);
    tc_account_free(&co);
    tc_account_free(&cl);
}

/*
 * A counselor may hold 100 pending invites; a used, a deleted or an expired one does
 * not count, and only a pending one passes the enrollment check. The store reads
 * them through an index of pending invites (schema migration 2), which a store left
 * at version 1 without it, as an older daybookd made it, gets at its next start.
 */
static void
test_pending_invites_after_upgrade(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl;
    char used[32], first[32], code[32], id[DBK_ID_TEXT_LEN + 1], id2[DBK_ID_TEXT_LEN + 1];
    char sql[200], hex[2 * DBK_ID_BYTES + 1];
    dbk_id inv;
    long st;
    json_t *r;

    tc_new_counselor(s, &co, "Pending Invites");
    assert_int_equal(new_invite(s, &co, used, id), 201);
    tc_account_init(&cl, false, "client passphrase");
    r = tc_enroll(s, &cl, used, &st);
    assert_int_equal(st, 201);
    json_decref(r);

    edit_store(s, "DROP INDEX invites_pending; DROP INDEX invites_counselor;"
                  " UPDATE meta SET value = x'0000000000000001' WHERE key = 'schema_version'");
    assert_int_equal(dbk_server_int(s, "SELECT count(*) FROM meta WHERE key = 'schema_version'"
                                       " AND value = x'0000000000000003'"),
                     1);
    assert_int_equal(dbk_server_int(s, dbk_test_pg() ? "SELECT count(*) FROM pg_indexes WHERE"
                                                       " indexname = 'invites_pending'"
                                                     : "SELECT count(*) FROM sqlite_master WHERE"
                                                       " name = 'invites_pending'"),
                     1);

    assert_int_equal(enroll_check(s, &co, used), 410);
    assert_int_equal(new_invite(s, &co, first, id), 201);
    assert_int_equal(new_invite(s, &co, code, id2), 201);
    assert_int_equal(enroll_check(s, &co, first), 200);
    assert_int_equal(invites_until_refused(s, &co), 98); /* the used one does not count */

    assert_int_equal(dbk_id_from_text(&inv, id2, strlen(id2)), 0);
    r = tc_req(s, &co, "DELETE", tc_path("/v1/invites/%s", &inv), NULL, &st);
    assert_int_equal(st, 204);
    json_decref(r);
    assert_int_equal(invites_until_refused(s, &co), 1);

    assert_int_equal(dbk_id_from_text(&inv, id, strlen(id)), 0);
    sodium_bin2hex(hex, sizeof hex, inv.b, DBK_ID_BYTES);
    snprintf(sql, sizeof sql, "UPDATE invites SET expires_at = 1000 WHERE id = x'%s'", hex);
    edit_store(s, sql);
    assert_int_equal(enroll_check(s, &co, first), 410);
    assert_int_equal(invites_until_refused(s, &co), 1);
    tc_account_free(&co);
    tc_account_free(&cl);
}

#define REVOKE_RACE_AFTER 5

/*
 * The storage thread's token and owner caches (server/authcache.h) never let a
 * revoked session push. Another process pushes as a second device of the client,
 * one record after another, and before each push looks whether the revocation of
 * that device has been acknowledged: every push sent after the acknowledgement is
 * refused (401), and the ones before it were stored. Then a logout: the next push
 * with that token is refused. Then `daybookd counselor disable` run as its own
 * process on the live store, which ends the counselor's sessions by deleting its
 * tokens from outside the server: the counselor's next push is refused too, though
 * its token and stream were cached a moment before.
 */
static void
test_push_cache_honours_revocation(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl, other;
    int ctl[2], ack[2];
    pid_t pid;
    long st;
    char path[512], byte;
    json_t *r;
    int wst;

    tc_new_counselor(s, &co, "Counselor R");
    tc_new_client(s, &cl, &co);
    other = cl;
    dbk_id_random(&other.device);
    assert_int_equal(tc_login(s, &other, cl.passphrase, NULL), 200);
    fresh_minute();
    assert_int_equal(pipe(ctl), 0);
    assert_int_equal(pipe(ack), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Exit status: 0, or 1 + what went wrong. */
        int stored = 0, after = 0;
        bool revoked = false;
        close(ctl[1]);
        close(ack[0]);
        while (after < REVOKE_RACE_AFTER) {
            struct timeval tv = {0, 0};
            fd_set rd;
            long got;
            FD_ZERO(&rd);
            FD_SET(ctl[0], &rd);
            if (!revoked && select(ctl[0] + 1, &rd, NULL, NULL, &tv) == 1)
                revoked = true; /* acknowledged before this push is sent */
            got = push_as(s, &other, &other.shared, other.shared_key[1], 1);
            if (revoked) {
                if (got != 401)
                    _exit(2); /* a push after the acknowledged revocation */
                after++;
            } else if (got == 200) {
                if (++stored == 3 && write(ack[1], "s", 1) != 1)
                    _exit(3);
            } else if (got != 401) {
                _exit(4);
            }
            if (stored > 10000)
                _exit(5);
        }
        _exit(stored >= 3 ? 0 : 6);
    }
    close(ctl[0]);
    close(ack[1]);
    /* The second device has pushed (its token and stream are cached); revoke it. */
    assert_int_equal(read(ack[0], &byte, 1), 1);
    snprintf(path, sizeof path, "%s", tc_path("/v1/devices/%s", &other.device));
    r = tc_req(s, &cl, "DELETE", path, NULL, &st);
    assert_true(st == 200 || st == 204);
    json_decref(r);
    assert_int_equal(write(ctl[1], "r", 1), 1);
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    close(ctl[1]);
    close(ack[0]);
    assert_true(WIFEXITED(wst));
    assert_int_equal(WEXITSTATUS(wst), 0);

    /* A logout, from the first device itself. */
    fresh_minute();
    assert_int_equal(push_as(s, &cl, &cl.shared, cl.shared_key[1], 1), 200);
    assert_int_equal(push_as(s, &cl, &cl.shared, cl.shared_key[1], 1), 200);
    r = tc_req(s, &cl, "POST", "/v1/logout", NULL, &st);
    assert_true(st == 200 || st == 204);
    json_decref(r);
    assert_int_equal(push_as(s, &cl, &cl.shared, cl.shared_key[1], 1), 401);

    /* The administrator disables the counselor from outside the server. */
    fresh_minute();
    assert_int_equal(push_as(s, &co, &co.priv, co.priv_key, 1), 200);
    assert_int_equal(push_as(s, &co, &co.priv, co.priv_key, 1), 200);
    {
        dbk_run_result res = admin(s, "disable", "Counselor R");
        assert_int_equal(res.status, 0);
        dbk_run_result_free(&res);
    }
    assert_int_equal(push_as(s, &co, &co.priv, co.priv_key, 1), 401);
    dbk_report("push cache honours revocation",
               "a device pushing in a loop while another device revokes it; a logout; a "
               "counselor disabled by the admin command on the live store",
               "every push after the revocation's acknowledgement refused (401); the "
               "logged-out token and the disabled counselor's refused at their next push");
    tc_account_free(&co);
    tc_account_free(&cl);
}

/* Moves the server's clock on by more than a minute, into a minute with at least 30 s
 * left: a later minute than now's, and longer than the loop counts a token as seen
 * lately (api.c). */
static void
past_a_minute(void)
{
    server_clock_forward(61, 30);
}

/*
 * A device's daily sync with nothing new is answered from memory though its token
 * was last checked by the store in an earlier minute, more than a minute ago
 * (server/api.c, dbk_api_fast_auth): once any request of the new minute has had the
 * storage thread look for changes made from outside, it takes no storage job, for
 * its body's gate neither, at 10 accounts as at 10,000. Its use still counts: the
 * counselor's caseload shows the client seen in the new minute. And a counselor
 * disabled by `daybookd counselor disable` on the live store, whose own sync was
 * answered from memory a moment before, is refused by its first sync after any
 * request the storage thread ran since the disable.
 */
static void
test_nothing_new_across_minutes(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl, co2, by;
    long long cl_seq, co2_seq, epoch, gx, jobs0, jobs1, t0, t1, seen;
    bool rot;
    long st;

    tc_new_counselor(s, &co, "Counselor M");
    tc_new_client(s, &cl, &co);
    tc_new_counselor(s, &co2, "Counselor D");
    tc_new_client(s, &by, &co); /* its requests only make the storage thread run */
    sync_own(s, &cl, &cl.shared, 0, &cl_seq, &epoch, &rot, &gx);
    sync_own(s, &co2, &co2.priv, 0, &co2_seq, &epoch, &rot, &gx);

    past_a_minute();
    t0 = server_now_ms();
    json_decref(tc_req(s, &by, "GET", "/v1/account", NULL, &st));
    assert_int_equal(st, 200);
    jobs0 = storage_jobs(s);
    sync_own(s, &cl, &cl.shared, cl_seq, &cl_seq, &epoch, &rot, &gx);
    sync_own(s, &co2, &co2.priv, co2_seq, &co2_seq, &epoch, &rot, &gx);
    jobs1 = storage_jobs(s);
    if (!dbk_test_pg())
        assert_int_equal(jobs1 - jobs0, 0); /* both from memory */
    seen = tc_caseload_last_sync(s, &co, &cl.id);
    t1 = server_now_ms();
    if (!in_minutes(seen, t0, t1))
        fail_msg("caseload: last_sync_at %lld, not the minute of the sync (%lld..%lld)", seen, t0,
                 t1);

    /* The administrator disables the second counselor from outside the server. */
    {
        dbk_run_result res = admin(s, "disable", "Counselor D");
        assert_int_equal(res.status, 0);
        dbk_run_result_free(&res);
    }
    json_decref(tc_req(s, &by, "GET", "/v1/account", NULL, &st));
    assert_int_equal(st, 200);
    {
        json_t *body = json_pack("{s:[{s:o, s:I}]}", "pull", "stream", tc_id(&co2.priv), "since",
                                 (json_int_t)co2_seq);
        json_decref(tc_req(s, &co2, "POST", "/v1/sync", body, &st));
        json_decref(body);
        assert_int_equal(st, 401);
    }
    dbk_report("nothing new across minutes",
               "two devices sync with nothing new in the minute after their tokens' last "
               "check, after one other request; then a counselor disabled by the admin "
               "command on the live store, and one other request",
               "%lld storage jobs for the two (%s); the caseload shows the client seen in "
               "the new minute; the disabled counselor's next sync refused (401)",
               jobs1 - jobs0, dbk_test_pg() ? "PostgreSQL: every one a job" : "SQLite");
    tc_account_free(&co);
    tc_account_free(&cl);
    tc_account_free(&co2);
    tc_account_free(&by);
}

/*
 * A use answered "nothing new" from memory still reaches the store's last seen by a
 * clean stop, though nothing read last seen meanwhile (server/api.c, "Uses noted for
 * the store", flushed when the server drains: main.c, on_drained).
 */
static void
test_fast_use_last_seen_after_stop(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl, by;
    long long seq, epoch, gx, jobs0, jobs1, t0, t1;
    bool rot;
    long st;

    tc_new_counselor(s, &co, "Counselor S");
    tc_new_client(s, &cl, &co);
    tc_new_client(s, &by, &co); /* its request only makes the storage thread run */
    sync_own(s, &cl, &cl.shared, 0, &seq, &epoch, &rot, &gx);

    past_a_minute();
    json_decref(tc_req(s, &by, "GET", "/v1/account", NULL, &st));
    assert_int_equal(st, 200);
    t0 = server_now_ms();
    jobs0 = storage_jobs(s);
    sync_own(s, &cl, &cl.shared, seq, &seq, &epoch, &rot, &gx);
    jobs1 = storage_jobs(s);
    t1 = server_now_ms();
    if (!dbk_test_pg())
        assert_int_equal(jobs1 - jobs0, 0); /* from memory */
    seen_after_stop(s, &cl.device, t0, t1);
    dbk_report("last seen of a use answered from memory",
               "a device syncs with nothing new in a later minute than its token's last "
               "check, answered from memory; then a clean stop",
               "the store holds the minute of that sync (%s)",
               dbk_test_pg() ? "PostgreSQL: every one a job" : "SQLite: noted at the drain");
    tc_account_free(&co);
    tc_account_free(&cl);
    tc_account_free(&by);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_enroll_share_read_and_audit, start, stop),
        cmocka_unit_test_setup_teardown(test_caseload_of_one_client, start, stop),
        cmocka_unit_test_setup_teardown(test_push_is_idempotent_and_orders_revisions, start, stop),
        cmocka_unit_test_setup_teardown(test_revocation_cuts_access_and_rotates, start, stop),
        cmocka_unit_test_setup_teardown(test_regrant_keeps_revocation_history, start, stop),
        cmocka_unit_test_setup_teardown(test_login_without_enumeration, start, stop),
        cmocka_unit_test_setup_teardown(test_login_retry_after_is_true, start, stop),
        cmocka_unit_test_setup_teardown(test_counselor_admin_list_disable_enable, start, stop),
        cmocka_unit_test_setup_teardown(test_sync_many_streams_in_one_round_trip, start, stop),
        cmocka_unit_test_setup_teardown(test_sync_push_after, start_unlimited, stop),
        cmocka_unit_test_setup_teardown(test_sync_push_after_duplicates, start_unlimited, stop),
        cmocka_unit_test_setup_teardown(test_sync_push_raw_envelope, start_unlimited, stop),
        cmocka_unit_test_setup_teardown(test_sync_pull_after_push_in_one_round_trip, start, stop),
        cmocka_unit_test_setup_teardown(test_sync_own_read_charged_with_push, start_unlimited,
                                        stop),
        cmocka_unit_test_setup_teardown(test_sync_audit_row_and_charge_together, start_unlimited,
                                        stop),
        cmocka_unit_test_setup_teardown(test_no_plaintext_on_server_disk_or_logs, start, stop),
        cmocka_unit_test_setup_teardown(test_replayed_login_and_dead_tokens, start, stop),
        cmocka_unit_test_setup_teardown(test_kill9_during_push_storm_loses_nothing_acknowledged,
                                        start_small_wal, stop),
        cmocka_unit_test_setup_teardown(test_backup_restore_drill, start, stop),
        cmocka_unit_test_setup_teardown(test_nothing_new_hides_nothing, start_unlimited, stop),
        cmocka_unit_test_setup_teardown(test_nothing_new_follows_grants, start_unlimited, stop),
        cmocka_unit_test_setup_teardown(test_last_seen_to_the_minute, start, stop),
        cmocka_unit_test_setup_teardown(test_pending_invites_after_upgrade, start_unlimited, stop),
        cmocka_unit_test_setup_teardown(test_records_after_seq_order_upgrade, start_unlimited,
                                        stop),
        cmocka_unit_test_setup_teardown(test_seq_given_twice_drops_nothing, start_unlimited, stop),
        cmocka_unit_test_setup_teardown(test_push_cache_honours_revocation, start_clocked,
                                        stop_clocked),
        cmocka_unit_test_setup_teardown(test_nothing_new_across_minutes, start_clocked,
                                        stop_clocked),
        cmocka_unit_test_setup_teardown(test_fast_use_last_seen_after_stop, start_clocked,
                                        stop_clocked),
        cmocka_unit_test_setup_teardown(test_quota_and_rate_limits, start_limited, stop),
        cmocka_unit_test_setup_teardown(test_metrics_count_failed_commit, start, stop),
        cmocka_unit_test_setup_teardown(test_heap_given_back_at_rest, start, stop),
        cmocka_unit_test_setup_teardown(test_idle_server_sleeps, start, stop),
        cmocka_unit_test_setup_teardown(test_trickle_trims_seldom, start, stop),
        cmocka_unit_test_setup_teardown(test_sigterm_during_push_storm, start_unlimited, stop),
    };
    if (dbk_init() != 0)
        return 1;
    if (getenv("DAYBOOK_TEST_FILTER") != NULL) /* one test by name, when working on it */
        cmocka_set_test_filter(getenv("DAYBOOK_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
