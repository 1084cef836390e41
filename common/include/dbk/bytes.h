/* Big-endian integer load/store for the binary layouts of proto/CRYPTO.md. */
#ifndef DBK_BYTES_H
#define DBK_BYTES_H

#include <stdint.h>

static inline void
dbk_put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static inline void
dbk_put_u64(unsigned char *p, uint64_t v)
{
    dbk_put_u32(p, (uint32_t)(v >> 32));
    dbk_put_u32(p + 4, (uint32_t)v);
}

static inline uint32_t
dbk_get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t
dbk_get_u64(const unsigned char *p)
{
    return (uint64_t)dbk_get_u32(p) << 32 | dbk_get_u32(p + 4);
}

#endif
