/*
 * The caseload's rows for 'daybook clients' (caseload.c): what each row says and
 * the order of the rows. Nothing here prints; cmd_clients.c draws the table.
 */
#ifndef DBK_CLIENT_CASELOAD_H
#define DBK_CLIENT_CASELOAD_H

#include "entries.h"
#include "summary.h"

/* The flag of a row whose client's signed stream head counts entries this device never
 * received (book/counselor.h dbk_co_withheld, as the review checks it): its figures
 * are missing them. First among the row's flags. */
#define DBK_REPORT_CASELOAD_WITHHELD "SERVER WITHHOLDING ENTRIES"
/* The flag of a row whose check could not run (the device's store failed): the
 * figures may be missing entries, and nothing says whether they are. First too. */
#define DBK_REPORT_CASELOAD_UNCHECKED "WITHHELD? NOT CHECKED"
/* A client's shared stream of which this device holds no entry and never saw the
 * client's signed stream head (T12): an empty stream and one the server withholds whole
 * look the same, so the row says it cannot tell rather than nothing. */
#define DBK_REPORT_CASELOAD_NONE_SEEN "UNSIGNED: CANNOT TELL IF WITHHELD"
/* The flag of a row of a client whose shared stream this device holds but whom the
 * server's caseload, answered, does not list (a server restored, changed or lying):
 * the row shows what this device holds, never drops a client it showed. The caseload
 * row v of such a client is {DBK_REPORT_CASELOAD_NOT_LISTED: true}. */
#define DBK_REPORT_CASELOAD_UNLISTED "NOT IN SERVER'S CASELOAD"
#define DBK_REPORT_CASELOAD_NOT_LISTED "not_listed"
/* The end of the flag of a row whose client's entries held here did not open, or were
 * signed by someone who may not write them ("2 ENTRIES NOT OPENED"): the row's figures
 * are missing them, as the review says of its own ("unopened", the same shape:
 * {records, foreign_author}). After the two above. */
#define DBK_REPORT_CASELOAD_UNOPENED "NOT OPENED"
/* After ACCESS REVOKED or ACCESS EXPIRED: whether the end rests on a grant the client
 * signed (proto/TRUST.md T8) or on the server's word alone (JSON: "end_signed"). */
#define DBK_REPORT_CASELOAD_END_SIGNED "SIGNED BY CLIENT"
#define DBK_REPORT_CASELOAD_END_SERVER "SERVER'S WORD, NOT SIGNED BY CLIENT"

/*
 * One client's row (the --json shape of 'daybook clients'), from the server's
 * caseload row v (may be an empty object, offline) and the client's review since the
 * last session over the loaded entries l; NULL for an account id k that does not
 * parse, and *failed set when the review could not be computed. A new reference.
 */
json_t *dbk_report_caseload_row(dbk_session *s, const dbk_eu_list *l, const json_t *aliases,
                                const char *k, json_t *v, int64_t now_ms, bool *failed);

/*
 * The same row from the client's summaries (summary.h) instead of its entries: own
 * holds this account's own entries (session markers, discussed marks), sums the
 * summaries of the caseload's streams. Equal to dbk_report_caseload_row's for the
 * same data (the tests compare the two).
 */
json_t *dbk_report_caseload_row_sum(dbk_session *s, const dbk_eu_list *own, const dbk_sum *sums,
                                    size_t nsums, const json_t *aliases, const char *k, json_t *v,
                                    int64_t now_ms, bool *failed);

/* The start of the flag of a row whose client's data is not current while the server
 * answered (one of their streams, or this account's own, failed to sync, or their
 * reading ended): "STALE AS OF 2026-12-07 09:30" ("never"), last among its flags. */
#define DBK_REPORT_CASELOAD_STALE "STALE AS OF"

/* Puts data, how fresh the row's client's data is (review.h dbk_review_freshness_of),
 * into row as "data" (takes it), with the STALE AS OF flag when it is stale and not
 * offline (offline, the caseload's first line says so for every row). */
void dbk_report_caseload_row_data(json_t *row, json_t *data);

/* Sorts rows in place: risk, use, high craving, silence, the rest; then recency. */
void dbk_report_caseload_sort(json_t *rows);

#endif
