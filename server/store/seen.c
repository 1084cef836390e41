/*
 * Last seen's table (seen.h), shared by the SQLite store and the PostgreSQL module
 * (which reaches these functions through pg/host.sym). Lookups only: what is noted,
 * written and forgotten is decided by each store.
 */
#include "seen.h"

dbk_seen_way *
dbk_seen_set(dbk_seen_way (*table)[DBK_SEEN_WAYS], size_t nsets, const dbk_id *device)
{
    uint32_t v = (uint32_t)device->b[0] << 24 | (uint32_t)device->b[1] << 16 |
                 (uint32_t)device->b[2] << 8 | device->b[3];
    return table[v % nsets];
}

dbk_seen_way *
dbk_seen_find(dbk_seen_way *set, const dbk_id *device, dbk_seen_way **spare)
{
    dbk_seen_way *s = NULL;
    for (size_t w = 0; w < DBK_SEEN_WAYS; w++) {
        dbk_seen_way *x = &set[w];
        if (x->minute != 0 && dbk_id_equal(&x->device, device))
            return x;
        if (x->minute <= x->stored && (s == NULL || x->minute < s->minute))
            s = x; /* empty, or written and seen longest ago: never one waiting */
    }
    if (spare != NULL)
        *spare = s;
    return NULL;
}
