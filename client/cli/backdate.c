/* Times and dates of entries logged late; see backdate.h. */
#include "backdate.h"
#include "daycount.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static bool
num(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Seconds since the epoch of an RFC 3339 date-time with an offset; false if malformed. */
static bool parse_rfc3339(const char *t, int64_t *epoch);

bool
dbk_bd_epoch(const char *t, int64_t *epoch)
{
    return t != NULL && strlen(t) < 40 && parse_rfc3339(t, epoch);
}

static bool
parse_rfc3339(const char *t, int64_t *epoch)
{
    int64_t day;
    int h, mi, s, oh, om, off = 0;
    const char *p = t + 19;

    if (strlen(t) < 20 || (t[10] != 'T' && t[10] != 't') || !dbk_day_parse(t, &day) ||
        !num(t + 11, 2, &h) || t[13] != ':' || !num(t + 14, 2, &mi) || t[16] != ':' ||
        !num(t + 17, 2, &s) || h > 23 || mi > 59 || s > 60)
        return false;
    if (*p == '.') {
        if (p[1] < '0' || p[1] > '9')
            return false;
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        off = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && num(p + 1, 2, &oh) && p[3] == ':' &&
               num(p + 4, 2, &om) && oh <= 23 && om <= 59) {
        off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
    } else {
        return false;
    }
    *epoch = day * 86400 + h * 3600 + mi * 60 + s - off;
    return true;
}

static void
local_rfc3339(time_t t, char out[40])
{
    struct tm tm;
    char off[8];
    localtime_r(&t, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(off, sizeof off, "%z", &tm); /* +hhmm */
    snprintf(out + strlen(out), 40 - strlen(out), "%.3s:%.2s", off, off + 3);
}

bool
dbk_bd_time(const char *opt, const char *arg, char out[40])
{
    time_t now = time(NULL);
    int64_t epoch, day;

    if (strlen(arg) == 10 && dbk_day_parse(arg, &day)) {
        struct tm tm;
        int y = 0, m = 0, d = 0;
        memset(&tm, 0, sizeof tm);
        (void)num(arg, 4, &y);
        (void)num(arg + 5, 2, &m);
        (void)num(arg + 8, 2, &d);
        tm.tm_year = y - 1900;
        tm.tm_mon = m - 1;
        tm.tm_mday = d;
        tm.tm_hour = 12;
        tm.tm_isdst = -1;
        time_t noon = mktime(&tm);
        struct tm lt;
        localtime_r(&now, &lt);
        if (lt.tm_year == y - 1900 && lt.tm_mon == m - 1 && lt.tm_mday == d && noon > now)
            noon = now; /* today, before noon */
        epoch = (int64_t)noon;
        local_rfc3339(noon, out);
    } else if (strlen(arg) < 40 && parse_rfc3339(arg, &epoch)) {
        snprintf(out, 40, "%s", arg);
    } else {
        fprintf(stderr,
                "daybook: %s '%s': give a date and time with its offset, like "
                "2026-11-20T18:40:00-05:00, or a date YYYY-MM-DD (then 12:00 that day)\n",
                opt, arg);
        return false;
    }
    if (epoch > (int64_t)now + DBK_BD_FUTURE_SECONDS) {
        fprintf(stderr, "daybook: %s '%s' is in the future; entries can only be logged for "
                        "times that have passed\n",
                opt, arg);
        return false;
    }
    if (epoch < (int64_t)now - (int64_t)DBK_BD_PAST_DAYS * 86400) {
        fprintf(stderr, "daybook: %s '%s' is more than %d days ago; entries can be logged at "
                        "most %d days late\n",
                opt, arg, DBK_BD_PAST_DAYS, DBK_BD_PAST_DAYS);
        return false;
    }
    return true;
}

bool
dbk_bd_day(const char *opt, const char *arg, int64_t today, int64_t *day)
{
    if (strlen(arg) != 10 || !dbk_day_parse(arg, day)) {
        fprintf(stderr, "daybook: %s '%s': give a date as YYYY-MM-DD\n", opt, arg);
        return false;
    }
    if (*day > today) {
        fprintf(stderr, "daybook: %s '%s' is in the future\n", opt, arg);
        return false;
    }
    if (*day < today - DBK_BD_PAST_DAYS) {
        fprintf(stderr, "daybook: %s '%s' is more than %d days ago\n", opt, arg,
                DBK_BD_PAST_DAYS);
        return false;
    }
    return true;
}
