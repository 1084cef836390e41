/*
 * The SQLite push given a stream head behind the store's (dbk_push_batch.known, from
 * the storage thread's cache, authcache.h): whatever seq the stale head points the
 * push at, the push stores nothing and says head_moved, so that its caller empties
 * the cache instead of trusting the same head at the next push; and a push that stores
 * nothing answers the store's head, not the stale one. A real store in a
 * temp directory, its push called as the storage thread calls it.
 */
#include "dbk_test.h"
#include "store.h"

#include "dbk/error.h"
#include "dbk/id.h"
#include "dbk/init.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct fx {
    char *dir;
    dbk_store *st;
    dbk_id owner, device;
    dbk_stream row; /* as created: seq 0 */
    uint64_t clock;
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    dbk_account a;

    assert_non_null(f);
    f->dir = dbk_tmpdir("store-push");
    assert_int_equal(dbk_store_open(f->dir, &f->st), DBK_OK);
    memset(&a, 0, sizeof a);
    dbk_id_random(&a.id);
    a.role = DBK_ROLE_CLIENT;
    f->owner = a.id;
    dbk_id_random(&f->device);
    memset(&f->row, 0, sizeof f->row);
    dbk_id_random(&f->row.id);
    f->row.owner = a.id;
    f->row.kind = DBK_STREAM_PRIVATE;
    f->row.epoch = 1;
    assert_int_equal(dbk_store_tx_begin(f->st), DBK_OK);
    assert_int_equal(dbk_store_account_create(f->st, &a), DBK_OK);
    assert_int_equal(dbk_store_stream_create(f->st, &f->row), DBK_OK);
    assert_int_equal(dbk_store_stream_get(f->st, &f->row.id, &f->row), DBK_OK);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    dbk_store_tx_rollback(f->st);
    dbk_store_close(f->st);
    dbk_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* One item of record, its revision at clock, pushed in a savepoint, kept if the push
 * succeeds, as run_push does; known as the caller gives it. */
static int
push_rev(struct fx *f, const dbk_id *record, uint64_t clock, const dbk_stream *known,
         dbk_push_batch *b)
{
    unsigned char env[32]; /* other bytes for each revision: none is a duplicate */
    dbk_push_item it;
    int rc;

    memset(&it, 0, sizeof it);
    it.hdr.rev.clock = clock;
    it.env = env;
    it.len = (size_t)snprintf((char *)env, sizeof env, "envelope %llu",
                              (unsigned long long)it.hdr.rev.clock);
    it.hdr.stream = f->row.id;
    it.hdr.record = *record;
    it.hdr.rev.device = f->device;
    it.hdr.epoch = 1;
    it.hdr.author = f->owner;
    memset(b, 0, sizeof *b);
    b->stream = f->row.id;
    b->quota = 1 << 20;
    b->items = &it;
    b->n = 1;
    b->known = known;
    assert_int_equal(dbk_store_sp_begin(f->st), DBK_OK);
    rc = dbk_store_push(f->st, b);
    if (rc == DBK_OK)
        assert_int_equal(dbk_store_sp_release(f->st), DBK_OK);
    else
        dbk_store_sp_rollback(f->st);
    return rc;
}

/* One item of record, a new revision of it: push_rev. */
static int
push(struct fx *f, const dbk_id *record, const dbk_stream *known, dbk_push_batch *b)
{
    return push_rev(f, record, ++f->clock, known, b);
}

/* The stream's head as the store has it. */
static int64_t
head(struct fx *f)
{
    dbk_stream s;
    assert_int_equal(dbk_store_stream_get(f->st, &f->row.id, &s), DBK_OK);
    return s.seq;
}

/* A push of record from the store's own head: stored. */
static void
stored(struct fx *f, const dbk_id *record)
{
    dbk_push_batch pb;
    assert_int_equal(push(f, record, NULL, &pb), DBK_OK);
}

/* A push of record from the stale head: refused as head_moved, nothing of it kept. */
static void
assert_head_moved(struct fx *f, const dbk_id *record, const dbk_stream *stale)
{
    dbk_push_batch pb;
    int64_t at = head(f);
    assert_int_equal(push(f, record, stale, &pb), DBK_E_INTERNAL);
    assert_true(pb.head_moved);
    assert_int_equal(head(f), at);
}

/* The head behind by new records: the seq it points at is a record's. */
static void
test_stale_head_at_a_taken_seq(void **state)
{
    struct fx *f = *state;
    dbk_id a, b, c;
    dbk_push_batch pb;

    dbk_id_random(&a);
    dbk_id_random(&b);
    dbk_id_random(&c);
    stored(f, &a);
    dbk_stream stale = f->row;
    stale.seq = head(f); /* 1 */
    stored(f, &b);
    assert_head_moved(f, &c, &stale);
    /* the store's own head: stored at the next seq */
    assert_int_equal(push(f, &c, NULL, &pb), DBK_OK);
    assert_false(pb.head_moved);
    assert_int_equal(pb.high_seq, 3);
}

/* The head behind by a revision, which left the seq it points at free. */
static void
test_stale_head_at_a_free_seq(void **state)
{
    struct fx *f = *state;
    dbk_id a, c;
    dbk_stream stale = f->row; /* seq 0 */

    dbk_id_random(&a);
    dbk_id_random(&c);
    stored(f, &a);
    stored(f, &a); /* a moves to seq 2 */
    assert_head_moved(f, &c, &stale);
}

/* A revision's upsert at the seq a stale head points at, a record's. */
static void
test_stale_head_revision_at_a_taken_seq(void **state)
{
    struct fx *f = *state;
    dbk_id a, b;
    dbk_stream stale = f->row;

    dbk_id_random(&a);
    dbk_id_random(&b);
    stored(f, &a);
    stale.seq = head(f); /* 1 */
    stored(f, &b);
    assert_head_moved(f, &a, &stale);
}

/* The head the store has, given: stored, no head_moved. */
static void
test_current_head(void **state)
{
    struct fx *f = *state;
    dbk_id a, b;
    dbk_push_batch pb;

    dbk_id_random(&a);
    dbk_id_random(&b);
    stored(f, &a);
    dbk_stream known = f->row;
    known.seq = head(f);
    assert_int_equal(push(f, &b, &known, &pb), DBK_OK);
    assert_false(pb.head_moved);
    assert_int_equal(pb.high_seq, 2);
}

/* A stale head given to a push that stores nothing (the same revision sent again, as
 * after a lost response): no write checks the head then, and the answer must still be
 * the store's head, said as head_moved so that the caller's cache is emptied; the
 * cached seq would tell the device it is up to date at a head that readers passed. */
static void
test_stale_head_nothing_stored(void **state)
{
    struct fx *f = *state;
    dbk_id a, b;
    dbk_push_batch pb;
    uint64_t at;

    dbk_id_random(&a);
    dbk_id_random(&b);
    stored(f, &a);
    at = f->clock;
    dbk_stream stale = f->row;
    stale.seq = head(f); /* 1 */
    stored(f, &b);
    assert_int_equal(push_rev(f, &a, at, &stale, &pb), DBK_OK);
    assert_int_equal(pb.nstored, 0);
    assert_int_equal(pb.high_seq, 2);
    assert_true(pb.head_moved);
    /* the store's own head given: the same answer, nothing said */
    dbk_stream known = f->row;
    known.seq = head(f);
    assert_int_equal(push_rev(f, &a, at, &known, &pb), DBK_OK);
    assert_int_equal(pb.nstored, 0);
    assert_int_equal(pb.high_seq, 2);
    assert_false(pb.head_moved);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stale_head_at_a_taken_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_head_at_a_free_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_head_revision_at_a_taken_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_current_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_head_nothing_stored, setup, teardown),
    };
    if (dbk_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
