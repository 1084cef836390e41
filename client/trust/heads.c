/* Stream heads (proto/TRUST.md T12): what the owner of a stream signs of how many
 * records it holds, and how a reader tells withheld records apart from none; see
 * trust.h. */
#include "trust.h"

#include "seal.h"
#include "stream_key.h"

#include "dbk/envelope.h"
#include "dbk/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- writing them, at sync ---- */

/* The streams a head is written for: the account's own. */
static const int own_kinds[] = {DBK_LOCAL_SHARED, DBK_LOCAL_PRIVATE};

struct written_here {
    const dbk_id *head;
    bool any;
};

static void
entry_pending(const dbk_local_record *r, void *arg)
{
    struct written_here *w = arg;
    w->any = w->any || !dbk_id_equal(&r->hdr.record, w->head);
}

/* Whether a record written here (not the head) waits to be pushed in stream. */
static int
written_here_waits(dbk_session *s, const dbk_id *stream, bool *waits)
{
    dbk_id head;
    struct written_here w = {&head, false};
    dbk_trust_head_id(stream, &head);
    int rc = dbk_local_pending_in(s->L, stream, entry_pending, &w);
    *waits = w.any;
    return rc;
}

struct pending_heads {
    const dbk_id *head;
    dbk_revision rev[4];
    size_t n;
};

static void
pending_head_cb(const dbk_local_record *r, void *arg)
{
    struct pending_heads *p = arg;
    if (dbk_id_equal(&r->hdr.record, p->head) && p->n < sizeof p->rev / sizeof p->rev[0])
        p->rev[p->n++] = r->hdr.rev;
}

/* Takes out of the outbox the head revisions of stream no server has acknowledged (the
 * first head, signed when the stream was made, before the first push): the new head
 * counts at least as much, and one head revision goes with a push, not two. */
static int
drop_pending_heads(dbk_session *s, const dbk_id *stream, const dbk_id *head)
{
    struct pending_heads p = {.head = head};
    int rc = dbk_local_pending_in(s->L, stream, pending_head_cb, &p);
    for (size_t i = 0; rc == DBK_OK && i < p.n; i++)
        if ((rc = dbk_local_revision_drop_pending(s->L, head, &p.rev[i])) == DBK_E_NOT_FOUND)
            rc = DBK_OK;
    return rc;
}

/* The counts of a stream that a head of another of this account's streams signs (the
 * private stream's head signs the shared stream's: proto/TRUST.md T12, "Counts of one's
 * other streams"); stream NULL: none. */
struct head_other {
    const dbk_id *stream;
    int64_t records, own;
};

/* A new revision of st's head counting records and own, and o's counts when o->stream is
 * set, sealed into st (read in the caller's write transaction). */
static int
seal_head(dbk_session *s, const dbk_local_stream *st, int64_t records, int64_t own,
          const struct head_other *o)
{
    char t[DBK_ID_TEXT_LEN + 1];
    dbk_id head;
    json_t *doc = json_pack("{s:s, s:i, s:I, s:I}", "type", "head", "v", 1, "records",
                            (json_int_t)records, "own", (json_int_t)own);
    if (doc != NULL && o != NULL && o->stream != NULL) {
        dbk_id_to_text(o->stream, t);
        json_t *other = json_pack("[{s:s, s:I, s:I}]", "stream", t, "records",
                                  (json_int_t)o->records, "own", (json_int_t)o->own);
        if (json_object_set_new(doc, "streams", other) != 0) {
            json_decref(doc);
            doc = NULL;
        }
    }
    if (doc == NULL)
        return DBK_E_NOMEM;
    dbk_trust_head_id(&st->id, &head);
    int rc = dbk_trust_seal_put(s, st, &head, true, doc, NULL);
    json_decref(doc);
    return rc;
}

/* The head of one of this account's own streams (st, read in the caller's write
 * transaction), when a record written here waits to be pushed there (or in other, the
 * stream whose counts it signs too: NULL for none) and the stream holds more record ids
 * than the last head written, or other more than that head signed of it. */
static int
write_head(dbk_session *s, const dbk_local_stream *st, const dbk_local_stream *other)
{
    const dbk_id *stream = &st->id;
    struct head_other o = {NULL, 0, 0};
    char k[64];
    dbk_id head;
    int64_t count, own;
    bool waits, due;
    int rc;

    if ((rc = written_here_waits(s, stream, &waits)) != DBK_OK ||
        (!waits && other != NULL && (rc = written_here_waits(s, &other->id, &waits)) != DBK_OK) ||
        !waits)
        return rc;
    dbk_trust_head_id(stream, &head);
    due = dbk_trust_head_due(s, stream, &count, &own);
    if (other != NULL) {
        dbk_id oh;
        dbk_trust_head_id(&other->id, &oh);
        head_key(k, "head_signed_of", &other->id);
        o.stream = &other->id;
        o.records = dbk_local_record_count(s->L, &other->id, &oh);
        o.own = dbk_local_authored_count(s->L, &other->id, &oh, &s->account);
        if (o.records < 0 || o.own < 0)
            return DBK_E_IO;
        if (!due && o.records > dbk_local_get_int(s->L, k, 0)) {
            count = dbk_local_record_count(s->L, stream, &head);
            own = dbk_local_authored_count(s->L, stream, &head, &s->account);
            if (count < 0 || own < 0)
                return DBK_E_IO;
            due = true;
        }
    }
    if (!due)
        return rc;
    if ((rc = drop_pending_heads(s, stream, &head)) != DBK_OK ||
        (rc = seal_head(s, st, count, own, &o)) != DBK_OK ||
        (rc = dbk_trust_head_written(s, stream, count)) != DBK_OK)
        return rc;
    return other == NULL ? DBK_OK : dbk_local_put_int(s->L, k, o.records);
}

int
dbk_trust_head_first(dbk_session *s, const dbk_local_stream *st)
{
    return seal_head(s, st, 0, 0, NULL);
}

/* This account's own streams read: the walk over their kinds, written once, that
 * dbk_trust_own_streams, dbk_trust_own_missing and dbk_trust_heads_pending each make: each
 * kind held (own->has_*) or not, and what reading it answered (DBK_E_NOT_FOUND: none
 * held here). */
struct own_read {
    dbk_trust_own own;
    int shared_rc, priv_rc;
};

static void
own_read(dbk_session *s, struct own_read *o)
{
    for (size_t i = 0; i < sizeof own_kinds / sizeof own_kinds[0]; i++) {
        bool shared = own_kinds[i] == DBK_LOCAL_SHARED;
        dbk_local_stream *st = shared ? &o->own.shared : &o->own.priv;
        int rc = dbk_local_stream_of(s->L, &s->account, own_kinds[i], st);
        *(shared ? &o->own.has_shared : &o->own.has_priv) = rc == DBK_OK;
        *(shared ? &o->shared_rc : &o->priv_rc) = rc;
    }
}

bool
dbk_trust_heads_pending(dbk_session *s)
{
    struct own_read o;
    bool waits = false;
    own_read(s, &o);
    /* A store that cannot be read says yes: a pull too many, never a head too low. */
    if (o.own.has_shared && (written_here_waits(s, &o.own.shared.id, &waits) != DBK_OK || waits))
        return true;
    return o.own.has_priv && (written_here_waits(s, &o.own.priv.id, &waits) != DBK_OK || waits);
}

size_t
dbk_trust_own_missing(dbk_session *s)
{
    struct own_read o;
    own_read(s, &o);
    /* A counselor's account has no shared stream of its own (cmd_init). */
    return (size_t)(s->role == DBK_ROLE_CLIENT && o.shared_rc == DBK_E_NOT_FOUND) +
           (size_t)(o.priv_rc == DBK_E_NOT_FOUND);
}

int
dbk_trust_own_streams(dbk_session *s, dbk_trust_own *own)
{
    struct own_read o;
    own_read(s, &o);
    *own = o.own;
    if (o.shared_rc != DBK_OK && o.shared_rc != DBK_E_NOT_FOUND)
        return o.shared_rc;
    return o.priv_rc == DBK_E_NOT_FOUND ? DBK_OK : o.priv_rc;
}

int
dbk_trust_heads_write(dbk_session *s, const dbk_trust_own *own)
{
    int rc = DBK_OK;
    /* The shared stream's head, then the private one's, which signs the shared stream's
     * counts too: only the account reads it, and a device of the account that holds
     * none of its shared records learns there how many there are. */
    if (own->has_shared)
        rc = write_head(s, &own->shared, NULL);
    if (rc == DBK_OK && own->has_priv)
        rc = write_head(s, &own->priv, own->has_shared ? &own->shared : NULL);
    return rc;
}

void
dbk_trust_head_held(dbk_session *s, const dbk_trust_own *own, dbk_id *head, bool *hold)
{
    *hold = false;
    if (!own->has_priv || !own->has_shared)
        return; /* no private head signing another stream's counts */
    dbk_trust_head_id(&own->priv.id, head);
    if (written_here_waits(s, &own->shared.id, hold) != DBK_OK)
        *hold = true; /* a store that cannot be read holds it back: a round too many */
}

/* ---- reading them ---- */

struct head_acc {
    dbk_session *s;
    const dbk_id *stream, *owner, *head;
    const dbk_id *target; /* the stream counted: stream, or one whose counts its head signs */
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
    json_t *counts = doc, *o;
    if (!dbk_id_equal(a->target, a->stream)) {
        /* Another stream's counts, as this head signs them ("streams"). */
        char t[DBK_ID_TEXT_LEN + 1];
        size_t i;
        dbk_id_to_text(a->target, t);
        counts = NULL;
        json_t *all = json_object_get(doc, "streams");
        for (i = 0; i < json_array_size(all); i++) {
            o = json_array_get(all, i);
            if (json_is_string(json_object_get(o, "stream")) &&
                strcmp(json_string_value(json_object_get(o, "stream")), t) == 0)
                counts = o;
        }
    }
    json_t *n = json_object_get(counts, "records"), *own = json_object_get(counts, "own");
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

/* Of one of this account's own streams (a->target), the counts the head of its private
 * stream signs too (seal_head's "streams"), taken into a's: a server that serves the
 * shared stream as it was when made, its first head counting 0, while the private
 * stream's head counts more, withholds them. Any other stream: nothing. */
static int
own_counts_elsewhere(dbk_session *s, struct head_acc *a)
{
    dbk_local_stream p;
    dbk_id ph;
    int rc;

    if (!dbk_id_equal(a->owner, &s->account))
        return DBK_OK;
    if ((rc = dbk_local_stream_of(s->L, &s->account, DBK_LOCAL_PRIVATE, &p)) != DBK_OK)
        return rc == DBK_E_NOT_FOUND ? DBK_OK : rc;
    if (dbk_id_equal(&p.id, a->target))
        return DBK_OK;
    dbk_trust_head_id(&p.id, &ph);
    struct head_acc b = *a;
    b.stream = &p.id;
    b.head = &ph;
    /* A count of 0 is taken from the stream's own head alone: signed here, it tells no
     * more than the first head does (that the stream was made), and adds no doubt. */
    if ((rc = dbk_local_revisions(s->L, &ph, head_one, &b)) == DBK_OK && b.best > 0) {
        a->best = b.best;
        a->best_own = b.best_own;
    }
    return rc;
}

/* The greatest of best and the value kept under what for stream (-1: none), kept as the
 * new high-water mark; *rollback is set when best is below what was kept. The check
 * stands on best alone when the mark cannot be kept because the profile is read-only:
 * best comes from a signature checked in this run, and a later writable run keeps it.
 * Any other failure to keep it (a busy or full profile) is the check's: a mark not
 * kept is a rollback the next check cannot see. */
static int
high_water(dbk_session *s, const char *what, const dbk_id *stream, int64_t best, int64_t *claimed,
           bool *rollback)
{
    char k[64], kept[24];
    head_key(k, what, stream);
    int64_t seen = -1; /* none kept; a mark that cannot be read fails the check */
    int rc = dbk_local_get_text(s->L, k, kept, sizeof kept);
    if (rc == DBK_OK)
        seen = strtoll(kept, NULL, 10);
    else if (rc != DBK_E_NOT_FOUND)
        return rc;
    if (best > seen) {
        rc = dbk_local_put_int(s->L, k, best);
        *claimed = best;
        return rc != DBK_OK && dbk_local_read_only(s->L) ? DBK_OK : rc;
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
 * nor can one that holds no head: heads_unknown when it holds records (or saw a head
 * once), heads_none when it holds nothing of another's stream and never saw its head
 * count more than 0 (the first head, served again, hides what followed), own_none the same of one
 * of this account's own streams on a device that 'daybook login' made (the device that made a
 * stream holds its first head, written then).
 */
int
dbk_trust_stream_head(dbk_session *s, const dbk_id *stream, const dbk_id *owner, uint32_t epoch,
                      dbk_trust_report *r)
{
    dbk_id head;
    unsigned char key[32];
    struct head_acc a = {.s = s,
                         .stream = stream,
                         .owner = owner,
                         .head = &head,
                         .target = stream,
                         .best = -1,
                         .best_own = -1};
    bool all_epochs = true, rollback = false;
    int64_t claimed, claimed_own;
    int rc;

    dbk_trust_head_id(stream, &head);
    int64_t held = dbk_local_record_count(s->L, stream, &head);
    if (held < 0)
        return DBK_E_IO;
    if ((rc = dbk_trust_sign_pk(s, owner, a.owner_pk)) == DBK_E_NOT_FOUND)
        a.best = -2; /* no key to check the owner's signature with */
    else if (rc != DBK_OK)
        return rc; /* a pin that cannot be read: the check did not run, never "cannot tell" */
    if (a.best == -1 && (rc = dbk_local_revisions(s->L, &head, head_one, &a)) != DBK_OK)
        return rc;
    if (a.best >= -1 && (rc = own_counts_elsewhere(s, &a)) != DBK_OK)
        return rc;
    if ((rc = high_water(s, "head_seen", stream, a.best, &claimed, &rollback)) != DBK_OK ||
        (rc = high_water(s, "head_seen_own", stream, a.best_own, &claimed_own, &rollback)) !=
            DBK_OK)
        return rc;
    for (uint32_t e = 1; e <= epoch && all_epochs; e++)
        all_epochs = dbk_stream_key(s, stream, e, key) == DBK_OK;
    sodium_memzero(key, sizeof key);
    r->head_rollbacks += rollback;
    /* Another account's stream of which nothing is held and no count above 0 was ever
     * signed: its first head (dbk_trust_head_first, records 0) proves the stream was
     * made, not that it stayed empty; a server can serve it again and withhold all
     * that followed, so it tells no more than no head at all ("cannot tell"). */
    if (held == 0 && claimed == 0 && all_epochs && !dbk_id_equal(owner, &s->account)) {
        r->heads_none++;
        return DBK_OK;
    }
    if (claimed < 0 || !all_epochs) {
        /* Nothing held and no head ever seen: an honest empty stream and one withheld
         * whole look the same, so it is counted apart (heads_none), not as "nothing
         * withheld". One's own too on a device that joined by login: the device that
         * made the stream signed its first head then (dbk_trust_head_first), so an
         * account that wrote nothing has a head to see; a profile made before first
         * heads (no "joined_by_login" mark) is left out, as before. */
        if (held > 0 || claimed >= 0)
            r->heads_unknown++;
        else if (!dbk_id_equal(owner, &s->account))
            r->heads_none++;
        else if (dbk_local_get_int(s->L, "joined_by_login", 0) != 0)
            r->own_none++;
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
