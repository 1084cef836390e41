/* daybook version: the client's version and the protocol it speaks. */
#include "cmd.h"

#include "dbk/version.h"

#include <stdio.h>

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: daybook version\n");
        return DBK_EXIT_USAGE;
    }
    if (ctx->json)
        printf("{\"version\":\"%s\",\"protocol\":%d}\n", DBK_VERSION, DBK_PROTOCOL_VERSION);
    else
        printf("daybook %s (protocol %d)\n", DBK_VERSION, DBK_PROTOCOL_VERSION);
    return DBK_EXIT_OK;
}

const dbk_cmd dbk_cmd_version = {
    .name = "version",
    .usage = "daybook version",
    .summary = "print the version and protocol",
    .run = run,
};
