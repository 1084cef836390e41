/* What this device believes, and why; see trust.h. */
#include "trust.h"

#include "stream_key.h"
#include "unlock.h"

#include "dbk/base64.h"
#include "dbk/envelope.h"

#include "dbk/error.h"
#include "dbk/fingerprint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- pins ---- */

static void
pin_keys(const dbk_id *account, char sign[64], char box[64])
{
    char t[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(account, t);
    snprintf(sign, 64, "sign_pk:%s", t); /* the name the stores already read */
    snprintf(box, 64, "box_pk:%s", t);
}

int
dbk_trust_pinned(dbk_session *s, const dbk_id *account, unsigned char sign_pk[32],
                 unsigned char box_pk[32])
{
    char sk[64], bk[64];
    size_t n;
    pin_keys(account, sk, bk);
    if (dbk_local_get(s->L, sk, sign_pk, 32, &n) != DBK_OK || n != 32)
        return DBK_E_NOT_FOUND;
    if (box_pk != NULL && (dbk_local_get(s->L, bk, box_pk, 32, &n) != DBK_OK || n != 32))
        return DBK_E_NOT_FOUND;
    return DBK_OK;
}

int
dbk_trust_pin(dbk_session *s, const dbk_id *account, const unsigned char sign_pk[32],
              const unsigned char box_pk[32])
{
    unsigned char have_s[32], have_b[32];
    char sk[64], bk[64];
    size_t n;
    int rc;
    pin_keys(account, sk, bk);
    if (dbk_local_get(s->L, sk, have_s, 32, &n) == DBK_OK &&
        (n != 32 || sodium_memcmp(have_s, sign_pk, 32) != 0))
        return DBK_E_FINGERPRINT;
    if (dbk_local_get(s->L, bk, have_b, 32, &n) == DBK_OK &&
        (n != 32 || sodium_memcmp(have_b, box_pk, 32) != 0))
        return DBK_E_FINGERPRINT;
    if ((rc = dbk_local_put(s->L, sk, sign_pk, 32)) != DBK_OK)
        return rc;
    return dbk_local_put(s->L, bk, box_pk, 32);
}

int
dbk_trust_pin_first_use(dbk_session *s, const dbk_id *account, const unsigned char sign_pk[32])
{
    unsigned char have[32];
    char sk[64], bk[64];
    pin_keys(account, sk, bk);
    if (dbk_trust_pinned(s, account, have, NULL) == DBK_OK)
        return sodium_memcmp(have, sign_pk, 32) == 0 ? DBK_OK : DBK_E_FINGERPRINT;
    return dbk_local_put(s->L, sk, sign_pk, 32);
}

/* The keys this device pinned for account, believed for a link only if they match
 * its fingerprint fp: DBK_E_NOT_FOUND when none are pinned, DBK_E_FINGERPRINT when
 * they do not match. */
int
dbk_trust_pinned_matches(dbk_session *s, const dbk_id *account, const char *fp,
                         unsigned char sign_pk[32], unsigned char box_pk[32])
{
    int rc = dbk_trust_pinned(s, account, sign_pk, box_pk);
    return rc != DBK_OK ? rc : dbk_fingerprint_check(fp, strlen(fp), account, sign_pk, box_pk);
}

/* Whether the keys the server lists for account (listed_sign, listed_box) are the ones
 * pinned: DBK_OK when they are, DBK_E_FINGERPRINT when either differs (the pins are
 * kept, nothing changes), DBK_E_NOT_FOUND when the two are not both pinned. */
int
dbk_trust_listed_keys(dbk_session *s, const dbk_id *account, const unsigned char listed_sign[32],
                      const unsigned char listed_box[32])
{
    unsigned char pin_s[32], pin_b[32];

    if (dbk_trust_pinned(s, account, pin_s, pin_b) != DBK_OK)
        return DBK_E_NOT_FOUND;
    return sodium_memcmp(pin_s, listed_sign, 32) == 0 && sodium_memcmp(pin_b, listed_box, 32) == 0
               ? DBK_OK
               : DBK_E_FINGERPRINT;
}

/*
 * The keys of other to compare a safety number with, given the keys the server lists
 * now (listed_sign, listed_box; NULL when it could not be asked): the pinned ones, and
 * *changed when the listed ones differ. Keys not both pinned yet are pinned from the
 * listing on first use (a counselor learning a client's X25519 key; its identity key
 * was pinned on first sight by sync), unless the listing names another identity key
 * than the pinned one: then *changed, nothing is pinned, and the pinned identity key is
 * given with the listed X25519 key. DBK_E_NOT_FOUND when none are pinned and none listed.
 */
int
dbk_trust_verify_keys(dbk_session *s, const dbk_id *other, const unsigned char *listed_sign,
                      const unsigned char *listed_box, unsigned char sign_pk[32],
                      unsigned char box_pk[32], bool *changed)
{
    int rc;

    *changed = false;
    if (dbk_trust_pinned(s, other, sign_pk, box_pk) == DBK_OK) {
        *changed = listed_sign != NULL &&
                   dbk_trust_listed_keys(s, other, listed_sign, listed_box) != DBK_OK;
        return DBK_OK;
    }
    if (listed_sign == NULL)
        return DBK_E_NOT_FOUND;
    if (dbk_trust_pinned(s, other, sign_pk, NULL) == DBK_OK &&
        sodium_memcmp(sign_pk, listed_sign, 32) != 0) {
        memcpy(box_pk, listed_box, 32);
        *changed = true;
        return DBK_OK;
    }
    if ((rc = dbk_trust_pin(s, other, listed_sign, listed_box)) != DBK_OK)
        return rc;
    memcpy(sign_pk, listed_sign, 32);
    memcpy(box_pk, listed_box, 32);
    return DBK_OK;
}

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

/* ---- safety numbers ---- */

static void
confirm_key(const dbk_id *account, char out[64])
{
    char t[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(account, t);
    snprintf(out, 64, "confirmed:%s", t);
}

int
dbk_trust_confirm(dbk_session *s, const dbk_id *account)
{
    unsigned char sign_pk[32], box_pk[32], fp[DBK_FP_BYTES];
    char k[64];
    int rc;
    if ((rc = dbk_trust_pinned(s, account, sign_pk, box_pk)) != DBK_OK)
        return rc;
    dbk_fingerprint(fp, account, sign_pk, box_pk);
    confirm_key(account, k);
    return dbk_local_put(s->L, k, fp, sizeof fp);
}

bool
dbk_trust_confirmed(dbk_session *s, const dbk_id *account)
{
    unsigned char sign_pk[32], box_pk[32], fp[DBK_FP_BYTES], have[DBK_FP_BYTES];
    char k[64];
    size_t n;
    if (dbk_trust_pinned(s, account, sign_pk, box_pk) != DBK_OK)
        return false;
    dbk_fingerprint(fp, account, sign_pk, box_pk);
    confirm_key(account, k);
    return dbk_local_get(s->L, k, have, sizeof have, &n) == DBK_OK && n == sizeof have &&
           sodium_memcmp(have, fp, sizeof fp) == 0;
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

/* Whether the stored grant for (stream, epoch) verifies with owner_pk. */
static bool
held_grant_verifies(dbk_session *s, const dbk_grant_hdr *h, const unsigned char owner_pk[32],
                    const unsigned char *g, size_t len, bool *same)
{
    unsigned char *have = NULL;
    size_t hlen;
    dbk_grant_hdr hh;
    bool ok = false;
    *same = false;
    if (dbk_local_grant_get(s->L, &h->stream, h->epoch, &have, &hlen) != DBK_OK)
        return false;
    *same = hlen == len && memcmp(have, g, len) == 0;
    ok = dbk_grant_verify(have, hlen, owner_pk, &hh) == DBK_OK && dbk_id_equal(&hh.owner, &h->owner);
    free(have);
    return ok;
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
    if (dbk_id_equal(&h.owner, &s->account))
        memcpy(owner_pk, s->keys->sign_pk, 32);
    else if (dbk_trust_pinned(s, &h.owner, owner_pk, NULL) != DBK_OK) {
        r->bad_grants++; /* sync pins a client's key before its grants are looked at */
        return DBK_OK;
    }
    known = dbk_local_stream_get(s->L, &h.stream, &st) == DBK_OK;
    /* A stream this device knows as its own cannot change owner, and the reverse. */
    if (dbk_grant_verify(g, len, owner_pk, &h) != DBK_OK ||
        (known && !dbk_id_equal(&st.owner, &h.owner))) {
        r->bad_grants++;
        return DBK_OK;
    }
    if (held_grant_verifies(s, &h, owner_pk, g, len, &same)) {
        if (!same)
            r->replaced_grants++; /* keep the one we hold */
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

/* ---- stream heads (T12) ---- */

void
dbk_trust_head_id(const dbk_id *stream, dbk_id *out)
{
    static const char label[] = "daybook/v1/stream-head";
    unsigned char in[sizeof label + 16];
    memcpy(in, label, sizeof label); /* with its NUL */
    memcpy(in + sizeof label, stream->b, 16);
    crypto_generichash(out->b, 16, in, sizeof in, NULL, 0);
}

static void
head_key(char out[64], const char *what, const dbk_id *stream)
{
    char t[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(stream, t);
    snprintf(out, 64, "%s:%s", what, t);
}

bool
dbk_trust_head_due(dbk_session *s, const dbk_id *stream, int64_t *count, int64_t *own)
{
    char k[64];
    dbk_id head;
    dbk_trust_head_id(stream, &head);
    head_key(k, "head_signed", stream);
    *count = dbk_local_record_count(s->L, stream, &head);
    if (*count <= dbk_local_get_int(s->L, k, 0))
        return false;
    *own = dbk_local_authored_count(s->L, stream, &head, &s->account);
    return *own >= 0;
}

int
dbk_trust_head_written(dbk_session *s, const dbk_id *stream, int64_t count)
{
    char k[64];
    head_key(k, "head_signed", stream);
    return dbk_local_put_int(s->L, k, count);
}

struct head_acc {
    dbk_session *s;
    const dbk_id *stream, *owner, *head;
    unsigned char owner_pk[32];
    int64_t best;     /* the greatest count among the head's revisions that verify */
    int64_t best_own; /* the greatest "own" among them (-1: none carries it) */
};

static void
head_one(const dbk_local_record *rec, void *arg)
{
    struct head_acc *a = arg;
    dbk_envelope_hdr h;
    unsigned char key[32], *plain = NULL;
    size_t plen;
    if (dbk_envelope_parse(rec->env, rec->len, &h) != DBK_OK ||
        !dbk_id_equal(&h.author, a->owner) ||
        dbk_stream_key(a->s, a->stream, h.epoch, key) != DBK_OK)
        return;
    dbk_envelope_expect exp = {.stream = a->stream, .record = a->head, .epoch = h.epoch,
                               .author = a->owner, .author_pk = a->owner_pk};
    int rc = dbk_envelope_open(rec->env, rec->len, &exp, key, &plain, &plen);
    sodium_memzero(key, sizeof key);
    if (rc != DBK_OK)
        return;
    json_t *doc = json_loadb((const char *)plain, plen, 0, NULL);
    dbk_plaintext_free(plain, plen);
    json_t *n = json_object_get(doc, "records"), *own = json_object_get(doc, "own");
    if (json_is_string(json_object_get(doc, "type")) &&
        strcmp(json_string_value(json_object_get(doc, "type")), "head") == 0 &&
        json_is_integer(n)) {
        if (json_integer_value(n) > a->best)
            a->best = json_integer_value(n);
        if (json_is_integer(own) && json_integer_value(own) > a->best_own)
            a->best_own = json_integer_value(own);
    }
    json_decref(doc);
}

/* The greatest of best and the value kept under what for stream (-1: none), kept as the
 * new high-water mark; *rollback is set when best is below what was kept. */
static int
high_water(dbk_session *s, const char *what, const dbk_id *stream, int64_t best, int64_t *claimed,
           bool *rollback)
{
    char k[64];
    head_key(k, what, stream);
    int64_t seen = dbk_local_get_int(s->L, k, -1);
    if (best > seen) {
        *claimed = best;
        return dbk_local_put_int(s->L, k, best);
    }
    *claimed = seen;
    *rollback = *rollback || (best >= 0 && best < seen);
    return DBK_OK;
}

/*
 * Compares what this device holds of stream with the greatest counts its owner signed
 * (in any revision of the head held here, or seen by an earlier sync: counts never
 * fall, so a server handing back an older head is caught too): every record id
 * ("records"), and those whose current revision the owner wrote ("own", heads written
 * since it existed), for records another writer added (a counselor's reviewed record)
 * may fill a gap in the first count. A reader without the key of every epoch up to the
 * stream's does not receive records of the others (README section 11) and cannot tell;
 * nor can one that holds no head.
 */
int
dbk_trust_stream_head(dbk_session *s, const dbk_id *stream, const dbk_id *owner, uint32_t epoch,
                      dbk_trust_report *r)
{
    dbk_id head;
    unsigned char key[32];
    struct head_acc a = {
        .s = s, .stream = stream, .owner = owner, .head = &head, .best = -1, .best_own = -1};
    bool all_epochs = true, rollback = false;
    int64_t claimed, claimed_own;
    int rc;

    dbk_trust_head_id(stream, &head);
    int64_t held = dbk_local_record_count(s->L, stream, &head);
    if (held < 0)
        return DBK_E_IO;
    if (dbk_id_equal(owner, &s->account))
        memcpy(a.owner_pk, s->keys->sign_pk, 32);
    else if (dbk_trust_pinned(s, owner, a.owner_pk, NULL) != DBK_OK)
        a.best = -2; /* no key to check the owner's signature with */
    if (a.best == -1 && (rc = dbk_local_revisions(s->L, &head, head_one, &a)) != DBK_OK)
        return rc;
    if ((rc = high_water(s, "head_seen", stream, a.best, &claimed, &rollback)) != DBK_OK ||
        (rc = high_water(s, "head_seen_own", stream, a.best_own, &claimed_own, &rollback)) !=
            DBK_OK)
        return rc;
    for (uint32_t e = 1; e <= epoch && all_epochs; e++)
        all_epochs = dbk_stream_key(s, stream, e, key) == DBK_OK;
    sodium_memzero(key, sizeof key);
    r->head_rollbacks += rollback;
    if (claimed < 0 || !all_epochs) {
        r->heads_unknown += held > 0;
        return DBK_OK;
    }
    int64_t missing = claimed - held;
    if (claimed_own > 0) {
        /* Counted from the envelopes' clear headers, nothing opened: a record a server
         * forged in the owner's name fills this count, and the review counts it as
         * one that did not open. */
        int64_t held_own = dbk_local_authored_count(s->L, stream, &head, owner);
        if (held_own < 0)
            return DBK_E_IO;
        if (claimed_own - held_own > missing)
            missing = claimed_own - held_own;
    }
    if (missing > 0)
        r->withheld += (size_t)missing;
    return DBK_OK;
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
    if (a->kind == DBK_ACT_REVOKE) {
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
            dbk_trust_pinned(s, &x->account, sign_pk, x->box_pk) != DBK_OK) {
            (*skipped)++;
            continue;
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

/* ---- a new account ---- */

/*
 * A new stream of this account of kind (DBK_LOCAL_*) into st: a random id and a
 * random key at epoch 1, held only in the self-grant *g (free; proto/README.md
 * section 8) whose consent names the kind, so a second device learns the kind from
 * this signature, never from the server's listing (trust/trust.h). The key is wiped.
 */
int
dbk_trust_new_stream(const dbk_session *s, int kind, const char *when, dbk_local_stream *st,
                     unsigned char **g, size_t *len)
{
    unsigned char key[32];
    char *consent;
    int rc;

    *g = NULL;
    json_t *c = dbk_trust_self_consent(kind, when);
    consent = c ? json_dumps(c, JSON_COMPACT) : NULL;
    json_decref(c);
    if (consent == NULL)
        return DBK_E_NOMEM;
    memset(st, 0, sizeof *st);
    st->owner = s->account;
    st->kind = kind;
    st->epoch = 1;
    dbk_id_random(&st->id);
    randombytes_buf(key, sizeof key);
    dbk_grant_hdr h = {.stream = st->id, .epoch = 1, .owner = s->account,
                       .grantee = s->account, .created_at = dbk_hlc_wall_ms()};
    rc = dbk_grant_seal(&h, key, consent, strlen(consent), s->keys->box_pk, s->keys->sign_sk,
                        g, len);
    sodium_memzero(key, sizeof key);
    free(consent);
    return rc;
}

/*
 * The first key bundle of a new account (s->account set): its keys made into s->keys,
 * fresh KDF parameters, the passphrase's keys derived into *pass_keys (free with
 * dbk_pass_keys_free; its login key is the one the server will be told) and the
 * account keys sealed under them into bundle at generation 1. Stores nothing.
 */
int
dbk_trust_first_bundle(dbk_session *s, const char *pass, unsigned char bundle[DBK_BUNDLE_BYTES],
                       dbk_pass_keys **pass_keys)
{
    dbk_kdf_params kp;
    int rc;

    *pass_keys = NULL;
    if ((s->keys = dbk_account_keys_new()) == NULL)
        return DBK_E_NOMEM;
    dbk_kdf_params_new(&kp);
    if ((rc = dbk_pass_keys_derive(pass, strlen(pass), &kp, pass_keys)) != DBK_OK)
        return rc;
    return dbk_bundle_seal(bundle, &s->account, s->keys, *pass_keys, &kp, 1, NULL);
}

/* ---- login ---- */

int
dbk_trust_login_server(dbk_session *s, const dbk_kdf_params *p, int alg, const dbk_id *server_id)
{
    int rc = dbk_kdf_check(p->opslimit, p->memlimit, alg);
    if (rc != DBK_OK)
        return rc; /* kdf_too_weak: a downgrade is refused, not obeyed */
    if (!dbk_id_is_zero(&s->server_id) && !dbk_id_equal(server_id, &s->server_id))
        return DBK_E_FINGERPRINT; /* another server answers at this address */
    s->server_id = *server_id;
    return DBK_OK;
}

int
dbk_trust_account_bundle(dbk_session *s, const unsigned char *bundle, size_t len,
                         const unsigned char listed_sign_pk[32], const char *pass)
{
    int rc = dbk_bundle_open(bundle, len, &s->account, pass, strlen(pass), &s->keys, NULL);
    if (rc == DBK_OK && sodium_memcmp(listed_sign_pk, s->keys->sign_pk, 32) != 0)
        rc = DBK_E_CORRUPT; /* the bundle is not this account's */
    return rc;
}

int
dbk_trust_login_answer(dbk_session *s, const char *pass, const dbk_kdf_params *kdf, int kdf_alg,
                       const dbk_id *server_id, const unsigned char ch[32],
                       dbk_pass_keys **pass_keys, unsigned char sig[64])
{
    int rc;

    *pass_keys = NULL;
    if ((rc = dbk_trust_login_server(s, kdf, kdf_alg, server_id)) != DBK_OK)
        return rc;
    if ((rc = dbk_pass_keys_derive(pass, strlen(pass), kdf, pass_keys)) != DBK_OK)
        return rc;
    dbk_login_sign(sig, *pass_keys, &s->server_id, &s->account, ch, &s->device);
    return DBK_OK;
}

int
dbk_trust_passphrase_open(dbk_session *s, const char *pass,
                          unsigned char bundle[DBK_BUNDLE_BYTES], uint32_t *gen)
{
    dbk_kdf_params kp;
    size_t n;
    int rc;

    if ((rc = dbk_local_get(s->L, "bundle", bundle, DBK_BUNDLE_BYTES, &n)) != DBK_OK ||
        (rc = dbk_bundle_open(bundle, n, &s->account, pass, strlen(pass), &s->keys, NULL)) !=
            DBK_OK)
        return rc;
    return dbk_bundle_params(bundle, n, &kp, gen);
}

int
dbk_trust_passphrase_reseal(dbk_session *s, const char *newpass, uint32_t gen,
                            unsigned char bundle[DBK_BUNDLE_BYTES], dbk_pass_keys **pass_keys)
{
    dbk_kdf_params kp;
    int rc;

    dbk_kdf_params_new(&kp);
    if ((rc = dbk_pass_keys_derive(newpass, strlen(newpass), &kp, pass_keys)) != DBK_OK)
        return rc;
    return dbk_bundle_seal(bundle, &s->account, s->keys, *pass_keys, &kp, gen + 1, NULL);
}

int
dbk_trust_enrolled_counselor(const json_t *c, const char *link_counselor, const char *fp,
                             dbk_id *counselor, unsigned char sign_pk[32],
                             unsigned char box_pk[32])
{
    const char *cid = json_string_value(json_object_get(c, "account"));
    const char *spk = json_string_value(json_object_get(c, "ed25519_pk"));
    const char *bpk = json_string_value(json_object_get(c, "x25519_pk"));

    if (cid == NULL || spk == NULL || bpk == NULL ||
        dbk_id_from_text(counselor, cid, strlen(cid)) != DBK_OK ||
        strcmp(cid, link_counselor) != 0 ||
        dbk_b64_decode_exact(sign_pk, 32, spk, strlen(spk)) != DBK_OK ||
        dbk_b64_decode_exact(box_pk, 32, bpk, strlen(bpk)) != DBK_OK ||
        dbk_fingerprint_check(fp, strlen(fp), counselor, sign_pk, box_pk) != DBK_OK)
        return DBK_E_FINGERPRINT;
    return DBK_OK;
}

void
dbk_trust_safety_number(const dbk_session *s, const dbk_id *other,
                        const unsigned char sign_pk[32], const unsigned char box_pk[32],
                        char sn[DBK_SAFETY_NUMBER_LEN + 1])
{
    char mine[DBK_SAFETY_DIGITS + 1], theirs[DBK_SAFETY_DIGITS + 1];

    dbk_safety_digits(mine, &s->account, s->keys->sign_pk, s->keys->box_pk);
    dbk_safety_digits(theirs, other, sign_pk, box_pk);
    dbk_safety_number(sn, mine, theirs);
}
