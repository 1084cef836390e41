/*
 * Records: push, pull and multi-stream sync (proto/README.md sections 9–12).
 *
 * The loop thread decodes and parses envelopes (structure only); the worker
 * checks access, authorship and signatures, then stores or reads. A push is one
 * all-or-nothing unit per stream, acknowledged only after the group commit.
 * Every stored write and every read that returned records is audited.
 *
 * Signatures are most of a push's CPU (an Ed25519 verify costs several times a
 * row insert), and the worker is one thread that also commits. So before a push
 * is queued for the worker, if its token authenticated lately, the caller's own
 * envelopes are verified with the caller's key on the worker's prep threads
 * (worker.h), in parallel with the storage thread and with each other, in up to
 * VERIFY_JOBS_MAX preps per push so one large push uses every core; the last one
 * queues the push for the storage thread without going back through the loop. A
 * token issued by enroll or login counts as lately authenticated (api.c), so a
 * device's first push is no exception. The worker
 * skips its own verify only for an
 * envelope that was verified with exactly the key it would use (the caller's, or
 * the author's from the store); every other envelope it verifies as before, so
 * what is accepted, and the order in which errors are found, do not change.
 *
 * Pull responses (and the pull part of sync) are written as JSON text on the
 * worker, straight from the rows, not built as jansson trees and dumped on the
 * loop: the envelopes' base64url is most of the bytes and needs no escaping, and a
 * tree of 500 records cost more than reading them (and more memory per request).
 */
#include "api.h"
#include "authcache.h"
#include "dbk/fastjson.h"
#include "heads.h"

#include "dbk/base64.h"
#include "dbk/hlc.h"
#include "dbk/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RECORDS_PER_PUSH 500
#define MAX_SYNC_ENTRIES 256
#define PULL_LIMIT_DEFAULT 500
#define PULL_LIMIT_MAX 1000
#define PULL_BYTES_DEFAULT 1048576
#define PULL_BYTES_MAX 4194304

/* One stream's push, decoded on the loop thread. */
struct push_unit {
    dbk_id stream;
    dbk_push_item *items;
    unsigned char **envs; /* owned copies of the decoded envelopes */
    size_t n;
    /* Checked on a prep thread: the key tried for item i, and whether its
     * signature verified with it. */
    unsigned char (*pre_pk)[32];
    bool *pre_tried, *pre_ok;
    bool seen;     /* stored: head is the stream's head after it (heads.h) */
    dbk_head head;
    /* Stored by its owner: the stream's row as the push left it, which a pull of the
     * same stream in the same job reads again otherwise (run_pull), and the group's
     * commits part way (dbk_store_tx_splits) when the push was done. */
    bool by_owner;
    dbk_stream str;
    int64_t splits;
    /* The same sync pulls this stream (set by op_sync): the read row that pull writes
     * when its owner reads records is charged with the push's records, one statement
     * (read_charged) where the store can; the pull then writes the row uncharged, or
     * gives the bytes back when it writes none (run_pull, read_refund). */
    bool read_after, read_charged;
    /* A sync's push that names an earlier one (after: its index): stored only if that
     * one was (seen), else refused whole with prerequisite_failed (op_sync). */
    bool has_after;
    size_t after;
};

struct pull_unit {
    dbk_id stream;
    int64_t since;
    bool seen;     /* answered: head is the stream's head it read (heads.h) */
    dbk_head head;
};

/* One prep of the verify stage: the push's items tried on a prep thread (pre_tried),
 * from the from-th of them to before the to-th, counted across its units in order.
 * Counting only those, every chunk has signatures to verify (submit_records). */
struct verify_chunk {
    dbk_prep prep; /* first: the worker's view */
    dbk_api_job *job;
    size_t from, to;
};

/* A push is verified in at most this many jobs, each of at least VERIFY_CHUNK_MIN
 * signatures: enough to keep every core busy for one large push, few enough that
 * the jobs' overhead stays out of the profile. */
#define VERIFY_JOBS_MAX 4
#define VERIFY_CHUNK_MIN 8

struct records_ctx {
    struct verify_chunk verify[VERIFY_JOBS_MAX]; /* the prep stage */
    struct push_unit *push;
    size_t npush;
    struct pull_unit *pull;
    size_t npull;
    int64_t limit, max_bytes;
};

static void
push_unit_clear(struct push_unit *u)
{
    for (size_t i = 0; i < u->n; i++)
        free(u->envs[i]);
    free(u->items); /* the block of all five arrays (unit_arrays) */
}

/* u's five arrays of n, zeroed, in one allocation that u->items starts (a push of one
 * record made five before; the order keeps each array aligned). */
static bool
unit_arrays(struct push_unit *u, size_t n)
{
    size_t each = sizeof *u->items + sizeof *u->envs + sizeof *u->pre_pk + sizeof *u->pre_tried +
                  sizeof *u->pre_ok;
    unsigned char *m = calloc(n, each);
    if (m == NULL)
        return false;
    u->items = (dbk_push_item *)m;
    u->envs = (unsigned char **)(m + n * sizeof *u->items);
    u->pre_pk = (unsigned char(*)[32])((unsigned char *)(u->envs + n));
    u->pre_tried = (bool *)(u->pre_pk + n);
    u->pre_ok = u->pre_tried + n;
    return true;
}

static void
ctx_free(void *p)
{
    struct records_ctx *c = p;
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->npush; i++)
        push_unit_clear(&c->push[i]);
    free(c->push);
    free(c->pull);
    free(c);
}

/* Decodes {"records": [...]}-style items into u. Returns DBK_OK or the 4xx error. */
static int
decode_push(json_t *records, const dbk_id *stream, struct push_unit *u, size_t *budget)
{
    static const char *const item_keys[] = {"envelope", "expected", NULL};
    size_t i, n = json_array_size(records);
    json_t *it;
    int rc;

    if (!json_is_array(records) || n == 0)
        return DBK_E_BAD_FIELD;
    if (n > *budget)
        return DBK_E_TOO_MANY_RECORDS;
    *budget -= n;
    u->stream = *stream;
    if (!unit_arrays(u, n))
        return DBK_E_NOMEM;
    json_array_foreach(records, i, it) {
        dbk_push_item *p = &u->items[i];
        json_t *exp;
        if (!json_is_object(it))
            return DBK_E_BAD_FIELD;
        if ((rc = dbk_api_only(it, item_keys)) != DBK_OK)
            return rc;
        if ((rc = dbk_api_bytes(it, "envelope", DBK_ENV_MAX_BYTES, &u->envs[i], &p->len)) !=
            DBK_OK)
            return rc;
        u->n = i + 1;
        p->env = u->envs[i];
        if ((rc = dbk_envelope_parse(p->env, p->len, &p->hdr)) != DBK_OK)
            return rc;
        if (!dbk_id_equal(&p->hdr.stream, stream))
            return DBK_E_BAD_ENVELOPE;
        exp = json_object_get(it, "expected");
        if (exp == NULL) {
            p->expect_kind = DBK_EXPECT_ANY;
        } else if (json_is_string(exp) && strcmp(json_string_value(exp), "none") == 0) {
            p->expect_kind = DBK_EXPECT_NONE;
        } else {
            p->expect_kind = DBK_EXPECT_REVISION;
            if ((rc = dbk_api_revision(exp, &p->expect)) != DBK_OK)
                return rc;
        }
    }
    return DBK_OK;
}

/* ---- the fast path of a push or sync body (fastjson.h) ----
 *
 * The usual bodies are read straight from the request's bytes, the envelopes
 * decoded with the table decoder (they are public bytes). Whatever does not fit
 * the narrow shape, or fails any check, makes the caller drop what was filled and
 * take the jansson path above, which then finds (and names) the error: so both
 * paths accept exactly the same bodies with the same meaning. */

struct span {
    const char *s;
    size_t n;
};

/* [{"envelope": "..."}, ...] into u. */
static bool
fast_records(dbk_fj *x, const dbk_id *stream, struct push_unit *u, size_t *budget)
{
    struct span local[16], *sp = local; /* on the heap past 16 items */
    size_t n = 0, cap = sizeof local / sizeof *local;
    bool ok = false;

    if (!dbk_fj_take(x, '[') || dbk_fj_peek(x, ']'))
        return false;
    do {
        const char *k, *v;
        size_t kn, vn;
        if (!dbk_fj_take(x, '{') || !dbk_fj_str(x, &k, &kn) || !dbk_fj_is(k, kn, "envelope") ||
            !dbk_fj_take(x, ':') || !dbk_fj_str_raw(x, &v, &vn) || !dbk_fj_take(x, '}') ||
            n == *budget || vn > DBK_B64_ENCODED_LEN(DBK_ENV_MAX_BYTES))
            goto out;
        if (n == cap) {
            struct span *m = realloc(sp == local ? NULL : sp, cap * 2 * sizeof *sp);
            if (m == NULL)
                goto out;
            if (sp == local)
                memcpy(m, local, sizeof local);
            sp = m;
            cap *= 2;
        }
        sp[n].s = v;
        sp[n++].n = vn;
    } while (dbk_fj_take(x, ','));
    if (!dbk_fj_take(x, ']'))
        goto out;
    u->stream = *stream;
    if (!unit_arrays(u, n))
        goto out;
    for (size_t i = 0; i < n; i++) {
        dbk_push_item *p = &u->items[i];
        if ((u->envs[i] = malloc(DBK_B64_DECODED_MAX(sp[i].n) + 1)) == NULL)
            goto out;
        u->n = i + 1;
        p->env = u->envs[i];
        if (dbk_b64_decode_public(u->envs[i], DBK_B64_DECODED_MAX(sp[i].n) + 1, &p->len,
                                  sp[i].s, sp[i].n) != DBK_OK ||
            dbk_envelope_parse(p->env, p->len, &p->hdr) != DBK_OK ||
            !dbk_id_equal(&p->hdr.stream, stream))
            goto out;
        p->expect_kind = DBK_EXPECT_ANY;
    }
    *budget -= n;
    ok = true;
out:
    if (sp != local)
        free(sp);
    return ok;
}

/* Grows an array of units by one zeroed element; NULL when out of memory. Room is
 * doubled when full (4, 8, 16...), so a sync of n streams costs log n allocations,
 * not one per stream. */
static void *
grow(void **arr, size_t *n, size_t size)
{
    unsigned char *m = *arr;
    if (*n == 0 || (*n >= 4 && (*n & (*n - 1)) == 0)) {
        if ((m = realloc(*arr, (*n == 0 ? 4 : *n * 2) * size)) == NULL)
            return NULL;
        *arr = m;
    }
    memset(m + *n * size, 0, size);
    return m + (*n)++ * size;
}

static bool
fast_id(dbk_fj *x, dbk_id *id)
{
    const char *s;
    size_t n;
    return dbk_fj_str(x, &s, &n) && dbk_id_from_text(id, s, n) == DBK_OK;
}

/* The index of stream's push among c's first upto pushes, or upto when none is. */
static size_t
push_index(const struct records_ctx *c, const dbk_id *stream, size_t upto)
{
    size_t k = 0;
    while (k < upto && !dbk_id_equal(&c->push[k].stream, stream))
        k++;
    return k;
}

/* Sets u (the last of c's pushes) to follow the push of stream after, which must come
 * before it in the same sync; false when none does (itself included). */
static bool
after_index(const struct records_ctx *c, const dbk_id *after, struct push_unit *u)
{
    size_t k = push_index(c, after, c->npush - 1);
    if (k == c->npush - 1)
        return false;
    u->has_after = true;
    u->after = k;
    return true;
}

/* {"stream": "...", "records": [...][, "after": "..."]} of a sync, in that order (as
 * clients write it). */
static bool
fast_sync_push(dbk_fj *x, struct records_ctx *c, size_t *budget)
{
    const char *k;
    size_t kn;
    dbk_id stream;
    struct push_unit *u;

    if (!dbk_fj_take(x, '{') || !dbk_fj_str(x, &k, &kn) || !dbk_fj_is(k, kn, "stream") ||
        !dbk_fj_take(x, ':') || !fast_id(x, &stream) || !dbk_fj_take(x, ',') ||
        !dbk_fj_str(x, &k, &kn) || !dbk_fj_is(k, kn, "records") || !dbk_fj_take(x, ':'))
        return false;
    if (push_index(c, &stream, c->npush) < c->npush)
        return false; /* a stream at most once: the jansson path names the error */
    if ((u = grow((void **)&c->push, &c->npush, sizeof *c->push)) == NULL ||
        !fast_records(x, &stream, u, budget))
        return false;
    /* [, "after": "..."]: a stream pushed earlier in this sync (else the jansson path
     * names the error). */
    if (dbk_fj_take(x, ',')) {
        dbk_id after;
        if (!dbk_fj_str(x, &k, &kn) || !dbk_fj_is(k, kn, "after") || !dbk_fj_take(x, ':') ||
            !fast_id(x, &after) || !after_index(c, &after, u))
            return false;
    }
    return dbk_fj_take(x, '}');
}

/* {"stream": "..."[, "since": N]} of a sync, in that order. */
static bool
fast_sync_pull(dbk_fj *x, struct records_ctx *c)
{
    struct pull_unit p = {.since = 0}, *d;
    const char *k;
    size_t kn;

    if (!dbk_fj_take(x, '{') || !dbk_fj_str(x, &k, &kn) || !dbk_fj_is(k, kn, "stream") ||
        !dbk_fj_take(x, ':') || !fast_id(x, &p.stream))
        return false;
    if (dbk_fj_take(x, ',') && (!dbk_fj_str(x, &k, &kn) || !dbk_fj_is(k, kn, "since") ||
                                !dbk_fj_take(x, ':') || !dbk_fj_uint(x, &p.since)))
        return false;
    if (!dbk_fj_take(x, '}'))
        return false;
    for (size_t i = 0; i < c->npull; i++)
        if (dbk_id_equal(&c->pull[i].stream, &p.stream))
            return false;
    if ((d = grow((void **)&c->pull, &c->npull, sizeof *c->pull)) == NULL)
        return false;
    *d = p;
    return true;
}

/* The whole body of POST /v1/sync. */
static bool
fast_sync_body(const char *b, size_t len, struct records_ctx *c)
{
    dbk_fj x = {b, b + len};
    bool seen_push = false, seen_pull = false, seen_limit = false, seen_bytes = false;
    size_t budget = MAX_RECORDS_PER_PUSH;

    c->limit = PULL_LIMIT_DEFAULT;
    c->max_bytes = PULL_BYTES_DEFAULT;
    if (!dbk_fj_take(&x, '{') || dbk_fj_peek(&x, '}'))
        return false;
    do {
        const char *k;
        size_t kn;
        if (!dbk_fj_str(&x, &k, &kn) || !dbk_fj_take(&x, ':'))
            return false;
        if (dbk_fj_is(k, kn, "push") && !seen_push) {
            seen_push = true;
            if (!dbk_fj_take(&x, '['))
                return false;
            if (!dbk_fj_take(&x, ']')) {
                do {
                    if (!fast_sync_push(&x, c, &budget))
                        return false;
                } while (dbk_fj_take(&x, ','));
                if (!dbk_fj_take(&x, ']'))
                    return false;
            }
        } else if (dbk_fj_is(k, kn, "pull") && !seen_pull) {
            seen_pull = true;
            if (!dbk_fj_take(&x, '['))
                return false;
            if (!dbk_fj_take(&x, ']')) {
                do {
                    if (!fast_sync_pull(&x, c))
                        return false;
                } while (dbk_fj_take(&x, ','));
                if (!dbk_fj_take(&x, ']'))
                    return false;
            }
        } else if (dbk_fj_is(k, kn, "limit") && !seen_limit) {
            seen_limit = true;
            if (!dbk_fj_uint(&x, &c->limit) || c->limit < 1)
                return false;
        } else if (dbk_fj_is(k, kn, "max_bytes") && !seen_bytes) {
            seen_bytes = true;
            if (!dbk_fj_uint(&x, &c->max_bytes) || c->max_bytes < 1)
                return false;
        } else {
            return false;
        }
        if (c->npush + c->npull > MAX_SYNC_ENTRIES)
            return false;
    } while (dbk_fj_take(&x, ','));
    if (!dbk_fj_take(&x, '}') || !dbk_fj_end(&x))
        return false;
    if (c->limit > PULL_LIMIT_MAX)
        c->limit = PULL_LIMIT_MAX;
    if (c->max_bytes > PULL_BYTES_MAX)
        c->max_bytes = PULL_BYTES_MAX;
    return true;
}

/* The whole body of POST /v1/streams/{stream}/records. */
static bool
fast_push_body(const char *b, size_t len, const dbk_id *stream, struct records_ctx *c)
{
    dbk_fj x = {b, b + len};
    const char *k;
    size_t kn, budget = MAX_RECORDS_PER_PUSH;

    if ((c->push = calloc(1, sizeof *c->push)) == NULL)
        return false;
    c->npush = 1;
    return dbk_fj_take(&x, '{') && dbk_fj_str(&x, &k, &kn) && dbk_fj_is(k, kn, "records") &&
           dbk_fj_take(&x, ':') && fast_records(&x, stream, &c->push[0], &budget) &&
           dbk_fj_take(&x, '}') && dbk_fj_end(&x);
}

/* What a failed fast path filled, dropped, so the jansson path starts clean. */
static void
ctx_reset(struct records_ctx *c)
{
    for (size_t i = 0; i < c->npush; i++)
        push_unit_clear(&c->push[i]);
    free(c->push);
    free(c->pull);
    memset(c, 0, sizeof *c);
}

/* An envelope's Ed25519 signature with pk: 0 when it verifies, else -1 (or NOMEM). */
static int
verify_envelope(const dbk_push_item *it, const unsigned char pk[32])
{
    unsigned char local[1024], *in = local; /* a typical envelope's, without malloc */
    size_t n;
    int rc;

    if (DBK_ENV_SIG_DOMAIN_BYTES + it->len > sizeof local &&
        (in = malloc(DBK_ENV_SIG_DOMAIN_BYTES + it->len)) == NULL)
        return DBK_E_NOMEM;
    n = dbk_envelope_signing_input(it->env, it->len, in);
    rc = crypto_sign_verify_detached(it->env + it->len - crypto_sign_BYTES, in, n, pk);
    if (in != local)
        free(in);
    return rc == 0 ? 0 : -1;
}

/* A prep thread: the signatures whose author's key the loop knew, in one chunk of
 * the push. Touches only its own items of ctx. */
static void
preverify_run(dbk_prep *p)
{
    struct verify_chunk *ch = (struct verify_chunk *)p;
    struct records_ctx *c = ch->job->ctx;
    size_t at = 0; /* tried items before this one */
    for (size_t k = 0; k < c->npush && at < ch->to; k++) {
        struct push_unit *u = &c->push[k];
        for (size_t i = 0; i < u->n && at < ch->to; i++) {
            if (!u->pre_tried[i])
                continue;
            if (at >= ch->from)
                u->pre_ok[i] = verify_envelope(&u->items[i], u->pre_pk[i]) == 0;
            at++;
        }
    }
}

static bool nothing_new(dbk_api_job *j);

/* Queues a push or sync for the worker, through its prep threads when that helps. */
static void
submit_records(dbk_api_job *j)
{
    struct records_ctx *c = j->ctx;
    size_t tried = 0, njobs, per;
    dbk_id me;

    if (nothing_new(j))
        return;
    /* Only for a token that authenticated lately, and only the caller's own envelopes:
     * a made-up token or someone else's author id buys no work before the worker. */
    if (!dbk_api_recent_token(j, &me)) {
        dbk_api_submit(j);
        return;
    }
    for (size_t k = 0; k < c->npush; k++) {
        struct push_unit *u = &c->push[k];
        for (size_t i = 0; i < u->n; i++)
            if ((u->pre_tried[i] = dbk_id_equal(&u->items[i].hdr.author, &me) &&
                                   dbk_api_known_sign_pk(&me, u->pre_pk[i])))
                tried++;
    }
    if (tried == 0) {
        dbk_api_submit(j);
        return;
    }
    njobs = (tried + VERIFY_CHUNK_MIN - 1) / VERIFY_CHUNK_MIN;
    if (njobs > VERIFY_JOBS_MAX)
        njobs = VERIFY_JOBS_MAX;
    /* The tried items split evenly: each chunk gets per of them, the last what is
     * left, at least one (njobs - 1 chunks of per hold fewer than tried, since
     * tried > VERIFY_CHUNK_MIN * (njobs - 1) and njobs <= VERIFY_JOBS_MAX). Split
     * over all the items, as before, a chunk could get none of the tried ones (a
     * push of the caller's envelopes and others') and still cost a prep thread's
     * wake-up. */
    per = (tried + njobs - 1) / njobs;
    for (size_t k = 0; k < njobs; k++) {
        struct verify_chunk *ch = &c->verify[k];
        ch->job = j;
        ch->from = k * per;
        ch->to = (k + 1) * per < tried ? (k + 1) * per : tried;
        ch->prep.run = preverify_run;
        ch->prep.next = k + 1 < njobs ? &c->verify[k + 1].prep : NULL;
    }
    dbk_worker_submit_prepared(j->app->worker, &j->job, &c->verify[0].prep);
}

/* An audit row for the caller's access to str; charged is true where its bytes were
 * already counted (with a push's records, dbk_push_batch.also_charged). */
static void
audit(dbk_api_job *j, dbk_store *st, const dbk_stream *str, enum dbk_audit_action action,
      uint32_t count, int64_t from, int64_t to, bool charged)
{
    dbk_audit_entry e;
    memset(&e, 0, sizeof e);
    e.action = action;
    e.stream = str->id;
    e.owner = str->owner;
    e.epoch = str->epoch;
    e.count = count;
    e.seq_from = from;
    e.seq_to = to;
    /* The row counts against its actor: a reader's rows against the reader, never the
     * owner it read. A read is served even over quota (its rows still count); a write
     * is refused with the rest of its batch. The charge and the row are one unit (a
     * sync answers a stream's failure in its entry and goes on: api.h dbk_api_audit). */
    dbk_api_audit(j, st, &e, action == DBK_AUDIT_READ ? INT64_MAX : j->app->config.quota_bytes,
                  charged);
}

/* ---- JSON text, written directly ---- */

typedef struct jtext {
    char *p;
    size_t len, cap;
    bool failed; /* out of memory: the text is unusable */
} jtext;

/* Room for n more bytes (and a NUL), or NULL once out of memory. */
static char *
jt_room(jtext *t, size_t n)
{
    if (t->failed)
        return NULL;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        char *p;
        while (cap < t->len + n + 1)
            cap *= 2;
        if ((p = realloc(t->p, cap)) == NULL) {
            t->failed = true;
            return NULL;
        }
        t->p = p;
        t->cap = cap;
    }
    return t->p + t->len;
}

static void
jt_put(jtext *t, const char *s, size_t n)
{
    char *d = jt_room(t, n);
    if (d != NULL) {
        memcpy(d, s, n);
        t->len += n;
        t->p[t->len] = '\0';
    }
}

static void
jt_str(jtext *t, const char *s)
{
    jt_put(t, s, strlen(s));
}

/* An integer in decimal, as %llu / %lld would write it. Every number of an answer
 * is written here: vsnprintf cost about 1,100 instructions a call (callgrind), three
 * calls per record pushed and pulled, and four more a sync for its streams' heads. */
static void
jt_u64(jtext *t, uint64_t v)
{
    char buf[20], *d = buf + sizeof buf;
    do
        *--d = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    jt_put(t, d, (size_t)(buf + sizeof buf - d));
}

static void
jt_i64(jtext *t, int64_t v)
{
    if (v < 0) {
        jt_put(t, "-", 1);
        jt_u64(t, 0 - (uint64_t)v);
    } else {
        jt_u64(t, (uint64_t)v);
    }
}

/* The answer's last member and its closing brace. */
static void
jt_restore_generation(jtext *t, const dbk_api_job *j)
{
    jt_str(t, ",\"restore_generation\":");
    jt_i64(t, j->app->info.restore_generation);
    jt_put(t, "}", 1);
}

static void
jt_id(jtext *t, const dbk_id *id)
{
    char s[DBK_ID_TEXT_LEN + 3] = "\"";
    dbk_id_to_text(id, s + 1);
    s[DBK_ID_TEXT_LEN + 1] = '"';
    jt_put(t, s, DBK_ID_TEXT_LEN + 2);
}

/* A jansson value as compact JSON text (for the small, varied parts). */
static void
jt_json(jtext *t, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    if (s == NULL) {
        t->failed = true;
        return;
    }
    jt_str(t, s);
    sodium_memzero(s, strlen(s));
    free(s);
}

static void
jt_free(jtext *t)
{
    if (t->p != NULL) {
        sodium_memzero(t->p, t->cap);
        free(t->p);
    }
    memset(t, 0, sizeof *t);
}

static const char *const result_names[] = {"", "stored", "duplicate", "superseded"};

static void
jt_revision(jtext *t, const dbk_revision *r)
{
    jt_str(t, "{\"clock\":\"");
    jt_u64(t, r->clock);
    jt_str(t, "\",\"device\":");
    jt_id(t, &r->device);
    jt_put(t, "}", 1);
}

/*
 * Runs one stream's push inside its own savepoint. Returns DBK_OK with the success
 * object appended to t as JSON text, written straight from the results (a jansson
 * tree per record cost more than the insert), without its closing brace; or an
 * error with *out the error details and t as it was. Over 80 lines: each error's
 * details are written beside the store call that gave it.
 */
static int
run_push(dbk_api_job *j, dbk_store *st, struct push_unit *u, json_t **out, jtext *t)
{
    dbk_push_batch b;
    dbk_stream str;
    bool is_owner, can_write;
    int rc;

    *out = NULL;
    u->read_charged = false;
    /* The caller: the owner or an active grantee (README section 9). The owner's
     * answer may come from the storage thread's cache (authcache.h), its head with it;
     * the row goes to the push (dbk_push_batch.known), which on SQLite does not read
     * it again, and str.seq is set below from the push. */
    if (dbk_authcache_owned(&j->me.id, &u->stream, &str)) {
        is_owner = can_write = true;
    } else if ((rc = dbk_store_access(st, &j->me.id, &u->stream, j->now, &str, &is_owner,
                                      &can_write)) != DBK_OK) {
        return rc;
    } else {
        dbk_authcache_stream_put(&str);
    }
    /* Each author's signature. New envelopes are the caller's own; an envelope by
     * another account is accepted only with that account's valid signature. */
    for (size_t i = 0; i < u->n; i++) {
        dbk_push_item *it = &u->items[i];
        const unsigned char *pk = j->me.sign_pk;
        dbk_account author;
        if (!dbk_id_equal(&it->hdr.author, &j->me.id)) {
            rc = dbk_store_account_get(st, &it->hdr.author, &author);
            if (rc != DBK_OK)
                return rc == DBK_E_NOT_FOUND ? DBK_E_FORBIDDEN : rc;
            pk = author.sign_pk;
        }
        /* Already verified on a prep thread with this very key: the same answer. */
        if (u->pre_ok[i] && memcmp(u->pre_pk[i], pk, 32) == 0)
            continue;
        if ((rc = verify_envelope(it, pk)) != 0)
            return rc == DBK_E_NOMEM ? rc : DBK_E_BAD_SIGNATURE;
    }
    /* A revision from a clock more than a day ahead would win every later edit of its
     * record, on every device, until its time passed (README section 10, check 6):
     * refused, with the server's clock so the device can say how far off it is. */
    for (size_t i = 0; i < u->n; i++)
        if (dbk_hlc_ms(u->items[i].hdr.rev.clock) > (uint64_t)j->now + DBK_HLC_MAX_DRIFT_MS) {
            *out = json_pack("{s:I}", "server_time", (json_int_t)j->now);
            return DBK_E_CLOCK_AHEAD;
        }
    /* A full disk is the last check (README section 10): refused before anything is
     * written, the group's transaction untouched. */
    if ((rc = dbk_store_room(st)) != DBK_OK)
        return rc;

    memset(&b, 0, sizeof b);
    b.stream = u->stream;
    b.quota = j->app->config.quota_bytes;
    b.payer = j->me.id; /* a grantee's writes count against the grantee */
    b.items = u->items;
    b.n = u->n;
    /* the row read (or cached) just above, in this transaction */
    b.known = &str;
    b.also_charge = DBK_AUDIT_ROW_BYTES; /* its audit row's, against the same payer */
    /* and the owner's read row of the same stream in this sync, outside the quota */
    b.read_row_charge = u->read_after && is_owner ? DBK_AUDIT_ROW_BYTES : 0;
    if ((rc = dbk_store_sp_begin(st)) != DBK_OK)
        return rc;
    rc = dbk_store_push(st, &b);
    /* The head given (b.known) was stale: read it again. The push failed, or stored
     * nothing and answers the store's head (dbk_store_push). */
    if (b.head_moved)
        dbk_authcache_invalidate();
    if (rc == DBK_OK && b.nstored > 0) {
        str.seq = b.high_seq;
        audit(j, st, &str, DBK_AUDIT_WRITE, (uint32_t)b.nstored, b.seq_from, b.seq_to,
              b.also_charged);
        rc = j->job.status;
    }
    if (rc != DBK_OK) {
        dbk_store_sp_rollback(st);
        if (rc == DBK_E_STALE) {
            json_t *stale = json_array();
            for (size_t i = 0; i < u->n && !b.epoch_stale; i++) {
                dbk_push_item *it = &u->items[i];
                if (!it->stale)
                    continue;
                json_array_append_new(
                    stale, json_pack("{s:o, s:o, s:I}", "record", dbk_api_id_json(&it->hdr.record),
                                     "current",
                                     it->has_current ? dbk_api_revision_json(&it->current)
                                                     : json_string("none"),
                                     "seq", (json_int_t)(it->has_current ? it->seq : 0)));
            }
            *out = json_pack("{s:I, s:b}", "current_epoch", (json_int_t)b.epoch,
                             "rotation_pending", b.rotation_pending);
            if (b.epoch_stale)
                json_decref(stale);
            else
                json_object_set_new(*out, "stale", stale);
        }
        return rc;
    }
    if ((rc = dbk_store_sp_release(st)) != DBK_OK) {
        dbk_store_sp_rollback(st);
        return rc;
    }
    dbk_authcache_stream_seq(&u->stream, b.high_seq);
    u->seen = true; /* its savepoint released: a push naming it may go (op_sync) */
    u->read_charged = b.read_row_charged;
    /* the epoch as the push read it (the store's row when the cached one was stale) */
    u->head = (dbk_head){str.owner, b.high_seq, b.epoch, b.rotation_pending};
    u->by_owner = is_owner;
    u->str = str;
    u->str.seq = b.high_seq;
    u->str.epoch = b.epoch; /* both read by the push from the row, in this transaction */
    u->str.rotation_pending = b.rotation_pending;
    u->splits = dbk_store_tx_splits(st);
    jt_str(t, "{\"stream\":");
    jt_id(t, &u->stream);
    jt_str(t, ",\"results\":[");
    for (size_t i = 0; i < u->n; i++) {
        dbk_push_item *it = &u->items[i];
        jt_str(t, i > 0 ? ",{\"record\":" : "{\"record\":");
        jt_id(t, &it->hdr.record);
        jt_str(t, ",\"revision\":");
        jt_revision(t, &it->hdr.rev);
        jt_str(t, ",\"result\":\"");
        jt_str(t, result_names[it->result]);
        jt_str(t, "\",\"seq\":");
        jt_i64(t, it->seq);
        if (it->result == DBK_PUSH_SUPERSEDED) {
            jt_str(t, ",\"current\":");
            jt_revision(t, &it->current);
        }
        jt_put(t, "}", 1);
    }
    jt_str(t, "],\"high_seq\":");
    jt_i64(t, b.high_seq);
    return DBK_OK;
}

/* ---- pull ---- */

struct pull_acc {
    jtext *t;
    size_t count;
    int64_t first;
};

static void
on_record(int64_t seq, const unsigned char *env, size_t len, void *arg)
{
    struct pull_acc *a = arg;
    size_t n = DBK_B64_ENCODED_LEN(len);
    char *d;

    jt_str(a->t, a->count > 0 ? ",{\"seq\":" : "{\"seq\":");
    jt_i64(a->t, seq);
    jt_str(a->t, ",\"envelope\":\"");
    /* An envelope is public bytes (ciphertext and a signature): the table encoder. */
    if ((d = jt_room(a->t, n)) != NULL && dbk_b64_encode_public(d, n + 1, env, len) == 0)
        a->t->len += n;
    else
        a->t->failed = true;
    jt_put(a->t, "\"}", 2);
    if (a->count++ == 0)
        a->first = seq;
}

/* A read row charged with its sync's push (push_unit.read_charged) that was not
 * written: its bytes back, so the charge never stays without its row. */
static void
read_refund(dbk_api_job *j, dbk_store *st)
{
    if (dbk_store_charge(st, &j->me.id, -DBK_AUDIT_ROW_BYTES, INT64_MAX) != DBK_OK)
        DBK_LOG(DBK_LOG_ERROR, "audit_charge_kept", DBK_INT("bytes", DBK_AUDIT_ROW_BYTES));
}

/*
 * One stream's pull within the remaining budget, appended to t as an object
 * without its closing brace (the caller may add fields): {"stream", "records",
 * "next", "more", "high_seq", "epoch", "rotation_pending". On failure t is left
 * as it was.
 */
/*
 * pushed: this job's push of the same stream, when its owner stored it (else NULL).
 * Its row is the one the access check would read: the job's caller and time are the
 * same, the owner of a stream never changes, and since the push read the row nothing
 * but this job has written (one writer, the group's transaction, on SQLite; the row
 * still locked by the push, on PostgreSQL: see pushed_by_owner), and this job wrote
 * only records, the stream's seq
 * (pushed->str.seq), byte counts and audit rows.
 */
static int
run_pull(dbk_api_job *j, dbk_store *st, struct pull_unit *p, struct push_unit *pushed,
         int64_t *limit, int64_t *max_bytes, jtext *t)
{
    dbk_stream str;
    bool is_owner, can_write, more = false, row = false;
    bool precharged = pushed != NULL && pushed->read_charged;
    struct pull_acc acc = {t, 0, 0};
    /* Its audit row's bytes, against the reader: with the read where the store can. */
    dbk_pull_charge charge = {j->me.id, DBK_AUDIT_ROW_BYTES, false};
    int64_t next = p->since;
    size_t bytes = 0, mark = t->len;
    int rc;

    if (pushed != NULL) {
        str = pushed->str;
        is_owner = can_write = true;
        pushed->read_charged = false; /* this pull's row, written or given back below */
    } else if (dbk_authcache_owned(&j->me.id, &p->stream, &str)) {
        is_owner = can_write = true; /* the owner's, with the head (authcache.h) */
    } else if ((rc = dbk_store_access(st, &j->me.id, &p->stream, j->now, &str, &is_owner,
                                      &can_write)) != DBK_OK) {
        return rc;
    } else {
        dbk_authcache_stream_put(&str);
    }
    jt_str(t, "{\"stream\":");
    jt_id(t, &p->stream);
    jt_str(t, ",\"records\":[");
    /* A cursor at (or past) the stream's seq, read in this transaction, finds nothing:
     * no record has a seq above the last one given. The store is not asked then. */
    if (*limit > 0 && *max_bytes > 0 && p->since < str.seq) {
        rc = dbk_store_pull(st, &p->stream, is_owner ? NULL : &j->me.id, j->now, p->since,
                            (size_t)*limit, (size_t)*max_bytes, on_record, &acc, &more, &next,
                            &bytes, &charge);
        if (rc != DBK_OK) {
            t->len = mark;
            if (precharged)
                read_refund(j, st);
            return rc;
        }
    } else {
        more = next < str.seq;
    }
    *limit -= (int64_t)acc.count;
    *max_bytes -= (int64_t)bytes;
    /* Its audit row's charge: made already by the push's statement (SQLite,
     * precharged) or by the read itself (PostgreSQL, charge.charged), else by audit. */
    if (acc.count > 0) {
        audit(j, st, &str, DBK_AUDIT_READ, (uint32_t)acc.count, acc.first, next,
              precharged || charge.charged);
        row = j->job.status == DBK_OK;
    }
    if (precharged && !row)
        read_refund(j, st);
    jt_str(t, "],\"next\":");
    jt_i64(t, next);
    jt_str(t, more ? ",\"more\":true,\"high_seq\":" : ",\"more\":false,\"high_seq\":");
    jt_i64(t, str.seq);
    jt_str(t, ",\"epoch\":");
    jt_i64(t, str.epoch);
    jt_str(t, str.rotation_pending ? ",\"rotation_pending\":true" : ",\"rotation_pending\":false");
    if (t->failed && j->job.status == DBK_OK)
        dbk_api_fail(j, DBK_E_NOMEM, NULL);
    if (j->job.status != DBK_OK)
        t->len = mark;
    if (j->job.status == DBK_OK) {
        p->seen = true;
        p->head = (dbk_head){str.owner, str.seq, str.epoch, str.rotation_pending};
    }
    return j->job.status;
}

static void records_committed(dbk_api_job *j);

/* The streams a push, pull or sync asks access to, for the store to read with the
 * token (dbk_store_expect_streams: on PostgreSQL one round trip for all of them). */
static void
records_expect(dbk_api_job *j, dbk_store *st)
{
    const struct records_ctx *c = j->ctx;
    dbk_id ids[DBK_STORE_EXPECT_MAX];
    size_t n = 0;
    for (size_t i = 0; i < c->npush && n < DBK_STORE_EXPECT_MAX; i++)
        ids[n++] = c->push[i].stream;
    for (size_t i = 0; i < c->npull && n < DBK_STORE_EXPECT_MAX; i++)
        ids[n++] = c->pull[i].stream;
    dbk_store_expect_streams(st, ids, n);
}

/* A job with its records context, before its body is read (by either path). */
static dbk_api_job *
fast_job(dbk_http_request *req, dbk_api_op op)
{
    dbk_api_job *j = dbk_api_job_new(req, op, true);
    if (j == NULL)
        return NULL;
    j->ctx_free = ctx_free;
    j->keeps_heads = true;
    j->committed = records_committed;
    j->expect = records_expect;
    if ((j->ctx = calloc(1, sizeof(struct records_ctx))) == NULL) {
        dbk_api_reject(j, DBK_E_NOMEM);
        return NULL;
    }
    return j;
}

/* ---- POST /v1/streams/{stream}/records ---- */

static void
op_push(dbk_api_job *j, dbk_store *st)
{
    struct records_ctx *c = j->ctx;
    jtext t = {NULL, 0, 0, false};
    json_t *out;
    int rc = run_push(j, st, &c->push[0], &out, &t);
    if (rc != DBK_OK) {
        jt_free(&t);
        dbk_api_fail(j, rc, out);
        return;
    }
    jt_restore_generation(&t, j);
    if (t.failed) {
        jt_free(&t);
        dbk_api_fail(j, DBK_E_NOMEM, NULL);
        return;
    }
    j->out_text = t.p;
    j->out_len = t.len;
}

static int
path_stream(dbk_http_request *req, dbk_id *out)
{
    const char *s = dbk_http_param(req, "stream");
    return dbk_id_from_text(out, s, strlen(s));
}

void dbk_api_push(dbk_http_request *req);
void
dbk_api_push(dbk_http_request *req)
{
    static const char *const keys[] = {"records", NULL};
    struct records_ctx *c;
    dbk_id stream;
    size_t budget = MAX_RECORDS_PER_PUSH;
    dbk_api_job *j;
    json_t *body;
    int rc;

    if ((rc = path_stream(req, &stream)) != DBK_OK) {
        dbk_http_respond_error(req, rc);
        return;
    }
    if ((j = fast_job(req, op_push)) == NULL)
        return;
    c = j->ctx;
    if (dbk_api_media_json(req) &&
        fast_push_body((const char *)req->body, req->body_len, &stream, c)) {
        submit_records(j);
        return;
    }
    ctx_reset(c);
    if ((j->in = dbk_api_body(req)) == NULL) {
        dbk_api_abort(j);
        return;
    }
    body = j->in;
    if ((c->push = calloc(1, sizeof *c->push)) == NULL) {
        dbk_api_reject(j, DBK_E_NOMEM);
        return;
    }
    c->npush = 1;
    if ((rc = dbk_api_only(body, keys)) != DBK_OK ||
        (rc = decode_push(json_object_get(body, "records"), &stream, &c->push[0], &budget)) !=
            DBK_OK) {
        dbk_api_reject(j, rc);
        return;
    }
    submit_records(j);
}

/* ---- GET /v1/streams/{stream}/records ---- */

static void
op_pull(dbk_api_job *j, dbk_store *st)
{
    struct records_ctx *c = j->ctx;
    jtext t = {NULL, 0, 0, false};
    int rc = run_pull(j, st, &c->pull[0], NULL, &c->limit, &c->max_bytes, &t);

    if (rc == DBK_OK) {
        jt_restore_generation(&t, j);
        if (t.failed)
            rc = DBK_E_NOMEM;
    }
    if (rc != DBK_OK) {
        jt_free(&t);
        dbk_api_fail(j, rc, NULL);
        return;
    }
    j->out_text = t.p;
    j->out_len = t.len;
}

void dbk_api_pull(dbk_http_request *req);
void
dbk_api_pull(dbk_http_request *req)
{
    static const char *const params[] = {"since", "limit", "max_bytes", NULL};
    struct records_ctx *c;
    dbk_id stream;
    int64_t since, limit, max_bytes;
    dbk_api_job *j;
    int rc;

    if ((rc = path_stream(req, &stream)) != DBK_OK ||
        (rc = dbk_api_query(req, params, "since", 0, 0, INT64_MAX, &since)) != DBK_OK ||
        (rc = dbk_api_query(req, params, "limit", PULL_LIMIT_DEFAULT, 1, PULL_LIMIT_MAX,
                            &limit)) != DBK_OK ||
        (rc = dbk_api_query(req, params, "max_bytes", PULL_BYTES_DEFAULT, 1, PULL_BYTES_MAX,
                            &max_bytes)) != DBK_OK) {
        dbk_http_respond_error(req, rc);
        return;
    }
    if ((j = dbk_api_job_new(req, op_pull, true)) == NULL)
        return;
    c = calloc(1, sizeof *c);
    j->ctx = c;
    j->ctx_free = ctx_free;
    if (c == NULL || (c->pull = calloc(1, sizeof *c->pull)) == NULL) {
        dbk_api_reject(j, DBK_E_NOMEM);
        return;
    }
    c->npull = 1;
    c->pull[0].stream = stream;
    c->pull[0].since = since;
    c->limit = limit;
    c->max_bytes = max_bytes;
    j->keeps_heads = true;
    j->committed = records_committed;
    j->expect = records_expect;
    if (!nothing_new(j))
        dbk_api_submit(j);
}

/* ---- POST /v1/sync ---- */

static json_t *
error_json(int rc, json_t *details)
{
    json_t *e = json_pack("{s:s, s:s}", "code", dbk_err_code(rc), "message", dbk_err_message(rc));
    if (details != NULL) {
        json_object_update_missing(e, details);
        json_decref(details);
    }
    return e;
}

/* Errors that fail a whole sync rather than one stream's entry. */
/*
 * Whether a sync ends at a stream's error: the server cannot go on, or SQLite rolled
 * the group's transaction back by itself (a full disk or an I/O error mid-write),
 * so nothing after it may be written. A push refused before writing (the disk-full
 * check) is reported in its entry, and the pulls are still answered.
 */
static bool
sync_fatal(dbk_store *st, int rc)
{
    return rc == DBK_E_UNAVAILABLE || rc == DBK_E_STORE_UNAVAILABLE || rc == DBK_E_NOMEM ||
           !dbk_store_tx_alive(st);
}

/* The sync's push of stream (a stream at most once, dbk_api_sync), when its owner
 * stored it and the row the push read is still this transaction's to read; else NULL.
 * With one writer in one transaction (SQLite, whose splits stay 0) it always is.
 * On PostgreSQL the push keeps the stream's row locked (FOR NO KEY UPDATE) to
 * the commit, so no node can move it on, unless the group committed part way since
 * (tx_split, to wait for a lock with nothing held): then the pull reads it again. */
static struct push_unit *
pushed_by_owner(dbk_store *st, const struct records_ctx *c, const dbk_id *stream)
{
    for (size_t i = 0; i < c->npush; i++) {
        struct push_unit *u = &c->push[i];
        if (!dbk_id_equal(&u->stream, stream))
            continue;
        if (!u->seen || !u->by_owner)
            return NULL;
        return dbk_store_tx_splits(st) == u->splits ? u : NULL;
    }
    return NULL;
}

/*
 * Whether u may run: it names no earlier push (after), or that push was stored whole,
 * its savepoint released inside this job before u began (run_push sets seen only
 * then). Nothing can undo the earlier push and keep u: both are in this job's
 * savepoint and the group's transaction, a commit part way (PostgreSQL's tx_split)
 * takes the earlier push whenever it takes any of u, and PostgreSQL's RELEASE, sent
 * with u's first statement, fails the whole transaction if it fails. Else *details names
 * the earlier stream, and u is refused whole, nothing of it stored.
 */
static bool
prerequisite_kept(const struct records_ctx *c, const struct push_unit *u, json_t **details)
{
    *details = NULL;
    if (!u->has_after || c->push[u->after].seen)
        return true;
    *details = json_pack("{s:o}", "after", dbk_api_id_json(&c->push[u->after].stream));
    return false;
}

static void
op_sync(dbk_api_job *j, dbk_store *st)
{
    struct records_ctx *c = j->ctx;
    jtext t = {NULL, 0, 0, false};
    json_t *out;
    int rc;

    /* A pushed stream the sync also pulls: its read row is charged with the push. */
    for (size_t i = 0; i < c->npush; i++)
        for (size_t k = 0; k < c->npull && !c->push[i].read_after; k++)
            c->push[i].read_after = dbk_id_equal(&c->push[i].stream, &c->pull[k].stream);
    jt_str(&t, "{\"push\":[");
    for (size_t i = 0; i < c->npush; i++) {
        if (i > 0)
            jt_put(&t, ",", 1);
        if (!prerequisite_kept(c, &c->push[i], &out))
            rc = DBK_E_PREREQUISITE;
        else
            rc = run_push(j, st, &c->push[i], &out, &t);
        j->job.status = DBK_OK; /* a stream's failure is reported in its entry */
        if (rc == DBK_OK) {
            jt_put(&t, "}", 1);
            continue;
        }
        if (sync_fatal(st, rc)) {
            json_decref(out);
            jt_free(&t);
            dbk_api_fail(j, rc, NULL);
            return;
        }
        out = json_pack("{s:o, s:o}", "error", error_json(rc, out), "stream",
                        dbk_api_id_json(&c->push[i].stream));
        jt_json(&t, out);
        json_decref(out);
    }
    jt_str(&t, "],\"pull\":[");
    for (size_t i = 0; i < c->npull; i++) {
        if (i > 0)
            jt_put(&t, ",", 1);
        rc = run_pull(j, st, &c->pull[i], pushed_by_owner(st, c, &c->pull[i].stream), &c->limit,
                      &c->max_bytes, &t);
        j->job.status = DBK_OK;
        if (rc == DBK_OK) {
            jt_put(&t, "}", 1);
            continue;
        }
        if (sync_fatal(st, rc)) {
            jt_free(&t);
            dbk_api_fail(j, rc, NULL);
            return;
        }
        out = json_pack("{s:o, s:o}", "error", error_json(rc, NULL), "stream",
                        dbk_api_id_json(&c->pull[i].stream));
        jt_json(&t, out);
        json_decref(out);
    }
    /* A read row charged with a push whose pull did not take it (SQLite alone charges
     * one so: the stream pushed twice in this sync, the pull taking the first push's,
     * or the first push failed): its bytes back. */
    for (size_t i = 0; i < c->npush; i++)
        if (c->push[i].read_charged) {
            c->push[i].read_charged = false;
            read_refund(j, st);
        }
    jt_str(&t, "],\"server_id\":");
    jt_id(&t, &j->app->info.server_id);
    jt_str(&t, ",\"restore_generation\":");
    jt_i64(&t, j->app->info.restore_generation);
    jt_str(&t, ",\"grants_seq\":");
    jt_i64(&t, j->me.grants_seq);
    jt_put(&t, "}", 1);
    if (t.failed) {
        jt_free(&t);
        dbk_api_fail(j, DBK_E_NOMEM, NULL);
        return;
    }
    j->out_text = t.p;
    j->out_len = t.len;
}

/* One entry of a sync's push, by the jansson path, into the next of c's units. */
static int
sync_push_entry(struct records_ctx *c, json_t *e, size_t *budget)
{
    static const char *const push_keys[] = {"stream", "records", "after", NULL};
    dbk_id stream, after;
    int rc;

    if (!json_is_object(e))
        return DBK_E_BAD_FIELD;
    if ((rc = dbk_api_only(e, push_keys)) != DBK_OK ||
        (rc = dbk_api_id(e, "stream", &stream)) != DBK_OK)
        return rc;
    if (push_index(c, &stream, c->npush) < c->npush)
        return DBK_E_INVALID; /* a stream at most once */
    c->npush++;
    if ((rc = decode_push(json_object_get(e, "records"), &stream, &c->push[c->npush - 1],
                          budget)) != DBK_OK)
        return rc;
    if (json_object_get(e, "after") == NULL)
        return DBK_OK;
    if ((rc = dbk_api_id(e, "after", &after)) != DBK_OK)
        return rc;
    /* not pushed before it in this sync, or itself */
    return after_index(c, &after, &c->push[c->npush - 1]) ? DBK_OK : DBK_E_INVALID;
}

void dbk_api_sync(dbk_http_request *req);
void
dbk_api_sync(dbk_http_request *req)
{
    static const char *const keys[] = {"push", "pull", "limit", "max_bytes", NULL};
    static const char *const pull_keys[] = {"stream", "since", NULL};
    struct records_ctx *c;
    json_t *body, *push, *pull, *e;
    size_t i, budget = MAX_RECORDS_PER_PUSH;
    dbk_api_job *j;
    int rc;

    ((dbk_app *)req->app)->syncs++; /* every one, whatever its answer: round trips */
    if ((j = fast_job(req, op_sync)) == NULL)
        return;
    c = j->ctx;
    if (dbk_api_media_json(req) && fast_sync_body((const char *)req->body, req->body_len, c)) {
        submit_records(j);
        return;
    }
    ctx_reset(c);
    if ((j->in = dbk_api_body(req)) == NULL) {
        dbk_api_abort(j);
        return;
    }
    body = j->in;
    push = json_object_get(body, "push");
    pull = json_object_get(body, "pull");
    rc = dbk_api_only(body, keys);
    if (rc == DBK_OK && ((push && !json_is_array(push)) || (pull && !json_is_array(pull))))
        rc = DBK_E_BAD_FIELD;
    if (rc == DBK_OK && json_array_size(push) + json_array_size(pull) > MAX_SYNC_ENTRIES)
        rc = DBK_E_TOO_MANY_RECORDS;
    if (rc == DBK_OK)
        rc = dbk_api_int(body, "limit", true, PULL_LIMIT_DEFAULT, 0, INT64_MAX, &c->limit);
    if (rc == DBK_OK)
        rc = dbk_api_int(body, "max_bytes", true, PULL_BYTES_DEFAULT, 0, INT64_MAX,
                         &c->max_bytes);
    if (rc == DBK_OK && (c->limit < 1 || c->max_bytes < 1))
        rc = DBK_E_INVALID;
    if (rc == DBK_OK) {
        if (c->limit > PULL_LIMIT_MAX)
            c->limit = PULL_LIMIT_MAX;
        if (c->max_bytes > PULL_BYTES_MAX)
            c->max_bytes = PULL_BYTES_MAX;
        c->push = calloc(json_array_size(push) + 1, sizeof *c->push);
        c->pull = calloc(json_array_size(pull) + 1, sizeof *c->pull);
        if (c->push == NULL || c->pull == NULL)
            rc = DBK_E_NOMEM;
    }
    json_array_foreach(push, i, e)
    {
        if (rc != DBK_OK)
            break;
        rc = sync_push_entry(c, e, &budget);
    }
    json_array_foreach(pull, i, e) {
        if (rc != DBK_OK)
            break;
        struct pull_unit *p = &c->pull[c->npull];
        if (!json_is_object(e))
            rc = DBK_E_BAD_FIELD;
        else if ((rc = dbk_api_only(e, pull_keys)) == DBK_OK &&
                 (rc = dbk_api_id(e, "stream", &p->stream)) == DBK_OK &&
                 (rc = dbk_api_int(e, "since", true, 0, 0, INT64_MAX, &p->since)) == DBK_OK) {
            for (size_t k = 0; k < c->npull && rc == DBK_OK; k++)
                if (dbk_id_equal(&c->pull[k].stream, &p->stream))
                    rc = DBK_E_INVALID;
            if (rc == DBK_OK)
                c->npull++;
        }
    }
    if (rc != DBK_OK) {
        dbk_api_reject(j, rc);
        return;
    }
    submit_records(j);
}

/* ---- "nothing new", answered on the loop thread (heads.h) ----
 *
 * A device's daily sync usually finds nothing: every stream it asks about is at the
 * cursor it sends. When that is known without the store, the answer is written
 * here, byte for byte what op_pull or op_sync would write, and no job is made: no
 * SQLite transaction, and one allocation for the whole answer, none per stream.
 *
 * Only for the SQLite store (heads.h says why), only when every stream asked about
 * is the caller's own (a grantee's access has an end date and a reading window the
 * worker checks), only for a cursor exactly at the head, and only for a token the
 * worker checked for a push, pull or sync, in any minute since nothing changed it,
 * once the worker has looked for changes made from outside in this minute (api.h,
 * dbk_api_fast_auth). The use is still noted for the store: the device's last seen
 * and the token's expiry slide (api.c, "Uses noted for the store"). Anything else,
 * including a push in the same sync, goes to the worker as before.
 *
 * The audit is unchanged: the worker path writes a read row only for a pull that
 * returned records (run_pull), never for an empty one, and this path answers only
 * empty ones. The audit records who read which records of a stream; an empty answer
 * to the stream's owner shows nothing, so there is no row to lose.
 */

/* The committed job's heads, recorded (api.h, committed); pushes first, as they ran. */
static void
records_committed(dbk_api_job *j)
{
    struct records_ctx *c = j->ctx;
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->npush; i++)
        if (c->push[i].seen)
            dbk_heads_put(&c->push[i].stream, &c->push[i].head);
    for (size_t i = 0; i < c->npull; i++)
        if (c->pull[i].seen)
            dbk_heads_put(&c->pull[i].stream, &c->pull[i].head);
}

/* The longest stream object below, with room to spare: 2 ids and 3 int64s. */
#define EMPTY_PULL_MAX 256

/* One stream's empty pull as run_pull writes it, without its closing brace; 0 when
 * the head does not allow it. */
static size_t
empty_pull(char *d, const dbk_id *account, const struct pull_unit *p)
{
    char id[DBK_ID_TEXT_LEN + 1];
    dbk_head h;
    int n;

    if (!dbk_heads_get(&p->stream, &h) || !dbk_id_equal(&h.owner, account) ||
        p->since != h.seq)
        return 0;
    dbk_id_to_text(&p->stream, id);
    n = snprintf(d, EMPTY_PULL_MAX,
                 "{\"stream\":\"%s\",\"records\":[],\"next\":%lld,\"more\":false,"
                 "\"high_seq\":%lld,\"epoch\":%lld,\"rotation_pending\":%s",
                 id, (long long)p->since, (long long)h.seq, (long long)h.epoch,
                 h.rotation_pending ? "true" : "false");
    return n > 0 && n < EMPTY_PULL_MAX ? (size_t)n : 0;
}

/* Answers j here when it is a pull or a pull-only sync that finds nothing new
 * (above); false: nothing was sent and j goes to the worker. */
static bool
nothing_new(dbk_api_job *j)
{
    struct records_ctx *c = j->ctx;
    bool sync = j->op == op_sync;
    char *text, sid[DBK_ID_TEXT_LEN + 1];
    size_t len = 0, cap, n;
    int64_t grants_seq;
    dbk_id me;

    if (!dbk_heads_enabled() || c->npush > 0 || c->npull == 0 ||
        !dbk_api_fast_auth(j, &me, &grants_seq))
        return false;
    cap = c->npull * (EMPTY_PULL_MAX + 2) + 2 * EMPTY_PULL_MAX;
    if ((text = malloc(cap)) == NULL)
        return false;
    if (sync) {
        memcpy(text, "{\"push\":[],\"pull\":[", 19);
        len = 19;
    }
    for (size_t i = 0; i < c->npull; i++) {
        if (i > 0)
            text[len++] = ',';
        if ((n = empty_pull(text + len, &me, &c->pull[i])) == 0) {
            free(text);
            return false;
        }
        len += n;
        if (sync)
            text[len++] = '}';
    }
    dbk_id_to_text(&j->app->info.server_id, sid);
    if (sync)
        n = (size_t)snprintf(text + len, cap - len,
                             "],\"server_id\":\"%s\",\"restore_generation\":%lld,"
                             "\"grants_seq\":%lld}",
                             sid, (long long)j->app->info.restore_generation,
                             (long long)grants_seq);
    else
        n = (size_t)snprintf(text + len, cap - len, ",\"restore_generation\":%lld}",
                             (long long)j->app->info.restore_generation);
    /* Last, so a request that goes to the worker after all has spent no token here. */
    if (n >= cap - len || !dbk_api_fast_rate(j, &me)) {
        free(text);
        return false;
    }
    len += n;
    j->out_text = text;
    j->out_len = len;
    dbk_http_respond(j->req, 200, "application/json", NULL, text, len);
    dbk_api_fast_done(j, 200);
    return true;
}
