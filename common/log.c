/*
 * key=value log lines. Each line is formatted into one buffer and written with a
 * single fwrite so lines from one process do not interleave.
 */
#include "dbk/log.h"
#include "dbk/error.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

#define LINE_MAX_BYTES 2048

static enum dbk_log_level log_level = DBK_LOG_INFO;
static FILE *log_out;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void
dbk_log_set_level(enum dbk_log_level level)
{
    log_level = level;
}

int
dbk_log_parse_level(const char *name, enum dbk_log_level *out)
{
    for (int i = DBK_LOG_DEBUG; i <= DBK_LOG_OFF; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum dbk_log_level)i;
            return DBK_OK;
        }
    }
    return DBK_E_INVALID;
}

void
dbk_log_set_output(FILE *out)
{
    log_out = out;
}

bool
dbk_log_enabled(enum dbk_log_level level)
{
    return level >= log_level && level < DBK_LOG_OFF;
}

struct line {
    char buf[LINE_MAX_BYTES];
    size_t len;
};

static void
put(struct line *l, const char *s, size_t n)
{
    /* Keep one byte for the newline. */
    size_t room = sizeof l->buf - 1 - l->len;
    if (n > room)
        n = room;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void
put_str(struct line *l, const char *s)
{
    put(l, s, strlen(s));
}

static bool
needs_quotes(const char *v)
{
    if (*v == '\0')
        return true;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p >= 0x7f)
            return true;
    return false;
}

static void
put_value(struct line *l, const char *v)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;

    if (v == NULL)
        v = "";
    if (!needs_quotes(v)) {
        size_t len = strlen(v);
        put(l, v, len > DBK_LOG_VALUE_MAX ? DBK_LOG_VALUE_MAX : len);
        if (len > DBK_LOG_VALUE_MAX)
            put_str(l, "...");
        return;
    }
    put_str(l, "\"");
    for (const unsigned char *p = (const unsigned char *)v; *p; p++, n++) {
        if (n == DBK_LOG_VALUE_MAX) {
            put_str(l, "...");
            break;
        }
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            put(l, esc, 2);
        } else if (*p < ' ' || *p == 0x7f) {
            char esc[4] = {'\\', 'x', hex[*p >> 4], hex[*p & 15]};
            put(l, esc, 4);
        } else {
            put(l, (const char *)p, 1);
        }
    }
    put_str(l, "\"");
}

void
dbk_log_write(enum dbk_log_level level, const char *event, ...)
{
    va_list ap;
    dbk_log_field f;
    struct line l = {.len = 0};
    struct timespec ts;
    struct tm tm;
    char stamp[40];
    char num[32];
    FILE *out = log_out ? log_out : stderr;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(num, sizeof num, ".%03ldZ", ts.tv_nsec / 1000000L);

    put_str(&l, "ts=");
    put_str(&l, stamp);
    put_str(&l, num);
    put_str(&l, " level=");
    put_str(&l, level_names[level]);
    put_str(&l, " event=");
    put_value(&l, event);
    va_start(ap, event);
    while ((f = va_arg(ap, dbk_log_field)).kind != DBK_LOG_KIND_END) {
        put_str(&l, " ");
        put_str(&l, f.key);
        put_str(&l, "=");
        if (f.kind == DBK_LOG_KIND_INT) {
            snprintf(num, sizeof num, "%lld", f.i);
            put_str(&l, num);
        } else {
            put_value(&l, f.s);
        }
    }
    va_end(ap);
    l.buf[l.len++] = '\n';
    fwrite(l.buf, 1, l.len, out);
    fflush(out);
}
