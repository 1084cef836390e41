/*
 * Accounts: enrollment, login, logout, the account itself, public keys,
 * devices and invites (proto/README.md sections 3–6).
 *
 * No account enumeration: login/start answers an unknown account exactly like a
 * known one (fake but stable KDF salt), and login/finish answers an unknown
 * account exactly like a wrong passphrase.
 */
#include "api.h"
#include "heads.h"

#include "dbk/grant.h"
#include "dbk/keys.h"
#include "dbk/version.h"

#include <stdlib.h>
#include <string.h>

#define CHALLENGE_TTL_MS 120000
#define TOKEN_TTL_MS (30LL * 24 * 3600 * 1000)
#define INVITE_TTL_MIN_S 600
#define INVITE_TTL_MAX_S (30LL * 24 * 3600)
#define INVITES_PENDING_MAX 100

static const char DOM_FAKE_SALT[] = "daybook/v1/fake-salt";

static const char *
role_name(enum dbk_role r)
{
    return r == DBK_ROLE_COUNSELOR ? "counselor" : "client";
}

/* Issues a fresh token for (account, device) and puts it in the response. */
static int
issue_token(dbk_api_job *j, dbk_store *st, const dbk_account *account, const dbk_id *device,
            json_t *out)
{
    unsigned char token[32], hash[32];
    int rc;

    randombytes_buf(token, sizeof token);
    dbk_api_token_hash(hash, token, sizeof token);
    rc = dbk_store_token_add(st, hash, &account->id, device, j->now + TOKEN_TTL_MS);
    if (rc == DBK_OK) {
        json_object_set_new(out, "token", dbk_api_bytes_json(token, sizeof token));
        j->issued = true;
        memcpy(j->issued_hash, hash, sizeof hash);
        j->issued_account = account->id;
        memcpy(j->issued_sign_pk, account->sign_pk, 32);
    }
    sodium_memzero(token, sizeof token);
    return rc;
}

static json_t *
keys_json(const dbk_account *a)
{
    json_t *o = json_pack("{s:o, s:s, s:o, s:o}", "account", dbk_api_id_json(&a->id), "role",
                          role_name(a->role), "ed25519_pk", dbk_api_bytes_json(a->sign_pk, 32),
                          "x25519_pk", dbk_api_bytes_json(a->box_pk, 32));
    if (a->role == DBK_ROLE_COUNSELOR)
        json_object_set_new(o, "name", json_string(a->name));
    return o;
}

/* ---- POST /v1/enroll ---- */

struct enroll_stream {
    dbk_stream s;
    unsigned char *grant;
    size_t grant_len;
    dbk_grant_hdr hdr;
};

struct enroll_ctx {
    unsigned char code_hash[32];
    dbk_account a;
    dbk_device dev;
    struct enroll_stream streams[2];
    size_t nstreams;
};

static void
enroll_free(void *p)
{
    struct enroll_ctx *c = p;
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nstreams; i++)
        free(c->streams[i].grant);
    free(c);
}

static void
op_enroll(dbk_api_job *j, dbk_store *st)
{
    struct enroll_ctx *c = j->ctx;
    dbk_invite inv;
    dbk_account counselor;
    int rc;

    /* A new account, its streams and self-grants, its device and token (each refused
     * when its id is taken); the invite it uses changes no access (heads.h). So nothing
     * known of another account changes, and nothing was known of these: naming the new
     * account would only make other accounts that share its counters forget theirs
     * (with 9,000 enrollments after them, one account in six of 10,000). */
    dbk_api_affects_none(j);
    rc = dbk_store_invite_use(st, c->code_hash, j->now, &inv);
    if (rc == DBK_E_UNAUTHENTICATED)
        rc = DBK_E_GONE; /* unknown, used, expired, revoked: one answer */
    if (rc != DBK_OK) {
        dbk_api_fail(j, rc, NULL);
        return;
    }
    /* A counselor sends one private stream; a client a shared and a private one. */
    bool counselor_setup = inv.kind == DBK_INVITE_COUNSELOR_SETUP;
    size_t want = counselor_setup ? 1 : 2;
    bool has_shared = false, has_private = false;
    for (size_t i = 0; i < c->nstreams; i++) {
        has_shared |= c->streams[i].s.kind == DBK_STREAM_SHARED;
        has_private |= c->streams[i].s.kind == DBK_STREAM_PRIVATE;
    }
    if (c->nstreams != want || !has_private || (!counselor_setup && !has_shared)) {
        dbk_api_fail(j, DBK_E_BAD_FIELD, NULL);
        return;
    }
    c->a.role = counselor_setup ? DBK_ROLE_COUNSELOR : DBK_ROLE_CLIENT;
    c->a.created_at = j->now;
    if (counselor_setup) {
        snprintf(c->a.name, sizeof c->a.name, "%s", inv.name);
    } else {
        c->a.counselor = inv.counselor;
        if ((rc = dbk_store_account_get(st, &inv.counselor, &counselor)) != DBK_OK) {
            dbk_api_fail(j, rc == DBK_E_NOT_FOUND ? DBK_E_GONE : rc, NULL);
            return;
        }
    }
    if ((rc = dbk_store_account_create(st, &c->a)) != DBK_OK) {
        dbk_api_fail(j, rc, NULL); /* 409 conflict: the id is taken */
        return;
    }
    for (size_t i = 0; i < c->nstreams; i++) {
        struct enroll_stream *es = &c->streams[i];
        dbk_grant_row g = {.stream = es->s.id, .grantee = c->a.id, .epoch = 1,
                           .created_at = (int64_t)es->hdr.created_at,
                           .expires_at = (int64_t)es->hdr.expires_at, .grant = es->grant,
                           .grant_len = es->grant_len};
        bool same;
        es->s.owner = c->a.id;
        es->s.epoch = 1;
        if ((rc = dbk_store_stream_create(st, &es->s)) != DBK_OK ||
            (rc = dbk_store_grant_put(st, &g, j->now, &same)) != DBK_OK ||
            (rc = dbk_store_charge(st, &c->a.id, (int64_t)g.grant_len,
                                   j->app->config.quota_bytes)) != DBK_OK) {
            dbk_api_fail(j, rc, NULL);
            return;
        }
    }
    c->dev.account = c->a.id;
    c->dev.created_at = j->now;
    j->out = json_pack("{s:o, s:s, s:o, s:o, s:I, s:i}", "account", dbk_api_id_json(&c->a.id),
                       "role", role_name(c->a.role), "device", dbk_api_id_json(&c->dev.id),
                       "server_id", dbk_api_id_json(&j->app->info.server_id),
                       "restore_generation", (json_int_t)j->app->info.restore_generation,
                       "protocol", DBK_PROTOCOL_VERSION);
    if ((rc = dbk_store_device_add(st, &c->dev)) != DBK_OK ||
        (rc = issue_token(j, st, &c->a, &c->dev.id, j->out)) != DBK_OK) {
        dbk_api_fail(j, rc, NULL);
        return;
    }
    if (!counselor_setup)
        json_object_set_new(j->out, "counselor", keys_json(&counselor));
    j->status = 201;
}

/* The new account's streams, empty, as heads (heads.h), so its first sync with nothing
 * new needs no job either: a new stream's row holds seq 0 and no rotation pending.
 * Loop thread, after the commit and after the account's older heads were forgotten
 * (api.c, job_done). */
static void
enroll_committed(dbk_api_job *j)
{
    const struct enroll_ctx *c = j->ctx;
    for (size_t i = 0; i < c->nstreams; i++) {
        const dbk_stream *s = &c->streams[i].s;
        dbk_head h = {s->owner, 0, s->epoch, false};
        dbk_heads_put(&s->id, &h);
    }
}

void dbk_api_enroll(dbk_http_request *req);
void
dbk_api_enroll(dbk_http_request *req)
{
    static const char *const keys[] = {"code",   "account",     "ed25519_pk", "x25519_pk",
                                       "login_pk", "bundle",    "device",     "device_name",
                                       "streams", "grants",     NULL};
    static const char *const stream_keys[] = {"stream", "kind", NULL};
    dbk_api_job *j = dbk_api_body_job(req, op_enroll, false, sizeof(struct enroll_ctx),
                                      enroll_free);
    struct enroll_ctx *c;
    unsigned char code[16], *bundle = NULL;
    size_t blen = 0, i;
    dbk_kdf_params kp;
    uint32_t generation;
    const char *name = "device";
    json_t *body, *streams, *grants, *e;
    int rc;

    if (j == NULL)
        return;
    j->committed = enroll_committed;
    body = j->in;
    c = j->ctx;
    streams = json_object_get(body, "streams");
    if ((rc = dbk_api_only(body, keys)) != DBK_OK ||
        (rc = dbk_api_fixed(body, "code", code, sizeof code)) != DBK_OK ||
        (rc = dbk_api_id(body, "account", &c->a.id)) != DBK_OK ||
        (rc = dbk_api_fixed(body, "ed25519_pk", c->a.sign_pk, 32)) != DBK_OK ||
        (rc = dbk_api_fixed(body, "x25519_pk", c->a.box_pk, 32)) != DBK_OK ||
        (rc = dbk_api_fixed(body, "login_pk", c->a.login_pk, 32)) != DBK_OK ||
        (rc = dbk_api_bytes(body, "bundle", DBK_BUNDLE_BYTES, &bundle, &blen)) != DBK_OK ||
        (rc = dbk_api_id(body, "device", &c->dev.id)) != DBK_OK ||
        (json_object_get(body, "device_name") &&
         (rc = dbk_api_str(body, "device_name", DBK_NAME_MAX, &name)) != DBK_OK)) {
        free(bundle);
        dbk_api_reject(j, rc);
        return;
    }
    /* Any generation: a device re-enrolling after a restore brings its newest bundle. */
    rc = dbk_bundle_params(bundle, blen, &kp, &generation);
    if (rc == DBK_OK)
        memcpy(c->a.bundle, bundle, DBK_BUNDLE_BYTES);
    free(bundle);
    if (rc != DBK_OK) {
        dbk_api_reject(j, rc == DBK_E_KDF_WEAK || rc == DBK_E_VERSION ? rc : DBK_E_BAD_FIELD);
        return;
    }
    c->a.generation = generation;
    snprintf(c->dev.name, sizeof c->dev.name, "%s", name);
    crypto_generichash(c->code_hash, sizeof c->code_hash, code, sizeof code, NULL, 0);

    grants = json_object_get(body, "grants");
    if (!json_is_array(streams) || json_array_size(streams) < 1 ||
        json_array_size(streams) > 2 || !json_is_array(grants) ||
        json_array_size(grants) != json_array_size(streams)) {
        dbk_api_reject(j, DBK_E_BAD_FIELD);
        return;
    }
    json_array_foreach(streams, i, e) {
        struct enroll_stream *es = &c->streams[i];
        const char *kind;
        c->nstreams = i + 1;
        if (!json_is_object(e) || (rc = dbk_api_only(e, stream_keys)) != DBK_OK ||
            (rc = dbk_api_id(e, "stream", &es->s.id)) != DBK_OK ||
            (rc = dbk_api_str(e, "kind", 16, &kind)) != DBK_OK) {
            dbk_api_reject(j, rc ? rc : DBK_E_BAD_FIELD);
            return;
        }
        if (strcmp(kind, "shared") == 0)
            es->s.kind = DBK_STREAM_SHARED;
        else if (strcmp(kind, "private") == 0)
            es->s.kind = DBK_STREAM_PRIVATE;
        else
            rc = DBK_E_BAD_FIELD;
        if (rc == DBK_OK && i == 1 && es->s.kind == c->streams[0].s.kind)
            rc = DBK_E_BAD_FIELD;
        if (rc != DBK_OK) {
            dbk_api_reject(j, rc);
            return;
        }
    }
    /* One self-grant per stream: epoch 1, from the new account to itself, signed by
     * the new identity key. */
    json_array_foreach(grants, i, e) {
        json_t *wrap = json_pack("{s:O}", "g", e);
        unsigned char *g = NULL;
        size_t glen = 0;
        dbk_grant_hdr h;
        struct enroll_stream *es = NULL;
        rc = dbk_api_bytes(wrap, "g", DBK_GRANT_MAX_BYTES, &g, &glen);
        json_decref(wrap);
        if (rc == DBK_OK)
            rc = dbk_grant_verify(g, glen, c->a.sign_pk, &h);
        for (size_t k = 0; rc == DBK_OK && k < c->nstreams; k++)
            if (dbk_id_equal(&c->streams[k].s.id, &h.stream))
                es = &c->streams[k];
        if (rc == DBK_OK && (es == NULL || es->grant != NULL || h.epoch != 1 ||
                             !dbk_id_equal(&h.owner, &c->a.id) ||
                             !dbk_id_equal(&h.grantee, &c->a.id)))
            rc = DBK_E_BAD_GRANT;
        if (rc != DBK_OK) {
            free(g);
            dbk_api_reject(j, rc);
            return;
        }
        es->grant = g;
        es->grant_len = glen;
        es->hdr = h;
    }
    dbk_api_submit(j);
}

/* ---- POST /v1/enroll/check ---- */

/*
 * Before a client uses its code up, it asks for the inviting counselor's keys and
 * checks them against the fingerprint in the link (README section 4.3). Nothing is
 * created or marked; the answer for a code that is unknown, used, expired or not
 * this counselor's is the same 410 as enrollment's. Knowing the code is the
 * authority, as for enrollment itself: the keys are public to whoever holds one.
 */
struct enroll_check_ctx {
    unsigned char code_hash[DBK_HASH_BYTES];
    dbk_id counselor;
    int64_t now;
    bool found;
};

static void
on_invite_check(const dbk_invite *inv, void *arg)
{
    struct enroll_check_ctx *c = arg;
    /* Every pending invite is compared, in constant time, whatever came before. The
     * store gives only pending ones (unused, expires_at > now); checked again here. */
    bool match = sodium_memcmp(inv->secret_hash, c->code_hash, DBK_HASH_BYTES) == 0;
    if (match && inv->kind == DBK_INVITE_CLIENT && inv->used_at == 0 && inv->expires_at > c->now)
        c->found = true;
}

static void
op_enroll_check(dbk_api_job *j, dbk_store *st)
{
    struct enroll_check_ctx *c = j->ctx;
    dbk_account counselor;
    int rc;

    c->now = j->now;
    dbk_api_affects(j, &c->counselor); /* it only reads */
    if ((rc = dbk_store_invites_pending(st, &c->counselor, c->now, on_invite_check, c)) !=
        DBK_OK) {
        dbk_api_fail(j, rc, NULL);
        return;
    }
    rc = c->found ? dbk_store_account_get(st, &c->counselor, &counselor) : DBK_E_GONE;
    if (rc != DBK_OK) {
        dbk_api_fail(j, rc == DBK_E_NOT_FOUND ? DBK_E_GONE : rc, NULL);
        return;
    }
    j->out = json_pack("{s:o}", "counselor", keys_json(&counselor));
}

void dbk_api_enroll_check(dbk_http_request *req);
void
dbk_api_enroll_check(dbk_http_request *req)
{
    static const char *const keys[] = {"code", "counselor", NULL};
    dbk_api_job *j = dbk_api_body_job(req, op_enroll_check, false,
                                      sizeof(struct enroll_check_ctx), free);
    struct enroll_check_ctx *c;
    unsigned char code[16];
    int rc;

    if (j == NULL)
        return;
    c = j->ctx;
    if ((rc = dbk_api_only(j->in, keys)) != DBK_OK ||
        (rc = dbk_api_fixed(j->in, "code", code, sizeof code)) != DBK_OK ||
        (rc = dbk_api_id(j->in, "counselor", &c->counselor)) != DBK_OK) {
        dbk_api_reject(j, rc);
        return;
    }
    crypto_generichash(c->code_hash, sizeof c->code_hash, code, sizeof code, NULL, 0);
    sodium_memzero(code, sizeof code);
    dbk_api_submit(j);
}

/* ---- POST /v1/login/start ---- */

struct login_ctx {
    dbk_id account, device;
    unsigned char source[16]; /* the peer, taken on the loop thread (http.h) */
    enum dbk_purpose purpose;
    unsigned char challenge[32];
    unsigned char signature[64];
};

static void
op_login_start(dbk_api_job *j, dbk_store *st)
{
    struct login_ctx *c = j->ctx;
    dbk_account a;
    dbk_kdf_params kp;
    int rc;

    dbk_api_affects(j, &c->account); /* a challenge for it, no more */
    if (!dbk_api_login_rate_ok(j, &c->account, c->source)) {
        dbk_api_fail(j, DBK_E_RATE_LIMITED, NULL);
        return;
    }
    randombytes_buf(c->challenge, sizeof c->challenge);
    rc = dbk_store_account_get(st, &c->account, &a);
    if (rc == DBK_OK) {
        rc = dbk_bundle_params(a.bundle, sizeof a.bundle, &kp, NULL);
    } else if (rc == DBK_E_NOT_FOUND) {
        /* Unknown account: the defaults and a salt that is stable per account id. */
        crypto_generichash_state h;
        kp.opslimit = DBK_KDF_OPS_DEFAULT;
        kp.memlimit = DBK_KDF_MEM_DEFAULT;
        crypto_generichash_init(&h, j->app->info.secret, sizeof j->app->info.secret,
                                sizeof kp.salt);
        crypto_generichash_update(&h, (const unsigned char *)DOM_FAKE_SALT, sizeof DOM_FAKE_SALT);
        crypto_generichash_update(&h, c->account.b, DBK_ID_BYTES);
        crypto_generichash_final(&h, kp.salt, sizeof kp.salt);
        rc = DBK_OK;
    }
    if (rc == DBK_OK)
        rc = dbk_store_challenge_add(st, c->challenge, &c->account, &c->device, c->purpose,
                                     j->now + CHALLENGE_TTL_MS);
    if (rc != DBK_OK) {
        dbk_api_fail(j, rc, NULL);
        return;
    }
    j->out = json_pack("{s:o, s:o, s:I, s:{s:i, s:I, s:I, s:o}, s:I}", "challenge",
                       dbk_api_bytes_json(c->challenge, 32), "server_id",
                       dbk_api_id_json(&j->app->info.server_id), "expires_at",
                       (json_int_t)(j->now + CHALLENGE_TTL_MS), "kdf", "alg", DBK_KDF_ALG,
                       "opslimit", (json_int_t)kp.opslimit, "memlimit", (json_int_t)kp.memlimit,
                       "salt", dbk_api_bytes_json(kp.salt, sizeof kp.salt), "restore_generation",
                       (json_int_t)j->app->info.restore_generation);
}

static int
parse_purpose(json_t *body, enum dbk_purpose *out)
{
    json_t *p = json_object_get(body, "purpose");
    *out = DBK_PURPOSE_LOGIN;
    if (p == NULL)
        return DBK_OK;
    if (json_is_string(p) && strcmp(json_string_value(p), "login") == 0)
        return DBK_OK;
    if (json_is_string(p) && strcmp(json_string_value(p), "change_passphrase") == 0) {
        *out = DBK_PURPOSE_CHANGE_PASSPHRASE;
        return DBK_OK;
    }
    return DBK_E_BAD_FIELD;
}

static dbk_api_job *
login_job(dbk_http_request *req, dbk_api_op op, const char *const *keys, json_t **body)
{
    dbk_api_job *j = dbk_api_body_job(req, op, false, sizeof(struct login_ctx), free);
    struct login_ctx *c;
    int rc;

    if (j == NULL)
        return NULL;
    *body = j->in;
    c = j->ctx;
    dbk_http_source(req, c->source);
    if ((rc = dbk_api_only(*body, keys)) != DBK_OK ||
        (rc = dbk_api_id(*body, "account", &c->account)) != DBK_OK ||
        (rc = dbk_api_id(*body, "device", &c->device)) != DBK_OK) {
        dbk_api_reject(j, rc);
        return NULL;
    }
    return j;
}

void dbk_api_login_start(dbk_http_request *req);
void
dbk_api_login_start(dbk_http_request *req)
{
    static const char *const keys[] = {"account", "device", "purpose", NULL};
    json_t *body;
    dbk_api_job *j = login_job(req, op_login_start, keys, &body);
    int rc;

    if (j == NULL)
        return;
    if ((rc = parse_purpose(body, &((struct login_ctx *)j->ctx)->purpose)) != DBK_OK) {
        dbk_api_reject(j, rc);
        return;
    }
    dbk_api_submit(j);
}

/* ---- POST /v1/login/finish ---- */

/*
 * Answers with an error but lets the job commit: the challenge's deletion must
 * stick even when the login fails.
 */
static void
answer_error(dbk_api_job *j, int rc)
{
    json_decref(j->out);
    j->out = json_pack("{s:{s:s, s:s}}", "error", "code", dbk_err_code(rc), "message",
                       dbk_err_message(rc));
    j->status = dbk_err_http_status(rc);
}

static void
op_login_finish(dbk_api_job *j, dbk_store *st)
{
    struct login_ctx *c = j->ctx;
    const char *name = "device";
    dbk_account a;
    dbk_device d;
    int rc;

    /* Its device's old tokens and a new one, all of this account's. */
    dbk_api_affects(j, &c->account);
    if (!dbk_api_login_rate_ok(j, &c->account, c->source)) {
        dbk_api_fail(j, DBK_E_RATE_LIMITED, NULL);
        return;
    }
    /* The challenge is used up whatever happens next: take it in its own unit so a
     * failed signature does not roll the deletion back. */
    rc = dbk_store_challenge_take(st, c->challenge, &c->account, &c->device, DBK_PURPOSE_LOGIN,
                                  j->now);
    if (rc != DBK_OK) {
        answer_error(j, rc);
        return;
    }
    if ((rc = dbk_store_sp_begin(st)) != DBK_OK) {
        answer_error(j, rc); /* keep the challenge's deletion */
        return;
    }
    rc = dbk_store_account_get(st, &c->account, &a);
    if (rc == DBK_E_NOT_FOUND) {
        /* Do the same work as for a known account, so timing says nothing either. */
        memset(&a, 0, sizeof a);
        crypto_sign_seed_keypair(a.login_pk, (unsigned char[64]){0}, j->app->info.secret);
        (void)dbk_login_verify(c->signature, a.login_pk, &j->app->info.server_id, &c->account,
                               c->challenge, &c->device);
        rc = DBK_E_PASSPHRASE;
    } else if (rc == DBK_OK &&
               dbk_login_verify(c->signature, a.login_pk, &j->app->info.server_id, &c->account,
                                c->challenge, &c->device) != DBK_OK) {
        rc = DBK_E_PASSPHRASE; /* the same answer for both */
    }
    if (rc == DBK_OK) {
        /* Told only to whoever proved the passphrase: an administrator disabled it. */
        int64_t disabled = 0;
        rc = dbk_store_account_disabled(st, &a.id, &disabled);
        if (rc == DBK_OK && disabled != 0)
            rc = DBK_E_FORBIDDEN;
    }
    if (rc == DBK_OK) {
        json_t *n = json_object_get(j->in, "device_name");
        if (json_is_string(n))
            name = json_string_value(n);
        memset(&d, 0, sizeof d);
        d.id = c->device;
        d.account = c->account;
        d.created_at = j->now;
        snprintf(d.name, sizeof d.name, "%s", name);
        /* A known device keeps its entry; its previous tokens are replaced. */
        rc = dbk_store_device_revoke(st, &c->account, &c->device);
        if (rc == DBK_OK || rc == DBK_E_NOT_FOUND)
            rc = dbk_store_device_add(st, &d);
    }
    if (rc == DBK_OK) {
        j->out = json_pack("{s:o, s:s, s:o, s:o, s:I, s:i}", "account", dbk_api_id_json(&a.id),
                           "role", role_name(a.role), "device", dbk_api_id_json(&c->device),
                           "server_id", dbk_api_id_json(&j->app->info.server_id),
                           "restore_generation", (json_int_t)j->app->info.restore_generation,
                           "protocol", DBK_PROTOCOL_VERSION);
        rc = issue_token(j, st, &a, &c->device, j->out);
    }
    if (rc != DBK_OK) {
        dbk_store_sp_rollback(st);
        answer_error(j, rc);
        if (rc == DBK_E_FORBIDDEN)
            json_object_set_new(json_object_get(j->out, "error"), "message",
                                json_string("This account was disabled by the server's "
                                            "administrator."));
        return;
    }
    rc = dbk_store_sp_release(st);
    if (rc != DBK_OK)
        dbk_api_fail(j, rc, NULL);
}

void dbk_api_login_finish(dbk_http_request *req);
void
dbk_api_login_finish(dbk_http_request *req)
{
    static const char *const keys[] = {"account", "device", "challenge", "signature",
                                       "device_name", NULL};
    const char *name;
    json_t *body;
    dbk_api_job *j = login_job(req, op_login_finish, keys, &body);
    struct login_ctx *c;
    int rc;

    if (j == NULL)
        return;
    c = j->ctx;
    if ((rc = dbk_api_fixed(body, "challenge", c->challenge, 32)) != DBK_OK ||
        (rc = dbk_api_fixed(body, "signature", c->signature, 64)) != DBK_OK ||
        (json_object_get(body, "device_name") &&
         (rc = dbk_api_str(body, "device_name", DBK_NAME_MAX, &name)) != DBK_OK)) {
        dbk_api_reject(j, rc);
        return;
    }
    dbk_api_submit(j);
}

/* ---- POST /v1/logout ---- */

static void
op_logout(dbk_api_job *j, dbk_store *st)
{
    int rc;
    dbk_api_affects(j, &j->me.id);
    rc = dbk_store_token_delete(st, j->token_hash);
    if (rc != DBK_OK)
        dbk_api_fail(j, rc, NULL);
    j->status = 204;
}

void dbk_api_logout(dbk_http_request *req);
void
dbk_api_logout(dbk_http_request *req)
{
    dbk_api_submit_authed(req, op_logout);
}

/* ---- GET /v1/account ---- */

static void
op_account(dbk_api_job *j, dbk_store *st)
{
    dbk_account *a = &j->me;
    (void)st;
    j->out = keys_json(a);
    json_object_set_new(j->out, "bundle", dbk_api_bytes_json(a->bundle, sizeof a->bundle));
    json_object_set_new(j->out, "bundle_generation", json_integer(a->generation));
    json_object_set_new(j->out, "device", dbk_api_id_json(&j->device));
    json_object_set_new(j->out, "created_at", json_integer(a->created_at));
    json_object_set_new(j->out, "used_bytes", json_integer(a->used_bytes));
    json_object_set_new(j->out, "quota_bytes", json_integer(j->app->config.quota_bytes));
    json_object_set_new(j->out, "grants_seq", json_integer(a->grants_seq));
    json_object_set_new(j->out, "server_id", dbk_api_id_json(&j->app->info.server_id));
    json_object_set_new(j->out, "restore_generation",
                        json_integer(j->app->info.restore_generation));
    if (!dbk_id_is_zero(&a->counselor))
        json_object_set_new(j->out, "counselor", dbk_api_id_json(&a->counselor));
}

void dbk_api_account(dbk_http_request *req);
void
dbk_api_account(dbk_http_request *req)
{
    dbk_api_submit_authed(req, op_account);
}

/* ---- PUT /v1/account/bundle: passphrase change (README section 6) ---- */

struct bundle_ctx {
    unsigned char challenge[32], signature[64], bundle[DBK_BUNDLE_BYTES], login_pk[32];
    uint32_t generation;
};

static void
op_put_bundle(dbk_api_job *j, dbk_store *st)
{
    struct bundle_ctx *c = j->ctx;
    int64_t logged_out = 0;
    int rc;

    dbk_api_affects(j, &j->me.id); /* its bundle and its other devices' tokens */
    /* The challenge is used up whatever happens: take it outside the inner unit. */
    rc = dbk_store_challenge_take(st, c->challenge, &j->me.id, &j->device,
                                  DBK_PURPOSE_CHANGE_PASSPHRASE, j->now);
    if (rc != DBK_OK) {
        answer_error(j, rc);
        return;
    }
    if (dbk_login_verify(c->signature, j->me.login_pk, &j->app->info.server_id, &j->me.id,
                         c->challenge, &j->device) != DBK_OK) {
        answer_error(j, DBK_E_PASSPHRASE);
        return;
    }
    if (c->generation <= j->me.generation) {
        answer_error(j, DBK_E_STALE);
        json_object_set_new(json_object_get(j->out, "error"), "current_generation",
                            json_integer(j->me.generation));
        return;
    }
    if ((rc = dbk_store_account_set_bundle(st, &j->me.id, c->bundle, c->login_pk,
                                           c->generation)) != DBK_OK ||
        (rc = dbk_store_tokens_revoke_others(st, &j->me.id, &j->device, &logged_out)) != DBK_OK) {
        dbk_api_fail(j, rc, NULL);
        return;
    }
    j->out = json_pack("{s:I, s:I}", "bundle_generation", (json_int_t)c->generation,
                       "devices_logged_out", (json_int_t)logged_out);
}

void dbk_api_put_bundle(dbk_http_request *req);
void
dbk_api_put_bundle(dbk_http_request *req)
{
    static const char *const keys[] = {"challenge", "signature", "bundle", "login_pk", NULL};
    dbk_api_job *j = dbk_api_body_job(req, op_put_bundle, true, sizeof(struct bundle_ctx), free);
    struct bundle_ctx *c;
    dbk_kdf_params kp;
    json_t *body;
    int rc;

    if (j == NULL)
        return;
    body = j->in;
    c = j->ctx;
    if ((rc = dbk_api_only(body, keys)) != DBK_OK ||
        (rc = dbk_api_fixed(body, "challenge", c->challenge, 32)) != DBK_OK ||
        (rc = dbk_api_fixed(body, "signature", c->signature, 64)) != DBK_OK ||
        (rc = dbk_api_fixed(body, "bundle", c->bundle, DBK_BUNDLE_BYTES)) != DBK_OK ||
        (rc = dbk_api_fixed(body, "login_pk", c->login_pk, 32)) != DBK_OK) {
        dbk_api_reject(j, rc);
        return;
    }
    rc = dbk_bundle_params(c->bundle, sizeof c->bundle, &kp, &c->generation);
    if (rc != DBK_OK) {
        dbk_api_reject(j, rc == DBK_E_KDF_WEAK || rc == DBK_E_VERSION ? rc : DBK_E_BAD_FIELD);
        return;
    }
    dbk_api_submit(j);
}

/* ---- GET /v1/accounts/{account}/keys ---- */

/*
 * Whether a counselor may see a client's keys: the client is in its caseload as
 * clients_of counts it, enrolled by the counselor or owning a stream that holds or
 * held a grant to it (grants are never deleted, only revoked). Asked of the client's
 * own streams and their grants, a few rows, rather than by reading the counselor's
 * whole caseload, which grows with its clients.
 */
static int
client_of(dbk_store *st, const dbk_id *counselor, const dbk_account *a, int64_t now, bool *yes)
{
    dbk_api_grant_state g;
    int rc;

    *yes = dbk_id_equal(&a->counselor, counselor);
    if (*yes || dbk_id_equal(&a->id, counselor))
        return DBK_OK;
    rc = dbk_api_grants_to(st, &a->id, counselor, now, &g, NULL, NULL);
    *yes = g.active || g.revoked || g.expired;
    return rc;
}

static void
op_keys(dbk_api_job *j, dbk_store *st)
{
    dbk_id *who = j->ctx;
    dbk_account a;
    int rc = dbk_store_account_get(st, who, &a);
    bool allowed = false;

    if (rc == DBK_OK) {
        if (dbk_id_equal(who, &j->me.id) || a.role == DBK_ROLE_COUNSELOR) {
            allowed = true; /* one's own, and any counselor's for a client */
        } else if (j->me.role == DBK_ROLE_COUNSELOR) {
            rc = client_of(st, &j->me.id, &a, j->now, &allowed);
        }
        if (a.role == DBK_ROLE_COUNSELOR && j->me.role == DBK_ROLE_COUNSELOR &&
            !dbk_id_equal(who, &j->me.id))
            allowed = false; /* counselors do not list each other */
    }
    if (rc != DBK_OK && rc != DBK_E_NOT_FOUND) {
        dbk_api_fail(j, rc, NULL);
        return;
    }
    if (rc == DBK_E_NOT_FOUND || !allowed) {
        dbk_api_fail(j, DBK_E_NOT_FOUND, NULL); /* the same as an account that does not exist */
        return;
    }
    j->out = keys_json(&a);
}

void dbk_api_account_keys(dbk_http_request *req);
void
dbk_api_account_keys(dbk_http_request *req)
{
    dbk_api_submit_with_path_id(req, op_keys, "account");
}

/* ---- GET /v1/devices, DELETE /v1/devices/{device} ---- */

struct dev_list {
    json_t *arr;
    const dbk_id *current;
};

static void
on_device(const dbk_device *d, void *arg)
{
    struct dev_list *l = arg;
    json_array_append_new(l->arr, json_pack("{s:o, s:s, s:I, s:I, s:b}", "device",
                                            dbk_api_id_json(&d->id), "name", d->name,
                                            "created_at", (json_int_t)d->created_at,
                                            "last_seen_at", (json_int_t)d->last_seen, "current",
                                            dbk_id_equal(&d->id, l->current)));
}

static void
op_devices(dbk_api_job *j, dbk_store *st)
{
    struct dev_list l = {json_array(), &j->device};
    int rc = dbk_store_devices_of(st, &j->me.id, on_device, &l);
    if (rc != DBK_OK) {
        json_decref(l.arr);
        dbk_api_fail(j, rc, NULL);
        return;
    }
    j->out = json_pack("{s:o}", "devices", l.arr);
}

void dbk_api_devices(dbk_http_request *req);
void
dbk_api_devices(dbk_http_request *req)
{
    dbk_api_submit_authed(req, op_devices);
}

static void
op_device_revoke(dbk_api_job *j, dbk_store *st)
{
    int rc;
    dbk_api_affects(j, &j->me.id);
    rc = dbk_store_device_revoke(st, &j->me.id, j->ctx);
    if (rc != DBK_OK)
        dbk_api_fail(j, rc, NULL);
    j->status = 204;
}

void dbk_api_device_revoke(dbk_http_request *req);
void
dbk_api_device_revoke(dbk_http_request *req)
{
    dbk_api_submit_with_path_id(req, op_device_revoke, "device");
}

/* ---- invites: POST, GET /v1/invites, DELETE /v1/invites/{invite} ---- */

struct invite_ctx {
    int64_t ttl_s;
    dbk_id id;
};

struct pending_count {
    int64_t now;
    size_t n;
};

static void
count_pending(const dbk_invite *inv, void *arg)
{
    struct pending_count *pc = arg;
    if (inv->used_at == 0 && inv->expires_at > pc->now)
        pc->n++;
}

static void
op_invite_create(dbk_api_job *j, dbk_store *st)
{
    struct invite_ctx *c = j->ctx;
    unsigned char code[16];
    dbk_invite inv;
    int rc;

    dbk_api_affects(j, &j->me.id); /* an invite changes no access */
    if (j->me.role != DBK_ROLE_COUNSELOR) {
        dbk_api_fail(j, DBK_E_FORBIDDEN, NULL);
        return;
    }
    {
        struct pending_count pc = {j->now, 0};
        if ((rc = dbk_store_invites_pending(st, &j->me.id, j->now, count_pending, &pc)) !=
                DBK_OK ||
            pc.n >= INVITES_PENDING_MAX) {
            dbk_api_fail(j, rc != DBK_OK ? rc : DBK_E_RATE_LIMITED, NULL);
            return;
        }
    }
    memset(&inv, 0, sizeof inv);
    dbk_id_random(&inv.id);
    inv.kind = DBK_INVITE_CLIENT;
    inv.counselor = j->me.id;
    snprintf(inv.name, sizeof inv.name, "client invite");
    inv.created_at = j->now;
    inv.expires_at = j->now + c->ttl_s * 1000;
    randombytes_buf(code, sizeof code);
    crypto_generichash(inv.secret_hash, sizeof inv.secret_hash, code, sizeof code, NULL, 0);
    if ((rc = dbk_store_invite_create(st, &inv)) != DBK_OK) {
        sodium_memzero(code, sizeof code);
        dbk_api_fail(j, rc, NULL);
        return;
    }
    j->out = json_pack("{s:o, s:o, s:I, s:I}", "invite", dbk_api_id_json(&inv.id), "code",
                       dbk_api_bytes_json(code, sizeof code), "created_at",
                       (json_int_t)inv.created_at, "expires_at", (json_int_t)inv.expires_at);
    sodium_memzero(code, sizeof code);
    j->status = 201;
}

void dbk_api_invite_create(dbk_http_request *req);
void
dbk_api_invite_create(dbk_http_request *req)
{
    static const char *const keys[] = {"ttl_s", NULL};
    dbk_api_job *j =
        dbk_api_body_job(req, op_invite_create, true, sizeof(struct invite_ctx), free);
    struct invite_ctx *c;
    json_t *body;
    int rc;

    if (j == NULL)
        return;
    body = j->in;
    c = j->ctx;
    if ((rc = dbk_api_only(body, keys)) != DBK_OK ||
        (rc = dbk_api_int(body, "ttl_s", true, j->app->config.invite_ttl_ms / 1000,
                          INVITE_TTL_MIN_S, INVITE_TTL_MAX_S, &c->ttl_s)) != DBK_OK) {
        dbk_api_reject(j, rc);
        return;
    }
    dbk_api_submit(j);
}

struct inv_list {
    json_t *arr;
    int64_t now;
};

static void
on_invite(const dbk_invite *inv, void *arg)
{
    struct inv_list *l = arg;
    const char *state = inv->used_at ? "used" : inv->expires_at <= l->now ? "expired" : "pending";
    json_t *o = json_pack("{s:o, s:I, s:I, s:s}", "invite", dbk_api_id_json(&inv->id),
                          "created_at", (json_int_t)inv->created_at, "expires_at",
                          (json_int_t)inv->expires_at, "state", state);
    if (inv->used_at != 0)
        json_object_set_new(o, "used_at", json_integer(inv->used_at));
    json_array_append_new(l->arr, o);
}

static void
op_invites(dbk_api_job *j, dbk_store *st)
{
    struct inv_list l = {json_array(), j->now};
    int rc = j->me.role == DBK_ROLE_COUNSELOR ? dbk_store_invites_of(st, &j->me.id, on_invite, &l)
                                              : DBK_E_FORBIDDEN;
    if (rc != DBK_OK) {
        json_decref(l.arr);
        dbk_api_fail(j, rc, NULL);
        return;
    }
    j->out = json_pack("{s:o}", "invites", l.arr);
}

void dbk_api_invites(dbk_http_request *req);
void
dbk_api_invites(dbk_http_request *req)
{
    dbk_api_submit_authed(req, op_invites);
}

static void
op_invite_delete(dbk_api_job *j, dbk_store *st)
{
    int rc;
    dbk_api_affects(j, &j->me.id); /* an invite changes no access */
    rc = j->me.role == DBK_ROLE_COUNSELOR ? dbk_store_invite_delete(st, &j->me.id, j->ctx)
                                          : DBK_E_FORBIDDEN;
    if (rc != DBK_OK)
        dbk_api_fail(j, rc, NULL);
    j->status = 204;
}

void dbk_api_invite_delete(dbk_http_request *req);
void
dbk_api_invite_delete(dbk_http_request *req)
{
    dbk_api_submit_with_path_id(req, op_invite_delete, "invite");
}
