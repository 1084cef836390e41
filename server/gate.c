/*
 * The head gate; see gate.h. Runs on the loop thread, except the token and quota
 * look-up, which is a storage job like any other (worker.h).
 */
#include "gate.h"

#include "api.h"
#include "router.h"

#include "dbk/error.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/*
 * A push body carries each envelope as base64url (4 bytes for 3) in a small JSON
 * object: at most 500 of them, with under 256 bytes of JSON each. A declared length
 * above remaining * 4 / 3 + QUOTA_SLACK cannot fit the account's quota.
 */
#define QUOTA_SLACK (500 * 256)

typedef struct gate_job {
    dbk_job job; /* first: the worker's view */
    dbk_http_request *req;
    unsigned char token_hash[32];
    int64_t now;
    uint64_t declared;
    size_t limit;
    bool stored;
    int64_t quota;
    int64_t used; /* set by the job */
} gate_job;

static size_t
route_limit(enum dbk_route_body kind)
{
    switch (kind) {
    case DBK_BODY_STORED: return DBK_HTTP_MAX_BODY_BYTES;
    case DBK_BODY_TOKEN: return DBK_HTTP_SMALL_BODY_BYTES;
    default: return DBK_HTTP_PUBLIC_BODY_BYTES;
    }
}

/* The most a stored body may declare with used of quota bytes already taken. */
static uint64_t
quota_limit(int64_t quota, int64_t used)
{
    int64_t left = quota > used ? quota - used : 0;
    return (uint64_t)left / 3 * 4 + 4 + QUOTA_SLACK;
}

static void
gate_run(dbk_job *job, dbk_store *st)
{
    gate_job *g = (gate_job *)job;
    dbk_id account, device;
    dbk_account a;
    int rc = dbk_store_token_check(st, g->token_hash, g->now, &account, &device);

    if (rc == DBK_OK)
        rc = dbk_store_account_get(st, &account, &a);
    if (rc == DBK_E_NOT_FOUND)
        rc = DBK_E_UNAUTHENTICATED;
    if (rc == DBK_OK)
        g->used = a.used_bytes;
    g->job.status = rc;
}

static void
gate_done(dbk_job *job)
{
    gate_job *g = (gate_job *)job;
    int err = g->job.status;

    if (err == DBK_OK && g->stored && g->declared != UINT64_MAX &&
        g->declared > quota_limit(g->quota, g->used))
        err = DBK_E_QUOTA;
    dbk_http_body_decide(g->req, err, g->limit);
    sodium_memzero(g->token_hash, sizeof g->token_hash);
    free(g);
}

void
dbk_gate_head(dbk_http_request *req, uint64_t declared)
{
    const dbk_route *r = dbk_router_find(req);
    req->route = r;
    enum dbk_route_body kind = r ? r->body : DBK_BODY_PUBLIC;
    dbk_app *app = req->app;
    size_t limit = route_limit(kind);
    gate_job *g;
    dbk_id account;

    if (declared != UINT64_MAX && declared > limit) {
        dbk_http_body_decide(req, DBK_E_TOO_LARGE, 0);
        return;
    }
    if (kind == DBK_BODY_NONE || kind == DBK_BODY_PUBLIC) {
        dbk_http_body_decide(req, DBK_OK, limit);
        return;
    }
    if ((g = calloc(1, sizeof *g)) == NULL) {
        dbk_http_body_decide(req, DBK_E_NOMEM, 0);
        return;
    }
    if (!dbk_api_bearer_hash(req, g->token_hash)) {
        free(g);
        dbk_http_body_decide(req, DBK_E_UNAUTHENTICATED, 0);
        return;
    }
    g->now = dbk_api_now();
    /* A token that checked out within the last minute may send a small body at once;
     * anything larger waits for the store's word on the token and the quota. */
    if (declared <= DBK_HTTP_SMALL_BODY_BYTES &&
        dbk_api_token_recent(g->token_hash, g->now, &account)) {
        sodium_memzero(g->token_hash, sizeof g->token_hash);
        free(g);
        dbk_http_body_decide(req, DBK_OK, limit);
        return;
    }
    g->req = req;
    g->declared = declared;
    g->limit = limit;
    g->stored = kind == DBK_BODY_STORED;
    g->quota = app->config.quota_bytes;
    g->job.run = gate_run;
    g->job.done = gate_done;
    dbk_worker_submit(app->worker, &g->job);
}
