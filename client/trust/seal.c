/* Sealing a revision of a record; see seal.h. */
#include "seal.h"

#include "stream_key.h"
#include "unlock.h"

#include "dbk/error.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/*
 * Size buckets (proto/CRYPTO.md section 4, "Size buckets"). The server sees an
 * envelope's length; sodium_pad alone rounds to 256 bytes, which put a craving that
 * ended in use (its outcome carries what was used) a bucket above one resisted, and a
 * check-in with use above one without. A writer pads the JSON text with trailing
 * spaces (valid JSON whitespace: every reader parses it unchanged, so nothing on the
 * wire changes) to one bucket less the byte sodium_pad adds: 1 KiB, doubling up to
 * 64 KiB, then whole multiples of 64 KiB. The bucket is chosen from the record's size
 * with its outcome member counted at no less than DBK_ENTRY_OUTCOME_ALLOWANCE, so
 * records that differ only in how they ended fall in the same bucket whatever the
 * rest holds (an outcome longer than the allowance can still move it: long free text
 * about a lapse).
 */
#define BUCKET_MIN 1024u
#define BUCKET_STEP 65536u

static const struct {
    const char *type, *member;
} outcome_members[] = {{"craving", "outcome"}, {"checkin", "use"}, {"dose", "status"}};

size_t
dbk_entry_bucket(const json_t *plaintext, size_t text_len)
{
    const char *type = json_string_value(json_object_get(plaintext, "type"));
    size_t sizing = text_len, b = BUCKET_MIN;
    for (size_t i = 0; type && i < sizeof outcome_members / sizeof outcome_members[0]; i++) {
        json_t *m = json_object_get(plaintext, outcome_members[i].member);
        if (strcmp(type, outcome_members[i].type) != 0 || m == NULL)
            continue;
        /* "member": plus the value, as the compact text holds it */
        size_t ml = strlen(outcome_members[i].member) + 4 +
                    json_dumpb(m, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
        if (ml < DBK_ENTRY_OUTCOME_ALLOWANCE)
            sizing += DBK_ENTRY_OUTCOME_ALLOWANCE - ml;
    }
    sizing += 1; /* the byte sodium_pad always adds */
    while (b < sizing && b < BUCKET_STEP)
        b *= 2;
    if (b < sizing)
        b = (sizing + BUCKET_STEP - 1) / BUCKET_STEP * BUCKET_STEP;
    return b > DBK_ENV_MAX_PADDED ? DBK_ENV_MAX_PADDED : b;
}

/* The compact JSON of plaintext, padded with spaces to its bucket (less sodium_pad's
 * byte); NULL when out of memory. The caller wipes it (sodium_memzero) and frees it. */
static char *
padded_text(const json_t *plaintext, size_t *len)
{
    char *text = json_dumps(plaintext, JSON_COMPACT), *p;
    if (text == NULL)
        return NULL;
    size_t n = strlen(text), want = dbk_entry_bucket(plaintext, n) - 1;
    if (want <= n) { /* too large for any bucket: sealing says so */
        *len = n;
        return text;
    }
    if ((p = malloc(want + 1)) == NULL) {
        sodium_memzero(text, n);
        free(text);
        return NULL;
    }
    memcpy(p, text, n);
    memset(p + n, ' ', want - n);
    p[want] = '\0';
    sodium_memzero(text, n);
    free(text);
    *len = want;
    return p;
}

/* dbk_trust_seal_put, and with fresh the first revision of a record whose id this
 * device drew (dbk_trust_seal_put_new). */
static int
seal_put(dbk_session *s, const dbk_local_stream *st, const dbk_id *record, bool fresh, bool coarse,
         json_t *plaintext, dbk_id *out_id)
{
    dbk_envelope_hdr h;
    unsigned char key[32], *env = NULL;
    size_t len, tlen = 0;
    char *text;
    bool cur;
    int rc;

    /* The clock, the revision and its place in the outbox go in the caller's write
     * transaction, the one st was read in (seal.h): one commit (one fsync of the log)
     * per entry, never a record left with no current revision if the process dies
     * between demoting the old one and storing this, and never an epoch read before. */
    if (!dbk_local_in_tx(s->L))
        return DBK_E_INVALID;
    if ((rc = dbk_unlock(s)) != DBK_OK || (rc = dbk_stream_key_of(s, st, st->epoch, key)) != DBK_OK)
        return rc;
    memset(&h, 0, sizeof h);
    h.stream = st->id;
    if (record != NULL)
        h.record = *record;
    else
        dbk_id_random(&h.record);
    if ((rc = dbk_session_clock(s, coarse, &h.rev.clock)) != DBK_OK) {
        sodium_memzero(key, sizeof key);
        return rc;
    }
    h.rev.device = s->device;
    h.epoch = st->epoch;
    h.author = s->account;
    text = padded_text(plaintext, &tlen);
    if (text == NULL) {
        sodium_memzero(key, sizeof key);
        return DBK_E_NOMEM;
    }
    rc = dbk_envelope_seal(&h, key, s->keys->sign_sk, (const unsigned char *)text, tlen, NULL, &env,
                           &len);
    sodium_memzero(key, sizeof key);
    sodium_memzero(text, tlen);
    free(text);
    if (rc == DBK_OK)
        rc = fresh ? dbk_local_record_put_new(s->L, env, len)
                   : dbk_local_record_put(s->L, env, len, 0, true, &cur);
    free(env);
    if (rc == DBK_OK && out_id != NULL)
        *out_id = h.record;
    return rc;
}

int
dbk_trust_seal_put(dbk_session *s, const dbk_local_stream *st, const dbk_id *record, bool coarse,
                   json_t *plaintext, dbk_id *out_id)
{
    return seal_put(s, st, record, record == NULL, coarse, plaintext, out_id);
}

int
dbk_trust_seal_put_new(dbk_session *s, const dbk_local_stream *st, const dbk_id *record,
                       json_t *plaintext)
{
    return seal_put(s, st, record, true, true, plaintext, NULL);
}

/* ---- a craving's plaintext in the spool (book/spool.h) ---- */

int
dbk_trust_spool_seal(const unsigned char key[32], const unsigned char nonce[24],
                     const unsigned char *ad, size_t adlen, const json_t *doc, unsigned char **out,
                     size_t *len)
{
    char *text = json_dumps(doc, JSON_COMPACT); /* its members in order: folded, the same text */
    size_t n;
    int rc = DBK_OK;

    *out = NULL;
    if (text == NULL)
        return DBK_E_NOMEM;
    n = strlen(text);
    if ((*out = malloc(n + crypto_aead_xchacha20poly1305_ietf_ABYTES)) == NULL)
        rc = DBK_E_NOMEM;
    else
        crypto_aead_xchacha20poly1305_ietf_encrypt(*out, NULL, (const unsigned char *)text, n, ad,
                                                   adlen, NULL, nonce, key);
    *len = n + crypto_aead_xchacha20poly1305_ietf_ABYTES;
    sodium_memzero(text, n);
    free(text);
    return rc;
}

int
dbk_trust_spool_open(const unsigned char key[32], const unsigned char nonce[24],
                     const unsigned char *ad, size_t adlen, const unsigned char *body, size_t len,
                     json_t **doc)
{
    size_t n = len - crypto_aead_xchacha20poly1305_ietf_ABYTES;
    char *text;
    int rc = DBK_OK;

    if (doc != NULL)
        *doc = NULL;
    if (len < crypto_aead_xchacha20poly1305_ietf_ABYTES)
        return DBK_E_CORRUPT;
    if (doc == NULL) { /* whether it opens: the text is neither parsed nor kept */
        unsigned char *t = malloc(n + 1);
        if (t == NULL)
            return DBK_E_NOMEM;
        rc = crypto_aead_xchacha20poly1305_ietf_decrypt(t, NULL, NULL, body, len, ad, adlen, nonce,
                                                        key) == 0
                 ? DBK_OK
                 : DBK_E_DECRYPT;
        sodium_memzero(t, n + 1);
        free(t);
        return rc;
    }
    if ((text = sodium_malloc(n + 1)) == NULL)
        return DBK_E_NOMEM;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)text, NULL, NULL, body, len, ad,
                                                   adlen, nonce, key) != 0) {
        rc = DBK_E_DECRYPT;
    } else {
        text[n] = '\0';
        *doc = json_loadb(text, n, 0, NULL);
        if (!json_is_object(*doc)) {
            json_decref(*doc);
            *doc = NULL;
            rc = DBK_E_CORRUPT;
        }
    }
    sodium_free(text); /* wipes */
    return rc;
}
