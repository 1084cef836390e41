/*
 * Streams and key grants (proto/README.md sections 7–8). A grant is the client's
 * consent; the server checks its header and signature, enforces who may receive
 * which stream, and records grants and revocations in the audit log. Revoking
 * ends access at once and holds writes until the owner rotates the key.
 */
#include "api.h"

#include "dbk/grant.h"

#include <stdlib.h>
#include <string.h>

#define MAX_GRANTS_PER_REQUEST 64
#define CREATED_AT_SKEW_MS (24LL * 3600 * 1000)

static const char *
kind_name(enum dbk_stream_kind k)
{
    return k == DBK_STREAM_SHARED ? "shared" : "private";
}

static const char *
grant_state(const dbk_grant_row *g, int64_t now)
{
    if (g->revoked_at != 0)
        return "revoked";
    if (g->expires_at != 0 && g->expires_at <= now)
        return "expired";
    return "active";
}

struct grant_list {
    json_t *arr;
    int64_t now;
    dbk_store *st;
};

/* GrantInfo of openapi.yaml. */
static json_t *
grant_info(const dbk_grant_row *g, int64_t now)
{
    dbk_grant_hdr h;
    json_t *o;

    if (dbk_grant_parse(g->grant, g->grant_len, &h) != DBK_OK)
        return NULL; /* cannot happen: only verified grants are stored */
    o = json_pack("{s:o, s:o, s:o, s:I, s:I, s:I, s:s, s:o}", "stream", dbk_api_id_json(&g->stream),
                  "owner", dbk_api_id_json(&h.owner), "grantee", dbk_api_id_json(&g->grantee),
                  "epoch", (json_int_t)g->epoch, "created_at", (json_int_t)g->created_at,
                  "expires_at", (json_int_t)g->expires_at, "state", grant_state(g, now),
                  "grant", dbk_api_bytes_json(g->grant, g->grant_len));
    if (g->revoked_at != 0)
        json_object_set_new(o, "revoked_at", json_integer(g->revoked_at));
    return o;
}

static void
on_grant(const dbk_grant_row *g, void *arg)
{
    struct grant_list *l = arg;
    json_t *o = grant_info(g, l->now);
    if (o != NULL)
        json_array_append_new(l->arr, o);
}

static int
path_id(dbk_http_request *req, const char *name, dbk_id *out)
{
    const char *s = dbk_http_param(req, name);
    return dbk_id_from_text(out, s, strlen(s));
}

/* A job carrying the path ids. */
struct path_ctx {
    dbk_id stream, other;
    unsigned char **grants;
    size_t *lens;
    size_t n;
};

static void
path_ctx_free(void *p)
{
    struct path_ctx *c = p;
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->grants[i]);
    free(c->grants);
    free(c->lens);
    free(c);
}

static dbk_api_job *
path_job(dbk_http_request *req, dbk_api_op op, const char *other)
{
    dbk_api_job *j = dbk_api_job_new(req, op, true);
    struct path_ctx *c;
    int rc = DBK_OK;

    if (j == NULL)
        return NULL;
    c = calloc(1, sizeof *c);
    j->ctx = c;
    j->ctx_free = path_ctx_free;
    if (c == NULL)
        rc = DBK_E_NOMEM;
    if (rc == DBK_OK && dbk_http_param(req, "stream") != NULL)
        rc = path_id(req, "stream", &c->stream);
    if (rc == DBK_OK && other != NULL)
        rc = path_id(req, other, &c->other);
    if (rc != DBK_OK) {
        dbk_api_reject(j, rc);
        return NULL;
    }
    return j;
}

static void
audit_grant(dbk_api_job *j, dbk_store *st, const dbk_stream *s, const dbk_id *grantee,
            enum dbk_audit_action action, uint32_t epoch)
{
    dbk_audit_entry e;
    memset(&e, 0, sizeof e);
    e.action = action;
    e.stream = s->id;
    e.owner = s->owner;
    e.grantee = *grantee;
    e.epoch = epoch;
    /* The row counts against the account that granted or revoked (store.h); the charge
     * and the row are one unit, not only while a grant is a job of its own (api.h). */
    dbk_api_audit(j, st, &e, j->app->config.quota_bytes, false);
}

/* ---- GET /v1/streams ---- */

struct stream_list {
    json_t *arr;
    const dbk_id *me;
};

static void
on_stream(const dbk_stream *s, void *arg)
{
    struct stream_list *l = arg;
    json_array_append_new(
        l->arr, json_pack("{s:o, s:o, s:s, s:I, s:I, s:b, s:s}", "stream", dbk_api_id_json(&s->id),
                          "owner", dbk_api_id_json(&s->owner), "kind", kind_name(s->kind), "epoch",
                          (json_int_t)s->epoch, "high_seq", (json_int_t)s->seq, "rotation_pending",
                          s->rotation_pending, "access",
                          dbk_id_equal(&s->owner, l->me) ? "owner" : "grantee"));
}

static void
op_streams(dbk_api_job *j, dbk_store *st)
{
    struct stream_list l = {json_array(), &j->me.id};
    int rc = dbk_store_streams_for(st, &j->me.id, j->now, on_stream, &l);
    if (rc != DBK_OK) {
        json_decref(l.arr);
        dbk_api_fail(j, rc, NULL);
        return;
    }
    j->out = json_pack("{s:o, s:I}", "streams", l.arr, "grants_seq", (json_int_t)j->me.grants_seq);
}

void dbk_api_streams(dbk_http_request *req);
void
dbk_api_streams(dbk_http_request *req)
{
    dbk_api_submit_authed(req, op_streams);
}

/* ---- POST /v1/streams/{stream}/grants ---- */

static void
op_grants_put(dbk_api_job *j, dbk_store *st)
{
    struct path_ctx *c = j->ctx;
    dbk_stream s;
    json_t *results = json_array();
    int64_t bumps = 0;
    int rc = dbk_store_stream_get(st, &c->stream, &s);

    /* The owner (its stream's epoch, its grants_seq) and, below, every grantee. */
    dbk_api_affects(j, &j->me.id);
    j->out = results;
    if (rc == DBK_E_NOT_FOUND || (rc == DBK_OK && !dbk_id_equal(&s.owner, &j->me.id)))
        rc = DBK_E_FORBIDDEN;
    if (rc != DBK_OK) {
        dbk_api_fail(j, rc, NULL);
        return;
    }
    /* Two passes: self-grants first (they may advance the epoch), then the others. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < c->n; i++) {
            dbk_grant_hdr h;
            dbk_account grantee;
            bool self, same;

            rc = dbk_grant_verify(c->grants[i], c->lens[i], j->me.sign_pk, &h);
            if (rc == DBK_OK && !dbk_id_equal(&h.stream, &c->stream))
                rc = DBK_E_BAD_GRANT;
            if (rc == DBK_OK && !dbk_id_equal(&h.owner, &j->me.id))
                rc = DBK_E_FORBIDDEN;
            if (rc != DBK_OK) {
                dbk_api_fail(j, rc, NULL);
                return;
            }
            self = dbk_id_equal(&h.grantee, &j->me.id);
            if (self != (pass == 0))
                continue;
            if (!self)
                dbk_api_affects(j, &h.grantee); /* its grants_seq */
            if ((h.expires_at != 0 && (int64_t)h.expires_at <= j->now) ||
                (int64_t)h.created_at > j->now + CREATED_AT_SKEW_MS) {
                dbk_api_fail(j, DBK_E_BAD_GRANT, NULL);
                return;
            }
            if (self) {
                if (h.epoch != s.epoch + 1 && (h.epoch < 1 || h.epoch > s.epoch)) {
                    dbk_api_fail(j, DBK_E_BAD_GRANT, NULL);
                    return;
                }
            } else {
                rc = dbk_store_account_get(st, &h.grantee, &grantee);
                if (rc == DBK_E_NOT_FOUND || (rc == DBK_OK && grantee.role != DBK_ROLE_COUNSELOR))
                    rc = DBK_E_BAD_GRANT;
                if (rc == DBK_OK && s.kind == DBK_STREAM_PRIVATE)
                    rc = DBK_E_FORBIDDEN;
                if (rc == DBK_OK && (h.epoch < 1 || h.epoch > s.epoch))
                    rc = DBK_E_BAD_GRANT;
                if (rc != DBK_OK) {
                    dbk_api_fail(j, rc, NULL);
                    return;
                }
            }
            dbk_grant_row row = {.stream = c->stream, .grantee = h.grantee, .epoch = h.epoch,
                                 .created_at = (int64_t)h.created_at,
                                 .expires_at = (int64_t)h.expires_at, .grant = c->grants[i],
                                 .grant_len = c->lens[i]};
            if (self && h.epoch <= s.epoch) {
                /* An existing epoch's self-grant must not change: two devices rotating
                 * at once is a conflict, not a silent replacement. */
                unsigned char *old;
                size_t olen;
                rc = dbk_store_grant_get(st, &c->stream, &h.grantee, h.epoch, &old, &olen);
                if (rc == DBK_OK && (olen != c->lens[i] || memcmp(old, c->grants[i], olen) != 0))
                    rc = DBK_E_CONFLICT;
                free(old);
                if (rc != DBK_OK && rc != DBK_E_NOT_FOUND) {
                    dbk_api_fail(j, rc, NULL);
                    return;
                }
            }
            if ((rc = dbk_store_grant_put(st, &row, j->now, &same)) != DBK_OK ||
                (!same && (rc = dbk_store_charge(st, &j->me.id, (int64_t)row.grant_len,
                                                 j->app->config.quota_bytes)) != DBK_OK)) {
                dbk_api_fail(j, rc, NULL);
                return;
            }
            if (self && h.epoch == s.epoch + 1) {
                s.epoch = h.epoch; /* rotated */
                s.rotation_pending = false;
            }
            if (!same) {
                if ((rc = dbk_store_bump_grants_seq(st, &h.grantee)) != DBK_OK ||
                    (!self && (rc = dbk_store_bump_grants_seq(st, &j->me.id)) != DBK_OK)) {
                    dbk_api_fail(j, rc, NULL);
                    return;
                }
                if (!self)
                    audit_grant(j, st, &s, &h.grantee, DBK_AUDIT_GRANT, h.epoch);
                if (j->job.status != DBK_OK)
                    return;
            }
            if (!same)
                bumps++; /* every new grant moves the owner's grants_seq once */
            json_array_append_new(results, grant_info(&row, j->now));
        }
    }
    j->out = json_pack("{s:o, s:I, s:b, s:o, s:I}", "stream", dbk_api_id_json(&c->stream),
                       "epoch", (json_int_t)s.epoch, "rotation_pending", s.rotation_pending,
                       "grants", results, "grants_seq", (json_int_t)(j->me.grants_seq + bumps));
}

void dbk_api_grants_put(dbk_http_request *req);
void
dbk_api_grants_put(dbk_http_request *req)
{
    static const char *const keys[] = {"grants", NULL};
    dbk_api_job *j = path_job(req, op_grants_put, NULL);
    struct path_ctx *c;
    json_t *body, *arr, *g;
    size_t i;
    int rc;

    if (j == NULL)
        return;
    if ((body = dbk_api_body(req)) == NULL) {
        dbk_api_abort(j);
        return;
    }
    j->in = body;
    c = j->ctx;
    arr = json_object_get(body, "grants");
    if ((rc = dbk_api_only(body, keys)) == DBK_OK &&
        (!json_is_array(arr) || json_array_size(arr) == 0))
        rc = DBK_E_BAD_FIELD;
    if (rc == DBK_OK && json_array_size(arr) > MAX_GRANTS_PER_REQUEST)
        rc = DBK_E_TOO_MANY_RECORDS;
    if (rc == DBK_OK) {
        c->grants = calloc(json_array_size(arr), sizeof *c->grants);
        c->lens = calloc(json_array_size(arr), sizeof *c->lens);
        if (c->grants == NULL || c->lens == NULL)
            rc = DBK_E_NOMEM;
    }
    json_array_foreach(arr, i, g) {
        if (rc != DBK_OK)
            break;
        json_t *wrap = json_pack("{s:O}", "g", g);
        rc = dbk_api_bytes(wrap, "g", DBK_GRANT_MAX_BYTES, &c->grants[i], &c->lens[i]);
        json_decref(wrap);
        c->n = i + 1;
    }
    if (rc != DBK_OK) {
        dbk_api_reject(j, rc);
        return;
    }
    dbk_api_submit(j);
}

/* ---- GET /v1/streams/{stream}/grants ---- */

static void
op_grants_of_stream(dbk_api_job *j, dbk_store *st)
{
    struct path_ctx *c = j->ctx;
    struct grant_list l = {json_array(), j->now, st};
    dbk_stream s;
    int rc = dbk_store_stream_get(st, &c->stream, &s);

    if (rc == DBK_E_NOT_FOUND || (rc == DBK_OK && !dbk_id_equal(&s.owner, &j->me.id)))
        rc = DBK_E_FORBIDDEN;
    if (rc == DBK_OK)
        rc = dbk_store_grants_of_stream(st, &c->stream, on_grant, &l);
    if (rc != DBK_OK) {
        json_decref(l.arr);
        dbk_api_fail(j, rc, NULL);
        return;
    }
    j->out = json_pack("{s:o, s:I, s:b, s:o}", "stream", dbk_api_id_json(&c->stream), "epoch",
                       (json_int_t)s.epoch, "rotation_pending", s.rotation_pending, "grants",
                       l.arr);
}

void dbk_api_grants_of_stream(dbk_http_request *req);
void
dbk_api_grants_of_stream(dbk_http_request *req)
{
    dbk_api_job *j = path_job(req, op_grants_of_stream, NULL);
    if (j != NULL)
        dbk_api_submit(j);
}

/* ---- DELETE /v1/streams/{stream}/grants/{grantee} ---- */

static void
op_grant_revoke(dbk_api_job *j, dbk_store *st)
{
    struct path_ctx *c = j->ctx;
    dbk_stream s;
    int rc = dbk_store_stream_get(st, &c->stream, &s);

    /* Both sides of the grant: the owner's stream becomes rotation-pending and both
     * grants_seq move. */
    dbk_api_affects(j, &j->me.id);
    dbk_api_affects(j, &c->other);
    if (rc == DBK_E_NOT_FOUND || (rc == DBK_OK && !dbk_id_equal(&s.owner, &j->me.id)))
        rc = DBK_E_FORBIDDEN;
    if (rc == DBK_OK && dbk_id_equal(&c->other, &j->me.id))
        rc = DBK_E_INVALID;
    if (rc == DBK_OK)
        rc = dbk_store_grant_revoke(st, &c->stream, &c->other, j->now);
    if (rc == DBK_E_GONE) {
        /* Already revoked: accepted, and nothing changes (no audit entry, no bump). */
        if ((rc = dbk_store_stream_get(st, &c->stream, &s)) != DBK_OK) {
            dbk_api_fail(j, rc, NULL);
            return;
        }
        j->out = json_pack("{s:o, s:o, s:I, s:b}", "stream", dbk_api_id_json(&c->stream),
                           "grantee", dbk_api_id_json(&c->other), "epoch", (json_int_t)s.epoch,
                           "rotation_pending", s.rotation_pending);
        return;
    }
    if (rc == DBK_OK)
        rc = dbk_store_bump_grants_seq(st, &c->other);
    if (rc == DBK_OK)
        rc = dbk_store_bump_grants_seq(st, &j->me.id);
    if (rc != DBK_OK) {
        dbk_api_fail(j, rc, NULL);
        return;
    }
    audit_grant(j, st, &s, &c->other, DBK_AUDIT_REVOKE, s.epoch);
    if (j->job.status != DBK_OK)
        return;
    j->out = json_pack("{s:o, s:o, s:I, s:I, s:b}", "stream", dbk_api_id_json(&c->stream),
                       "grantee", dbk_api_id_json(&c->other), "revoked_at", (json_int_t)j->now,
                       "epoch", (json_int_t)s.epoch, "rotation_pending", 1);
}

void dbk_api_grant_revoke(dbk_http_request *req);
void
dbk_api_grant_revoke(dbk_http_request *req)
{
    dbk_api_job *j = path_job(req, op_grant_revoke, "grantee");
    if (j != NULL)
        dbk_api_submit(j);
}

/* ---- GET /v1/grants ---- */

static void
op_my_grants(dbk_api_job *j, dbk_store *st)
{
    struct grant_list l = {json_array(), j->now, st};
    int rc = dbk_store_grants_to(st, &j->me.id, j->now, on_grant, &l);
    if (rc != DBK_OK) {
        json_decref(l.arr);
        dbk_api_fail(j, rc, NULL);
        return;
    }
    j->out = json_pack("{s:o, s:I}", "grants", l.arr, "grants_seq", (json_int_t)j->me.grants_seq);
}

void dbk_api_my_grants(dbk_http_request *req);
void
dbk_api_my_grants(dbk_http_request *req)
{
    dbk_api_submit_authed(req, op_my_grants);
}
