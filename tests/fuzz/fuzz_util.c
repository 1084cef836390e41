/* Helpers shared by the fuzz targets; see fuzz.h. */
#include "fuzz.h"

#include "dbk/init.h"
#include "dbk/log.h"

#include <sodium.h>
#include <string.h>

#ifndef DBK_FUZZ_VECTORS_DIR
#error "DBK_FUZZ_VECTORS_DIR must name proto/vectors (set by tests/fuzz/CMakeLists.txt)"
#endif

int fuzz_tracing;
static int tolerate_b64_high_bytes;

void
fuzz_init(void)
{
    static int done;
    FILE *devnull;

    if (done)
        return;
    done = 1;
    fuzz_tracing = getenv("DBK_FUZZ_TRACE") != NULL;
    const char *known = getenv("DBK_FUZZ_KNOWN");
    tolerate_b64_high_bytes = known != NULL && strstr(known, "b64-high-bytes") != NULL;
    if (dbk_init() != 0) {
        fprintf(stderr, "fuzz: libsodium failed to start\n");
        abort();
    }
    devnull = fopen("/dev/null", "w");
    if (devnull == NULL) {
        fprintf(stderr, "fuzz: cannot open /dev/null\n");
        abort();
    }
    dbk_log_set_output(devnull);
    dbk_log_set_level(DBK_LOG_DEBUG);
}

int
fuzz_known_b64_high_bytes(const char *text, size_t n)
{
    if (!tolerate_b64_high_bytes)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)text[i] >= 0x80)
            return 1;
    return 0;
}

json_t *
fuzz_vectors(const char *name)
{
    const char *dir = getenv("DAYBOOK_VECTORS");
    char path[4096];
    json_error_t e;
    json_t *j;

    if (dir == NULL || dir[0] == '\0')
        dir = DBK_FUZZ_VECTORS_DIR;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    j = json_load_file(path, 0, &e);
    if (j == NULL) {
        fprintf(stderr, "fuzz: %s: %s\n", path, e.text);
        abort();
    }
    return j;
}

unsigned char *
fuzz_vec_bytes(json_t *c, const char *key, size_t *len)
{
    const char *s = json_string_value(json_object_get(c, key));
    size_t n;
    unsigned char *b;

    if (s == NULL) {
        fprintf(stderr, "fuzz: vector field %s missing\n", key);
        abort();
    }
    n = strlen(s);
    b = malloc(n / 2 + 1);
    if (b == NULL || n % 2 != 0 || sodium_hex2bin(b, n / 2 + 1, s, n, NULL, len, NULL) != 0 ||
        *len != n / 2) {
        fprintf(stderr, "fuzz: vector field %s is not hex\n", key);
        abort();
    }
    return b;
}

void
fuzz_vec_fixed(json_t *c, const char *key, unsigned char *out, size_t n)
{
    size_t len;
    unsigned char *b = fuzz_vec_bytes(c, key, &len);
    if (len != n) {
        fprintf(stderr, "fuzz: vector field %s has %zu bytes, not %zu\n", key, len, n);
        abort();
    }
    memcpy(out, b, n);
    free(b);
}

uint64_t
fuzz_vec_u64(json_t *c, const char *key)
{
    json_t *v = json_object_get(c, key);
    const char *s = json_string_value(v);
    char *end;
    unsigned long long n;

    if (json_is_integer(v) && json_integer_value(v) >= 0)
        return (uint64_t)json_integer_value(v);
    if (s == NULL) {
        fprintf(stderr, "fuzz: vector field %s missing\n", key);
        abort();
    }
    n = strtoull(s, &end, 10);
    if (*end != '\0') {
        fprintf(stderr, "fuzz: vector field %s is not a number\n", key);
        abort();
    }
    return (uint64_t)n;
}

static void
known_add(fuzz_known *k, json_t *c, const char *key)
{
    if (json_object_get(c, key) == NULL)
        return;
    k->b = realloc(k->b, (k->n + 1) * sizeof *k->b);
    k->len = realloc(k->len, (k->n + 1) * sizeof *k->len);
    if (k->b == NULL || k->len == NULL)
        abort();
    k->b[k->n] = fuzz_vec_bytes(c, key, &k->len[k->n]);
    k->n++;
}

void
fuzz_known_load(fuzz_known *k, json_t *file, const char *key)
{
    static const char *const parts[] = {"positive", "negative"};
    size_t i;
    json_t *c;

    memset(k, 0, sizeof *k);
    for (size_t p = 0; p < 2; p++)
        json_array_foreach(json_object_get(file, parts[p]), i, c) known_add(k, c, key);
    if (k->n == 0) {
        fprintf(stderr, "fuzz: no vector has a field %s\n", key);
        abort();
    }
}

int
fuzz_known_has(const fuzz_known *k, const unsigned char *b, size_t len)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->len[i] == len && memcmp(k->b[i], b, len) == 0)
            return 1;
    return 0;
}
