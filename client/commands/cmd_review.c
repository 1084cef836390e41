/*
 * daybook review CLIENT [--since last-session|YYYY-MM-DD] [--format text|json|html]
 *                       [--out FILE]
 *
 * The counselor's pre-session picture of the client's days, from what the client
 * shares (after 'daybook sync'), in the order a CBT session reviews it
 * (DOMAIN.md): reported use first; engagement (days with an entry, a calendar
 * strip); cravings (count, mean and peak intensity per day, trend against the
 * previous period of equal length, top triggers, HALT, which coping strategies
 * were followed by resisting); the checklist (per skill and per day, streaks,
 * assigned skills not practised); the journal entries shared, newest first, in
 * full; the counselor's own notes, newest first.
 *
 * The period starts on the day of the last 'daybook session done CLIENT' (or
 * --since DATE; without a marker, the last 7 days) and ends today. Days are
 * local calendar days; intensities are on the 0-10 scale. The figures are
 * computed once (counselor.c) and rendered as text (80 columns), JSON or one
 * self-contained HTML file (inline CSS and SVG, no scripts, nothing fetched),
 * which carries the 42 CFR Part 2 redisclosure notice at the top. --out writes
 * the file with mode 0600: it holds health records.
 *
 * The review is refused when the client has revoked (or let expire) the
 * counselor's access, as the caseload says (or, offline, as it last said).
 */
#include "cmd.h"
#include "counselor.h"
#include "daycount.h"
#include "output.h"
#include "resolve.h"

#include "dbk/error.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WIDTH 80
#define STRIP_MAX 64 /* days shown in a text strip */

static const char notice[] =
    "42 CFR part 2 prohibits unauthorized use or disclosure of these records.";

/* ---- text ---- */

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

static void
render_text(FILE *o, const json_t *r)
{
    const json_t *cl = json_object_get(r, "client"), *p = json_object_get(r, "period"),
                 *la = json_object_get(r, "lapses"), *en = json_object_get(r, "engagement"),
                 *cr = json_object_get(r, "cravings"), *ck = json_object_get(r, "checklist"),
                 *x;
    size_t i;

    fprintf(o, "%s\n\n", notice);
    fprintf(o, "Review of ");
    put_trunc(o, S(cl, "label"), 24);
    fprintf(o, " (%.8s), %s to %s, %lld day%s\n", S(cl, "account"), S(p, "from"), S(p, "to"),
            I(p, "days"), I(p, "days") == 1 ? "" : "s");
    if (strcmp(S(p, "since"), "last-session") == 0)
        fprintf(o, "since the last session (%.16s)\n", S(p, "last_session"));
    else if (strcmp(S(p, "since"), "default") == 0)
        fprintf(o, "no session marked yet: the last %d days\n", DBK_CO_DEFAULT_DAYS);

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
        fprintf(o, "  -- %s%s%s\n", S(x, "written_at"),
                json_is_true(json_object_get(x, "shared")) ? "  (shared with the client)"
                                                           : "  (your own record)",
                json_is_true(json_object_get(x, "pending")) ? "  (not synced yet)" : "");
        put_wrapped(o, S(x, "text"), 4);
    }
}

/* ---- HTML ---- */

static void
esc(FILE *o, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", o); break;
        case '<': fputs("&lt;", o); break;
        case '>': fputs("&gt;", o); break;
        case '"': fputs("&quot;", o); break;
        case '\'': fputs("&#39;", o); break;
        default: fputc(*s, o);
        }
    }
}

static const char css[] =
    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1b1b1b;"
    "max-width:60rem;margin:1.5rem auto;padding:0 1rem}"
    "h1{font-size:1.5rem;margin:.5rem 0}h2{font-size:1.15rem;border-bottom:1px solid #ccc;"
    "margin-top:1.8rem}"
    ".notice{border:2px solid #1b1b1b;padding:.5rem .8rem;font-weight:600}"
    ".lapse{border:3px solid #b00020;background:#fdecee;padding:.6rem 1rem}"
    ".lapse h2{color:#b00020;border:0;margin-top:.2rem}.ok{color:#2e7d32}"
    "table{border-collapse:collapse;margin:.4rem 0}td,th{padding:.2rem .7rem;text-align:left;"
    "border-bottom:1px solid #e3e3e3}td.n,th.n{text-align:right}"
    ".muted{color:#555}article{border-left:3px solid #8aa;padding:.2rem .8rem;margin:.8rem 0;"
    "white-space:pre-wrap;break-inside:avoid}article header{font-size:.85rem;color:#555;"
    "white-space:normal}svg{max-width:100%;height:auto}"
    ".day-on{fill:#2e7d32}.day-off{fill:#e0e0e0}.peak{fill:#c62828}.mean{fill:none;"
    "stroke:#1565c0;stroke-width:2}.grid{stroke:#ddd}.axis{font-size:11px;fill:#555}"
    "@media print{body{margin:0;max-width:none;font-size:11pt}h2{break-after:avoid}"
    "*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}";

static void
html_calendar(FILE *o, const json_t *cal)
{
    size_t n = json_array_size(cal), i, cell = n > 0 && 600 / n > 14 ? 600 / n : 14, w;
    if (cell > 40)
        cell = 40;
    w = n * cell > 200 ? n * cell : 200;
    json_t *x;
    fprintf(o, "<svg id=\"calendar\" role=\"img\" aria-label=\"days with entries\" "
               "width=\"%zu\" height=\"34\" viewBox=\"0 0 %zu 34\">",
            w, w);
    json_array_foreach(cal, i, x) {
        fprintf(o, "<rect class=\"%s\" x=\"%zu\" y=\"2\" width=\"%zu\" height=\"14\"><title>%s: "
                   "%lld entr%s</title></rect>",
                I(x, "entries") > 0 ? "day-on" : "day-off", i * cell + 1, cell - 2, S(x, "date"),
                I(x, "entries"), I(x, "entries") == 1 ? "y" : "ies");
    }
    if (n > 0)
        fprintf(o, "<text class=\"axis\" x=\"1\" y=\"30\">%s</text>"
                   "<text class=\"axis\" x=\"%zu\" y=\"30\" text-anchor=\"end\">%s</text>",
                S(json_array_get(cal, 0), "date"), w - 1, S(json_array_get(cal, n - 1), "date"));
    fprintf(o, "</svg>\n");
}

/* Peak per day as points, mean per day as a line, on 0-10. */
static void
html_craving_chart(FILE *o, const json_t *per_day)
{
    size_t n = json_array_size(per_day), i;
    double left = 34, right = 10, top = 10, h = 160, w = 700;
    double step = n > 1 ? (w - left - right) / (double)(n - 1) : 0;
    json_t *x;
    bool first = true;

    fprintf(o, "<svg id=\"cravings-chart\" role=\"img\" aria-label=\"craving intensity per "
               "day: peak as dots, mean as a line\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\">",
            w, top + h + 30, w, top + h + 30);
    for (int g = 0; g <= 10; g += 5) {
        double y = top + h - h * g / 10.0;
        fprintf(o, "<line class=\"grid\" x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\"/>"
                   "<text class=\"axis\" x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%d</text>",
                left, y, w - right, y, left - 6, y + 4, g);
    }
    fprintf(o, "<polyline class=\"mean\" points=\"");
    json_array_foreach(per_day, i, x) {
        if (I(x, "count") == 0)
            continue;
        double cx = n > 1 ? left + step * (double)i : (left + w - right) / 2;
        fprintf(o, "%s%.1f,%.1f", first ? "" : " ", cx,
                top + h - h * json_number_value(json_object_get(x, "mean")) / 10.0);
        first = false;
    }
    fprintf(o, "\"/>");
    json_array_foreach(per_day, i, x) {
        if (I(x, "count") == 0)
            continue;
        double cx = n > 1 ? left + step * (double)i : (left + w - right) / 2;
        double pk = json_number_value(json_object_get(x, "peak"));
        fprintf(o, "<circle class=\"peak\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\"><title>%s: %lld "
                   "craving%s, mean %.1f, peak %g</title></circle>",
                cx, top + h - h * pk / 10.0, S(x, "date"), I(x, "count"),
                I(x, "count") == 1 ? "" : "s", json_number_value(json_object_get(x, "mean")),
                pk);
    }
    if (n > 0)
        fprintf(o, "<text class=\"axis\" x=\"%.0f\" y=\"%.0f\">%s</text><text class=\"axis\" "
                   "x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%s</text>",
                left, top + h + 20, S(json_array_get(per_day, 0), "date"), w - right,
                top + h + 20, S(json_array_get(per_day, n - 1), "date"));
    fprintf(o, "</svg>\n");
}

static void
html_num(FILE *o, const json_t *v)
{
    if (!json_is_number(v))
        fputs("&ndash;", o);
    else
        fprintf(o, "%g", (double)(long)(json_number_value(v) * 10 + 0.5) / 10.0);
}

static void
render_html(FILE *o, const json_t *r)
{
    const json_t *cl = json_object_get(r, "client"), *p = json_object_get(r, "period"),
                 *la = json_object_get(r, "lapses"), *en = json_object_get(r, "engagement"),
                 *cr = json_object_get(r, "cravings"), *ck = json_object_get(r, "checklist"),
                 *tr = json_object_get(cr, "trend"), *h = json_object_get(cr, "halt"), *x;
    size_t i;

    fprintf(o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
               "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
               "style-src 'unsafe-inline'; img-src data:\">"
               "<title>Review: ");
    esc(o, S(cl, "label"));
    fprintf(o, " %s to %s</title><style>%s</style></head><body>\n", S(p, "from"), S(p, "to"), css);
    fprintf(o, "<p class=\"notice\" id=\"notice\">%s</p>\n", notice);
    fprintf(o, "<h1>Review of ");
    esc(o, S(cl, "label"));
    fprintf(o, " <span class=\"muted\">(%.8s)</span></h1>\n<p>%s to %s, %lld day%s; ",
            S(cl, "account"), S(p, "from"), S(p, "to"), I(p, "days"), I(p, "days") == 1 ? "" : "s");
    if (strcmp(S(p, "since"), "last-session") == 0)
        fprintf(o, "since the last session (%.16s).</p>\n", S(p, "last_session"));
    else if (strcmp(S(p, "since"), "default") == 0)
        fprintf(o, "no session marked yet: the last %d days.</p>\n", DBK_CO_DEFAULT_DAYS);
    else
        fprintf(o, "from the date asked for.</p>\n");

    if (I(la, "count") > 0) {
        fprintf(o, "<section class=\"lapse\" id=\"lapses\"><h2>Reported use: %lld craving%s "
                   "ended in use</h2><table><tr><th>When</th><th class=\"n\">Intensity</th>"
                   "<th>What</th><th>Situation</th></tr>",
                I(la, "count"), I(la, "count") == 1 ? "" : "s");
        json_array_foreach(json_object_get(la, "entries"), i, x) {
            fprintf(o, "<tr class=\"lapse-row\"><td>%.16s</td><td class=\"n\">",
                    S(x, "occurred_at"));
            html_num(o, json_object_get(x, "intensity"));
            fprintf(o, "/10</td><td>");
            esc(o, json_is_string(json_object_get(x, "substance")) ? S(x, "substance")
                                                                   : "(not said)");
            fprintf(o, "</td><td>");
            esc(o, S(x, "situation"));
            fprintf(o, "</td></tr>");
        }
        fprintf(o, "</table></section>\n");
    } else {
        fprintf(o, "<section id=\"lapses\"><h2>Reported use</h2><p class=\"ok\">None in this "
                   "period.</p></section>\n");
    }

    fprintf(o, "<section id=\"engagement\"><h2>Engagement</h2><p>Entries on <b>%lld</b> of "
               "%lld days (%.0f%%). Last entry: %s.</p>\n",
            I(en, "days_with_entries"), I(en, "days"),
            json_real_value(json_object_get(en, "rate")) * 100.0,
            json_is_string(json_object_get(en, "last_entry_at")) ? S(en, "last_entry_at")
                                                                  : "none yet");
    html_calendar(o, json_object_get(en, "calendar"));
    fprintf(o, "</section>\n");

    fprintf(o, "<section id=\"cravings\"><h2>Cravings</h2><p><b>%lld</b> craving%s", I(cr, "count"),
            I(cr, "count") == 1 ? "" : "s");
    if (I(cr, "count") > 0) {
        fprintf(o, ", mean intensity ");
        html_num(o, json_object_get(cr, "mean"));
        fprintf(o, ", peak ");
        html_num(o, json_object_get(cr, "peak"));
        fprintf(o, " (0-10)");
    }
    fprintf(o, ". Previous %lld days (%s to %s): %lld craving%s", I(p, "days"),
            S(tr, "previous_from"), S(tr, "previous_to"), I(tr, "previous_count"),
            I(tr, "previous_count") == 1 ? "" : "s");
    if (I(tr, "previous_count") > 0) {
        fprintf(o, ", mean ");
        html_num(o, json_object_get(tr, "previous_mean"));
    }
    fprintf(o, "; mean now: %s.</p>\n", S(tr, "mean_direction"));
    html_craving_chart(o, json_object_get(cr, "per_day"));
    fprintf(o, "<p class=\"muted\">Dots: each day's strongest craving; line: the day's mean.</p>");
    if (json_array_size(json_object_get(cr, "triggers")) > 0) {
        fprintf(o, "<h3>Top triggers</h3><table id=\"triggers\"><tr><th>Kind</th><th>Trigger</th>"
                   "<th class=\"n\">Cravings</th></tr>");
        json_array_foreach(json_object_get(cr, "triggers"), i, x) {
            fprintf(o, "<tr><td>");
            esc(o, S(x, "kind"));
            fprintf(o, "</td><td>");
            esc(o, S(x, "value"));
            fprintf(o, "</td><td class=\"n\">%lld</td></tr>", I(x, "count"));
        }
        fprintf(o, "</table>\n");
    }
    fprintf(o, "<h3>HALT</h3><table id=\"halt\"><tr><th>Hungry</th><th>Angry</th><th>Lonely</th>"
               "<th>Tired</th></tr><tr><td>%lld</td><td>%lld</td><td>%lld</td><td>%lld</td></tr>"
               "</table>\n",
            I(h, "hungry"), I(h, "angry"), I(h, "lonely"), I(h, "tired"));
    if (json_array_size(json_object_get(cr, "coping")) > 0) {
        fprintf(o, "<h3>Coping strategies</h3><table id=\"coping\"><tr><th>Strategy</th>"
                   "<th class=\"n\">Used with</th><th class=\"n\">Then resisted</th></tr>");
        json_array_foreach(json_object_get(cr, "coping"), i, x) {
            fprintf(o, "<tr><td>");
            esc(o, S(x, "strategy"));
            fprintf(o, "</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td></tr>",
                    I(x, "uses"), I(x, "resisted"));
        }
        fprintf(o, "</table>\n");
    }
    fprintf(o, "</section>\n");

    fprintf(o, "<section id=\"checklist\"><h2>Checklist</h2><table><tr><th>Skill</th>"
               "<th class=\"n\">Days done</th><th class=\"n\">Rate</th><th class=\"n\">Streak"
               "</th></tr>");
    json_array_foreach(json_object_get(ck, "items"), i, x) {
        fprintf(o, "<tr><td>");
        esc(o, S(x, "label"));
        fprintf(o, "%s</td><td class=\"n\">%lld/%lld</td><td class=\"n\">%.0f%%</td>"
                   "<td class=\"n\">%lld</td></tr>",
                strcmp(S(x, "source"), "counselor") == 0 ? " <i>(assigned)</i>" : "",
                I(x, "days_checked"), I(x, "days"),
                json_real_value(json_object_get(x, "rate")) * 100.0, I(x, "streak"));
    }
    fprintf(o, "</table><p>Skills done per day:</p><table><tr>");
    json_array_foreach(json_object_get(ck, "per_day"), i, x)
        fprintf(o, "<td title=\"%s\">%lld</td>", S(x, "date"), I(x, "checked"));
    fprintf(o, "</tr></table>");
    if (json_array_size(json_object_get(ck, "assigned_not_practised")) > 0) {
        fprintf(o, "<p><b>Assigned, not practised:</b> ");
        json_array_foreach(json_object_get(ck, "assigned_not_practised"), i, x) {
            fprintf(o, "%s", i ? ", " : "");
            esc(o, json_string_value(x));
        }
        fprintf(o, "</p>");
    }
    fprintf(o, "</section>\n");

    fprintf(o, "<section id=\"journal\"><h2>Journal entries shared (%zu), newest first</h2>\n",
            json_array_size(json_object_get(r, "journal")));
    json_array_foreach(json_object_get(r, "journal"), i, x) {
        fprintf(o, "<article class=\"journal\"><header>%s", S(x, "written_at"));
        if (json_is_integer(json_object_get(x, "mood")))
            fprintf(o, " &middot; mood %lld/5", I(x, "mood"));
        fprintf(o, "</header>");
        esc(o, S(x, "text"));
        fprintf(o, "</article>\n");
    }
    fprintf(o, "</section>\n<section id=\"notes\"><h2>Your notes (%zu), newest first</h2>\n",
            json_array_size(json_object_get(r, "notes")));
    json_array_foreach(json_object_get(r, "notes"), i, x) {
        fprintf(o, "<article class=\"note\"><header>%s</header>", S(x, "written_at"));
        esc(o, S(x, "text"));
        fprintf(o, "</article>\n");
    }
    fprintf(o, "</section>\n<p class=\"notice\">%s</p>\n</body></html>\n", notice);
}

/* ---- the command ---- */

static int
usage(void)
{
    fprintf(stderr, "usage: daybook review CLIENT [--since last-session|YYYY-MM-DD] "
                    "[--format text|json|html] [--out FILE]\n");
    return DBK_EXIT_USAGE;
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"since", required_argument, NULL, 's'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"out", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    const char *since = NULL, *format = ctx->json ? "json" : "text", *outpath = NULL;
    dbk_session s;
    dbk_eu_list l;
    dbk_co_period p;
    json_t *aliases = NULL, *caseload = NULL, *rev = NULL;
    dbk_id client;
    char label[64], state[32] = "";
    int opt, rc, ret;

    const char *first = dbk_cmd_take_operand(&argc, argv, ""), *who;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 's': since = optarg; break;
        case 'f': format = optarg; break;
        case 'o': outpath = optarg; break;
        default: return usage();
        }
    }
    if ((who = dbk_cmd_operand(first, argc, argv)) == NULL ||
        (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "html")))
        return usage();
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if ((ret = dbk_require_counselor(&s, "daybook review")) != DBK_EXIT_OK) {
        dbk_session_close(&s);
        return ret;
    }
    memset(&l, 0, sizeof l);
    if ((rc = dbk_co_aliases(&s, &aliases)) != DBK_OK) {
        ret = dbk_cmd_fail("cannot read your aliases", rc);
        goto out;
    }
    rc = dbk_co_caseload(&s, &caseload);
    if (rc != DBK_OK && rc != DBK_E_UNAVAILABLE) {
        ret = dbk_cmd_fail("cannot fetch your caseload", rc);
        goto out;
    }
    if ((ret = dbk_resolve_client(&s, aliases, caseload, who, &client)) != DBK_EXIT_OK)
        goto out;
    dbk_co_label(aliases, &client, label, sizeof label);

    /* Consent: the caseload's word, or offline what it said last. */
    if (caseload != NULL) {
        size_t i;
        json_t *v;
        char t[DBK_ID_TEXT_LEN + 1];
        dbk_id_to_text(&client, t);
        snprintf(state, sizeof state, "none");
        json_array_foreach(caseload, i, v)
            if (strcmp(S(v, "account"), t) == 0)
                snprintf(state, sizeof state, "%s", S(v, "grant_state"));
        dbk_co_state_put(&s, &client, state);
    } else {
        dbk_co_state_get(&s, &client, state, sizeof state);
        fprintf(stderr, "daybook: the server cannot be reached; reviewing what this device "
                        "holds from the last sync\n");
    }
    if (strcmp(state, "revoked") == 0 || strcmp(state, "expired") == 0 ||
        strcmp(state, "none") == 0) {
        fprintf(stderr,
                "daybook: %s has %s; no review is made. The client decides what to share: "
                "ask in session whether they want to share again.\n",
                label,
                strcmp(state, "revoked") == 0   ? "revoked your access to their records"
                : strcmp(state, "expired") == 0 ? "a consent that has expired"
                                                : "not shared their records with you");
        ret = DBK_EXIT_FAIL;
        goto out;
    }

    /* The client's streams and this account's own (session markers): everything the
     * review counts, without opening the rest of the caseload. */
    if ((rc = dbk_eu_load_owned(&s, &client, &l)) != DBK_OK) {
        ret = dbk_cmd_fail("cannot read the entries on this device", rc);
        goto out;
    }
    dbk_out_warn_unopened(&l);
    if (dbk_co_period_make(&l, &client, since, &p) != DBK_OK) {
        fprintf(stderr, "daybook: --since is last-session or a date YYYY-MM-DD, not in the "
                        "future\n");
        ret = DBK_EXIT_USAGE;
        goto out;
    }
    if ((rev = dbk_co_review(&s, &l, &client, label, &p)) == NULL) {
        ret = dbk_cmd_fail("cannot compute the review", DBK_E_NOMEM);
        goto out;
    }
    json_object_set_new(rev, "notice", json_string(notice));

    FILE *o = stdout;
    if (outpath != NULL) {
        int fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || (o = fdopen(fd, "w")) == NULL) {
            if (fd >= 0)
                close(fd);
            fprintf(stderr, "daybook: cannot write %s\n", outpath);
            ret = DBK_EXIT_FAIL;
            goto out;
        }
        (void)fchmod(fd, 0600);
    }
    if (strcmp(format, "json") == 0)
        dbk_out_json(o, rev);
    else if (strcmp(format, "html") == 0)
        render_html(o, rev);
    else
        render_text(o, rev);
    if (o != stdout && fclose(o) != 0) {
        fprintf(stderr, "daybook: cannot write %s\n", outpath);
        ret = DBK_EXIT_FAIL;
    } else if (o != stdout && !ctx->json) {
        fprintf(stderr, "Review written to %s (mode 0600: it holds health records).\n", outpath);
    }
out:
    json_decref(rev);
    json_decref(aliases);
    json_decref(caseload);
    dbk_eu_free(&l);
    dbk_session_close(&s);
    return ret;
}

const dbk_cmd dbk_cmd_review = {
    .name = "review",
    .usage = "daybook review CLIENT [--since last-session|YYYY-MM-DD] [--format text|json|html] "
             "[--out FILE]",
    .summary = "counselors: a client's days since the last session, before the session",
    .run = run,
};
