/* Terminal prompts the commands share (cli/prompt.c). */
#ifndef DBK_CLIENT_PROMPT_H
#define DBK_CLIENT_PROMPT_H

#include "session.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Whether a person is at a terminal (stdin and stdout both are one). */
bool dbk_prompt_interactive(void);
/* Prints prompt on stdout, reads one line into buf (without its newline). -1 at end of
 * input. */
int dbk_prompt_line(const char *prompt, char *buf, size_t cap);
/* Asks question until yes/y (1) or no/n/empty (0); -1 at end of input. */
int dbk_prompt_confirm(const char *question);
/*
 * A numbered list: prints title and labels 1..n, reads numbers (several when multi).
 * A number out of range, or several for one, asks again. Words that are not numbers
 * go whole into other when the caller takes free text (other != NULL; the caller
 * keeps them as a note, never splits them into items); otherwise they ask again.
 * Returns how many were chosen (chosen[i] set), 0 for none or free text, -1 at end of
 * input.
 */
int dbk_prompt_pick(const char *title, const char *const *labels, size_t n, bool multi,
                    bool *chosen, char *other, size_t other_cap);

/*
 * Lets the user edit text in $EDITOR (else $VISUAL, else vi), in a file made 0600 in
 * dir and shredded afterwards. Returns 0 with *out malloc'd (trailing blanks trimmed;
 * at most about 4 * max bytes read back), or -1 after saying why on stderr.
 */
int dbk_prompt_editor(const char *dir, const char *old, size_t max, char **out);

/*
 * Unlocks s before a command asks its questions, so a wrong passphrase costs no typed
 * entry: up to 3 tries when the passphrase comes from the terminal, 1 from a file or
 * descriptor. On success the account's public key is remembered for drafts and the
 * drafts kept earlier are saved (said on stderr). DBK_E_PASSPHRASE after the last
 * wrong one.
 */
int dbk_prompt_unlock(dbk_session *s);
/* Saves the drafts kept earlier (s unlocked) and says so on stderr. */
void dbk_prompt_drafts_saved(dbk_session *s);
/*
 * After a save failed because the passphrase did not unlock: keeps doc as a sealed
 * draft (draft.h) and tells the person what happened to what they typed. true when
 * it was kept.
 */
bool dbk_prompt_keep_draft(dbk_session *s, int kind, const json_t *doc, const char *what);

#endif
