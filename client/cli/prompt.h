/* Terminal prompts the commands share (cli/prompt.c). */
#ifndef DBK_CLIENT_PROMPT_H
#define DBK_CLIENT_PROMPT_H

#include <stddef.h>

/*
 * Lets the user edit text in $EDITOR (else $VISUAL, else vi), in a file made 0600 in
 * dir and shredded afterwards. Returns 0 with *out malloc'd (trailing blanks trimmed;
 * at most about 4 * max bytes read back), or -1 after saying why on stderr.
 */
int dbk_prompt_editor(const char *dir, const char *old, size_t max, char **out);

#endif
