/*
 * Key grants (proto/CRYPTO.md §5): a stream key for one epoch, sealed to one
 * account and signed by the stream's owner. A grant is the client's consent; the
 * consent document (42 CFR §2.31 elements, proto/schemas/consent-grant) travels
 * sealed inside it next to the key.
 *
 *   0  1  version = 1         40 16  grantee account id
 *   1  3  reserved = 0        56  8  created at, Unix ms
 *   4 16  stream id           64  8  expires at, Unix ms (0 = none)
 *  20  4  key epoch           72  4  n = sealed length
 *  24 16  owner account id    76  n  crypto_box_seal(stream key || consent JSON)
 *                           76+n 64  Ed25519 signature by the owner
 */
#ifndef DBK_GRANT_H
#define DBK_GRANT_H

#include "dbk/id.h"

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define DBK_GRANT_HEADER_BYTES 76
#define DBK_GRANT_OVERHEAD (DBK_GRANT_HEADER_BYTES + crypto_sign_BYTES)
#define DBK_GRANT_CONSENT_MIN 2
#define DBK_GRANT_CONSENT_MAX 16384
#define DBK_GRANT_SEALED_MIN (crypto_box_SEALBYTES + 32 + DBK_GRANT_CONSENT_MIN)
#define DBK_GRANT_SEALED_MAX (crypto_box_SEALBYTES + 32 + DBK_GRANT_CONSENT_MAX)
#define DBK_GRANT_MAX_BYTES (DBK_GRANT_OVERHEAD + DBK_GRANT_SEALED_MAX)
#define DBK_GRANT_SIG_DOMAIN_BYTES 21 /* "daybook/v1/grant-sig\0" */

typedef struct dbk_grant_hdr {
    dbk_id stream;
    uint32_t epoch;
    dbk_id owner;
    dbk_id grantee;
    uint64_t created_at; /* Unix ms */
    uint64_t expires_at; /* Unix ms, 0 = no end date */
} dbk_grant_hdr;

/* Checks the structure (no cryptography) and fills *hdr: DBK_OK or DBK_E_BAD_GRANT. */
int dbk_grant_parse(const unsigned char *g, size_t len, dbk_grant_hdr *hdr);

/*
 * Seals stream_key and the consent JSON to grantee_box_pk and signs with the
 * owner's key. *out is malloc'd. Returns DBK_OK, DBK_E_TOO_LARGE (consent size)
 * or DBK_E_NOMEM.
 */
int dbk_grant_seal(const dbk_grant_hdr *hdr, const unsigned char stream_key[32],
                   const char *consent, size_t clen, const unsigned char grantee_box_pk[32],
                   const unsigned char owner_sk[crypto_sign_SECRETKEYBYTES], unsigned char **out,
                   size_t *out_len);

/* What the reader of a grant knows before it opens one. */
typedef struct dbk_grant_expect {
    const dbk_id *owner;
    const unsigned char *owner_pk; /* Ed25519 identity key of the owner */
    const dbk_id *grantee;         /* the reader */
    const unsigned char *box_pk;   /* the reader's X25519 key pair */
    const unsigned char *box_sk;
    uint64_t now_ms;
} dbk_grant_expect;

/*
 * Verifies and opens a grant in the order CRYPTO.md §5 gives. On success fills
 * *hdr, writes the stream key into stream_key (the caller's secret memory) and
 * returns the consent JSON as a malloc'd NUL-terminated string in *consent.
 * Errors: DBK_E_BAD_GRANT, DBK_E_BAD_SIGNATURE, DBK_E_DECRYPT, DBK_E_EXPIRED,
 * DBK_E_NOMEM.
 */
int dbk_grant_open(const unsigned char *g, size_t len, const dbk_grant_expect *exp,
                   dbk_grant_hdr *hdr, unsigned char stream_key[32], char **consent);

/*
 * What a server can check of a grant: structure and the owner's signature
 * (CRYPTO.md §5 steps 1-2). DBK_OK, DBK_E_BAD_GRANT, DBK_E_VERSION,
 * DBK_E_BAD_SIGNATURE or DBK_E_NOMEM; fills *hdr.
 */
int dbk_grant_verify(const unsigned char *g, size_t len, const unsigned char owner_pk[32],
                     dbk_grant_hdr *hdr);

/* The signing input: out holds DBK_GRANT_SIG_DOMAIN_BYTES + len - 64 bytes. */
size_t dbk_grant_signing_input(const unsigned char *g, size_t len, unsigned char *out);

#endif
