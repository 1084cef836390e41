/*
 * Envelope codec: parse, seal and open (proto/CRYPTO.md §4). The layout table is
 * in dbk/envelope.h. Every field is checked before it is used, and opening stops
 * at the first failed check in the order the spec gives, so every implementation
 * reports the same error for the same bad input.
 */
#include "dbk/envelope.h"

#include "dbk/bytes.h"
#include "dbk/error.h"

#include <stdlib.h>
#include <string.h>

static const char DOM_AD[] = "daybook/v1/envelope-ad";
static const char DOM_SIG[] = "daybook/v1/envelope-sig";
_Static_assert(sizeof DOM_AD + DBK_ENV_AD_PREFIX == DBK_ENV_AD_BYTES, "AD size");
_Static_assert(sizeof DOM_SIG == DBK_ENV_SIG_DOMAIN_BYTES, "signature domain size");

enum {
    E_VERSION = 0,
    E_FLAGS = 1,
    E_RESERVED = 2,
    E_STREAM = 4,
    E_RECORD = 20,
    E_CLOCK = 36,
    E_DEVICE = 44,
    E_EPOCH = 60,
    E_AUTHOR = 64,
    E_NONCE = 80,
    E_CTLEN = 104,
    E_CT = 108,
};
_Static_assert(E_CT == DBK_ENV_HEADER_BYTES, "header size");
_Static_assert(E_NONCE == DBK_ENV_AD_PREFIX, "AD covers the header up to the nonce");

#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES

int
dbk_revision_cmp(const dbk_revision *a, const dbk_revision *b)
{
    if (a->clock != b->clock)
        return a->clock < b->clock ? -1 : 1;
    return memcmp(a->device.b, b->device.b, DBK_ID_BYTES);
}

int
dbk_pad(unsigned char *buf, size_t len, size_t cap, size_t *padded_len)
{
    if (sodium_pad(padded_len, buf, len, DBK_PAD_BLOCK, cap) != 0)
        return DBK_E_TOO_LARGE;
    return DBK_OK;
}

int
dbk_unpad(const unsigned char *buf, size_t padded_len, size_t *len)
{
    if (padded_len == 0 || padded_len % DBK_PAD_BLOCK != 0 ||
        sodium_unpad(len, buf, padded_len, DBK_PAD_BLOCK) != 0)
        return DBK_E_BAD_PADDING;
    return DBK_OK;
}

int
dbk_envelope_parse(const unsigned char *env, size_t len, dbk_envelope_hdr *hdr)
{
    uint32_t n;

    if (len < DBK_ENV_MIN_BYTES)
        return DBK_E_BAD_ENVELOPE;
    if (env[E_VERSION] != 1)
        return DBK_E_VERSION;
    if (env[E_FLAGS] != 0 || env[E_RESERVED] != 0 || env[E_RESERVED + 1] != 0)
        return DBK_E_BAD_ENVELOPE;
    n = dbk_get_u32(env + E_CTLEN);
    if (n < DBK_ENV_MIN_CT || n > DBK_ENV_MAX_CT || (n - TAG_BYTES) % DBK_PAD_BLOCK != 0 ||
        len != (size_t)n + DBK_ENV_OVERHEAD)
        return DBK_E_BAD_ENVELOPE;
    memcpy(hdr->stream.b, env + E_STREAM, DBK_ID_BYTES);
    memcpy(hdr->record.b, env + E_RECORD, DBK_ID_BYTES);
    hdr->rev.clock = dbk_get_u64(env + E_CLOCK);
    memcpy(hdr->rev.device.b, env + E_DEVICE, DBK_ID_BYTES);
    hdr->epoch = dbk_get_u32(env + E_EPOCH);
    memcpy(hdr->author.b, env + E_AUTHOR, DBK_ID_BYTES);
    return DBK_OK;
}

void
dbk_envelope_ad(const unsigned char *env, unsigned char out[DBK_ENV_AD_BYTES])
{
    memcpy(out, DOM_AD, sizeof DOM_AD);
    memcpy(out + sizeof DOM_AD, env, DBK_ENV_AD_PREFIX);
}

size_t
dbk_envelope_signing_input(const unsigned char *env, size_t len, unsigned char *out)
{
    memcpy(out, DOM_SIG, sizeof DOM_SIG);
    memcpy(out + sizeof DOM_SIG, env, len - crypto_sign_BYTES);
    return sizeof DOM_SIG + len - crypto_sign_BYTES;
}

int
dbk_envelope_seal(const dbk_envelope_hdr *hdr, const unsigned char stream_key[32],
                  const unsigned char author_sk[crypto_sign_SECRETKEYBYTES],
                  const unsigned char *plaintext, size_t plen, const unsigned char *nonce,
                  unsigned char **out, size_t *out_len)
{
    unsigned char ad[DBK_ENV_AD_BYTES];
    unsigned char *padded, *env, *sig_in;
    size_t padded_len, ct_len, total, sig_len;

    *out = NULL;
    *out_len = 0;
    if (plen > DBK_ENV_MAX_PLAINTEXT)
        return DBK_E_TOO_LARGE;
    padded_len = (plen / DBK_PAD_BLOCK + 1) * DBK_PAD_BLOCK;
    ct_len = padded_len + TAG_BYTES;
    total = ct_len + DBK_ENV_OVERHEAD;

    padded = malloc(padded_len);
    env = malloc(total);
    sig_in = malloc(DBK_ENV_SIG_DOMAIN_BYTES + total);
    if (padded == NULL || env == NULL || sig_in == NULL) {
        free(padded);
        free(env);
        free(sig_in);
        return DBK_E_NOMEM;
    }
    memcpy(padded, plaintext, plen);
    if (dbk_pad(padded, plen, padded_len, &padded_len) != DBK_OK) {
        sodium_memzero(padded, plen);
        free(padded);
        free(env);
        free(sig_in);
        return DBK_E_TOO_LARGE;
    }

    env[E_VERSION] = 1;
    env[E_FLAGS] = 0;
    env[E_RESERVED] = env[E_RESERVED + 1] = 0;
    memcpy(env + E_STREAM, hdr->stream.b, DBK_ID_BYTES);
    memcpy(env + E_RECORD, hdr->record.b, DBK_ID_BYTES);
    dbk_put_u64(env + E_CLOCK, hdr->rev.clock);
    memcpy(env + E_DEVICE, hdr->rev.device.b, DBK_ID_BYTES);
    dbk_put_u32(env + E_EPOCH, hdr->epoch);
    memcpy(env + E_AUTHOR, hdr->author.b, DBK_ID_BYTES);
    if (nonce != NULL)
        memcpy(env + E_NONCE, nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    else
        randombytes_buf(env + E_NONCE, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    dbk_put_u32(env + E_CTLEN, (uint32_t)ct_len);

    dbk_envelope_ad(env, ad);
    crypto_aead_xchacha20poly1305_ietf_encrypt(env + E_CT, NULL, padded, padded_len, ad, sizeof ad,
                                               NULL, env + E_NONCE, stream_key);
    sodium_memzero(padded, padded_len);
    free(padded);

    sig_len = dbk_envelope_signing_input(env, total, sig_in);
    crypto_sign_detached(env + E_CT + ct_len, NULL, sig_in, sig_len, author_sk);
    free(sig_in);

    *out = env;
    *out_len = total;
    return DBK_OK;
}

int
dbk_envelope_verify(const unsigned char *env, size_t len, const unsigned char author_pk[32])
{
    unsigned char *sig_in;
    int rc;
    if (len < DBK_ENV_OVERHEAD) /* no room for a header and a signature */
        return DBK_E_BAD_ENVELOPE;
    if ((sig_in = malloc(DBK_ENV_SIG_DOMAIN_BYTES + len)) == NULL)
        return DBK_E_NOMEM;
    size_t sig_len = dbk_envelope_signing_input(env, len, sig_in);
    rc = crypto_sign_verify_detached(env + len - crypto_sign_BYTES, sig_in, sig_len, author_pk);
    free(sig_in);
    return rc == 0 ? DBK_OK : DBK_E_BAD_SIGNATURE;
}

static int open_checked(const unsigned char *env, size_t len, const dbk_envelope_expect *exp,
                        const unsigned char stream_key[32], bool verify, unsigned char **plain,
                        size_t *plen);

int
dbk_envelope_open(const unsigned char *env, size_t len, const dbk_envelope_expect *exp,
                  const unsigned char stream_key[32], unsigned char **plain, size_t *plen)
{
    return open_checked(env, len, exp, stream_key, true, plain, plen);
}

int
dbk_envelope_open_verified(const unsigned char *env, size_t len, const dbk_envelope_expect *exp,
                           const unsigned char stream_key[32], unsigned char **plain, size_t *plen)
{
    return open_checked(env, len, exp, stream_key, false, plain, plen);
}

/* dbk_envelope_open, the signature checked only when verify. */
static int
open_checked(const unsigned char *env, size_t len, const dbk_envelope_expect *exp,
             const unsigned char stream_key[32], bool verify, unsigned char **plain, size_t *plen)
{
    unsigned char ad[DBK_ENV_AD_BYTES];
    dbk_envelope_hdr hdr;
    unsigned char *padded;
    size_t ct_len, padded_len, unpadded;
    int rc;

    *plain = NULL;
    *plen = 0;
    /* 1. structure */
    if ((rc = dbk_envelope_parse(env, len, &hdr)) != DBK_OK)
        return rc;
    /* 2. author and signature */
    if (!dbk_id_equal(&hdr.author, exp->author))
        return DBK_E_BAD_SIGNATURE;
    if (verify && (rc = dbk_envelope_verify(env, len, exp->author_pk)) != DBK_OK)
        return rc;
    /* 3. the place the reader asked for */
    if (!dbk_id_equal(&hdr.stream, exp->stream) ||
        (exp->record != NULL && !dbk_id_equal(&hdr.record, exp->record)) ||
        hdr.epoch != exp->epoch)
        return DBK_E_BAD_ENVELOPE;
    /* 4. decryption */
    ct_len = len - DBK_ENV_OVERHEAD;
    padded_len = ct_len - TAG_BYTES;
    padded = malloc(padded_len + 1);
    if (padded == NULL)
        return DBK_E_NOMEM;
    dbk_envelope_ad(env, ad);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(padded, NULL, NULL, env + E_CT, ct_len, ad,
                                                   sizeof ad, env + E_NONCE, stream_key) != 0) {
        free(padded);
        return DBK_E_DECRYPT;
    }
    /* 5. padding */
    if (dbk_unpad(padded, padded_len, &unpadded) != DBK_OK) {
        dbk_plaintext_free(padded, padded_len);
        return DBK_E_BAD_PADDING;
    }
    sodium_memzero(padded + unpadded, padded_len - unpadded);
    padded[unpadded] = '\0';
    *plain = padded;
    *plen = unpadded;
    return DBK_OK;
}

void
dbk_plaintext_free(unsigned char *plain, size_t plen)
{
    if (plain == NULL)
        return;
    sodium_memzero(plain, plen);
    free(plain);
}
