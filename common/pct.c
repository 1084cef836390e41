/* Percent-encoding for daybook:// links; see dbk/pct.h. */
#include "dbk/pct.h"

#include "dbk/error.h"

#include <stdbool.h>
#include <string.h>

int
dbk_pct_append(char *out, size_t cap, const char *in)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t start = strnlen(out, cap), o = start;

    if (start == cap)
        return DBK_E_INVALID;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        if (o + (plain ? 1 : 3) >= cap) {
            out[start] = '\0';
            return DBK_E_INVALID;
        }
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
    return DBK_OK;
}
