/*
 * The review as one self-contained HTML file (inline CSS and SVG, no scripts,
 * nothing fetched) with the 42 CFR Part 2 notice at the top and the bottom,
 * from the JSON that review.c computes.
 */
#include "render.h"
#include "measures_review.h"
#include "review.h"

#include <stdbool.h>
#include <string.h>

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
    ".read-first{border:4px solid #b00020;background:#fff4f4;padding:.6rem 1rem;margin:1rem 0}"
    ".read-first h2{color:#b00020;border:0;margin-top:.2rem}.read-first li{margin:.35rem 0}"
    ".read-first blockquote{margin:.3rem 0 .3rem 1rem;font-style:italic;border-left:3px solid "
    "#b00020;padding-left:.6rem}.risk{font-weight:700;color:#b00020}.support{font-size:.9rem}"
    ".stale{background:#b00020;color:#fff;padding:.3rem .6rem;font-weight:700}"
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
html_freshness(FILE *o, const json_t *d)
{
    if (d == NULL)
        return;
    const char *at = json_is_string(json_object_get(d, "as_of")) ? S(d, "as_of") : "never";
    bool offline = json_is_true(json_object_get(d, "offline"));
    if (offline || json_is_true(json_object_get(d, "stale")))
        fprintf(o, "<p class=\"stale\" id=\"data-as-of\">Data as of %s: %s. What the client sent "
                   "since is not shown.</p>\n",
                at, offline ? "OFFLINE" : "STALE");
    else
        fprintf(o, "<p id=\"data-as-of\">Data as of %s (the last successful sync).</p>\n", at);
}

/* Consent read from what this device last saw, not asked of the server now (cmd_review). */
static void
html_consent(FILE *o, const json_t *r)
{
    const json_t *c = json_object_get(r, "consent");
    if (json_is_false(json_object_get(c, "listed"))) {
        fputs("<p class=\"stale\" id=\"not-listed\">", o);
        esc(o, DBK_REPORT_NOT_LISTED_SAYS);
        fputs("</p>\n", o);
        return;
    }
    if (!json_is_false(json_object_get(c, "checked")))
        return;
    fputs("<p class=\"stale\" id=\"consent-unchecked\">Consent not checked now: the server was "
          "not asked or did not answer; as this device last saw it: ",
          o);
    esc(o, S(c, "state"));
    fputs(".</p>\n", o);
}

static void
html_read_first(FILE *o, const json_t *rf)
{
    size_t i;
    const json_t *x;
    fprintf(o, "<section class=\"read-first\" id=\"read-first\"><h2>Read first: %lld item%s</h2>"
               "<p class=\"support\">",
            I(rf, "count"), I(rf, "count") == 1 ? "" : "s");
    esc(o, S(rf, "label"));
    fprintf(o, "</p>");
    if (I(rf, "count") == 0)
        fprintf(o, "<p class=\"ok\">Nothing flagged.</p>");
    fprintf(o, "<ul>");
    json_array_foreach(json_object_get(rf, "items"), i, x) {
        bool risk = strcmp(S(x, "kind"), "risk") == 0;
        fprintf(o, "<li class=\"item %s\" data-kind=\"%s\">", risk ? "risk" : "", S(x, "kind"));
        esc(o, S(x, "when"));
        fprintf(o, " &middot; ");
        esc(o, S(x, "text"));
        if (json_is_true(json_object_get(x, "carried_forward")))
            fprintf(o, " <b>(carried forward: not yet discussed)</b>");
        if (json_is_true(json_object_get(x, "discussed")))
            fprintf(o, " (discussed)");
        if (json_is_string(json_object_get(x, "quote"))) {
            fprintf(o, "<blockquote>");
            esc(o, S(x, "quote"));
            fprintf(o, "</blockquote>");
        }
        fprintf(o, "</li>");
    }
    fprintf(o, "</ul></section>\n");
}

static void
html_craving_entries(FILE *o, const json_t *cr)
{
    static const char *const texts[] = {"situation", "thoughts", "feelings", "note"};
    size_t i;
    const json_t *x;
    if (json_array_size(json_object_get(cr, "entries")) == 0)
        return;
    fprintf(o, "<h3>Each craving, newest first</h3><table id=\"craving-entries\"><tr><th>When"
               "</th><th class=\"n\">Intensity</th><th>Outcome</th><th>Situation</th>"
               "<th>Thoughts</th><th>Feelings</th><th>Note</th></tr>");
    json_array_foreach(json_object_get(cr, "entries"), i, x) {
        fprintf(o, "<tr><td>");
        esc(o, S(x, "when"));
        fprintf(o, "</td><td class=\"n\">");
        html_num(o, json_object_get(x, "intensity"));
        fprintf(o, "</td><td>");
        esc(o, json_is_string(json_object_get(x, "outcome")) ? S(x, "outcome") : "");
        for (size_t k = 0; k < sizeof texts / sizeof *texts; k++) {
            fprintf(o, "</td><td>");
            esc(o, S(x, texts[k]));
        }
        fprintf(o, "</td></tr>");
    }
    fprintf(o, "</table>\n");
}

static void
html_triggers(FILE *o, const json_t *cr)
{
    const json_t *tt = json_object_get(cr, "trigger_totals"), *tot = json_object_get(tt, "totals"),
                 *x;
    size_t i;
    fprintf(o, "<h3>Triggers</h3><p id=\"trigger-totals\">External (people, places, things, "
               "times): <b>%lld</b>; internal (emotions, HALT, withdrawal): <b>%lld</b>.</p>"
               "<table id=\"triggers\"><tr><th>Side</th><th>Kind</th><th>Trigger</th>"
               "<th class=\"n\">Cravings</th></tr>",
            I(tot, "external"), I(tot, "internal"));
    json_array_foreach(json_object_get(tt, "list"), i, x) {
        fprintf(o, "<tr><td>");
        esc(o, S(x, "side"));
        fprintf(o, "</td><td>");
        esc(o, S(x, "kind"));
        fprintf(o, "</td><td>");
        esc(o, S(x, "value"));
        fprintf(o, "</td><td class=\"n\">%lld</td></tr>", I(x, "count"));
    }
    fprintf(o, "</table>\n");
}

static void
html_medication(FILE *o, const json_t *m)
{
    size_t i;
    const json_t *x;
    fprintf(o, "<section id=\"medication\"><h2>Medication</h2>");
    if (!json_is_true(json_object_get(m, "data"))) {
        fprintf(o, "<p class=\"muted\">No data: no medication records, and the checklist's "
                   "&ldquo;took medication&rdquo; was not filled in.</p></section>\n");
        return;
    }
    if (strcmp(S(m, "source"), "mat") == 0) {
        fprintf(o, "<p>MAT schedule: <b>%lld</b> of %lld doses taken, %lld missed, %lld "
                   "unconfirmed (never assumed taken).",
                I(m, "doses_taken"), I(m, "doses_due"), I(m, "doses_missed"),
                I(m, "doses_unconfirmed"));
        if (I(m, "missed_streak") >= DBK_REVIEW_MISSED_STREAK)
            fprintf(o, " <span class=\"risk\">Doses missed %lld days in a row.</span>",
                    I(m, "missed_streak"));
        fprintf(o, "</p><ul>");
        json_array_foreach(json_object_get(m, "medications"), i, x) {
            fprintf(o, "<li>");
            esc(o, S(x, "name"));
            fprintf(o, " ");
            esc(o, S(x, "dose"));
            fprintf(o, ", ");
            esc(o, S(x, "frequency"));
            fprintf(o, ": %lld/%lld taken, %lld missed</li>", I(x, "taken"), I(x, "due"),
                    I(x, "missed"));
        }
        fprintf(o, "</ul></section>\n");
        return;
    }
    fprintf(o, "<p>From the checklist: taken on <b>%lld</b> of %lld days recorded.",
            I(m, "days_taken"), I(m, "days_recorded"));
    if (json_array_size(json_object_get(m, "missed_days")) > 0) {
        fprintf(o, " <span class=\"risk\">Not ticked:");
        json_array_foreach(json_object_get(m, "missed_days"), i, x)
        {
            fprintf(o, "%s ", i ? "," : "");
            esc(o, json_string_value(x));
        }
        fprintf(o, "</span>");
    }
    fprintf(o, "</p></section>\n");
}

/* The document's head, the notice and who and when the review is of. */
static void
html_head(FILE *o, const json_t *r)
{
    const json_t *cl = json_object_get(r, "client"), *p = json_object_get(r, "period");

    fprintf(o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
               "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
               "style-src 'unsafe-inline'; img-src data:\">"
               "<title>Review: ");
    esc(o, S(cl, "label"));
    fprintf(o, " %s to %s</title><style>%s</style></head><body>\n", S(p, "from"), S(p, "to"), css);
    fprintf(o, "<p class=\"notice\" id=\"notice\">%s</p>\n", dbk_report_notice);
    fprintf(o, "<h1>Review of ");
    esc(o, S(cl, "label"));
    fprintf(o, " <span class=\"muted\">(%.8s)</span></h1>\n<p>%s to %s, %lld day%s; ",
            S(cl, "account"), S(p, "from"), S(p, "to"), I(p, "days"), I(p, "days") == 1 ? "" : "s");
    if (strcmp(S(p, "since"), "last-session") == 0) {
        char when[17]; /* a session marker's time, from a record: escaped */
        snprintf(when, sizeof when, "%s", S(p, "last_session"));
        fprintf(o, "since the last session (");
        esc(o, when);
        fprintf(o, ").</p>\n");
    }
    else if (strcmp(S(p, "since"), "default") == 0)
        fprintf(o, "no session marked yet: the last %d days.</p>\n", DBK_REVIEW_DEFAULT_DAYS);
    else
        fprintf(o, "from the date asked for.</p>\n");
    if (json_is_string(json_object_get(p, "enrolled_on")))
    {
        fprintf(o, "<p>Enrolled on ");
        esc(o, S(p, "enrolled_on"));
        fprintf(o, ".</p>\n");
    }
}

/* Reported use: every craving that ended in use, with what and where. */
static void
html_lapses(FILE *o, const json_t *r)
{
    const json_t *la = json_object_get(r, "lapses"), *x;
    size_t i;

    if (I(la, "count") > 0) {
        fprintf(o, "<section class=\"lapse\" id=\"lapses\"><h2>Reported use: %lld craving%s "
                   "ended in use</h2><table><tr><th>When</th><th class=\"n\">Intensity</th>"
                   "<th>What</th><th>Situation</th></tr>",
                I(la, "count"), I(la, "count") == 1 ? "" : "s");
        json_array_foreach(json_object_get(la, "entries"), i, x) {
            fprintf(o, "<tr class=\"lapse-row\"><td>");
            esc(o, S(x, "when"));
            fprintf(o, "</td><td class=\"n\">");
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
}

/* Engagement: the days with entries and the calendar. */
static void
html_engagement(FILE *o, const json_t *r)
{
    const json_t *en = json_object_get(r, "engagement");

    fprintf(o, "<section id=\"engagement\"><h2>Engagement</h2><p>Entries on <b>%lld</b> of "
               "%lld days (%.0f%%). Last entry: %s.</p>\n",
            I(en, "days_with_entries"), I(en, "days"),
            json_real_value(json_object_get(en, "rate")) * 100.0,
            json_is_string(json_object_get(en, "last_entry_at")) ? S(en, "last_entry_at")
                                                                  : "none yet");
    html_calendar(o, json_object_get(en, "calendar"));
    fprintf(o, "</section>\n");
}

/* Cravings: figures, the trend against the previous period, chart, triggers, HALT,
 * coping and each craving as written. */
static void
html_cravings(FILE *o, const json_t *r)
{
    const json_t *cr = json_object_get(r, "cravings"), *tr = json_object_get(cr, "trend"),
                 *h = json_object_get(cr, "halt"), *x;
    size_t i;

    fprintf(o, "<section id=\"cravings\"><h2>Cravings</h2><p><b>%lld</b> craving%s", I(cr, "count"),
            I(cr, "count") == 1 ? "" : "s");
    if (I(cr, "count") > 0) {
        fprintf(o, ", mean intensity ");
        html_num(o, json_object_get(cr, "mean"));
        fprintf(o, ", peak ");
        html_num(o, json_object_get(cr, "peak"));
        fprintf(o, " (0-10)");
    }
    if (json_is_true(json_object_get(tr, "no_earlier_data"))) {
        fprintf(o, ". Previous period: <span id=\"trend\">no earlier data</span> (before "
                   "enrollment).</p>\n");
    } else {
        fprintf(o, ". Previous %lld days (%s to %s): <span id=\"trend\">%lld craving%s</span>",
                I(tr, "previous_days"), S(tr, "previous_from"), S(tr, "previous_to"),
                I(tr, "previous_count"), I(tr, "previous_count") == 1 ? "" : "s");
        if (I(tr, "previous_count") > 0) {
            fprintf(o, ", mean ");
            html_num(o, json_object_get(tr, "previous_mean"));
        }
        fprintf(o, "; mean now: %s.</p>\n", S(tr, "mean_direction"));
    }
    html_craving_chart(o, json_object_get(cr, "per_day"));
    fprintf(o, "<p class=\"muted\">Dots: each day's strongest craving; line: the day's mean.</p>");
    html_triggers(o, cr);
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
    html_craving_entries(o, cr);
    fprintf(o, "</section>\n");
}

/* The checklist: each skill's days, rate and streak, per day, and what was
 * assigned but not practised. */
static void
html_checklist(FILE *o, const json_t *r)
{
    const json_t *ck = json_object_get(r, "checklist"), *x;
    size_t i;

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
    if (json_array_size(json_object_get(ck, "sessions_attended")) > 0) {
        fprintf(o, "<p><b>Group sessions attended</b> (marked by a counselor): ");
        json_array_foreach(json_object_get(ck, "sessions_attended"), i, x) {
            fprintf(o, "%s", i ? ", " : "");
            esc(o, json_string_value(x));
        }
        fprintf(o, "</p>");
    }
    if (json_array_size(json_object_get(ck, "assigned_not_practised")) > 0) {
        fprintf(o, "<p><b>Assigned, not practised:</b> ");
        json_array_foreach(json_object_get(ck, "assigned_not_practised"), i, x) {
            fprintf(o, "%s", i ? ", " : "");
            esc(o, json_string_value(x));
        }
        fprintf(o, "</p>");
    }
    fprintf(o, "</section>\n");
}

/* The shared journal entries and the counselor's own notes, newest first. */
static void
html_journal_notes(FILE *o, const json_t *r)
{
    const json_t *x;
    size_t i;

    fprintf(o, "<section id=\"journal\"><h2>Journal entries shared (%zu), newest first</h2>\n",
            json_array_size(json_object_get(r, "journal")));
    json_array_foreach(json_object_get(r, "journal"), i, x) {
        fprintf(o, "<article class=\"journal\"><header>");
        esc(o, S(x, "when"));
        if (json_is_integer(json_object_get(x, "mood")))
            fprintf(o, " &middot; mood %lld/5", I(x, "mood"));
        fprintf(o, "</header>");
        esc(o, S(x, "text"));
        fprintf(o, "</article>\n");
    }
    fprintf(o, "</section>\n<section id=\"notes\"><h2>Your notes (%zu), newest first</h2>\n",
            json_array_size(json_object_get(r, "notes")));
    json_array_foreach(json_object_get(r, "notes"), i, x) {
        fprintf(o, "<article class=\"note\"><header>");
        esc(o, S(x, "written_at")); /* from the note record: escaped like its text */
        fprintf(o, "</header>");
        esc(o, S(x, "text"));
        fprintf(o, "</article>\n");
    }
    fprintf(o, "</section>\n");
}

/* The review as one self-contained HTML file, in the order a counselor reads it:
 * Read first before anything else. */
void
dbk_report_html(FILE *o, const json_t *r)
{
    html_head(o, r);
    html_freshness(o, json_object_get(r, "data"));
    html_consent(o, r);
    char says[256];
    bool loud;
    if (dbk_report_withheld_says(r, says, sizeof says, &loud) != NULL) {
        fprintf(o, "<p%s id=\"withheld\">", loud ? " class=\"stale\"" : "");
        esc(o, says);
        fputs("</p>\n", o);
    }
    if (dbk_report_unopened_says(r, says, sizeof says) != NULL) {
        fputs("<p class=\"stale\" id=\"unopened\">", o);
        esc(o, says);
        fputs("</p>\n", o);
    }
    html_read_first(o, json_object_get(r, "read_first"));
    html_lapses(o, r);
    html_engagement(o, r);
    html_cravings(o, r);
    html_checklist(o, r);
    html_medication(o, json_object_get(r, "medication"));
    dbk_report_html_measures(o, json_object_get(r, "measures"));
    html_journal_notes(o, r);
    fprintf(o, "<p class=\"notice\">%s</p>\n</body></html>\n", dbk_report_notice);
}
