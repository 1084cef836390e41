/*
 * The daybook command table. Each command lives in its own cmd_<name>.c and
 * exports one struct dbk_cmd; client/commands.c lists them in name order.
 * Preconditions (a profile exists, keys are unlocked) are flags that main.c
 * checks in one place before run is called.
 *
 * Exit codes, for scripts (also in `daybook --help`):
 *   0 success, 1 the operation failed, 2 usage error.
 */
#ifndef DBK_CLIENT_CMD_H
#define DBK_CLIENT_CMD_H

#include "exitcode.h"
#include "session.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct dbk_eu_list;

/* Options every command sees, parsed by main.c before the command name. */
typedef struct dbk_ctx {
    bool json;     /* --json: machine-readable output */
    bool color;    /* stdout is a terminal and NO_COLOR is unset */
} dbk_ctx;

typedef struct dbk_cmd {
    const char *name;
    const char *usage;   /* one line after "usage: " */
    const char *summary; /* lower-case phrase, no full stop */
    const char *help;    /* NULL, or the options and subcommands, one per line */
    bool client_only;    /* refused, with the reason, on a counselor's profile */
    /* With client_only: run opens the profile before anything else and checks the
     * role on that session (dbk_cmd_role_ok), instead of main opening it once more
     * for the check alone (a second open reads the whole write-ahead log again). */
    bool role_in_run;
    int (*run)(dbk_ctx *ctx, int argc, char **argv); /* argv[0] is the command name */
} dbk_cmd;

extern const dbk_cmd *const dbk_commands[];
extern const size_t dbk_commands_count;

/* The command called name, or NULL. */
const dbk_cmd *dbk_cmd_find(const char *name);
/* The command name closest to name if it is a likely typo, or NULL. */
const char *dbk_cmd_suggest(const char *name);
/*
 * Commands whose operand comes first ("daybook show ID [options]", "daybook review
 * CLIENT [options]") take it out before option parsing: a base64url id may begin
 * with '-' and must not be read as an option. dbk_cmd_take_operand returns argv[1]
 * and removes it, or NULL when argv[1] is one of the command's options ("--..." or
 * "-X..." for X in short_opts, but not an id: 22 base64url characters, "--" first
 * included; the operand may then come last). After getopt,
 * dbk_cmd_operand returns the one operand, or NULL (a usage error).
 */
const char *dbk_cmd_take_operand(int *argc, char **argv, const char *short_opts);
const char *dbk_cmd_operand(const char *taken, int argc, char **argv);
/*
 * Takes "--NAME VALUE" or "--NAME=VALUE" out of argv (name given with its dashes)
 * for commands that otherwise take only operands. *value gets the value (inside
 * argv) or NULL when the option is absent. false when it is given without a value
 * or twice (a usage error).
 */
bool dbk_cmd_take_option(int *argc, char **argv, const char *name, const char **value);
/*
 * For commands that read their arguments by hand: whether arg, not one of the
 * command's own options (check those first), names something by id. A word that
 * does not begin with '-', or an id or id prefix (6 to 22 base64url characters),
 * which may begin with '-' (one in 32 does).
 */
bool dbk_cmd_is_operand(const char *arg);

/* daybook share LINK: shares with the counselor a team link names, after checking
 * their keys against its fingerprint (cmd_team.c). Returns the exit code. */
int dbk_cmd_share_link(dbk_ctx *ctx, const char *link, bool yes);

/* daybook measure schedule|unschedule|due (cmd_measure_plan.c); exit codes. */
int dbk_cmd_measure_schedule(dbk_ctx *ctx, int argc, char **argv, bool stop);
int dbk_cmd_measure_due(dbk_ctx *ctx, int argc, char **argv);
/* The measures due today for the account whose entries l holds (for daybook today):
 * a JSON array, also printed to o unless o is NULL. */
json_t *dbk_cmd_due_measures(const dbk_session *s, const struct dbk_eu_list *l, int64_t today,
                             FILE *o);

/* daybook session group (cmd_group.c): a group session attended, for several
 * clients at once. Exit code. */
int dbk_cmd_session_group(dbk_ctx *ctx, int argc, char **argv);

/*
 * The referrals a counselor of this client wrote into its shared stream ("referral"
 * records: daybook transfer), newest first, once per link: [{"link" (a team link,
 * rule R11, on this client's server), "by" (the author's id), "name" and "role" (from
 * the link), "at"}] (cmd_team.c). The link's fingerprint is trusted because a
 * counselor this client pinned signed the record; daybook share LINK still checks
 * the keys the server gives against it.
 */
json_t *dbk_cmd_referrals(const dbk_session *s, const struct dbk_eu_list *l);

/*
 * For commands that read one person's records (client NULL: this account's; else the
 * client a counselor names): opens the session, resolves the owner and loads the
 * entries of the streams it owns. DBK_EXIT_OK with the session open and l filled, or
 * the exit code after saying why (what: "the medication records") with nothing open.
 */
int dbk_cmd_load_owned(dbk_session *s, const char *cmd, const char *client, const char *what,
                       dbk_id *owner, struct dbk_eu_list *l);

/* Prints one command's help: usage, summary, options ('daybook help CMD', 'CMD --help'). */
void dbk_cmd_print_help(const dbk_cmd *cmd, FILE *out);
/* For a client_only command: DBK_EXIT_OK, or DBK_EXIT_FAIL after saying that this
 * is a counselor's profile and what a counselor does instead (or, when the account's
 * own signed records say it is a client's, that the role is false: cli/resolve.h
 * dbk_require_own_role). */
int dbk_cmd_check_role(const dbk_cmd *cmd);
/* The same check on a session the command has open (role_in_run). */
int dbk_cmd_role_ok(const dbk_cmd *cmd, dbk_session *s);
/* Prints the overview of all commands. */
void dbk_cmd_print_overview(FILE *out);

/*
 * Shows the consent to share with counselor (the clinic's wording, names, dates) and,
 * unless yes, asks the client to type yes; only then grants (book/share.h). Returns
 * the exit code; declining is 0 and grants nothing (cmd_consent.c).
 */
int dbk_cmd_offer_consent(dbk_ctx *ctx, dbk_session *s, const dbk_id *counselor,
                          const char *cname, const unsigned char box_pk[32],
                          const char *patient_name, bool yes);

/*
 * Before a sync pushes: folds the cravings spooled since entries were last read
 * (book/spool.h), so that the push takes them. A fold that fails for another reason
 * than the passphrase (the sync needs the keys too) holds back nothing else: said as a
 * warning, the spooled cravings stay durable where they are, and the next command
 * folds again. The passphrase's error, or DBK_OK (`daybook sync`, `daybook login`).
 */
int dbk_cmd_fold_spool(dbk_session *s);

/* Prints "daybook: what: <message for err>" and returns the exit code for err. */
int dbk_cmd_fail(const char *what, int err);
/* Explains why the profile did not open (none yet, damaged, unreadable); returns 1. */
int dbk_cmd_no_profile(int err);
/* After a command: when it had to write to a read-only profile (store/local.h), names
 * the file, says that nothing was written to it and what to do; returns whether it
 * did. */
bool dbk_cmd_tell_read_only(void);
/* After a command: dbk_cmd_tell_read_only, then what folding the craving spool dropped
 * or left (book/spool.h), said on stderr. */
void dbk_cmd_tell_after(void);

#endif
