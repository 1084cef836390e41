/* The craving spool: appended without the profile, folded into it; see spool.h. */
#include "spool.h"

#include "seal.h"
#include "spool_file.h"
#include "unlock.h"

#include "dbk/bytes.h"
#include "dbk/error.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AD_BYTES 20 /* the record's id and kind (bytes 8 to 27 of its head) */

static dbk_spool_news news;

const dbk_spool_news *
dbk_spool_news_get(void)
{
    return &news;
}

bool
dbk_spool_take(dbk_spool_file *f, const char *dir)
{
    /* Taken for good (lock, header, records) in one open: a first look at the header
     * alone, then the same file opened again for the append, cost a craving four
     * more system calls and the header's check twice. */
    if (dbk_spool_file_open(f, dir, false) != DBK_OK)
        return false;
    if (f->header_here && f->role == DBK_ROLE_CLIENT)
        return true;
    dbk_spool_file_close(f);
    return false;
}

/* Whether r opens under key (into *doc when doc is not NULL). */
static bool
rec_open(const unsigned char key[32], const dbk_spool_rec *r, json_t **doc)
{
    return dbk_trust_spool_open(key, r->nonce, r->head + 8, AD_BYTES, r->body, r->len, doc) ==
           DBK_OK;
}

int
dbk_spool_add(dbk_spool_file *f, int kind, const json_t *doc, dbk_id *id)
{
    unsigned char key[32], nonce[DBK_SPOOL_NONCE_BYTES], ad[AD_BYTES], head[DBK_SPOOL_REC_HEAD],
        *body = NULL;
    size_t len;
    int rc;

    if (dbk_unlock_spool_key(&f->account, key) != DBK_OK)
        return DBK_E_NOT_FOUND;
    /* The last record is whole by its length; one whose bytes do not open is torn (its
     * process died before the sync) and the append cuts it off: never acknowledged. */
    if (f->n > 0 && !rec_open(key, &f->recs[f->n - 1], NULL)) {
        f->good_end = (size_t)(f->recs[f->n - 1].head - f->data);
        f->n--;
    }
    dbk_id_random(id);
    randombytes_buf(nonce, sizeof nonce);
    memcpy(ad, id->b, DBK_ID_BYTES);
    dbk_put_u32(ad + DBK_ID_BYTES, (uint32_t)kind);
    rc = dbk_trust_spool_seal(key, nonce, ad, sizeof ad, doc, &body, &len);
    sodium_memzero(key, sizeof key);
    if (rc == DBK_OK) {
        dbk_spool_file_rec_head(head, id, (uint32_t)kind, nonce, len);
        rc = dbk_spool_file_append(f, head, body, len);
    }
    free(body);
    return rc;
}

static void count_rev(const dbk_local_record *r, void *arg);

size_t
dbk_spool_count(dbk_session *s)
{
    dbk_spool_file f;
    size_t n = 0;
    /* As a fold would take them: all but another account's (a header that no longer
     * checks still folds what is under it). */
    if (dbk_spool_file_open(&f, s->dir, false) == DBK_OK &&
        !(f.header_ok && !dbk_id_equal(&f.account, &s->account))) {
        for (size_t i = 0; i < f.n; i++) {
            size_t held = 0;
            if (dbk_local_revisions(s->L, &f.recs[i].id, count_rev, &held) == DBK_OK && held == 0)
                n++;
        }
    }
    dbk_spool_file_close(&f);
    return n;
}

static void
count_rev(const dbk_local_record *r, void *arg)
{
    (void)r;
    (*(size_t *)arg)++;
}

/* The first revision of record, the id a spooled craving was given, into this
 * account's stream of kind, in the fold's write transaction (which checked that no
 * revision of it is held): as dbk_entry_save saves a new entry, under that id. */
static int
save_new(dbk_session *s, int kind, const dbk_id *record, json_t *plaintext)
{
    dbk_local_stream st;
    int rc = dbk_local_stream_of(s->L, &s->account, kind, &st);
    if (rc != DBK_OK)
        return rc == DBK_E_NOT_FOUND ? DBK_E_CORRUPT : rc;
    return dbk_trust_seal_put_new(s, &st, record, plaintext);
}

/* Saves f's cravings in s's profile in one transaction; a craving already held (a fold
 * that died between its commit and the cut) is skipped. *torn: the last record did not
 * open, though its header says the key is right (else it is kept); *kept: others that
 * did not. */
static int
fold_records(dbk_session *s, dbk_spool_file *f, size_t *folded, bool *torn, size_t *kept)
{
    bool key_right = f->header_ok && dbk_id_equal(&f->account, &s->account);
    unsigned char key[32];
    int rc;

    if ((rc = dbk_unlock_spool_key_of(s, key)) != DBK_OK) /* unlocked before the lock */
        return rc;
    if ((rc = dbk_local_begin(s->L)) != DBK_OK) {
        sodium_memzero(key, sizeof key);
        return rc;
    }
    for (size_t i = 0; i < f->n && rc == DBK_OK; i++) {
        const dbk_spool_rec *r = &f->recs[i];
        size_t held = 0;
        json_t *doc;
        if (!rec_open(key, r, &doc) ||
            (r->kind != DBK_LOCAL_SHARED && r->kind != DBK_LOCAL_PRIVATE)) {
            json_decref(doc);
            if (i + 1 == f->n && key_right)
                *torn = true;
            else
                (*kept)++;
            continue;
        }
        rc = dbk_local_revisions(s->L, &r->id, count_rev, &held);
        if (rc == DBK_OK && held == 0 && (rc = save_new(s, (int)r->kind, &r->id, doc)) == DBK_OK)
            (*folded)++;
        json_decref(doc);
    }
    sodium_memzero(key, sizeof key);
    if (rc == DBK_OK)
        rc = dbk_local_commit(s->L);
    if (rc != DBK_OK)
        dbk_local_rollback(s->L);
    return rc;
}

int
dbk_spool_fold(dbk_session *s, size_t *folded)
{
    dbk_spool_file f;
    size_t n = 0, kept = 0;
    bool torn = false;
    int rc;

    if (folded != NULL)
        *folded = 0;
    if (s->role == DBK_ROLE_COUNSELOR) { /* none is spooled: a header left says so */
        dbk_spool_file_forget(s->dir);
        return DBK_OK;
    }
    if ((rc = dbk_spool_file_open(&f, s->dir, s->role == DBK_ROLE_CLIENT)) != DBK_OK)
        return rc == DBK_E_NOT_FOUND ? DBK_OK : rc;
    (void)dbk_spool_file_path(s->dir, news.path, sizeof news.path); /* opened: it fits */
    if (f.header_ok && !dbk_id_equal(&f.account, &s->account) && f.n > 0) {
        /* Another account's cravings (a profile made anew over an old spool): never
         * opened, never cut, never spooled to again. */
        news.foreign = true;
        dbk_spool_file_close(&f);
        return DBK_OK;
    }
    if (f.n > 0 && s->keys == NULL) {
        /* The passphrase is never asked under the spool's lock: a craving logged
         * meanwhile would wait on it until the passphrase is typed. Unlocked, the spool
         * is read again (another process may have folded or appended meanwhile). */
        dbk_spool_file_close(&f);
        if ((rc = dbk_unlock(s)) != DBK_OK)
            return rc;
        return dbk_spool_fold(s, folded);
    }
    if (f.n > 0)
        rc = fold_records(s, &f, &n, &torn, &kept);
    if (torn) /* the last record is the torn tail */
        f.good_end = (size_t)(f.recs[f.n - 1].head - f.data);
    torn |= f.size > f.good_end;
    if (rc == DBK_OK && s->role == DBK_ROLE_CLIENT)
        rc = dbk_spool_file_set_header(&f, s->dir, s->role, &s->account);
    /* Only after the commit: a crash before this cut folds the same cravings again,
     * and each is then found held and skipped. With a craving kept (one that does not
     * open) nothing whole is cut. */
    if (rc == DBK_OK)
        rc = dbk_spool_file_cut(&f, kept > 0);
    if (rc == DBK_OK) {
        news.torn += torn;
        news.kept = kept;
    }
    dbk_spool_file_close(&f);
    if (folded != NULL)
        *folded = n;
    return rc;
}
