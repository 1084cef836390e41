/* Hex and typed JSON access for test vectors; see vec.h. */
#include "vec.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
bad(const char *key, const char *why)
{
    fprintf(stderr, "vector field '%s': %s\n", key, why);
    abort();
}

char *
dbk_hex(const unsigned char *bin, size_t len)
{
    char *s = malloc(len * 2 + 1);
    if (s == NULL)
        abort();
    sodium_bin2hex(s, len * 2 + 1, bin, len);
    return s;
}

json_t *
dbk_jhex(const unsigned char *bin, size_t len)
{
    char *s = dbk_hex(bin, len);
    json_t *j = json_string(s);
    free(s);
    return j;
}

json_t *
dbk_ju64(uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return json_string(buf);
}

unsigned char *
dbk_vec_bytes(json_t *c, const char *key, size_t *len)
{
    const char *s = json_string_value(json_object_get(c, key));
    size_t n;
    unsigned char *b;

    if (s == NULL)
        bad(key, "missing");
    n = strlen(s);
    b = malloc(n / 2 + 1);
    if (b == NULL)
        abort();
    if (n % 2 != 0 || sodium_hex2bin(b, n / 2 + 1, s, n, NULL, len, NULL) != 0 || *len != n / 2)
        bad(key, "not hex");
    return b;
}

void
dbk_vec_fixed(json_t *c, const char *key, unsigned char *out, size_t n)
{
    size_t len;
    unsigned char *b = dbk_vec_bytes(c, key, &len);
    if (len != n)
        bad(key, "wrong length");
    memcpy(out, b, n);
    free(b);
}

void
dbk_vec_id(json_t *c, const char *key, dbk_id *id)
{
    dbk_vec_fixed(c, key, id->b, sizeof id->b);
}

uint64_t
dbk_vec_u64(json_t *c, const char *key)
{
    json_t *v = json_object_get(c, key);
    char *end;
    if (json_is_integer(v))
        return (uint64_t)json_integer_value(v);
    if (!json_is_string(v))
        bad(key, "missing");
    uint64_t r = strtoull(json_string_value(v), &end, 10);
    if (*end != '\0')
        bad(key, "not a decimal string");
    return r;
}

const char *
dbk_vec_str(json_t *c, const char *key)
{
    const char *s = json_string_value(json_object_get(c, key));
    if (s == NULL)
        bad(key, "missing");
    return s;
}

json_t *
dbk_vec_load(const char *dir, const char *name)
{
    char path[4096];
    json_error_t e;
    json_t *j;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    j = json_load_file(path, 0, &e);
    if (j == NULL) {
        fprintf(stderr, "%s: %s (line %d)\n", path, e.text, e.line);
        abort();
    }
    return j;
}
