/*
 * What every /v1 endpoint shares: strict request parsing, the storage job that
 * carries a request to the worker thread and back, authentication, rate limits.
 *
 * The shape of an endpoint (see api_records.c for a full one):
 *
 *   handler (loop thread)    parse and check the body: pure CPU, no storage;
 *                            on bad input answer 4xx at once; else dbk_api_submit
 *   op      (worker thread)  inside a savepoint: authenticate, authorise, read and
 *                            write the store, build j->out; set j->job.status
 *   (loop thread, after the group's commit) the response is sent by api.c
 *
 * So nothing is answered "stored" before it is committed, and the loop never
 * touches the disk.
 */
#ifndef DBK_SERVER_API_H
#define DBK_SERVER_API_H

#include "app.h"

#include "dbk/error.h"

#include <jansson.h>

/* Nesting allowed in a request body (proto/README.md section 2). */
#define DBK_JSON_MAX_DEPTH 16

typedef struct dbk_api_job dbk_api_job;
typedef void (*dbk_api_op)(dbk_api_job *j, dbk_store *st);

struct dbk_api_job {
    dbk_job job;             /* first: the worker's view */
    dbk_http_request *req;
    dbk_app *app;
    dbk_api_op op;
    bool need_auth;
    unsigned char token_hash[32];
    int64_t now;             /* Unix ms when the request arrived */
    /* Set by authentication (when need_auth and authed). */
    bool authed;
    dbk_account me;
    dbk_id device;
    /* Set by a job that issued a token (enroll, login): the loop then counts the token
     * as lately authenticated, so the account's first push is verified off the worker
     * like every later one (api_records.c). */
    bool issued;
    unsigned char issued_hash[32];
    dbk_id issued_account;
    unsigned char issued_sign_pk[32];
    /* In and out. */
    json_t *in;              /* the parsed body, or NULL; freed with the job */
    json_t *out;             /* the response body (success), or extra error fields */
    bool out_is_extra;       /* out was set by dbk_api_fail: error details */
    int retry_after_s;       /* rate_limited: seconds until a request is allowed again */
    char *out_text;          /* or a success body already written as JSON text (pull and */
    size_t out_len;          /* sync); malloc'd, wiped and freed with the job */
    int status;              /* HTTP status on success; 200 unless set */
    void *ctx;               /* endpoint-specific, freed with ctx_free */
    void (*ctx_free)(void *ctx);
    /* A push, pull or sync: changes no access and no epoch, so it leaves the stream
     * heads (heads.h) trusted; every other job that reached the worker moves their
     * generation when it is done. */
    bool keeps_heads;
    bool ran;                /* reached the worker (a rejected job changed nothing) */
    uint64_t outside;        /* dbk_authcache_outside() when it ran (worker thread) */
    /* The accounts this job's op named with dbk_api_affects (worker thread; read by the
     * loop after the commit). None named: the job forgets every head. */
    size_t naffected;        /* past the array: too many named, forget every head */
    dbk_id affected[4];
    bool affects_none; /* dbk_api_affects_none */
    /* Called on the loop thread, before the response, when the job's group committed
     * and the job succeeded: records the heads it saw (api_records.c), or made (an
     * enroll's new streams, api_accounts.c; after what the job forgets, heads.h). */
    void (*committed)(dbk_api_job *j);
    /* Called on the worker thread before the job's token check: names the streams the
     * op will ask access to (dbk_store_expect_streams), or NULL. */
    void (*expect)(dbk_api_job *j, dbk_store *st);
};

/*
 * For an op that changes access, tokens, devices or an epoch (heads.h): names an
 * account whose "nothing new" answers that change may affect, so that when the job
 * finishes only those accounts' heads and tokens are forgotten, not every one. An op
 * that calls it must name EVERY account it affects (for a grant or a revocation, the
 * owner and the grantee: both grants_seq move); one that never calls it forgets
 * every head, which is always safe. Naming the same account twice is harmless.
 */
void dbk_api_affects(dbk_api_job *j, const dbk_id *account);
/* For an op that can change nothing any "nothing new" answer rests on (an enroll: a
 * new account, new streams, a new device and token, all refused when an id is
 * taken): its job forgets nothing, unless it also names an account. */
void dbk_api_affects_none(dbk_api_job *j);

/* True if the raw text nests deeper than max: checked before parsing, so a hostile
 * body cannot make the parser recurse deeply. Strings are skipped. */
bool dbk_api_json_too_deep(const unsigned char *p, size_t n, size_t max);
/* The nesting depth of a parsed value (a scalar is 0). */
size_t dbk_api_json_depth(json_t *v);

/*
 * Parses req's body as a JSON object: checks the media type (415), JSON and
 * duplicate keys (bad_json), depth (too_deep). On failure answers the request and
 * returns NULL.
 */
json_t *dbk_api_body(dbk_http_request *req);
/* Whether req says its body is application/json (what dbk_api_body answers 415 to). */
bool dbk_api_media_json(dbk_http_request *req);

/*
 * Checks that obj has no keys outside allowed (NULL-terminated). DBK_OK or
 * DBK_E_UNKNOWN_FIELD.
 */
int dbk_api_only(json_t *obj, const char *const *allowed);

/* Typed field readers: DBK_OK, or DBK_E_BAD_FIELD / DBK_E_BAD_BASE64. */
int dbk_api_id(json_t *obj, const char *key, dbk_id *out);
/* Decodes base64url of at most cap bytes into a malloc'd buffer. */
int dbk_api_bytes(json_t *obj, const char *key, size_t cap, unsigned char **out, size_t *len);
int dbk_api_fixed(json_t *obj, const char *key, unsigned char *out, size_t n);
/* A required string of 1..max bytes, valid UTF-8 (jansson guarantees it). */
int dbk_api_str(json_t *obj, const char *key, size_t max, const char **out);
/* Integer in [lo, hi]; if optional and absent, *out = dflt. */
int dbk_api_int(json_t *obj, const char *key, bool optional, int64_t dflt, int64_t lo, int64_t hi,
                int64_t *out);
/* A revision {"clock": "<decimal>", "device": "<id>"}. */
int dbk_api_revision(json_t *v, dbk_revision *out);
json_t *dbk_api_revision_json(const dbk_revision *r);
json_t *dbk_api_id_json(const dbk_id *id);
json_t *dbk_api_bytes_json(const unsigned char *b, size_t len);

/* Calls each with the value (not decoded, len bytes) of every query parameter called
 * name, in order, until one returns an error, which is returned. DBK_OK, or
 * DBK_E_UNKNOWN_FIELD for a name not in allowed. */
int dbk_api_query_each(const dbk_http_request *req, const char *const *allowed, const char *name,
                       int (*each)(const char *val, size_t len, void *arg), void *arg);
/* A query parameter as an integer (absent: dflt). DBK_OK or DBK_E_BAD_FIELD /
 * DBK_E_UNKNOWN_FIELD for a name not in allowed. */
int dbk_api_query(const dbk_http_request *req, const char *const *allowed, const char *name,
                  int64_t dflt, int64_t lo, int64_t hi, int64_t *out);

/*
 * A job for a request with a JSON body: the body parsed into j->in (a bad body is
 * answered here) and, when ctx_size > 0, a zeroed j->ctx of that size released with
 * ctx_free. Returns NULL when the request has already been answered.
 */
dbk_api_job *dbk_api_body_job(dbk_http_request *req, dbk_api_op op, bool need_auth,
                              size_t ctx_size, void (*ctx_free)(void *));

/* An authenticated job with no input, submitted (the GET/POST endpoints without a body). */
void dbk_api_submit_authed(dbk_http_request *req, dbk_api_op op);

/*
 * An authenticated job whose ctx is the dbk_id in path parameter `param`, then
 * submitted. Answers 400 bad_base64 itself when the id does not parse.
 */
void dbk_api_submit_with_path_id(dbk_http_request *req, dbk_api_op op, const char *param);

/* A new job for req. need_auth: the Authorization header must carry a token. */
dbk_api_job *dbk_api_job_new(dbk_http_request *req, dbk_api_op op, bool need_auth);
/* Answers req with err at once and frees the job (input errors found on the loop). */
void dbk_api_reject(dbk_api_job *j, int err);
/* Frees a job whose request was already answered. */
void dbk_api_abort(dbk_api_job *j);
/* Hands the job to the worker; the response goes out after commit. */
void dbk_api_submit(dbk_api_job *j);
/* For ops: fail the job with err (and optional extra fields for the error body). */
void dbk_api_fail(dbk_api_job *j, int err, json_t *extra);
/*
 * For ops: the audit row e (store.h; its time, actor, actor's role and device are j's,
 * set here) written, and charged against its actor within quota unless charged is
 * true (its bytes already counted). The charge and the row are one unit: when the row
 * cannot be written the charge is taken back here, on the failure path only (a
 * savepoint of their own would cost every read on the storage thread), so that a job
 * that answers the failure and goes on (a sync's stream: its job's savepoint is
 * released) keeps no charge without its row, nor would a grant batched with others.
 * The job fails with the error unless it failed already.
 */
void dbk_api_audit(dbk_api_job *j, dbk_store *st, dbk_audit_entry *e, int64_t quota, bool charged);

/*
 * The Ed25519 identity key of an account that has recently made an authenticated
 * request (loop thread only). Public data, kept so that envelope signatures can be
 * checked off the storage thread before a push reaches it (api_records.c); the
 * worker still compares the key with the stored one. False when not known.
 */
bool dbk_api_known_sign_pk(const dbk_id *account, unsigned char pk[32]);

/*
 * For a "nothing new" answer given on the loop thread without the worker
 * (api_records.c): true, with the account and its grants_seq, when j's token was
 * checked by the worker for a push, pull or sync that committed (within the last 28
 * days: see TOKEN_FAST_MS), nothing that may change access has finished since
 * (heads.h's generation), and the worker has checked the store for changes from
 * outside in the same minute as j->now and found none since that check of the
 * token (authcache.h, dbk_authcache_outside). False: send j to the worker as usual.
 */
bool dbk_api_fast_auth(dbk_api_job *j, dbk_id *account, int64_t *grants_seq);
/* Takes one request from account's rate limit, as the worker would; false when
 * refused (then send j to the worker, which refuses it with its Retry-After). */
bool dbk_api_fast_rate(dbk_api_job *j, const dbk_id *account);
/* Counts a response the loop thread sent for j itself (for /metrics) and frees j. For
 * a 200 (a "nothing new" answer), first notes the use of j's token for the store: the
 * device's last seen and the token's expiry slide, which the worker's token check
 * would have done (api.c, "Uses noted for the store"). */
void dbk_api_fast_done(dbk_api_job *j, int http_status);
/* Hands the uses noted so far to the worker (loop thread; before it stops). */
void dbk_api_touches_flush(dbk_app *app);
/* The account of j's token if that token authenticated within the last minute (loop
 * thread only); the worker checks the token regardless. */
bool dbk_api_recent_token(const dbk_api_job *j, dbk_id *account);

/* The same for a token hash, for the head gate (gate.h), which has no job yet; also
 * true for a token that may answer "nothing new" from memory (api.c, token_fast). */
bool dbk_api_token_recent(const unsigned char hash[32], int64_t now, dbk_id *account);

/* Login attempts per claimed account id and source address, and per source address
 * (http.h dbk_http_source): false when over the limit (answer 429). */
bool dbk_api_login_rate_ok(dbk_api_job *j, const dbk_id *account, const unsigned char source[16]);

/* The token hash stored for a token (proto/README.md section 5). */
void dbk_api_token_hash(unsigned char out[32], const unsigned char *token, size_t len);
/* The hash of req's bearer token (Authorization: Bearer, 32 bytes in base64url), or
 * false when it carries none that parses. Computed once per request (the head gate
 * and the handler both ask) and kept in req until the request ends. */
bool dbk_api_bearer_hash(dbk_http_request *req, unsigned char hash[32]);

/* Unix ms now. */
int64_t dbk_api_now(void);

/*
 * What owner's shared streams say of grantee (worker thread): each of owner's
 * streams is listed first (a list's callback may not call the store), then each
 * shared one's grants, revoked and expired ones included (grants are never deleted).
 * Private streams hold no grant to another account. When streams is not NULL it
 * receives owner's shared streams (the caller frees *streams; NULL when none).
 */
typedef struct dbk_api_grant_state {
    bool active;  /* a grant neither revoked nor expired at now */
    bool revoked; /* a revoked grant */
    bool expired; /* a grant past its expiry, not revoked */
} dbk_api_grant_state;
int dbk_api_grants_to(dbk_store *st, const dbk_id *owner, const dbk_id *grantee, int64_t now,
                      dbk_api_grant_state *out, dbk_stream **streams, size_t *nstreams);

#endif
