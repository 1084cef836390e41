/* Hybrid logical clock: the update rules of CRYPTO.md §6. */
#include "dbk/hlc.h"

#include "dbk/error.h"

#include <time.h>

uint64_t
dbk_hlc_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* (ms, counter + 1), carrying into the milliseconds when the counter is full. */
static uint64_t
bump(uint64_t ms, uint64_t counter)
{
    return counter >= 0xffff ? dbk_hlc_pack(ms + 1, 0) : dbk_hlc_pack(ms, (uint32_t)counter + 1);
}

uint64_t
dbk_hlc_local(dbk_hlc *h, uint64_t wall_ms)
{
    uint64_t l = dbk_hlc_ms(h->last), c = h->last & 0xffff;
    /* A last clock more than the bound ahead of the wall clock came from this device's
     * own clock while it was wrong (no remote clock that far ahead is merged): kept,
     * every later write would be refused by the server until that time passed
     * (proto/README.md section 10, check 6). The clock starts again from the wall. */
    if (l > wall_ms + DBK_HLC_MAX_DRIFT_MS)
        l = 0, c = 0;
    h->last = wall_ms > l ? dbk_hlc_pack(wall_ms, 0) : bump(l, c);
    return h->last;
}

int
dbk_hlc_recv(dbk_hlc *h, uint64_t wall_ms, uint64_t remote)
{
    uint64_t l = dbk_hlc_ms(h->last), c = h->last & 0xffff;
    uint64_t r = dbk_hlc_ms(remote), rc = remote & 0xffff;
    uint64_t m = wall_ms;

    if (r > wall_ms + DBK_HLC_MAX_DRIFT_MS)
        return DBK_E_INVALID;
    if (l > m)
        m = l;
    if (r > m)
        m = r;
    if (m == l && m == r)
        h->last = bump(m, c > rc ? c : rc);
    else if (m == l)
        h->last = bump(m, c);
    else if (m == r)
        h->last = bump(m, rc);
    else
        h->last = dbk_hlc_pack(m, 0);
    return DBK_OK;
}
