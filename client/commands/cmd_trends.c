/*
 * daybook trends [--days N]: what a counselor looks at, for the client first.
 * Over the last N local days (today included): craving intensity per day as a
 * sparkline, count / mean / peak, the top triggers, which coping strategies were
 * followed by resisting, the cravings that ended in use (listed plainly), and
 * the checklist completion per item. Intensities are put on the 0-10 scale
 * (1-100 values divided by 10). --json gives the same figures as numbers.
 */
#include "cmd.h"
#include "daycount.h"
#include "entries.h"
#include "checklist.h"
#include "counts.h"
#include "output.h"

#include "dbk/error.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAYS_DEFAULT 28
#define DAYS_MAX 3660
#define TOP_TRIGGERS 5

static const char *const blocks[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                     "\u2585", "\u2586", "\u2587", "\u2588"};

struct used {
    const char *when, *substance;
    const dbk_id *id;
};

static int
by_when(const void *a, const void *b)
{
    return strcmp(((const struct used *)a)->when, ((const struct used *)b)->when);
}

static void
print_num(double v)
{
    if (v == (double)(long)v)
        printf("%ld", (long)v);
    else
        printf("%.1f", v);
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"days", required_argument, NULL, 'd'},
                                         {NULL, 0, NULL, 0}};
    long days = DAYS_DEFAULT;
    dbk_session s;
    dbk_eu_list l;
    dbk_checklist ck;
    dbk_eu_counts trig = {0}, coping = {0};
    struct used *used = NULL;
    size_t nused = 0, count = 0;
    int *per_n = NULL;
    double *per_sum = NULL, *per_peak = NULL, sum = 0, peak = 0;
    int64_t today, from;
    char from_s[11], to_s[11];
    int opt, rc, ret = DBK_EXIT_OK;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        if (opt != 'd')
            goto usage;
        days = strtol(optarg, &end, 10);
        if (*end != '\0' || days < 1 || days > DAYS_MAX)
            goto usage;
    }
    if (optind != argc)
        goto usage;

    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_fail("no profile yet: run 'daybook init'", rc);
    if ((rc = dbk_eu_load(&s, &l)) != DBK_OK) {
        dbk_session_close(&s);
        return dbk_cmd_fail("cannot read your entries", rc);
    }
    if ((rc = dbk_checklist_build(&s, &l, &ck)) != DBK_OK) {
        dbk_eu_free(&l);
        dbk_session_close(&s);
        return dbk_cmd_fail("cannot read your checklist", rc);
    }
    dbk_out_warn_unopened(&l);
    today = dbk_eu_today();
    from = today - days + 1;
    dbk_day_format(from, from_s);
    dbk_day_format(today, to_s);
    per_n = calloc((size_t)days, sizeof *per_n);
    per_sum = calloc((size_t)days, sizeof *per_sum);
    per_peak = calloc((size_t)days, sizeof *per_peak);
    used = calloc(l.n + 1, sizeof *used);
    if (per_n == NULL || per_sum == NULL || per_peak == NULL || used == NULL) {
        ret = dbk_cmd_fail("cannot compute your trends", DBK_E_NOMEM);
        goto out;
    }

    for (size_t i = 0; i < l.n; i++) {
        const dbk_eu_entry *e = &l.v[i];
        const char *result;
        int64_t d;
        double v;
        if (!e->mine || strcmp(e->type, "craving") != 0 || !dbk_eu_entry_day(e->doc, &d) ||
            d < from || d > today || !dbk_eu_intensity10(e->doc, &v))
            continue;
        size_t di = (size_t)(d - from);
        count++;
        sum += v;
        if (count == 1 || v > peak)
            peak = v;
        if (per_n[di] == 0 || v > per_peak[di])
            per_peak[di] = v;
        per_n[di]++;
        per_sum[di] += v;
        dbk_eu_count_triggers(&trig, json_object_get(e->doc, "triggers"));
        dbk_eu_count_coping(&coping, e->doc);
        result = dbk_eu_outcome(e->doc);
        if (result != NULL && strcmp(result, "used") == 0) {
            used[nused].when = json_string_value(json_object_get(e->doc, "occurred_at"));
            used[nused].substance = json_string_value(
                json_object_get(json_object_get(json_object_get(e->doc, "outcome"), "used"),
                                "substance"));
            used[nused++].id = &e->hdr.record;
        }
    }
    dbk_eu_counts_sort(&trig);
    dbk_eu_counts_sort(&coping);
    if (nused > 0)
        qsort(used, nused, sizeof *used, by_when);

    /* The sparkline: each day's strongest craving; a blank when there was none. */
    char *spark = malloc((size_t)days * 4 + 1);
    if (spark == NULL) {
        ret = dbk_cmd_fail("cannot compute your trends", DBK_E_NOMEM);
        goto out;
    }
    spark[0] = '\0';
    for (long i = 0; i < days; i++) {
        if (per_n[i] == 0) {
            strcat(spark, " ");
        } else {
            int level = (int)(per_peak[i] * 7.0 / 10.0 + 0.5);
            strcat(spark, blocks[level < 0 ? 0 : level > 7 ? 7 : level]);
        }
    }

    /* Checklist items: the active ones, and any other id checked in the period. */
    json_t *cl = json_array();
    {
        json_t *ids = json_array(), *v;
        size_t k;
        for (size_t i = 0; i < ck.nitems; i++)
            if (ck.items[i].active)
                json_array_append_new(ids, json_string(ck.items[i].id));
        for (size_t i = 0; i < ck.ndays; i++) {
            if (ck.day[i] < from || ck.day[i] > today)
                continue;
            json_array_foreach(json_object_get(l.v[ck.days[i]].doc, "checked"), k, v)
                if (json_is_string(v) && !dbk_checklist_has(ids, json_string_value(v)))
                    json_array_append(ids, v);
        }
        json_array_foreach(ids, k, v) {
            const char *id = json_string_value(v);
            const dbk_ck_item *it = dbk_checklist_item(&ck, id);
            int done = 0;
            for (int64_t d = from; d <= today; d++)
                done += dbk_checklist_checked(&ck, &l, id, d);
            json_array_append_new(cl, json_pack("{s:s, s:s, s:i, s:i, s:f}", "item", id,
                                                "label", it ? it->label : id, "days_checked",
                                                done, "days", (int)days, "rate",
                                                (double)done / (double)days));
        }
        json_decref(ids);
    }

    if (ctx->json) {
        json_t *out, *pd = json_array(), *tr = json_array(), *co = json_array(),
                      *us = json_array();
        for (long i = 0; i < days; i++) {
            char ds[11];
            dbk_day_format(from + i, ds);
            json_array_append_new(
                pd, json_pack("{s:s, s:i, s:o, s:o}", "date", ds, "count", per_n[i], "peak",
                              per_n[i] ? json_real(per_peak[i]) : json_null(), "mean",
                              per_n[i] ? json_real(per_sum[i] / per_n[i]) : json_null()));
        }
        for (size_t i = 0; i < trig.n && i < TOP_TRIGGERS; i++)
            json_array_append_new(tr, json_pack("{s:s, s:s, s:i}", "kind", trig.v[i].kind,
                                                "value", trig.v[i].value, "count", trig.v[i].n));
        for (size_t i = 0; i < coping.n; i++)
            json_array_append_new(co, json_pack("{s:s, s:i, s:i}", "strategy", coping.v[i].value,
                                                "uses", coping.v[i].n, "resisted",
                                                coping.v[i].resisted));
        for (size_t i = 0; i < nused; i++) {
            char t[DBK_ID_TEXT_LEN + 1];
            dbk_id_to_text(used[i].id, t);
            json_array_append_new(us, json_pack("{s:s, s:s?, s:s?}", "id", t, "occurred_at",
                                                 used[i].when, "substance", used[i].substance));
        }
        out = json_pack("{s:i, s:s, s:s, s:{s:i, s:o, s:o}, s:o, s:s, s:o, s:o, s:{s:i, s:o}, "
                        "s:O}",
                        "days", (int)days, "from", from_s, "to", to_s, "cravings", "count",
                        (int)count, "mean", count ? json_real(sum / (double)count) : json_null(),
                        "peak", count ? json_real(peak) : json_null(), "per_day", pd, "sparkline",
                        spark, "triggers", tr, "coping", co, "used", "count", (int)nused,
                        "entries", us, "checklist", cl);
        dbk_out_json(stdout, out);
        json_decref(out);
    } else {
        size_t i;
        json_t *c;
        printf("Your last %ld day%s (%s to %s)\n\n", days, days == 1 ? "" : "s", from_s, to_s);
        if (count == 0) {
            printf("Cravings: none logged in this period.\n");
        } else {
            printf("Cravings  |%s|\n", spark);
            if (days >= 11) /* the first and last day's month-day under the line */
                printf("           %s%*s%s\n", from_s + 5, (int)days - 10, "", to_s + 5);
            printf("  each mark is the day's strongest craving (low \u2581 to high \u2588, "
                   "0-10); a blank is a day without one\n");
            printf("  %zu craving%s, mean intensity %.1f, peak ", count, count == 1 ? "" : "s",
                   sum / (double)count);
            print_num(peak);
            printf("\n");
        }
        if (trig.n > 0) {
            printf("\nTop triggers\n");
            for (i = 0; i < trig.n && i < TOP_TRIGGERS; i++) {
                printf("  %3d  %s", trig.v[i].n, trig.v[i].kind);
                if (trig.v[i].value[0])
                    printf(": %s", trig.v[i].value);
                printf("\n");
            }
        }
        if (coping.n > 0) {
            printf("\nCoping strategies (cravings you used it with; of those, resisted)\n");
            for (i = 0; i < coping.n; i++)
                printf("  %-24s %3d used  %3d resisted\n", coping.v[i].value, coping.v[i].n,
                       coping.v[i].resisted);
        }
        if (nused > 0) {
            printf("\nCravings that ended in use: %zu\n", nused);
            for (i = 0; i < nused; i++) {
                char t[DBK_ID_TEXT_LEN + 1];
                dbk_id_to_text(used[i].id, t);
                printf("  %.16s  %s  (%.8s)\n", used[i].when ? used[i].when : "?",
                       used[i].substance ? used[i].substance : "", t);
            }
            printf("  Writing these down honestly is what lets you and your counselor plan "
                   "what helps next.\n");
        }
        printf("\nChecklist (days done of %ld)\n", days);
        json_array_foreach(cl, i, c)
            printf("  %-24s %3lld  %3.0f%%\n", json_string_value(json_object_get(c, "item")),
                   (long long)json_integer_value(json_object_get(c, "days_checked")),
                   json_real_value(json_object_get(c, "rate")) * 100.0);
    }
    json_decref(cl);
    free(spark);
    goto out;
usage:
    fprintf(stderr, "usage: daybook trends [--days N]   (N from 1 to %d; default %d)\n", DAYS_MAX,
            DAYS_DEFAULT);
    return DBK_EXIT_USAGE;
out:
    free(per_n);
    free(per_sum);
    free(per_peak);
    free(used);
    dbk_eu_counts_free(&trig);
    dbk_eu_counts_free(&coping);
    dbk_checklist_free(&ck);
    dbk_eu_free(&l);
    dbk_session_close(&s);
    return ret;
}

const dbk_cmd dbk_cmd_trends = {
    .name = "trends",
    .usage = "daybook trends [--days N]",
    .summary = "cravings, triggers, what helped and checklist completion over recent days",
    .client_only = true,
    .run = run,
};
