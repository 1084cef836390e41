/*
 * Account keys, the passphrase KDF, the key bundle and the login challenge:
 * proto/CRYPTO.md §1–3.
 *
 * Secret material lives in sodium_malloc'd memory (guard pages, locked where the
 * system allows, wiped on free). Objects with secrets are created by a _new
 * function and released only with the matching _free, which wipes them.
 */
#ifndef DBK_KEYS_H
#define DBK_KEYS_H

#include "dbk/id.h"

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

/* KDF bounds (CRYPTO.md §1): values outside them are refused with DBK_E_KDF_WEAK. */
#define DBK_KDF_ALG 2 /* crypto_pwhash_ALG_ARGON2ID13 */
#define DBK_KDF_OPS_MIN 2ULL
#define DBK_KDF_OPS_MAX 10ULL
#define DBK_KDF_MEM_MIN (64ULL * 1024 * 1024)
#define DBK_KDF_MEM_MAX (1024ULL * 1024 * 1024)
#define DBK_KDF_OPS_DEFAULT 3ULL
#define DBK_KDF_MEM_DEFAULT (64ULL * 1024 * 1024)
#define DBK_KDF_SALT_BYTES 16

#define DBK_BUNDLE_BYTES 148
#define DBK_CHALLENGE_BYTES 32
#define DBK_LOGIN_INPUT_BYTES (27 + 16 + 16 + 32 + 16)

typedef struct dbk_kdf_params {
    uint64_t opslimit;
    uint64_t memlimit;
    unsigned char salt[DBK_KDF_SALT_BYTES];
} dbk_kdf_params;

/* What the passphrase yields. All secret: sodium_malloc'd by dbk_pass_keys_derive. */
typedef struct dbk_pass_keys {
    unsigned char master[32];
    unsigned char login_seed[32];
    unsigned char login_sk[crypto_sign_SECRETKEYBYTES];
    unsigned char login_pk[crypto_sign_PUBLICKEYBYTES]; /* public: the server stores it */
    unsigned char bundle_key[32];
} dbk_pass_keys;

/* An account's key pairs. Secret halves: sodium_malloc'd by the _new functions. */
typedef struct dbk_account_keys {
    unsigned char sign_seed[crypto_sign_SEEDBYTES];
    unsigned char sign_sk[crypto_sign_SECRETKEYBYTES];
    unsigned char sign_pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char box_sk[crypto_box_SECRETKEYBYTES];
    unsigned char box_pk[crypto_box_PUBLICKEYBYTES];
} dbk_account_keys;

/* DBK_OK if ops, mem and alg are within the bounds, else DBK_E_KDF_WEAK. */
int dbk_kdf_check(uint64_t opslimit, uint64_t memlimit, int alg);

/* Fresh parameters: the defaults and a random salt. */
void dbk_kdf_params_new(dbk_kdf_params *p);

/*
 * Runs Argon2id over the passphrase and derives the login key pair and the bundle
 * key. Returns DBK_OK with *out set (free with dbk_pass_keys_free), DBK_E_KDF_WEAK,
 * or DBK_E_NOMEM (Argon2id could not get its memory).
 */
int dbk_pass_keys_derive(const char *passphrase, size_t len, const dbk_kdf_params *p,
                         dbk_pass_keys **out);
void dbk_pass_keys_free(dbk_pass_keys *k);

/* New random account keys, or NULL when out of memory. Free with dbk_account_keys_free. */
dbk_account_keys *dbk_account_keys_new(void);
/* Account keys from their two secrets (as stored in a bundle). */
dbk_account_keys *dbk_account_keys_from_secrets(const unsigned char sign_seed[32],
                                                const unsigned char box_sk[32]);
/* Account keys from the signing secret key (its seed, then its public key) and the box
 * key pair, as the client's keyring cache keeps them: nothing derived, so none of the
 * two base-point multiplications dbk_account_keys_from_secrets makes (half a million
 * instructions, a tenth of a `daybook craving`). The caller vouches that the halves
 * belong together (the cache holds what dbk_account_keys_from_secrets made, under a
 * check it verifies first): keys whose halves do not would sign with the seed's nonce
 * under another public key, which gives the signing key away. */
dbk_account_keys *dbk_account_keys_from_pairs(const unsigned char sign_sk[64],
                                              const unsigned char box_sk[32],
                                              const unsigned char box_pk[32]);
void dbk_account_keys_free(dbk_account_keys *k);

/*
 * Seals keys into a 148-byte bundle for account under pk->bundle_key. nonce may be
 * NULL (random; non-NULL only for test vectors).
 */
int dbk_bundle_seal(unsigned char out[DBK_BUNDLE_BYTES], const dbk_id *account,
                    const dbk_account_keys *keys, const dbk_pass_keys *pk,
                    const dbk_kdf_params *p, uint32_t generation,
                    const unsigned char *nonce);

/*
 * Reads the KDF parameters and generation a bundle was sealed with, checking its
 * format and the KDF bounds. Returns DBK_OK, DBK_E_CORRUPT or DBK_E_KDF_WEAK.
 */
int dbk_bundle_params(const unsigned char *bundle, size_t len, dbk_kdf_params *p,
                      uint32_t *generation);

/*
 * Opens a bundle with the passphrase: derives the keys from the parameters the
 * bundle carries and decrypts. On success *keys is set (free it) and, if pass_out
 * is not NULL, the derived pass keys are handed over too (else wiped).
 * Returns DBK_OK, DBK_E_CORRUPT, DBK_E_KDF_WEAK, DBK_E_PASSPHRASE or DBK_E_NOMEM.
 */
int dbk_bundle_open(const unsigned char *bundle, size_t len, const dbk_id *account,
                    const char *passphrase, size_t plen, dbk_account_keys **keys,
                    dbk_pass_keys **pass_out);

/* The exact bytes a device signs to answer a login challenge (CRYPTO.md §3). */
void dbk_login_input(unsigned char out[DBK_LOGIN_INPUT_BYTES], const dbk_id *server,
                     const dbk_id *account, const unsigned char challenge[DBK_CHALLENGE_BYTES],
                     const dbk_id *device);
void dbk_login_sign(unsigned char sig[crypto_sign_BYTES], const dbk_pass_keys *pk,
                    const dbk_id *server, const dbk_id *account,
                    const unsigned char challenge[DBK_CHALLENGE_BYTES], const dbk_id *device);
/* DBK_OK or DBK_E_BAD_SIGNATURE. */
int dbk_login_verify(const unsigned char sig[crypto_sign_BYTES],
                     const unsigned char login_pk[crypto_sign_PUBLICKEYBYTES],
                     const dbk_id *server, const dbk_id *account,
                     const unsigned char challenge[DBK_CHALLENGE_BYTES], const dbk_id *device);

#endif
