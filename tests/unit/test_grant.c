/* Grants: round trip, self-grants, size bounds, and every header byte bound by the signature. */
#include "dbk/error.h"
#include "dbk/grant.h"
#include "dbk/init.h"
#include "dbk/keys.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char consent[] = "{\"type\":\"consent\",\"v\":1,\"purpose\":\"treatment\"}";

struct fx {
    dbk_account_keys *owner, *grantee;
    dbk_grant_hdr h;
    unsigned char key[32];
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->owner = dbk_account_keys_new();
    f->grantee = dbk_account_keys_new();
    dbk_id_random(&f->h.stream);
    dbk_id_random(&f->h.owner);
    dbk_id_random(&f->h.grantee);
    f->h.epoch = 2;
    f->h.created_at = 1764000000000ULL;
    randombytes_buf(f->key, 32);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    dbk_account_keys_free(f->owner);
    dbk_account_keys_free(f->grantee);
    free(f);
    return 0;
}

static dbk_grant_expect
expect_of(struct fx *f, uint64_t now)
{
    dbk_grant_expect e = {&f->h.owner, f->owner->sign_pk, &f->h.grantee, f->grantee->box_pk,
                          f->grantee->box_sk, now};
    return e;
}

static int
open_rc(const unsigned char *g, size_t len, const dbk_grant_expect *e, unsigned char key[32])
{
    dbk_grant_hdr h;
    char *c = (char *)"sentinel";
    int rc = dbk_grant_open(g, len, e, &h, key, &c);
    if (rc == DBK_OK)
        free(c);
    else
        assert_null(c);
    return rc;
}

static void
test_round_trip(void **state)
{
    struct fx *f = *state;
    unsigned char *g, key[32];
    size_t len;
    dbk_grant_expect e = expect_of(f, 1764000000001ULL);
    dbk_grant_hdr parsed;

    assert_int_equal(dbk_grant_seal(&f->h, f->key, consent, strlen(consent), f->grantee->box_pk,
                                    f->owner->sign_sk, &g, &len),
                     DBK_OK);
    /* The server can read the header, not the key. */
    assert_int_equal(dbk_grant_parse(g, len, &parsed), DBK_OK);
    assert_true(dbk_id_equal(&parsed.grantee, &f->h.grantee));
    assert_int_equal(parsed.epoch, 2);
    assert_int_equal(open_rc(g, len, &e, key), DBK_OK);
    assert_memory_equal(key, f->key, 32);
    free(g);
}

static void
test_self_grant(void **state)
{
    struct fx *f = *state;
    unsigned char *g, key[32];
    size_t len;
    f->h.grantee = f->h.owner;
    dbk_grant_expect e = {&f->h.owner, f->owner->sign_pk, &f->h.owner, f->owner->box_pk,
                          f->owner->box_sk, 0};
    assert_int_equal(dbk_grant_seal(&f->h, f->key, consent, strlen(consent), f->owner->box_pk,
                                    f->owner->sign_sk, &g, &len),
                     DBK_OK);
    assert_int_equal(open_rc(g, len, &e, key), DBK_OK);
    assert_memory_equal(key, f->key, 32);
    free(g);
}

static void
test_consent_size_bounds(void **state)
{
    struct fx *f = *state;
    unsigned char *g;
    size_t len;
    char *big = malloc(DBK_GRANT_CONSENT_MAX + 2);
    memset(big, ' ', DBK_GRANT_CONSENT_MAX + 1);
    assert_int_equal(dbk_grant_seal(&f->h, f->key, "{", 1, f->grantee->box_pk, f->owner->sign_sk,
                                    &g, &len),
                     DBK_E_TOO_LARGE);
    assert_int_equal(dbk_grant_seal(&f->h, f->key, big, DBK_GRANT_CONSENT_MAX + 1,
                                    f->grantee->box_pk, f->owner->sign_sk, &g, &len),
                     DBK_E_TOO_LARGE);
    free(big);
}

static void
test_every_byte_is_bound(void **state)
{
    struct fx *f = *state;
    unsigned char *g, key[32];
    size_t len;
    dbk_grant_expect e = expect_of(f, 0);

    f->h.expires_at = 1893456000000ULL;
    assert_int_equal(dbk_grant_seal(&f->h, f->key, consent, strlen(consent), f->grantee->box_pk,
                                    f->owner->sign_sk, &g, &len),
                     DBK_OK);
    for (size_t i = 0; i < len; i++) {
        g[i] ^= 0x01;
        if (open_rc(g, len, &e, key) == DBK_OK)
            fail_msg("flipping byte %zu was accepted", i);
        g[i] ^= 0x01;
    }
    assert_int_equal(open_rc(g, len, &e, key), DBK_OK);
    /* Expiry is enforced against the reader's clock. */
    e.now_ms = f->h.expires_at;
    assert_int_equal(open_rc(g, len, &e, key), DBK_E_EXPIRED);
    free(g);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_self_grant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consent_size_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_byte_is_bound, setup, teardown),
    };
    if (dbk_init() != DBK_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
