/* Entries in memory, revisions, days and the checklist; see entries.h. */
#include "entries.h"
#include "trust.h"
#include "daycount.h"
#include "unlock.h"
#include "stream_key.h"

#include "dbk/error.h"
#include "dbk/wipe.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

/* ---- entries in memory ---- */

static json_t *open_revision(dbk_session *s, const dbk_local_record *r);

struct load_ctx {
    dbk_session *s;
    dbk_eu_list *l;
    int rc;
};

/* e into l, as an opened entry goes in: one whose author may not write it is left out
 * (counted in foreign_author). */
static int
add_entry(dbk_session *s, dbk_eu_list *l, const dbk_entry *e)
{
    dbk_eu_entry *x;
    const char *type = json_string_value(json_object_get(e->doc, "type"));

    if (!dbk_trust_author_may_write(&e->owner, &e->hdr.author, type)) {
        l->foreign_author++; /* signed by someone the owner's stream does not let write this */
        return DBK_OK;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        dbk_eu_entry *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return DBK_E_NOMEM;
        l->v = v, l->cap = cap;
    }
    x = &l->v[l->n++];
    x->hdr = e->hdr;
    x->doc = json_incref(e->doc);
    x->type = type ? type : "";
    x->pending = e->pending;
    x->kind = e->kind;
    x->owner = e->owner;
    x->mine = dbk_id_equal(&e->owner, &s->account);
    return DBK_OK;
}

static void
on_entry(const dbk_entry *e, void *arg)
{
    struct load_ctx *c = arg;
    if (c->rc == DBK_OK)
        c->rc = add_entry(c->s, c->l, e);
}

int
dbk_eu_add(dbk_session *s, dbk_eu_list *l, const dbk_entry *e)
{
    dbk_doc_kind k = dbk_trust_doc_kind(e->doc); /* a stream head is skipped */
    if (k == DBK_DOC_BAD)
        l->bad++;
    return k == DBK_DOC_ENTRY ? add_entry(s, l, e) : DBK_OK;
}

/* The entries of owner's streams and this account's (owner NULL: every stream), or of
 * stream alone (then owner is not read), into out. */
static int
load(dbk_session *s, const dbk_id *owner, const dbk_id *stream, dbk_entry_want want,
     void *want_arg, dbk_entry_cached cached, void *cached_arg, dbk_eu_list *out)
{
    struct load_ctx c = {s, out, DBK_OK};
    int rc;

    memset(out, 0, sizeof *out);
    rc = stream ? dbk_entries_of_stream(s, stream, want, want_arg, cached, cached_arg, on_entry,
                                        &c, &out->bad)
         : owner ? dbk_entries_owned_where(s, owner, want, want_arg, on_entry, &c, &out->bad)
                 : dbk_entries(s, on_entry, &c, &out->bad);
    if (rc == DBK_OK)
        rc = c.rc;
    if (rc != DBK_OK)
        dbk_eu_free(out);
    else
        out->bad += out->foreign_author; /* left out too */
    return rc;
}

int
dbk_eu_load(dbk_session *s, dbk_eu_list *out)
{
    return load(s, NULL, NULL, NULL, NULL, NULL, NULL, out);
}

int
dbk_eu_load_owned(dbk_session *s, const dbk_id *owner, dbk_eu_list *out)
{
    return load(s, owner, NULL, NULL, NULL, NULL, NULL, out);
}

int
dbk_eu_load_owned_where(dbk_session *s, const dbk_id *owner, dbk_entry_want want, void *want_arg,
                        dbk_eu_list *out)
{
    return load(s, owner, NULL, want, want_arg, NULL, NULL, out);
}

int
dbk_eu_load_stream(dbk_session *s, const dbk_id *stream, dbk_entry_want want, void *want_arg,
                   dbk_entry_cached cached, void *cached_arg, dbk_eu_list *out)
{
    return load(s, NULL, stream, want, want_arg, cached, cached_arg, out);
}

int
dbk_eu_merge(dbk_eu_list *into, const dbk_eu_list *from)
{
    size_t n = into->n + from->n, i = into->n, j = from->n, k = n;
    if (from->n == 0)
        goto counts;
    if (n > into->cap) {
        dbk_eu_entry *v = realloc(into->v, n * sizeof *v);
        if (v == NULL)
            return DBK_E_NOMEM;
        into->v = v, into->cap = n;
    }
    /* From the back: the greater clock last; of equal clocks, into's first. */
    while (j > 0) {
        if (i > 0 && into->v[i - 1].hdr.rev.clock > from->v[j - 1].hdr.rev.clock)
            into->v[--k] = into->v[--i];
        else {
            into->v[--k] = from->v[--j];
            json_incref(into->v[k].doc);
        }
    }
    into->n = n;
counts:
    into->bad += from->bad;
    into->foreign_author += from->foreign_author;
    return DBK_OK;
}

json_t *
dbk_eu_open_record(dbk_session *s, const dbk_local_record *r)
{
    return open_revision(s, r);
}

void
dbk_eu_free(dbk_eu_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        json_decref(l->v[i].doc);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ---- revisions ---- */

/* A revision opened with its author's key and its stream's key: verified, decrypted
 * and parsed, or NULL. The one-by-one path and dbk_eu_open_records' threads both open
 * through here, so both check alike. */
static json_t *
parse_plain(unsigned char *plain, size_t plen)
{
    json_t *doc = json_loadb((const char *)plain, plen, 0, NULL);
    dbk_plaintext_free(plain, plen);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* Verified (unless verified already: dbk_eu_opener), decrypted and parsed, or NULL. */
static json_t *
open_checked(const dbk_local_record *r, const unsigned char pk[32], const unsigned char key[32],
             bool verified)
{
    dbk_envelope_expect x = {&r->hdr.stream, &r->hdr.record, r->hdr.epoch, &r->hdr.author, pk};
    unsigned char *plain;
    size_t plen;
    int rc = verified ? dbk_envelope_open_verified(r->env, r->len, &x, key, &plain, &plen)
                      : dbk_envelope_open(r->env, r->len, &x, key, &plain, &plen);
    return rc == DBK_OK ? parse_plain(plain, plen) : NULL;
}

static json_t *
open_with_keys(const dbk_local_record *r, const unsigned char pk[32], const unsigned char key[32])
{
    return open_checked(r, pk, key, false);
}

/* Opens one stored revision, as entry.c does for current ones. */
static json_t *
open_revision(dbk_session *s, const dbk_local_record *r)
{
    unsigned char key[32], pk[32];
    json_t *doc;

    if (s->keys == NULL)
        return NULL;
    if (dbk_trust_sign_pk(s, &r->hdr.author, pk) != DBK_OK)
        return NULL;
    if (dbk_stream_key(s, &r->hdr.stream, r->hdr.epoch, key) != DBK_OK)
        return NULL;
    doc = open_with_keys(r, pk, key);
    sodium_memzero(key, sizeof key);
    return doc;
}

/* One revision of dbk_eu_open_records: its keys (looked up first), then what opening
 * gave. */
struct open_job {
    const dbk_local_record *r;
    unsigned char pk[32], key[32];
    bool keyed;
    bool verified; /* its signature checked ahead (dbk_eu_opener) */
    json_t *doc;
};

struct open_batch {
    struct open_job *v;
    size_t n;
    atomic_size_t next;
};

/* A worker: takes the batch's next revision until none is left, and opens it as
 * open_revision does (dbk_envelope_open checks its signature). Jansson is safe on
 * separate values from several threads (no allocator of ours is set; its hash seed is
 * set by the sync's answer, parsed before). */
static void *
open_worker(void *arg)
{
    struct open_batch *b = arg;
    size_t i;
    while ((i = atomic_fetch_add(&b->next, 1)) < b->n) {
        struct open_job *j = &b->v[i];
        if (j->keyed)
            j->doc = open_checked(j->r, j->pk, j->key, j->verified);
    }
    return NULL;
}

/* The author's key and the stream's key of each revision, on the caller's thread (they
 * read the store); a run of revisions of one author and stream looks them up once. */
static void
open_keys(dbk_session *s, struct open_job *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const dbk_envelope_hdr *h = &v[i].r->hdr, *p = i > 0 ? &v[i - 1].r->hdr : NULL;
        if (p != NULL && v[i - 1].keyed && dbk_id_equal(&p->author, &h->author) &&
            dbk_id_equal(&p->stream, &h->stream) && p->epoch == h->epoch) {
            memcpy(v[i].pk, v[i - 1].pk, 32);
            memcpy(v[i].key, v[i - 1].key, 32);
            v[i].keyed = true;
            continue;
        }
        v[i].keyed = s->keys != NULL && dbk_trust_sign_pk(s, &h->author, v[i].pk) == DBK_OK &&
                     dbk_stream_key(s, &h->stream, h->epoch, v[i].key) == DBK_OK;
    }
}

static bool pre_verified(dbk_eu_opener *o, const dbk_local_record *r, const unsigned char pk[32]);

void
dbk_eu_open_records(dbk_session *s, const dbk_local_record *r, size_t n, json_t **docs)
{
    dbk_eu_open_records_pre(s, NULL, r, n, docs);
}

void
dbk_eu_open_records_pre(dbk_session *s, dbk_eu_opener *pre, const dbk_local_record *r, size_t n,
                        json_t **docs)
{
    struct open_job *v = calloc(n ? n : 1, sizeof *v);
    struct open_batch b = {v, n, 0};
    pthread_t t[DBK_EU_OPEN_THREADS - 1];
    static long cores; /* asked once a process: this runs once a batch of 256 */
    size_t nt = 0, want;

    if (cores == 0)
        cores = sysconf(_SC_NPROCESSORS_ONLN);
    want = cores > 1 ? (size_t)cores : 1;

    if (v == NULL) { /* one by one, as before */
        for (size_t i = 0; i < n; i++)
            docs[i] = dbk_eu_open_record(s, &r[i]);
        return;
    }
    for (size_t i = 0; i < n; i++)
        v[i].r = &r[i];
    open_keys(s, v, n);
    for (size_t i = 0; pre != NULL && i < n; i++)
        v[i].verified = v[i].keyed && pre_verified(pre, v[i].r, v[i].pk);
    if (want > DBK_EU_OPEN_THREADS)
        want = DBK_EU_OPEN_THREADS;
    /* A thread for every 16 revisions at most: a small batch is not worth one. */
    while (nt + 1 < want && (nt + 1) * 16 < n && pthread_create(&t[nt], NULL, open_worker, &b) == 0)
        nt++;
    open_worker(&b);
    for (size_t i = 0; i < nt; i++)
        pthread_join(t[i], NULL);
    for (size_t i = 0; i < n; i++)
        docs[i] = v[i].doc;
    sodium_memzero(v, n * sizeof *v);
    free(v);
}

/* ---- revisions opened ahead (dbk_eu_opener) ---- */

/* One revision queued: a copy of it and its author's key as looked up when queued,
 * and once checked the hash of its envelope and whether its signature holds. Only the
 * signature is checked ahead (the Ed25519 verify, 95 % of opening): decrypting is
 * left to the reader, so no plaintext waits in memory. */
struct pre_job {
    dbk_local_record r; /* r.env: the copy, in the opener's blocks; NULL once checked */
    unsigned char pk[32], hash[32];
    bool ok;
};

/* Jobs and the envelopes' copies are kept in blocks, each allocated once and freed with
 * the opener: one malloc per revision on this thread and one free on a worker made the
 * two fight over the allocator's lock (a third of the time this saved, in a profile). */
#define PRE_CHUNK 1024
#define PRE_BLOCK (1u << 20)
/* A worker is woken once this many wait, not for each (a switch each, 36k a sync);
 * what is left when the sync ends is opened by pre_finish. */
#define PRE_WAKE 32
/* The copies are kept until the summaries read them, after the last round: a server
 * answering each of a sync's rounds with all the client takes (64 MiB, sync/net.c)
 * would otherwise make it hold them all. What the opener holds in all is bounded: the
 * copies' blocks, the jobs (some 200 bytes each, more than a small revision's copy) and
 * their index, the table of pre_finish. Past this, revisions are checked when read. */
#define PRE_HELD_MAX ((size_t)256 << 20)

struct pre_block {
    struct pre_block *next;
    size_t used, cap;
    unsigned char b[];
};

struct dbk_eu_opener {
    dbk_session *s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pre_job **chunks; /* job i in chunks[i / PRE_CHUNK] */
    size_t nchunks, capchunks;
    size_t n, next; /* next: the first no thread took yet */
    bool stop, finished;
    pthread_t t[DBK_EU_OPEN_THREADS - 1];
    size_t nt;
    struct pre_block *envs; /* the copies, newest block first */
    /* Bytes allocated for the copies' blocks, the jobs' chunks, their index and the table,
     * at most PRE_HELD_MAX (pre_hold); this thread's only. */
    size_t held;
    /* The key last looked up: a pull brings runs of one author. */
    dbk_id last;
    bool have_last;
    unsigned char lpk[32];
    struct pre_job **tab; /* once finished: by record id (open addressing), the last added */
    size_t tabcap;
    /* Record ids are chosen by their authors, a malicious client among them: ids made to
     * share their first bytes would put every job on one run of slots (a sync's worth of
     * probes for each). Slots are hashed under a key of this opener's. */
    unsigned char slot_key[crypto_shorthash_KEYBYTES];
    size_t probes; /* slots walked past, all lookups (dbk_eu_opener_probes) */
};

static struct pre_job *
pre_job_at(const dbk_eu_opener *o, size_t i)
{
    return &o->chunks[i / PRE_CHUNK][i % PRE_CHUNK];
}

/* The hash kept of an envelope opened ahead, and asked of the stored one. */
static void
env_hash(unsigned char out[32], const unsigned char *env, size_t len)
{
    crypto_generichash(out, 32, env, len, NULL, 0);
}

static void
pre_open(struct pre_job *j)
{
    env_hash(j->hash, j->r.env, j->r.len);
    j->ok = dbk_envelope_verify(j->r.env, j->r.len, j->pk) == DBK_OK;
    j->r.env = NULL;
}

/* The next job no thread took, waiting for one while wait and not stopped. */
static struct pre_job *
pre_next(dbk_eu_opener *o, bool wait)
{
    struct pre_job *j = NULL;
    pthread_mutex_lock(&o->mu);
    while (wait && o->next == o->n && !o->stop)
        pthread_cond_wait(&o->cv, &o->mu);
    if (o->next < o->n)
        j = pre_job_at(o, o->next++);
    pthread_mutex_unlock(&o->mu);
    return j;
}

static void *
pre_worker(void *arg)
{
    dbk_eu_opener *o = arg;
    struct pre_job *j;
    while ((j = pre_next(o, true)) != NULL)
        pre_open(j);
    return NULL;
}

dbk_eu_opener *
dbk_eu_opener_start(dbk_session *s)
{
    dbk_eu_opener *o = calloc(1, sizeof *o);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    /* The session's thread stores what the rounds bring: the other cores open it. */
    size_t want = cores > 2 ? (size_t)cores - 1 : 1;

    if (o == NULL)
        return NULL;
    o->s = s;
    randombytes_buf(o->slot_key, sizeof o->slot_key);
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cv, NULL);
    if (want > DBK_EU_OPEN_THREADS - 1)
        want = DBK_EU_OPEN_THREADS - 1;
    while (o->nt < want && pthread_create(&o->t[o->nt], NULL, pre_worker, o) == 0)
        o->nt++;
    if (o->nt == 0) {
        dbk_eu_opener_free(o);
        return NULL;
    }
    return o;
}

/* The author's key, as open_keys looks it up; false when it is not known. */
static bool
pre_key(dbk_eu_opener *o, const dbk_envelope_hdr *h, unsigned char pk[32])
{
    if (!o->have_last || !dbk_id_equal(&o->last, &h->author)) {
        o->have_last = dbk_trust_sign_pk(o->s, &h->author, o->lpk) == DBK_OK;
        o->last = h->author;
    }
    memcpy(pk, o->lpk, 32);
    return o->have_last;
}

/* Whether bytes more may be held (counted in o->held if so): PRE_HELD_MAX. */
static bool
pre_hold(dbk_eu_opener *o, size_t bytes)
{
    if (bytes > PRE_HELD_MAX - o->held)
        return false;
    o->held += bytes;
    return true;
}

/* Room for a copy of len bytes (this thread only); NULL when out of memory. */
static unsigned char *
pre_copy(dbk_eu_opener *o, const unsigned char *env, size_t len)
{
    struct pre_block *b = o->envs;
    if (b == NULL || b->cap - b->used < len) {
        size_t cap = len > PRE_BLOCK ? len : PRE_BLOCK;
        if (cap > PRE_HELD_MAX - sizeof *b || !pre_hold(o, sizeof *b + cap))
            return NULL;
        if ((b = malloc(sizeof *b + cap)) == NULL) {
            o->held -= sizeof *b + cap;
            return NULL;
        }
        b->next = o->envs, b->used = 0, b->cap = cap;
        o->envs = b;
    }
    memcpy(b->b + b->used, env, len);
    b->used += len;
    return b->b + b->used - len;
}

/* The slot of job n, its chunk allocated if new (under o->mu); NULL when out of memory
 * or past PRE_HELD_MAX. */
static struct pre_job *
pre_slot_new(dbk_eu_opener *o)
{
    if (o->n % PRE_CHUNK == 0) {
        if (o->nchunks == o->capchunks) {
            size_t cap = o->capchunks ? 2 * o->capchunks : 64;
            size_t more = (cap - o->capchunks) * sizeof *o->chunks;
            if (!pre_hold(o, more))
                return NULL;
            struct pre_job **v = realloc(o->chunks, cap * sizeof *v);
            if (v == NULL) {
                o->held -= more;
                return NULL;
            }
            o->chunks = v, o->capchunks = cap;
        }
        if (!pre_hold(o, PRE_CHUNK * sizeof **o->chunks))
            return NULL;
        if ((o->chunks[o->nchunks] = calloc(PRE_CHUNK, sizeof **o->chunks)) == NULL) {
            o->held -= PRE_CHUNK * sizeof **o->chunks;
            return NULL;
        }
        o->nchunks++;
    }
    return pre_job_at(o, o->n);
}

void
dbk_eu_opener_add(dbk_eu_opener *o, const dbk_local_record *r)
{
    unsigned char pk[32], *env;
    struct pre_job *j;

    if (o == NULL || o->finished || !pre_key(o, &r->hdr, pk) ||
        (env = pre_copy(o, r->env, r->len)) == NULL)
        return; /* checked when it is read, as without this */
    pthread_mutex_lock(&o->mu);
    if ((j = pre_slot_new(o)) != NULL) {
        j->r = *r;
        j->r.env = env;
        memcpy(j->pk, pk, 32);
        o->n++;
        if (o->n - o->next >= PRE_WAKE)
            pthread_cond_signal(&o->cv);
    }
    pthread_mutex_unlock(&o->mu);
}

static size_t
pre_slot(dbk_eu_opener *o, const dbk_id *record)
{
    unsigned char k[crypto_shorthash_BYTES];
    uint64_t h;
    crypto_shorthash(k, record->b, DBK_ID_BYTES, o->slot_key);
    memcpy(&h, k, sizeof h);
    size_t i = (size_t)h & (o->tabcap - 1);
    while (o->tab[i] != NULL && !dbk_id_equal(&o->tab[i]->r.hdr.record, record))
        i = (i + 1) & (o->tabcap - 1), o->probes++;
    return i;
}

size_t
dbk_eu_opener_probes(const dbk_eu_opener *o)
{
    return o->probes;
}

size_t
dbk_eu_opener_held(const dbk_eu_opener *o)
{
    return o->held;
}

static void
pre_blocks_free(dbk_eu_opener *o)
{
    while (o->envs != NULL) {
        struct pre_block *b = o->envs;
        o->envs = b->next;
        o->held -= sizeof *b + b->cap;
        free(b);
    }
}

/* The threads stopped, having opened what was queued (drain: this thread helps) or
 * not (what no thread took stays unopened); then the jobs indexed by record. */
static void
pre_finish(dbk_eu_opener *o, bool drain)
{
    struct pre_job *j;
    if (o->finished)
        return;
    pthread_mutex_lock(&o->mu);
    o->stop = true;
    if (!drain)
        o->next = o->n;
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
    while (drain && (j = pre_next(o, false)) != NULL)
        pre_open(j);
    for (size_t i = 0; i < o->nt; i++)
        pthread_join(o->t[i], NULL);
    o->nt = 0;
    o->finished = true;
    pre_blocks_free(o); /* every copy opened, or never to be */
    for (o->tabcap = 16; o->tabcap < 2 * o->n; o->tabcap *= 2)
        ;
    /* No table past the bound (nothing taken as checked ahead: each is checked when
     * read, as without this). */
    if (!drain || !pre_hold(o, o->tabcap * sizeof *o->tab))
        return;
    if ((o->tab = calloc(o->tabcap, sizeof *o->tab)) == NULL) {
        o->held -= o->tabcap * sizeof *o->tab;
        return;
    }
    for (size_t i = 0; i < o->n; i++)
        if ((j = pre_job_at(o, i))->ok)
            o->tab[pre_slot(o, &j->r.hdr.record)] = j;
}

/* Whether r's signature was checked ahead and holds: the same revision, every byte of
 * its envelope (the hash of the stored one), under the author's key the reader looked
 * up now (pk). Otherwise the reader checks it, as without this. */
static bool
pre_verified(dbk_eu_opener *o, const dbk_local_record *r, const unsigned char pk[32])
{
    unsigned char h[32];
    struct pre_job *j;

    pre_finish(o, true);
    if (o->tab == NULL || (j = o->tab[pre_slot(o, &r->hdr.record)]) == NULL || !j->ok ||
        j->r.hdr.rev.clock != r->hdr.rev.clock ||
        !dbk_id_equal(&j->r.hdr.rev.device, &r->hdr.rev.device) ||
        sodium_memcmp(j->pk, pk, 32) != 0)
        return false;
    env_hash(h, r->env, r->len);
    return sodium_memcmp(h, j->hash, 32) == 0;
}

void
dbk_eu_opener_free(dbk_eu_opener *o)
{
    if (o == NULL)
        return;
    pre_finish(o, false);
    for (size_t c = 0; c < o->nchunks; c++)
        free(o->chunks[c]); /* public keys and hashes of ciphertext: nothing to wipe */
    free(o->chunks);
    free(o->tab);
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->cv);
    free(o);
}

struct rev_ctx {
    dbk_session *s;
    dbk_eu_rev *v;
    size_t n, cap;
    int rc;
};

static void
on_rev(const dbk_local_record *r, void *arg)
{
    struct rev_ctx *c = arg;
    if (c->rc != DBK_OK)
        return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        dbk_eu_rev *v = realloc(c->v, cap * sizeof *v);
        if (v == NULL) {
            c->rc = DBK_E_NOMEM;
            return;
        }
        c->v = v, c->cap = cap;
    }
    c->v[c->n].hdr = r->hdr;
    c->v[c->n].current = r->current;
    c->v[c->n].pending = r->pending;
    c->v[c->n].doc = open_revision(c->s, r);
    c->n++;
}

int
dbk_eu_revisions(dbk_session *s, const dbk_id *record, dbk_eu_rev **out, size_t *n)
{
    struct rev_ctx c = {s, NULL, 0, 0, DBK_OK};
    int rc = dbk_unlock(s);

    if (rc == DBK_OK)
        rc = dbk_local_revisions(s->L, record, on_rev, &c);
    if (rc == DBK_OK)
        rc = c.rc;
    if (rc != DBK_OK) {
        dbk_eu_revisions_free(c.v, c.n);
        *out = NULL, *n = 0;
        return rc;
    }
    *out = c.v, *n = c.n;
    return DBK_OK;
}

void
dbk_eu_revisions_free(dbk_eu_rev *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(v[i].doc);
    free(v);
}

/* ---- days, text, output ---- */

int64_t
dbk_eu_today(void)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    return dbk_day_from_civil((int64_t)tm.tm_year + 1900, (unsigned)tm.tm_mon + 1,
                              (unsigned)tm.tm_mday);
}

bool
dbk_eu_entry_day(const json_t *doc, int64_t *day)
{
    static const char *const keys[] = {"occurred_at", "written_at", "date", "answered_at",
                                       "deleted_at"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = json_string_value(json_object_get(doc, keys[i]));
        if (v != NULL)
            return strlen(v) >= 10 && dbk_day_parse(v, day);
    }
    return false;
}

const char *
dbk_eu_stream_name(int kind)
{
    return kind == DBK_LOCAL_PRIVATE ? "private" : "shared";
}

void
dbk_eu_clock_text(uint64_t clock, char out[32])
{
    time_t t = (time_t)(dbk_hlc_ms(clock) / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm);
}

bool
dbk_eu_intensity10(const json_t *craving, double *out)
{
    const json_t *i = json_object_get(craving, "intensity");
    const char *scale = json_string_value(json_object_get(i, "scale"));
    const json_t *v = json_object_get(i, "value");

    if (scale == NULL || !json_is_integer(v))
        return false;
    if (strcmp(scale, "0-10") == 0 && json_integer_value(v) >= 0 && json_integer_value(v) <= 10)
        *out = (double)json_integer_value(v);
    else if (strcmp(scale, "1-100") == 0 && json_integer_value(v) >= 1 &&
             json_integer_value(v) <= 100)
        *out = (double)json_integer_value(v) / 10.0;
    else
        return false;
    return true;
}

void
dbk_eu_wipe_free(char *s)
{
    dbk_wiping_free(s);
}

size_t
dbk_eu_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[65];

    if (la > 64 || lb > 64)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t best = prev + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}
