/*
 * Stream keys: the key of (stream, epoch) opened from the grant this account
 * holds, after checking the grant's signature against the stream owner's pinned
 * identity key. See stream_key.h.
 */
#include "stream_key.h"

#include "trust.h"
#include "unlock.h"

#include "dbk/error.h"
#include "dbk/grant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_CACHE_SLOTS 128

/* Stream keys already opened in this session: opening a grant costs a sealed-box
 * open and a signature check, and a review opens thousands of entries. */
struct dbk_key_cache {
    size_t n;
    struct {
        dbk_id stream;
        uint32_t epoch;
        unsigned char key[32];
    } v[KEY_CACHE_SLOTS];
};

static bool
cache_find(const dbk_session *s, const dbk_id *stream, uint32_t epoch, unsigned char key[32])
{
    if (s->keycache != NULL)
        for (size_t i = 0; i < s->keycache->n; i++)
            if (s->keycache->v[i].epoch == epoch &&
                dbk_id_equal(&s->keycache->v[i].stream, stream)) {
                memcpy(key, s->keycache->v[i].key, 32);
                return true;
            }
    return false;
}

static void
cache_add(dbk_session *s, const dbk_id *stream, uint32_t epoch, const unsigned char key[32])
{
    if (s->keycache == NULL || s->keycache->n >= KEY_CACHE_SLOTS)
        return;
    size_t i = s->keycache->n++;
    s->keycache->v[i].stream = *stream;
    s->keycache->v[i].epoch = epoch;
    memcpy(s->keycache->v[i].key, key, 32);
}

/* ---- stream keys ---- */

/* The key of (st, epoch), not in the session's cache, from the grant held here. */
static int
key_from_grant(dbk_session *s, const dbk_local_stream *st, uint32_t epoch, unsigned char key[32])
{
    const dbk_id *stream = &st->id;
    unsigned char *g = NULL, opk[32], ghash[32];
    size_t len;
    dbk_grant_hdr h;
    char *consent = NULL;
    int rc;

    if ((rc = dbk_unlock(s)) != DBK_OK)
        return rc;
    if (s->keycache == NULL && (s->keycache = sodium_malloc(sizeof *s->keycache)) != NULL)
        s->keycache->n = 0;
    if ((rc = dbk_local_grant_get(s->L, stream, epoch, &g, &len)) != DBK_OK)
        return rc;
    /* The account's own stream: its key kept in the keyring (T10) by a command that
     * opened it from these very grant bytes, this profile's for (stream, epoch). */
    bool own = dbk_id_equal(&st->owner, &s->account);
    crypto_generichash(ghash, sizeof ghash, g, len, NULL, 0);
    if (own && dbk_unlock_kept_stream_key(s, stream, epoch, ghash, key)) {
        free(g);
        cache_add(s, stream, epoch, key);
        return DBK_OK;
    }
    if ((rc = dbk_trust_sign_pk(s, &st->owner, opk)) != DBK_OK) {
        free(g);
        return rc;
    }
    dbk_grant_expect e = {&st->owner, opk, &s->account, s->keys->box_pk, s->keys->box_sk, 0};
    rc = dbk_grant_open(g, len, &e, &h, key, &consent);
    free(g);
    free(consent);
    if (rc != DBK_OK)
        return rc;
    cache_add(s, stream, epoch, key);
    /* A self-grant (the account's own stream, checked against its own key just now,
     * and naming the stream and epoch asked for) is kept for the next command, with the
     * hash of its bytes; another owner's grant is opened again each session. */
    if (own && dbk_id_equal(&h.owner, &s->account) && dbk_id_equal(&h.stream, stream) &&
        h.epoch == epoch)
        dbk_unlock_keep_stream_key(s, stream, epoch, ghash, key);
    return DBK_OK;
}

int
dbk_stream_key(dbk_session *s, const dbk_id *stream, uint32_t epoch, unsigned char key[32])
{
    dbk_local_stream st;
    int rc;
    if (cache_find(s, stream, epoch, key))
        return DBK_OK;
    if ((rc = dbk_local_stream_get(s->L, stream, &st)) != DBK_OK)
        return rc;
    return key_from_grant(s, &st, epoch, key);
}

int
dbk_stream_key_of(dbk_session *s, const dbk_local_stream *st, uint32_t epoch, unsigned char key[32])
{
    if (cache_find(s, &st->id, epoch, key))
        return DBK_OK;
    return key_from_grant(s, st, epoch, key);
}

int
dbk_stream_consent(dbk_session *s, const dbk_id *stream, uint32_t epoch, json_t **consent)
{
    dbk_local_stream st;
    unsigned char *g = NULL, opk[32], *key;
    size_t len;
    dbk_grant_hdr h;
    char *text = NULL;
    int rc;

    *consent = NULL;
    if ((rc = dbk_unlock(s)) != DBK_OK ||
        (rc = dbk_local_stream_get(s->L, stream, &st)) != DBK_OK ||
        (rc = dbk_trust_sign_pk(s, &st.owner, opk)) != DBK_OK ||
        (rc = dbk_local_grant_get(s->L, stream, epoch, &g, &len)) != DBK_OK)
        return rc;
    if ((key = sodium_malloc(32)) == NULL) {
        free(g);
        return DBK_E_NOMEM;
    }
    dbk_grant_expect e = {&st.owner, opk, &s->account, s->keys->box_pk, s->keys->box_sk, 0};
    rc = dbk_grant_open(g, len, &e, &h, key, &text);
    free(g);
    sodium_free(key);
    if (rc == DBK_OK && (*consent = json_loads(text, 0, NULL)) == NULL)
        rc = DBK_E_BAD_JSON;
    free(text);
    return rc;
}
