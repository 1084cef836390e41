/*
 * Record envelopes (proto/CRYPTO.md §4): the only form in which a record leaves
 * the device that wrote it. The server parses the clear header to route and order
 * envelopes (dbk_envelope_parse) and can do nothing else with them; readers open
 * them with the stream key and the author's public key.
 *
 *   0   1  version = 1          44 16  revision device id
 *   1   1  flags = 0            60  4  key epoch
 *   2   2  reserved = 0         64 16  author account id
 *   4  16  stream id            80 24  nonce
 *  20  16  record id           104  4  n = ciphertext length
 *  36   8  revision clock      108  n  ciphertext (padded plaintext + 16-byte tag)
 *                            108+n 64  Ed25519 signature
 */
#ifndef DBK_ENVELOPE_H
#define DBK_ENVELOPE_H

#include "dbk/id.h"

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define DBK_PAD_BLOCK 256
#define DBK_ENV_HEADER_BYTES 108
#define DBK_ENV_AD_PREFIX 80 /* header bytes bound as associated data */
#define DBK_ENV_OVERHEAD (DBK_ENV_HEADER_BYTES + crypto_sign_BYTES)
#define DBK_ENV_MAX_PADDED (DBK_PAD_BLOCK * 2048) /* 512 KiB */
#define DBK_ENV_MAX_PLAINTEXT (DBK_ENV_MAX_PADDED - 1)
#define DBK_ENV_MIN_CT (DBK_PAD_BLOCK + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define DBK_ENV_MAX_CT (DBK_ENV_MAX_PADDED + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define DBK_ENV_MIN_BYTES (DBK_ENV_OVERHEAD + DBK_ENV_MIN_CT)
#define DBK_ENV_MAX_BYTES (DBK_ENV_OVERHEAD + DBK_ENV_MAX_CT)
#define DBK_ENV_AD_BYTES (23 + DBK_ENV_AD_PREFIX)   /* "daybook/v1/envelope-ad\0" || ... */
#define DBK_ENV_SIG_DOMAIN_BYTES 24                  /* "daybook/v1/envelope-sig\0" */
#define DBK_STREAM_KEY_BYTES crypto_aead_xchacha20poly1305_ietf_KEYBYTES

/* A revision: ordered by clock, then device id (CRYPTO.md §6). */
typedef struct dbk_revision {
    uint64_t clock;
    dbk_id device;
} dbk_revision;

/* The clear header of an envelope. */
typedef struct dbk_envelope_hdr {
    dbk_id stream;
    dbk_id record;
    dbk_revision rev;
    uint32_t epoch;
    dbk_id author;
} dbk_envelope_hdr;

/* What a reader expects of an envelope before it trusts a byte of it. */
typedef struct dbk_envelope_expect {
    const dbk_id *stream;
    const dbk_id *record; /* NULL: any record of the stream */
    uint32_t epoch;
    const dbk_id *author;
    const unsigned char *author_pk; /* the author's Ed25519 identity key */
} dbk_envelope_expect;

/*
 * Checks the structure of env (no cryptography) and fills *hdr. Returns DBK_OK,
 * DBK_E_VERSION or DBK_E_BAD_ENVELOPE. This is all the server ever does with one.
 */
int dbk_envelope_parse(const unsigned char *env, size_t len, dbk_envelope_hdr *hdr);

/*
 * Pads plaintext, encrypts it under stream_key with the header as associated data
 * and signs with the author's Ed25519 secret key. nonce is NULL (random) except
 * in test vectors. *out is malloc'd (free()); *out_len is its length.
 * Returns DBK_OK, DBK_E_TOO_LARGE or DBK_E_NOMEM.
 */
int dbk_envelope_seal(const dbk_envelope_hdr *hdr, const unsigned char stream_key[32],
                      const unsigned char author_sk[crypto_sign_SECRETKEYBYTES],
                      const unsigned char *plaintext, size_t plen, const unsigned char *nonce,
                      unsigned char **out, size_t *out_len);

/*
 * Opens env as CRYPTO.md §4 prescribes: structure, author and signature, stream /
 * record / epoch, decryption, unpadding, stopping at the first failure with its
 * error (DBK_E_BAD_ENVELOPE, DBK_E_VERSION, DBK_E_BAD_SIGNATURE, DBK_E_DECRYPT,
 * DBK_E_BAD_PADDING, DBK_E_NOMEM). On success *plain is a malloc'd, NUL-terminated
 * copy of the plaintext (*plen bytes, without the NUL); release it with
 * dbk_plaintext_free, which wipes it.
 */
int dbk_envelope_open(const unsigned char *env, size_t len, const dbk_envelope_expect *exp,
                      const unsigned char stream_key[32], unsigned char **plain, size_t *plen);

/*
 * dbk_envelope_open without the signature check: only for env whose every byte the
 * caller has checked already with dbk_envelope_verify under exp->author_pk (the
 * client's sync verifies what it pulls on another thread while the rounds run, and
 * matches the stored bytes to what it verified by a BLAKE2b-256 hash of all of them:
 * book/entries.c). Every other check is dbk_envelope_open's, in its order.
 */
int dbk_envelope_open_verified(const unsigned char *env, size_t len, const dbk_envelope_expect *exp,
                               const unsigned char stream_key[32], unsigned char **plain,
                               size_t *plen);

/* Whether env (which passed dbk_envelope_parse) is signed by author_pk: DBK_OK,
 * DBK_E_BAD_SIGNATURE, DBK_E_BAD_ENVELOPE (too short to hold a signature) or
 * DBK_E_NOMEM. dbk_envelope_open checks it first. */
int dbk_envelope_verify(const unsigned char *env, size_t len, const unsigned char author_pk[32]);

/* Wipes and frees a plaintext from dbk_envelope_open. */
void dbk_plaintext_free(unsigned char *plain, size_t plen);

/* The associated data of env (DBK_ENV_AD_BYTES). env must have passed parse. */
void dbk_envelope_ad(const unsigned char *env, unsigned char out[DBK_ENV_AD_BYTES]);
/* The signing input of env: out holds DBK_ENV_SIG_DOMAIN_BYTES + len - 64 bytes. */
size_t dbk_envelope_signing_input(const unsigned char *env, size_t len, unsigned char *out);

/*
 * sodium_pad to DBK_PAD_BLOCK in place: buf holds len bytes and has room for cap.
 * Returns DBK_OK with *padded_len, or DBK_E_TOO_LARGE.
 */
int dbk_pad(unsigned char *buf, size_t len, size_t cap, size_t *padded_len);
/* Returns DBK_OK with the unpadded *len, or DBK_E_BAD_PADDING. */
int dbk_unpad(const unsigned char *buf, size_t padded_len, size_t *len);

/* <0, 0, >0 as a orders before, equal to, after b (the greater revision wins). */
int dbk_revision_cmp(const dbk_revision *a, const dbk_revision *b);

#endif
