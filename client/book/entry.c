/* Entries: sealed on write, opened on read; see entry.h. */
#include "entry.h"

#include "seal.h"
#include "spool.h"
#include "stream_key.h"
#include "trust.h"
#include "unlock.h"

#include "dbk/base64.h"
#include "dbk/error.h"
#include "dbk/grant.h"
#include "dbk/hlc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void
dbk_now_rfc3339(char out[40])
{
    time_t t = time(NULL);
    struct tm tm;
    char off[8];
    localtime_r(&t, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(off, sizeof off, "%z", &tm); /* +hhmm */
    snprintf(out + strlen(out), 40 - strlen(out), "%.3s:%.2s", off, off + 3);
}

void
dbk_local_tz(char *out, size_t cap)
{
    const char *tz = getenv("TZ");
    ssize_t n = -1;
    int fd;
    if (tz && *tz) {
        snprintf(out, cap, "%s", tz[0] == ':' ? tz + 1 : tz);
        return;
    }
    /* One read, not stdio's buffer and fstat: a craving reads this on its way to the
     * spool. Its first line, as fgets took it. */
    if (cap > 1 && (fd = open("/etc/timezone", O_RDONLY | O_CLOEXEC)) >= 0) {
        n = read(fd, out, cap - 1);
        close(fd);
    }
    if (n > 0) {
        out[n] = '\0';
        out[strcspn(out, "\n")] = '\0';
        return;
    }
    snprintf(out, cap, "UTC");
}

/* Saves into the stream with this id, or (stream NULL) this account's stream of kind,
 * read inside the write transaction with its key: one read of the log's index and its
 * locks, not one for each statement, and the epoch sealed under is the current one. */
static int
save(dbk_session *s, const dbk_id *stream, int kind, const dbk_id *record, json_t *plaintext,
     dbk_id *out_id)
{
    dbk_local_stream st;
    dbk_id head;
    bool own = !dbk_local_in_tx(s->L);
    int rc;
    if ((rc = dbk_unlock(s)) != DBK_OK) /* before the write lock: no prompt while it is held */
        return rc;
    if (own && (rc = dbk_local_begin(s->L)) != DBK_OK)
        return rc;
    rc = stream != NULL ? dbk_local_stream_get(s->L, stream, &st)
                        : dbk_local_stream_of(s->L, &s->account, kind, &st);
    if (rc == DBK_OK && record != NULL) {
        dbk_trust_head_id(&st.id, &head);
        if (dbk_id_equal(record, &head))
            rc = DBK_E_INVALID; /* the stream head is written by sync alone (trust/heads.c) */
    }
    if (rc == DBK_OK)
        rc = dbk_trust_seal_put(s, &st, record, record == NULL, plaintext, out_id);
    if (own && rc == DBK_OK)
        rc = dbk_local_commit(s->L);
    if (own && rc != DBK_OK)
        dbk_local_rollback(s->L);
    return rc;
}

int
dbk_entry_save_in(dbk_session *s, const dbk_id *stream, const dbk_id *record, json_t *plaintext,
                  dbk_id *out_id)
{
    return save(s, stream, 0, record, plaintext, out_id);
}

int
dbk_entry_save(dbk_session *s, int kind, const dbk_id *record, json_t *plaintext, dbk_id *out_id)
{
    int rc = save(s, NULL, kind, record, plaintext, out_id);
    return rc == DBK_E_NOT_FOUND ? DBK_E_CORRUPT : rc;
}

/* ---- reading ---- */

struct open_ctx {
    dbk_session *s;
    dbk_entry_cb cb;
    void *arg;
    dbk_entry_want want; /* NULL: every record */
    void *want_arg;
    dbk_entry_cached cached; /* NULL: every record opened */
    void *cached_arg;
    size_t bad;
    int rc;
    /* The stream and the author's key of the previous entry: entries come in clock
     * order, mostly from one or two streams, so most need no store lookup. */
    bool have_st, have_pk;
    dbk_local_stream st;
    dbk_id pk_of;
    unsigned char pk[32];
};

static void
open_one(const dbk_local_record *r, void *arg)
{
    struct open_ctx *o = arg;
    unsigned char key[32], *plain;
    size_t plen;
    dbk_entry e;

    if (o->rc != DBK_OK || (o->want != NULL && !o->want(r, o->want_arg)))
        return;
    if (!o->have_st || !dbk_id_equal(&o->st.id, &r->hdr.stream)) {
        o->have_st = dbk_local_stream_get(o->s->L, &r->hdr.stream, &o->st) == DBK_OK;
        if (!o->have_st)
            return;
    }
    if (o->cached != NULL && (e.doc = o->cached(r, o->cached_arg)) != NULL)
        goto opened;
    if (!o->have_pk || !dbk_id_equal(&o->pk_of, &r->hdr.author)) {
        /* A pin that is damaged opens nothing: counted as not opened, and said. */
        o->have_pk = dbk_trust_sign_pk(o->s, &r->hdr.author, o->pk) == DBK_OK;
        if (!o->have_pk) {
            o->bad++;
            return;
        }
        o->pk_of = r->hdr.author;
    }
    if (dbk_stream_key(o->s, &r->hdr.stream, r->hdr.epoch, key) != DBK_OK) {
        o->bad++;
        return;
    }
    dbk_envelope_expect x = {&r->hdr.stream, &r->hdr.record, r->hdr.epoch, &r->hdr.author, o->pk};
    if (dbk_envelope_open(r->env, r->len, &x, key, &plain, &plen) != DBK_OK) {
        sodium_memzero(key, sizeof key);
        o->bad++;
        return;
    }
    sodium_memzero(key, sizeof key);
    e.doc = json_loadb((const char *)plain, plen, 0, NULL);
    dbk_plaintext_free(plain, plen);
opened:
    e.hdr = r->hdr;
    e.pending = r->pending;
    e.kind = o->st.kind;
    e.owner = o->st.owner;
    dbk_doc_kind k = dbk_trust_doc_kind(e.doc); /* a stream head is skipped */
    if (k == DBK_DOC_BAD)
        o->bad++;
    else if (k == DBK_DOC_ENTRY)
        o->cb(&e, o->arg);
    json_decref(e.doc);
}

/* Of the streams this account or owner owns, or of stream alone (its index gives the
 * clock order, so no sort of every envelope: owner NULL then). */
static int
entries_cached(dbk_session *s, const dbk_id *owner, const dbk_id *stream, dbk_entry_want want,
               void *want_arg, dbk_entry_cached cached, void *cached_arg, dbk_entry_cb cb,
               void *arg, size_t *bad)
{
    struct open_ctx o;
    int rc = dbk_unlock(s);

    /* Whatever reads this account's entries sees the cravings spooled since (spool.h). */
    if (rc == DBK_OK && s->role != DBK_ROLE_COUNSELOR && !dbk_local_in_tx(s->L))
        (void)dbk_spool_fold(s, NULL);

    memset(&o, 0, sizeof o);
    o.s = s, o.cb = cb, o.arg = arg, o.rc = DBK_OK;
    o.want = want, o.want_arg = want_arg;
    o.cached = cached, o.cached_arg = cached_arg;
    if (rc == DBK_OK)
        rc = stream ? dbk_local_records_of(s->L, stream, open_one, &o)
             : owner ? dbk_local_records_owned(s->L, &s->account, owner, open_one, &o)
                     : dbk_local_records(s->L, NULL, open_one, &o);
    if (bad != NULL)
        *bad = o.bad;
    return rc != DBK_OK ? rc : o.rc;
}

/* Every entry (owner NULL), or those of the streams this account or owner owns. */
static int
entries_of(dbk_session *s, const dbk_id *owner, dbk_entry_want want, void *want_arg,
           dbk_entry_cb cb, void *arg, size_t *bad)
{
    return entries_cached(s, owner, NULL, want, want_arg, NULL, NULL, cb, arg, bad);
}

int
dbk_entries(dbk_session *s, dbk_entry_cb cb, void *arg, size_t *bad)
{
    return entries_of(s, NULL, NULL, NULL, cb, arg, bad);
}

int
dbk_entries_owned(dbk_session *s, const dbk_id *owner, dbk_entry_cb cb, void *arg, size_t *bad)
{
    return entries_of(s, owner, NULL, NULL, cb, arg, bad);
}

int
dbk_entries_owned_where(dbk_session *s, const dbk_id *owner, dbk_entry_want want,
                        void *want_arg, dbk_entry_cb cb, void *arg, size_t *bad)
{
    return entries_of(s, owner, want, want_arg, cb, arg, bad);
}

int
dbk_entries_of_stream(dbk_session *s, const dbk_id *stream, dbk_entry_want want, void *want_arg,
                      dbk_entry_cached cached, void *cached_arg, dbk_entry_cb cb, void *arg,
                      size_t *bad)
{
    return entries_cached(s, NULL, stream, want, want_arg, cached, cached_arg, cb, arg, bad);
}

/* ---- revisions written while this device's clock was far ahead ---- */

struct ahead {
    uint64_t limit_ms;
    const dbk_id *me;
    unsigned char **env;
    size_t *len, n, cap;
    int rc;
};

static void
collect_ahead(const dbk_local_record *r, void *arg)
{
    struct ahead *a = arg;
    if (a->rc != DBK_OK || dbk_hlc_ms(r->hdr.rev.clock) <= a->limit_ms || r->seq != 0 ||
        !dbk_id_equal(&r->hdr.author, a->me))
        return;
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 8;
        unsigned char **e = realloc(a->env, cap * sizeof *e);
        size_t *l = e ? realloc(a->len, cap * sizeof *l) : NULL;
        if (e) a->env = e;
        if (l) a->len = l;
        if (e == NULL || l == NULL) {
            a->rc = DBK_E_NOMEM;
            return;
        }
        a->cap = cap;
    }
    if ((a->env[a->n] = malloc(r->len)) == NULL) {
        a->rc = DBK_E_NOMEM;
        return;
    }
    memcpy(a->env[a->n], r->env, r->len);
    a->len[a->n++] = r->len;
}

struct restamp {
    dbk_session *s;
    int rc;
};

/* Drops the far-ahead revision and writes its plaintext again with a clock from now. */
static void
restamp_one(const dbk_entry *e, void *arg)
{
    struct restamp *t = arg;
    if (t->rc == DBK_OK)
        t->rc = dbk_local_revision_drop_pending(t->s->L, &e->hdr.record, &e->hdr.rev);
    if (t->rc == DBK_OK)
        t->rc = dbk_entry_save_in(t->s, &e->hdr.stream, &e->hdr.record, e->doc, NULL);
}

int
dbk_entry_restamp_ahead(dbk_session *s, size_t *n)
{
    struct ahead a = {.limit_ms = dbk_hlc_wall_ms() + DBK_HLC_MAX_DRIFT_MS, .me = &s->account};
    struct restamp t = {s, DBK_OK};
    int rc;

    *n = 0;
    rc = dbk_local_outbox(s->L, SIZE_MAX / 2, collect_ahead, &a);
    if (rc == DBK_OK)
        rc = a.rc;
    if (rc == DBK_OK && a.n > 0 && (rc = dbk_unlock(s)) == DBK_OK &&
        (rc = dbk_local_begin(s->L)) == DBK_OK) {
        struct open_ctx o;
        for (size_t i = 0; i < a.n && t.rc == DBK_OK; i++) {
            dbk_local_record r = {.env = a.env[i], .len = a.len[i], .pending = true};
            dbk_id head;
            if ((t.rc = dbk_envelope_parse(a.env[i], a.len[i], &r.hdr)) != DBK_OK)
                break;
            /* A stream head written while the clock was ahead is bookkeeping, not an entry
             * (open_one skips it): it goes, or it would wait in the outbox for good; the
             * first sync after a record is added to its stream signs a fresh one. */
            dbk_trust_head_id(&r.hdr.stream, &head);
            if (dbk_id_equal(&r.hdr.record, &head)) {
                t.rc = dbk_local_revision_drop_pending(s->L, &r.hdr.record, &r.hdr.rev);
                continue;
            }
            memset(&o, 0, sizeof o);
            o.s = s, o.cb = restamp_one, o.arg = &t, o.rc = DBK_OK;
            open_one(&r, &o);
            if (o.bad > 0)
                t.rc = DBK_E_CORRUPT; /* its own entry that does not open: leave it be */
        }
        rc = t.rc == DBK_OK ? dbk_local_commit(s->L) : t.rc;
        if (rc != DBK_OK)
            dbk_local_rollback(s->L);
        else
            *n = a.n;
    }
    for (size_t i = 0; i < a.n; i++)
        free(a.env[i]);
    free(a.env);
    free(a.len);
    return rc;
}
