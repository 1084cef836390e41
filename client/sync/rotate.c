/*
 * Who may read this account's streams, as this device knows it, sent to the server
 * until it has it (proto/TRUST.md T6, T8, T9; see sync.h).
 *
 * A revocation and the rotation that follows it are made on this device first, in one
 * local transaction: the revocation, a new random key, its self-grant for epoch + 1
 * and a grant of it to each remaining reader whose keys are pinned (trust/), all kept
 * as acts, and the stream moved to the new epoch. From that moment every new entry is
 * sealed under a key the revoked account never receives, whatever the server does or
 * however the rest is cut short. The acts are then sent in order, each acknowledged
 * only when the server answered it, and re-sent at every sync until they are, and all
 * of them checked again after a server restore: a restored server that gave a revoked
 * counselor its grant back, or lost a rotation, is corrected from this device's state.
 */
#include "sync.h"

#include "stream_key.h"
#include "transport.h"
#include "trust.h"
#include "unlock.h"

#include "dbk/base64.h"
#include "dbk/error.h"
#include "dbk/grant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


static json_t *
b64j(const unsigned char *b, size_t n)
{
    size_t cap = DBK_B64_ENCODED_LEN(n) + 1;
    char *t = malloc(cap);
    json_t *j = NULL;
    if (t != NULL && dbk_b64_encode(t, cap, b, n) == DBK_OK)
        j = json_string(t);
    free(t);
    return j;
}

/* A grant of (stream, epoch, key) to grantee with consent inside, ending at expires_ms
 * (0: no end), as base64url. */
static json_t *
grant_json(dbk_session *s, const dbk_id *stream, uint32_t epoch, const unsigned char key[32],
           const dbk_id *grantee, const unsigned char box_pk[32], const json_t *consent,
           int64_t expires_ms, unsigned char **raw, size_t *rawlen)
{
    dbk_grant_hdr h = {.stream = *stream, .epoch = epoch, .owner = s->account,
                       .grantee = *grantee, .created_at = dbk_hlc_wall_ms(),
                       .expires_at = (uint64_t)expires_ms};
    char *text = json_dumps(consent, JSON_COMPACT);
    unsigned char *g;
    size_t len;
    json_t *j = NULL;
    if (text != NULL &&
        dbk_grant_seal(&h, key, text, strlen(text), box_pk, s->keys->sign_sk, &g, &len) ==
            DBK_OK) {
        j = b64j(g, len);
        if (raw != NULL) {
            *raw = g;
            *rawlen = len;
        } else {
            free(g);
        }
    }
    free(text);
    return j;
}


/* ---- sending the acts ---- */

struct act_copy {
    dbk_local_act a;
    unsigned char *grant;
};

struct acts_acc {
    struct act_copy *v;
    size_t n, cap;
    int rc;
};

static void
copy_act(const dbk_local_act *a, void *arg)
{
    struct acts_acc *acc = arg;
    if (acc->rc != DBK_OK)
        return;
    if (acc->n == acc->cap) {
        size_t cap = acc->cap ? acc->cap * 2 : 8;
        struct act_copy *v = realloc(acc->v, cap * sizeof *v);
        if (v == NULL) {
            acc->rc = DBK_E_NOMEM;
            return;
        }
        acc->v = v;
        acc->cap = cap;
    }
    struct act_copy *c = &acc->v[acc->n];
    c->a = *a;
    c->grant = NULL;
    if (a->grant != NULL && a->len > 0) {
        if ((c->grant = malloc(a->len)) == NULL) {
            acc->rc = DBK_E_NOMEM;
            return;
        }
        memcpy(c->grant, a->grant, a->len);
    }
    c->a.grant = c->grant;
    acc->n++;
}

/* The server's grants of stream (GET /v1/streams/{id}/grants), cached in listings by
 * stream id: an array of {grant, grantee, epoch, state}. Borrowed reference. */
static json_t *
listing(dbk_session *s, json_t *listings, const dbk_id *stream, int *rc)
{
    char sid[DBK_ID_TEXT_LEN + 1], path[160];
    json_t *resp = NULL, *l;
    dbk_id_to_text(stream, sid);
    if ((l = json_object_get(listings, sid)) != NULL)
        return l;
    snprintf(path, sizeof path, "/v1/streams/%s/grants", sid);
    if ((*rc = dbk_net_call_ok(s, "GET", path, NULL, &resp)) != DBK_OK)
        return NULL;
    l = json_object_get(resp, "grants");
    json_object_set_new(listings, sid, json_is_array(l) ? json_incref(l) : json_array());
    json_decref(resp);
    return json_object_get(listings, sid);
}

/* A revocation is sent again only while the server shows one of the grantee's grants
 * it covered (an epoch up to the one current then) active. */
static bool
revocation_missing(const json_t *l, const char *grantee, uint32_t epoch)
{
    json_t *g;
    size_t i;
    json_array_foreach(l, i, g) {
        const char *who = json_string_value(json_object_get(g, "grantee"));
        const char *state = json_string_value(json_object_get(g, "state"));
        if (who != NULL && state != NULL && strcmp(who, grantee) == 0 &&
            strcmp(state, "active") == 0 &&
            (uint32_t)json_integer_value(json_object_get(g, "epoch")) <= epoch)
            return true;
    }
    return false;
}

static bool
grant_listed(const json_t *l, const char *b64)
{
    json_t *g;
    size_t i;
    json_array_foreach(l, i, g) {
        const char *have = json_string_value(json_object_get(g, "grant"));
        if (have != NULL && strcmp(have, b64) == 0)
            return true;
    }
    return false;
}

/* Sends one act the server lacks; DBK_OK when it has it now (or need not have it). */
static int
send_act(dbk_session *s, json_t *l, const dbk_local_act *a)
{
    char sid[DBK_ID_TEXT_LEN + 1], who[DBK_ID_TEXT_LEN + 1], path[200];
    json_t *resp = NULL, *g;
    size_t i;
    int rc = DBK_OK;

    dbk_id_to_text(&a->stream, sid);
    dbk_id_to_text(&a->grantee, who);
    if (a->kind == DBK_ACT_REVOKE) {
        if (!revocation_missing(l, who, a->epoch))
            return DBK_OK;
        snprintf(path, sizeof path, "/v1/streams/%s/grants/%s", sid, who);
        rc = dbk_net_call_ok(s, "DELETE", path, NULL, &resp);
        json_decref(resp);
        if (rc == DBK_E_NOT_FOUND)
            rc = DBK_OK; /* it never had a grant there: nothing to end */
        if (rc == DBK_OK)
            json_array_foreach(l, i, g) {
                const char *gw = json_string_value(json_object_get(g, "grantee"));
                if (gw != NULL && strcmp(gw, who) == 0)
                    json_object_set_new(g, "state", json_string("revoked"));
            }
        return rc;
    }
    dbk_grant_hdr h;
    json_t *b = b64j(a->grant, a->len);
    int status;
    if (b == NULL)
        return DBK_E_NOMEM;
    if (grant_listed(l, json_string_value(b)) || dbk_grant_parse(a->grant, a->len, &h) != DBK_OK ||
        (h.expires_at != 0 && (int64_t)h.expires_at <= (int64_t)time(NULL) * 1000)) {
        json_decref(b); /* held already (in any state), or lapsed: not sent again */
        return DBK_OK;
    }
    json_t *body = json_pack("{s:[O]}", "grants", b);
    snprintf(path, sizeof path, "/v1/streams/%s/grants", sid);
    rc = dbk_net_call_ok(s, "POST", path, body, &resp);
    json_decref(body);
    json_decref(resp);
    /* A signed end the server answered with a refusal (its clock ahead of the moment the
     * end gives, say) does not hold the revocation back: the end then rests on the
     * server's word alone, as before signed ends, and the reader is told so. */
    status = dbk_err_http_status(rc);
    if (a->kind == DBK_ACT_END && rc != DBK_OK && status >= 400 && status < 500 && status != 401 &&
        status != 408 && status != 429)
        return DBK_OK;
    if (rc == DBK_OK)
        json_array_append_new(l, json_pack("{s:O, s:s, s:I, s:s}", "grant", b, "grantee", who,
                                           "epoch", (json_int_t)a->epoch, "state", "active"));
    json_decref(b);
    return rc;
}

int
dbk_sync_acts(dbk_session *s, dbk_sync_acts_result *r)
{
    struct acts_acc acc = {NULL, 0, 0, DBK_OK};
    json_t *listings = json_object(), *blocked = json_object();
    int rc;

    memset(r, 0, sizeof *r);
    if ((rc = dbk_local_acts(s->L, true, copy_act, &acc)) == DBK_OK)
        rc = acc.rc;
    for (size_t i = 0; rc == DBK_OK && i < acc.n; i++) {
        const dbk_local_act *a = &acc.v[i].a;
        char sid[DBK_ID_TEXT_LEN + 1];
        int err = DBK_OK;
        dbk_id_to_text(&a->stream, sid);
        /* In order within a stream: nothing after an act the server has not taken. */
        if (r->error != DBK_OK || json_object_get(blocked, sid) != NULL) {
            r->pending++;
            continue;
        }
        json_t *l = listing(s, listings, &a->stream, &err);
        if (l != NULL)
            err = send_act(s, l, a);
        if (err == DBK_OK) {
            rc = dbk_local_act_acked(s->L, a->seq);
            r->sent++;
            continue;
        }
        r->pending++;
        json_object_set_new(blocked, sid, json_true());
        if (err == DBK_E_CONFLICT)
            r->conflicts++; /* another device of this account rotated at the same epoch */
        else
            r->error = err; /* the server or the network: the rest waits for the next sync */
    }
    for (size_t i = 0; i < acc.n; i++)
        free(acc.v[i].grant);
    free(acc.v);
    json_decref(listings);
    json_decref(blocked);
    return rc;
}

int64_t
dbk_sync_acts_pending(dbk_session *s, json_t **list)
{
    struct acts_acc acc = {NULL, 0, 0, DBK_OK};
    int64_t n;
    if (list != NULL)
        *list = json_array();
    if (dbk_local_acts(s->L, true, copy_act, &acc) != DBK_OK || acc.rc != DBK_OK)
        n = -1;
    else
        n = (int64_t)acc.n;
    for (size_t i = 0; i < acc.n; i++) {
        char who[DBK_ID_TEXT_LEN + 1];
        const dbk_local_act *a = &acc.v[i].a;
        dbk_id_to_text(&a->grantee, who);
        if (list != NULL)
            json_array_append_new(*list, json_pack("{s:s, s:s, s:I, s:I}", "act",
                                                   a->kind == DBK_ACT_REVOKE ? "revoke"
                                                   : a->kind == DBK_ACT_END  ? "end"
                                                                             : "grant",
                                                   "account", who, "epoch", (json_int_t)a->epoch,
                                                   "at", (json_int_t)a->at_ms));
        free(acc.v[i].grant);
    }
    free(acc.v);
    return n;
}

/* ---- revoking ---- */

static int
add_grant_act(dbk_session *s, const dbk_id *stream, const dbk_id *grantee, uint32_t epoch,
              const unsigned char *g, size_t len, int64_t now)
{
    dbk_local_act a = {.stream = *stream, .grantee = *grantee, .kind = DBK_ACT_GRANT,
                       .epoch = epoch, .grant = g, .len = len, .at_ms = now};
    return dbk_local_act_add(s->L, &a);
}

/* The epoch of the latest grant this account's key signed to target on stream, in
 * its acts (0: none). */
struct target_epoch {
    dbk_session *s;
    const dbk_id *stream, *target;
    uint32_t epoch;
};

static void
target_act(const dbk_local_act *a, void *arg)
{
    struct target_epoch *t = arg;
    dbk_grant_hdr h;
    if (a->kind == DBK_ACT_GRANT && a->grant != NULL && dbk_id_equal(&a->stream, t->stream) &&
        dbk_id_equal(&a->grantee, t->target) &&
        dbk_grant_verify(a->grant, a->len, t->s->keys->sign_pk, &h) == DBK_OK &&
        dbk_id_equal(&h.grantee, t->target) && dbk_id_equal(&h.stream, t->stream))
        t->epoch = h.epoch;
}

/*
 * The signed end (proto/TRUST.md T8): a grant to target of the epoch its latest grant
 * from this device gave (never a newer one: that would hand it a key it never held),
 * under the consent it was given, ending DBK_TRUST_END_MS from now. NULL in *g (and
 * DBK_OK) when this device gave target no grant, holds no consent or pins for it: the
 * end then rests on the server's word, as the reader is told.
 */
static int
end_grant(dbk_session *s, const dbk_local_stream *st, const dbk_id *target, const json_t *consents,
          int64_t now, unsigned char **g, size_t *len, uint32_t *epoch)
{
    struct target_epoch te = {s, &st->id, target, 0};
    unsigned char key[32], sign_pk[32], box_pk[32];
    char t[DBK_ID_TEXT_LEN + 1];
    int rc;

    *g = NULL;
    if ((rc = dbk_local_acts(s->L, false, target_act, &te)) != DBK_OK)
        return rc;
    dbk_id_to_text(target, t);
    const json_t *consent = json_object_get(json_object_get(consents, t), "consent");
    if (te.epoch == 0 || te.epoch > st->epoch || !json_is_object(consent))
        return DBK_OK;
    if ((rc = dbk_trust_pinned(s, target, sign_pk, box_pk)) != DBK_OK)
        return rc == DBK_E_NOT_FOUND ? DBK_OK : rc;
    if ((rc = dbk_stream_key_of(s, st, te.epoch, key)) != DBK_OK)
        return rc;
    json_t *j = grant_json(s, &st->id, te.epoch, key, target, box_pk, consent,
                           now + DBK_TRUST_END_MS, g, len);
    sodium_memzero(key, sizeof key);
    json_decref(j);
    *epoch = te.epoch;
    return *g == NULL ? DBK_E_NOMEM : DBK_OK;
}

/* The new key (epoch next) granted to each reader that keeps access, in the caller's
 * transaction; r counts those re-granted and those left out. */
static int
regrant_readers(dbk_session *s, const dbk_id *stream, uint32_t next, const unsigned char *key,
                const dbk_trust_reader *readers, size_t n, const json_t *consents, int64_t now,
                dbk_sync_revoke_result *r)
{
    int rc = DBK_OK;
    for (size_t i = 0; rc == DBK_OK && i < n; i++) {
        char t[DBK_ID_TEXT_LEN + 1];
        unsigned char *rg = NULL;
        size_t rlen = 0;
        dbk_id_to_text(&readers[i].account, t);
        /* The consent the client gave this reader, and its end, carried over unchanged
         * (proto/README.md rule R10): never wording the client was not shown. A reader
         * without one on this device is left out, as one without pins is. */
        const json_t *given = json_object_get(consents, t);
        const json_t *consent = json_object_get(given, "consent");
        if (!json_is_object(consent)) {
            r->skipped++;
            continue;
        }
        json_t *gj = grant_json(
            s, stream, next, key, &readers[i].account, readers[i].box_pk, consent,
            (int64_t)json_integer_value(json_object_get(given, "expires_at")), &rg, &rlen);
        json_decref(gj);
        rc = rg == NULL ? DBK_E_NOMEM
                        : add_grant_act(s, stream, &readers[i].account, next, rg, rlen, now);
        free(rg);
        if (rc == DBK_OK)
            r->regranted++;
    }
    return rc;
}

/* The revocation and the rotation, kept on this device in one transaction (see top). */
static int
revoke_locally(dbk_session *s, dbk_local_stream *st, const dbk_id *target, const json_t *listed,
               const json_t *consents, const char *when, dbk_sync_revoke_result *r)
{
    dbk_trust_reader readers[DBK_TRUST_READERS_MAX];
    unsigned char key[32], *self = NULL, *end = NULL;
    size_t selflen = 0, n = 0, endlen = 0;
    int64_t now = dbk_hlc_wall_ms();
    uint32_t next = st->epoch + 1, end_epoch = 0;
    int rc;

    if ((rc = dbk_trust_readers(s, &st->id, listed, target, readers, &n, &r->skipped)) != DBK_OK)
        return rc;
    /* A signed end that cannot be made (its key or the reader's pins unreadable) leaves
     * the end on the server's word, as the reader is told; it never stops the revoke. */
    if (end_grant(s, st, target, consents, now, &end, &endlen, &end_epoch) != DBK_OK) {
        free(end);
        end = NULL;
    }
    randombytes_buf(key, sizeof key);
    json_t *c = dbk_trust_self_consent(st->kind, when);
    json_t *g = c ? grant_json(s, &st->id, next, key, &s->account, s->keys->box_pk, c, 0, &self,
                               &selflen)
                  : NULL;
    json_decref(c);
    json_decref(g);
    if (self == NULL) {
        sodium_memzero(key, sizeof key);
        free(end);
        return DBK_E_NOMEM;
    }
    if ((rc = dbk_local_begin(s->L)) != DBK_OK)
        goto out;
    /* The signed end first, sent before the revocation: the reader holds the end signed. */
    if (end != NULL) {
        dbk_local_act ea = {.stream = st->id,
                            .grantee = *target,
                            .kind = DBK_ACT_END,
                            .epoch = end_epoch,
                            .grant = end,
                            .len = endlen,
                            .at_ms = now};
        rc = dbk_local_act_add(s->L, &ea);
    }
    dbk_local_act rv = {.stream = st->id, .grantee = *target, .kind = DBK_ACT_REVOKE,
                        .epoch = st->epoch, .at_ms = now};
    if (rc == DBK_OK)
        rc = dbk_local_act_add(s->L, &rv);
    if (rc == DBK_OK)
        rc = add_grant_act(s, &st->id, &s->account, next, self, selflen, now);
    if (rc == DBK_OK)
        rc = regrant_readers(s, &st->id, next, key, readers, n, consents, now, r);
    st->epoch = next;
    if (rc == DBK_OK && (rc = dbk_local_grant_put(s->L, &st->id, next, self, selflen)) == DBK_OK &&
        (rc = dbk_local_stream_put(s->L, st)) == DBK_OK)
        rc = dbk_local_commit(s->L);
    else
        dbk_local_rollback(s->L);
out:
    sodium_memzero(key, sizeof key);
    free(self);
    free(end);
    return rc;
}

/* Whether target holds a key to st: the server lists it active, or this device's
 * latest act about it is a grant. */
static bool
still_reads(dbk_session *s, const dbk_local_stream *st, const dbk_id *target, const json_t *listed,
            int *rc)
{
    dbk_trust_reader readers[DBK_TRUST_READERS_MAX];
    char t[DBK_ID_TEXT_LEN + 1];
    size_t n = 0, skipped = 0, i;
    json_t *v;
    dbk_id_to_text(target, t);
    json_array_foreach(listed, i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), t) == 0)
            return true;
    if ((*rc = dbk_trust_readers(s, &st->id, NULL, NULL, readers, &n, &skipped)) != DBK_OK)
        return false;
    for (i = 0; i < n; i++)
        if (dbk_id_equal(&readers[i].account, target))
            return true;
    return false;
}

int
dbk_sync_revoke(dbk_session *s, const dbk_id *stream, const dbk_id *target, const json_t *listed,
                const json_t *consents, const char *when, dbk_sync_revoke_result *r)
{
    dbk_local_stream st;
    int rc;

    memset(r, 0, sizeof *r);
    if ((rc = dbk_unlock(s)) != DBK_OK)
        return rc;
    if ((rc = dbk_local_stream_get(s->L, stream, &st)) != DBK_OK)
        return rc;
    if (!dbk_id_equal(&st.owner, &s->account) || dbk_id_equal(target, &s->account))
        return DBK_E_INVALID;
    if (!still_reads(s, &st, target, listed, &rc)) {
        r->epoch = st.epoch; /* ended already: revoking again changes nothing */
        r->already = true;
        return rc != DBK_OK ? rc : dbk_sync_acts(s, &r->acts);
    }
    if ((rc = revoke_locally(s, &st, target, listed, consents, when, r)) != DBK_OK)
        return rc;
    r->epoch = st.epoch;
    return dbk_sync_acts(s, &r->acts);
}
