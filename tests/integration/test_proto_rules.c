/*
 * The numbered rules of proto/README.md section 21 that the server enforces,
 * each against a real daybookd with real clients (tests/support/tc.c): what
 * GET /v1/invites lists (R4), far-future revisions (R6, clock_ahead), the error
 * for an unknown format version byte (R1), and 403 for a stream that does not
 * exist, the same as for one the caller has no relation to (R2); and that each item
 * of a push is judged after the ones before it in the same request. The
 * counselor-key lookup before an invite is used (R5) is tested with the real CLI
 * in integration.client_sync.
 */
#include "tc.h"

#include "dbk/base64.h"
#include "dbk/fingerprint.h"
#include "dbk/error.h"
#include "dbk/hlc.h"
#include "dbk/init.h"
#include "dbk/keys.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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
        assert_int_equal(dbk_server_stop(s), 0);
    dbk_server_cleanup(s);
    free(s);
    return 0;
}

/* A new invite code of co (static buffer), and its id in *id when id is not NULL. */
static const char *
new_invite(dbk_server *s, tc_account *co, char *id, size_t idcap)
{
    static char code[32];
    long st;
    json_t *empty = json_object();
    json_t *r = tc_req(s, co, "POST", "/v1/invites", empty, &st);
    json_decref(empty);
    assert_int_equal(st, 201);
    snprintf(code, sizeof code, "%s", json_string_value(json_object_get(r, "code")));
    if (id != NULL)
        snprintf(id, idcap, "%s", json_string_value(json_object_get(r, "invite")));
    json_decref(r);
    return code;
}

/* The item of GET /v1/invites with this invite id (a new reference), or NULL. */
static json_t *
listed_invite(dbk_server *s, tc_account *co, const char *id)
{
    long st;
    json_t *r = tc_req(s, co, "GET", "/v1/invites", NULL, &st), *e, *found = NULL;
    size_t i;
    assert_int_equal(st, 200);
    json_array_foreach(json_object_get(r, "invites"), i, e) {
        if (strcmp(json_string_value(json_object_get(e, "invite")), id) == 0)
            found = json_incref(e);
    }
    json_decref(r);
    return found;
}

/* R4: a used invite is listed as used with used_at; the server names no account (openapi). */
static void
test_invite_list_matches_openapi(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl;
    char id[32];
    long st;

    tc_new_counselor(s, &co, "Counselor Invites");
    const char *code = new_invite(s, &co, id, sizeof id);
    json_t *e = listed_invite(s, &co, id);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "state")), "pending");
    assert_null(json_object_get(e, "used_at"));
    assert_true(json_is_integer(json_object_get(e, "created_at")));
    assert_true(json_is_integer(json_object_get(e, "expires_at")));
    json_decref(e);

    tc_account_init(&cl, false, "client passphrase");
    json_decref(tc_enroll(s, &cl, code, &st));
    assert_int_equal(st, 201);
    e = listed_invite(s, &co, id);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "state")), "used");
    assert_true(json_integer_value(json_object_get(e, "used_at")) > 0);
    assert_null(json_object_get(e, "account")); /* not recorded, not documented */
    json_decref(e);
    tc_account_free(&cl);
    tc_account_free(&co);
}

/* R1: a key bundle or a grant whose format version byte is not 1 is
 * unsupported_version; nothing is created. */
static void
test_unknown_bundle_version(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl;
    long st;

    tc_new_counselor(s, &co, "Counselor Versions");
    const char *code = new_invite(s, &co, NULL, 0);
    tc_account_init(&cl, false, "client passphrase");
    cl.bundle[4] = 2; /* the version byte (CRYPTO section 2) */
    json_t *r = tc_enroll(s, &cl, code, &st);
    assert_int_equal(st, 400);
    assert_string_equal(tc_code(r), "unsupported_version");
    json_decref(r);
    cl.bundle[4] = 1; /* the code was not used up */
    json_decref(tc_enroll(s, &cl, code, &st));
    assert_int_equal(st, 201);

    /* A grant whose version byte is 2: the same code from the grants endpoint. */
    json_t *g = tc_grant_json(&cl, &cl.shared, 1, cl.shared_key[1], &co.id, co.keys->box_pk);
    const char *t = json_string_value(g);
    size_t n = strlen(t), len;
    unsigned char *raw = malloc(DBK_B64_DECODED_MAX(n) + 1);
    char *back = malloc(n + 4);
    assert_int_equal(dbk_b64_decode(raw, DBK_B64_DECODED_MAX(n) + 1, &len, t, n), 0);
    raw[0] = 2;
    assert_int_equal(dbk_b64_encode(back, n + 4, raw, len), 0);
    json_t *body = json_pack("{s:[s]}", "grants", back);
    r = tc_req(s, &cl, "POST", tc_path("/v1/streams/%s/grants", &cl.shared), body, &st);
    assert_int_equal(st, 400);
    assert_string_equal(tc_code(r), "unsupported_version");
    json_decref(r);
    json_decref(body);
    json_decref(g);
    free(raw);
    free(back);
    tc_account_free(&cl);
    tc_account_free(&co);
}

/* R2: a stream id that does not exist answers 403, exactly like a stream that exists
 * and is not the caller's: nobody learns which ids exist. */
static void
test_unknown_stream_is_forbidden(void **state)
{
    dbk_server *s = *state;
    tc_account co, a, b;
    dbk_id ghost;
    long st1, st2;

    tc_new_counselor(s, &co, "Counselor Streams");
    tc_new_client(s, &a, &co);
    tc_new_client(s, &b, &co);
    dbk_id_random(&ghost);
    json_t *r1 = tc_req(s, &a, "GET", tc_path("/v1/streams/%s/records", &ghost), NULL, &st1);
    json_t *r2 = tc_req(s, &a, "GET", tc_path("/v1/streams/%s/records", &b.priv), NULL, &st2);
    assert_int_equal(st1, 403);
    assert_int_equal(st2, 403);
    assert_string_equal(tc_code(r1), tc_code(r2));
    json_decref(r1);
    json_decref(r2);
    tc_account_free(&a);
    tc_account_free(&b);
    tc_account_free(&co);
}

/* R6: a revision whose clock is more than a day ahead of the server's is refused with
 * clock_ahead and the server's time; one within the day is stored. */
static void
test_far_future_revision_refused(void **state)
{
    dbk_server *s = *state;
    tc_account co, cl;
    long st;
    uint64_t now = dbk_hlc_wall_ms();
    const uint64_t ahead[2] = {now + 3 * DBK_HLC_MAX_DRIFT_MS, now + DBK_HLC_MAX_DRIFT_MS / 2};
    const long want[2] = {400, 200};

    tc_new_counselor(s, &co, "Counselor Clocks");
    tc_new_client(s, &cl, &co);
    for (int i = 0; i < 2; i++) {
        dbk_envelope_hdr h = {.stream = cl.shared, .epoch = 1, .author = cl.id,
                              .rev = {.clock = dbk_hlc_pack(ahead[i], 0), .device = cl.device}};
        unsigned char *env;
        size_t len;
        char *text = malloc(DBK_B64_ENCODED_LEN(DBK_ENV_MAX_BYTES) + 1);
        const char *pt = "{\"type\":\"journal\",\"v\":1,\"text\":\"from the future\"}";
        dbk_id_random(&h.record);
        assert_int_equal(dbk_envelope_seal(&h, cl.shared_key[1], cl.keys->sign_sk,
                                           (const unsigned char *)pt, strlen(pt), NULL, &env,
                                           &len),
                         DBK_OK);
        (void)dbk_b64_encode(text, DBK_B64_ENCODED_LEN(len) + 1, env, len);
        free(env);
        json_t *body = json_pack("{s:[{s:s}]}", "records", "envelope", text);
        free(text);
        json_t *r = tc_req(s, &cl, "POST", tc_path("/v1/streams/%s/records", &cl.shared), body,
                           &st);
        assert_int_equal(st, want[i]);
        if (i == 0) {
            assert_string_equal(tc_code(r), "clock_ahead");
            json_int_t t = json_integer_value(
                json_object_get(json_object_get(r, "error"), "server_time"));
            assert_true(t >= (json_int_t)now && t < (json_int_t)(now + 600000));
        }
        json_decref(r);
        json_decref(body);
    }
    tc_account_free(&cl);
    tc_account_free(&co);
}

/*
 * One push of 150 records in which one record comes five times: a newer revision
 * right after its first, the same bytes again (duplicate), the older revision again
 * (superseded), and a newer one 126 items later. Each item must be judged against
 * what the items before it stored, as if pushed one by one: the PostgreSQL store
 * reads and writes a push's records in chunks of 64, and a record seen twice must
 * start a new chunk (store/pg/store_pg.c, chunk_end). Also run on SQLite.
 */
static void
test_push_judges_each_item_after_the_ones_before(void **state)
{
    enum { N = 150, A_FIRST = 3, A_LATE = 130 };
    dbk_server *s = *state;
    tc_account co, cl;
    dbk_id a, other;
    json_t *items = json_array(), *env_a1 = NULL, *env_a2 = NULL, *env_late = NULL;
    long st;

    tc_new_counselor(s, &co, "Counselor Batches");
    tc_new_client(s, &cl, &co);
    dbk_id_random(&a);
    for (int i = 0; i < N; i++) {
        json_t *env;
        if (i == A_FIRST)
            env = env_a1 = tc_envelope(&cl, &cl.shared, 1, cl.shared_key[1], &a, "{\"n\":1}");
        else if (i == A_FIRST + 1)
            env = env_a2 = tc_envelope(&cl, &cl.shared, 1, cl.shared_key[1], &a, "{\"n\":2}");
        else if (i == A_FIRST + 2)
            env = json_incref(env_a2); /* the same bytes: duplicate */
        else if (i == A_FIRST + 3)
            env = json_incref(env_a1); /* the older revision: superseded */
        else if (i == A_LATE)
            env = env_late = tc_envelope(&cl, &cl.shared, 1, cl.shared_key[1], &a, "{\"n\":3}");
        else {
            dbk_id_random(&other);
            env = tc_envelope(&cl, &cl.shared, 1, cl.shared_key[1], &other, "{\"n\":0}");
        }
        json_array_append_new(items, json_pack("{s:o}", "envelope", env));
    }
    json_incref(env_a1); /* kept for the pull below */
    json_incref(env_a2);
    json_incref(env_late);
    json_t *body = json_pack("{s:o}", "records", items);
    json_t *r = tc_req(s, &cl, "POST", tc_path("/v1/streams/%s/records", &cl.shared), body, &st);
    assert_int_equal(st, 200);
    json_t *res = json_object_get(r, "results");
    assert_int_equal(json_array_size(res), N);
    json_int_t want_seq = 0;
    for (int i = 0; i < N; i++) {
        json_t *it = json_array_get(res, (size_t)i);
        const char *result = json_string_value(json_object_get(it, "result"));
        json_int_t seq = json_integer_value(json_object_get(it, "seq"));
        if (i == A_FIRST + 2) {
            assert_string_equal(result, "duplicate");
            assert_int_equal(seq, want_seq); /* the stored copy's */
        } else if (i == A_FIRST + 3) {
            assert_string_equal(result, "superseded");
        } else {
            assert_string_equal(result, "stored");
            assert_int_equal(seq, ++want_seq);
        }
    }
    assert_int_equal(json_integer_value(json_object_get(r, "high_seq")), N - 2);
    json_decref(r);
    json_decref(body);

    /* A pull from the start: every record once, in order, the late revision of a. */
    r = tc_req(s, &cl, "GET", tc_path("/v1/streams/%s/records?since=0", &cl.shared), NULL, &st);
    assert_int_equal(st, 200);
    json_t *recs = json_object_get(r, "records");
    assert_int_equal(json_array_size(recs), N - 4);
    json_int_t prev = 0;
    bool late_found = false;
    for (size_t i = 0; i < json_array_size(recs); i++) {
        json_t *rec = json_array_get(recs, i);
        json_int_t seq = json_integer_value(json_object_get(rec, "seq"));
        assert_true(seq > prev);
        prev = seq;
        if (json_equal(json_object_get(rec, "envelope"), env_late))
            late_found = true;
        assert_false(json_equal(json_object_get(rec, "envelope"), env_a1));
        assert_false(json_equal(json_object_get(rec, "envelope"), env_a2));
    }
    assert_true(late_found);
    json_decref(r);
    json_decref(env_a1);
    json_decref(env_a2);
    json_decref(env_late);
    tc_account_free(&cl);
    tc_account_free(&co);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_invite_list_matches_openapi, start, stop),
        cmocka_unit_test_setup_teardown(test_unknown_bundle_version, start, stop),
        cmocka_unit_test_setup_teardown(test_unknown_stream_is_forbidden, start, stop),
        cmocka_unit_test_setup_teardown(test_far_future_revision_refused, start, stop),
        cmocka_unit_test_setup_teardown(test_push_judges_each_item_after_the_ones_before, start,
                                        stop),
    };
    if (dbk_init() != DBK_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
