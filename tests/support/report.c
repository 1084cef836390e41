/*
 * Figures for README's "Reliability" section, written by the tests that produce them.
 *
 * Each call appends one JSON line to $DAYBOOK_RELIABILITY (set by ctest); the
 * reliability.report test renders the lines of the run as a table. Without the
 * variable (a test run by hand) the figure goes to stderr only.
 */
#include "dbk_test.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void
dbk_report(const char *what, const char *how, const char *result_fmt, ...)
{
    char result[512];
    va_list ap;
    va_start(ap, result_fmt);
    vsnprintf(result, sizeof result, result_fmt, ap);
    va_end(ap);
    fprintf(stderr, "reliability: %s | %s | %s\n", what, how, result);

    /* The integration tests run again on PostgreSQL (integration.pg.*): their figures
     * would repeat the SQLite rows; PostgreSQL has its own row (integration.pg_nodes). */
    const char *path = getenv("DAYBOOK_RELIABILITY");
    if (path == NULL || *path == '\0' || dbk_test_pg())
        return;
    json_t *line = json_pack("{s:s, s:s, s:s}", "what", what, "how", how, "result", result);
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    FILE *f = text ? fopen(path, "a") : NULL;
    if (f != NULL) {
        fprintf(f, "%s\n", text); /* one short line per write: appends do not interleave */
        fclose(f);
    }
    free(text);
    json_decref(line);
}
