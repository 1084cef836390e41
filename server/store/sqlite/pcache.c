/*
 * SQLite's default page cache (pcache1) behind a thin layer that skips the
 * truncations it knows to be empty (pcache.h).
 *
 * Why. Every commit ends with the pager truncating its cache to the database's size
 * (pager_end_transaction: xTruncate(dbSize + 1)), to drop pages past the end. pcache1
 * does that cheaply only when its largest key ever made, iMaxKey, is near the size;
 * otherwise it walks every bucket of its hash table and every page in it. A B-tree
 * balance that reorders its new pages (balance_nonroot, "Reassign page numbers so
 * that the new pages are in ascending order") parks one page at a temporary number,
 * the page just past the pending byte (262,145 at 4 KiB pages), and pcache1 raises
 * iMaxKey to it for good. From then on every commit walked the whole 8 MiB cache
 * (2,048 buckets, about 2,000 pages, a cache miss each): measured with a uprobe on
 * pcache1TruncateUnsafe in daybookd under tests/bench's incremental sync, every call
 * had iMaxKey 262,145 and a limit of a few thousand, and the walk was 3.5 to 5% of
 * the storage thread's time.
 *
 * How. This layer keeps an upper bound of the keys the cache can hold: the largest
 * key a fetch may have made a page at (made_max), and the few pages moved above it
 * (high[], by page, with their keys). A truncation to a limit above the bound, with
 * no page of high[] at or past it, removes nothing in pcache1 either, so it is not
 * passed on. Any other is passed on, and then every page left is below the limit,
 * which becomes the bound. The bound is never below a key the cache holds: keys come
 * only from fetches that may make a page (made_max) and from rekeys (high[] when
 * above made_max); a page pcache1 recycles or discards can only leave an entry that
 * is too high, which costs a truncation passed on, never one skipped wrongly. When
 * high[] is full the layer stops skipping until a truncation passed on resets it.
 * Everything else is pcache1's own function, called as SQLite would.
 */
#include "pcache.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>

#define HIGH_MAX 4 /* a balance parks one page at a time */

typedef struct pc_cache {
    sqlite3_pcache *real;
    unsigned made_max; /* no fetch made a page with a larger key since the last reset */
    struct {
        sqlite3_pcache_page *page;
        unsigned key;
    } high[HIGH_MAX]; /* pages rekeyed above made_max */
    int nhigh;
    bool lost; /* high[] overflowed: pass every truncation on */
} pc_cache;

static sqlite3_pcache_methods2 real_m;

static int
pc_init(void *arg)
{
    (void)arg;
    return real_m.xInit(real_m.pArg);
}

static void
pc_shutdown(void *arg)
{
    (void)arg;
    if (real_m.xShutdown != NULL)
        real_m.xShutdown(real_m.pArg);
}

static sqlite3_pcache *
pc_create(int page_size, int extra, int purgeable)
{
    pc_cache *c = sqlite3_malloc(sizeof *c);
    if (c == NULL)
        return NULL;
    *c = (pc_cache){.real = real_m.xCreate(page_size, extra, purgeable)};
    if (c->real == NULL) {
        sqlite3_free(c);
        return NULL;
    }
    return (sqlite3_pcache *)c;
}

static void
pc_cachesize(sqlite3_pcache *p, int n)
{
    real_m.xCachesize(((pc_cache *)p)->real, n);
}

static int
pc_pagecount(sqlite3_pcache *p)
{
    return real_m.xPagecount(((pc_cache *)p)->real);
}

static sqlite3_pcache_page *
pc_fetch(sqlite3_pcache *p, unsigned key, int create)
{
    pc_cache *c = (pc_cache *)p;
    sqlite3_pcache_page *pg = real_m.xFetch(c->real, key, create);
    if (pg != NULL && create != 0 && key > c->made_max)
        c->made_max = key;
    return pg;
}

static int
high_find(const pc_cache *c, const sqlite3_pcache_page *pg)
{
    for (int i = 0; i < c->nhigh; i++)
        if (c->high[i].page == pg)
            return i;
    return -1;
}

static void
high_drop(pc_cache *c, int i)
{
    c->high[i] = c->high[--c->nhigh];
}

static void
pc_unpin(sqlite3_pcache *p, sqlite3_pcache_page *pg, int discard)
{
    pc_cache *c = (pc_cache *)p;
    int i;
    real_m.xUnpin(c->real, pg, discard);
    if (discard && (i = high_find(c, pg)) >= 0)
        high_drop(c, i);
}

static void
pc_rekey(sqlite3_pcache *p, sqlite3_pcache_page *pg, unsigned old_key, unsigned new_key)
{
    pc_cache *c = (pc_cache *)p;
    int i = high_find(c, pg);
    real_m.xRekey(c->real, pg, old_key, new_key);
    if (new_key <= c->made_max) {
        if (i >= 0)
            high_drop(c, i);
    } else if (i >= 0) {
        c->high[i].key = new_key;
    } else if (c->nhigh < HIGH_MAX) {
        c->high[c->nhigh].page = pg;
        c->high[c->nhigh++].key = new_key;
    } else {
        c->lost = true;
    }
}

static void
pc_truncate(sqlite3_pcache *p, unsigned limit)
{
    pc_cache *c = (pc_cache *)p;
    bool empty = !c->lost && limit > c->made_max;
    for (int i = 0; empty && i < c->nhigh; i++)
        empty = c->high[i].key < limit;
    if (empty)
        return; /* no page at or past limit: pcache1 would remove none */
    real_m.xTruncate(c->real, limit);
    /* Every page left is below limit (limit 0 never comes: SQLite passes pgno + 1). */
    c->made_max = limit > 0 ? limit - 1 : 0;
    c->nhigh = 0;
    c->lost = false;
}

static void
pc_destroy(sqlite3_pcache *p)
{
    pc_cache *c = (pc_cache *)p;
    real_m.xDestroy(c->real);
    sqlite3_free(c);
}

static void
pc_shrink(sqlite3_pcache *p)
{
    real_m.xShrink(((pc_cache *)p)->real);
}

int
dbk_pcache_install(void)
{
    static const sqlite3_pcache_methods2 m = {
        .iVersion = 1,
        .xInit = pc_init,
        .xShutdown = pc_shutdown,
        .xCreate = pc_create,
        .xCachesize = pc_cachesize,
        .xPagecount = pc_pagecount,
        .xFetch = pc_fetch,
        .xUnpin = pc_unpin,
        .xRekey = pc_rekey,
        .xTruncate = pc_truncate,
        .xDestroy = pc_destroy,
        .xShrink = pc_shrink,
    };
    sqlite3_pcache_methods2 cur;
    int rc = sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &cur);
    if (rc != SQLITE_OK)
        return rc;
    if (cur.xInit == pc_init)
        return SQLITE_OK; /* installed already: wrapping this layer would call itself */
    if (cur.xInit == NULL || cur.xShrink == NULL)
        return SQLITE_ERROR;
    real_m = cur;
    return sqlite3_config(SQLITE_CONFIG_PCACHE2, &m);
}
