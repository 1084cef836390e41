/*
 * Envelopes: round trips at the size edges, and tampering. One envelope has every
 * bit of every byte flipped in turn, and is moved to another stream, record,
 * revision, epoch and author; every variant must be refused and none may yield
 * plaintext.
 */
#define _GNU_SOURCE /* memmem */
#include "dbk/envelope.h"
#include "dbk/error.h"
#include "dbk/init.h"
#include "dbk/keys.h"
#include "dbk_test.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>


struct fixture {
    dbk_account_keys *author;
    dbk_envelope_hdr hdr;
    unsigned char key[32];
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->author = dbk_account_keys_new();
    dbk_id_random(&f->hdr.stream);
    dbk_id_random(&f->hdr.record);
    dbk_id_random(&f->hdr.rev.device);
    dbk_id_random(&f->hdr.author);
    f->hdr.rev.clock = 0x0192f3a4b5c60001ULL;
    f->hdr.epoch = 4;
    crypto_aead_xchacha20poly1305_ietf_keygen(f->key);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    dbk_account_keys_free(f->author);
    free(f);
    return 0;
}

static dbk_envelope_expect
expect_of(struct fixture *f)
{
    dbk_envelope_expect e = {&f->hdr.stream, &f->hdr.record, f->hdr.epoch, &f->hdr.author,
                             f->author->sign_pk};
    return e;
}

static int
open_rc(struct fixture *f, const unsigned char *env, size_t len, const dbk_envelope_expect *e)
{
    unsigned char *plain = (unsigned char *)"sentinel";
    size_t plen = 99;
    int rc = dbk_envelope_open(env, len, e, f->key, &plain, &plen);
    if (rc == DBK_OK)
        dbk_plaintext_free(plain, plen);
    else
        assert_null(plain); /* a failure never hands out plaintext */
    return rc;
}

static void
test_round_trip_sizes(void **state)
{
    struct fixture *f = *state;
    static const size_t sizes[] = {0, 1, 255, 256, 257, 4096, DBK_ENV_MAX_PLAINTEXT};
    dbk_envelope_expect e = expect_of(f);
    unsigned char *pt = malloc(DBK_ENV_MAX_PLAINTEXT + 1);

    randombytes_buf(pt, DBK_ENV_MAX_PLAINTEXT + 1);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *env, *plain;
        size_t len, plen;
        assert_int_equal(dbk_envelope_seal(&f->hdr, f->key, f->author->sign_sk, pt, sizes[i],
                                           NULL, &env, &len),
                         DBK_OK);
        /* Size leaks only to the 256-byte block. */
        assert_int_equal(len, DBK_ENV_OVERHEAD + 16 + (sizes[i] / 256 + 1) * 256);
        assert_int_equal(dbk_envelope_open(env, len, &e, f->key, &plain, &plen), DBK_OK);
        assert_int_equal(plen, sizes[i]);
        assert_memory_equal(plain, pt, plen);
        assert_int_equal(plain[plen], '\0');
        dbk_plaintext_free(plain, plen);
        free(env);
    }
    unsigned char *env = (unsigned char *)"x";
    size_t len = 1;
    assert_int_equal(dbk_envelope_seal(&f->hdr, f->key, f->author->sign_sk, pt,
                                       DBK_ENV_MAX_PLAINTEXT + 1, NULL, &env, &len),
                     DBK_E_TOO_LARGE);
    assert_null(env);
    free(pt);
}

static void
test_no_plaintext_in_envelope(void **state)
{
    struct fixture *f = *state;
    const char canary[] = "CANARY-craving-at-the-bar-7f3a";
    unsigned char *env;
    size_t len;

    assert_int_equal(dbk_envelope_seal(&f->hdr, f->key, f->author->sign_sk,
                                       (const unsigned char *)canary, sizeof canary - 1, NULL,
                                       &env, &len),
                     DBK_OK);
    assert_null(memmem(env, len, "CANARY", 6));
    free(env);
}

static void
test_every_bit_flip_is_rejected(void **state)
{
    struct fixture *f = *state;
    const char pt[] = "{\"type\":\"journal\",\"v\":1,\"text\":\"a hard day\"}";
    dbk_envelope_expect e = expect_of(f);
    unsigned char *env;
    size_t len, tried = 0, accepted = 0;

    assert_int_equal(dbk_envelope_seal(&f->hdr, f->key, f->author->sign_sk,
                                       (const unsigned char *)pt, sizeof pt - 1, NULL, &env, &len),
                     DBK_OK);
    assert_int_equal(open_rc(f, env, len, &e), DBK_OK);
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            env[i] ^= (unsigned char)(1u << bit);
            int rc = open_rc(f, env, len, &e);
            if (rc == DBK_OK) {
                print_error("flipping bit %d of byte %zu was accepted\n", bit, i);
                accepted++;
            }
            env[i] ^= (unsigned char)(1u << bit);
            tried++;
        }
    }
    assert_int_equal(tried, len * 8);
    dbk_report("tampered envelopes", "every bit of a sealed journal envelope flipped in turn",
               "%zu variants tried, accepted: %zu", tried, accepted);
    assert_int_equal(accepted, 0);
    /* Truncation and extension at every length near the end. */
    for (size_t cut = 1; cut <= 80; cut++)
        assert_int_not_equal(open_rc(f, env, len - cut, &e), DBK_OK);
    assert_int_equal(open_rc(f, env, len, &e), DBK_OK);
    free(env);
}

static void
test_moved_envelopes_are_rejected(void **state)
{
    struct fixture *f = *state;
    const char pt[] = "{\"type\":\"craving\",\"v\":1}";
    dbk_envelope_expect e = expect_of(f);
    unsigned char *env;
    size_t len;
    dbk_id other;
    dbk_account_keys *mallory = dbk_account_keys_new();

    dbk_id_random(&other);
    assert_int_equal(dbk_envelope_seal(&f->hdr, f->key, f->author->sign_sk,
                                       (const unsigned char *)pt, sizeof pt - 1, NULL, &env, &len),
                     DBK_OK);

    /* The reader asks for another place: the envelope is intact but not what was asked. */
    dbk_envelope_expect moved = e;
    moved.stream = &other;
    assert_int_equal(open_rc(f, env, len, &moved), DBK_E_BAD_ENVELOPE);
    moved = e;
    moved.record = &other;
    assert_int_equal(open_rc(f, env, len, &moved), DBK_E_BAD_ENVELOPE);
    moved = e;
    moved.epoch = e.epoch + 1;
    assert_int_equal(open_rc(f, env, len, &moved), DBK_E_BAD_ENVELOPE);
    moved = e;
    moved.author = &other;
    assert_int_equal(open_rc(f, env, len, &moved), DBK_E_BAD_SIGNATURE);
    moved.author_pk = mallory->sign_pk;
    assert_int_equal(open_rc(f, env, len, &moved), DBK_E_BAD_SIGNATURE);

    /* The server rewrites the header so it looks like it belongs elsewhere. */
    static const struct {
        size_t off, n;
    } fields[] = {{4, 16}, {20, 16}, {36, 8}, {44, 16}, {60, 4}, {64, 16}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        unsigned char *copy = malloc(len);
        memcpy(copy, env, len);
        for (size_t k = 0; k < fields[i].n; k++)
            copy[fields[i].off + k] ^= 0x5a;
        dbk_envelope_hdr h;
        assert_int_equal(dbk_envelope_parse(copy, len, &h), DBK_OK); /* still well-formed */
        dbk_envelope_expect want = {&h.stream, &h.record, h.epoch, &h.author, f->author->sign_pk};
        assert_int_equal(open_rc(f, copy, len, &want), DBK_E_BAD_SIGNATURE);
        free(copy);
    }

    /* Mallory re-signs a rewritten envelope with her own key as herself: the AEAD
     * binding still refuses it because the ciphertext was made for the old header. */
    {
        unsigned char *copy = malloc(len), *in = malloc(DBK_ENV_SIG_DOMAIN_BYTES + len);
        dbk_id mallory_id;
        dbk_id_random(&mallory_id);
        memcpy(copy, env, len);
        memcpy(copy + 64, mallory_id.b, 16);
        size_t n = dbk_envelope_signing_input(copy, len, in);
        crypto_sign_detached(copy + len - 64, NULL, in, n, mallory->sign_sk);
        dbk_envelope_expect want = e;
        want.author = &mallory_id;
        want.author_pk = mallory->sign_pk;
        assert_int_equal(open_rc(f, copy, len, &want), DBK_E_DECRYPT);
        free(in);
        free(copy);
    }
    free(env);
    dbk_account_keys_free(mallory);
}

static void
test_revision_order(void **state)
{
    dbk_revision a = {.clock = 10}, b = {.clock = 11};
    (void)state;
    memset(a.device.b, 0xff, 16);
    memset(b.device.b, 0x00, 16);
    assert_true(dbk_revision_cmp(&a, &b) < 0); /* the clock decides first */
    b.clock = 10;
    assert_true(dbk_revision_cmp(&a, &b) > 0); /* then the device id */
    assert_int_equal(dbk_revision_cmp(&a, &a), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_plaintext_in_envelope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_bit_flip_is_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_moved_envelopes_are_rejected, setup, teardown),
        cmocka_unit_test(test_revision_order),
    };
    if (dbk_init() != DBK_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
