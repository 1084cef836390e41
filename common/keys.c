/*
 * Passphrase KDF, account keys, key bundle and login signatures (CRYPTO.md §1–3).
 *
 * Every secret lives in sodium_malloc'd memory and every path out of a function
 * that held a secret on the stack wipes it first, error paths included.
 */
#include "dbk/keys.h"

#include "dbk/bytes.h"
#include "dbk/error.h"

#include <string.h>

static const char DOM_LOGIN_SEED[] = "daybook/v1/login-seed";
static const char DOM_BUNDLE_KEY[] = "daybook/v1/bundle-key";
static const char DOM_BUNDLE_AD[] = "daybook/v1/bundle-ad";
static const char DOM_LOGIN[] = "daybook/v1/login-challenge";

/*
 * Bundle layout (CRYPTO.md §2):
 *   0  4  magic "DBKB"        12  8  opslimit       44 24  nonce
 *   4  1  version = 1         20  8  memlimit       68 80  ciphertext (64 + tag)
 *   5  1  KDF algorithm = 2   28 16  salt
 *   6  2  reserved, zero
 *   8  4  generation
 */
enum {
    B_MAGIC = 0,
    B_VERSION = 4,
    B_ALG = 5,
    B_RESERVED = 6,
    B_GENERATION = 8,
    B_OPS = 12,
    B_MEM = 20,
    B_SALT = 28,
    B_NONCE = 44,
    B_CT = 68,
    B_SECRET_BYTES = 64,
};
_Static_assert(B_CT + B_SECRET_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES ==
                   DBK_BUNDLE_BYTES,
               "bundle layout");

int
dbk_kdf_check(uint64_t opslimit, uint64_t memlimit, int alg)
{
    if (alg != DBK_KDF_ALG || opslimit < DBK_KDF_OPS_MIN || opslimit > DBK_KDF_OPS_MAX ||
        memlimit < DBK_KDF_MEM_MIN || memlimit > DBK_KDF_MEM_MAX)
        return DBK_E_KDF_WEAK;
    return DBK_OK;
}

void
dbk_kdf_params_new(dbk_kdf_params *p)
{
    p->opslimit = DBK_KDF_OPS_DEFAULT;
    p->memlimit = DBK_KDF_MEM_DEFAULT;
    randombytes_buf(p->salt, sizeof p->salt);
}

/* out = BLAKE2b-256(message = domain || 0x00, key = key). */
static void
subkey(unsigned char out[32], const char *domain, const unsigned char key[32])
{
    crypto_generichash(out, 32, (const unsigned char *)domain, strlen(domain) + 1, key, 32);
}

int
dbk_pass_keys_derive(const char *passphrase, size_t len, const dbk_kdf_params *p,
                     dbk_pass_keys **out)
{
    dbk_pass_keys *k;
    int rc;

    *out = NULL;
    if ((rc = dbk_kdf_check(p->opslimit, p->memlimit, DBK_KDF_ALG)) != DBK_OK)
        return rc;
    k = sodium_malloc(sizeof *k);
    if (k == NULL)
        return DBK_E_NOMEM;
    if (crypto_pwhash(k->master, sizeof k->master, passphrase, len, p->salt, p->opslimit,
                      (size_t)p->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        dbk_pass_keys_free(k);
        return DBK_E_NOMEM; /* Argon2id fails only when it cannot allocate */
    }
    subkey(k->login_seed, DOM_LOGIN_SEED, k->master);
    subkey(k->bundle_key, DOM_BUNDLE_KEY, k->master);
    crypto_sign_seed_keypair(k->login_pk, k->login_sk, k->login_seed);
    *out = k;
    return DBK_OK;
}

void
dbk_pass_keys_free(dbk_pass_keys *k)
{
    sodium_free(k); /* wipes before unmapping; NULL is fine */
}

dbk_account_keys *
dbk_account_keys_from_secrets(const unsigned char sign_seed[32], const unsigned char box_sk[32])
{
    dbk_account_keys *k = sodium_malloc(sizeof *k);
    if (k == NULL)
        return NULL;
    memcpy(k->sign_seed, sign_seed, sizeof k->sign_seed);
    crypto_sign_seed_keypair(k->sign_pk, k->sign_sk, k->sign_seed);
    memcpy(k->box_sk, box_sk, sizeof k->box_sk);
    crypto_scalarmult_base(k->box_pk, k->box_sk);
    return k;
}

dbk_account_keys *
dbk_account_keys_from_pairs(const unsigned char sign_sk[64], const unsigned char box_sk[32],
                            const unsigned char box_pk[32])
{
    dbk_account_keys *k = sodium_malloc(sizeof *k);
    if (k == NULL)
        return NULL;
    memcpy(k->sign_sk, sign_sk, sizeof k->sign_sk);
    memcpy(k->sign_seed, sign_sk, sizeof k->sign_seed); /* libsodium's: seed || pk */
    memcpy(k->sign_pk, sign_sk + crypto_sign_SEEDBYTES, sizeof k->sign_pk);
    memcpy(k->box_sk, box_sk, sizeof k->box_sk);
    memcpy(k->box_pk, box_pk, sizeof k->box_pk);
    return k;
}

dbk_account_keys *
dbk_account_keys_new(void)
{
    unsigned char secrets[64];
    dbk_account_keys *k;

    randombytes_buf(secrets, sizeof secrets);
    k = dbk_account_keys_from_secrets(secrets, secrets + 32);
    sodium_memzero(secrets, sizeof secrets);
    return k;
}

void
dbk_account_keys_free(dbk_account_keys *k)
{
    sodium_free(k);
}

/* The bundle's associated data: domain || account id || header (44 bytes). */
static size_t
bundle_ad(unsigned char *ad, const dbk_id *account, const unsigned char *header)
{
    size_t n = sizeof DOM_BUNDLE_AD; /* includes the NUL */
    memcpy(ad, DOM_BUNDLE_AD, n);
    memcpy(ad + n, account->b, DBK_ID_BYTES);
    memcpy(ad + n + DBK_ID_BYTES, header, B_NONCE);
    return n + DBK_ID_BYTES + B_NONCE;
}

int
dbk_bundle_seal(unsigned char out[DBK_BUNDLE_BYTES], const dbk_id *account,
                const dbk_account_keys *keys, const dbk_pass_keys *pk, const dbk_kdf_params *p,
                uint32_t generation, const unsigned char *nonce)
{
    unsigned char ad[sizeof DOM_BUNDLE_AD + DBK_ID_BYTES + B_NONCE];
    unsigned char secrets[B_SECRET_BYTES];
    size_t adlen;
    int rc;

    if ((rc = dbk_kdf_check(p->opslimit, p->memlimit, DBK_KDF_ALG)) != DBK_OK)
        return rc;
    memcpy(out + B_MAGIC, "DBKB", 4);
    out[B_VERSION] = 1;
    out[B_ALG] = DBK_KDF_ALG;
    out[B_RESERVED] = out[B_RESERVED + 1] = 0;
    dbk_put_u32(out + B_GENERATION, generation);
    dbk_put_u64(out + B_OPS, p->opslimit);
    dbk_put_u64(out + B_MEM, p->memlimit);
    memcpy(out + B_SALT, p->salt, DBK_KDF_SALT_BYTES);
    if (nonce != NULL)
        memcpy(out + B_NONCE, nonce, 24);
    else
        randombytes_buf(out + B_NONCE, 24);

    memcpy(secrets, keys->sign_seed, 32);
    memcpy(secrets + 32, keys->box_sk, 32);
    adlen = bundle_ad(ad, account, out);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + B_CT, NULL, secrets, sizeof secrets, ad,
                                               adlen, NULL, out + B_NONCE, pk->bundle_key);
    sodium_memzero(secrets, sizeof secrets);
    return DBK_OK;
}

int
dbk_bundle_params(const unsigned char *b, size_t len, dbk_kdf_params *p, uint32_t *generation)
{
    /* A format version other than 1 is unsupported_version at every layer, as for
     * envelopes and grants (proto/README.md section 19). */
    if (len != DBK_BUNDLE_BYTES || memcmp(b + B_MAGIC, "DBKB", 4) != 0)
        return DBK_E_CORRUPT;
    if (b[B_VERSION] != 1)
        return DBK_E_VERSION;
    if (b[B_ALG] != DBK_KDF_ALG || b[B_RESERVED] != 0 || b[B_RESERVED + 1] != 0)
        return DBK_E_CORRUPT;
    p->opslimit = dbk_get_u64(b + B_OPS);
    p->memlimit = dbk_get_u64(b + B_MEM);
    memcpy(p->salt, b + B_SALT, DBK_KDF_SALT_BYTES);
    if (generation != NULL)
        *generation = dbk_get_u32(b + B_GENERATION);
    return dbk_kdf_check(p->opslimit, p->memlimit, b[B_ALG]);
}

int
dbk_bundle_open(const unsigned char *b, size_t len, const dbk_id *account, const char *passphrase,
                size_t plen, dbk_account_keys **keys, dbk_pass_keys **pass_out)
{
    unsigned char ad[sizeof DOM_BUNDLE_AD + DBK_ID_BYTES + B_NONCE];
    unsigned char secrets[B_SECRET_BYTES];
    dbk_kdf_params p;
    dbk_pass_keys *pk = NULL;
    size_t adlen;
    int rc;

    *keys = NULL;
    if (pass_out != NULL)
        *pass_out = NULL;
    if ((rc = dbk_bundle_params(b, len, &p, NULL)) != DBK_OK)
        return rc;
    if ((rc = dbk_pass_keys_derive(passphrase, plen, &p, &pk)) != DBK_OK)
        return rc;
    adlen = bundle_ad(ad, account, b);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(secrets, NULL, NULL, b + B_CT,
                                                   DBK_BUNDLE_BYTES - B_CT, ad, adlen,
                                                   b + B_NONCE, pk->bundle_key) != 0) {
        dbk_pass_keys_free(pk);
        return DBK_E_PASSPHRASE;
    }
    *keys = dbk_account_keys_from_secrets(secrets, secrets + 32);
    sodium_memzero(secrets, sizeof secrets);
    if (*keys == NULL) {
        dbk_pass_keys_free(pk);
        return DBK_E_NOMEM;
    }
    if (pass_out != NULL)
        *pass_out = pk;
    else
        dbk_pass_keys_free(pk);
    return DBK_OK;
}

void
dbk_login_input(unsigned char out[DBK_LOGIN_INPUT_BYTES], const dbk_id *server,
                const dbk_id *account, const unsigned char challenge[DBK_CHALLENGE_BYTES],
                const dbk_id *device)
{
    unsigned char *p = out;
    memcpy(p, DOM_LOGIN, sizeof DOM_LOGIN);
    p += sizeof DOM_LOGIN;
    memcpy(p, server->b, DBK_ID_BYTES);
    p += DBK_ID_BYTES;
    memcpy(p, account->b, DBK_ID_BYTES);
    p += DBK_ID_BYTES;
    memcpy(p, challenge, DBK_CHALLENGE_BYTES);
    p += DBK_CHALLENGE_BYTES;
    memcpy(p, device->b, DBK_ID_BYTES);
}
_Static_assert(sizeof DOM_LOGIN == 27, "login domain length is part of DBK_LOGIN_INPUT_BYTES");

void
dbk_login_sign(unsigned char sig[crypto_sign_BYTES], const dbk_pass_keys *pk, const dbk_id *server,
               const dbk_id *account, const unsigned char challenge[DBK_CHALLENGE_BYTES],
               const dbk_id *device)
{
    unsigned char in[DBK_LOGIN_INPUT_BYTES];
    dbk_login_input(in, server, account, challenge, device);
    crypto_sign_detached(sig, NULL, in, sizeof in, pk->login_sk);
}

int
dbk_login_verify(const unsigned char sig[crypto_sign_BYTES],
                 const unsigned char login_pk[crypto_sign_PUBLICKEYBYTES], const dbk_id *server,
                 const dbk_id *account, const unsigned char challenge[DBK_CHALLENGE_BYTES],
                 const dbk_id *device)
{
    unsigned char in[DBK_LOGIN_INPUT_BYTES];
    dbk_login_input(in, server, account, challenge, device);
    return crypto_sign_verify_detached(sig, in, sizeof in, login_pk) == 0 ? DBK_OK
                                                                          : DBK_E_BAD_SIGNATURE;
}
