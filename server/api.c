/*
 * Shared plumbing of the /v1 endpoints; see api.h. Nothing here logs a token, a
 * body or any value a client sent: only error codes, ids and counts.
 */
#include "api.h"
#include "authcache.h"
#include "heads.h"

#include "dbk/base64.h"
#include "dbk/bytes.h"
#include "dbk/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char DOM_TOKEN[] = "daybook/v1/token";

int64_t
dbk_api_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
dbk_api_token_hash(unsigned char out[32], const unsigned char *token, size_t len)
{
    crypto_generichash_state s;
    crypto_generichash_init(&s, NULL, 0, 32);
    crypto_generichash_update(&s, (const unsigned char *)DOM_TOKEN, sizeof DOM_TOKEN);
    crypto_generichash_update(&s, token, len);
    crypto_generichash_final(&s, out, 32);
}

bool
dbk_api_bearer_hash(dbk_http_request *req, unsigned char hash[32])
{
    if (req->token_state == 0) {
        const char *h = dbk_http_header_get(req, "Authorization");
        unsigned char token[32];
        req->token_state = -1;
        if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0 &&
            dbk_b64_decode_exact(token, sizeof token, h + 7, strlen(h + 7)) == DBK_OK) {
            dbk_api_token_hash(req->token_hash, token, sizeof token);
            req->token_state = 1;
        }
        sodium_memzero(token, sizeof token);
    }
    if (req->token_state < 0)
        return false;
    memcpy(hash, req->token_hash, sizeof req->token_hash);
    return true;
}

/* ---- a client's grants to a counselor ---- */

struct shared_streams {
    const dbk_id *owner;
    dbk_stream *s;
    size_t n, cap;
    bool nomem;
};

static void
on_shared_stream(const dbk_stream *s, void *arg)
{
    struct shared_streams *o = arg;
    if (o->nomem || !dbk_id_equal(&s->owner, o->owner) || s->kind != DBK_STREAM_SHARED)
        return;
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 4;
        dbk_stream *p = realloc(o->s, cap * sizeof *p);
        if (p == NULL) {
            o->nomem = true;
            return;
        }
        o->s = p;
        o->cap = cap;
    }
    o->s[o->n++] = *s;
}

struct grants_scan {
    const dbk_id *grantee;
    int64_t now;
    dbk_api_grant_state *out;
};

static void
on_grant_row(const dbk_grant_row *g, void *arg)
{
    struct grants_scan *sc = arg;
    if (!dbk_id_equal(&g->grantee, sc->grantee))
        return;
    if (g->revoked_at != 0)
        sc->out->revoked = true;
    else if (g->expires_at != 0 && g->expires_at <= sc->now)
        sc->out->expired = true;
    else
        sc->out->active = true;
}

int
dbk_api_grants_to(dbk_store *st, const dbk_id *owner, const dbk_id *grantee, int64_t now,
                  dbk_api_grant_state *out, dbk_stream **streams, size_t *nstreams)
{
    struct shared_streams o = {owner, NULL, 0, 0, false};
    struct grants_scan sc = {grantee, now, out};
    int rc;

    memset(out, 0, sizeof *out);
    rc = dbk_store_streams_for(st, owner, now, on_shared_stream, &o);
    if (rc == DBK_OK && o.nomem)
        rc = DBK_E_NOMEM;
    for (size_t i = 0; rc == DBK_OK && i < o.n; i++)
        rc = dbk_store_grants_of_stream(st, &o.s[i].id, on_grant_row, &sc);
    if (rc == DBK_OK && streams != NULL) {
        *streams = o.s;
        *nstreams = o.n;
    } else {
        free(o.s);
    }
    return rc;
}

/* ---- request bodies ---- */

size_t
dbk_api_json_depth(json_t *v)
{
    size_t d = 0, sub;
    const char *k;
    json_t *e;
    size_t i;

    if (json_is_object(v)) {
        json_object_foreach(v, k, e) {
            if ((sub = dbk_api_json_depth(e)) > d)
                d = sub;
        }
        return d + 1;
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, e) {
            if ((sub = dbk_api_json_depth(e)) > d)
                d = sub;
        }
        return d + 1;
    }
    return 0;
}

bool
dbk_api_json_too_deep(const unsigned char *p, size_t n, size_t max)
{
    size_t depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                return true;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return false;
}

bool
dbk_api_media_json(dbk_http_request *req)
{
    const char *ct = dbk_http_header_get(req, "Content-Type");
    return ct != NULL && strncasecmp(ct, "application/json", 16) == 0 &&
           (ct[16] == '\0' || ct[16] == ';');
}

json_t *
dbk_api_body(dbk_http_request *req)
{
    json_error_t e;
    json_t *j;

    if (!dbk_api_media_json(req)) {
        dbk_http_respond_error(req, DBK_E_MEDIA_TYPE);
        return NULL;
    }
    if (dbk_api_json_too_deep(req->body, req->body_len, DBK_JSON_MAX_DEPTH)) {
        dbk_http_respond_error(req, DBK_E_TOO_DEEP);
        return NULL;
    }
    j = json_loadb((const char *)req->body, req->body_len,
                   JSON_REJECT_DUPLICATES, &e);
    if (j == NULL) {
        dbk_http_respond_error(req, DBK_E_BAD_JSON);
        return NULL;
    }
    if (!json_is_object(j) || dbk_api_json_depth(j) > DBK_JSON_MAX_DEPTH) {
        int err = json_is_object(j) ? DBK_E_TOO_DEEP : DBK_E_BAD_JSON; /* before the decref */
        json_decref(j);
        dbk_http_respond_error(req, err);
        return NULL;
    }
    return j;
}

int
dbk_api_only(json_t *obj, const char *const *allowed)
{
    const char *k;
    json_t *v;

    json_object_foreach(obj, k, v) {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], k) != 0)
            i++;
        if (allowed[i] == NULL)
            return DBK_E_UNKNOWN_FIELD;
        if (json_is_null(v))
            return DBK_E_BAD_FIELD;
    }
    return DBK_OK;
}

int
dbk_api_bytes(json_t *obj, const char *key, size_t cap, unsigned char **out, size_t *len)
{
    json_t *v = json_object_get(obj, key);
    const char *s;
    size_t n;
    unsigned char *b;
    int rc;

    *out = NULL;
    *len = 0;
    if (!json_is_string(v))
        return DBK_E_BAD_FIELD;
    s = json_string_value(v);
    n = json_string_length(v);
    if (n > DBK_B64_ENCODED_LEN(cap))
        return DBK_E_BAD_FIELD;
    b = malloc(DBK_B64_DECODED_MAX(n) + 1);
    if (b == NULL)
        return DBK_E_NOMEM;
    rc = dbk_b64_decode(b, DBK_B64_DECODED_MAX(n) + 1, len, s, n);
    if (rc != DBK_OK) {
        free(b);
        return rc == DBK_E_TOO_LARGE ? DBK_E_BAD_FIELD : rc;
    }
    *out = b;
    return DBK_OK;
}

int
dbk_api_fixed(json_t *obj, const char *key, unsigned char *out, size_t n)
{
    json_t *v = json_object_get(obj, key);
    unsigned char buf[256];
    size_t got;
    int rc;

    if (!json_is_string(v) || n > sizeof buf)
        return DBK_E_BAD_FIELD;
    if (json_string_length(v) > DBK_B64_ENCODED_LEN(sizeof buf))
        return DBK_E_BAD_FIELD;
    /* Not base64url: bad_base64. Base64url of the wrong length: bad_field. */
    rc = dbk_b64_decode(buf, sizeof buf, &got, json_string_value(v), json_string_length(v));
    if (rc == DBK_OK && got != n)
        rc = DBK_E_BAD_FIELD;
    if (rc == DBK_OK)
        memcpy(out, buf, n);
    sodium_memzero(buf, sizeof buf);
    return rc;
}

int
dbk_api_id(json_t *obj, const char *key, dbk_id *out)
{
    return dbk_api_fixed(obj, key, out->b, DBK_ID_BYTES);
}

int
dbk_api_str(json_t *obj, const char *key, size_t max, const char **out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
        memchr(json_string_value(v), '\0', json_string_length(v)) != NULL)
        return DBK_E_BAD_FIELD;
    *out = json_string_value(v);
    return DBK_OK;
}

int
dbk_api_int(json_t *obj, const char *key, bool optional, int64_t dflt, int64_t lo, int64_t hi,
            int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL && optional) {
        *out = dflt;
        return DBK_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return DBK_E_BAD_FIELD;
    *out = json_integer_value(v);
    return DBK_OK;
}

int
dbk_api_revision(json_t *v, dbk_revision *out)
{
    static const char *const keys[] = {"clock", "device", NULL};
    json_t *c;
    const char *s;
    char *end;

    if (!json_is_object(v) || dbk_api_only(v, keys) != DBK_OK)
        return DBK_E_BAD_FIELD;
    c = json_object_get(v, "clock");
    if (!json_is_string(c))
        return DBK_E_BAD_FIELD;
    s = json_string_value(c);
    if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] != '\0') || strlen(s) > 20)
        return DBK_E_BAD_FIELD;
    errno = 0;
    out->clock = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return DBK_E_BAD_FIELD;
    return dbk_api_id(v, "device", &out->device);
}

json_t *
dbk_api_bytes_json(const unsigned char *b, size_t len)
{
    size_t n = DBK_B64_ENCODED_LEN(len) + 1;
    char *s = malloc(n);
    json_t *j;
    if (s == NULL)
        return NULL;
    (void)dbk_b64_encode(s, n, b, len);
    j = json_stringn_nocheck(s, n - 1);
    free(s);
    return j;
}

json_t *
dbk_api_id_json(const dbk_id *id)
{
    char t[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(id, t);
    return json_string(t);
}

json_t *
dbk_api_revision_json(const dbk_revision *r)
{
    char clock[24];
    snprintf(clock, sizeof clock, "%llu", (unsigned long long)r->clock);
    return json_pack("{s:s, s:o}", "clock", clock, "device", dbk_api_id_json(&r->device));
}

int
dbk_api_query_each(const dbk_http_request *req, const char *const *allowed, const char *name,
                   int (*each)(const char *val, size_t len, void *arg), void *arg)
{
    const char *p = req->query;
    size_t nlen = strlen(name);
    int rc;

    while (*p) {
        const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        size_t klen = (size_t)((eq ? eq : end) - p);
        size_t i = 0;
        while (allowed[i] && (strlen(allowed[i]) != klen || memcmp(allowed[i], p, klen) != 0))
            i++;
        if (allowed[i] == NULL)
            return DBK_E_UNKNOWN_FIELD;
        if (klen == nlen && memcmp(p, name, nlen) == 0 &&
            (rc = each(eq ? eq + 1 : end, eq ? (size_t)(end - eq - 1) : 0, arg)) != DBK_OK)
            return rc;
        p = amp ? amp + 1 : end;
    }
    return DBK_OK;
}

struct query_int {
    int64_t lo, hi, *out;
};

static int
query_int(const char *val, size_t vlen, void *arg)
{
    struct query_int *q = arg;
    char buf[24], *e;

    if (vlen == 0 || vlen >= sizeof buf)
        return DBK_E_BAD_FIELD;
    memcpy(buf, val, vlen);
    buf[vlen] = '\0';
    errno = 0;
    long long v = strtoll(buf, &e, 10);
    if (errno || *e != '\0' || buf[0] == '-' || buf[0] == '+')
        return DBK_E_BAD_FIELD;
    if (v < q->lo)
        return DBK_E_INVALID;        /* a number, but not a usable one (README section 17) */
    *q->out = v > q->hi ? q->hi : v; /* larger values are lowered (README section 11) */
    return DBK_OK;
}

int
dbk_api_query(const dbk_http_request *req, const char *const *allowed, const char *name,
              int64_t dflt, int64_t lo, int64_t hi, int64_t *out)
{
    struct query_int q = {lo, hi, out};
    *out = dflt;
    return dbk_api_query_each(req, allowed, name, query_int, &q);
}

/* ---- jobs ---- */

static void
job_free(dbk_api_job *j)
{
    json_decref(j->in);
    json_decref(j->out);
    if (j->out_text != NULL) {
        sodium_memzero(j->out_text, j->out_len);
        free(j->out_text);
    }
    if (j->ctx_free != NULL)
        j->ctx_free(j->ctx);
    sodium_memzero(j->token_hash, sizeof j->token_hash);
    sodium_memzero(j->issued_hash, sizeof j->issued_hash);
    free(j);
}

/*
 * Request rates: token buckets, per node, taken by the storage threads under
 * bucket_lock (PostgreSQL runs several; SQLite one, which takes it uncontended).
 * Slots are chosen by a keyed hash of the whole id, with a key made at start, so a
 * client cannot pick an id that lands on someone else's slot; ids that do share a
 * slot share its bucket, which only errs strict.
 * Table 0 limits authenticated requests per account; table 1 login attempts per
 * claimed account id *and source address*, table 2 login attempts per source address
 * whatever the account (proto/README.md R12). Keying the login limit by account alone
 * let anyone who knew an account id keep its owner from logging in; keyed by account
 * and source, another source's failures never touch the owner's bucket, and the
 * source table stops one address from trying many accounts.
 */
#define RATE_SLOTS 4096
#define LOGIN_BURST 10.0
#define LOGIN_PER_S (1.0 / 6.0)
/* A clinic's waiting room behind one NAT address: about 30 logins at once. */
#define SOURCE_BURST 60.0
#define SOURCE_PER_S 1.0

static struct bucket {
    double tokens;
    int64_t at;
    bool used;
} buckets[3][RATE_SLOTS];
static unsigned char bucket_key[crypto_shorthash_KEYBYTES];
static bool bucket_key_set;

static pthread_mutex_t bucket_lock = PTHREAD_MUTEX_INITIALIZER;

static bool
bucket_take_locked(int table, const unsigned char *key, size_t key_len, double per_s,
                   double burst, int64_t now, int *wait_s)
{
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t v = 0;
    struct bucket *b;

    if (!bucket_key_set) {
        crypto_shorthash_keygen(bucket_key);
        bucket_key_set = true;
    }
    crypto_shorthash(h, key, key_len, bucket_key);
    for (size_t i = 0; i < sizeof h; i++)
        v = v << 8 | h[i];
    b = &buckets[table][v % RATE_SLOTS];
    if (!b->used) {
        b->used = true;
        b->tokens = burst;
        b->at = now;
    }
    if (now > b->at)
        b->tokens += (double)(now - b->at) * per_s / 1000.0;
    if (b->tokens > burst)
        b->tokens = burst;
    b->at = now;
    if (b->tokens < 1) {
        /* Until a whole token has come back: the true Retry-After, never a guess. */
        *wait_s = (int)((1.0 - b->tokens) / per_s + 0.999);
        if (*wait_s < 1)
            *wait_s = 1;
        return false;
    }
    b->tokens -= 1;
    return true;
}

static bool
bucket_take(dbk_api_job *j, int table, const dbk_id *id, double per_s, double burst)
{
    pthread_mutex_lock(&bucket_lock);
    bool ok = bucket_take_locked(table, id->b, DBK_ID_BYTES, per_s, burst, j->now,
                                 &j->retry_after_s);
    pthread_mutex_unlock(&bucket_lock);
    return ok;
}

bool
dbk_api_login_rate_ok(dbk_api_job *j, const dbk_id *account, const unsigned char source[16])
{
    unsigned char pair[DBK_ID_BYTES + 16];
    memcpy(pair, account->b, DBK_ID_BYTES);
    memcpy(pair + DBK_ID_BYTES, source, 16);
    /* A loopback peer is the clinic's reverse proxy (deploy/README.md): every client
     * comes through it, so no per-source limit there, or anyone could spend everyone's
     * logins; the proxy limits per address itself. */
    static const unsigned char v4_loop[13] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127};
    static const unsigned char zero[16] = {0}; /* ::1 kept as its /64, or no peer known */
    bool proxy = memcmp(source, v4_loop, sizeof v4_loop) == 0 || memcmp(source, zero, 16) == 0;
    pthread_mutex_lock(&bucket_lock);
    bool ok = bucket_take_locked(1, pair, sizeof pair, LOGIN_PER_S, LOGIN_BURST, j->now,
                                 &j->retry_after_s) &&
              (proxy || bucket_take_locked(2, source, 16, SOURCE_PER_S, SOURCE_BURST, j->now,
                                           &j->retry_after_s));
    pthread_mutex_unlock(&bucket_lock);
    return ok;
}

/*
 * Two small caches for the loop thread, both 4-way set associative (a direct-mapped
 * table of 1,024 evicted about one account in ten of a hundred busy ones, whose
 * pushes then fell back to verifying on the worker). A miss or an eviction only
 * costs speed: the worker checks every token and every key against the store.
 * Account ids are chosen by clients, so one could crowd a set on purpose; that too
 * only sends pushes to the worker's own verify.
 *
 * Identity keys of the accounts seen lately, by their id; and tokens that
 * authenticated lately, by their hash, with their account: the gate of the
 * signature checks done before the worker (api_records.c), so a request with a
 * made-up token gets no work done for it before its token is checked. An entry
 * here only lets a push's own envelopes be verified early, for TOKEN_SEEN_MS.
 *
 * A token entry also says whether the token may answer "nothing new" from memory
 * (dbk_api_fast_auth). The token table is sized for that: 16,384 tokens (one device
 * each for 16,384 clients, beside heads.c's two streams each), 120 bytes a token,
 * 1.9 MiB when all are used, pages touched only as used; each token may sit in either
 * of two sets (by two groups of its hash's bytes) and goes to the emptier, so 10,000
 * tokens do not overflow sets as one choice in these 4,096 did (about 6%).
 */
#define CACHE_SETS 1024
#define CACHE_WAYS 4
#define TOKEN_SETS 4096
#define TOKEN_SEEN_MS 60000
/* A token the store checked answers "nothing new" from memory for at most this long
 * after that check: the check left it at least 29 days to live (the store slides its
 * expiry to 30 days once a day), so memory never answers for an expired token, even
 * were every noted use below lost. */
#define TOKEN_FAST_MS (28LL * 24 * 3600 * 1000)

static struct sign_pk_slot {
    dbk_id account;
    unsigned char pk[32];
    int64_t at; /* last stored; 0 = empty */
} sign_pks[CACHE_SETS][CACHE_WAYS];

static struct token_slot {
    unsigned char hash[32];
    dbk_id account;
    int64_t until; /* 0 = empty */
    int64_t used;  /* last stored or answered from memory, for eviction */
    /* Set when a committed push, pull or sync checked the token (dbk_api_fast_auth):
     * the job's time, the account's grants_seq then, its heads.h stamp, the store's
     * outside count it ran under (authcache.h), and the last minute whose use was
     * noted for the store (the check's, or one handed over by note_use). */
    bool fast;
    int64_t checked_at, grants_seq, noted;
    dbk_stamp gen;
    uint64_t outside;
} token_slots[TOKEN_SETS][CACHE_WAYS];

/* What the loop knows of the storage thread's checks for outside writes (authcache.h):
 * the largest outside count a job that ran brought back, and a time at or before
 * which a check with that finding was made (the latest such job's arrival). */
static uint64_t loop_outside;
static int64_t checked_since;

static size_t
cache_set(const unsigned char b[4])
{
    return dbk_get_u32(b) % CACHE_SETS;
}

/* The two sets a token hash may sit in. */
static void
token_sets(const unsigned char hash[32], struct token_slot *sets[2])
{
    for (size_t k = 0; k < 2; k++)
        sets[k] = token_slots[dbk_get_u32(hash + 4 * k) % TOKEN_SETS];
}

static struct sign_pk_slot *
sign_pk_find(const dbk_id *account)
{
    struct sign_pk_slot *set = sign_pks[cache_set(account->b)];
    for (size_t w = 0; w < CACHE_WAYS; w++)
        if (set[w].at != 0 && dbk_id_equal(&set[w].account, account))
            return &set[w];
    return NULL;
}

bool
dbk_api_known_sign_pk(const dbk_id *account, unsigned char pk[32])
{
    const struct sign_pk_slot *s = sign_pk_find(account);
    if (s == NULL)
        return false;
    memcpy(pk, s->pk, 32);
    return true;
}

static struct token_slot *
token_find(const unsigned char hash[32])
{
    struct token_slot *sets[2];
    token_sets(hash, sets);
    for (size_t k = 0; k < 2; k++)
        for (size_t w = 0; w < CACHE_WAYS; w++)
            if (sets[k][w].until != 0 && sodium_memcmp(sets[k][w].hash, hash, 32) == 0)
                return &sets[k][w];
    return NULL;
}

bool
dbk_api_recent_token(const dbk_api_job *j, dbk_id *account)
{
    const struct token_slot *t = j->need_auth ? token_find(j->token_hash) : NULL;
    if (t == NULL || t->until < j->now)
        return false;
    *account = t->account;
    return true;
}

/* Whether t was checked by the store for a committed push, pull or sync, not too long
 * before now, with nothing since that may change its account's answers (heads.h) and
 * no change from outside found since (authcache.h). */
static bool
token_fast(const struct token_slot *t, int64_t now)
{
    return t->fast && dbk_heads_stamp_holds(&t->account, t->gen) && t->outside == loop_outside &&
           now >= t->checked_at && now - t->checked_at < TOKEN_FAST_MS;
}

/* For the head gate, which only refuses early: where "nothing new" is answered from
 * memory (SQLite), a token that may answer it is as good as one seen in the last
 * minute, so a device's daily sync needs no job for its gate either. */
bool
dbk_api_token_recent(const unsigned char hash[32], int64_t now, dbk_id *account)
{
    const struct token_slot *t = token_find(hash);
    if (t == NULL || (t->until < now && !(dbk_heads_enabled() && token_fast(t, now))))
        return false;
    *account = t->account;
    return true;
}

bool
dbk_api_fast_auth(dbk_api_job *j, dbk_id *account, int64_t *grants_seq)
{
    const struct token_slot *t = j->need_auth ? token_find(j->token_hash) : NULL;
    /* The token (token_fast), and the store: checked for changes from outside in this
     * same minute, so one made in an earlier minute (`daybookd counselor disable`) has
     * been seen and is in loop_outside. */
    if (t == NULL || !token_fast(t, j->now) || j->now < checked_since ||
        j->now / 60000 != checked_since / 60000)
        return false;
    *account = t->account;
    *grants_seq = t->grants_seq;
    return true;
}

bool
dbk_api_fast_rate(dbk_api_job *j, const dbk_id *account)
{
    return bucket_take(j, 0, account, j->app->config.rate_per_s, j->app->config.rate_burst);
}

/* Remembers a token that authenticated (or was issued) and its account's key; a
 * new entry takes an empty way or the one used longest ago, in the emptier of its
 * two sets. Returns its slot. */
static struct token_slot *
token_seen(const unsigned char hash[32], const dbk_id *account, const unsigned char sign_pk[32],
           int64_t now)
{
    struct sign_pk_slot *s = sign_pk_find(account);
    struct token_slot *t = token_find(hash);

    if (s == NULL) {
        struct sign_pk_slot *set = sign_pks[cache_set(account->b)];
        s = &set[0];
        for (size_t w = 1; w < CACHE_WAYS; w++)
            if (set[w].at < s->at)
                s = &set[w];
    }
    s->account = *account;
    memcpy(s->pk, sign_pk, 32);
    s->at = now > 0 ? now : 1;
    if (t == NULL) {
        struct token_slot *sets[2], *set;
        size_t used[2] = {0, 0};
        token_sets(hash, sets);
        for (size_t k = 0; k < 2; k++)
            for (size_t w = 0; w < CACHE_WAYS; w++)
                used[k] += sets[k][w].until != 0;
        set = used[1] < used[0] ? sets[1] : sets[0];
        t = &set[0];
        for (size_t w = 1; w < CACHE_WAYS; w++)
            if (set[w].used < t->used)
                t = &set[w];
        memset(t, 0, sizeof *t);
    }
    memcpy(t->hash, hash, 32);
    t->account = *account;
    t->until = now + TOKEN_SEEN_MS;
    t->used = now;
    t->fast = false;
    return t;
}

/*
 * Uses noted for the store. A token answered "nothing new" from memory in a minute
 * its store check did not note still counts as the device seen then, and still slides
 * the token's expiry once a day: the storage thread does both later, with the store's
 * own token check (dbk_store_token_check: the expiry slide, the last-seen note)
 * at the request's time, for many uses in one job. The job is handed over before any
 * other job this loop submits (dbk_api_submit), so every read of last seen (the
 * devices list, a caseload) runs after the uses answered before it; also when
 * TOUCH_MAX wait, when the oldest has waited a minute (at the next use), and at
 * shutdown (dbk_api_touches_flush). A use answered from memory has nothing else to
 * write, so these jobs commit without a sync unless an expiry slides.
 */
#define TOUCH_MAX 256

struct touch_job {
    dbk_job job; /* first: the worker's view */
    size_t n;
    struct {
        unsigned char hash[32];
        int64_t at;
    } use[TOUCH_MAX];
};

static struct touch_job *touches; /* being filled (loop thread) */

static void
touch_run(dbk_job *job, dbk_store *st)
{
    struct touch_job *t = (struct touch_job *)job;
    job->status = DBK_OK;
    for (size_t i = 0; i < t->n; i++) {
        dbk_id account, device;
        int rc = dbk_store_token_check(st, t->use[i].hash, t->use[i].at, &account, &device);
        /* A token gone since (logged out, revoked) has nothing left to note. */
        if (rc != DBK_OK && rc != DBK_E_UNAUTHENTICATED && rc != DBK_E_NOT_FOUND) {
            job->status = rc;
            return;
        }
    }
}

static void
touch_done(dbk_job *job)
{
    sodium_memzero(job, sizeof(struct touch_job));
    free(job);
}

void
dbk_api_touches_flush(dbk_app *app)
{
    struct touch_job *t = touches;
    if (t == NULL)
        return;
    touches = NULL;
    dbk_worker_submit(app->worker, &t->job);
}

/* Notes j's use of its token at j->now when its minute was not noted yet. */
static void
note_use(dbk_api_job *j)
{
    struct token_slot *t = j->need_auth ? token_find(j->token_hash) : NULL;
    int64_t minute = j->now / 60000 * 60000;
    if (t == NULL)
        return;
    t->used = j->now;
    if (t->noted == minute)
        return;
    if (touches != NULL && (touches->n == TOUCH_MAX || j->now - touches->use[0].at >= 60000))
        dbk_api_touches_flush(j->app);
    if (touches == NULL) {
        if ((touches = calloc(1, sizeof *touches)) == NULL)
            return; /* not noted: the device's next request to the worker notes it */
        touches->job.run = touch_run;
        touches->job.done = touch_done;
    }
    memcpy(touches->use[touches->n].hash, j->token_hash, 32);
    touches->use[touches->n++].at = j->now;
    t->noted = minute;
}

static void
job_run(dbk_job *job, dbk_store *st)
{
    dbk_api_job *j = (dbk_api_job *)job;
    int rc;

    j->ran = true;
    j->outside = dbk_authcache_outside();
    /* Anything but a push, pull, sync or GET may change a token, a device, an account,
     * a grant or an epoch: what the storage thread cached is forgotten before it runs
     * (authcache.h), so no job after it is answered from before it. */
    if (!j->keeps_heads && strcmp(j->req->method, "GET") != 0)
        dbk_authcache_invalidate();
    if (j->expect != NULL)
        j->expect(j, st);
    if (j->need_auth) {
        dbk_id account;
        if (j->keeps_heads && dbk_authcache_token_get(j->token_hash, j->now, &j->me, &j->device)) {
            account = j->me.id;
            rc = DBK_OK;
        } else {
            rc = dbk_store_token_check(st, j->token_hash, j->now, &account, &j->device);
            if (rc == DBK_OK)
                rc = dbk_store_account_get(st, &account, &j->me);
            if (rc == DBK_E_NOT_FOUND)
                rc = DBK_E_UNAUTHENTICATED;
            if (rc == DBK_OK && j->keeps_heads)
                dbk_authcache_token_put(j->token_hash, j->now, &j->me, &j->device);
        }
        if (rc != DBK_OK) {
            j->job.status = rc;
            return;
        }
        if (!bucket_take(j, 0, &account, j->app->config.rate_per_s,
                         j->app->config.rate_burst)) {
            j->job.status = DBK_E_RATE_LIMITED;
            return;
        }
        j->authed = true;
    }
    j->job.status = DBK_OK;
    j->op(j, st);
}

void
dbk_api_affects(dbk_api_job *j, const dbk_id *account)
{
    const size_t max = sizeof j->affected / sizeof j->affected[0];
    if (j->naffected < max)
        j->affected[j->naffected] = *account;
    if (j->naffected <= max)
        j->naffected++; /* max + 1: more than it can hold, so every head is forgotten */
}

void
dbk_api_affects_none(dbk_api_job *j)
{
    j->affects_none = true;
}

/* What j may have changed, forgotten (heads.h): the accounts it named, nothing when it
 * said so and named none, or all. */
static void
forget_heads(const dbk_api_job *j)
{
    const size_t max = sizeof j->affected / sizeof j->affected[0];
    if (j->affects_none && j->naffected == 0)
        return;
    if (j->naffected == 0 || j->naffected > max) {
        dbk_heads_invalidate();
        return;
    }
    for (size_t i = 0; i < j->naffected; i++)
        dbk_heads_invalidate_account(&j->affected[i]);
}

static void
job_done(dbk_job *job)
{
    dbk_api_job *j = (dbk_api_job *)job;
    int err = job->status;
    int status = err == DBK_OK ? j->status : dbk_err_http_status(err);

    j->app->requests[(status / 100) % 6]++;
    /* A job that may have changed access or an epoch makes the heads it may affect
     * untrusted before its response goes out (heads.h): any that ran, except a GET
     * (every GET route reads; a load balancer's /healthz must not empty the heads
     * each second). Those of the accounts its op named (dbk_api_affects), or every
     * head when it named none. A job refused at authentication or by the rate limit
     * never ran its op and changed nothing (its savepoint is rolled back), so a
     * stranger's requests with made-up tokens forget nothing. A committed push, pull
     * or sync records the heads it saw, and lets its token answer "nothing new" until
     * something changes it (dbk_api_fast_auth). Any job that ran tells what the storage
     * thread found when it looked for changes from outside before running it. */
    if (j->ran && j->outside >= loop_outside) {
        loop_outside = j->outside; /* the store's check for outside writes (authcache.h) */
        if (j->now > checked_since)
            checked_since = j->now;
    }
    if (!j->keeps_heads && j->ran && (!j->need_auth || j->authed) &&
        strcmp(j->req->method, "GET") != 0)
        forget_heads(j);
    if (err == DBK_OK && j->ran && j->committed != NULL)
        j->committed(j); /* after forget_heads: an enroll's new streams (api_accounts.c) */
    if (j->authed) {
        struct token_slot *t = token_seen(j->token_hash, &j->me.id, j->me.sign_pk, j->now);
        if (j->keeps_heads && err == DBK_OK) {
            t->fast = true;
            t->checked_at = j->now;
            t->grants_seq = j->me.grants_seq;
            t->gen = dbk_heads_stamp(&j->me.id);
            t->outside = j->outside;
            t->noted = j->now / 60000 * 60000; /* the check noted this minute */
        }
    }
    /* A token issued by a committed enroll or login is as good as one just checked;
     * an uncommitted one (err) is not in the store, so it is not remembered. */
    if (j->issued && err == DBK_OK)
        token_seen(j->issued_hash, &j->issued_account, j->issued_sign_pk, j->now);
    if (err == DBK_OK && j->status == 204) {
        dbk_http_respond(j->req, 204, "application/json", NULL, NULL, 0);
    } else if (err == DBK_OK && j->out_text != NULL) {
        /* Handed over, not copied: a pull's text is about 150 KB (http.c conn_write). */
        char *text = j->out_text;
        j->out_text = NULL;
        dbk_http_respond_take(j->req, j->status, "application/json", NULL, text, j->out_len);
    } else if (err == DBK_OK) {
        json_t *out = j->out ? j->out : json_object();
        j->out = NULL;
        dbk_http_respond_json(j->req, j->status, out);
    } else {
        json_t *e = json_pack("{s:s, s:s}", "code", dbk_err_code(err), "message",
                              dbk_err_message(err));
        char *text;
        if (j->out_is_extra && j->out != NULL && json_is_object(j->out))
            json_object_update_missing(e, j->out); /* never a success body */
        bool retry = err == DBK_E_RATE_LIMITED || err == DBK_E_STORE_UNAVAILABLE;
        /* A rate limit says when a request is allowed again; the database away
         * (PostgreSQL): the same request, a second later. */
        int wait_s = err == DBK_E_RATE_LIMITED && j->retry_after_s > 0 ? j->retry_after_s : 1;
        char retry_hdr[40];
        snprintf(retry_hdr, sizeof retry_hdr, "Retry-After: %d\r\n", wait_s);
        if (retry)
            json_object_set_new(e, "retry_after_s", json_integer(wait_s));
        if (dbk_err_http_status(err) >= 500)
            DBK_LOG(DBK_LOG_WARN, "request_failed", DBK_STR("path", j->req->path),
                    DBK_STR("code", dbk_err_code(err)));
        e = json_pack("{s:o}", "error", e);
        text = json_dumps(e, JSON_COMPACT);
        json_decref(e);
        if (text == NULL) {
            dbk_http_respond_error(j->req, DBK_E_NOMEM);
        } else {
            dbk_http_respond(j->req, dbk_err_http_status(err), "application/json",
                             retry ? retry_hdr : NULL, text,
                             strlen(text));
            free(text);
        }
    }
    job_free(j);
}

void
dbk_api_fast_done(dbk_api_job *j, int http_status)
{
    j->app->requests[(http_status / 100) % 6]++;
    if (http_status == 200)
        note_use(j);
    job_free(j);
}

dbk_api_job *
dbk_api_job_new(dbk_http_request *req, dbk_api_op op, bool need_auth)
{
    dbk_api_job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        dbk_http_respond_error(req, DBK_E_NOMEM);
        return NULL;
    }
    j->req = req;
    j->app = req->app;
    j->op = op;
    j->status = 200;
    j->now = dbk_api_now();
    j->job.run = job_run;
    j->job.done = job_done;
    if (need_auth) {
        j->need_auth = true;
        if (!dbk_api_bearer_hash(req, j->token_hash)) {
            free(j);
            dbk_http_respond_error(req, DBK_E_UNAUTHENTICATED);
            return NULL;
        }
    }
    return j;
}

void
dbk_api_reject(dbk_api_job *j, int err)
{
    dbk_api_fail(j, err, NULL);
    job_done(&j->job);
}

void
dbk_api_abort(dbk_api_job *j)
{
    job_free(j);
}

void
dbk_api_submit(dbk_api_job *j)
{
    dbk_api_touches_flush(j->app); /* first: what this job reads includes them */
    dbk_worker_submit(j->app->worker, &j->job);
}

dbk_api_job *
dbk_api_body_job(dbk_http_request *req, dbk_api_op op, bool need_auth, size_t ctx_size,
                 void (*ctx_free)(void *))
{
    dbk_api_job *j = dbk_api_job_new(req, op, need_auth);
    if (j == NULL)
        return NULL;
    if ((j->in = dbk_api_body(req)) == NULL) {
        dbk_api_abort(j);
        return NULL;
    }
    if (ctx_size > 0) {
        j->ctx_free = ctx_free;
        if ((j->ctx = calloc(1, ctx_size)) == NULL) {
            dbk_api_reject(j, DBK_E_NOMEM);
            return NULL;
        }
    }
    return j;
}

void
dbk_api_submit_authed(dbk_http_request *req, dbk_api_op op)
{
    dbk_api_job *j = dbk_api_job_new(req, op, true);
    if (j != NULL)
        dbk_api_submit(j);
}

void
dbk_api_submit_with_path_id(dbk_http_request *req, dbk_api_op op, const char *param)
{
    const char *p = dbk_http_param(req, param);
    dbk_api_job *j = dbk_api_job_new(req, op, true);
    dbk_id *id;

    if (j == NULL)
        return;
    id = calloc(1, sizeof *id);
    j->ctx = id;
    j->ctx_free = free;
    if (id == NULL || p == NULL || dbk_id_from_text(id, p, strlen(p)) != DBK_OK) {
        dbk_api_reject(j, id ? DBK_E_BAD_BASE64 : DBK_E_NOMEM);
        return;
    }
    dbk_api_submit(j);
}

void
dbk_api_fail(dbk_api_job *j, int err, json_t *extra)
{
    j->job.status = err;
    json_decref(j->out);
    j->out = extra;
    j->out_is_extra = true;
}

void
dbk_api_audit(dbk_api_job *j, dbk_store *st, dbk_audit_entry *e, int64_t quota, bool charged)
{
    e->at = j->now;
    e->actor_role = j->me.role;
    e->actor = j->me.id;
    e->device = j->device;
    int rc = charged ? DBK_OK : dbk_store_charge(st, &j->me.id, DBK_AUDIT_ROW_BYTES, quota);
    if (rc == DBK_OK && (rc = dbk_store_audit_append(st, e)) != DBK_OK && !charged &&
        dbk_store_charge(st, &j->me.id, -DBK_AUDIT_ROW_BYTES, INT64_MAX) != DBK_OK)
        DBK_LOG(DBK_LOG_ERROR, "audit_charge_kept", DBK_INT("bytes", DBK_AUDIT_ROW_BYTES));
    if (rc != DBK_OK && j->job.status == DBK_OK)
        dbk_api_fail(j, rc, NULL);
}
