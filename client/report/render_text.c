/*
 * The review as text for a terminal: 80 columns, the sections in the order a
 * CBT session reviews them (cmd_review.c), from the JSON that review.c computes.
 */
#include "render.h"
#include "measures_review.h"
#include "review.h"

#include <stdbool.h>
#include <string.h>

const char dbk_report_notice[] =
    "42 CFR part 2 prohibits unauthorized use or disclosure of these records.";

/* The width text is laid out to: 80 unless the caller says (a terminal's). */
static int WIDTH = 80;
static bool color;
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
static void put_hanging(FILE *o, const char *text, int indent, int hang);

static void
put_wrapped(FILE *o, const char *text, int indent)
{
    put_hanging(o, text, indent, 0);
}

/* The same, continuation lines indented hang more than the first. */
static void
put_hanging(FILE *o, const char *text, int indent, int hang)
{
    const char *p = text;
    bool first = true;
    while (*p) {
        size_t line = strcspn(p, "\n");
        const char *q = p, *end = p + line;
        if (line == 0)
            fputc('\n', o);
        while (q < end) {
            int in = first ? indent : indent + hang;
            size_t width = (size_t)WIDTH - (size_t)in;
            first = false;
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
            fprintf(o, "%*s", in, "");
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

/* The header: notice, who and when, how fresh the data is. */
static void
text_header(FILE *o, const json_t *r)
{
    const json_t *cl = json_object_get(r, "client"), *p = json_object_get(r, "period"),
                 *d = json_object_get(r, "data");
    put_wrapped(o, dbk_report_notice, 0);
    fprintf(o, "\nReview of ");
    put_trunc(o, S(cl, "label"), 24);
    fprintf(o, " (%.8s), %s to %s, %lld day%s\n", S(cl, "account"), S(p, "from"), S(p, "to"),
            I(p, "days"), I(p, "days") == 1 ? "" : "s");
    if (strcmp(S(p, "since"), "last-session") == 0)
        fprintf(o, "since the last session (%.16s)\n", S(p, "last_session"));
    else if (strcmp(S(p, "since"), "default") == 0)
        fprintf(o, "no session marked yet: the last %d days\n", DBK_REVIEW_DEFAULT_DAYS);
    if (json_is_string(json_object_get(p, "enrolled_on")))
        fprintf(o, "enrolled on %s\n", S(p, "enrolled_on"));
    /* No "data" (the HTML draws no line either): what was withheld is still said. */
    const char *at = json_is_string(json_object_get(d, "as_of")) ? S(d, "as_of") : "never";
    bool old =
        json_is_true(json_object_get(d, "offline")) || json_is_true(json_object_get(d, "stale"));
    if (d != NULL && old)
        fprintf(o, "%s!! DATA AS OF %s: %s; what the client sent since is not shown%s\n",
                color ? "\033[1;31m" : "", at,
                json_is_true(json_object_get(d, "offline")) ? "OFFLINE" : "STALE",
                color ? "\033[0m" : "");
    else if (d != NULL)
        fprintf(o, "data as of %s (the last successful sync)\n", at);
    const json_t *c = json_object_get(r, "consent");
    if (json_is_false(json_object_get(c, "listed"))) {
        fputs(color ? "\033[1;31m" : "", o);
        put_wrapped(o, DBK_REPORT_NOT_LISTED_SAYS, 0);
        fputs(color ? "\033[0m" : "", o);
    } else if (json_is_false(json_object_get(c, "checked")))
        fprintf(o,
                "%s!! CONSENT NOT CHECKED NOW: the server was not asked or did not answer; as "
                "this device last saw it: %s%s\n",
                color ? "\033[1;31m" : "", S(c, "state"), color ? "\033[0m" : "");
    char says[256];
    bool loud;
    if (dbk_report_withheld_says(r, says, sizeof says, &loud) != NULL) {
        fputs(loud && color ? "\033[1;31m" : "", o);
        put_wrapped(o, says, 0);
        fputs(loud && color ? "\033[0m" : "", o);
    }
    if (dbk_report_unopened_says(r, says, sizeof says) != NULL) {
        fputs(color ? "\033[1;31m" : "", o);
        put_wrapped(o, says, 0);
        fputs(color ? "\033[0m" : "", o);
    }
}

const char *
dbk_report_unopened_says(const json_t *r, char *buf, size_t cap)
{
    const json_t *u = json_object_get(r, "unopened");
    json_int_t n = json_integer_value(json_object_get(u, "records")),
               f = json_integer_value(json_object_get(u, "foreign_author"));
    json_int_t all = n + f;
    const char *it = all == 1 ? "it" : "them";
    if (n <= 0 && f <= 0)
        return NULL;
    if (f <= 0)
        snprintf(buf, cap,
                 "!! %lld ENTR%s COULD NOT BE OPENED (damaged, or not signed by %s writer: the "
                 "server may have forged %s); this review is missing %s. Tell the clinic.",
                 (long long)all, all == 1 ? "Y" : "IES", all == 1 ? "its" : "their", it, it);
    else
        snprintf(buf, cap,
                 "!! %lld ENTR%s COULD NOT BE OPENED OR %s SIGNED BY SOMEONE WHO MAY NOT WRITE "
                 "%s (%lld so signed); this review is missing %s. Tell the clinic.",
                 (long long)all, all == 1 ? "Y" : "IES", all == 1 ? "WAS" : "WERE",
                 all == 1 ? "IT" : "THEM", (long long)f, it);
    return buf;
}

const char *
dbk_report_withheld_says(const json_t *r, char *buf, size_t cap, bool *loud)
{
    const json_t *w = json_object_get(r, "withheld");
    json_int_t n = json_integer_value(json_object_get(w, "records"));
    *loud = true;
    if (n > 0)
        snprintf(buf, cap,
                 "!! SERVER WITHHOLDING ENTRIES: %lld entr%s the client's device signed for "
                 "never reached this device; this review is missing %s.",
                 (long long)n, n == 1 ? "y" : "ies", n == 1 ? "it" : "them");
    else if (json_is_true(json_object_get(w, "rolled_back")))
        snprintf(buf, cap,
                 "!! SERVER WITHHOLDING ENTRIES: the server handed back an older "
                 "stream head than the client's device signed; this review is "
                 "missing entries.");
    else if (json_is_null(json_object_get(w, "records")))
        snprintf(buf, cap,
                 "!! This device could not check whether the server withheld any "
                 "of the client's entries; this review may be missing some.");
    else if (json_is_true(json_object_get(w, "none_seen"))) {
        *loud = false;
        snprintf(buf, cap,
                 "No entries seen from the client yet, and no signed count: this device "
                 "cannot tell whether the server withholds any.");
    } else if (json_is_true(json_object_get(w, "cannot_tell"))) {
        *loud = false;
        snprintf(buf, cap,
                 "This device cannot tell whether the server withheld any of the "
                 "client's entries.");
    } else {
        return NULL;
    }
    return buf;
}

/* Read first: the box every review opens with, or a line that says it is empty. */
static void
text_read_first(FILE *o, const json_t *rf)
{
    size_t i;
    const json_t *x;
    char rule[256];
    int w = WIDTH < (int)sizeof rule ? WIDTH : (int)sizeof rule - 1;
    memset(rule, '=', (size_t)w);
    rule[w] = '\0';
    fprintf(o, "\n%s%s%s\n", color ? "\033[1m" : "", rule, color ? "\033[0m" : "");
    fprintf(o, "READ FIRST: %lld item%s%s\n", I(rf, "count"), I(rf, "count") == 1 ? "" : "s",
            I(rf, "risk") > 0 ? "  !! RISK LANGUAGE" : "");
    put_wrapped(o, S(rf, "label"), 2);
    if (I(rf, "count") == 0)
        fprintf(o, "  Nothing flagged: no risk language, no reported use, no craving of 9-10,\n"
                   "  no low mood, no missed medication, no day without an entry.\n");
    json_array_foreach(json_object_get(rf, "items"), i, x) {
        char line[512];
        char id[16] = "";
        if (json_is_string(json_object_get(x, "record")))
            snprintf(id, sizeof id, "  [%.8s]", S(x, "record"));
        snprintf(line, sizeof line, "%s %s  %s%s%s%s",
                 strcmp(S(x, "kind"), "risk") == 0 ? "!!" : "*", S(x, "when"), S(x, "text"),
                 json_is_true(json_object_get(x, "carried_forward"))
                     ? "  (carried forward: not yet discussed)"
                     : "",
                 json_is_true(json_object_get(x, "discussed")) ? "  (discussed)" : "", id);
        put_hanging(o, line, 2, 3);
        if (json_is_string(json_object_get(x, "quote"))) {
            snprintf(line, sizeof line, "\"%s\"", S(x, "quote"));
            put_hanging(o, line, 5, 1);
        }
    }
    if (I(rf, "count") > 0)
        put_wrapped(o, "After talking an item through in session: 'daybook session discussed "
                       "CLIENT ID' (the [ID] shown); until then a flagged entry stays here.", 2);
    fprintf(o, "%s%s%s\n", color ? "\033[1m" : "", rule, color ? "\033[0m" : "");
}

static void
text_lapses(FILE *o, const json_t *la)
{
    size_t i;
    const json_t *x;
    if (I(la, "count") == 0) {
        fprintf(o, "\nREPORTED USE: none in this period\n");
        return;
    }
    fprintf(o, "\n!! REPORTED USE: %lld craving%s ended in use\n", I(la, "count"),
            I(la, "count") == 1 ? "" : "s");
    json_array_foreach(json_object_get(la, "entries"), i, x) {
        fprintf(o, "   %s  intensity ", S(x, "when"));
        put_num(o, json_object_get(x, "intensity"));
        fprintf(o, "/10\n     ");
        put_trunc(o, json_is_string(json_object_get(x, "substance")) ? S(x, "substance")
                                                                     : "(not said)",
                  (size_t)WIDTH - 8);
        fprintf(o, "\n");
    }
}

static void
text_engagement(FILE *o, const json_t *en)
{
    fprintf(o, "\nENGAGEMENT: entries on %lld of %lld days (%.0f%%)\n",
            I(en, "days_with_entries"), I(en, "days"),
            json_real_value(json_object_get(en, "rate")) * 100.0);
    put_strip(o, "days", json_object_get(en, "calendar"), mark_entry);
    fprintf(o, "  last entry: %s\n",
            json_is_string(json_object_get(en, "last_entry_at")) ? S(en, "last_entry_at")
                                                                  : "none yet");
}

static void
text_sparkline(FILE *o, const json_t *cr)
{
    /* Each day's peak, for the last STRIP_MAX days. */
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
    put_wrapped(o, "each mark is the day's strongest craving (\u2581 low to \u2588 high); "
                   "blank: none", 2);
}

static void
text_trend(FILE *o, const json_t *p, const json_t *tr)
{
    if (json_is_true(json_object_get(tr, "no_earlier_data"))) {
        fprintf(o, "  trend: no earlier data (the client enrolled %s)\n",
                json_is_string(json_object_get(p, "enrolled_on")) ? S(p, "enrolled_on")
                                                                   : "in this period");
        return;
    }
    fprintf(o, "  trend: previous %lld days (%s to %s): %lld craving%s", I(tr, "previous_days"),
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
}

static void
text_triggers(FILE *o, const json_t *cr)
{
    const json_t *tt = json_object_get(cr, "trigger_totals"), *tot = json_object_get(tt, "totals"),
                 *h = json_object_get(cr, "halt"), *x;
    size_t i;
    fprintf(o, "  triggers: external %lld (people, places, things, times)\n"
               "            internal %lld (emotions, HALT, withdrawal)\n",
            I(tot, "external"), I(tot, "internal"));
    json_array_foreach(json_object_get(tt, "list"), i, x) {
        if (strcmp(S(x, "kind"), "halt") == 0)
            continue;
        fprintf(o, "    %3lld  %-8s %-9s", I(x, "count"), S(x, "side"), S(x, "kind"));
        if (S(x, "value")[0]) {
            fprintf(o, " ");
            put_trunc(o, S(x, "value"), (size_t)WIDTH - 30);
        }
        fprintf(o, "\n");
    }
    fprintf(o, "  HALT: hungry %lld, angry %lld, lonely %lld, tired %lld\n", I(h, "hungry"),
            I(h, "angry"), I(h, "lonely"), I(h, "tired"));
}

static void
text_coping(FILE *o, const json_t *cr)
{
    size_t i;
    const json_t *x;
    if (json_array_size(json_object_get(cr, "coping")) == 0)
        return;
    fprintf(o, "  coping (cravings it was used with; of those, resisted):\n");
    json_array_foreach(json_object_get(cr, "coping"), i, x) {
        size_t c = cols(S(x, "strategy"), 40);
        fprintf(o, "    ");
        put_trunc(o, S(x, "strategy"), 40);
        fprintf(o, "%*s %3lld used  %3lld resisted\n", (int)(c < 40 ? 40 - c : 0), "",
                I(x, "uses"), I(x, "resisted"));
    }
}

/* Each craving as the client wrote it: situation, thoughts, feelings. */
static void
text_craving_entries(FILE *o, const json_t *cr)
{
    static const char *const texts[] = {"situation", "thoughts", "feelings", "note"};
    size_t i;
    const json_t *x;
    if (json_array_size(json_object_get(cr, "entries")) == 0)
        return;
    fprintf(o, "  each craving, newest first:\n");
    json_array_foreach(json_object_get(cr, "entries"), i, x) {
        fprintf(o, "  -- %s  ", S(x, "when"));
        put_num(o, json_object_get(x, "intensity"));
        fprintf(o, "/10  %s", json_is_string(json_object_get(x, "outcome")) ? S(x, "outcome")
                                                                           : "no outcome");
        if (json_is_string(json_object_get(x, "substance"))) {
            fprintf(o, ": ");
            put_trunc(o, S(x, "substance"), 30);
        }
        fprintf(o, "\n");
        for (size_t k = 0; k < sizeof texts / sizeof *texts; k++) {
            char line[600];
            if (!json_is_string(json_object_get(x, texts[k])))
                continue;
            snprintf(line, sizeof line, "%s: %s", texts[k], S(x, texts[k]));
            put_wrapped(o, line, 5);
        }
    }
}

static void
text_cravings(FILE *o, const json_t *p, const json_t *cr)
{
    size_t i;
    const json_t *x;
    fprintf(o, "\nCRAVINGS: %lld", I(cr, "count"));
    if (I(cr, "count") > 0) {
        fprintf(o, ", mean %.1f, peak ", json_number_value(json_object_get(cr, "mean")));
        put_num(o, json_object_get(cr, "peak"));
        fprintf(o, " (0-10)\n");
        text_sparkline(o, cr);
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
    text_trend(o, p, json_object_get(cr, "trend"));
    text_triggers(o, cr);
    text_coping(o, cr);
    text_craving_entries(o, cr);
}

static void
text_checklist(FILE *o, const json_t *p, const json_t *ck)
{
    size_t i;
    const json_t *x;
    fprintf(o, "\nCHECKLIST (days done of %lld; streak: days in a row up to %s)\n", I(p, "days"),
            S(p, "to"));
    json_array_foreach(json_object_get(ck, "items"), i, x) {
        fprintf(o, "  %-24.24s %3lld  %3.0f%%  streak %lld%s\n", S(x, "item"),
                I(x, "days_checked"), json_real_value(json_object_get(x, "rate")) * 100.0,
                I(x, "streak"), strcmp(S(x, "source"), "counselor") == 0 ? "  (assigned)" : "");
    }
    put_strip(o, "done/day", json_object_get(ck, "per_day"), mark_checked);
    if (json_array_size(json_object_get(ck, "sessions_attended")) > 0) {
        fprintf(o, "  group sessions attended (marked by a counselor):");
        json_array_foreach(json_object_get(ck, "sessions_attended"), i, x)
            fprintf(o, "%s %s", i ? "," : "", json_string_value(x));
        fprintf(o, "\n");
    }
    if (json_array_size(json_object_get(ck, "assigned_not_practised")) > 0) {
        fprintf(o, "  assigned, not practised:");
        json_array_foreach(json_object_get(ck, "assigned_not_practised"), i, x)
            fprintf(o, "%s %s", i ? "," : "", json_string_value(x));
        fprintf(o, "\n");
    }
}

static void
text_medication(FILE *o, const json_t *m)
{
    if (!json_is_true(json_object_get(m, "data"))) {
        fprintf(o, "\nMEDICATION: no data (no medication records, and the checklist's\n"
                   "  took_medication was not filled in)\n");
        return;
    }
    if (strcmp(S(m, "source"), "mat") == 0) {
        size_t i;
        const json_t *x;
        fprintf(o, "\nMEDICATION (MAT schedule): %lld of %lld doses taken, %lld missed, "
                   "%lld unconfirmed\n",
                I(m, "doses_taken"), I(m, "doses_due"), I(m, "doses_missed"),
                I(m, "doses_unconfirmed"));
        json_array_foreach(json_object_get(m, "medications"), i, x) {
            char line[400];
            snprintf(line, sizeof line, "%.60s %.40s, %s, %s: %lld/%lld taken, %lld missed%s",
                     S(x, "name"), S(x, "dose"), S(x, "frequency"), S(x, "supervision"),
                     I(x, "taken"), I(x, "due"), I(x, "missed"),
                     json_is_true(json_object_get(x, "active")) ? "" : " (stopped)");
            put_hanging(o, line, 2, 2);
        }
        if (I(m, "missed_streak") >= DBK_REVIEW_MISSED_STREAK)
            fprintf(o, "  !! doses missed %lld days in a row\n", I(m, "missed_streak"));
        if (I(m, "doses_unconfirmed") > 0)
            fprintf(o, "  (an unconfirmed dose is not assumed taken)\n");
        return;
    }
    fprintf(o, "\nMEDICATION (from the checklist): taken on %lld of %lld days",
            I(m, "days_taken"), I(m, "days_recorded"));
    if (json_array_size(json_object_get(m, "missed_days")) > 0)
        fprintf(o, "\n  !! not ticked on %zu day%s a checklist was filled in",
                json_array_size(json_object_get(m, "missed_days")),
                json_array_size(json_object_get(m, "missed_days")) == 1 ? "" : "s");
    fprintf(o, "\n");
}

static void
text_journal(FILE *o, const json_t *r)
{
    size_t i;
    const json_t *x;
    fprintf(o, "\nJOURNAL (shared, newest first): %zu\n",
            json_array_size(json_object_get(r, "journal")));
    json_array_foreach(json_object_get(r, "journal"), i, x) {
        fprintf(o, "  -- %s", S(x, "when"));
        if (json_is_integer(json_object_get(x, "mood")))
            fprintf(o, "  mood %lld/5", I(x, "mood"));
        fprintf(o, "\n");
        put_wrapped(o, S(x, "text"), 4);
    }
    fprintf(o, "\nYOUR NOTES (newest first): %zu\n", json_array_size(json_object_get(r, "notes")));
    json_array_foreach(json_object_get(r, "notes"), i, x) {
        fprintf(o, "  -- %s%s%s\n", S(x, "written_at"),
                json_is_true(json_object_get(x, "shared")) ? "  (shared with the client)"
                                                           : "  (your own record)",
                json_is_true(json_object_get(x, "pending")) ? "  (not synced yet)" : "");
        put_wrapped(o, S(x, "text"), 4);
    }
}

void
dbk_report_text(FILE *o, const json_t *r, int width, bool use_color)
{
    const json_t *p = json_object_get(r, "period");
    WIDTH = width < 40 ? 40 : width > 200 ? 200 : width;
    color = use_color;
    text_header(o, r);
    text_read_first(o, json_object_get(r, "read_first"));
    text_lapses(o, json_object_get(r, "lapses"));
    text_engagement(o, json_object_get(r, "engagement"));
    text_cravings(o, p, json_object_get(r, "cravings"));
    text_checklist(o, p, json_object_get(r, "checklist"));
    text_medication(o, json_object_get(r, "medication"));
    dbk_report_text_measures(o, json_object_get(r, "measures"));
    text_journal(o, r);
}
