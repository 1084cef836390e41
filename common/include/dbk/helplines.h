/*
 * The clinic's help lines: the numbers `daybook help-now` shows between the client's
 * safety plan and the national lines (proto/README.md section 4.4). The clinic sets
 * them in daybookd's help-line setting; the server hands them out at
 * GET /v1/help-lines; the counselor's device puts their short hash in the
 * enrollment link (`help=`), so the client's device pins exactly what the counselor
 * saw and a server that changes them later is refused, loudly.
 *
 * The list: a JSON array of 0 to DBK_HELP_LINES_MAX objects {"number", "label"},
 * no other field. number: 1 to DBK_HELP_NUMBER_MAX bytes of digits, spaces and
 * "+-()./" (what a person dials or texts). label: 1 to DBK_HELP_LABEL_MAX bytes of
 * UTF-8 with no control character (who answers, and when). Both fit the 80-column
 * card on one line.
 */
#ifndef DBK_HELPLINES_H
#define DBK_HELPLINES_H

#include <jansson.h>
#include <stddef.h>

enum {
    DBK_HELP_LINES_MAX = 4,
    DBK_HELP_NUMBER_MAX = 20,
    DBK_HELP_LABEL_MAX = 55, /* 4 + a 20-byte number + 1 + 55: the card's 80 columns */
    DBK_HELP_HASH_LEN = 22, /* the short hash as text: 16 bytes of base64url */
};

/* DBK_OK, or DBK_E_INVALID with what is wrong (which line, which field) in why. */
int dbk_help_lines_check(const json_t *lines, char *why, size_t cap);

/*
 * Parses one help-line setting, "NUMBER | LABEL" (spaces around '|' are dropped),
 * and appends {"number", "label"} to lines. DBK_OK, or DBK_E_INVALID with why.
 */
int dbk_help_line_parse(const char *setting, json_t *lines, char *why, size_t cap);

/*
 * The short hash of a checked list (proto/README.md section 4.4), as 22 characters
 * of base64url plus a NUL in out:
 *
 *   BLAKE2b-128("daybook/v1/help-lines\0" || n[1] ||
 *               for each line: len(number)[1] || number || len(label)[1] || label)
 *
 * The empty list has a hash too: a link that carries it says "no clinic numbers".
 * DBK_OK, or DBK_E_INVALID for a list dbk_help_lines_check refuses.
 */
int dbk_help_lines_hash(char out[DBK_HELP_HASH_LEN + 1], const json_t *lines);

#endif
