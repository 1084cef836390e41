/*
 * Rules every backend follows, kept in one place so SQLite and PostgreSQL cannot
 * disagree: what a push does with each item, how much one pull gives, and the
 * audit chain's hash and its check. The backends do the I/O around these.
 *
 * The pull cursor. A puller asks for "seq > since" and moves since to the last seq
 * it was given, so it must never be given seq N+1 while a seq <= N of the same
 * stream can still appear. Each backend guarantees it the same way: a push takes
 * the stream's row (its `seq` counter) for the rest of its transaction, so the
 * sequence numbers of a stream are handed out and committed in the same order. In
 * SQLite that is the one writer; in PostgreSQL it is the row lock of SELECT ... FOR
 * UPDATE on the streams row (store/pg/store_pg.c). docs/DESIGN.md explains why
 * a global sequence would lose records.
 */
#include "backend.h"

#include "dbk/bytes.h"
#include "dbk/error.h"

#include <string.h>

int
dbk_push_decide(dbk_push_item *it, const dbk_stored_record *cur, bool author_is_owner)
{
    it->has_current = cur->exists;
    if (cur->exists) {
        it->seq = cur->seq;
        it->current = cur->current;
    }
    /* A non-owner author writes only records it created (its grant was checked). */
    if (!author_is_owner && cur->exists && !dbk_id_equal(&cur->creator, &it->hdr.author))
        return DBK_E_FORBIDDEN;
    if ((it->expect_kind == DBK_EXPECT_NONE && cur->exists) ||
        (it->expect_kind == DBK_EXPECT_REVISION &&
         (!cur->exists || dbk_revision_cmp(&it->expect, &cur->current) != 0))) {
        it->stale = true;
        return DBK_PUSH_DO_STALE;
    }
    if (cur->same_bytes) {
        it->result = DBK_PUSH_DUPLICATE;
        return DBK_PUSH_DO_SKIP;
    }
    if (cur->exists && dbk_revision_cmp(&it->hdr.rev, &cur->current) == 0)
        return DBK_E_CONFLICT; /* one revision, two contents */
    if (cur->exists && dbk_revision_cmp(&it->hdr.rev, &cur->current) < 0) {
        it->result = DBK_PUSH_SUPERSEDED;
        return DBK_PUSH_DO_SKIP;
    }
    it->result = DBK_PUSH_STORED;
    return DBK_PUSH_DO_STORE;
}

bool
dbk_pull_takes(size_t count, size_t bytes, size_t len, size_t limit, size_t max_bytes)
{
    return count < limit && (count == 0 || bytes + len <= max_bytes);
}

/* ---- the audit chain ---- */

static const char DOM_AUDIT[] = "daybook/v1/audit";

/* proto/README.md section 14: hash = BLAKE2b-256("daybook/v1/audit\0" || prev || entry[124]). */
void
dbk_audit_hash(const dbk_audit_entry *e, unsigned char out[DBK_HASH_BYTES])
{
    unsigned char b[124] = {0};
    crypto_generichash_state h;

    dbk_put_u64(b + 0, (uint64_t)e->index);
    dbk_put_u64(b + 8, (uint64_t)e->at);
    b[16] = (unsigned char)e->action;
    b[17] = (unsigned char)e->actor_role;
    memcpy(b + 20, e->actor.b, 16);
    memcpy(b + 36, e->device.b, 16);
    memcpy(b + 52, e->stream.b, 16);
    memcpy(b + 68, e->owner.b, 16);
    memcpy(b + 84, e->grantee.b, 16);
    dbk_put_u32(b + 100, e->epoch);
    dbk_put_u32(b + 104, e->count);
    dbk_put_u64(b + 108, (uint64_t)e->seq_from);
    dbk_put_u64(b + 116, (uint64_t)e->seq_to);
    crypto_generichash_init(&h, NULL, 0, DBK_HASH_BYTES);
    crypto_generichash_update(&h, (const unsigned char *)DOM_AUDIT, sizeof DOM_AUDIT);
    crypto_generichash_update(&h, e->prev, DBK_HASH_BYTES);
    crypto_generichash_update(&h, b, sizeof b);
    crypto_generichash_final(&h, out, DBK_HASH_BYTES);
}

void
dbk_audit_chain_next(dbk_audit_entry *e, int64_t last_index,
                     const unsigned char last_hash[DBK_HASH_BYTES])
{
    e->index = last_index + 1;
    memcpy(e->prev, last_hash, DBK_HASH_BYTES);
    dbk_audit_hash(e, e->hash);
}

void
dbk_audit_walk_init(dbk_audit_walk *w)
{
    memset(w, 0, sizeof *w);
    w->expect = 1;
}

int
dbk_audit_walk_step(dbk_audit_walk *w, const dbk_audit_entry *e)
{
    unsigned char want[DBK_HASH_BYTES];
    dbk_audit_hash(e, want);
    if (e->index != w->expect || sodium_memcmp(e->prev, w->prev, DBK_HASH_BYTES) != 0 ||
        sodium_memcmp(want, e->hash, DBK_HASH_BYTES) != 0) {
        w->bad_index = e->index;
        return DBK_E_CORRUPT;
    }
    memcpy(w->prev, e->hash, DBK_HASH_BYTES);
    w->expect++;
    w->checked++;
    return DBK_OK;
}
