/* The client's trends; see trends.h. */
#include "trends.h"
#include "counts.h"
#include "daycount.h"

#include <stdlib.h>
#include <string.h>

#define TOP_TRIGGERS 5

static const char *const blocks[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                     "\u2585", "\u2586", "\u2587", "\u2588"};

struct used {
    const char *when, *substance;
    const dbk_id *id;
};

/* The cravings of the period, day by day, as they are read. */
struct acc {
    long days;
    int64_t from, today;
    int *n;              /* per day: how many cravings */
    double *sum, *peak;  /* per day: their total and strongest intensity */
    double total, max;   /* the period's */
    size_t count;
    dbk_eu_counts trig, coping;
    struct used *used;   /* the cravings that ended in use */
    size_t nused;
};

static int
by_when(const void *a, const void *b)
{
    return strcmp(((const struct used *)a)->when, ((const struct used *)b)->when);
}

static void
acc_free(struct acc *a)
{
    free(a->n);
    free(a->sum);
    free(a->peak);
    free(a->used);
    dbk_eu_counts_free(&a->trig);
    dbk_eu_counts_free(&a->coping);
}

static bool
acc_init(struct acc *a, size_t nentries, int64_t today, long days)
{
    memset(a, 0, sizeof *a);
    a->days = days;
    a->today = today;
    a->from = today - days + 1;
    a->n = calloc((size_t)days, sizeof *a->n);
    a->sum = calloc((size_t)days, sizeof *a->sum);
    a->peak = calloc((size_t)days, sizeof *a->peak);
    a->used = calloc(nentries + 1, sizeof *a->used);
    return a->n && a->sum && a->peak && a->used;
}

/* One of the client's own cravings, if it falls in the period: one dated after today
 * (written where the date ran ahead of this device's: a time zone ahead, a clock ahead)
 * counts today, as the counselor's review counts it, never left after the period. */
static void
acc_add(struct acc *a, const dbk_eu_entry *e)
{
    const char *result;
    int64_t d;
    double v;

    if (!e->mine || strcmp(e->type, "craving") != 0 || !dbk_eu_entry_day(e->doc, &d) ||
        d < a->from || !dbk_eu_intensity10(e->doc, &v))
        return;
    if (d > a->today)
        d = a->today;
    size_t di = (size_t)(d - a->from);
    a->count++;
    a->total += v;
    if (a->count == 1 || v > a->max)
        a->max = v;
    if (a->n[di] == 0 || v > a->peak[di])
        a->peak[di] = v;
    a->n[di]++;
    a->sum[di] += v;
    dbk_eu_count_triggers(&a->trig, json_object_get(e->doc, "triggers"));
    dbk_eu_count_coping(&a->coping, e->doc);
    result = dbk_eu_outcome(e->doc);
    if (result != NULL && strcmp(result, "used") == 0) {
        struct used *u = &a->used[a->nused++];
        u->when = json_string_value(json_object_get(e->doc, "occurred_at"));
        u->substance = json_string_value(json_object_get(
            json_object_get(json_object_get(e->doc, "outcome"), "used"), "substance"));
        u->id = &e->hdr.record;
    }
}

/* Each day's strongest craving as a block (low to high); a blank when there was none. */
static char *
sparkline(const struct acc *a)
{
    char *spark = malloc((size_t)a->days * 4 + 1);
    if (spark == NULL)
        return NULL;
    spark[0] = '\0';
    for (long i = 0; i < a->days; i++) {
        if (a->n[i] == 0) {
            strcat(spark, " ");
        } else {
            int level = (int)(a->peak[i] * 7.0 / 10.0 + 0.5);
            strcat(spark, blocks[level < 0 ? 0 : level > 7 ? 7 : level]);
        }
    }
    return spark;
}

/* Checklist items: the active ones, and any other id checked in the period (a day
 * after today counts today, book/checklist.h dbk_checklist_checked_through). */
static json_t *
checklist_rows(const dbk_checklist *ck, const dbk_eu_list *l, const struct acc *a)
{
    json_t *rows = json_array(), *ids = json_array(), *v;
    size_t k;

    for (size_t i = 0; i < ck->nitems; i++)
        if (ck->items[i].active)
            json_array_append_new(ids, json_string(ck->items[i].id));
    for (size_t i = 0; i < ck->ndays; i++) {
        if (ck->day[i] < a->from)
            continue;
        json_array_foreach(json_object_get(l->v[ck->days[i]].doc, "checked"), k, v)
            if (json_is_string(v) && !dbk_checklist_has(ids, json_string_value(v)))
                json_array_append(ids, v);
    }
    json_array_foreach(ids, k, v) {
        const char *id = json_string_value(v);
        const dbk_ck_item *it = dbk_checklist_item(ck, id);
        int done = 0;
        for (int64_t d = a->from; d <= a->today; d++)
            done += dbk_checklist_checked_through(ck, l, id, d, a->today);
        json_array_append_new(rows, json_pack("{s:s, s:s, s:i, s:i, s:f}", "item", id, "label",
                                              it ? it->label : id, "days_checked", done, "days",
                                              (int)a->days, "rate",
                                              (double)done / (double)a->days));
    }
    json_decref(ids);
    return rows;
}

static json_t *
per_day_json(const struct acc *a)
{
    json_t *pd = json_array();
    for (long i = 0; i < a->days; i++) {
        char ds[11];
        dbk_day_format(a->from + i, ds);
        json_array_append_new(
            pd, json_pack("{s:s, s:i, s:o, s:o}", "date", ds, "count", a->n[i], "peak",
                          a->n[i] ? json_real(a->peak[i]) : json_null(), "mean",
                          a->n[i] ? json_real(a->sum[i] / a->n[i]) : json_null()));
    }
    return pd;
}

/* The triggers (the top few), the coping strategies and the cravings that ended in use. */
static void
lists_json(const struct acc *a, json_t **tr, json_t **co, json_t **us)
{
    *tr = json_array(), *co = json_array(), *us = json_array();
    for (size_t i = 0; i < a->trig.n && i < TOP_TRIGGERS; i++)
        json_array_append_new(*tr, json_pack("{s:s, s:s, s:i}", "kind", a->trig.v[i].kind,
                                             "value", a->trig.v[i].value, "count",
                                             a->trig.v[i].n));
    for (size_t i = 0; i < a->coping.n; i++)
        json_array_append_new(*co, json_pack("{s:s, s:i, s:i}", "strategy", a->coping.v[i].value,
                                             "uses", a->coping.v[i].n, "resisted",
                                             a->coping.v[i].resisted));
    for (size_t i = 0; i < a->nused; i++) {
        char t[DBK_ID_TEXT_LEN + 1];
        dbk_id_to_text(a->used[i].id, t);
        json_array_append_new(*us, json_pack("{s:s, s:s?, s:s?}", "id", t, "occurred_at",
                                             a->used[i].when, "substance", a->used[i].substance));
    }
}

json_t *
dbk_trends(const dbk_eu_list *l, const dbk_checklist *ck, int64_t today, long days)
{
    struct acc a;
    json_t *out = NULL, *tr, *co, *us;
    char from_s[11], to_s[11], *spark;

    if (!acc_init(&a, l->n, today, days)) {
        acc_free(&a);
        return NULL;
    }
    for (size_t i = 0; i < l->n; i++)
        acc_add(&a, &l->v[i]);
    dbk_eu_counts_sort(&a.trig);
    dbk_eu_counts_sort(&a.coping);
    if (a.nused > 0)
        qsort(a.used, a.nused, sizeof *a.used, by_when);
    if ((spark = sparkline(&a)) != NULL) {
        dbk_day_format(a.from, from_s);
        dbk_day_format(today, to_s);
        lists_json(&a, &tr, &co, &us);
        out = json_pack("{s:i, s:s, s:s, s:{s:i, s:o, s:o}, s:o, s:s, s:o, s:o, s:{s:i, s:o}, "
                        "s:o}",
                        "days", (int)days, "from", from_s, "to", to_s, "cravings", "count",
                        (int)a.count, "mean",
                        a.count ? json_real(a.total / (double)a.count) : json_null(), "peak",
                        a.count ? json_real(a.max) : json_null(), "per_day", per_day_json(&a),
                        "sparkline", spark, "triggers", tr, "coping", co, "used", "count",
                        (int)a.nused, "entries", us, "checklist", checklist_rows(ck, l, &a));
    }
    free(spark);
    acc_free(&a);
    return out;
}

/* ---- text ---- */

static void
print_num(FILE *o, double v)
{
    if (v == (double)(long)v)
        fprintf(o, "%ld", (long)v);
    else
        fprintf(o, "%.1f", v);
}

static void
text_cravings(FILE *o, const json_t *t, long days)
{
    const json_t *c = json_object_get(t, "cravings");
    json_int_t count = json_integer_value(json_object_get(c, "count"));
    const char *from = json_string_value(json_object_get(t, "from"));
    const char *to = json_string_value(json_object_get(t, "to"));

    if (count == 0) {
        fprintf(o, "Cravings: none logged in this period.\n");
        return;
    }
    fprintf(o, "Cravings  |%s|\n", json_string_value(json_object_get(t, "sparkline")));
    if (days >= 11) /* the first and last day's month-day under the line */
        fprintf(o, "           %s%*s%s\n", from + 5, (int)days - 10, "", to + 5);
    fprintf(o, "  each mark is the day's strongest craving (low \u2581 to high \u2588, 0-10); a "
               "blank is a day without one\n");
    fprintf(o, "  %lld craving%s, mean intensity %.1f, peak ", (long long)count,
            count == 1 ? "" : "s", json_real_value(json_object_get(c, "mean")));
    print_num(o, json_real_value(json_object_get(c, "peak")));
    fprintf(o, "\n");
}

static void
text_lists(FILE *o, const json_t *t)
{
    const json_t *tr = json_object_get(t, "triggers"), *co = json_object_get(t, "coping"),
                 *us = json_object_get(json_object_get(t, "used"), "entries"), *v;
    size_t i;

    if (json_array_size(tr) > 0)
        fprintf(o, "\nTop triggers\n");
    json_array_foreach(tr, i, v) {
        const char *value = json_string_value(json_object_get(v, "value"));
        fprintf(o, "  %3lld  %s", (long long)json_integer_value(json_object_get(v, "count")),
                json_string_value(json_object_get(v, "kind")));
        if (value != NULL && value[0])
            fprintf(o, ": %s", value);
        fprintf(o, "\n");
    }
    if (json_array_size(co) > 0)
        fprintf(o, "\nCoping strategies (cravings you used it with; of those, resisted)\n");
    json_array_foreach(co, i, v)
        fprintf(o, "  %-24s %3lld used  %3lld resisted\n",
                json_string_value(json_object_get(v, "strategy")),
                (long long)json_integer_value(json_object_get(v, "uses")),
                (long long)json_integer_value(json_object_get(v, "resisted")));
    if (json_array_size(us) == 0)
        return;
    fprintf(o, "\nCravings that ended in use: %zu\n", json_array_size(us));
    json_array_foreach(us, i, v) {
        const char *when = json_string_value(json_object_get(v, "occurred_at"));
        const char *what = json_string_value(json_object_get(v, "substance"));
        fprintf(o, "  %.16s  %s  (%.8s)\n", when ? when : "?", what ? what : "",
                json_string_value(json_object_get(v, "id")));
    }
    fprintf(o, "  Writing these down honestly is what lets you and your counselor plan what "
               "helps next.\n");
}

void
dbk_trends_text(FILE *o, const json_t *t)
{
    long days = (long)json_integer_value(json_object_get(t, "days"));
    const json_t *c;
    size_t i;

    fprintf(o, "Your last %ld day%s (%s to %s)\n\n", days, days == 1 ? "" : "s",
            json_string_value(json_object_get(t, "from")),
            json_string_value(json_object_get(t, "to")));
    text_cravings(o, t, days);
    text_lists(o, t);
    fprintf(o, "\nChecklist (days done of %ld)\n", days);
    json_array_foreach(json_object_get(t, "checklist"), i, c)
        fprintf(o, "  %-24s %3lld  %3.0f%%\n", json_string_value(json_object_get(c, "item")),
                (long long)json_integer_value(json_object_get(c, "days_checked")),
                json_real_value(json_object_get(c, "rate")) * 100.0);
}
