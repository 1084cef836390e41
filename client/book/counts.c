/* Craving figures; see counts.h. */
#include "counts.h"

#include <stdlib.h>
#include <string.h>

dbk_eu_count *
dbk_eu_counts_bump(dbk_eu_counts *c, const char *kind, const char *value)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].kind, kind) == 0 && strcmp(c->v[i].value, value) == 0) {
            c->v[i].n++;
            return &c->v[i];
        }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        dbk_eu_count *v = realloc(c->v, cap * sizeof *v);
        if (v == NULL)
            return NULL;
        c->v = v, c->cap = cap;
    }
    dbk_eu_count *x = &c->v[c->n++];
    snprintf(x->kind, sizeof x->kind, "%s", kind);
    x->value = value;
    x->n = 1;
    x->resisted = 0;
    return x;
}

static int
by_count(const void *a, const void *b)
{
    const dbk_eu_count *x = a, *y = b;
    int d;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    if ((d = strcmp(x->kind, y->kind)) != 0)
        return d;
    return strcmp(x->value, y->value);
}

void
dbk_eu_counts_sort(dbk_eu_counts *c)
{
    if (c->n > 1)
        qsort(c->v, c->n, sizeof *c->v, by_count);
}

void
dbk_eu_counts_free(dbk_eu_counts *c)
{
    free(c->v);
    memset(c, 0, sizeof *c);
}

/* Whether value is already among the first n strings of arr. */
static bool
seen_before(const json_t *arr, size_t n, const char *value)
{
    for (size_t i = 0; i < n; i++) {
        const char *x = json_string_value(json_array_get(arr, i));
        if (x != NULL && strcmp(x, value) == 0)
            return true;
    }
    return false;
}

void
dbk_eu_count_triggers(dbk_eu_counts *c, const json_t *triggers)
{
    const char *kind;
    json_t *v;
    json_object_foreach((json_t *)triggers, kind, v) {
        size_t i;
        json_t *x;
        if (json_is_true(v) && strcmp(kind, "withdrawal") == 0) {
            dbk_eu_counts_bump(c, "withdrawal", "");
            continue;
        }
        json_array_foreach(v, i, x)
            if (json_is_string(x) && json_string_length(x) > 0 &&
                !seen_before(v, i, json_string_value(x)))
                dbk_eu_counts_bump(c, kind, json_string_value(x));
    }
}

const char *
dbk_eu_outcome(const json_t *craving)
{
    return json_string_value(json_object_get(json_object_get(craving, "outcome"), "result"));
}

void
dbk_eu_count_coping(dbk_eu_counts *c, const json_t *craving)
{
    const char *result = dbk_eu_outcome(craving);
    const json_t *cop = json_object_get(craving, "coping");
    size_t k;
    json_t *x;
    json_array_foreach(cop, k, x) {
        dbk_eu_count *n;
        if (!json_is_string(x) || seen_before(cop, k, json_string_value(x)))
            continue;
        if ((n = dbk_eu_counts_bump(c, "", json_string_value(x))) != NULL && result != NULL &&
            strcmp(result, "resisted") == 0)
            n->resisted++;
    }
}
