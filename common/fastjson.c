/* The narrow JSON scanner of push and sync bodies, and the answers' reader; see
 * fastjson.h. */
#include "dbk/fastjson.h"

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

static json_t *load_value(dbk_fj *x, int depth);

/* The rest of an object whose brace was taken. */
static json_t *
load_object(dbk_fj *x, int depth)
{
    json_t *o = json_object();
    if (o == NULL || dbk_fj_take(x, '}'))
        return o;
    do {
        char key[DBK_FJ_LOAD_KEY + 1];
        const char *k;
        size_t kn;
        json_t *v;
        if (!dbk_fj_str(x, &k, &kn) || kn > DBK_FJ_LOAD_KEY || !dbk_fj_take(x, ':') ||
            (v = load_value(x, depth)) == NULL)
            goto fail;
        memcpy(key, k, kn);
        key[kn] = '\0';
        /* A key again replaces its value, as in jansson's own parse_object; the key,
         * printable ASCII, needs none of the UTF-8 checks that _nocheck skips. */
        if (json_object_set_new_nocheck(o, key, v) != 0)
            goto fail;
    } while (dbk_fj_take(x, ','));
    if (dbk_fj_take(x, '}'))
        return o;
fail:
    json_decref(o);
    return NULL;
}

/* The rest of an array whose bracket was taken. */
static json_t *
load_array(dbk_fj *x, int depth)
{
    json_t *a = json_array();
    if (a == NULL || dbk_fj_take(x, ']'))
        return a;
    do {
        json_t *v = load_value(x, depth);
        if (v == NULL || json_array_append_new(a, v) != 0)
            goto fail;
    } while (dbk_fj_take(x, ','));
    if (dbk_fj_take(x, ']'))
        return a;
fail:
    json_decref(a);
    return NULL;
}

/* Whether the literal word (true, false, null) is next; consumed if so. What follows
 * it is the caller's to check: a comma, a closing bracket, or the end. */
static bool
take_word(dbk_fj *x, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(x->end - x->p) < n || memcmp(x->p, word, n) != 0)
        return false;
    x->p += n;
    return true;
}

/* One value, at depth (the containers around it). */
static json_t *
load_value(dbk_fj *x, int depth)
{
    const char *s;
    size_t n;
    int64_t v;

    if (dbk_fj_take(x, '{'))
        return depth < DBK_FJ_LOAD_DEPTH ? load_object(x, depth + 1) : NULL;
    if (dbk_fj_take(x, '['))
        return depth < DBK_FJ_LOAD_DEPTH ? load_array(x, depth + 1) : NULL;
    if (dbk_fj_peek(x, '"'))
        return dbk_fj_str(x, &s, &n) ? json_stringn_nocheck(s, n) : NULL;
    if (x->p < x->end && *x->p >= '0' && *x->p <= '9')
        return dbk_fj_uint(x, &v) ? json_integer((json_int_t)v) : NULL;
    if (take_word(x, "true"))
        return json_true();
    if (take_word(x, "false"))
        return json_false();
    if (take_word(x, "null"))
        return json_null();
    return NULL;
}

json_t *
dbk_fj_load(const char *text, size_t len)
{
    dbk_fj x = {text, text + len};
    json_t *j;
    /* jansson without JSON_DECODE_ANY: an object or an array at the top. */
    if (!dbk_fj_peek(&x, '{') && !dbk_fj_peek(&x, '['))
        return NULL;
    if ((j = load_value(&x, 0)) != NULL && !dbk_fj_end(&x)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}
