/* The narrow JSON scanner of push and sync bodies; see fastjson.h. */
#include "fastjson.h"

#include <string.h>

static void
ws(dbk_fj *x)
{
    while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r'))
        x->p++;
}

bool
dbk_fj_take(dbk_fj *x, char c)
{
    ws(x);
    if (x->p < x->end && *x->p == c) {
        x->p++;
        return true;
    }
    return false;
}

bool
dbk_fj_peek(dbk_fj *x, char c)
{
    ws(x);
    return x->p < x->end && *x->p == c;
}

/* Eight bytes at a time: nonzero when any byte of w is a quote, a backslash, a
 * control (below 0x20) or not printable ASCII (0x7f and up). The usual string is an
 * envelope's 600 characters of base64url, which the byte loop below then only
 * finishes; the word is loaded with memcpy, so alignment does not matter. */
#define FJ_ONES 0x0101010101010101ULL
#define FJ_HIGH 0x8080808080808080ULL
static uint64_t
special8(uint64_t w)
{
    uint64_t q = w ^ (FJ_ONES * '"'), b = w ^ (FJ_ONES * '\\');
    uint64_t low = (w - FJ_ONES * 0x20) & ~w;          /* bytes below 0x20 */
    uint64_t high = (w + FJ_ONES * (0x80 - 0x7f)) | w; /* bytes of 0x7f and up */
    return (((q - FJ_ONES) & ~q) | ((b - FJ_ONES) & ~b) | low | high) & FJ_HIGH;
}

bool
dbk_fj_str(dbk_fj *x, const char **s, size_t *n)
{
    const char *q;
    if (!dbk_fj_take(x, '"'))
        return false;
    for (q = x->p; x->end - q >= 8; q += 8) {
        uint64_t w;
        memcpy(&w, q, sizeof w);
        if (special8(w) != 0)
            break; /* the byte loop finds which one */
    }
    for (; q < x->end && *q != '"'; q++)
        if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e || *q == '\\')
            return false; /* escapes, controls, non-ASCII: left to jansson */
    if (q == x->end)
        return false;
    *s = x->p;
    *n = (size_t)(q - x->p);
    x->p = q + 1;
    return true;
}

bool
dbk_fj_str_raw(dbk_fj *x, const char **s, size_t *n)
{
    const char *q;
    if (!dbk_fj_take(x, '"') || (q = memchr(x->p, '"', (size_t)(x->end - x->p))) == NULL)
        return false;
    *s = x->p;
    *n = (size_t)(q - x->p);
    x->p = q + 1;
    return true;
}

bool
dbk_fj_uint(dbk_fj *x, int64_t *v)
{
    int64_t r = 0;
    size_t digits = 0;
    ws(x);
    while (x->p < x->end && *x->p >= '0' && *x->p <= '9') {
        if (digits == 18)
            return false;
        if (digits == 1 && r == 0)
            return false; /* a leading zero is not JSON */
        r = r * 10 + (*x->p - '0');
        x->p++;
        digits++;
    }
    /* A fraction or exponent would make it a real; jansson decides those. */
    if (digits == 0 || (x->p < x->end && (*x->p == '.' || *x->p == 'e' || *x->p == 'E')))
        return false;
    *v = r;
    return true;
}

bool
dbk_fj_end(dbk_fj *x)
{
    ws(x);
    return x->p == x->end;
}

bool
dbk_fj_is(const char *s, size_t n, const char *k)
{
    return strlen(k) == n && memcmp(s, k, n) == 0;
}
