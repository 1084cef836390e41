#include "sync_answer.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/*
 * A JSON walker for daybookd's sync answers, which builds nothing: the generator shares
 * the cores with the server, and jansson's tree of every answer was most of the
 * generator's CPU (about 190,000 of its 220,000 instructions a sync). It checks the
 * whole text's structure as a parser would (strings, numbers, literals, nesting; not
 * the UTF-8 or control characters of strings), never past its end, and reads the
 * "next" cursor of each entry of the top-level "pull" array. Numbers as jansson reads
 * them: RFC 8259's grammar, an integer within 64 bits, a real within a double.
 */
typedef struct jwalk {
    const char *p, *end;
    int depth;
} jwalk;

static void
jw_ws(jwalk *w)
{
    while (w->p < w->end && (*w->p == ' ' || *w->p == '\n' || *w->p == '\r' || *w->p == '\t'))
        w->p++;
}

static bool
jw_lit(jwalk *w, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(w->end - w->p) < n || memcmp(w->p, lit, n) != 0)
        return false;
    w->p += n;
    return true;
}

/* A string; its text (without quotes, escapes left as they are) in *s, *n. Found with
 * memchr, as an envelope's 592 characters are most of an answer. */
static bool
jw_str(jwalk *w, const char **s, size_t *n)
{
    if (w->p >= w->end || *w->p != '"')
        return false;
    const char *b = ++w->p, *q, *esc;
    for (;;) {
        if ((q = memchr(w->p, '"', (size_t)(w->end - w->p))) == NULL)
            return false;
        if ((esc = memchr(w->p, '\\', (size_t)(q - w->p))) == NULL)
            break;
        w->p = esc + 2; /* past the escaped character, which may be a quote */
        if (w->p > w->end)
            return false;
    }
    w->p = q + 1;
    *s = b;
    *n = (size_t)(q - b);
    return true;
}

static bool
jw_digit(const char *p, const char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* The end of the JSON number at w->p (RFC 8259: -?(0|[1-9][0-9]*)(.[0-9]+)?
 * ([eE][+-]?[0-9]+)?), within the text, or NULL; *integer when it has neither a
 * fraction nor an exponent. A digit after a leading 0 ends it there (and the walk then
 * fails on that digit, as jansson's does). */
static const char *
jw_number(const jwalk *w, bool *integer)
{
    const char *p = w->p, *e = w->end;
    if (p < e && *p == '-')
        p++;
    if (!jw_digit(p, e))
        return NULL;
    if (*p++ != '0')
        while (jw_digit(p, e))
            p++;
    *integer = true;
    if (p < e && *p == '.') {
        if (!jw_digit(++p, e))
            return NULL;
        while (jw_digit(p, e))
            p++;
        *integer = false;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        if (++p < e && (*p == '+' || *p == '-'))
            p++;
        if (!jw_digit(p, e))
            return NULL;
        while (jw_digit(p, e))
            p++;
        *integer = false;
    }
    return p;
}

/* An integer that fits in 64 bits, as jansson's json_int_t; false for any other
 * number (an integer out of range is an error to jansson, as here). */
static bool
jw_int(jwalk *w, int64_t *v)
{
    bool integer, neg = w->p < w->end && *w->p == '-';
    const char *end = jw_number(w, &integer);
    uint64_t x = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (end == NULL || !integer)
        return false;
    for (const char *q = w->p + neg; q < end; q++) {
        unsigned d = (unsigned)(*q - '0');
        if (x > (lim - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *v = !neg ? (int64_t)x : x == lim ? INT64_MIN : -(int64_t)x;
    w->p = end;
    return true;
}

/* Any number: an integer in range, or a real that does not overflow a double
 * (jansson's two refusals of a well-formed number). */
static bool
jw_any_number(jwalk *w)
{
    char small[64], *text;
    bool integer, ok;
    int64_t v;
    const char *end = jw_number(w, &integer);
    if (end == NULL)
        return false;
    if (integer)
        return jw_int(w, &v);
    size_t n = (size_t)(end - w->p);
    if ((text = n < sizeof small ? small : malloc(n + 1)) == NULL)
        return false;
    memcpy(text, w->p, n);
    text[n] = '\0';
    errno = 0;
    double d = strtod(text, NULL);
    ok = !((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE);
    if (text != small)
        free(text);
    if (ok)
        w->p = end;
    return ok;
}

static bool jw_value(jwalk *w);

/* An object (or an array): calls `each` for each member, positioned at its value,
 * with its key (an array's elements: NULL); `each` either reads the value (returning
 * 1), leaves it to jw_value (0) or refuses it (-1). */
typedef int (*jw_each)(jwalk *, const char *key, size_t keylen, void *);

static bool
jw_members(jwalk *w, bool object, jw_each each, void *arg)
{
    const char *close = object ? "}" : "]", *k = NULL;
    size_t kn = 0;
    if (++w->depth > 32 || !jw_lit(w, object ? "{" : "["))
        return false;
    jw_ws(w);
    if (jw_lit(w, close))
        return w->depth--, true;
    for (;;) {
        int rc;
        jw_ws(w);
        if (object) {
            if (!jw_str(w, &k, &kn))
                return false;
            jw_ws(w);
            if (!jw_lit(w, ":"))
                return false;
            jw_ws(w);
        }
        rc = each != NULL ? each(w, k, kn, arg) : 0;
        if (rc < 0 || (rc == 0 && !jw_value(w)))
            return false;
        jw_ws(w);
        if (jw_lit(w, close))
            return w->depth--, true;
        if (!jw_lit(w, ","))
            return false;
    }
}

static bool
jw_value(jwalk *w)
{
    const char *s;
    size_t n;
    if (w->p >= w->end)
        return false;
    switch (*w->p) {
    case '{':
    case '[':
        return jw_members(w, *w->p == '{', NULL, NULL);
    case '"':
        return jw_str(w, &s, &n);
    case 't':
        return jw_lit(w, "true");
    case 'f':
        return jw_lit(w, "false");
    case 'n':
        return jw_lit(w, "null");
    default:
        return jw_any_number(w);
    }
}

struct sync_answer {
    int64_t next[2];
    bool has_next[2];
    size_t npull;
    bool has_pull;
};

static int
sa_pull_key(jwalk *w, const char *k, size_t kn, void *arg)
{
    struct sync_answer *a = arg;
    size_t i = a->npull;
    if (kn != 4 || memcmp(k, "next", 4) != 0 || i >= 2)
        return 0;
    if (a->has_next[i] || !jw_int(w, &a->next[i]))
        return -1;
    a->has_next[i] = true;
    return 1;
}

static int
sa_pull_item(jwalk *w, const char *k, size_t kn, void *arg)
{
    struct sync_answer *a = arg;
    (void)k;
    (void)kn;
    if (w->p >= w->end || *w->p != '{' || !jw_members(w, true, sa_pull_key, a))
        return -1;
    a->npull++;
    return 1;
}

static int
sa_top_key(jwalk *w, const char *k, size_t kn, void *arg)
{
    struct sync_answer *a = arg;
    if (kn != 4 || memcmp(k, "pull", 4) != 0)
        return 0;
    if (a->has_pull || w->p >= w->end || *w->p != '[' || !jw_members(w, false, sa_pull_item, a))
        return -1;
    a->has_pull = true;
    return 1;
}

bool
bl_sync_answer_read(const char *body, size_t len, int64_t next[2])
{
    struct sync_answer a;
    jwalk w = {body, body + len, 0};
    memset(&a, 0, sizeof a);
    jw_ws(&w);
    if (w.p >= w.end || *w.p != '{' || !jw_members(&w, true, sa_top_key, &a))
        return false;
    jw_ws(&w);
    if (w.p != w.end || !a.has_pull || a.npull != 2 || !a.has_next[0] || !a.has_next[1])
        return false;
    next[0] = a.next[0];
    next[1] = a.next[1];
    return true;
}
