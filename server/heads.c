/*
 * The stream heads of heads.h: a fixed 4-way set-associative table, allocated once
 * (static), used on the loop thread only. Stream ids are random, so their first
 * bytes pick the set; a full set evicts the way written longest ago, which only
 * sends that stream's next sync to the worker. 32,768 heads: two streams each for
 * 16,384 clients, about 1.5 MiB. Account generations: 32,768 counters, 256 KiB.
 */
#include "heads.h"

#include <string.h>

#define SETS 8192
#define WAYS 4
#define ACCOUNT_SLOTS 32768

static struct slot {
    dbk_id stream;
    dbk_head head;
    uint64_t gen;  /* the owner's stamp when it was written; 0 = empty */
    uint64_t tick; /* when it was written, for eviction */
} slots[SETS][WAYS];

static bool enabled;
static uint64_t generation = 1, ticks;
static uint64_t account_gen[ACCOUNT_SLOTS];

static uint32_t
first_bytes(const dbk_id *id)
{
    return (uint32_t)id->b[0] << 24 | (uint32_t)id->b[1] << 16 | (uint32_t)id->b[2] << 8 |
           id->b[3];
}

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

uint64_t
dbk_heads_stamp(const dbk_id *owner)
{
    return generation + account_gen[first_bytes(owner) % ACCOUNT_SLOTS];
}

void
dbk_heads_invalidate(void)
{
    generation++;
}

void
dbk_heads_invalidate_account(const dbk_id *account)
{
    account_gen[first_bytes(account) % ACCOUNT_SLOTS]++;
}

static struct slot *
set_of(const dbk_id *stream)
{
    return slots[first_bytes(stream) % SETS];
}

void
dbk_heads_put(const dbk_id *stream, const dbk_head *h)
{
    struct slot *set, *s = NULL;
    if (!enabled)
        return;
    set = set_of(stream);
    for (size_t w = 0; w < WAYS && s == NULL; w++)
        if (set[w].gen != 0 && dbk_id_equal(&set[w].stream, stream))
            s = &set[w];
    if (s == NULL) {
        s = &set[0];
        for (size_t w = 1; w < WAYS; w++)
            if (set[w].tick < s->tick)
                s = &set[w];
    }
    s->stream = *stream;
    s->head = *h;
    s->gen = dbk_heads_stamp(&h->owner);
    s->tick = ++ticks;
}

bool
dbk_heads_get(const dbk_id *stream, dbk_head *out)
{
    const struct slot *set;
    if (!enabled)
        return false;
    set = set_of(stream);
    for (size_t w = 0; w < WAYS; w++) {
        const struct slot *s = &set[w];
        if (s->gen != 0 && s->gen == dbk_heads_stamp(&s->head.owner) &&
            dbk_id_equal(&s->stream, stream)) {
            *out = s->head;
            return true;
        }
    }
    return false;
}
