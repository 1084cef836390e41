/*
 * daybook: the CLI for clients and counselors. main parses the global options,
 * finds the command and checks its preconditions; only main and the command
 * files decide the exit code.
 */
#include "cmd.h"
#include "net.h"

#include "dbk/init.h"
#include "dbk/wipe.h"

#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * A command that needed the server where libcurl cannot be loaded has said what it
 * could (the server cannot be reached; a review shows what this device holds, marked
 * offline). This says why and names the package, and fails the command even when it
 * showed offline data: nothing will reach the server until the library is installed.
 */
static int
with_network_library(int rc)
{
    const char *missing = dbk_net_missing();
    if (missing == NULL)
        return rc;
    fprintf(stderr, "daybook: %s\n", missing);
    return rc == DBK_EXIT_OK ? DBK_EXIT_FAIL : rc;
}

/* What every command's process needs once libsodium is up. */
static void
process_setup(void)
{
    /* Jansson frees through common/wipe.c's wiping free, set before any of its trees is
     * made: its blocks hold the token of login's and enroll's answers and every decrypted
     * document parsed (an entry's text), which plain free would leave in freed heap. */
    if (!dbk_net_test_unwiped())
        json_set_alloc_funcs(malloc, dbk_wiping_free);
    /* Jansson's hash seed from libsodium's generator (one getrandom) before any object
     * is made: left to itself it opens and reads /dev/urandom, three system calls on
     * a craving's way to the spool. */
    json_object_seed(randombytes_random() | 1u);
    umask(077);
    signal(SIGPIPE, SIG_IGN);
}

int
main(int argc, char **argv)
{
    dbk_ctx ctx = {.json = false, .color = false};
    const dbk_cmd *cmd;
    int i = 1, rc;

    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            ctx.json = true;
        } else if (strcmp(argv[i], "--no-key-cache") == 0) {
            /* The unlocked keys are not kept in the keyring (trust/unlock.c). */
            setenv("DAYBOOK_UNLOCK_SECONDS", "0", 1);
        } else if (strcmp(argv[i], "--version") == 0) {
            argv[i] = "version";
            break;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            argv[i] = "help";
            break;
        } else {
            fprintf(stderr, "daybook: unknown option '%s'; see 'daybook --help'\n", argv[i]);
            return DBK_EXIT_USAGE;
        }
    }
    if (i == argc) {
        dbk_cmd_print_overview(stderr);
        return DBK_EXIT_USAGE;
    }
    cmd = dbk_cmd_find(argv[i]);
    if (cmd == NULL) {
        const char *s = dbk_cmd_suggest(argv[i]);
        if (s != NULL)
            fprintf(stderr, "daybook: unknown command '%s'; did you mean '%s'?\n", argv[i], s);
        else
            fprintf(stderr, "daybook: unknown command '%s'; see 'daybook --help'\n", argv[i]);
        return DBK_EXIT_USAGE;
    }
    if (dbk_init() != 0) {
        fprintf(stderr, "daybook: libsodium failed to initialise\n");
        return DBK_EXIT_FAIL;
    }
    process_setup();
    ctx.color = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;

    /* Options every command takes, wherever they sit before a "--": --json is taken out
     * of the command's arguments; --help or -h prints the command's help (the same text
     * as 'daybook help CMD') and runs nothing. */
    for (int j = i + 1, k = i + 1; j <= argc; j++) {
        if (j == argc) {
            argc = k;
            argv[k] = NULL;
            break;
        }
        if (strcmp(argv[j], "--") == 0) {
            memmove(&argv[k], &argv[j], (size_t)(argc - j + 1) * sizeof *argv);
            argc = k + (argc - j);
            break;
        }
        if (strcmp(argv[j], "--json") == 0) {
            ctx.json = true;
            continue;
        }
        if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0) {
            dbk_cmd_print_help(cmd, stdout);
            return DBK_EXIT_OK;
        }
        argv[k++] = argv[j];
    }
    if ((rc = dbk_cmd_check_role(cmd)) != DBK_EXIT_OK)
        return rc;
    rc = cmd->run(&ctx, argc - i, argv + i);
    dbk_cmd_tell_after(); /* the exit code stays the command's own */
    rc = with_network_library(rc);
    dbk_net_close(); /* libcurl's handle and memory wiped and freed */
    /* A full disk or closed pipe on stdout must not look like success. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "daybook: cannot write to standard output\n");
        return DBK_EXIT_FAIL;
    }
    return rc;
}
