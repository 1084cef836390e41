/*
 * Output helpers shared by the commands.
 */
#ifndef DBK_CLIENT_OUTPUT_H
#define DBK_CLIENT_OUTPUT_H

#include "entries.h"

#include <stdio.h>

/* Prints j compactly with a newline, then wipes the text. */
void dbk_out_json(FILE *out, const json_t *j);
/* The "data as of" line of review and clients (dbk_review_freshen's object): plain
 * when fresh, loud ("!!", and red when colour is on) when offline or stale. */
void dbk_out_freshness(FILE *out, const json_t *fresh, bool color);
/*
 * What 'daybook review' and 'daybook clients' say on stderr of a client's records the
 * server withholds (book/counselor.h dbk_co_withheld), in the same words. warn: that n
 * entries who's device signed for never reached this device (n 0: that the server
 * handed back an older stream head), and that missing ("this review is missing them").
 * Else none_seen: that no entry of who's and no signed count were seen, so this device
 * cannot tell; else unknown: that this device cannot tell.
 */
void dbk_out_withheld(const char *who, bool warn, size_t n, bool unknown, bool none_seen,
                      const char *missing);
/* What 'daybook sync' and 'daybook login' say of n of this account's own streams of
 * which this device holds nothing and has seen no signed head (trust.h own_none). */
void dbk_out_own_unseen(size_t n);
/* What 'daybook sync' and 'daybook login' say of a device whose role (DBK_ROLE_*) is
 * the server's word and that no role record checks, when what the account already
 * signed implies another (implied: DBK_ROLE_*, -1 both; book/role.h dbk_role_signed). */
void dbk_out_role_unsupported(int role, int implied);
/* The same when the check itself could not run (the device's store failed): why. */
void dbk_out_withheld_unchecked(const char *who, const char *why, const char *missing);
/* The terminal's width when stdout is one, else 80. */
int dbk_out_columns(void);
/* Warns on stderr when some entries could not be opened. */
void dbk_out_warn_unopened(const dbk_eu_list *l);
/* On stderr: the pull refused n forged newer revisions of entries this device holds
 * (sync.h forged_revisions; nothing when n is 0). */
void dbk_out_warn_forged(size_t n);
/* On stderr: key grants the server handed over that this device refused, n of them
 * (not signed by a key it trusts, or other bytes for a grant it holds; trust.h
 * bad_grants and replaced_grants, the review's and caseload's "refused_grants");
 * nothing when n is 0. */
void dbk_out_warn_refused_grants(size_t n);
/* On stderr: what the pull of a review or caseload refused (report/review.h
 * dbk_review_freshen's fresh: refused_revisions, refused_grants), each as above. */
void dbk_out_warn_pulled(const json_t *fresh);
/* On stderr: this device stopped reading the client label on when (local time), yet the
 * server lists them as sharing (report/review.h dbk_review_readings_ended). */
void dbk_out_warn_reading_ended(const char *label, const char *when);

/* The whole consent document (consent.h) in words, every section 2.31 element and the
 * section 2.32 notice, wrapped for a terminal. */
void dbk_out_consent(FILE *out, const json_t *doc);

/* Prints text as a QR code to out (error correction M, byte mode, Unicode half
 * blocks, a quiet zone of four modules, dark on light). */
void dbk_out_qr(FILE *out, const char *text);

#endif
