/*
 * Structured logging: one line per event on stderr (or the stream set with
 * dbk_log_set_output), as `key=value` pairs:
 *
 *     ts=2026-11-25T10:00:00.123Z level=info event=listening addr=127.0.0.1 port=8470
 *
 * Values with spaces, quotes, '=' or control characters are quoted and escaped;
 * values longer than DBK_LOG_VALUE_MAX are cut and marked. The level is checked
 * before the fields are built. Never pass tokens, keys, passphrases or payloads:
 * log ids, sizes, counts and error codes.
 */
#ifndef DBK_LOG_H
#define DBK_LOG_H

#include <stdbool.h>
#include <stdio.h>

#define DBK_LOG_VALUE_MAX 200

enum dbk_log_level { DBK_LOG_DEBUG, DBK_LOG_INFO, DBK_LOG_WARN, DBK_LOG_ERROR, DBK_LOG_OFF };

enum dbk_log_kind { DBK_LOG_KIND_END, DBK_LOG_KIND_STR, DBK_LOG_KIND_INT };

typedef struct dbk_log_field {
    const char *key;
    enum dbk_log_kind kind;
    const char *s;
    long long i;
} dbk_log_field;

#define DBK_STR(k, v) ((dbk_log_field){.key = (k), .kind = DBK_LOG_KIND_STR, .s = (v)})
#define DBK_INT(k, v) ((dbk_log_field){.key = (k), .kind = DBK_LOG_KIND_INT, .i = (long long)(v)})
#define DBK_LOG_END_ ((dbk_log_field){.kind = DBK_LOG_KIND_END})

/*
 * DBK_LOG(level, event, fields...), for example
 *     DBK_LOG(DBK_LOG_INFO, "listening", DBK_STR("addr", a), DBK_INT("port", p));
 */
#define DBK_LOG(level, ...)                                                                        \
    do {                                                                                           \
        if (dbk_log_enabled(level))                                                                \
            dbk_log_write((level), __VA_ARGS__, DBK_LOG_END_);                                     \
    } while (0)

void dbk_log_set_level(enum dbk_log_level level);
/* Parses "debug", "info", "warn", "error" or "off". Returns 0 or DBK_E_INVALID. */
int dbk_log_parse_level(const char *name, enum dbk_log_level *out);
/* NULL restores stderr. The stream is not closed. */
void dbk_log_set_output(FILE *out);
bool dbk_log_enabled(enum dbk_log_level level);
/* The variable arguments are dbk_log_field values ending with DBK_LOG_END_. */
void dbk_log_write(enum dbk_log_level level, const char *event, ...);

#endif
