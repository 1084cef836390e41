/*
 * proto/vectors/ replayed against common/: every positive case reproduced byte for
 * byte, every negative case rejected with exactly its error code. The same files
 * are checked by the JavaScript implementation in tests/interop.
 */
#include "vec.h"

#include "dbk/envelope.h"
#include "dbk/error.h"
#include "dbk/fingerprint.h"
#include "dbk/grant.h"
#include "dbk/hlc.h"
#include "dbk/init.h"
#include "dbk/keys.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char *dir;

static json_t *
cases(json_t *file, const char *key)
{
    json_t *a = json_object_get(file, key);
    assert_true(json_is_array(a));
    return a;
}

/* Fails unless bin equals the hex field key of c. */
static void
assert_field(json_t *c, const char *key, const unsigned char *bin, size_t len)
{
    size_t n;
    unsigned char *want = dbk_vec_bytes(c, key, &n);
    if (n != len || memcmp(want, bin, len) != 0)
        fail_msg("case '%s': %s differs", dbk_vec_str(c, "name"), key);
    free(want);
}

static void
assert_error(json_t *c, int got)
{
    const char *want = dbk_vec_str(c, "error");
    if (strcmp(dbk_err_code(got), want) != 0)
        fail_msg("case '%s': want %s, got %s", dbk_vec_str(c, "name"), want, dbk_err_code(got));
}

static void
test_kdf(void **state)
{
    json_t *f = dbk_vec_load(dir, "kdf.json"), *c;
    size_t i;
    (void)state;

    json_array_foreach(cases(f, "positive"), i, c) {
        dbk_kdf_params p = {.opslimit = dbk_vec_u64(c, "opslimit"),
                            .memlimit = dbk_vec_u64(c, "memlimit")};
        dbk_pass_keys *k;
        const char *pass = dbk_vec_str(c, "passphrase");
        dbk_vec_fixed(c, "salt", p.salt, sizeof p.salt);
        assert_int_equal(dbk_pass_keys_derive(pass, strlen(pass), &p, &k), DBK_OK);
        assert_field(c, "master", k->master, 32);
        assert_field(c, "login_seed", k->login_seed, 32);
        assert_field(c, "login_pk", k->login_pk, 32);
        assert_field(c, "bundle_key", k->bundle_key, 32);
        dbk_pass_keys_free(k);
    }
    json_array_foreach(cases(f, "negative"), i, c) {
        int alg = (int)dbk_vec_u64(c, "alg");
        assert_error(c, dbk_kdf_check(dbk_vec_u64(c, "opslimit"), dbk_vec_u64(c, "memlimit"), alg));
        if (alg == DBK_KDF_ALG) {
            /* Deriving refuses the same parameters before any work. */
            dbk_kdf_params p = {.opslimit = dbk_vec_u64(c, "opslimit"),
                                .memlimit = dbk_vec_u64(c, "memlimit")};
            dbk_pass_keys *k;
            assert_error(c, dbk_pass_keys_derive("x", 1, &p, &k));
            assert_null(k);
        }
    }
    json_decref(f);
}

static void
test_bundle(void **state)
{
    json_t *f = dbk_vec_load(dir, "bundle.json"), *c;
    size_t i;
    (void)state;

    json_array_foreach(cases(f, "positive"), i, c) {
        dbk_kdf_params p = {.opslimit = dbk_vec_u64(c, "opslimit"),
                            .memlimit = dbk_vec_u64(c, "memlimit")};
        unsigned char seed[32], box_sk[32], nonce[24], out[DBK_BUNDLE_BYTES];
        const char *pass = dbk_vec_str(c, "passphrase");
        dbk_id account;
        dbk_pass_keys *pk;
        dbk_account_keys *keys, *opened;
        uint32_t gen = 0;

        dbk_vec_fixed(c, "salt", p.salt, sizeof p.salt);
        dbk_vec_fixed(c, "ed25519_seed", seed, 32);
        dbk_vec_fixed(c, "x25519_sk", box_sk, 32);
        dbk_vec_fixed(c, "nonce", nonce, 24);
        dbk_vec_id(c, "account_id", &account);
        keys = dbk_account_keys_from_secrets(seed, box_sk);
        assert_field(c, "ed25519_pk", keys->sign_pk, 32);
        assert_field(c, "x25519_pk", keys->box_pk, 32);
        assert_int_equal(dbk_pass_keys_derive(pass, strlen(pass), &p, &pk), DBK_OK);
        assert_int_equal(dbk_bundle_seal(out, &account, keys, pk, &p,
                                         (uint32_t)dbk_vec_u64(c, "generation"), nonce),
                         DBK_OK);
        assert_field(c, "bundle", out, sizeof out);
        assert_int_equal(dbk_bundle_params(out, sizeof out, &p, &gen), DBK_OK);
        assert_int_equal(gen, dbk_vec_u64(c, "generation"));
        assert_int_equal(dbk_bundle_open(out, sizeof out, &account, pass, strlen(pass), &opened,
                                         NULL),
                         DBK_OK);
        assert_memory_equal(opened->sign_seed, seed, 32);
        assert_memory_equal(opened->box_sk, box_sk, 32);
        dbk_account_keys_free(opened);
        dbk_account_keys_free(keys);
        dbk_pass_keys_free(pk);
    }
    json_array_foreach(cases(f, "negative"), i, c) {
        size_t len;
        unsigned char *b = dbk_vec_bytes(c, "bundle", &len);
        const char *pass = dbk_vec_str(c, "passphrase");
        dbk_id account;
        dbk_account_keys *keys;
        dbk_vec_id(c, "account_id", &account);
        assert_error(c, dbk_bundle_open(b, len, &account, pass, strlen(pass), &keys, NULL));
        assert_null(keys);
        free(b);
    }
    json_decref(f);
}

static void
test_login(void **state)
{
    json_t *f = dbk_vec_load(dir, "login.json"), *c;
    size_t i;
    (void)state;

    json_array_foreach(cases(f, "positive"), i, c) {
        unsigned char seed[32], pk[32], sk[64], ch[32], in[DBK_LOGIN_INPUT_BYTES], sig[64];
        dbk_id server, account, device;
        dbk_vec_fixed(c, "login_seed", seed, 32);
        dbk_vec_fixed(c, "challenge", ch, 32);
        dbk_vec_id(c, "server_id", &server);
        dbk_vec_id(c, "account_id", &account);
        dbk_vec_id(c, "device_id", &device);
        crypto_sign_seed_keypair(pk, sk, seed);
        assert_field(c, "login_pk", pk, 32);
        dbk_login_input(in, &server, &account, ch, &device);
        assert_field(c, "signing_input", in, sizeof in);
        crypto_sign_detached(sig, NULL, in, sizeof in, sk);
        assert_field(c, "signature", sig, 64);
        assert_int_equal(dbk_login_verify(sig, pk, &server, &account, ch, &device), DBK_OK);
    }
    json_array_foreach(cases(f, "negative"), i, c) {
        unsigned char pk[32], ch[32], sig[64];
        dbk_id server, account, device;
        dbk_vec_fixed(c, "login_pk", pk, 32);
        dbk_vec_fixed(c, "challenge", ch, 32);
        dbk_vec_fixed(c, "signature", sig, 64);
        dbk_vec_id(c, "server_id", &server);
        dbk_vec_id(c, "account_id", &account);
        dbk_vec_id(c, "device_id", &device);
        assert_error(c, dbk_login_verify(sig, pk, &server, &account, ch, &device));
    }
    json_decref(f);
}

static void
test_padding(void **state)
{
    json_t *f = dbk_vec_load(dir, "padding.json"), *c;
    size_t i;
    (void)state;

    json_array_foreach(cases(f, "positive"), i, c) {
        size_t len, padded, back;
        unsigned char *pt = dbk_vec_bytes(c, "plaintext", &len), buf[2048];
        assert_int_equal(dbk_vec_u64(c, "block"), DBK_PAD_BLOCK);
        memcpy(buf, pt, len);
        assert_int_equal(dbk_pad(buf, len, sizeof buf, &padded), DBK_OK);
        assert_field(c, "padded", buf, padded);
        assert_int_equal(dbk_unpad(buf, padded, &back), DBK_OK);
        assert_int_equal(back, len);
        free(pt);
    }
    json_array_foreach(cases(f, "negative"), i, c) {
        size_t len, back;
        unsigned char *b = dbk_vec_bytes(c, "padded", &len);
        assert_error(c, dbk_unpad(b, len, &back));
        free(b);
    }
    json_decref(f);
}

static void
test_envelope(void **state)
{
    json_t *f = dbk_vec_load(dir, "envelope.json"), *c;
    size_t i;
    (void)state;

    json_array_foreach(cases(f, "positive"), i, c) {
        unsigned char seed[32], key[32], nonce[24], ad[DBK_ENV_AD_BYTES], *env, *plain, *sig_in;
        size_t len, plen, sig_len;
        const char *pt = dbk_vec_str(c, "plaintext");
        dbk_envelope_hdr h, parsed;
        dbk_account_keys *author;

        dbk_vec_fixed(c, "author_seed", seed, 32);
        dbk_vec_fixed(c, "stream_key", key, 32);
        dbk_vec_fixed(c, "nonce", nonce, 24);
        dbk_vec_id(c, "author_id", &h.author);
        dbk_vec_id(c, "stream_id", &h.stream);
        dbk_vec_id(c, "record_id", &h.record);
        dbk_vec_id(c, "device_id", &h.rev.device);
        h.rev.clock = dbk_vec_u64(c, "clock");
        h.epoch = (uint32_t)dbk_vec_u64(c, "epoch");
        author = dbk_account_keys_from_secrets(seed, seed);
        assert_field(c, "author_pk", author->sign_pk, 32);

        assert_int_equal(dbk_envelope_seal(&h, key, author->sign_sk, (const unsigned char *)pt,
                                           strlen(pt), nonce, &env, &len),
                         DBK_OK);
        assert_field(c, "envelope", env, len);
        dbk_envelope_ad(env, ad);
        assert_field(c, "associated_data", ad, sizeof ad);
        sig_in = malloc(DBK_ENV_SIG_DOMAIN_BYTES + len);
        sig_len = dbk_envelope_signing_input(env, len, sig_in);
        assert_field(c, "signing_input", sig_in, sig_len);
        free(sig_in);

        assert_int_equal(dbk_envelope_parse(env, len, &parsed), DBK_OK);
        assert_int_equal(dbk_revision_cmp(&parsed.rev, &h.rev), 0);
        dbk_envelope_expect exp = {&h.stream, &h.record, h.epoch, &h.author, author->sign_pk};
        assert_int_equal(dbk_envelope_open(env, len, &exp, key, &plain, &plen), DBK_OK);
        assert_int_equal(plen, strlen(pt));
        assert_memory_equal(plain, pt, plen);
        dbk_plaintext_free(plain, plen);
        free(env);
        dbk_account_keys_free(author);
    }
    json_array_foreach(cases(f, "negative"), i, c) {
        unsigned char pk[32], key[32], *env, *plain;
        size_t len, plen;
        dbk_id stream, record, author;
        env = dbk_vec_bytes(c, "envelope", &len);
        dbk_vec_fixed(c, "author_pk", pk, 32);
        dbk_vec_fixed(c, "stream_key", key, 32);
        dbk_vec_id(c, "stream_id", &stream);
        dbk_vec_id(c, "record_id", &record);
        dbk_vec_id(c, "author_id", &author);
        dbk_envelope_expect exp = {&stream, &record, (uint32_t)dbk_vec_u64(c, "epoch"), &author,
                                   pk};
        assert_error(c, dbk_envelope_open(env, len, &exp, key, &plain, &plen));
        assert_null(plain);
        free(env);
    }
    json_decref(f);
}

static void
test_grant(void **state)
{
    json_t *f = dbk_vec_load(dir, "grant.json"), *c;
    size_t i;
    (void)state;

    json_array_foreach(cases(f, "positive"), i, c) {
        unsigned char seed[32], bpk[32], bsk[32], key[32], got_key[32], *g, *fresh, *sig_in;
        size_t len, flen, sig_len;
        dbk_id owner, grantee;
        dbk_grant_hdr h, opened;
        char *consent;
        const char *want_consent = dbk_vec_str(c, "consent");
        dbk_account_keys *ok;

        dbk_vec_fixed(c, "owner_seed", seed, 32);
        dbk_vec_fixed(c, "grantee_x25519_pk", bpk, 32);
        dbk_vec_fixed(c, "grantee_x25519_sk", bsk, 32);
        dbk_vec_fixed(c, "stream_key", key, 32);
        dbk_vec_id(c, "owner_id", &owner);
        dbk_vec_id(c, "grantee_id", &grantee);
        ok = dbk_account_keys_from_secrets(seed, seed);
        assert_field(c, "owner_pk", ok->sign_pk, 32);
        dbk_grant_expect exp = {&owner, ok->sign_pk, &grantee, bpk, bsk, dbk_vec_u64(c, "now")};

        g = dbk_vec_bytes(c, "grant", &len);
        sig_in = malloc(DBK_GRANT_SIG_DOMAIN_BYTES + len);
        sig_len = dbk_grant_signing_input(g, len, sig_in);
        assert_field(c, "signing_input", sig_in, sig_len);
        free(sig_in);
        assert_int_equal(dbk_grant_open(g, len, &exp, &opened, got_key, &consent), DBK_OK);
        assert_memory_equal(got_key, key, 32);
        assert_string_equal(consent, want_consent);
        assert_int_equal(opened.epoch, dbk_vec_u64(c, "epoch"));
        assert_int_equal(opened.created_at, dbk_vec_u64(c, "created_at"));
        assert_int_equal(opened.expires_at, dbk_vec_u64(c, "expires_at"));
        free(consent);

        /* A fresh seal of the same inputs: same header, and it opens the same way. */
        h = opened;
        assert_int_equal(dbk_grant_seal(&h, key, want_consent, strlen(want_consent), bpk,
                                        ok->sign_sk, &fresh, &flen),
                         DBK_OK);
        assert_int_equal(flen, len);
        assert_memory_equal(fresh, g, DBK_GRANT_HEADER_BYTES);
        assert_int_equal(dbk_grant_open(fresh, flen, &exp, &opened, got_key, &consent), DBK_OK);
        assert_memory_equal(got_key, key, 32);
        free(consent);
        free(fresh);
        free(g);
        dbk_account_keys_free(ok);
    }
    json_array_foreach(cases(f, "negative"), i, c) {
        unsigned char opk[32], bpk[32], bsk[32], key[32], *g;
        size_t len;
        dbk_id owner, grantee;
        dbk_grant_hdr h;
        char *consent;
        g = dbk_vec_bytes(c, "grant", &len);
        dbk_vec_fixed(c, "owner_pk", opk, 32);
        dbk_vec_fixed(c, "grantee_x25519_pk", bpk, 32);
        dbk_vec_fixed(c, "grantee_x25519_sk", bsk, 32);
        dbk_vec_id(c, "owner_id", &owner);
        dbk_vec_id(c, "grantee_id", &grantee);
        dbk_grant_expect exp = {&owner, opk, &grantee, bpk, bsk, dbk_vec_u64(c, "now")};
        assert_error(c, dbk_grant_open(g, len, &exp, &h, key, &consent));
        assert_null(consent);
        free(g);
    }
    json_decref(f);
}

static void
test_fingerprint(void **state)
{
    json_t *f = dbk_vec_load(dir, "fingerprint.json"), *c, *pairs;
    char digits[8][DBK_SAFETY_DIGITS + 1];
    size_t i;
    (void)state;

    json_array_foreach(cases(f, "positive"), i, c) {
        unsigned char spk[32], bpk[32], fp[DBK_FP_BYTES];
        char shrt[DBK_FP_SHORT_LEN + 1];
        dbk_id id;
        assert_true(i < 8);
        dbk_vec_id(c, "account_id", &id);
        dbk_vec_fixed(c, "ed25519_pk", spk, 32);
        dbk_vec_fixed(c, "x25519_pk", bpk, 32);
        dbk_fingerprint(fp, &id, spk, bpk);
        assert_field(c, "fingerprint", fp, sizeof fp);
        dbk_fingerprint_short(shrt, &id, spk, bpk);
        assert_string_equal(shrt, dbk_vec_str(c, "short"));
        assert_int_equal(dbk_fingerprint_check(shrt, strlen(shrt), &id, spk, bpk), DBK_OK);
        dbk_safety_digits(digits[i], &id, spk, bpk);
        assert_string_equal(digits[i], dbk_vec_str(c, "digits"));
    }
    pairs = json_object_get(f, "pairs");
    json_array_foreach(pairs, i, c) {
        char sn[DBK_SAFETY_NUMBER_LEN + 1], sn2[DBK_SAFETY_NUMBER_LEN + 1];
        size_t a = (size_t)dbk_vec_u64(c, "a"), b = (size_t)dbk_vec_u64(c, "b");
        dbk_safety_number(sn, digits[a], digits[b]);
        dbk_safety_number(sn2, digits[b], digits[a]);
        assert_string_equal(sn, dbk_vec_str(c, "safety_number"));
        assert_string_equal(sn2, sn); /* both people see the same number */
    }
    json_array_foreach(cases(f, "negative"), i, c) {
        unsigned char spk[32], bpk[32];
        dbk_id id;
        const char *s = dbk_vec_str(c, "short");
        dbk_vec_id(c, "account_id", &id);
        dbk_vec_fixed(c, "ed25519_pk", spk, 32);
        dbk_vec_fixed(c, "x25519_pk", bpk, 32);
        assert_error(c, dbk_fingerprint_check(s, strlen(s), &id, spk, bpk));
    }
    json_decref(f);
}

static void
test_hlc(void **state)
{
    json_t *f = dbk_vec_load(dir, "hlc.json"), *c, *step;
    size_t i, j;
    (void)state;

    json_array_foreach(cases(f, "positive"), i, c) {
        dbk_hlc h = {dbk_vec_u64(c, "start")};
        json_array_foreach(json_object_get(c, "steps"), j, step) {
            uint64_t wall = dbk_vec_u64(step, "wall_ms");
            if (strcmp(dbk_vec_str(step, "op"), "local") == 0) {
                assert_int_equal(dbk_hlc_local(&h, wall), dbk_vec_u64(step, "expect"));
            } else {
                assert_int_equal(dbk_hlc_recv(&h, wall, dbk_vec_u64(step, "remote")), DBK_OK);
                assert_int_equal(h.last, dbk_vec_u64(step, "expect"));
            }
        }
    }
    json_array_foreach(json_object_get(f, "compare"), i, c) {
        json_t *ja = json_object_get(c, "a"), *jb = json_object_get(c, "b");
        dbk_revision a = {.clock = dbk_vec_u64(ja, "clock")}, b = {.clock = dbk_vec_u64(jb, "clock")};
        const char *w = dbk_vec_str(c, "winner");
        dbk_vec_id(ja, "device_id", &a.device);
        dbk_vec_id(jb, "device_id", &b.device);
        int r = dbk_revision_cmp(&a, &b);
        assert_true(strcmp(w, "a") == 0 ? r > 0 : strcmp(w, "b") == 0 ? r < 0 : r == 0);
    }
    json_array_foreach(cases(f, "negative"), i, c) {
        dbk_hlc h = {dbk_vec_u64(c, "start")};
        uint64_t before = h.last;
        assert_error(c, dbk_hlc_recv(&h, dbk_vec_u64(c, "wall_ms"), dbk_vec_u64(c, "remote")));
        assert_int_equal(h.last, before);
    }
    json_decref(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kdf),      cmocka_unit_test(test_bundle),
        cmocka_unit_test(test_login),    cmocka_unit_test(test_padding),
        cmocka_unit_test(test_envelope), cmocka_unit_test(test_grant),
        cmocka_unit_test(test_fingerprint), cmocka_unit_test(test_hlc),
    };
    dir = getenv("DAYBOOK_VECTORS");
    if (dir == NULL || dbk_init() != DBK_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
