/*
 * Sync: the grants addressed to this account fetched and stored, then the outbox
 * pushed and every stream pulled until nothing more comes, each pulled revision
 * merged into the local store. See sync.h.
 */
#include "sync.h"

#include "transport.h"
#include "unlock.h"

#include "dbk/base64.h"
#include "dbk/error.h"
#include "dbk/grant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SYNC_ROUNDS_MAX 100
#define PUSH_BATCH 200
/* What one sync round asks to pull, in total over its streams: the server's maxima
 * (proto/README.md section 18). The defaults (500 records, 1 MiB) made a counselor's
 * first sync of a 40-client caseload 72 round trips, each a local commit; the CLI
 * can hold 4 MiB, and fewer rounds also keep SYNC_ROUNDS_MAX from cutting a large
 * first sync short. */
#define PULL_LIMIT 1000
#define PULL_MAX_BYTES (4 * 1024 * 1024)

/* ---- grants ---- */

static int
json_fixed(json_t *o, const char *key, unsigned char *out, size_t n)
{
    const char *t = json_string_value(json_object_get(o, key));
    return t ? dbk_b64_decode_exact(out, n, t, strlen(t)) : DBK_E_BAD_JSON;
}

/*
 * What the grants' refresh asks of the server (grants_fetch), kept apart from what it
 * writes (grants_apply): the GETs run with no write transaction open, so a slow or
 * hanging server never holds the profile's write lock (another process's entry waits
 * for none of it). Nothing here is believed: grants_apply checks each signature.
 */
struct grants_fetched {
    int rc;          /* the first GET that failed, where the refresh stops (DBK_OK: none) */
    json_t *grants;  /* GET /v1/grants's answer */
    json_t *keys;    /* owner id text -> its identity key (base64) as the server lists it,
                        asked only for owners not pinned here; or -> the GET's failure */
    json_t *streams; /* GET /v1/streams's answer */
};

static void
grants_fetched_clear(struct grants_fetched *g)
{
    json_decref(g->grants);
    json_decref(g->keys);
    json_decref(g->streams);
}

/* A grant's bytes from its listing (b64), parsed: false when it does not parse. */
static bool
grant_bytes(const char *gb, unsigned char *bytes, size_t cap, size_t *len, dbk_grant_hdr *h)
{
    return gb != NULL && dbk_b64_decode(bytes, cap, len, gb, strlen(gb)) == DBK_OK &&
           dbk_grant_parse(bytes, *len, h) == DBK_OK;
}

/*
 * The identity key of another account whose stream this one reads (a counselor
 * learning a client's) asked of the server into g->keys, unless one is pinned here
 * (or a pin that cannot be read: never asked of the server). The key signs the grant
 * and every entry; the safety number shown in person is its check.
 */
static int
fetch_owner_key(dbk_session *s, const dbk_id *owner, struct grants_fetched *g)
{
    char t[DBK_ID_TEXT_LEN + 1], path[128];
    unsigned char pk[32];
    json_t *resp = NULL, *k;
    long status;
    int rc;

    dbk_id_to_text(owner, t);
    if (json_object_get(g->keys, t) != NULL ||
        dbk_trust_pinned(s, owner, pk, NULL) != DBK_E_NOT_FOUND)
        return DBK_OK;
    snprintf(path, sizeof path, "/v1/accounts/%s/keys", t);
    rc = dbk_net_call(s, "GET", path, NULL, true, &status, &resp);
    if (rc == DBK_OK && status != 200)
        rc = dbk_net_answer_err(resp);
    k = json_object_get(resp, "ed25519_pk");
    if (rc == DBK_OK && !json_is_string(k))
        rc = DBK_E_BAD_JSON;
    json_object_set_new(g->keys, t, rc == DBK_OK ? json_copy(k) : json_integer(rc));
    json_decref(resp);
    return rc;
}

/* The GETs of the grants' refresh, in the order the refresh uses their answers: the
 * grants, the keys of owners not pinned here, the server's listing of streams. Stops
 * at the first that fails (g->rc). grants_apply writes what came before it and then
 * returns g->rc: kept by dbk_refresh_grants (each write its own), rolled back with the
 * rest of apply_answer's second transaction (the next sync asks again). */
static void
grants_fetch(dbk_session *s, struct grants_fetched *g)
{
    json_t *e;
    long status;
    size_t i;

    g->keys = json_object();
    g->rc = dbk_net_call(s, "GET", "/v1/grants", NULL, true, &status, &g->grants);
    if (g->rc == DBK_OK && status != 200)
        g->rc = dbk_net_answer_err(g->grants);
    if (g->rc != DBK_OK) { /* nothing of it is applied */
        json_decref(g->grants);
        g->grants = NULL;
    }
    json_array_foreach(json_object_get(g->grants, "grants"), i, e)
    {
        const char *state = json_string_value(json_object_get(e, "state"));
        unsigned char bytes[20000];
        size_t len;
        dbk_grant_hdr h;
        if (g->rc != DBK_OK || state == NULL || strcmp(state, "revoked") == 0 ||
            !grant_bytes(json_string_value(json_object_get(e, "grant")), bytes, sizeof bytes, &len,
                         &h) ||
            dbk_id_equal(&h.owner, &s->account))
            continue;
        g->rc = fetch_owner_key(s, &h.owner, g);
    }
    if (g->rc == DBK_OK)
        g->rc = dbk_net_call(s, "GET", "/v1/streams", NULL, true, &status, &g->streams);
}

/* The owner's identity key pinned, or pinned now on first use from what grants_fetch
 * asked of the server (its failure, if that is what it got). */
static int
learn_owner_key(dbk_session *s, const dbk_id *owner, const struct grants_fetched *g)
{
    char t[DBK_ID_TEXT_LEN + 1];
    unsigned char pk[32];
    json_t *k;
    int rc;

    if ((rc = dbk_trust_pinned(s, owner, pk, NULL)) != DBK_E_NOT_FOUND)
        return rc;
    dbk_id_to_text(owner, t);
    k = json_object_get(g->keys, t);
    if (json_is_integer(k))
        return (int)json_integer_value(k);
    if (!json_is_string(k))
        return DBK_E_NOT_FOUND; /* pinned once, no longer: never over what was pinned */
    if ((rc = dbk_b64_decode_exact(pk, 32, json_string_value(k), strlen(json_string_value(k)))) ==
        DBK_OK)
        rc = dbk_trust_pin_first_use(s, owner, pk);
    return rc;
}

/*
 * Where this account's reading of another's stream ended. Meta keys per stream id:
 * "stream_end:<id>" (Unix ms; 0 or absent while a grant is active), "stream_end_kind:<id>"
 * ("revoked" or "expired") and "stream_end_told:<id>" (the end the user was told of).
 */
static void
end_key(char *out, size_t cap, const char *what, const dbk_id *stream)
{
    char t[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(stream, t);
    snprintf(out, cap, "stream_%s:%s", what, t);
}

/* What every end_key(.., "end", ..) begins with. */
#define END_PREFIX "stream_end:"
/* A stream the last answered sync did not bring up to date: "stream_unpulled:<id>", the
 * time (Unix s, 0 never) of the answered sync that last did (the "pulled_at" before it
 * first failed); gone once a sync brings it up to date (note_pulled). */
#define UNPULLED_PREFIX "stream_unpulled:"

/* The time (Unix s, 0 never) of the last sync the server answered (note_pulled): a
 * stream not marked unpulled was brought up to date by it. */
static int64_t
answered_at(dbk_session *s)
{
    return dbk_local_get_int(s->L, "pulled_at", dbk_local_get_int(s->L, "last_sync", 0));
}

/* The key of stream's (id text) unpulled mark. */
static void
unpulled_key(char *out, size_t cap, const char *stream)
{
    snprintf(out, cap, UNPULLED_PREFIX "%s", stream);
}

int
dbk_sync_stream_drop(dbk_session *s, const dbk_id *stream)
{
    char key[96], id[DBK_ID_TEXT_LEN + 1];
    bool own = !dbk_local_in_tx(s->L);
    int rc;
    if (own && (rc = dbk_local_begin(s->L)) != DBK_OK)
        return rc;
    dbk_id_to_text(stream, id);
    unpulled_key(key, sizeof key, id);
    if ((rc = dbk_local_stream_drop(s->L, stream)) == DBK_OK)
        rc = dbk_local_del(s->L, key);
    if (own && rc == DBK_OK)
        rc = dbk_local_commit(s->L);
    if (own && rc != DBK_OK)
        dbk_local_rollback(s->L);
    return rc;
}

/* Marks stream (id text) not brought up to date since at (Unix s), unless it is marked
 * already (the older time stands): see note_pulled. A stream nothing was ever pulled
 * from (cursor 0: one a grant just handed over, say) was never up to date: marked 0
 * (never), not with the time of a sync that did not hold it, which would say that what
 * its owner wrote before then is shown. */
static int
unpulled_mark(dbk_session *s, const char *stream, int64_t at)
{
    char key[96];
    dbk_local_stream ls;
    dbk_id id;
    unpulled_key(key, sizeof key, stream);
    if (dbk_local_get_int(s->L, key, -1) >= 0)
        return DBK_OK;
    if (dbk_id_from_text(&id, stream, strlen(stream)) != DBK_OK ||
        dbk_local_stream_get(s->L, &id, &ls) != DBK_OK || ls.cursor == 0)
        at = 0;
    return dbk_local_put_int(s->L, key, at);
}

/* An end (at_ms not 0) marks the stream unpulled as of the last answered sync, which
 * brought it up to date if it was not marked: no longer asked for, it stays so until a
 * pull brings it up to date again, after the end is undone. */
static int
end_mark(dbk_session *s, const dbk_id *stream, int64_t at_ms, const char *kind)
{
    char k[96], t[DBK_ID_TEXT_LEN + 1];
    int rc;
    dbk_id_to_text(stream, t);
    if (at_ms != 0 && (rc = unpulled_mark(s, t, answered_at(s))) != DBK_OK)
        return rc;
    end_key(k, sizeof k, "end", stream);
    rc = dbk_local_put_int(s->L, k, at_ms);
    end_key(k, sizeof k, "end_kind", stream);
    if (rc == DBK_OK)
        rc = dbk_local_put_text(s->L, k, kind);
    return rc;
}

static int64_t
end_get(dbk_session *s, const dbk_id *stream)
{
    char k[96];
    end_key(k, sizeof k, "end", stream);
    return dbk_local_get_int(s->L, k, 0);
}

/* From GET /v1/grants: a stream of another account with no active grant to this one
 * but a revoked or expired one has ended (at the latest such time); one with an active
 * grant reads again (the owner shared anew). */
static int
note_ends(dbk_session *s, json_t *grants)
{
    json_t *active = json_object(), *g;
    size_t i;
    int rc = DBK_OK;

    json_array_foreach(grants, i, g) {
        const char *state = json_string_value(json_object_get(g, "state"));
        const char *st = json_string_value(json_object_get(g, "stream"));
        if (state != NULL && st != NULL && strcmp(state, "active") == 0)
            json_object_set_new(active, st, json_true());
    }
    json_array_foreach(grants, i, g) {
        const char *state = json_string_value(json_object_get(g, "state"));
        const char *st = json_string_value(json_object_get(g, "stream"));
        const char *owner = json_string_value(json_object_get(g, "owner"));
        dbk_id sid, oid;
        int64_t at, was;
        if (rc != DBK_OK || state == NULL || st == NULL || owner == NULL ||
            dbk_id_from_text(&sid, st, strlen(st)) != DBK_OK ||
            dbk_id_from_text(&oid, owner, strlen(owner)) != DBK_OK ||
            dbk_id_equal(&oid, &s->account))
            continue;
        was = end_get(s, &sid);
        if (json_object_get(active, st) != NULL) {
            /* Read again, but not pulled since its reading ended: not current until it is
             * (an end marked before marks were kept is marked now). */
            if (was != 0 && (rc = end_mark(s, &sid, 0, "")) == DBK_OK) {
                char t[DBK_ID_TEXT_LEN + 1];
                int64_t last = answered_at(s);
                dbk_id_to_text(&sid, t);
                rc = unpulled_mark(s, t, was / 1000 < last ? was / 1000 : last);
            }
            if (rc == DBK_OK && strcmp(state, "active") == 0) {
                char k[96];
                end_key(k, sizeof k, "expires", &sid);
                rc = dbk_local_put_int(s->L, k,
                                       json_integer_value(json_object_get(g, "expires_at")));
            }
            continue;
        }
        at = json_integer_value(
            json_object_get(g, strcmp(state, "revoked") == 0 ? "revoked_at" : "expires_at"));
        if (at <= 0)
            at = (int64_t)time(NULL) * 1000;
        if (at > was)
            rc = end_mark(s, &sid, at, strcmp(state, "revoked") == 0 ? "revoked" : "expired");
    }
    json_decref(active);
    return rc;
}

/* What grants_fetch got, written: the ends the grants say, each grant handed to trust/
 * to keep or refuse, the server's listing of streams compared. In the caller's
 * transaction, or each write its own. g->rc where the fetch stopped. */
static int
grants_apply(dbk_session *s, const struct grants_fetched *g, dbk_trust_report *r)
{
    json_t *e;
    size_t i;
    int rc = g->grants == NULL ? g->rc : DBK_OK;

    if (rc == DBK_OK)
        rc = note_ends(s, json_object_get(g->grants, "grants"));
    json_array_foreach(json_object_get(g->grants, "grants"), i, e)
    {
        const char *state = json_string_value(json_object_get(e, "state"));
        const char *gb = json_string_value(json_object_get(e, "grant"));
        unsigned char bytes[20000];
        size_t len;
        dbk_grant_hdr h;
        if (rc != DBK_OK || gb == NULL || state == NULL)
            continue;
        if (!grant_bytes(gb, bytes, sizeof bytes, &len, &h)) {
            if (strcmp(state, "revoked") != 0)
                r->bad_grants++;
            continue;
        }
        /* A revoked grant gives nothing; one the owner signed may say the end was the
         * owner's (proto/TRUST.md T8: a signed end), checked with the pinned key. */
        if (strcmp(state, "revoked") == 0) {
            rc = dbk_trust_note_grant(s, bytes, len);
            continue;
        }
        /* The owner's identity key first (pinned, or pinned now on first use), then
         * trust/ decides whether the grant stands. */
        if (!dbk_id_equal(&h.owner, &s->account) &&
            (rc = learn_owner_key(s, &h.owner, g)) != DBK_OK) {
            if (rc == DBK_E_FINGERPRINT) {
                r->bad_grants++; /* a key other than the pinned one: refused */
                rc = DBK_OK;
            }
            continue;
        }
        rc = dbk_trust_accept_grant(s, bytes, len, r);
    }
    if (rc != DBK_OK || g->rc != DBK_OK)
        return rc != DBK_OK ? rc : g->rc;
    /* The server's listing of kinds and epochs: compared, never applied. */
    json_array_foreach(json_object_get(g->streams, "streams"), i, e)
    {
        dbk_id id;
        if (json_fixed(e, "stream", id.b, 16) != DBK_OK)
            continue;
        dbk_trust_stream_listed(s, &id, json_string_value(json_object_get(e, "kind")),
                                (uint32_t)json_integer_value(json_object_get(e, "epoch")), r);
    }
    return DBK_OK;
}

/* Fetches the grants and streams this account reads, and the keys of their owners;
 * then writes what they say, in one commit. */
int
dbk_refresh_grants(dbk_session *s, dbk_trust_report *r)
{
    dbk_trust_report none = {0};
    struct grants_fetched g = {0};
    grants_fetch(s, &g);
    bool group = dbk_local_group_begin(s->L);
    int rc = dbk_local_group_end(s->L, group, grants_apply(s, &g, r != NULL ? r : &none));
    grants_fetched_clear(&g);
    return rc;
}

/* ---- sync ---- */

/* What the rounds of one sync share (sync_all). */
struct sync_ctx {
    /* The server may be asked to store the private stream's head only if the shared
     * stream's push in the same request is stored (README section 12, "after"):
     * false once it answered unknown_field (an older server), for the rest of the
     * sync, which holds the head back for a round of its own as before, and for the
     * syncs of the next day with this server (NO_AFTER_KEY). */
    bool after_ok;
    json_t *refused;  /* stream id text -> true: its push was refused in this sync */
    bool dep_records; /* the round's push "after" carries records besides the head */
    bool again;       /* ... and was refused with its prerequisite: they go next round */
    bool own_asked;   /* the grants asked for again: one of this account's own streams
                         was missing here (dbk_trust_own_missing); once a sync */
    const dbk_sync_hook *hook; /* told of each revision pulled (sync.h), or NULL */
};

struct push_acc {
    json_t *by_stream; /* stream id text -> array of {envelope} */
    size_t n;
    dbk_id hold;  /* with holding: the private stream's head (dbk_trust_head_held) */
    bool holding; /* hold stays out of this push, or goes "after" the shared one (attach) */
    bool held;    /* it waited in the outbox and was left out */
    bool attach;  /* with holding: hold may go in this push, "after" the shared stream */
    json_t *head; /* attach: the head's {envelope}, set aside (push_entries) */
    dbk_id head_stream;
    const json_t *skip; /* streams refused earlier in this sync: not sent again */
    dbk_trust_own own;  /* this account's streams, read once a round (outbox_with_heads) */
};

static void
collect(const dbk_local_record *r, void *arg)
{
    struct push_acc *a = arg;
    char t[DBK_ID_TEXT_LEN + 1];
    json_t *arr;
    size_t n = DBK_B64_ENCODED_LEN(r->len) + 1;
    char *b;
    dbk_id_to_text(&r->hdr.stream, t);
    if (json_object_get(a->skip, t) != NULL)
        return;
    if (a->holding && dbk_id_equal(&r->hdr.record, &a->hold) && !a->attach) {
        a->held = true;
        return;
    }
    if ((b = malloc(n)) == NULL)
        return;
    (void)dbk_b64_encode(b, n, r->env, r->len);
    if (a->holding && dbk_id_equal(&r->hdr.record, &a->hold)) {
        json_decref(a->head);
        a->head = json_pack("{s:s}", "envelope", b);
        a->head_stream = r->hdr.stream;
    } else {
        if ((arr = json_object_get(a->by_stream, t)) == NULL) {
            arr = json_array();
            json_object_set_new(a->by_stream, t, arr);
        }
        json_array_append_new(arr, json_pack("{s:s}", "envelope", b));
    }
    free(b);
    a->n++;
}

/*
 * The round's push entries, one a stream. The private stream's head set aside
 * (pa->head) goes in its stream's entry, named "after" the shared stream's, when the
 * whole outbox came (nothing of the shared stream left for a later round) and the
 * shared stream's records are in this push: the server stores it only if it stores
 * those (proto/TRUST.md T12). The shared entry comes first, as "after" wants.
 * Otherwise the head stays in the outbox (pa->held), for a later round as before.
 * *after: an entry names "after".
 */
static json_t *
push_entries(struct push_acc *pa, struct sync_ctx *x, bool *after)
{
    json_t *push = json_array(), *e, *dep = NULL;
    char shared[DBK_ID_TEXT_LEN + 1] = "", priv[DBK_ID_TEXT_LEN + 1];
    const char *k;

    x->dep_records = false;
    if (pa->head != NULL && pa->own.has_shared) /* pa->own read with the head's outbox */
        dbk_id_to_text(&pa->own.shared.id, shared);
    if (pa->head != NULL &&
        (pa->n > PUSH_BATCH - 1 || json_object_get(pa->by_stream, shared) == NULL)) {
        pa->held = true; /* still counted in n: a full batch asks for another round */
        json_decref(pa->head);
        pa->head = NULL;
    }
    if (pa->head != NULL) {
        dbk_id_to_text(&pa->head_stream, priv);
        if ((e = json_object_get(pa->by_stream, priv)) == NULL)
            json_object_set_new(pa->by_stream, priv, e = json_array());
        x->dep_records = json_array_size(e) > 0;
        json_array_append_new(e, pa->head);
        pa->head = NULL;
        json_array_append_new(push, json_pack("{s:s, s:O}", "stream", shared, "records",
                                              json_object_get(pa->by_stream, shared)));
        dep = json_pack("{s:s, s:O, s:s}", "stream", priv, "records", e, "after", shared);
    }
    json_object_foreach(pa->by_stream, k, e)
    {
        if (dep == NULL || (strcmp(k, shared) != 0 && strcmp(k, priv) != 0))
            json_array_append_new(push, json_pack("{s:s, s:O}", "stream", k, "records", e));
    }
    if ((*after = dep != NULL))
        json_array_append_new(push, dep);
    return push;
}

struct pull_acc {
    json_t *arr;
    dbk_session *s;
    bool any_end; /* some stream's reading has ended (else none is asked about) */
};

/* Every stream but those whose reading has ended (the server would refuse them). */
static void
add_pull(const dbk_local_stream *st, void *arg)
{
    struct pull_acc *p = arg;
    char t[DBK_ID_TEXT_LEN + 1];
    if (p->any_end && end_get(p->s, &st->id) > 0)
        return;
    dbk_id_to_text(&st->id, t);
    json_array_append_new(p->arr, json_pack("{s:s, s:I}", "stream", t, "since",
                                            (json_int_t)st->cursor));
}

/* Whether record is the head of stream (trust.h): bookkeeping, not counted as an entry
 * sent, received or waiting. */
static bool
is_head(const dbk_id *stream, const dbk_id *record)
{
    dbk_id h;
    dbk_trust_head_id(stream, &h);
    return dbk_id_equal(&h, record);
}

static void
pending_head(const dbk_local_stream *ls, void *arg)
{
    void **a = arg;
    dbk_session *s = a[0];
    int64_t *n = a[1], k;
    dbk_id h;
    if (!dbk_id_equal(&ls->owner, &s->account))
        return;
    dbk_trust_head_id(&ls->id, &h);
    if ((k = dbk_local_pending_of(s->L, &h)) > 0)
        *n += k;
}

int64_t
dbk_sync_pending(dbk_session *s)
{
    int64_t all = dbk_local_outbox_count(s->L), heads = 0;
    void *a[2] = {s, &heads};
    if (all <= 0 || dbk_local_streams(s->L, pending_head, a) != DBK_OK)
        return all;
    return all - heads;
}

static int
apply_push(dbk_session *s, json_t *entry, dbk_sync_stats *st, struct sync_ctx *x)
{
    dbk_id sid = {0};
    const char *stext = json_string_value(json_object_get(entry, "stream"));
    if (stext != NULL)
        (void)dbk_id_from_text(&sid, stext, strlen(stext));
    json_t *results = json_object_get(entry, "results"), *r;
    size_t i;
    int rc = DBK_OK;

    if (json_object_get(entry, "error") != NULL) {
        const char *code =
            json_string_value(json_object_get(json_object_get(entry, "error"), "code"));
        int err = code ? dbk_err_from_code(code) : DBK_E_UNAVAILABLE;
        dbk_local_stream ls;
        /* A counselor's note or record queued for a client whose sharing ended (revoked
         * or expired) can never be delivered: out of the outbox, so that every later sync
         * does not fail on it; kept here, and counted for the user. */
        if ((err == DBK_E_FORBIDDEN || err == DBK_E_EXPIRED) &&
            dbk_local_stream_get(s->L, &sid, &ls) == DBK_OK &&
            !dbk_id_equal(&ls.owner, &s->account)) {
            int64_t n = 0;
            rc = dbk_local_outbox_abandon(s->L, &sid, &n);
            st->undeliverable += n;
            return rc;
        }
        /* Refused because the shared stream's push was (README section 12, "after"):
         * the head waits with it, as the failure of that one says; the records it
         * carried besides go in the next round, the shared stream left out. */
        if (err == DBK_E_PREREQUISITE) {
            x->again = x->dep_records;
            return DBK_OK;
        }
        if (stext != NULL)
            json_object_set_new(x->refused, stext, json_true()); /* not sent again */
        st->failed_streams++;
        /* Kept: a full disk on the server is not a lost access (see cmd_sync.c). */
        st->server_error = err;
        return DBK_OK; /* left in the outbox; reported to the user */
    }
    json_array_foreach(results, i, r) {
        dbk_id rec;
        dbk_revision rev;
        const char *t = json_string_value(json_object_get(r, "record"));
        json_t *jr = json_object_get(r, "revision");
        const char *clock = json_string_value(json_object_get(jr, "clock"));
        const char *dev = json_string_value(json_object_get(jr, "device"));
        if (t == NULL || clock == NULL || dev == NULL ||
            dbk_id_from_text(&rec, t, strlen(t)) != DBK_OK ||
            dbk_id_from_text(&rev.device, dev, strlen(dev)) != DBK_OK)
            return DBK_E_BAD_JSON;
        rev.clock = strtoull(clock, NULL, 10);
        rc = dbk_local_outbox_done(s->L, &rec, &rev,
                                   json_integer_value(json_object_get(r, "seq")));
        if (rc != DBK_OK)
            return rc;
        st->pushed += !is_head(&sid, &rec);
    }
    return rc;
}

/* One stream's pull answered with error (ls, sid its id text): see apply_pull. */
static int
pull_refused(dbk_session *s, const json_t *error, const dbk_local_stream *ls, const char *sid,
             dbk_sync_stats *st, json_t *refused, json_t *outcome)
{
    const char *code = json_string_value(json_object_get(error, "code"));
    int err = code ? dbk_err_from_code(code) : DBK_E_UNAVAILABLE;
    /* Another's stream whose grants were revoked or ran out, as the server says: its
     * reading may have ended, but the refusal is the server's word alone. Kept in
     * refused (id text -> how it ended) for the grants refresh that follows in this sync
     * (apply_answer's second transaction), which marks the end (refused_ended) unless
     * the grants show one active; until then it is marked not pulled, with the rounds:
     * if the refresh fails, the stream stays not current and is asked again at the next
     * sync (grants_seq forgotten: refetch_grants), never silently ended. */
    if ((err == DBK_E_FORBIDDEN || err == DBK_E_EXPIRED) &&
        !dbk_id_equal(&ls->owner, &s->account)) {
        if (end_get(s, &ls->id) != 0)
            return DBK_OK;
        json_object_set_new(refused, sid,
                            json_string(err == DBK_E_EXPIRED ? "expired" : "revoked"));
        return unpulled_mark(s, sid, answered_at(s));
    }
    st->failed_streams++;
    st->unpulled++;
    json_object_set_new(outcome, sid, json_false());
    return DBK_OK;
}

/* refused: the streams of others whose pull the server refused as ended (pull_refused),
 * to be checked against the grants it lists (apply_answer, refused_ended). */
static int
apply_pull(dbk_session *s, json_t *entry, bool *more, dbk_sync_stats *st, json_t *refused,
           json_t *outcome, const dbk_sync_hook *hook)
{
    const char *sid = json_string_value(json_object_get(entry, "stream"));
    json_t *records = json_object_get(entry, "records"), *r;
    dbk_local_stream ls;
    dbk_id id;
    size_t i;
    int rc;

    char norm[DBK_ID_TEXT_LEN + 1]; /* as this device writes it: the key of its marks */
    if (sid == NULL || dbk_id_from_text(&id, sid, strlen(sid)) != DBK_OK ||
        dbk_local_stream_get(s->L, &id, &ls) != DBK_OK)
        return DBK_E_BAD_JSON;
    dbk_id_to_text(&id, norm);
    if (json_object_get(entry, "error") != NULL)
        return pull_refused(s, json_object_get(entry, "error"), &ls, norm, st, refused, outcome);
    json_array_foreach(records, i, r) {
        const char *b = json_string_value(json_object_get(r, "envelope"));
        size_t n = b ? strlen(b) : 0, len;
        unsigned char *env = malloc(DBK_B64_DECODED_MAX(n) + 1);
        dbk_envelope_hdr h;
        bool cur;
        if (env == NULL)
            return DBK_E_NOMEM;
        /* An envelope is public (ciphertext and a signature): the table decoder, as
         * the server's push uses, not the constant-time one keys need. */
        rc =
            b ? dbk_b64_decode_public(env, DBK_B64_DECODED_MAX(n) + 1, &len, b, n) : DBK_E_BAD_JSON;
        /* Only what belongs to this stream is kept; opening verifies the rest. */
        if (rc == DBK_OK && (dbk_envelope_parse(env, len, &h) != DBK_OK ||
                             !dbk_id_equal(&h.stream, &id)))
            rc = DBK_E_BAD_ENVELOPE;
        if (rc == DBK_OK && !is_head(&h.stream, &h.record) &&
            dbk_trust_revision_forged(s, env, len, &h, &ls.owner)) {
            st->forged_revisions++; /* refused: what this device holds stays */
            free(env);
            continue;
        }
        if (rc == DBK_OK)
            rc = dbk_local_record_put(s->L, env, len,
                                      json_integer_value(json_object_get(r, "seq")), false, &cur);
        if (rc == DBK_OK && cur && hook != NULL) {
            dbk_local_record lr = {.hdr = h, .env = env, .len = len, .current = true};
            hook->pulled(hook->arg, &lr);
        }
        free(env);
        if (rc != DBK_OK)
            return rc;
        /* The hybrid logical clock takes in every clock it receives (CRYPTO.md section
         * 6), so an edit made here after seeing another device's revision is the later
         * one even when that device's wall clock runs ahead of ours. Without this the
         * edit lost to the revision it replaced. A clock more than a day ahead is not
         * taken in (DBK_E_INVALID), as the spec says; the record is kept all the same. */
        (void)dbk_hlc_recv(&s->hlc, dbk_session_wall_ms(), h.rev.clock);
        st->pulled += !is_head(&h.stream, &h.record);
    }
    int64_t was = ls.cursor;
    ls.cursor = json_integer_value(json_object_get(entry, "next"));
    /* The epoch the server names is a hint: only a verified grant raises ours
     * (trust/trust.c), and a lower one is an epoch rolled back, refused and told. */
    if ((uint32_t)json_integer_value(json_object_get(entry, "epoch")) < ls.epoch)
        st->trust.epoch_rollbacks++;
    *more = *more || json_is_true(json_object_get(entry, "more"));
    /* A stream answered more than once in one answer (an error, then "nothing new") is
     * up to date only if every answer says so: the server contradicts itself. */
    if (!json_is_false(json_object_get(outcome, norm)))
        json_object_set_new(outcome, norm,
                            json_boolean(!json_is_true(json_object_get(entry, "more"))));
    /* "Nothing new", the daily case for most streams, writes nothing. */
    return ls.cursor == was ? DBK_OK : dbk_local_stream_put(s->L, &ls);
}

struct ended_acc {
    dbk_session *s;
    dbk_sync_stats *st;
    int rc;
};

static void
ended_one(const dbk_local_stream *ls, void *arg)
{
    struct ended_acc *a = arg;
    char k[96], kind[16] = "";
    int64_t at = end_get(a->s, &ls->id);

    end_key(k, sizeof k, "end_told", &ls->id);
    if (at <= 0 || a->rc != DBK_OK || dbk_local_get_int(a->s->L, k, 0) == at ||
        a->st->nended == DBK_SYNC_ENDED_MAX)
        return;
    a->rc = dbk_local_put_int(a->s->L, k, at);
    end_key(k, sizeof k, "end_kind", &ls->id);
    (void)dbk_local_get_text(a->s->L, k, kind, sizeof kind);
    a->st->ended[a->st->nended].owner = ls->owner;
    a->st->ended[a->st->nended].at_ms = at;
    a->st->ended[a->st->nended].expired = strcmp(kind, "expired") == 0;
    a->st->nended++;
}

/* The streams whose reading ended since the user was last told, each reported once. */
static int
collect_ended(dbk_session *s, dbk_sync_stats *st)
{
    /* Most syncs end nothing: one lookup then, not two per stream (issue 20), nor the
     * walk of every stream (0.2M instructions of a review, with 41 streams). */
    struct ended_acc a = {s, st, DBK_OK};
    if (!dbk_local_has_prefix(s->L, END_PREFIX))
        return DBK_OK;
    int rc = dbk_local_streams(s->L, ended_one, &a);
    return rc != DBK_OK ? rc : a.rc;
}

struct heads_acc {
    dbk_local_stream *v;
    size_t n, cap;
};

static void
head_stream(const dbk_local_stream *ls, void *arg)
{
    struct heads_acc *a = arg;
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 16;
        dbk_local_stream *v = realloc(a->v, cap * sizeof *v);
        if (v == NULL)
            return;
        a->v = v, a->cap = cap;
    }
    a->v[a->n++] = *ls;
}

/* After the pulls: every stream held here against its owner's signed head (trust.h,
 * proto/TRUST.md T12), so that records the server withheld are told apart from none. */
static int
check_heads(dbk_session *s, dbk_trust_report *r)
{
    struct heads_acc a = {0};
    int rc = dbk_local_streams(s->L, head_stream, &a);
    /* The streams' high-water marks (trust/heads.c) kept in one commit, not each in its
     * own with its own sync of the disk: two a stream, some 80 of the 300 fdatasyncs of
     * a counselor's cold sync (40 clients). A mark kept before a failure is committed
     * all the same, as when each was its own commit. */
    bool group = rc == DBK_OK && a.n > 1 && dbk_local_group_begin(s->L);
    for (size_t i = 0; rc == DBK_OK && i < a.n; i++)
        rc = dbk_trust_stream_head(s, &a.v[i].id, &a.v[i].owner, a.v[i].epoch, r);
    rc = dbk_local_group_end(s->L, group, rc);
    free(a.v);
    /* One of its own streams not held here at all: nothing of it seen, no head checked. */
    if (rc == DBK_OK)
        r->own_none += dbk_trust_own_missing(s);
    return rc;
}

/* How many of the streams asked for (the request's pull) the answer's pull leaves out;
 * each is not up to date in outcome. */
static size_t
left_out(const json_t *asked, const json_t *resp, json_t *outcome)
{
    json_t *answered = json_object(), *e;
    size_t i, n = 0;
    json_array_foreach(json_object_get(resp, "pull"), i, e) {
        const char *sid = json_string_value(json_object_get(e, "stream"));
        if (sid != NULL)
            json_object_set_new(answered, sid, json_true());
    }
    json_array_foreach(asked, i, e) {
        const char *sid = json_string_value(json_object_get(e, "stream"));
        if (sid != NULL && json_object_get(answered, sid) == NULL) {
            json_object_set_new(outcome, sid, json_false());
            n++;
        }
    }
    json_decref(answered);
    return n;
}

/* Whether stream (id text) was asked for from the start (since 0), as a stream a grant
 * just handed over is: never up to date, though a first page of this answer moved its
 * cursor (unpulled_mark). Looked up for failing streams only. */
static bool
from_start(const json_t *asked, const char *stream)
{
    size_t i;
    json_t *e;
    json_array_foreach((json_t *)asked, i, e)
    {
        const char *sid = json_string_value(json_object_get(e, "stream"));
        if (sid != NULL && strcmp(sid, stream) == 0)
            return json_integer_value(json_object_get(e, "since")) == 0;
    }
    return false;
}

/*
 * Which streams this answer brought up to date (outcome: stream id text -> true, or
 * false: left out, failed, refused yet listed active, more to come), kept per stream so
 * that a review says how fresh each client's data is (dbk_sync_stale_owners), not one
 * time for the whole device: a stream that fails is marked with the time of the last
 * answer that brought it up to date (the "pulled_at" before this one: an unmarked stream
 * was up to date as of it, since every answer covers every stream asked), kept while it
 * keeps failing; one brought up to date loses its mark; then "pulled_at" is now. In the
 * answer's transaction: marks are looked up for failing streams only, and dropped only
 * when some exist (one lookup), so a sync where all is well writes one row more.
 */
static int
note_pulled(dbk_session *s, const json_t *asked, const json_t *outcome)
{
    int64_t prev = answered_at(s);
    bool any = dbk_local_has_prefix(s->L, UNPULLED_PREFIX);
    const char *k;
    json_t *v;
    int rc = DBK_OK;
    json_object_foreach((json_t *)outcome, k, v)
    {
        char key[96];
        unpulled_key(key, sizeof key, k);
        if (!json_is_true(v))
            rc = unpulled_mark(s, k, from_start(asked, k) ? 0 : prev);
        else if (any)
            rc = dbk_local_del(s->L, key);
        if (rc != DBK_OK)
            return rc;
    }
    return dbk_local_put_int(s->L, "pulled_at", (int64_t)time(NULL));
}

/* Whether the grants fetched (GET /v1/grants, grants_apply) list one of stream's active. */
static bool
listed_active(const json_t *grants, const dbk_id *stream)
{
    json_t *g;
    size_t i;
    json_array_foreach(json_object_get(grants, "grants"), i, g)
    {
        const char *state = json_string_value(json_object_get(g, "state"));
        const char *st = json_string_value(json_object_get(g, "stream"));
        dbk_id id;
        if (state != NULL && st != NULL && strcmp(state, "active") == 0 &&
            dbk_id_from_text(&id, st, strlen(st)) == DBK_OK && dbk_id_equal(&id, stream))
            return true;
    }
    return false;
}

/* The streams whose pull the server refused as ended (pull_refused's refused: id text ->
 * "revoked" or "expired"), once the grants fetched again are written (grants_apply),
 * in apply_answer's second transaction. One the grants end was marked ended by them
 * (note_ends, at their time). One they list active was refused by a server that says
 * two things: not pulled, so not current (sync.h unpulled), asked again at the next
 * sync. One they do not list ends now, on the refusal. */
static int
refused_ended(dbk_session *s, const json_t *grants, const json_t *refused, dbk_sync_stats *st,
              json_t *outcome)
{
    const char *t;
    json_t *kind;
    int rc = DBK_OK;
    json_object_foreach((json_t *)refused, t, kind)
    {
        dbk_id sid;
        if (rc != DBK_OK || dbk_id_from_text(&sid, t, strlen(t)) != DBK_OK || end_get(s, &sid) != 0)
            continue;
        if (listed_active(grants, &sid)) {
            st->failed_streams++, st->unpulled++;
            json_object_set_new(outcome, t, json_false());
        } else {
            rc = end_mark(s, &sid, (int64_t)time(NULL) * 1000, json_string_value(kind));
        }
    }
    return rc;
}

/* The grants asked for again (grants_fetch) between the two transactions of
 * apply_answer: the first, the pushes and pulls, is committed before the GETs, the
 * second opened after them; so no write lock is held over the server's answer. What
 * the fetch brought is written in the second (grants_apply), as before with the rest of
 * the answer. The first forgets grants_seq: the refresh is then owed to the next sync
 * until the second writes it, should the GETs fail or the process die between the two
 * (a stream whose pull was refused is then left marked not pulled, never ended on the
 * refusal alone: pull_refused, refused_ended). *tx: a
 * transaction is open on return (else the first was committed and the second could
 * not begin). */
static int
refetch_grants(dbk_session *s, struct grants_fetched *g, bool *tx)
{
    int rc = dbk_local_del(s->L, "grants_seq");
    if (rc == DBK_OK)
        rc = dbk_local_commit(s->L);
    if (rc != DBK_OK)
        return rc;
    *tx = false;
    grants_fetch(s, g);
    if ((rc = dbk_local_begin(s->L)) == DBK_OK)
        *tx = true;
    return rc;
}

/* One answer of POST /v1/sync applied: the pushes acknowledged, the pulls merged, the
 * clock and the time of the sync stored, in one transaction; when the server's
 * grants_seq moved (or a stream was refused, or one of this account's own is missing),
 * the pulls are committed first and the grants refreshed (refetch_grants), the refresh
 * and the rest written in a second (*more: pull again); asked: the request's pull, to
 * tell the streams the answer left out. A refresh that fails leaves the pulls kept and
 * grants_seq forgotten (refetch_grants): the next sync asks again. */
static int
apply_answer(dbk_session *s, const json_t *asked, const json_t *resp, dbk_sync_stats *st,
             struct sync_ctx *x, bool *more)
{
    json_t *e, *refused = json_object(), *outcome = json_object();
    size_t i, out = left_out(asked, resp, outcome);
    struct grants_fetched g = {0};
    bool tx = false;
    int rc;

    if ((rc = dbk_local_begin(s->L)) == DBK_OK)
        tx = true;
    json_array_foreach(json_object_get(resp, "push"), i, e)
    {
        if (rc == DBK_OK)
            rc = apply_push(s, e, st, x);
    }
    json_array_foreach(json_object_get(resp, "pull"), i, e)
    {
        if (rc == DBK_OK)
            rc = apply_pull(s, e, more, st, refused, outcome, x->hook);
    }
    /* A stream the server did not answer for was not pulled: said as one that failed. */
    st->failed_streams += out, st->unpulled += out;
    /* What the pulls merged into the clock, as dbk_session_clock: never lower than
     * what is stored, which a command run during this sync may have raised. */
    if (rc == DBK_OK && (rc = dbk_session_clock_load(s)) == DBK_OK)
        rc = dbk_local_put_int(s->L, "hlc", (int64_t)s->hlc.last);
    if (rc == DBK_OK) {
        /* A new grant (a client shared, a stream rotated) shows as a new grants_seq; a
         * stream whose pull was refused just now is checked against the grants too. */
        int64_t seq = json_integer_value(json_object_get(resp, "grants_seq"));
        bool moved = seq != dbk_local_get_int(s->L, "grants_seq", -1);
        /* A self-grant the server left out (at this device's login, say) and lists
         * again without moving grants_seq: asked for again while the stream is missing,
         * else this device never reads (nor writes) its own stream, and says nothing. */
        size_t missing = x->own_asked ? 0 : dbk_trust_own_missing(s);
        if (moved || missing > 0 || json_object_size(refused) > 0) {
            x->own_asked = x->own_asked || missing > 0;
            if ((rc = refetch_grants(s, &g, &tx)) == DBK_OK &&
                (rc = grants_apply(s, &g, &st->trust)) == DBK_OK)
                rc = refused_ended(s, g.grants, refused, st, outcome);
            if (rc == DBK_OK)
                rc = dbk_local_put_int(s->L, "grants_seq", seq);
            /* pull the streams just learned */
            *more = *more || moved || (missing > 0 && dbk_trust_own_missing(s) < missing);
        }
    }
    grants_fetched_clear(&g);
    json_decref(refused);
    if (rc == DBK_OK)
        rc = note_pulled(s, asked, outcome);
    json_decref(outcome);
    /* The time of the sync only when every stream asked for is up to date: not while
     * one failed, was left out or has more to come (the next round writes it). */
    if (rc == DBK_OK && st->unpulled == 0 && !*more)
        rc = dbk_local_put_int(s->L, "last_sync", (int64_t)time(NULL));
    if (rc == DBK_OK)
        rc = dbk_local_commit(s->L);
    else if (tx)
        dbk_local_rollback(s->L);
    return rc;
}

/* The heads of this device's writes (T12) signed and the round's outbox read in one
 * transaction: an entry committed between the two would go out counted by no head
 * (the next sync finds nothing of it waiting, and signs none). The private stream's
 * head, which signs the counts of the shared stream, goes while records of that one
 * wait only "after" them (pa->attach, push_entries); else it stays out (pa->held) and
 * goes in a later round, once the server acknowledged them. */
static int
outbox_with_heads(dbk_session *s, struct push_acc *pa, const struct sync_ctx *x)
{
    int rc = dbk_unlock(s); /* before the write lock is taken: no prompt while it is held */
    if (rc == DBK_OK && (rc = dbk_local_begin(s->L)) == DBK_OK &&
        (rc = dbk_trust_own_streams(s, &pa->own)) == DBK_OK &&
        (rc = dbk_trust_heads_write(s, &pa->own)) == DBK_OK) {
        dbk_trust_head_held(s, &pa->own, &pa->hold, &pa->holding);
        pa->attach = pa->holding && x->after_ok;
        if ((rc = dbk_local_outbox(s->L, PUSH_BATCH, collect, pa)) == DBK_OK)
            rc = dbk_local_commit(s->L);
    }
    if (rc != DBK_OK)
        dbk_local_rollback(s->L);
    return rc;
}

/* One round: up to PUSH_BATCH records of the outbox pushed (none unless push_any) and
 * every stream pulled in one POST /v1/sync, the answer applied. *pushed: how many
 * records went; *held: the private stream's head was held back (outbox_with_heads)
 * and may go now, the shared stream's records it counts acknowledged; *more: a stream
 * has more to pull; *after: the push named one stream "after" another. */
static int
round_once(dbk_session *s, dbk_sync_stats *st, struct sync_ctx *x, bool push_any, size_t *pushed,
           bool *held, bool *more, bool *after)
{
    struct push_acc pa = {.by_stream = json_object(), .skip = x->refused};
    struct pull_acc pl = {json_array(), s, dbk_local_has_prefix(s->L, END_PREFIX)};
    json_t *push = NULL, *body, *resp = NULL;
    long status;
    int rc;

    x->dep_records = false;
    if (!push_any || (rc = outbox_with_heads(s, &pa, x)) == DBK_OK)
        rc = dbk_local_streams(s->L, add_pull, &pl);
    push = push_entries(&pa, x, after);
    json_decref(pa.by_stream);
    json_decref(pa.head);
    *pushed = pa.n;
    *held = false;
    body = json_pack("{s:o, s:O, s:i, s:i}", "push", push, "pull", pl.arr, "limit", PULL_LIMIT,
                     "max_bytes", PULL_MAX_BYTES);
    if (rc == DBK_OK)
        rc = dbk_net_call(s, "POST", "/v1/sync", body, true, &status, &resp);
    json_decref(body);
    if (rc == DBK_OK && status != 200) {
        const char *code =
            json_string_value(json_object_get(json_object_get(resp, "error"), "code"));
        rc = code ? dbk_err_from_code(code) : DBK_E_UNAVAILABLE;
        if (!(*after && rc == DBK_E_UNKNOWN_FIELD)) /* sync_round asks again */
            st->server_error = rc;
    }
    if (rc == DBK_OK)
        rc = apply_answer(s, pl.arr, resp, st, x, more);
    if (rc == DBK_OK && pa.held) { /* it may go now: nothing of the shared stream waits */
        bool still = true;
        dbk_id h;
        dbk_trust_head_held(s, &pa.own, &h, &still);
        *held = !still;
    }
    json_decref(pl.arr);
    json_decref(resp);
    return rc;
}

/* Meta "<unix seconds> <server URL>": when the server at that URL last refused "after"
 * (unknown_field). Syncs with it send none for a day, so an older server costs one
 * round more once a day, not once a sync. A day, not until its /healthz version
 * changes: a sync asks no /healthz, and asking would cost every sync the request this
 * saves; a server upgraded meanwhile only sees heads in rounds of their own, as before
 * "after", until the day is over. */
#define NO_AFTER_KEY "no_after"
#define NO_AFTER_SECS (24 * 60 * 60)

static bool
after_refused_lately(dbk_session *s)
{
    char v[DBK_URL_MAX + 32];
    long long at = 0;
    int n = 0;
    if (dbk_local_get_text(s->L, NO_AFTER_KEY, v, sizeof v) != DBK_OK ||
        sscanf(v, "%lld %n", &at, &n) != 1 || n == 0)
        return false;
    long long now = (long long)time(NULL);
    return strcmp(v + n, s->server) == 0 && at <= now && now - at < NO_AFTER_SECS;
}

static void
after_refused_now(dbk_session *s)
{
    char v[DBK_URL_MAX + 32];
    snprintf(v, sizeof v, "%lld %s", (long long)time(NULL), s->server);
    /* a cache: unwritten (another process writing), the next sync asks once more */
    (void)dbk_local_put_text_nowait(s->L, NO_AFTER_KEY, v);
}

/* round_once, asked again without "after" when the server does not know it
 * (unknown_field: an older server), and so for the rest of the sync and, remembered
 * (NO_AFTER_KEY), for the day's syncs with it: the private stream's head then waits
 * for a round of its own, as before "after". */
static int
sync_round(dbk_session *s, dbk_sync_stats *st, struct sync_ctx *x, bool push_any, size_t *pushed,
           bool *held, bool *more)
{
    bool after = false;
    int rc = round_once(s, st, x, push_any, pushed, held, more, &after);
    if (rc == DBK_E_UNKNOWN_FIELD && after) {
        x->after_ok = false;
        after_refused_now(s);
        rc = round_once(s, st, x, push_any, pushed, held, more, &after);
    }
    return rc;
}

/* The server behind this device (proto/TRUST.md T8): a stream listed below the epoch
 * held here means a server restored (or turned) past what it once acknowledged,
 * whatever its restore generation says. Every act is checked against it again, so
 * a revocation or rotation it lost is sent back; the records the old epoch refused
 * go with the next sync. */
static int
resend_acts(dbk_session *s, dbk_sync_stats *st)
{
    dbk_sync_acts_result again;
    int rc;

    if ((rc = dbk_local_acts_unack_all(s->L)) == DBK_OK &&
        (rc = dbk_sync_acts(s, &again)) == DBK_OK) {
        st->acts.sent += again.sent;
        st->acts.pending = again.pending;
        st->acts.conflicts = again.conflicts;
        st->acts.error = again.error;
    }
    return rc;
}

/* The rounds of a sync: pulled first when a head is to be signed (sync_all), then
 * pushed and pulled until nothing more waits or comes. *more: the rounds ran out with
 * more to pull. */
static int
sync_rounds(dbk_session *s, dbk_sync_stats *st, const dbk_sync_hook *hook, bool *more)
{
    struct sync_ctx x = {
        .after_ok = !after_refused_lately(s), .refused = json_object(), .hook = hook};
    int round = 0, rc = DBK_OK;
    if (dbk_trust_heads_pending(s))
        for (; round < SYNC_ROUNDS_MAX; round++) {
            size_t none = 0;
            bool held = false;
            *more = false;
            if ((rc = sync_round(s, st, &x, false, &none, &held, more)) != DBK_OK || !*more ||
                st->failed_streams > 0)
                break;
        }
    for (; rc == DBK_OK && round < SYNC_ROUNDS_MAX; round++) {
        size_t pushed = 0;
        bool held = false;
        *more = false;
        x.again = false;
        /* Each round signs the heads again (outbox_with_heads): an entry written while
         * an earlier round was on its way goes out in this one, and a head counts it. A
         * private head goes "after" the shared stream's records it counts, in the same
         * push (push_entries), or when it cannot, in the next round, once they were
         * acknowledged; after their push was refused, it waits for the next sync (and
         * the private records refused with it go in one more round: x.again). */
        if ((rc = sync_round(s, st, &x, true, &pushed, &held, more)) != DBK_OK)
            break;
        if (!*more && !x.again && ((pushed < PUSH_BATCH && !held) || st->failed_streams > 0))
            break;
    }
    json_decref(x.refused);
    return rc;
}

static int
sync_all(dbk_session *s, dbk_sync_stats *st, bool heads, const dbk_sync_hook *hook)
{
    int rc;

    memset(st, 0, sizeof *st);
    if ((rc = dbk_unlock(s)) != DBK_OK)
        return rc;
    /* Who may read first (revocations, rotations, grants still waiting, all of them after
     * a restore): entries sealed under a new key are taken only after its self-grant. */
    if ((rc = dbk_sync_acts(s, &st->acts)) != DBK_OK)
        return rc;
    if (st->acts.error == DBK_E_UNAVAILABLE || st->acts.error == DBK_E_UNAUTHENTICATED) {
        st->pending = dbk_sync_pending(s);
        return st->acts.error;
    }
    /* The stream heads of what this device wrote since its last push (T12), signed once
     * here, not after every entry: pushed after the records they count. Pulled first
     * when there is one to sign: a head signed before the pull counts only what this
     * device held, and with the newest clock the server keeps it over a higher head that
     * another device of the account (or this one, before its profile was restored from a
     * backup) pushed, so a record withheld from a reader afterwards went untold. */
    bool more = false;
    rc = sync_rounds(s, st, hook, &more);
    if (rc == DBK_OK && more)
        st->unpulled++, st->cut_short = true; /* the rounds ran out with more to pull */
    if (rc == DBK_OK && st->trust.epoch_rollbacks > 0)
        rc = resend_acts(s, st);
    st->pending = dbk_sync_pending(s);
    if (rc == DBK_OK)
        rc = collect_ended(s, st);
    if (rc == DBK_OK && heads)
        rc = check_heads(s, &st->trust);
    return rc;
}

int
dbk_sync(dbk_session *s, dbk_sync_stats *st)
{
    return sync_all(s, st, true, NULL);
}

int
dbk_sync_with(dbk_session *s, dbk_sync_stats *st, const dbk_sync_hook *hook)
{
    return sync_all(s, st, true, hook);
}

int
dbk_sync_pull_first(dbk_session *s, dbk_sync_stats *st)
{
    return sync_all(s, st, false, NULL);
}

struct stale_acc {
    dbk_session *s;
    json_t *out;
    int64_t pulled_at;
    bool marks, ends;
};

/* One stream: its mark (note_pulled) or the end of its reading makes its owner's data
 * as of the oldest of them. */
static void
stale_one(const dbk_local_stream *ls, void *arg)
{
    struct stale_acc *a = arg;
    char key[96], id[DBK_ID_TEXT_LEN + 1], owner[DBK_ID_TEXT_LEN + 1];
    int64_t at = INT64_MAX, m;
    dbk_id_to_text(&ls->id, id);
    unpulled_key(key, sizeof key, id);
    if (a->marks && (m = dbk_local_get_int(a->s->L, key, -1)) >= 0)
        at = m;
    if (a->ends && (m = end_get(a->s, &ls->id)) > 0)
        at = m / 1000 < at ? m / 1000 : at;
    if (at == INT64_MAX)
        return;
    /* An end's time is the server's word (a grant's revoked_at or expires_at) or this
     * device's clock: never later than the last answered sync, whatever it says. */
    at = at < a->pulled_at ? at : a->pulled_at;
    dbk_id_to_text(&ls->owner, owner);
    json_t *was = json_object_get(a->out, owner);
    if (was == NULL || json_integer_value(was) > at)
        json_object_set_new(a->out, owner, json_integer(at));
}

int
dbk_sync_stale_owners(dbk_session *s, json_t **stale, int64_t *pulled_at)
{
    struct stale_acc a = {s, json_object(), 0, false, false};
    int rc = DBK_OK;
    a.pulled_at = answered_at(s);
    a.marks = dbk_local_has_prefix(s->L, UNPULLED_PREFIX);
    a.ends = dbk_local_has_prefix(s->L, END_PREFIX);
    if (a.marks || a.ends) /* most days neither: no walk of the streams */
        rc = dbk_local_streams(s->L, stale_one, &a);
    if (rc != DBK_OK) {
        json_decref(a.out);
        a.out = NULL;
    }
    *stale = a.out;
    *pulled_at = a.pulled_at;
    return rc;
}

struct consents_acc {
    dbk_session *s;
    json_t *out;
};

static void
consent_one(const dbk_local_stream *ls, void *arg)
{
    struct consents_acc *a = arg;
    char k[96], kind[16] = "", owner[DBK_ID_TEXT_LEN + 1];
    int64_t ended = end_get(a->s, &ls->id), expires;

    if (dbk_id_equal(&ls->owner, &a->s->account))
        return;
    end_key(k, sizeof k, "expires", &ls->id);
    expires = dbk_local_get_int(a->s->L, k, 0);
    end_key(k, sizeof k, "end_kind", &ls->id);
    (void)dbk_local_get_text(a->s->L, k, kind, sizeof kind);
    dbk_id_to_text(&ls->owner, owner);
    json_array_append_new(a->out, json_pack("{s:s, s:I, s:I, s:s}", "owner", owner,
                                            "expires_at", (json_int_t)expires, "ended_at",
                                            (json_int_t)ended, "ended",
                                            ended > 0 ? kind : ""));
}

int
dbk_sync_consents(dbk_session *s, json_t **out)
{
    struct consents_acc a = {s, json_array()};
    int rc = dbk_local_streams(s->L, consent_one, &a);
    if (rc != DBK_OK) {
        json_decref(a.out);
        a.out = NULL;
    }
    *out = a.out;
    return rc;
}

bool
dbk_sync_ends_recorded(dbk_session *s)
{
    return dbk_local_has_prefix(s->L, END_PREFIX);
}

int
dbk_sync_account_keys(dbk_session *s, const dbk_id *account, unsigned char sign_pk[32],
                      unsigned char box_pk[32])
{
    char t[DBK_ID_TEXT_LEN + 1], path[128];
    json_t *resp = NULL;
    long status;
    int rc;
    dbk_id_to_text(account, t);
    snprintf(path, sizeof path, "/v1/accounts/%s/keys", t);
    rc = dbk_net_call(s, "GET", path, NULL, true, &status, &resp);
    if (rc == DBK_OK && status != 200)
        rc = dbk_net_answer_err(resp);
    if (rc == DBK_OK && (rc = json_fixed(resp, "ed25519_pk", sign_pk, 32)) == DBK_OK)
        rc = json_fixed(resp, "x25519_pk", box_pk, 32);
    json_decref(resp);
    return rc;
}
