/*
 * The client's two plans, written together in session and kept current by both the
 * client and the counselor:
 *
 *   relapse_prevention  SAMHSA TIP 43's elements: warning signs, internal and
 *                       external triggers, coping for high-risk situations, people,
 *                       places and things to avoid, the support network, a plan to
 *                       interrupt a slip, and the reasons for recovery.
 *   safety              the six steps of the Stanley-Brown safety plan: warning
 *                       signs, internal coping strategies, people and social settings
 *                       that distract, people to ask for help, professionals and
 *                       agencies (crisis lines included), making the environment
 *                       safe; and, as the model suggests, the reasons for living.
 *
 * A plan lives in the client's shared stream as records of type "plan"; each edit
 * is a new revision signed by whoever made it, so its history says who changed what
 * and when. The protocol lets a counselor write only records it created (proto
 * README section 9), so a counselor's edit revises the counselor's own plan record
 * (or starts one) while the client revises the newest; the plan of a kind is its
 * newest revision across those records. Sections are lists of short lines. Pure
 * functions: no profile, no I/O.
 */
#ifndef DBK_CLIENT_PLAN_H
#define DBK_CLIENT_PLAN_H

#include "entries.h"

typedef struct dbk_plan_section {
    const char *key;     /* in the record: "warning_signs" */
    const char *heading; /* for people: "Warning signs" */
} dbk_plan_section;

typedef struct dbk_plan_kind {
    const char *id;   /* "safety", "relapse_prevention" */
    const char *name; /* "Safety plan" */
    size_t nsections;
    const dbk_plan_section *sections;
} dbk_plan_kind;

/* The kind with this id ("safety", "relapse_prevention"; "relapse" is accepted
 * for the latter), or NULL. */
const dbk_plan_kind *dbk_plan_kind_find(const char *id);
/* The section of k with this key, or NULL. */
const dbk_plan_section *dbk_plan_section_find(const dbk_plan_kind *k, const char *key);

/* The current plan of kind k owned by owner among the entries of l: the newest
 * revision of the records of that kind (NULL when there is none). With author not
 * NULL, only records whose current revision author wrote. */
const dbk_eu_entry *dbk_plan_current(const dbk_eu_list *l, const dbk_id *owner,
                                     const dbk_plan_kind *k, const dbk_id *author);

/*
 * Parses the text form of a plan (what `daybook plan edit` opens and
 * `plan show --text` prints): a "## Heading" line per section, then one item per
 * line ("- " in front is optional); blank lines and lines starting with '#' but
 * not "## " are ignored. Returns the sections object {key: [items]}, or NULL with a
 * message in err (a heading that is no section of k).
 */
json_t *dbk_plan_parse(const dbk_plan_kind *k, const char *text, char *err, size_t errcap);
/* The text form of sections (a plan's "sections"; may be NULL), every section of k
 * present, with a comment on top. malloc'd. */
char *dbk_plan_format(const dbk_plan_kind *k, const json_t *sections);

/* A new plan document: kind, sections, updated_at now, tz. New reference. */
json_t *dbk_plan_doc(const dbk_plan_kind *k, json_t *sections, const char *now,
                     const char *tz);

#endif
