/*
 * The coping-skills checklist: the default items, the definitions a client or a
 * counselor wrote (checklist_def records), and the days ticked (checklist_day
 * records), built from the entries in memory.
 */
#ifndef DBK_CLIENT_CHECKLIST_H
#define DBK_CLIENT_CHECKLIST_H

#include "entries.h"

typedef struct dbk_ck_item {
    char id[41];
    const char *label;  /* static or inside an entry of the list */
    const char *source; /* "default", "client" or "counselor" */
    bool active;
} dbk_ck_item;

typedef struct dbk_checklist {
    dbk_ck_item *items; /* display order: defaults, then definitions' items */
    size_t nitems;
    size_t *days; /* indexes into the list of this account's checklist_day entries */
    int64_t *day; /* their day numbers */
    size_t ndays;
    int64_t *attended; /* days of the attendance records a counselor wrote (group
                        * sessions): each ticks DBK_CK_ATTENDED that day */
    size_t nattended;
    size_t bad_defs; /* definitions skipped (duplicate or malformed item ids) */
} dbk_checklist;

/* The default item an attendance record ticks. */
#define DBK_CK_ATTENDED "attended_treatment"

/*
 * The checklist from the loaded entries: the default items (proto/schemas/README.md),
 * updated and extended by every checklist_def record in the account's shared stream
 * (oldest first; a counselor's or the client's own), and this account's
 * checklist_day records.
 */
int dbk_checklist_build(dbk_session *s, const dbk_eu_list *l, dbk_checklist *out);
/* The same for the account owner (a client whose shared stream a counselor reads):
 * definitions from owner's shared stream, days from entries in owner's streams. */
int dbk_checklist_build_for(dbk_session *s, const dbk_eu_list *l, const dbk_id *owner,
                            dbk_checklist *out);
void dbk_checklist_free(dbk_checklist *c);
/* The item with id, or NULL. */
const dbk_ck_item *dbk_checklist_item(const dbk_checklist *c, const char *id);
/* An active item id that looks like what was typed, or NULL. */
const char *dbk_checklist_suggest(const dbk_checklist *c, const char *typed);
/* Whether a counselor marked the client at a session on day (attendance records). */
bool dbk_checklist_attended(const dbk_checklist *c, int64_t day);
/* Whether item was checked on day (in any record for that day; DBK_CK_ATTENDED also by
 * an attendance record). */
bool dbk_checklist_checked(const dbk_checklist *c, const dbk_eu_list *l, const char *item,
                           int64_t day);
/* The same on day, and, when day is last (a view's last day: this device's today), on
 * any day after it too: a client's date runs ahead of this device's (a time zone ahead,
 * a clock ahead, a client that wrote before flying west), and a day it ticked is in the
 * view, counted on its last day, never left after its end. */
bool dbk_checklist_checked_through(const dbk_checklist *c, const dbk_eu_list *l, const char *item,
                                   int64_t day, int64_t last);
/* Days item was checked, malloc'd (distinct), for dbk_streak. */
int64_t *dbk_checklist_days_of(const dbk_checklist *c, const dbk_eu_list *l, const char *item,
                               size_t *n);
/* Ticks an active item on day unless it is ticked already (*ticked says whether a
 * revision was written): what 'daybook check' does, for commands that tick an item
 * by doing it (a journal entry ticks "journaling"). */
int dbk_checklist_tick(dbk_session *s, const char *item, int64_t day, bool *ticked);
/* Adds items (a JSON array of ids) to day's checklist, in this device's own
 * checklist_day record for that day (rule R7: readers combine a day's records by union;
 * an untick writes every record of the day that holds the item). */
int dbk_checklist_add(dbk_session *s, const dbk_eu_list *l, const dbk_checklist *c, int64_t day,
                      const json_t *items);
/* Removes items (a JSON array of ids) from day's checklist: every record of the day
 * that holds one of them gets a revision without it (*wrote when one was written). */
int dbk_checklist_remove(dbk_session *s, const dbk_eu_list *l, const dbk_checklist *c, int64_t day,
                         const json_t *items, bool *wrote);
/* Whether a checklist_day's "checked" array holds item. */
bool dbk_checklist_has(const json_t *checked, const char *item);

#endif
