/* Key grants: seal, parse, verify and open (proto/CRYPTO.md §5; layout in dbk/grant.h). */
#include "dbk/grant.h"

#include "dbk/bytes.h"
#include "dbk/error.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char DOM_SIG[] = "daybook/v1/grant-sig";
_Static_assert(sizeof DOM_SIG == DBK_GRANT_SIG_DOMAIN_BYTES, "grant signature domain size");

enum {
    G_VERSION = 0,
    G_RESERVED = 1,
    G_STREAM = 4,
    G_EPOCH = 20,
    G_OWNER = 24,
    G_GRANTEE = 40,
    G_CREATED = 56,
    G_EXPIRES = 64,
    G_SEALED_LEN = 72,
    G_SEALED = 76,
};
_Static_assert(G_SEALED == DBK_GRANT_HEADER_BYTES, "grant header size");

int
dbk_grant_parse(const unsigned char *g, size_t len, dbk_grant_hdr *hdr)
{
    uint32_t n;

    if (len < DBK_GRANT_OVERHEAD + DBK_GRANT_SEALED_MIN || len > DBK_GRANT_MAX_BYTES)
        return DBK_E_BAD_GRANT;
    n = dbk_get_u32(g + G_SEALED_LEN);
    if (n < DBK_GRANT_SEALED_MIN || n > DBK_GRANT_SEALED_MAX || len != DBK_GRANT_OVERHEAD + n)
        return DBK_E_BAD_GRANT;
    /* After the length, as for envelopes and bundles (proto/README.md rule R1). */
    if (g[G_VERSION] != 1)
        return DBK_E_VERSION;
    if (g[G_RESERVED] != 0 || g[G_RESERVED + 1] != 0 || g[G_RESERVED + 2] != 0)
        return DBK_E_BAD_GRANT;
    memcpy(hdr->stream.b, g + G_STREAM, DBK_ID_BYTES);
    hdr->epoch = dbk_get_u32(g + G_EPOCH);
    memcpy(hdr->owner.b, g + G_OWNER, DBK_ID_BYTES);
    memcpy(hdr->grantee.b, g + G_GRANTEE, DBK_ID_BYTES);
    hdr->created_at = dbk_get_u64(g + G_CREATED);
    hdr->expires_at = dbk_get_u64(g + G_EXPIRES);
    return DBK_OK;
}

size_t
dbk_grant_signing_input(const unsigned char *g, size_t len, unsigned char *out)
{
    memcpy(out, DOM_SIG, sizeof DOM_SIG);
    memcpy(out + sizeof DOM_SIG, g, len - crypto_sign_BYTES);
    return sizeof DOM_SIG + len - crypto_sign_BYTES;
}

int
dbk_grant_seal(const dbk_grant_hdr *hdr, const unsigned char stream_key[32], const char *consent,
               size_t clen, const unsigned char grantee_box_pk[32],
               const unsigned char owner_sk[crypto_sign_SECRETKEYBYTES], unsigned char **out,
               size_t *out_len)
{
    unsigned char *g, *inner, *sig_in;
    size_t n, total, sig_len;

    *out = NULL;
    *out_len = 0;
    if (clen < DBK_GRANT_CONSENT_MIN || clen > DBK_GRANT_CONSENT_MAX)
        return DBK_E_TOO_LARGE;
    n = crypto_box_SEALBYTES + 32 + clen;
    total = DBK_GRANT_OVERHEAD + n;
    g = malloc(total);
    inner = malloc(32 + clen);
    sig_in = malloc(DBK_GRANT_SIG_DOMAIN_BYTES + total);
    if (g == NULL || inner == NULL || sig_in == NULL) {
        free(g);
        free(inner);
        free(sig_in);
        return DBK_E_NOMEM;
    }
    g[G_VERSION] = 1;
    g[G_RESERVED] = g[G_RESERVED + 1] = g[G_RESERVED + 2] = 0;
    memcpy(g + G_STREAM, hdr->stream.b, DBK_ID_BYTES);
    dbk_put_u32(g + G_EPOCH, hdr->epoch);
    memcpy(g + G_OWNER, hdr->owner.b, DBK_ID_BYTES);
    memcpy(g + G_GRANTEE, hdr->grantee.b, DBK_ID_BYTES);
    dbk_put_u64(g + G_CREATED, hdr->created_at);
    dbk_put_u64(g + G_EXPIRES, hdr->expires_at);
    dbk_put_u32(g + G_SEALED_LEN, (uint32_t)n);

    memcpy(inner, stream_key, 32);
    memcpy(inner + 32, consent, clen);
    crypto_box_seal(g + G_SEALED, inner, 32 + clen, grantee_box_pk);
    sodium_memzero(inner, 32 + clen);
    free(inner);

    sig_len = dbk_grant_signing_input(g, total, sig_in);
    crypto_sign_detached(g + G_SEALED + n, NULL, sig_in, sig_len, owner_sk);
    free(sig_in);
    *out = g;
    *out_len = total;
    return DBK_OK;
}

/* The consent must be a JSON object with "type": "consent" (proto/schemas). */
static bool
consent_ok(const unsigned char *c, size_t n)
{
    json_t *j = json_loadb((const char *)c, n, JSON_REJECT_DUPLICATES, NULL);
    bool ok = json_is_object(j) &&
              json_is_string(json_object_get(j, "type")) &&
              strcmp(json_string_value(json_object_get(j, "type")), "consent") == 0;
    json_decref(j);
    return ok;
}

int
dbk_grant_verify(const unsigned char *g, size_t len, const unsigned char owner_pk[32],
                 dbk_grant_hdr *hdr)
{
    unsigned char *sig_in;
    size_t sig_len;
    int rc;

    if ((rc = dbk_grant_parse(g, len, hdr)) != DBK_OK)
        return rc;
    sig_in = malloc(DBK_GRANT_SIG_DOMAIN_BYTES + len);
    if (sig_in == NULL)
        return DBK_E_NOMEM;
    sig_len = dbk_grant_signing_input(g, len, sig_in);
    rc = crypto_sign_verify_detached(g + len - crypto_sign_BYTES, sig_in, sig_len, owner_pk);
    free(sig_in);
    return rc == 0 ? DBK_OK : DBK_E_BAD_SIGNATURE;
}

int
dbk_grant_open(const unsigned char *g, size_t len, const dbk_grant_expect *exp,
               dbk_grant_hdr *hdr, unsigned char stream_key[32], char **consent)
{
    unsigned char *sig_in, *inner;
    size_t sig_len, n, clen;
    int rc;

    *consent = NULL;
    /* 1. structure */
    if ((rc = dbk_grant_parse(g, len, hdr)) != DBK_OK)
        return rc;
    /* 2. owner and signature */
    if (!dbk_id_equal(&hdr->owner, exp->owner))
        return DBK_E_BAD_SIGNATURE;
    sig_in = malloc(DBK_GRANT_SIG_DOMAIN_BYTES + len);
    if (sig_in == NULL)
        return DBK_E_NOMEM;
    sig_len = dbk_grant_signing_input(g, len, sig_in);
    rc = crypto_sign_verify_detached(g + len - crypto_sign_BYTES, sig_in, sig_len, exp->owner_pk);
    free(sig_in);
    if (rc != 0)
        return DBK_E_BAD_SIGNATURE;
    /* 3. it is for the reader */
    if (!dbk_id_equal(&hdr->grantee, exp->grantee))
        return DBK_E_BAD_GRANT;
    /* 4. the sealed box */
    n = len - DBK_GRANT_OVERHEAD;
    clen = n - crypto_box_SEALBYTES - 32;
    inner = malloc(32 + clen + 1);
    if (inner == NULL)
        return DBK_E_NOMEM;
    if (crypto_box_seal_open(inner, g + G_SEALED, n, exp->box_pk, exp->box_sk) != 0) {
        free(inner);
        return DBK_E_DECRYPT;
    }
    /* 5. the consent document */
    if (!consent_ok(inner + 32, clen)) {
        sodium_memzero(inner, 32 + clen);
        free(inner);
        return DBK_E_BAD_GRANT;
    }
    /* 6. expiry */
    if (hdr->expires_at != 0 && hdr->expires_at <= exp->now_ms) {
        sodium_memzero(inner, 32 + clen);
        free(inner);
        return DBK_E_EXPIRED;
    }
    memcpy(stream_key, inner, 32);
    sodium_memzero(inner, 32);
    memmove(inner, inner + 32, clen); /* reuse the buffer for the consent string */
    inner[clen] = '\0';
    *consent = (char *)inner;
    return DBK_OK;
}
