/*
 * The storage thread's caches of authcache.h: two fixed 4-way set-associative
 * tables, allocated once (static). An entry is trusted only while the generation
 * it was written in is the current one; a full set gives up the way written
 * longest ago, which only sends that token or stream back to the store. Ids and
 * token hashes are random, so their first bytes pick the set (an account could
 * crowd a set with stream ids of its choosing: that too only costs speed).
 * 4,096 tokens (about 1.5 MiB, touched only as used) and 8,192 streams.
 */
#include "authcache.h"

#include "dbk/bytes.h"

#include <sodium.h>
#include <string.h>

#define WAYS 4
#define TOKEN_SETS 1024
#define STREAM_SETS 2048

static struct token_entry {
    unsigned char hash[32];
    dbk_account me;
    dbk_id device;
    int64_t checked_at;
    uint64_t gen, tick; /* gen 0 = empty */
} tokens[TOKEN_SETS][WAYS];

static struct stream_entry {
    dbk_stream s; /* s.seq: the stream's head as the store or this thread's last push
                   * of it left it (authcache.h) */
    uint64_t gen, tick;
} streams[STREAM_SETS][WAYS];

static bool enabled;
static uint64_t generation = 1, ticks;
static bool have_version;
static int64_t last_version;
static uint64_t outside = 1; /* moves with every data_version change (authcache.h) */

void
dbk_authcache_enable(bool on)
{
    enabled = on;
    generation++;
    have_version = false;
}

bool
dbk_authcache_enabled(void)
{
    return enabled;
}

void
dbk_authcache_invalidate(void)
{
    if (enabled)
        generation++;
}

void
dbk_authcache_data_version(int rc, int64_t version)
{
    if (!enabled)
        return;
    if (rc != 0 || !have_version || version != last_version) {
        generation++;
        outside++;
    }
    have_version = rc == 0;
    last_version = version;
}

static uint32_t
set_index(const unsigned char b[4], uint32_t sets)
{
    return dbk_get_u32(b) % sets;
}

/* The way to write for key in a set: the one holding key, else an empty or stale
 * one, else the one written longest ago. gens and ticks are each way's, keys[w] its
 * key of n bytes. */
static size_t
pick(const uint64_t *gens, const uint64_t *ticks_of, const unsigned char *const *keys,
     const unsigned char *key, size_t n)
{
    size_t best = 0;
    for (size_t w = 0; w < WAYS; w++)
        if (gens[w] == generation && memcmp(keys[w], key, n) == 0)
            return w;
    for (size_t w = 0; w < WAYS; w++) {
        if (gens[w] != generation)
            return w;
        if (ticks_of[w] < ticks_of[best])
            best = w;
    }
    return best;
}

uint64_t
dbk_authcache_outside(void)
{
    return outside;
}

void
dbk_authcache_token_put(const unsigned char hash[32], int64_t now, const dbk_account *me,
                        const dbk_id *device)
{
    struct token_entry *set, *e;
    if (!enabled)
        return;
    set = tokens[set_index(hash, TOKEN_SETS)];
    {
        uint64_t g[WAYS], t[WAYS];
        const unsigned char *k[WAYS];
        for (size_t w = 0; w < WAYS; w++) {
            g[w] = set[w].gen;
            t[w] = set[w].tick;
            k[w] = set[w].hash;
        }
        e = &set[pick(g, t, k, hash, 32)];
    }
    memcpy(e->hash, hash, 32);
    e->me = *me;
    e->device = *device;
    e->checked_at = now;
    e->gen = generation;
    e->tick = ++ticks;
}

bool
dbk_authcache_token_get(const unsigned char hash[32], int64_t now, dbk_account *me,
                        dbk_id *device)
{
    struct token_entry *set;
    if (!enabled)
        return false;
    set = tokens[set_index(hash, TOKEN_SETS)];
    for (size_t w = 0; w < WAYS; w++) {
        const struct token_entry *e = &set[w];
        if (e->gen != generation || sodium_memcmp(e->hash, hash, 32) != 0)
            continue;
        /* The same minute as the store's check, never before it. */
        if (now < e->checked_at || now / 60000 != e->checked_at / 60000)
            return false;
        *me = e->me;
        *device = e->device;
        return true;
    }
    return false;
}

void
dbk_authcache_stream_put(const dbk_stream *s)
{
    struct stream_entry *set, *e;
    if (!enabled)
        return;
    set = streams[set_index(s->id.b, STREAM_SETS)];
    {
        uint64_t g[WAYS], t[WAYS];
        const unsigned char *k[WAYS];
        for (size_t w = 0; w < WAYS; w++) {
            g[w] = set[w].gen;
            t[w] = set[w].tick;
            k[w] = set[w].s.id.b;
        }
        e = &set[pick(g, t, k, s->id.b, DBK_ID_BYTES)];
    }
    e->s = *s;
    e->gen = generation;
    e->tick = ++ticks;
}

static struct stream_entry *
stream_find(const dbk_id *stream)
{
    struct stream_entry *set = streams[set_index(stream->b, STREAM_SETS)];
    for (size_t w = 0; w < WAYS; w++)
        if (set[w].gen == generation && dbk_id_equal(&set[w].s.id, stream))
            return &set[w];
    return NULL;
}

void
dbk_authcache_stream_seq(const dbk_id *stream, int64_t seq)
{
    struct stream_entry *e;
    if (enabled && (e = stream_find(stream)) != NULL) {
        e->s.seq = seq;
        ticks++; /* learnt (dbk_authcache_learnt); its entry's own tick, its age, kept */
    }
}

uint64_t
dbk_authcache_learnt(void)
{
    return ticks; /* moved by every write and every head moved, never reset */
}

bool
dbk_authcache_owned(const dbk_id *account, const dbk_id *stream, dbk_stream *out)
{
    const struct stream_entry *e;
    if (!enabled || (e = stream_find(stream)) == NULL || !dbk_id_equal(&e->s.owner, account))
        return false;
    *out = e->s;
    return true;
}
