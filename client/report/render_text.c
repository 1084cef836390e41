/*
 * The review as text for a terminal: 80 columns, the sections in the order a
 * CBT session reviews them (cmd_review.c), from the JSON that review.c computes.
 */
#include "render.h"
#include "review.h"

#include <string.h>

const char dbk_report_notice[] =
    "42 CFR part 2 prohibits unauthorized use or disclosure of these records.";

#define WIDTH 80
#define STRIP_MAX 64 /* days shown in a text strip */

/* Display columns of UTF-8 text (code points; wide characters count one). */
static size_t
cols(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n && s[i]; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* Prints at most max columns of s, with "..." when cut. */
static void
put_trunc(FILE *o, const char *s, size_t max)
{
    size_t n = strlen(s), c = 0, i;
    if (cols(s, n) <= max) {
        fputs(s, o);
        return;
    }
    for (i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80 && ++c > max - 3)
            break;
    }
    fwrite(s, 1, i, o);
    fputs("...", o);
}

/* Prints text wrapped to WIDTH with indent spaces before each line. */
static void
put_wrapped(FILE *o, const char *text, int indent)
{
    size_t width = WIDTH - (size_t)indent;
    const char *p = text;
    while (*p) {
        size_t line = strcspn(p, "\n");
        const char *q = p, *end = p + line;
        if (line == 0)
            fputc('\n', o);
        while (q < end) {
            /* The longest run of words that fits; a word too long is cut. */
            const char *brk = NULL, *r = q;
            size_t c = 0;
            while (r < end) {
                if (((unsigned char)*r & 0xC0) != 0x80) {
                    if (c == width)
                        break;
                    c++;
                }
                if (*r == ' ')
                    brk = r;
                r++;
            }
            if (r < end && brk != NULL && brk > q)
                r = brk;
            fprintf(o, "%*s", indent, "");
            fwrite(q, 1, (size_t)(r - q), o);
            fputc('\n', o);
            q = r;
            while (q < end && *q == ' ')
                q++;
        }
        p = *end ? end + 1 : end;
    }
}

static void
put_num(FILE *o, const json_t *v)
{
    double d = json_number_value(v);
    if (!json_is_number(v))
        fputs("-", o);
    else if (d == (double)(long)d)
        fprintf(o, "%ld", (long)d);
    else
        fprintf(o, "%.1f", d);
}

static const char *
S(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static long long
I(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

/* A strip of one character per day for the last STRIP_MAX days, with dates under it. */
static void
put_strip(FILE *o, const char *label, const json_t *per_day, const char *(*mark)(const json_t *))
{
    size_t n = json_array_size(per_day), first = n > STRIP_MAX ? n - STRIP_MAX : 0;
    fprintf(o, "  %-9s|", label);
    for (size_t i = first; i < n; i++)
        fputs(mark(json_array_get(per_day, i)), o);
    fprintf(o, "|\n");
    if (n - first >= 11)
        fprintf(o, "  %-9s %s%*s%s\n", "", S(json_array_get(per_day, first), "date") + 5,
                (int)(n - first) - 10, "", S(json_array_get(per_day, n - 1), "date") + 5);
    if (first > 0)
        fprintf(o, "  (the last %d days of the period)\n", STRIP_MAX);
}

static const char *
mark_entry(const json_t *d)
{
    return I(d, "entries") > 0 ? "\u25a0" : "\u00b7";
}

static const char *
mark_checked(const json_t *d)
{
    static const char *const digits[] = {"\u00b7", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    long long n = I(d, "checked");
    return n <= 0 ? digits[0] : n <= 9 ? digits[n] : "+";
}

void
dbk_report_text(FILE *o, const json_t *r)
{
    const json_t *cl = json_object_get(r, "client"), *p = json_object_get(r, "period"),
                 *la = json_object_get(r, "lapses"), *en = json_object_get(r, "engagement"),
                 *cr = json_object_get(r, "cravings"), *ck = json_object_get(r, "checklist"),
                 *x;
    size_t i;

    fprintf(o, "%s\n\n", dbk_report_notice);
    fprintf(o, "Review of ");
    put_trunc(o, S(cl, "label"), 24);
    fprintf(o, " (%.8s), %s to %s, %lld day%s\n", S(cl, "account"), S(p, "from"), S(p, "to"),
            I(p, "days"), I(p, "days") == 1 ? "" : "s");
    if (strcmp(S(p, "since"), "last-session") == 0)
        fprintf(o, "since the last session (%.16s)\n", S(p, "last_session"));
    else if (strcmp(S(p, "since"), "default") == 0)
        fprintf(o, "no session marked yet: the last %d days\n", DBK_REVIEW_DEFAULT_DAYS);

    /* 1. Reported use, first. */
    fprintf(o, "\n");
    if (I(la, "count") == 0) {
        fprintf(o, "REPORTED USE: none in this period\n");
    } else {
        fprintf(o, "!! REPORTED USE: %lld craving%s ended in use\n", I(la, "count"),
                I(la, "count") == 1 ? "" : "s");
        json_array_foreach(json_object_get(la, "entries"), i, x) {
            fprintf(o, "   %.16s  intensity ", S(x, "occurred_at"));
            put_num(o, json_object_get(x, "intensity"));
            fprintf(o, "/10  ");
            put_trunc(o, json_is_string(json_object_get(x, "substance")) ? S(x, "substance")
                                                                         : "(not said)",
                      40);
            fprintf(o, "\n");
        }
    }

    /* 2. Engagement. */
    fprintf(o, "\nENGAGEMENT: entries on %lld of %lld days (%.0f%%)\n",
            I(en, "days_with_entries"), I(en, "days"),
            json_real_value(json_object_get(en, "rate")) * 100.0);
    put_strip(o, "days", json_object_get(en, "calendar"), mark_entry);
    fprintf(o, "  last entry: %s\n",
            json_is_string(json_object_get(en, "last_entry_at")) ? S(en, "last_entry_at")
                                                                  : "none yet");

    /* 3. Cravings. */
    const json_t *tr = json_object_get(cr, "trend");
    fprintf(o, "\nCRAVINGS: %lld", I(cr, "count"));
    if (I(cr, "count") > 0) {
        fprintf(o, ", mean ");
        fprintf(o, "%.1f", json_number_value(json_object_get(cr, "mean")));
        fprintf(o, ", peak ");
        put_num(o, json_object_get(cr, "peak"));
        fprintf(o, " (0-10)\n");
        {
            /* The sparkline: each day's peak, for the last STRIP_MAX days. */
            const char *sp = S(cr, "sparkline");
            size_t n = json_array_size(json_object_get(cr, "per_day"));
            size_t skip = n > STRIP_MAX ? n - STRIP_MAX : 0;
            while (skip > 0 && *sp) { /* skip whole code points */
                sp++;
                while (((unsigned char)*sp & 0xC0) == 0x80)
                    sp++;
                skip--;
            }
            fprintf(o, "  %-9s|%s|\n", "peak/day", sp);
            fprintf(o, "  each mark is the day's strongest craving (\u2581 low to \u2588 high); "
                       "blank: none\n");
        }
        json_array_foreach(json_object_get(cr, "per_day"), i, x) {
            if (I(x, "count") == 0)
                continue;
            fprintf(o, "  %s  %2lld craving%s  mean %4.1f  peak ", S(x, "date"), I(x, "count"),
                    I(x, "count") == 1 ? " " : "s", json_number_value(json_object_get(x, "mean")));
            put_num(o, json_object_get(x, "peak"));
            fprintf(o, "\n");
        }
    } else {
        fprintf(o, " logged in this period\n");
    }
    fprintf(o, "  trend: previous %lld days (%s to %s): %lld craving%s", I(p, "days"),
            S(tr, "previous_from"), S(tr, "previous_to"), I(tr, "previous_count"),
            I(tr, "previous_count") == 1 ? "" : "s");
    if (I(tr, "previous_count") > 0)
        fprintf(o, ", mean %.1f", json_number_value(json_object_get(tr, "previous_mean")));
    fprintf(o, "\n  now: %+lld craving%s", I(tr, "count_change"),
            I(tr, "count_change") == 1 || I(tr, "count_change") == -1 ? "" : "s");
    if (json_is_number(json_object_get(tr, "mean_change")))
        fprintf(o, ", mean %+.1f (%s)", json_number_value(json_object_get(tr, "mean_change")),
                S(tr, "mean_direction"));
    fprintf(o, "\n");
    if (json_array_size(json_object_get(cr, "triggers")) > 0) {
        fprintf(o, "  top triggers:\n");
        json_array_foreach(json_object_get(cr, "triggers"), i, x) {
            fprintf(o, "    %3lld  %s", I(x, "count"), S(x, "kind"));
            if (S(x, "value")[0]) {
                fprintf(o, ": ");
                put_trunc(o, S(x, "value"), WIDTH - 12 - strlen(S(x, "kind")));
            }
            fprintf(o, "\n");
        }
    }
    {
        const json_t *h = json_object_get(cr, "halt");
        fprintf(o, "  HALT: hungry %lld, angry %lld, lonely %lld, tired %lld\n", I(h, "hungry"),
                I(h, "angry"), I(h, "lonely"), I(h, "tired"));
    }
    if (json_array_size(json_object_get(cr, "coping")) > 0) {
        fprintf(o, "  coping (cravings it was used with; of those, resisted):\n");
        json_array_foreach(json_object_get(cr, "coping"), i, x) {
            fprintf(o, "    ");
            put_trunc(o, S(x, "strategy"), 40);
            fprintf(o, "%*s %3lld used  %3lld resisted\n",
                    (int)(40 - cols(S(x, "strategy"), 40) > 0 ? 40 - cols(S(x, "strategy"), 40)
                                                              : 0),
                    "", I(x, "uses"), I(x, "resisted"));
        }
    }

    /* 4. Checklist. */
    fprintf(o, "\nCHECKLIST (days done of %lld; streak: days in a row up to %s)\n", I(p, "days"),
            S(p, "to"));
    json_array_foreach(json_object_get(ck, "items"), i, x) {
        fprintf(o, "  %-24.24s %3lld  %3.0f%%  streak %lld%s\n", S(x, "item"),
                I(x, "days_checked"), json_real_value(json_object_get(x, "rate")) * 100.0,
                I(x, "streak"), strcmp(S(x, "source"), "counselor") == 0 ? "  (assigned)" : "");
    }
    put_strip(o, "done/day", json_object_get(ck, "per_day"), mark_checked);
    if (json_array_size(json_object_get(ck, "assigned_not_practised")) > 0) {
        fprintf(o, "  assigned, not practised:");
        json_array_foreach(json_object_get(ck, "assigned_not_practised"), i, x)
            fprintf(o, "%s %s", i ? "," : "", json_string_value(x));
        fprintf(o, "\n");
    }

    /* 5. Journal, in full. */
    fprintf(o, "\nJOURNAL (shared, newest first): %zu\n",
            json_array_size(json_object_get(r, "journal")));
    json_array_foreach(json_object_get(r, "journal"), i, x) {
        fprintf(o, "  -- %s", S(x, "written_at"));
        if (json_is_integer(json_object_get(x, "mood")))
            fprintf(o, "  mood %lld/5", I(x, "mood"));
        fprintf(o, "\n");
        put_wrapped(o, S(x, "text"), 4);
    }

    /* 6. The counselor's notes. */
    fprintf(o, "\nYOUR NOTES (newest first): %zu\n", json_array_size(json_object_get(r, "notes")));
    json_array_foreach(json_object_get(r, "notes"), i, x) {
        fprintf(o, "  -- %s%s\n", S(x, "written_at"),
                json_is_true(json_object_get(x, "pending")) ? "  (not synced yet)" : "");
        put_wrapped(o, S(x, "text"), 4);
    }
}

/* ---- HTML ---- */
