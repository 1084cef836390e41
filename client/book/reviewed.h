/*
 * The counselor's "reviewed" record (proto/schemas/reviewed.schema.json): which of a
 * client's entries the counselor's reviews have shown, written by the counselor
 * into the client's shared stream and signed like every record, so the client's
 * device knows, offline, that an entry was already read (a `daybook rm` of it says
 * so plainly before it asks). One record per counselor and client, revised as the
 * set grows (a counselor may revise only records it created, proto README section
 * 9); the newest revision holds the whole set.
 *
 * What it tells the client is what a review put on the counselor's screen, not what
 * the counselor took in; and it reaches the client after the counselor's next sync.
 */
#ifndef DBK_CLIENT_REVIEWED_H
#define DBK_CLIENT_REVIEWED_H

#include "entries.h"

#include <stdbool.h>

/* At most this many record ids in one record (an envelope of about 300 KiB). */
#define DBK_REVIEWED_MAX 12000

/*
 * Counselor: records that the entries whose ids are the keys of kept (the copies
 * report/'s review keeps, dbk_review_remember) were reviewed, by revising this
 * counselor's reviewed record in client's shared stream (or starting one) when the
 * set grew. l: the entries loaded (the client's stream among them). DBK_OK (also
 * when nothing changed), or an error code; the review itself stands either way.
 */
int dbk_co_reviewed_mark(dbk_session *s, const dbk_id *client, const dbk_eu_list *l,
                         const json_t *kept);

/*
 * Client: whether a counselor's reviewed record in owner's shared stream (in l)
 * names record; when it does, the newest such record's "at" (RFC 3339, or "") in
 * at. Only records a grantee of the stream signed count: an author the loader
 * refused is not in l.
 */
bool dbk_eu_reviewed_by_counselor(const dbk_eu_list *l, const dbk_id *owner,
                                  const dbk_id *record, char at[40]);

#endif
