/*
 * The client's own access log and the counselor's caseload (proto/README.md
 * sections 14-15), both from metadata the server holds anyway.
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#define ACCESS_LOG_LIMIT_DEFAULT 100
#define ACCESS_LOG_LIMIT_MAX 1000

static const char *const action_names[] = {"", "read", "write", "grant", "revoke"};

struct log_ctx {
    int64_t since, limit;
    json_t *arr;
    int64_t next;
};

static void
on_entry(const dbk_audit_entry *e, void *arg)
{
    struct log_ctx *c = arg;
    json_t *o = json_pack(
        "{s:I, s:I, s:s, s:o, s:s, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:o, s:o}", "index",
        (json_int_t)e->index, "at", (json_int_t)e->at, "action", action_names[e->action], "actor",
        dbk_api_id_json(&e->actor), "actor_role",
        e->actor_role == DBK_ROLE_COUNSELOR ? "counselor" : "client", "device",
        dbk_api_id_json(&e->device), "stream", dbk_api_id_json(&e->stream), "owner",
        dbk_api_id_json(&e->owner), "epoch", (json_int_t)e->epoch, "count", (json_int_t)e->count,
        "seq_from", (json_int_t)e->seq_from, "seq_to", (json_int_t)e->seq_to, "prev",
        dbk_api_bytes_json(e->prev, sizeof e->prev), "hash",
        dbk_api_bytes_json(e->hash, sizeof e->hash));
    if (!dbk_id_is_zero(&e->grantee))
        json_object_set_new(o, "grantee", dbk_api_id_json(&e->grantee));
    json_array_append_new(c->arr, o);
    c->next = e->index;
}

static void
op_access_log(dbk_api_job *j, dbk_store *st)
{
    struct log_ctx *c = j->ctx;
    bool more;
    int rc;

    c->arr = json_array();
    c->next = c->since;
    rc = dbk_store_audit_of_owner(st, &j->me.id, c->since, (size_t)c->limit, on_entry, c, &more);
    if (rc != DBK_OK) {
        json_decref(c->arr);
        dbk_api_fail(j, rc, NULL);
        return;
    }
    j->out = json_pack("{s:o, s:I, s:b}", "entries", c->arr, "next", (json_int_t)c->next, "more",
                       more);
}

void dbk_api_access_log(dbk_http_request *req);
void
dbk_api_access_log(dbk_http_request *req)
{
    static const char *const params[] = {"since", "limit", NULL};
    struct log_ctx *c = calloc(1, sizeof *c);
    dbk_api_job *j;
    int rc;

    if (c == NULL) {
        dbk_http_respond_error(req, DBK_E_NOMEM);
        return;
    }
    if ((rc = dbk_api_query(req, params, "since", 0, 0, INT64_MAX, &c->since)) != DBK_OK ||
        (rc = dbk_api_query(req, params, "limit", ACCESS_LOG_LIMIT_DEFAULT, 1,
                            ACCESS_LOG_LIMIT_MAX, &c->limit)) != DBK_OK) {
        free(c);
        dbk_http_respond_error(req, rc);
        return;
    }
    if ((j = dbk_api_job_new(req, op_access_log, true)) == NULL) {
        free(c);
        return;
    }
    j->ctx = c;
    j->ctx_free = free;
    dbk_api_submit(j);
}

/* ---- GET /v1/caseload ---- */

struct caseload {
    dbk_api_job *j;
    dbk_store *st;
    json_t *arr;
    int rc;
    const dbk_id *only; /* ?account=: this client alone (a review), else NULL */
};

static void
on_client(const dbk_account *a, void *arg)
{
    struct caseload *cl = arg;
    dbk_api_job *j = cl->j;
    dbk_api_grant_state g;
    dbk_stream *streams = NULL;
    size_t n = 0;
    const char *state;
    json_t *o;

    if (cl->rc != DBK_OK || a->role != DBK_ROLE_CLIENT ||
        (cl->only != NULL && !dbk_id_equal(&a->id, cl->only)))
        return;
    /* The state comes from every grant the client gave this counselor, revoked and
     * expired ones included; the streams listed are the client's shared ones. */
    cl->rc = dbk_api_grants_to(cl->st, &a->id, &j->me.id, j->now, &g, &streams, &n);
    state = g.active ? "active" : g.revoked ? "revoked" : g.expired ? "expired" : "none";
    o = json_pack("{s:o, s:I, s:b, s:s}", "account", dbk_api_id_json(&a->id), "enrolled_at",
                  (json_int_t)a->created_at, "invited_by_me",
                  dbk_id_equal(&a->counselor, &j->me.id), "grant_state", state);
    if (g.active) {
        /* Activity only while the client shares (README section 15). */
        int64_t seen = 0;
        json_t *arr = json_array();
        if (cl->rc == DBK_OK)
            cl->rc = dbk_store_last_seen(cl->st, &a->id, &seen);
        if (seen > 0)
            json_object_set_new(o, "last_sync_at", json_integer(seen));
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:o, s:s, s:I, s:I}", "stream",
                                                 dbk_api_id_json(&streams[i].id), "kind", "shared",
                                                 "epoch", (json_int_t)streams[i].epoch, "high_seq",
                                                 (json_int_t)streams[i].seq));
        json_object_set_new(o, "streams", arr);
    }
    free(streams);
    json_array_append_new(cl->arr, o);
}

static void
op_caseload(dbk_api_job *j, dbk_store *st)
{
    struct caseload cl = {j, st, json_array(), DBK_OK, j->ctx};
    int rc;

    if (j->me.role != DBK_ROLE_COUNSELOR) {
        json_decref(cl.arr);
        dbk_api_fail(j, DBK_E_FORBIDDEN, NULL);
        return;
    }
    rc = dbk_store_clients_of(st, &j->me.id, on_client, &cl);
    if (rc == DBK_OK)
        rc = cl.rc;
    if (rc != DBK_OK) {
        json_decref(cl.arr);
        dbk_api_fail(j, rc, NULL);
        return;
    }
    j->out = json_pack("{s:o}", "clients", cl.arr);
}

struct account_param {
    const char *val;
    size_t len;
};

/* account=<id>, once; given twice, unknown_field, as any other parameter. */
static int
caseload_account(const char *val, size_t len, void *arg)
{
    struct account_param *a = arg;
    if (a->val != NULL)
        return DBK_E_UNKNOWN_FIELD;
    a->val = val;
    a->len = len;
    return DBK_OK;
}

/* The one query parameter, account=<id>, into *id (NULL when it is absent): every
 * parameter is looked at before the id is read (unknown_field before bad_field). */
static int
caseload_query(const dbk_http_request *req, dbk_id **id)
{
    static const char *const params[] = {"account", NULL};
    struct account_param a = {NULL, 0};
    int rc;

    *id = NULL;
    if ((rc = dbk_api_query_each(req, params, "account", caseload_account, &a)) != DBK_OK ||
        a.val == NULL)
        return rc;
    if ((*id = malloc(sizeof **id)) == NULL)
        return DBK_E_NOMEM;
    if (dbk_id_from_text(*id, a.val, a.len) != DBK_OK) {
        free(*id);
        *id = NULL;
        return DBK_E_BAD_FIELD;
    }
    return DBK_OK;
}

void dbk_api_caseload(dbk_http_request *req);
void
dbk_api_caseload(dbk_http_request *req)
{
    dbk_id *only;
    dbk_api_job *j;
    int rc;

    if ((rc = caseload_query(req, &only)) != DBK_OK) {
        dbk_http_respond_error(req, rc);
        return;
    }
    if ((j = dbk_api_job_new(req, op_caseload, true)) == NULL) {
        free(only);
        return;
    }
    j->ctx = only;
    j->ctx_free = free;
    dbk_api_submit(j);
}
