/* daybook help [COMMAND] */
#include "cmd.h"

#include <stdio.h>

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    const dbk_cmd *c;
    (void)ctx;

    if (argc < 2) {
        dbk_cmd_print_overview(stdout);
        return DBK_EXIT_OK;
    }
    c = dbk_cmd_find(argv[1]);
    if (c == NULL) {
        const char *s = dbk_cmd_suggest(argv[1]);
        fprintf(stderr, "daybook: no command '%s'%s%s%s\n", argv[1], s ? "; did you mean '" : "",
                s ? s : "", s ? "'?" : "");
        return DBK_EXIT_USAGE;
    }
    dbk_cmd_print_help(c, stdout);
    return DBK_EXIT_OK;
}

const dbk_cmd dbk_cmd_help = {
    .name = "help",
    .usage = "daybook help [COMMAND]",
    .summary = "describe all commands, or one",
    .run = run,
};
