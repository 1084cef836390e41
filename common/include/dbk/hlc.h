/*
 * Hybrid logical clock (proto/CRYPTO.md §6): 48 bits of Unix milliseconds and a
 * 16-bit counter in one uint64_t, so revisions made offline on several devices
 * order the same way everywhere, even when wall clocks disagree a little.
 */
#ifndef DBK_HLC_H
#define DBK_HLC_H

#include <stdint.h>

#define DBK_HLC_MAX_DRIFT_MS 86400000ULL /* a remote clock further ahead is not merged */

typedef struct dbk_hlc {
    uint64_t last; /* the last clock this device issued or merged; 0 when new */
} dbk_hlc;

static inline uint64_t
dbk_hlc_pack(uint64_t ms, uint32_t counter)
{
    return ms << 16 | (counter & 0xffffu);
}
static inline uint64_t
dbk_hlc_ms(uint64_t clock)
{
    return clock >> 16;
}

/* The wall clock in Unix milliseconds. */
uint64_t dbk_hlc_wall_ms(void);
/* A clock for a local write at wall time wall_ms; greater than every earlier one, unless
 * the last one is more than DBK_HLC_MAX_DRIFT_MS ahead of wall_ms (this device's clock
 * was wrong and has been set back): then it starts again from wall_ms. */
uint64_t dbk_hlc_local(dbk_hlc *h, uint64_t wall_ms);
/*
 * Merges a clock seen on a record from elsewhere. Returns DBK_OK, or DBK_E_INVALID
 * (and leaves h alone) when remote is more than DBK_HLC_MAX_DRIFT_MS ahead of wall_ms.
 */
int dbk_hlc_recv(dbk_hlc *h, uint64_t wall_ms, uint64_t remote);

#endif
