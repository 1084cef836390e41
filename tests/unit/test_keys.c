/* Passphrase keys, bundles and login signatures beyond the fixed vectors. */
#include "dbk/error.h"
#include "dbk/init.h"
#include "dbk/keys.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void
test_kdf_bounds_edges(void **state)
{
    (void)state;
    assert_int_equal(dbk_kdf_check(DBK_KDF_OPS_MIN, DBK_KDF_MEM_MIN, DBK_KDF_ALG), DBK_OK);
    assert_int_equal(dbk_kdf_check(DBK_KDF_OPS_MAX, DBK_KDF_MEM_MAX, DBK_KDF_ALG), DBK_OK);
    assert_int_equal(dbk_kdf_check(DBK_KDF_OPS_MIN - 1, DBK_KDF_MEM_MIN, DBK_KDF_ALG),
                     DBK_E_KDF_WEAK);
    assert_int_equal(dbk_kdf_check(DBK_KDF_OPS_MIN, DBK_KDF_MEM_MIN - 1, DBK_KDF_ALG),
                     DBK_E_KDF_WEAK);
    assert_int_equal(dbk_kdf_check(DBK_KDF_OPS_MAX + 1, DBK_KDF_MEM_MIN, DBK_KDF_ALG),
                     DBK_E_KDF_WEAK);
    assert_int_equal(dbk_kdf_check(DBK_KDF_OPS_MIN, DBK_KDF_MEM_MAX + 1, DBK_KDF_ALG),
                     DBK_E_KDF_WEAK);
    dbk_kdf_params p;
    dbk_kdf_params_new(&p);
    assert_int_equal(dbk_kdf_check(p.opslimit, p.memlimit, DBK_KDF_ALG), DBK_OK);
}

static void
test_bundle_round_trip_and_passphrase_change(void **state)
{
    const char *old_pass = "first passphrase", *new_pass = "a second, longer passphrase";
    dbk_account_keys *keys = dbk_account_keys_new(), *opened;
    dbk_pass_keys *pk, *got;
    dbk_kdf_params p, q;
    dbk_id account;
    unsigned char b1[DBK_BUNDLE_BYTES], b2[DBK_BUNDLE_BYTES];
    uint32_t gen;
    (void)state;

    dbk_id_random(&account);
    dbk_kdf_params_new(&p);
    p.opslimit = DBK_KDF_OPS_MIN; /* keep the test quick */
    assert_int_equal(dbk_pass_keys_derive(old_pass, strlen(old_pass), &p, &pk), DBK_OK);
    assert_int_equal(dbk_bundle_seal(b1, &account, keys, pk, &p, 1, NULL), DBK_OK);
    dbk_pass_keys_free(pk);

    assert_int_equal(dbk_bundle_open(b1, sizeof b1, &account, old_pass, strlen(old_pass),
                                     &opened, &got),
                     DBK_OK);
    assert_memory_equal(opened->sign_pk, keys->sign_pk, 32);
    assert_memory_equal(opened->box_pk, keys->box_pk, 32);
    assert_non_null(got); /* handed over for login */
    dbk_account_keys_free(opened);
    dbk_pass_keys_free(got);

    /* Change the passphrase: new salt, generation 2, same account keys. */
    dbk_kdf_params_new(&q);
    q.opslimit = DBK_KDF_OPS_MIN;
    assert_int_equal(dbk_pass_keys_derive(new_pass, strlen(new_pass), &q, &pk), DBK_OK);
    assert_int_equal(dbk_bundle_seal(b2, &account, keys, pk, &q, 2, NULL), DBK_OK);
    dbk_pass_keys_free(pk);
    assert_int_equal(dbk_bundle_params(b2, sizeof b2, &q, &gen), DBK_OK);
    assert_int_equal(gen, 2);
    /* The old passphrase on the new bundle is "wrong passphrase", never "corrupt". */
    assert_int_equal(dbk_bundle_open(b2, sizeof b2, &account, old_pass, strlen(old_pass), &opened,
                                     NULL),
                     DBK_E_PASSPHRASE);
    assert_null(opened);
    assert_int_equal(dbk_bundle_open(b2, sizeof b2, &account, new_pass, strlen(new_pass), &opened,
                                     NULL),
                     DBK_OK);
    assert_memory_equal(opened->sign_pk, keys->sign_pk, 32);
    dbk_account_keys_free(opened);
    dbk_account_keys_free(keys);
}

static void
test_login_sign_verify(void **state)
{
    const char *pass = "login passphrase";
    dbk_kdf_params p;
    dbk_pass_keys *pk;
    dbk_id server, account, device;
    unsigned char ch[DBK_CHALLENGE_BYTES], sig[crypto_sign_BYTES];
    (void)state;

    dbk_kdf_params_new(&p);
    p.opslimit = DBK_KDF_OPS_MIN;
    dbk_id_random(&server);
    dbk_id_random(&account);
    dbk_id_random(&device);
    randombytes_buf(ch, sizeof ch);
    assert_int_equal(dbk_pass_keys_derive(pass, strlen(pass), &p, &pk), DBK_OK);
    dbk_login_sign(sig, pk, &server, &account, ch, &device);
    assert_int_equal(dbk_login_verify(sig, pk->login_pk, &server, &account, ch, &device), DBK_OK);
    ch[0] ^= 1;
    assert_int_equal(dbk_login_verify(sig, pk->login_pk, &server, &account, ch, &device),
                     DBK_E_BAD_SIGNATURE);
    dbk_pass_keys_free(pk);
}

static void
test_same_passphrase_other_salt_gives_other_keys(void **state)
{
    dbk_kdf_params p, q;
    dbk_pass_keys *a, *b;
    (void)state;
    dbk_kdf_params_new(&p);
    p.opslimit = DBK_KDF_OPS_MIN;
    q = p;
    q.salt[0] ^= 1;
    assert_int_equal(dbk_pass_keys_derive("same", 4, &p, &a), DBK_OK);
    assert_int_equal(dbk_pass_keys_derive("same", 4, &q, &b), DBK_OK);
    assert_memory_not_equal(a->login_pk, b->login_pk, 32);
    assert_memory_not_equal(a->bundle_key, b->bundle_key, 32);
    /* The login key and bundle key are independent of each other. */
    assert_memory_not_equal(a->login_seed, a->bundle_key, 32);
    dbk_pass_keys_free(a);
    dbk_pass_keys_free(b);
    dbk_pass_keys_free(NULL);
    dbk_account_keys_free(NULL);
}

/* The keys as the keyring cache keeps them (both key pairs, nothing derived) are the
 * keys derived from their secrets. */
static void
test_keys_from_pairs_match_derived(void **state)
{
    dbk_account_keys *k = dbk_account_keys_new(), *derived, *kept;
    (void)state;
    assert_non_null(k);
    derived = dbk_account_keys_from_secrets(k->sign_seed, k->box_sk);
    kept = dbk_account_keys_from_pairs(k->sign_sk, k->box_sk, k->box_pk);
    assert_non_null(derived);
    assert_non_null(kept);
    assert_memory_equal(kept, derived, sizeof *kept);
    assert_memory_equal(kept, k, sizeof *kept);
    dbk_account_keys_free(k);
    dbk_account_keys_free(derived);
    dbk_account_keys_free(kept);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kdf_bounds_edges),
        cmocka_unit_test(test_bundle_round_trip_and_passphrase_change),
        cmocka_unit_test(test_login_sign_verify),
        cmocka_unit_test(test_same_passphrase_other_salt_gives_other_keys),
        cmocka_unit_test(test_keys_from_pairs_match_derived),
    };
    if (dbk_init() != DBK_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
