/* The command table and name look-up, with "did you mean" for typos. */
#include "cmd.h"

#include <string.h>

extern const dbk_cmd dbk_cmd_help;
extern const dbk_cmd dbk_cmd_version;

/* Sorted by name. */
const dbk_cmd *const dbk_commands[] = {
    &dbk_cmd_help,
    &dbk_cmd_version,
};
const size_t dbk_commands_count = sizeof dbk_commands / sizeof dbk_commands[0];

const dbk_cmd *
dbk_cmd_find(const char *name)
{
    for (size_t i = 0; i < dbk_commands_count; i++)
        if (strcmp(dbk_commands[i]->name, name) == 0)
            return dbk_commands[i];
    return NULL;
}

/* Levenshtein distance, capped: names are short. */
static size_t
distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[33];

    if (la > 32 || lb > 32)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t best = prev + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}

const char *
dbk_cmd_suggest(const char *name)
{
    const char *best = NULL;
    size_t best_d = 3; /* suggest only within two edits */

    for (size_t i = 0; i < dbk_commands_count; i++) {
        size_t d = distance(name, dbk_commands[i]->name);
        if (d < best_d) {
            best_d = d;
            best = dbk_commands[i]->name;
        }
    }
    return best;
}

void
dbk_cmd_print_overview(FILE *out)
{
    fprintf(out, "usage: daybook [--json] COMMAND [ARGS]\n\n"
                 "Log cravings, journal entries and coping skills between sessions, offline,\n"
                 "and sync them end-to-end encrypted with your clinic's server.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < dbk_commands_count; i++)
        fprintf(out, "  %-10s %s\n", dbk_commands[i]->name, dbk_commands[i]->summary);
    fprintf(out, "\noptions:\n"
                 "  --json     machine-readable output\n"
                 "  --version  print the version\n"
                 "  --help     this overview; 'daybook help COMMAND' for one command\n"
                 "\nexit codes: 0 success, 1 the operation failed, 2 usage error.\n"
                 "Colour is used on a terminal unless NO_COLOR is set.\n");
}
