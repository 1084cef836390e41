/* Drafts sealed to the account's own public key; see draft.h. */
#include "draft.h"

#include "entry.h"
#include "entries.h"
#include "spool_file.h"
#include "trust.h"
#include "unlock.h"

#include "dbk/base64.h"
#include "dbk/error.h"

#include <stdlib.h>
#include <string.h>

#define DRAFT_BYTES_MAX (256 * 1024)

int
dbk_draft_remember_pk(dbk_session *s)
{
    unsigned char have[32];
    size_t n;
    if (s->keys == NULL)
        return DBK_E_INVALID;
    if (dbk_local_get(s->L, DBK_DRAFT_PK, have, sizeof have, &n) == DBK_OK && n == 32 &&
        memcmp(have, s->keys->box_pk, 32) == 0)
        return DBK_OK;
    return dbk_local_put(s->L, DBK_DRAFT_PK, s->keys->box_pk, 32);
}

/* The kept drafts, an array (new reference; [] when none). When none are kept, as at
 * nearly every save (each asks, dbk_prompt_drafts_saved), the lookup with no room
 * finds no row and no buffer is made: its 512 KiB were an mmap and a munmap in every
 * `daybook craving` (issue 20). A value there does not fit in no room, and is read. */
static json_t *
drafts_load(dbk_session *s)
{
    size_t n;
    if (dbk_local_get(s->L, DBK_DRAFT_KEY, NULL, 0, &n) == DBK_E_NOT_FOUND)
        return json_array();
    char *text = malloc(DRAFT_BYTES_MAX * 2);
    json_t *a = NULL;
    if (text != NULL && dbk_local_get_text(s->L, DBK_DRAFT_KEY, text, DRAFT_BYTES_MAX * 2) ==
                            DBK_OK)
        a = json_loads(text, 0, NULL);
    free(text);
    if (!json_is_array(a)) {
        json_decref(a);
        a = json_array();
    }
    return a;
}

static int
drafts_store(dbk_session *s, const json_t *a)
{
    char *text = json_dumps(a, JSON_COMPACT);
    int rc = text ? dbk_local_put_text(s->L, DBK_DRAFT_KEY, text) : DBK_E_NOMEM;
    free(text);
    return rc;
}

int
dbk_draft_keep(dbk_session *s, int kind, const json_t *doc)
{
    unsigned char pk[32], *sealed = NULL;
    char *b64 = NULL;
    size_t n, len, blen;
    json_t *a = NULL;
    int rc;

    if (dbk_local_get(s->L, DBK_DRAFT_PK, pk, sizeof pk, &n) != DBK_OK || n != 32)
        return DBK_E_NOT_FOUND;
    if ((rc = dbk_trust_seal_doc(doc, pk, &sealed, &len)) != DBK_OK)
        return rc;
    blen = DBK_B64_ENCODED_LEN(len) + 1;
    rc = DBK_E_NOMEM;
    if (len > DRAFT_BYTES_MAX || (b64 = malloc(blen)) == NULL)
        goto out;
    if ((rc = dbk_b64_encode(b64, blen, sealed, len)) != DBK_OK)
        goto out;
    a = drafts_load(s);
    if (json_array_size(a) >= DBK_DRAFT_MAX) {
        rc = DBK_E_TOO_LARGE;
        goto out;
    }
    json_array_append_new(a, json_pack("{s:i, s:s}", "kind", kind, "sealed", b64));
    /* The next craving opens the profile, as it did before the spool (spool.h), and so
     * saves the drafts at once: one that went to the spool would leave them waiting. */
    if ((rc = drafts_store(s, a)) == DBK_OK)
        dbk_spool_file_forget(s->dir);
out:
    json_decref(a);
    free(sealed);
    free(b64);
    return rc;
}

size_t
dbk_draft_count(dbk_session *s)
{
    json_t *a = drafts_load(s);
    size_t n = json_array_size(a);
    json_decref(a);
    return n;
}

/* Opens one draft's sealed text into a document (NULL when it does not open). */
static json_t *
draft_open(dbk_session *s, const char *b64)
{
    if (b64 == NULL)
        return NULL;
    size_t cap = DBK_B64_DECODED_MAX(strlen(b64)), n;
    unsigned char *sealed = malloc(cap + 1);
    json_t *doc = NULL;
    if (sealed != NULL && dbk_b64_decode_public(sealed, cap, &n, b64, strlen(b64)) == DBK_OK)
        (void)dbk_trust_open_doc(s, sealed, n, &doc); /* NULL unless an object */
    free(sealed);
    return doc;
}

int
dbk_draft_import(dbk_session *s, size_t *saved)
{
    json_t *a, *left, *d;
    size_t i;
    int rc;

    *saved = 0;
    if ((rc = dbk_unlock(s)) != DBK_OK)
        return rc;
    a = drafts_load(s);
    if (json_array_size(a) == 0) {
        json_decref(a);
        return DBK_OK;
    }
    left = json_array();
    json_array_foreach(a, i, d) {
        json_t *doc = draft_open(s, json_string_value(json_object_get(d, "sealed")));
        int kind = (int)json_integer_value(json_object_get(d, "kind"));
        if (doc != NULL && dbk_entry_save(s, kind, NULL, doc, NULL) == DBK_OK)
            (*saved)++;
        else
            json_array_append(left, d);
        json_decref(doc);
    }
    rc = drafts_store(s, left);
    json_decref(left);
    json_decref(a);
    return rc;
}
