/*
 * The review's renderers: each writes the review JSON (review.h) to the FILE *
 * its caller passes. Nothing here decides or computes; a field missing from the
 * JSON renders as empty or "-".
 */
#ifndef DBK_CLIENT_RENDER_H
#define DBK_CLIENT_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* The 42 CFR Part 2 redisclosure notice every review carries (§2.32). */
extern const char dbk_report_notice[];

/* The review as text laid out to width columns (80 for a file or a pipe, the
 * terminal's otherwise; 40 to 200), colour (bold, red) only when asked. */
void dbk_report_text(FILE *o, const json_t *r, int width, bool color);
/* The review as one self-contained HTML file. */
void dbk_report_html(FILE *o, const json_t *r);

/* What a review says when its "consent" has "listed": false (cmd_review.c: the server's
 * caseload answered without the client, whose entries this device holds), in both
 * renderers, so that a review kept as a file says it too. */
#define DBK_REPORT_NOT_LISTED_SAYS                                                                 \
    "!! NOT IN SERVER'S CASELOAD: the server no longer lists this client. This review shows "      \
    "what this device holds from earlier syncs (see the data line above); the server's "           \
    "listing alone does not say the client stopped sharing. Ask the clinic why (a server "         \
    "restored from a backup, or changed), and ask the client in session."

/* What the review's "withheld" (book/counselor.h dbk_co_withheld_json) says, as one
 * sentence into buf for both renderers, so a review kept as a file carries what stderr
 * said when it was made; NULL when the check found nothing. *loud: the server is
 * withholding entries (not only "cannot tell"). */
const char *dbk_report_withheld_says(const json_t *r, char *buf, size_t cap, bool *loud);
/* What the review's "unopened" says (entries of the review that did not open, or were
 * signed by someone who may not write them, all left out), as one sentence into buf for
 * both renderers; NULL when there were none. */
const char *dbk_report_unopened_says(const json_t *r, char *buf, size_t cap);

#endif
