/* Entries: sealed on write, opened on read; see entry.h. */
#include "entry.h"

#include "stream_key.h"
#include "trust.h"
#include "unlock.h"

#include "dbk/base64.h"
#include "dbk/error.h"
#include "dbk/grant.h"
#include "dbk/hlc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


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
    FILE *f;
    if (tz && *tz) {
        snprintf(out, cap, "%s", tz[0] == ':' ? tz + 1 : tz);
        return;
    }
    f = fopen("/etc/timezone", "r");
    if (f && fgets(out, (int)cap, f)) {
        out[strcspn(out, "\n")] = '\0';
        fclose(f);
        return;
    }
    if (f)
        fclose(f);
    snprintf(out, cap, "UTC");
}

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
        size_t ml = strlen(outcome_members[i].member) + 4 + json_dumpb(m, NULL, 0, JSON_COMPACT |
                                                                       JSON_ENCODE_ANY);
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
 * byte); NULL when out of memory. Free with wipe_text. */
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

static int
save_one(dbk_session *s, const dbk_id *stream, const dbk_id *record, json_t *plaintext,
         dbk_id *out_id)
{
    dbk_local_stream st;
    dbk_envelope_hdr h;
    unsigned char key[32], *env = NULL;
    size_t len, tlen = 0;
    char *text;
    bool cur;
    int rc;

    if ((rc = dbk_unlock(s)) != DBK_OK || (rc = dbk_local_stream_get(s->L, stream, &st)) != DBK_OK ||
        (rc = dbk_stream_key(s, &st.id, st.epoch, key)) != DBK_OK)
        return rc;
    memset(&h, 0, sizeof h);
    h.stream = st.id;
    if (record != NULL)
        h.record = *record;
    else
        dbk_id_random(&h.record);
    /* The clock, the revision and its place in the outbox in one transaction: one
     * commit (one fsync of the log) per entry, and never a record left with no current
     * revision if the process dies between demoting the old one and storing this. */
    bool own = !dbk_local_in_tx(s->L);
    if (own && (rc = dbk_local_begin(s->L)) != DBK_OK) {
        sodium_memzero(key, sizeof key);
        return rc;
    }
    /* A new record (or the stream head) takes a clock to the minute; an edit to the
     * millisecond, so that the later of two devices' edits wins (store/session.h). */
    dbk_id head;
    dbk_trust_head_id(stream, &head);
    bool coarse = record == NULL || dbk_id_equal(record, &head);
    if ((rc = dbk_session_clock(s, coarse, &h.rev.clock)) != DBK_OK) {
        sodium_memzero(key, sizeof key);
        if (own)
            dbk_local_rollback(s->L);
        return rc;
    }
    h.rev.device = s->device;
    h.epoch = st.epoch;
    h.author = s->account;
    text = padded_text(plaintext, &tlen);
    if (text == NULL) {
        sodium_memzero(key, sizeof key);
        if (own)
            dbk_local_rollback(s->L);
        return DBK_E_NOMEM;
    }
    rc = dbk_envelope_seal(&h, key, s->keys->sign_sk, (const unsigned char *)text, tlen, NULL,
                           &env, &len);
    sodium_memzero(key, sizeof key);
    sodium_memzero(text, tlen);
    free(text);
    if (rc == DBK_OK)
        rc = dbk_local_record_put(s->L, env, len, 0, true, &cur);
    free(env);
    if (own && rc == DBK_OK)
        rc = dbk_local_commit(s->L);
    if (own && rc != DBK_OK)
        dbk_local_rollback(s->L);
    if (rc == DBK_OK && out_id != NULL)
        *out_id = h.record;
    return rc;
}

/*
 * The stream head (proto/TRUST.md T12): after a write that added a record id to one of
 * this account's own streams, the count of ids held here and of those this account
 * wrote, signed as the head record.
 * Its clock is greater than the record's, so the outbox sends it after the records it
 * counts.
 */
static int
save_head(dbk_session *s, const dbk_id *stream)
{
    dbk_local_stream st;
    dbk_id head;
    int64_t count, own;
    int rc;
    if ((rc = dbk_local_stream_get(s->L, stream, &st)) != DBK_OK)
        return rc;
    if (!dbk_id_equal(&st.owner, &s->account) || !dbk_trust_head_due(s, stream, &count, &own))
        return DBK_OK;
    dbk_trust_head_id(stream, &head);
    json_t *doc = json_pack("{s:s, s:i, s:I, s:I}", "type", "head", "v", 1, "records",
                            (json_int_t)count, "own", (json_int_t)own);
    if (doc == NULL)
        return DBK_E_NOMEM;
    rc = save_one(s, stream, &head, doc, NULL);
    json_decref(doc);
    return rc == DBK_OK ? dbk_trust_head_written(s, stream, count) : rc;
}

int
dbk_entry_save_in(dbk_session *s, const dbk_id *stream, const dbk_id *record, json_t *plaintext,
                  dbk_id *out_id)
{
    dbk_id head;
    bool own = !dbk_local_in_tx(s->L);
    int rc;
    dbk_trust_head_id(stream, &head);
    if (record != NULL && dbk_id_equal(record, &head))
        return DBK_E_INVALID; /* the head is written here only */
    if ((rc = dbk_unlock(s)) != DBK_OK)
        return rc;
    if (own && (rc = dbk_local_begin(s->L)) != DBK_OK)
        return rc;
    if ((rc = save_one(s, stream, record, plaintext, out_id)) == DBK_OK)
        rc = save_head(s, stream);
    if (own && rc == DBK_OK)
        rc = dbk_local_commit(s->L);
    if (own && rc != DBK_OK)
        dbk_local_rollback(s->L);
    return rc;
}

int
dbk_entry_save(dbk_session *s, int kind, const dbk_id *record, json_t *plaintext, dbk_id *out_id)
{
    dbk_local_stream st;
    int rc;

    if ((rc = dbk_unlock(s)) != DBK_OK ||
        (rc = dbk_local_stream_of(s->L, &s->account, kind, &st)) != DBK_OK)
        return rc == DBK_E_NOT_FOUND ? DBK_E_CORRUPT : rc;
    rc = dbk_entry_save_in(s, &st.id, record, plaintext, out_id);
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
             * next record written in its stream signs a fresh one. */
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
