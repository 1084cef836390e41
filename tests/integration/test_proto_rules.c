/*
 * The numbered rules of proto/README.md section 21 that the server enforces,
 * each against a real daybookd with real clients (tests/support/tc.c): what
 * GET /v1/invites lists, far-future revisions (clock_ahead), the error for an
 * unknown format version byte, 404 for a stream the caller has no relation to,
 * and the counselor-key lookup that lets a client check the fingerprint before
 * the invite is used.
 */
#include "tc.h"

#include "dbk/base64.h"
#include "dbk/fingerprint.h"
#include "dbk/error.h"
#include "dbk/init.h"

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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_invite_list_matches_openapi, start, stop),
    };
    if (dbk_init() != DBK_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
