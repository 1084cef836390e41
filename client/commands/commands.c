/* The command table and name look-up, with "did you mean" for typos. */
#include "cmd.h"
#include "entries.h"
#include "output.h"
#include "resolve.h"
#include "role.h"
#include "spool.h"
#include "spool_file.h"

#include "dbk/error.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const dbk_cmd dbk_cmd_access;
extern const dbk_cmd dbk_cmd_assign;
extern const dbk_cmd dbk_cmd_calendar;
extern const dbk_cmd dbk_cmd_check;
extern const dbk_cmd dbk_cmd_checkin;
extern const dbk_cmd dbk_cmd_clients;
extern const dbk_cmd dbk_cmd_consent;
extern const dbk_cmd dbk_cmd_craving;
extern const dbk_cmd dbk_cmd_edit;
extern const dbk_cmd dbk_cmd_enroll;
extern const dbk_cmd dbk_cmd_export;
extern const dbk_cmd dbk_cmd_devices;
extern const dbk_cmd dbk_cmd_disclosures;
extern const dbk_cmd dbk_cmd_help;
extern const dbk_cmd dbk_cmd_help_now;
extern const dbk_cmd dbk_cmd_init;
extern const dbk_cmd dbk_cmd_invite;
extern const dbk_cmd dbk_cmd_journal;
extern const dbk_cmd dbk_cmd_lock;
extern const dbk_cmd dbk_cmd_log;
extern const dbk_cmd dbk_cmd_login;
extern const dbk_cmd dbk_cmd_measure;
extern const dbk_cmd dbk_cmd_med;
extern const dbk_cmd dbk_cmd_note;
extern const dbk_cmd dbk_cmd_notes;
extern const dbk_cmd dbk_cmd_passwd;
extern const dbk_cmd dbk_cmd_plan;
extern const dbk_cmd dbk_cmd_review;
extern const dbk_cmd dbk_cmd_revoke;
extern const dbk_cmd dbk_cmd_rm;
extern const dbk_cmd dbk_cmd_session;
extern const dbk_cmd dbk_cmd_share;
extern const dbk_cmd dbk_cmd_show;
extern const dbk_cmd dbk_cmd_status;
extern const dbk_cmd dbk_cmd_sync;
extern const dbk_cmd dbk_cmd_team_link;
extern const dbk_cmd dbk_cmd_today;
extern const dbk_cmd dbk_cmd_transfer;
extern const dbk_cmd dbk_cmd_trends;
extern const dbk_cmd dbk_cmd_unassign;
extern const dbk_cmd dbk_cmd_uncheck;
extern const dbk_cmd dbk_cmd_unlock;
extern const dbk_cmd dbk_cmd_verify;
extern const dbk_cmd dbk_cmd_version;

/* Sorted by name. */
const dbk_cmd *const dbk_commands[] = {
    &dbk_cmd_access,
    &dbk_cmd_assign,
    &dbk_cmd_calendar,
    &dbk_cmd_check,
    &dbk_cmd_checkin,
    &dbk_cmd_clients,
    &dbk_cmd_consent,
    &dbk_cmd_craving,
    &dbk_cmd_devices,
    &dbk_cmd_disclosures,
    &dbk_cmd_edit,
    &dbk_cmd_enroll,
    &dbk_cmd_export,
    &dbk_cmd_help,
    &dbk_cmd_help_now,
    &dbk_cmd_init,
    &dbk_cmd_invite,
    &dbk_cmd_journal,
    &dbk_cmd_lock,
    &dbk_cmd_log,
    &dbk_cmd_login,
    &dbk_cmd_measure,
    &dbk_cmd_med,
    &dbk_cmd_note,
    &dbk_cmd_notes,
    &dbk_cmd_passwd,
    &dbk_cmd_plan,
    &dbk_cmd_review,
    &dbk_cmd_revoke,
    &dbk_cmd_rm,
    &dbk_cmd_session,
    &dbk_cmd_share,
    &dbk_cmd_show,
    &dbk_cmd_status,
    &dbk_cmd_sync,
    &dbk_cmd_team_link,
    &dbk_cmd_today,
    &dbk_cmd_transfer,
    &dbk_cmd_trends,
    &dbk_cmd_unassign,
    &dbk_cmd_uncheck,
    &dbk_cmd_unlock,
    &dbk_cmd_verify,
    &dbk_cmd_version,
};
const size_t dbk_commands_count = sizeof dbk_commands / sizeof dbk_commands[0];

bool
dbk_cmd_take_option(int *argc, char **argv, const char *name, const char **value)
{
    size_t len = strlen(name);
    *value = NULL;
    for (int i = 1; i < *argc; i++) {
        int take;
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], name) == 0) {
            if (i + 1 >= *argc || *value != NULL)
                return false;
            *value = argv[i + 1];
            take = 2;
        } else if (strncmp(argv[i], name, len) == 0 && argv[i][len] == '=') {
            if (*value != NULL || argv[i][len + 1] == '\0')
                return false;
            *value = argv[i] + len + 1;
            take = 1;
        } else {
            continue;
        }
        memmove(&argv[i], &argv[i + take], (size_t)(*argc - i - take + 1) * sizeof *argv);
        *argc -= take;
        i--;
    }
    return true;
}

/* Whether a passphrase could have been given: a file or descriptor for scripts, or a
 * terminal to type it on. Without one, "wrong passphrase" would be a lie. */
static bool
passphrase_source(void)
{
    const char *f = getenv("DAYBOOK_PASSPHRASE_FILE"), *d = getenv("DAYBOOK_PASSPHRASE_FD");
    int fd;
    if ((f != NULL && *f) || (d != NULL && *d))
        return true;
    if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) < 0)
        return false;
    close(fd);
    return true;
}

int
dbk_cmd_fail(const char *what, int err)
{
    if (err == DBK_E_PASSPHRASE && !passphrase_source())
        fprintf(stderr, "daybook: %s: no passphrase was given. Run it on a terminal, or give "
                        "the passphrase in DAYBOOK_PASSPHRASE_FILE or DAYBOOK_PASSPHRASE_FD.\n",
                what);
    else if (err == DBK_E_STORAGE_FULL) /* the table's message speaks of the server's disk */
        fprintf(stderr, "daybook: %s: this device's disk is full; nothing was written and "
                        "nothing stored before is lost. Free some space and try again.\n",
                what);
    else if (err == DBK_E_NOMEM) /* a write refused unsynced says so too (store/local.c) */
        fprintf(stderr,
                "daybook: %s: this device ran out of memory; nothing stored before is "
                "lost. Close some programs and try again.\n",
                what);
    else
        fprintf(stderr, "daybook: %s: %s\n", what, dbk_err_message(err));
    return DBK_EXIT_FAIL;
}

int
dbk_cmd_no_profile(int err)
{
    if (err == DBK_E_NOT_FOUND)
        fprintf(stderr, "daybook: no profile yet: run 'daybook init' (or 'daybook login LINK' "
                        "on a second device)\n");
    else if (err == DBK_E_STORAGE_FULL)
        fprintf(stderr, "daybook: this device's disk is full; nothing was written and nothing "
                        "stored before is lost. Free some space and try again.\n");
    else if (err == DBK_E_CORRUPT)
        fprintf(stderr, "daybook: your profile (daybook.db in $DAYBOOK_HOME) is damaged. Move "
                        "it aside; 'daybook login LINK' brings back everything that was "
                        "synced.\n");
    else
        fprintf(stderr, "daybook: cannot open your profile: %s\n", dbk_err_message(err));
    return DBK_EXIT_FAIL;
}

bool
dbk_cmd_tell_read_only(void)
{
    const char *path = dbk_local_refused_write();
    if (path == NULL)
        return false;
    fprintf(stderr,
            "daybook: your profile %s is read-only, and this command needs to write to it; "
            "nothing was written. Commands that only read (log, calendar, 'review CLIENT "
            "--offline', version) work as it is; to use the others, make it writable again: "
            "chmod u+w '%s' '%s-wal' '%s-shm'\n",
            path, path, path, path);
    return true;
}

void
dbk_cmd_tell_after(void)
{
    const dbk_spool_news *n = dbk_spool_news_get();
    (void)dbk_cmd_tell_read_only();
    if (n->torn > 0)
        fprintf(stderr, "daybook: a craving was being written when Daybook stopped; it was "
                        "never reported saved and is dropped (log it again if 'Saved' never "
                        "showed)\n");
    if (n->kept > 0)
        fprintf(stderr,
                "daybook: %zu logged craving%s in %s do not open with this account's "
                "keys; kept there (move the file away to stop this message)\n",
                n->kept, n->kept == 1 ? "" : "s", n->path);
    if (n->foreign)
        fprintf(stderr,
                "daybook: %s holds cravings of another account; they are left there (move "
                "the file away to stop this message)\n",
                n->path);
}

int
dbk_cmd_fold_spool(dbk_session *s)
{
    int rc = dbk_spool_fold(s, NULL);
    if (rc == DBK_OK || rc == DBK_E_PASSPHRASE)
        return rc;
    fprintf(stderr,
            "daybook: WARNING: the cravings logged since the last sync could not be added "
            "to the profile (%s); they are kept in %s/%s and go out at a later sync. "
            "Syncing the rest.\n",
            dbk_err_message(rc), s->dir, DBK_SPOOL_FILE);
    return DBK_OK;
}

int
dbk_cmd_role_ok(const dbk_cmd *cmd, dbk_session *s)
{
    int rc;
    if (!cmd->client_only || s->role != DBK_ROLE_COUNSELOR)
        return DBK_EXIT_OK;
    /* A client's device told by the server it is a counselor's: what is wrong and who to
     * tell, never a counselor's command to run instead (proto/TRUST.md T13). That needs
     * the keys; a profile whose own state says it is a counselor's is told first, without
     * a passphrase asked for a command it cannot run. */
    if (!dbk_role_locally_counselor(s) && (rc = dbk_require_own_role(s, cmd->name)) != DBK_EXIT_OK)
        return rc;
    fprintf(stderr, "daybook: '%s' is for clients, and this is a counselor's profile. A "
                    "counselor writes 'daybook note CLIENT -m TEXT' or 'daybook assign CLIENT "
                    "SKILL'; a client uses their own profile (DAYBOOK_HOME).\n",
            cmd->name);
    return DBK_EXIT_FAIL;
}

int
dbk_cmd_check_role(const dbk_cmd *cmd)
{
    dbk_session s;
    int rc;

    if (!cmd->client_only || cmd->role_in_run || dbk_session_open(&s, false) != DBK_OK)
        return DBK_EXIT_OK; /* no profile yet: the command says so itself */
    rc = dbk_cmd_role_ok(cmd, &s);
    dbk_session_close(&s);
    return rc;
}

const dbk_cmd *
dbk_cmd_find(const char *name)
{
    for (size_t i = 0; i < dbk_commands_count; i++)
        if (strcmp(dbk_commands[i]->name, name) == 0)
            return dbk_commands[i];
    return NULL;
}

const char *
dbk_cmd_suggest(const char *name)
{
    const char *best = NULL;
    size_t best_d = 3; /* suggest only within two edits */

    for (size_t i = 0; i < dbk_commands_count; i++) {
        size_t d = dbk_eu_distance(name, dbk_commands[i]->name);
        if (d < best_d) {
            best_d = d;
            best = dbk_commands[i]->name;
        }
    }
    return best;
}

void
dbk_cmd_print_help(const dbk_cmd *c, FILE *out)
{
    fprintf(out, "usage: %s\n\n%s.\n", c->usage, c->summary);
    if (c->help != NULL)
        fprintf(out, "\n%s", c->help);
    fprintf(out, "\nOptions every command takes: --json (machine-readable output), --help.\n");
}

void
dbk_cmd_print_overview(FILE *out)
{
    fprintf(out, "usage: daybook [--json] [--no-key-cache] COMMAND [ARGS]\n\n"
                 "Log cravings, journal entries and coping skills between sessions, offline,\n"
                 "and sync them end-to-end encrypted with your clinic's server.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < dbk_commands_count; i++)
        fprintf(out, "  %-10s %s\n", dbk_commands[i]->name, dbk_commands[i]->summary);
    fprintf(out, "\noptions:\n"
                 "  --json     machine-readable output\n"
                 "  --no-key-cache  keep the unlocked keys in no cache (DAYBOOK_UNLOCK_SECONDS=0):\n"
                 "             the passphrase is asked by every command\n"
                 "  --version  print the version\n"
                 "  --help     this overview; 'daybook help COMMAND' for one command\n"
                 "\nfiles: your profile is in $DAYBOOK_HOME (default ~/.local/share/daybook).\n"
                 "passphrase: asked on the terminal, or read from DAYBOOK_PASSPHRASE_FILE or\n"
                 "DAYBOOK_PASSPHRASE_FD for scripts. Once unlocked, the keys stay in the\n"
                 "kernel keyring for DAYBOOK_UNLOCK_SECONDS (900) where any process of your\n"
                 "user can read them; 'daybook lock' forgets them, --no-key-cache keeps none.\n"
                 "\nexit codes: 0 success, 1 the operation failed, 2 usage error.\n"
                 "Colour is used on a terminal unless NO_COLOR is set.\n");
}

/* The characters of an id's text (base64url). */
#define B64URL_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

const char *
dbk_cmd_take_operand(int *argc, char **argv, const char *short_opts)
{
    const char *first;
    bool id;
    /* "--..." is a long option and "-X..." with X an option letter is that option,
     * with its argument attached ("-mTEXT") or not, unless it is an id: 22 base64url
     * characters, which may begin with '-' (one in 64) or "--" (one in 4096). */
    if (*argc < 2)
        return NULL;
    first = argv[1];
    id = strlen(first) == DBK_ID_TEXT_LEN && strspn(first, B64URL_CHARS) == DBK_ID_TEXT_LEN;
    if (!id &&
        (strncmp(first, "--", 2) == 0 || (first[0] == '-' && first[1] != '\0' && first[1] != ':' &&
                                          strchr(short_opts, first[1]) != NULL)))
        return NULL;
    memmove(&argv[1], &argv[2], (size_t)(*argc - 1) * sizeof *argv); /* with the NULL */
    (*argc)--;
    return first;
}

bool
dbk_cmd_is_operand(const char *arg)
{
    size_t n = strlen(arg);
    if (arg[0] != '-')
        return true;
    return n >= 6 && n <= DBK_ID_TEXT_LEN && strspn(arg, B64URL_CHARS) == n;
}

const char *
dbk_cmd_operand(const char *taken, int argc, char **argv)
{
    if (taken != NULL)
        return optind == argc ? taken : NULL;
    return optind == argc - 1 ? argv[optind] : NULL;
}

int
dbk_cmd_load_owned(dbk_session *s, const char *cmd, const char *client, const char *what,
                   dbk_id *owner, dbk_eu_list *l)
{
    int rc;
    char msg[96];
    memset(l, 0, sizeof *l);
    if ((rc = dbk_session_open(s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if ((rc = dbk_resolve_owner(s, cmd, client, owner)) != DBK_EXIT_OK) {
        dbk_session_close(s);
        return rc;
    }
    if ((rc = dbk_eu_load_owned(s, owner, l)) != DBK_OK) {
        dbk_eu_free(l);
        dbk_session_close(s);
        snprintf(msg, sizeof msg, "cannot read %s", what);
        return dbk_cmd_fail(msg, rc);
    }
    dbk_out_warn_unopened(l);
    return DBK_EXIT_OK;
}
