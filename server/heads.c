/*
 * The stream heads of heads.h: a fixed table of 4-way sets, allocated once (static),
 * used on the loop thread only. Each stream may sit in either of two sets, picked by
 * two different groups of its id's bytes (ids are random), and a new head goes to the
 * one with more room: with one set per stream, 20,000 streams (10,000 clients) in
 * these 8,192 sets overflowed about one set in ten and sent about 6% of streams back
 * to the worker; with two, the fuller choice is almost never needed. A full pair of
 * sets evicts the way written longest ago, which only sends that stream's next sync
 * to the worker. 32,768 heads: two streams each for 16,384 clients, 72 bytes a head,
 * 2.3 MiB when all are used (pages are touched only as used). Account generations:
 * 32,768 counters, 256 KiB.
 */
#include "heads.h"

#include "dbk/bytes.h"

#include <string.h>

#define SETS 8192
#define WAYS 4
#define ACCOUNT_SLOTS 32768

static struct slot {
    dbk_id stream;
    dbk_head head;
    dbk_stamp gen; /* the owner's stamp when it was written; gen.a 0 = empty */
    uint64_t tick; /* when it was written, for eviction */
} slots[SETS][WAYS];

static bool enabled;
static uint64_t generation = 1, ticks;
static uint64_t account_gen[ACCOUNT_SLOTS];

void
dbk_heads_enable(bool on)
{
    enabled = on;
    generation++;
}

bool
dbk_heads_enabled(void)
{
    return enabled;
}

/* The two counters of account (heads.h): the same one twice when its bytes say so. */
static void
counters(const dbk_id *account, size_t *c1, size_t *c2)
{
    *c1 = dbk_get_u32(account->b) % ACCOUNT_SLOTS;
    *c2 = dbk_get_u32(account->b + 4) % ACCOUNT_SLOTS;
}

dbk_stamp
dbk_heads_stamp(const dbk_id *owner)
{
    size_t c1, c2;
    counters(owner, &c1, &c2);
    return (dbk_stamp){generation + account_gen[c1], generation + account_gen[c2]};
}

bool
dbk_heads_stamp_holds(const dbk_id *owner, dbk_stamp was)
{
    dbk_stamp now = dbk_heads_stamp(owner);
    /* Each sum only grows, and moves with the global generation and with its counter:
     * an unchanged sum means both are unchanged. */
    return was.a != 0 && (was.a == now.a || was.b == now.b);
}

void
dbk_heads_invalidate(void)
{
    generation++;
}

void
dbk_heads_invalidate_account(const dbk_id *account)
{
    size_t c1, c2;
    counters(account, &c1, &c2);
    account_gen[c1]++;
    if (c2 != c1)
        account_gen[c2]++;
}

/* The two sets stream may sit in (the same one twice when its bytes say so). */
static void
sets_of(const dbk_id *stream, struct slot *sets[2])
{
    sets[0] = slots[dbk_get_u32(stream->b) % SETS];
    sets[1] = slots[dbk_get_u32(stream->b + 4) % SETS];
}

/* Whether s holds a head that is still trusted. */
static bool
trusted(const struct slot *s)
{
    return dbk_heads_stamp_holds(&s->head.owner, s->gen);
}

void
dbk_heads_put(const dbk_id *stream, const dbk_head *h)
{
    struct slot *sets[2], *s = NULL;
    size_t used[2] = {0, 0};
    if (!enabled)
        return;
    sets_of(stream, sets);
    for (size_t k = 0; k < 2 && s == NULL; k++)
        for (size_t w = 0; w < WAYS && s == NULL; w++)
            if (sets[k][w].gen.a != 0 && dbk_id_equal(&sets[k][w].stream, stream))
                s = &sets[k][w];
    if (s == NULL) {
        /* The set with more room (untrusted ways count as room), then its best way:
         * an untrusted one, else the one written longest ago. */
        for (size_t k = 0; k < 2; k++)
            for (size_t w = 0; w < WAYS; w++)
                used[k] += trusted(&sets[k][w]);
        struct slot *set = used[1] < used[0] ? sets[1] : sets[0];
        s = &set[0];
        for (size_t w = 0; w < WAYS; w++) {
            if (!trusted(&set[w])) {
                s = &set[w];
                break;
            }
            if (set[w].tick < s->tick)
                s = &set[w];
        }
    }
    s->stream = *stream;
    s->head = *h;
    s->gen = dbk_heads_stamp(&h->owner);
    s->tick = ++ticks;
}

bool
dbk_heads_get(const dbk_id *stream, dbk_head *out)
{
    struct slot *sets[2];
    if (!enabled)
        return false;
    sets_of(stream, sets);
    for (size_t k = 0; k < 2; k++)
        for (size_t w = 0; w < WAYS; w++) {
            const struct slot *s = &sets[k][w];
            if (trusted(s) && dbk_id_equal(&s->stream, stream)) {
                *out = s->head;
                return true;
            }
        }
    return false;
}
