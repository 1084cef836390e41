/* Rows of benchmark figures, as JSON and as a table; see bench_rows.h. */
#include "bench_rows.h"

#include <jansson.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

void
br_init(br_table *t, const char *part)
{
    memset(t, 0, sizeof *t);
    t->part = part;
}

static br_row *
find(br_table *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->rows[i].key, key) == 0)
            return &t->rows[i];
    return NULL;
}

void
br_add(br_table *t, const char *key, const char *label, double value, const char *unit,
       const char *baseline)
{
    br_row *r = find(t, key);
    if (r == NULL) {
        if (t->n == BR_MAX_ROWS) {
            fprintf(stderr, "bench: too many rows; %s dropped\n", key);
            return;
        }
        r = &t->rows[t->n++];
    }
    memset(r, 0, sizeof *r);
    snprintf(r->key, sizeof r->key, "%s", key);
    snprintf(r->label, sizeof r->label, "%s", label);
    snprintf(r->unit, sizeof r->unit, "%s", unit);
    snprintf(r->baseline, sizeof r->baseline, "%s", baseline ? baseline : "");
    r->value = value;
}

double
br_get(const br_table *t, const char *key)
{
    br_row *r = find((br_table *)t, key);
    return r ? r->value : -1;
}

/* value / baseline's value, or false when there is no usable baseline. */
static bool
ratio_of(const br_table *t, const br_row *r, double *out)
{
    double b;
    if (r->baseline[0] == '\0' || (b = br_get(t, r->baseline)) <= 0)
        return false;
    *out = r->value / b;
    return true;
}

int
br_write_json(const br_table *t, const char *path)
{
    json_t *rows = json_array(), *doc;
    FILE *f;
    int rc = 0;

    for (size_t i = 0; i < t->n; i++) {
        const br_row *r = &t->rows[i];
        double ratio;
        json_t *o = json_pack("{s:s, s:s, s:f, s:s}", "key", r->key, "label", r->label, "value",
                              r->value, "unit", r->unit);
        if (r->baseline[0] != '\0')
            json_object_set_new(o, "baseline_key", json_string(r->baseline));
        if (ratio_of(t, r, &ratio))
            json_object_set_new(o, "ratio", json_real(ratio));
        json_array_append_new(rows, o);
    }
    doc = json_pack("{s:s, s:o}", "part", t->part, "rows", rows);
    f = fopen(path, "w");
    if (f == NULL || json_dumpf(doc, f, JSON_INDENT(1) | JSON_REAL_PRECISION(6)) != 0 ||
        fputc('\n', f) == EOF) {
        fprintf(stderr, "bench: cannot write %s\n", path);
        rc = -1;
    }
    if (f != NULL && fclose(f) != 0 && rc == 0) {
        fprintf(stderr, "bench: cannot write %s\n", path);
        rc = -1;
    }
    json_decref(doc);
    return rc;
}

/* Whole numbers for large figures, three significant digits for small ones. */
static void
fmt_value(char *out, size_t cap, double v)
{
    if (v >= 100 || v <= -100)
        snprintf(out, cap, "%.0f", v);
    else
        snprintf(out, cap, "%.3g", v);
}

void
br_print(const br_table *t, FILE *out)
{
    fprintf(out, "\n%s\n%12s %-6s %-8s %s\n", t->part, "value", "unit", "ratio", "what");
    for (size_t i = 0; i < t->n; i++) {
        const br_row *r = &t->rows[i];
        char v[32], ratio[16] = "";
        double x;
        fmt_value(v, sizeof v, r->value);
        if (ratio_of(t, r, &x))
            snprintf(ratio, sizeof ratio, "%.3g", x);
        fprintf(out, "%12s %-6s %-8s %s\n", v, r->unit, ratio, r->label);
        if (ratio[0] != '\0')
            fprintf(out, "%28s(ratio: value / %s)\n", "", r->baseline);
    }
    fflush(out);
}

double
br_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
