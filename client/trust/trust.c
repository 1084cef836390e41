/* What this device believes, and why; see trust.h. */
#include "trust.h"

#include "unlock.h"

#include "dbk/envelope.h"
#include "dbk/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- authorship ---- */

bool
dbk_trust_author_may_write(const dbk_id *owner, const dbk_id *author, const char *type)
{
    static const char *const by_grantee[] = {"note",       "checklist_def", "plan",
                                             "medication", "measure_schedule", "attendance",
                                             "referral",   "reviewed",      "tombstone",
                                             NULL};
    if (dbk_id_equal(owner, author))
        return true;
    for (size_t i = 0; type != NULL && by_grantee[i]; i++)
        if (strcmp(type, by_grantee[i]) == 0)
            return true;
    return false;
}

dbk_doc_kind
dbk_trust_doc_kind(const json_t *doc)
{
    const char *type = json_string_value(json_object_get(doc, "type"));
    if (!json_is_object(doc))
        return DBK_DOC_BAD;
    return type != NULL && strcmp(type, "head") == 0 ? DBK_DOC_HEAD : DBK_DOC_ENTRY;
}

/* ---- grants ---- */

/* The self-grant's consent says which of the account's streams this is. */
static int
self_grant_kind(dbk_session *s, const unsigned char *g, size_t len)
{
    unsigned char key[32];
    dbk_grant_hdr h;
    char *consent = NULL;
    int kind = 0;
    dbk_grant_expect e = {&s->account, s->keys->sign_pk, &s->account, s->keys->box_pk,
                          s->keys->box_sk, 0};
    if (dbk_grant_open(g, len, &e, &h, key, &consent) == DBK_OK) {
        json_t *c = json_loads(consent, 0, NULL);
        const char *k = json_string_value(json_object_get(c, "stream_kind"));
        kind = k == NULL ? 0 : strcmp(k, "private") == 0 ? DBK_LOCAL_PRIVATE
                           : strcmp(k, "shared") == 0    ? DBK_LOCAL_SHARED
                                                         : 0;
        json_decref(c);
    }
    sodium_memzero(key, sizeof key);
    free(consent);
    return kind;
}

/* Whether the stored grant for (stream, epoch) verifies with owner_pk (*held: its
 * header). */
static bool
held_grant_verifies(dbk_session *s, const dbk_grant_hdr *h, const unsigned char owner_pk[32],
                    const unsigned char *g, size_t len, bool *same, dbk_grant_hdr *held)
{
    unsigned char *have = NULL;
    size_t hlen;
    bool ok = false;
    *same = false;
    if (dbk_local_grant_get(s->L, &h->stream, h->epoch, &have, &hlen) != DBK_OK)
        return false;
    *same = hlen == len && memcmp(have, g, len) == 0;
    ok = dbk_grant_verify(have, hlen, owner_pk, held) == DBK_OK &&
         dbk_id_equal(&held->owner, &h->owner);
    free(have);
    return ok;
}

/* ---- signed ends (T8) ---- */

static void
word_key(const dbk_id *stream, char k[64])
{
    char t[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(stream, t);
    snprintf(k, 64, "owner_word:%s", t);
}

/* The kept word on stream: the newest grant's created_at and expires_at (0, 0: none). */
static void
word_get(dbk_session *s, const dbk_id *stream, int64_t *at, int64_t *ends)
{
    char k[64], v[64];
    long long a = 0, e = 0;
    word_key(stream, k);
    if (dbk_local_get_text(s->L, k, v, sizeof v) != DBK_OK || sscanf(v, "%lld %lld", &a, &e) != 2)
        a = e = 0;
    *at = a;
    *ends = e;
}

/* Keeps h (verified with its owner's key, to this account, from another account) as the
 * owner's newest word on this account's reading of the stream, if it is newer. */
static int
word_note(dbk_session *s, const dbk_grant_hdr *h)
{
    char k[64], v[64];
    int64_t at, ends;
    word_get(s, &h->stream, &at, &ends);
    if ((int64_t)h->created_at <= at)
        return DBK_OK;
    word_key(&h->stream, k);
    snprintf(v, sizeof v, "%lld %lld", (long long)h->created_at, (long long)h->expires_at);
    return dbk_local_put_text(s->L, k, v);
}

/* A grant that ends a moment after it was signed: an end, not a consent. */
static bool
is_end(int64_t created_at, int64_t expires_at)
{
    return expires_at > 0 && expires_at - created_at <= DBK_TRUST_END_MAX_MS;
}

int
dbk_trust_note_grant(dbk_session *s, const unsigned char *g, size_t len)
{
    unsigned char owner_pk[32];
    dbk_grant_hdr h;
    dbk_local_stream st;
    int rc;

    if (dbk_grant_parse(g, len, &h) != DBK_OK || !dbk_id_equal(&h.grantee, &s->account) ||
        dbk_id_equal(&h.owner, &s->account))
        return DBK_OK;
    if ((rc = dbk_trust_sign_pk(s, &h.owner, owner_pk)) != DBK_OK)
        return rc == DBK_E_NOT_FOUND ? DBK_OK : rc; /* no pin: nothing is believed */
    if (dbk_grant_verify(g, len, owner_pk, &h) != DBK_OK ||
        (dbk_local_stream_get(s->L, &h.stream, &st) == DBK_OK &&
         !dbk_id_equal(&st.owner, &h.owner)))
        return DBK_OK;
    return word_note(s, &h);
}

bool
dbk_trust_end_signed(dbk_session *s, const dbk_id *stream, int64_t *ends_ms)
{
    int64_t at, ends;
    word_get(s, stream, &at, &ends);
    *ends_ms = 0;
    if (ends <= 0 || (ends > (int64_t)time(NULL) * 1000 && !is_end(at, ends)))
        return false;
    *ends_ms = ends;
    return true;
}

int
dbk_trust_accept_grant(dbk_session *s, const unsigned char *g, size_t len, dbk_trust_report *r)
{
    unsigned char owner_pk[32];
    dbk_grant_hdr h;
    dbk_local_stream st;
    bool same, known;
    int rc;

    if ((rc = dbk_unlock(s)) != DBK_OK)
        return rc;
    if (dbk_grant_parse(g, len, &h) != DBK_OK || !dbk_id_equal(&h.grantee, &s->account)) {
        r->bad_grants++;
        return DBK_OK;
    }
    if ((rc = dbk_trust_sign_pk(s, &h.owner, owner_pk)) == DBK_E_NOT_FOUND) {
        r->bad_grants++; /* sync pins a client's key before its grants are looked at */
        return DBK_OK;
    }
    if (rc != DBK_OK)
        return rc; /* a pin that cannot be read */
    known = dbk_local_stream_get(s->L, &h.stream, &st) == DBK_OK;
    /* A stream this device knows as its own cannot change owner, and the reverse. */
    if (dbk_grant_verify(g, len, owner_pk, &h) != DBK_OK ||
        (known && !dbk_id_equal(&st.owner, &h.owner))) {
        r->bad_grants++;
        return DBK_OK;
    }
    if (!dbk_id_equal(&h.owner, &s->account) && (rc = word_note(s, &h)) != DBK_OK)
        return rc;
    dbk_grant_hdr held;
    if (held_grant_verifies(s, &h, owner_pk, g, len, &same, &held)) {
        /* Keep the one we hold; an owner's end signed after it is no swap (noted above). */
        if (!same && (dbk_id_equal(&h.owner, &s->account) || h.created_at <= held.created_at ||
                      !is_end((int64_t)h.created_at, (int64_t)h.expires_at)))
            r->replaced_grants++;
        return DBK_OK;
    }
    if ((rc = dbk_local_grant_put(s->L, &h.stream, h.epoch, g, len)) != DBK_OK)
        return rc;
    if (!known) {
        memset(&st, 0, sizeof st);
        st.id = h.stream;
        st.owner = h.owner;
        /* Another account's stream is a shared one; our own says its kind itself. */
        st.kind = dbk_id_equal(&h.owner, &s->account) ? self_grant_kind(s, g, len)
                                                      : DBK_LOCAL_SHARED;
        /* A self-grant from before stream_kind (0, unknown) takes the server's listing
         * once, in dbk_trust_stream_listed: the one case where the listing is used. */
        st.epoch = h.epoch;
        return dbk_local_stream_put(s->L, &st);
    }
    if (h.epoch > st.epoch) { /* only a verified grant raises the epoch, never lowers it */
        st.epoch = h.epoch;
        return dbk_local_stream_put(s->L, &st);
    }
    return DBK_OK;
}

void
dbk_trust_stream_listed(dbk_session *s, const dbk_id *stream, const char *kind, uint32_t epoch,
                        dbk_trust_report *r)
{
    dbk_local_stream st;
    if (dbk_local_stream_get(s->L, stream, &st) != DBK_OK)
        return;
    int listed = kind != NULL && strcmp(kind, "private") == 0 ? DBK_LOCAL_PRIVATE
                                                              : DBK_LOCAL_SHARED;
    if (st.kind == 0 && kind != NULL && dbk_id_equal(&st.owner, &s->account)) {
        st.kind = listed; /* an old self-grant that does not name its kind */
        dbk_local_stream_put(s->L, &st);
    } else if (kind != NULL && listed != st.kind) {
        r->kind_swaps++;
    }
    if (epoch < st.epoch)
        r->epoch_rollbacks++;
}

bool
dbk_trust_report_any(const dbk_trust_report *r)
{
    return r->bad_grants || r->replaced_grants || r->kind_swaps || r->epoch_rollbacks ||
           r->withheld || r->head_rollbacks;
}

/* ---- readers ---- */

struct readers_acc {
    dbk_session *s;
    const dbk_id *stream;
    json_t *latest; /* grantee id text -> true (a grant stands) / false (revoked, expired) */
    int64_t now_ms;
};

static void
reader_act(const dbk_local_act *a, void *arg)
{
    struct readers_acc *r = arg;
    char t[DBK_ID_TEXT_LEN + 1];
    dbk_grant_hdr h;
    if (!dbk_id_equal(&a->stream, r->stream) || dbk_id_equal(&a->grantee, &r->s->account))
        return;
    dbk_id_to_text(&a->grantee, t);
    if (a->kind == DBK_ACT_REVOKE || a->kind == DBK_ACT_END) {
        json_object_set_new(r->latest, t, json_false());
        return;
    }
    /* Only a grant this account's own key signed, to that grantee, counts. */
    if (a->kind != DBK_ACT_GRANT || a->grant == NULL ||
        dbk_grant_verify(a->grant, a->len, r->s->keys->sign_pk, &h) != DBK_OK ||
        !dbk_id_equal(&h.grantee, &a->grantee) || !dbk_id_equal(&h.stream, r->stream))
        return;
    json_object_set_new(r->latest, t,
                        json_boolean(h.expires_at == 0 || (int64_t)h.expires_at > r->now_ms));
}

int
dbk_trust_readers(dbk_session *s, const dbk_id *stream, const json_t *listed, const dbk_id *except,
                  dbk_trust_reader *out, size_t *n, size_t *skipped)
{
    struct readers_acc r = {s, stream, json_object(), (int64_t)time(NULL) * 1000};
    const char *k;
    json_t *v;
    size_t i;
    int rc;

    *n = *skipped = 0;
    if ((rc = dbk_unlock(s)) != DBK_OK || (rc = dbk_local_acts(s->L, false, reader_act, &r)) != DBK_OK) {
        json_decref(r.latest);
        return rc;
    }
    /* The listing adds only accounts this device has no act about. */
    json_array_foreach(listed, i, v) {
        const char *id = json_string_value(v);
        if (id != NULL && json_object_get(r.latest, id) == NULL)
            json_object_set_new(r.latest, id, json_integer(1));
    }
    json_object_foreach(r.latest, k, v) {
        unsigned char sign_pk[32];
        dbk_trust_reader *x = &out[*n];
        if (json_is_false(v) || dbk_id_from_text(&x->account, k, strlen(k)) != DBK_OK ||
            dbk_id_equal(&x->account, &s->account) ||
            (except != NULL && dbk_id_equal(&x->account, except)))
            continue;
        if (*n == DBK_TRUST_READERS_MAX ||
            (rc = dbk_trust_pinned(s, &x->account, sign_pk, x->box_pk)) == DBK_E_NOT_FOUND) {
            (*skipped)++;
            continue;
        }
        if (rc != DBK_OK) { /* a pin that cannot be read: said, never skipped quietly */
            json_decref(r.latest);
            return rc;
        }
        x->from_acts = json_is_true(v);
        (*n)++;
    }
    json_decref(r.latest);
    return DBK_OK;
}

json_t *
dbk_trust_self_consent(int kind, const char *when)
{
    return json_pack("{s:s, s:i, s:b, s:s, s:s, s:s}", "type", "consent", "v", 1, "self", 1,
                     "stream_kind", kind == DBK_LOCAL_PRIVATE ? "private" : "shared", "purpose",
                     "my own devices", "signed_at", when);
}

/* ---- sealed to this account ---- */

/*
 * doc as compact JSON with sorted keys, sealed (crypto_box_seal) to box_pk into
 * *sealed (free; *len bytes): only the holder of box_pk's secret key opens it. The
 * text is wiped once sealed.
 */
int
dbk_trust_seal_doc(const json_t *doc, const unsigned char box_pk[32], unsigned char **sealed,
                   size_t *len)
{
    char *text;
    size_t n;

    *sealed = NULL;
    if ((text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
        return DBK_E_NOMEM;
    n = strlen(text);
    if ((*sealed = malloc(n + crypto_box_SEALBYTES)) != NULL) {
        crypto_box_seal(*sealed, (const unsigned char *)text, n, box_pk);
        *len = n + crypto_box_SEALBYTES;
    }
    sodium_memzero(text, n);
    free(text);
    return *sealed != NULL ? DBK_OK : DBK_E_NOMEM;
}

/*
 * The JSON object sealed (dbk_trust_seal_doc) to this account's own X25519 key, opened
 * with s->keys (s unlocked) into *doc (new reference). DBK_E_CORRUPT when it does not
 * open or is not an object. The opened text is held in sodium_malloc memory and wiped.
 */
int
dbk_trust_open_doc(const dbk_session *s, const unsigned char *sealed, size_t len, json_t **doc)
{
    unsigned char *plain;
    size_t n;

    *doc = NULL;
    if (len <= crypto_box_SEALBYTES)
        return DBK_E_CORRUPT;
    n = len - crypto_box_SEALBYTES;
    if ((plain = sodium_malloc(n)) == NULL)
        return DBK_E_NOMEM;
    if (crypto_box_seal_open(plain, sealed, len, s->keys->box_pk, s->keys->box_sk) == 0)
        *doc = json_loadb((const char *)plain, n, 0, NULL);
    sodium_free(plain); /* wipes */
    if (!json_is_object(*doc)) {
        json_decref(*doc);
        *doc = NULL;
        return DBK_E_CORRUPT;
    }
    return DBK_OK;
}

/* ---- revisions pulled ---- */

/* The current revision of a record held here, for dbk_trust_revision_forged. */
struct current_rev {
    bool have;
    dbk_envelope_hdr hdr;
};

static void
on_current(const dbk_local_record *r, void *arg)
{
    struct current_rev *c = arg;
    if (r->current && !c->have)
        c->have = true, c->hdr = r->hdr;
}

bool
dbk_trust_revision_forged(dbk_session *s, const unsigned char *env, size_t len,
                          const dbk_envelope_hdr *h, const dbk_id *owner)
{
    struct current_rev c;
    unsigned char pk[32];
    int rc;

    memset(&c, 0, sizeof c);
    if (dbk_local_revisions(s->L, &h->record, on_current, &c) != DBK_OK)
        return true; /* cannot tell what it would replace: kept out, as unsure */
    if (!c.have || dbk_revision_cmp(&h->rev, &c.hdr.rev) <= 0)
        return false;
    /* The owner's own writing is replaced by the owner alone (T7): a grantee writes only
     * records it created, so another author here, signature or not, would take the
     * owner's entry out of every view. */
    if (dbk_id_equal(&c.hdr.author, owner) && !dbk_id_equal(&h->author, owner))
        return true;
    rc = dbk_trust_sign_pk(s, &h->author, pk);
    /* No key for its author: kept only as the current author's or the owner's (the
     * only accounts that write a record), and never over the owner's own writing. */
    if (rc == DBK_E_NOT_FOUND)
        return dbk_id_equal(&c.hdr.author, owner) ||
               !(dbk_id_equal(&h->author, &c.hdr.author) || dbk_id_equal(&h->author, owner));
    return rc != DBK_OK || dbk_envelope_verify(env, len, pk) != DBK_OK;
}
