/*
 * What the history and checklist commands (today, check, uncheck, show, edit,
 * rm, trends, export) share: every current entry loaded into memory, an id
 * given as a unique prefix, every revision of one record opened, local days,
 * and the coping-skills checklist (definition and days) built from entries.
 */
#ifndef DBK_CLIENT_ENTRIES_UTIL_H
#define DBK_CLIENT_ENTRIES_UTIL_H

#include "entry.h"

#include <stdio.h>

/* ---- entries in memory ---- */

typedef struct dbk_eu_entry {
    dbk_envelope_hdr hdr;
    json_t *doc;      /* the plaintext, parsed (owned by the list) */
    const char *type; /* doc's "type", "" when missing */
    bool pending;     /* not yet acknowledged by the server */
    int kind;         /* DBK_LOCAL_SHARED or DBK_LOCAL_PRIVATE */
    bool mine;        /* the stream is this account's own */
    dbk_id owner;     /* the stream's owner (a client's, for a counselor) */
} dbk_eu_entry;

typedef struct dbk_eu_list {
    dbk_eu_entry *v; /* oldest revision clock first */
    size_t n, cap;
    size_t bad; /* entries that did not open */
} dbk_eu_list;

/* Opens (unlocking if needed) every current entry of the account's streams. */
int dbk_eu_load(dbk_session *s, dbk_eu_list *out);
/* Only the entries of the streams this account or owner owns (dbk_entries_owned). */
int dbk_eu_load_owned(dbk_session *s, const dbk_id *owner, dbk_eu_list *out);
void dbk_eu_free(dbk_eu_list *l);
/* Warns on stderr when some entries could not be opened. */
void dbk_eu_warn_bad(const dbk_eu_list *l);

#define DBK_EU_PREFIX_MIN 6
/*
 * The entry whose record id is id_or_prefix, or starts with it (at least
 * DBK_EU_PREFIX_MIN characters, matching exactly one record). Prints what went
 * wrong and returns the exit code (DBK_EXIT_USAGE for a too short prefix,
 * DBK_EXIT_FAIL for none or several); DBK_EXIT_OK with *idx.
 */
int dbk_eu_resolve(const dbk_eu_list *l, const char *id_or_prefix, size_t *idx);

/* ---- revisions ---- */

typedef struct dbk_eu_rev {
    dbk_envelope_hdr hdr;
    bool current, pending;
    json_t *doc; /* NULL when this revision does not open */
} dbk_eu_rev;

/* Every revision of record kept on this device, current first, each opened. */
int dbk_eu_revisions(dbk_session *s, const dbk_id *record, dbk_eu_rev **out, size_t *n);
void dbk_eu_revisions_free(dbk_eu_rev *v, size_t n);

/* ---- days, text, output ---- */

/* Today's local day number (daycount.h). */
int64_t dbk_eu_today(void);
/* The local day an entry belongs to: occurred_at, written_at, date or deleted_at
 * (the date as written, in the writer's local offset). */
bool dbk_eu_entry_day(const json_t *doc, int64_t *day);
/* "shared" or "private". */
const char *dbk_eu_stream_name(int kind);
/* The revision clock's wall time as local "YYYY-MM-DD HH:MM". */
void dbk_eu_clock_text(uint64_t clock, char out[32]);
/* A craving's intensity on the 0-10 scale (1-100 values are divided by 10). */
bool dbk_eu_intensity10(const json_t *craving, double *out);
/* Prints j compactly with a newline, then wipes the text. */
void dbk_eu_print_json(FILE *out, const json_t *j);
/* Wipes and frees a string that held plaintext. */
void dbk_eu_wipe_free(char *s);
/* Edit distance of two short strings (99 when either is over 64 characters). */
size_t dbk_eu_distance(const char *a, const char *b);

/* ---- the coping-skills checklist ---- */

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
    size_t bad_defs; /* definitions skipped (duplicate or malformed item ids) */
} dbk_checklist;

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
/* Whether item was checked on day (in any record for that day). */
bool dbk_checklist_checked(const dbk_checklist *c, const dbk_eu_list *l, const char *item,
                           int64_t day);
/* Days item was checked, malloc'd (distinct), for dbk_streak. */
int64_t *dbk_checklist_days_of(const dbk_checklist *c, const dbk_eu_list *l, const char *item,
                               size_t *n);
/* Whether a checklist_day's "checked" array holds item. */
bool dbk_checklist_has(const json_t *checked, const char *item);

/* ---- craving figures (what trends and a counselor's review count) ---- */

typedef struct dbk_eu_count {
    char kind[48];
    const char *value; /* inside an entry's doc */
    int n, resisted;
} dbk_eu_count;

typedef struct dbk_eu_counts {
    dbk_eu_count *v;
    size_t n, cap;
} dbk_eu_counts;

/* Counts one more (kind, value); NULL when out of memory. */
dbk_eu_count *dbk_eu_counts_bump(dbk_eu_counts *c, const char *kind, const char *value);
/* Most counted first; ties by kind, then value. */
void dbk_eu_counts_sort(dbk_eu_counts *c);
void dbk_eu_counts_free(dbk_eu_counts *c);
/* A craving's triggers: each distinct value of each kind once ("halt" included),
 * withdrawal as ("withdrawal", ""). */
void dbk_eu_count_triggers(dbk_eu_counts *c, const json_t *triggers);
/* A craving's coping strategies, each distinct one once, with whether the craving
 * was resisted (kind ""). */
void dbk_eu_count_coping(dbk_eu_counts *c, const json_t *craving);
/* The craving's outcome.result ("resisted", "used") or NULL. */
const char *dbk_eu_outcome(const json_t *craving);

#endif
