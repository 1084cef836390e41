/* The daybook:// links; see links.h. */
#include "links.h"

#include "session.h"
#include "net.h"

#include "dbk/error.h"
#include "dbk/pct.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int
hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The percent-decoded n bytes at v into out (NUL-terminated). A decoded NUL is
 * refused: it would silently cut the value. */
static int
decode(const char *v, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)v[i];
        if (c == '%') {
            if (i + 2 >= n || hexval(v[i + 1]) < 0 || hexval(v[i + 2]) < 0)
                return DBK_E_INVALID;
            c = hexval(v[i + 1]) * 16 + hexval(v[i + 2]);
            i += 2;
        }
        if (c == 0 || o + 1 >= cap)
            return DBK_E_INVALID;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return DBK_OK;
}

/* An account's id: 22 base64url characters that decode to 16 bytes, not only 22 of
 * anything (the length alone let "daybook login" go on with a zero account). */
static bool
is_id(const char *t)
{
    dbk_id id;
    return dbk_id_from_text(&id, t, strlen(t)) == DBK_OK;
}

static const struct {
    const char *prefix;
    dbk_link_kind kind;
} kinds[] = {
    {"daybook://setup?", DBK_LINK_SETUP},
    {"daybook://enroll?", DBK_LINK_ENROLL},
    {"daybook://login?", DBK_LINK_LOGIN},
    {"daybook://team?", DBK_LINK_TEAM},
};

/* The fields of text into u and whether the kind has what it needs; the server's URL
 * is left to the caller. */
static bool
parse_fields(const char *text, dbk_link *u)
{
    const char *q = NULL;

    memset(u, 0, sizeof *u);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && q == NULL; i++) {
        size_t n = strlen(kinds[i].prefix);
        if (strncmp(text, kinds[i].prefix, n) == 0)
            q = text + n, u->kind = kinds[i].kind;
    }
    if (q == NULL)
        return false;
    for (const char *p = q; *p;) {
        const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const struct {
            const char *name;
            char *dst;
            size_t cap;
        } fields[] = {
            {"server", u->server, sizeof u->server},
            {"code", u->code, sizeof u->code},
            {"fp", u->fp, sizeof u->fp},
            {"counselor", u->counselor, sizeof u->counselor},
            {"account", u->account, sizeof u->account},
            {"name", u->name, sizeof u->name},
            {"by", u->by, sizeof u->by},
            {"role", u->role, sizeof u->role},
            {"help", u->help, sizeof u->help},
        };
        for (size_t i = 0; eq != NULL && i < sizeof fields / sizeof fields[0]; i++) {
            size_t k = strlen(fields[i].name);
            if ((size_t)(eq - p) != k || memcmp(p, fields[i].name, k) != 0)
                continue;
            /* "help=": a hash of 0 characters, not an absent one */
            if (fields[i].dst == u->help && end == eq + 1)
                return false;
            if (fields[i].dst[0] != '\0' || /* repeated */
                decode(eq + 1, (size_t)(end - eq - 1), fields[i].dst, fields[i].cap) != DBK_OK)
                return false;
        }
        p = amp ? amp + 1 : end;
    }
    bool ok = u->server[0] != '\0';
    switch (u->kind) {
    case DBK_LINK_SETUP:
        ok = ok && strlen(u->code) == 22;
        break;
    case DBK_LINK_ENROLL:
        ok = ok && strlen(u->code) == 22 && strlen(u->fp) == 22 && is_id(u->counselor) &&
             (u->help[0] == '\0' || strlen(u->help) == 22);
        break;
    case DBK_LINK_LOGIN:
        ok = ok && is_id(u->account);
        break;
    case DBK_LINK_TEAM:
        ok = ok && strlen(u->fp) == 22 && is_id(u->counselor);
        break;
    }
    return ok;
}

int
dbk_link_parse(const char *text, dbk_link *u)
{
    return parse_fields(text, u) ? dbk_net_check_url(u->server) : DBK_E_INVALID;
}

int
dbk_link_parse_on(const char *text, const char *server, dbk_link *u)
{
    return parse_fields(text, u) && strcmp(u->server, server) == 0 ? DBK_OK : DBK_E_INVALID;
}

int
dbk_link_login_format(char *out, size_t cap, const char *server, const char *account)
{
    int n = snprintf(out, cap, "daybook://login?server=");
    if (n < 0 || (size_t)n >= cap || dbk_pct_append(out, cap, server) != DBK_OK)
        return DBK_E_INVALID;
    size_t o = strlen(out);
    n = snprintf(out + o, cap - o, "&account=%s", account);
    return n >= 0 && (size_t)n < cap - o ? DBK_OK : DBK_E_INVALID;
}
