/*
 * daybook log: your entries, newest last, decrypted on this device only. "Newest"
 * is the time an entry is about (a craving's occurred_at, a journal's written_at, a
 * checklist's day), not when it was written or synced: an entry logged late with
 * --at, edited later, or written on a device whose clock was wrong stays in its
 * place. Revision clocks only break ties.
 */
#include "backdate.h"
#include "cmd.h"
#include "output.h"
#include "counselor.h"
#include "entries.h"
#include "notes.h"

#include "dbk/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct log_ctx {
    dbk_ctx *ctx;
    dbk_session *s;
    const char *type;
    json_t *all;
    json_t *aliases; /* a counselor's names for clients; NULL for a client */
    size_t shown;
};

/* Where an entry goes in the log: its local day, then its instant within the day
 * (a checklist day after the day's timed entries), then its revision clock. */
struct placed {
    const dbk_eu_entry *e;
    int64_t day, at;
};

static int
by_time(const void *a, const void *b)
{
    const struct placed *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    if (x->e->hdr.rev.clock != y->e->hdr.rev.clock)
        return x->e->hdr.rev.clock < y->e->hdr.rev.clock ? -1 : 1;
    /* Two devices can issue the same clock: then the device, then the record, so the
     * order is total and every device lists the same entries the same way (qsort is
     * not stable). */
    int c = memcmp(x->e->hdr.rev.device.b, y->e->hdr.rev.device.b, DBK_ID_BYTES);
    return c != 0 ? c : memcmp(x->e->hdr.record.b, y->e->hdr.record.b, DBK_ID_BYTES);
}

static void
place(const dbk_eu_entry *e, struct placed *p)
{
    static const char *const keys[] = {"occurred_at", "written_at", "answered_at", "recorded_at",
                                       "deleted_at"};
    p->e = e;
    p->day = INT64_MAX; /* no usable time: at the end, by clock */
    p->at = INT64_MAX;
    (void)dbk_eu_entry_day(e->doc, &p->day);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (dbk_bd_epoch(json_string_value(json_object_get(e->doc, keys[i])), &p->at))
            break;
}

/* A note's line: whose it is (yours, shared or not, or its author's name). */
static void
print_note_line(const struct log_ctx *l, const dbk_eu_entry *e)
{
    char by[201];
    bool own = dbk_id_equal(&e->hdr.author, &l->s->account);
    const char *text = json_string_value(json_object_get(e->doc, "text"));

    if (own)
        snprintf(by, sizeof by, "%s",
                 json_is_true(json_object_get(e->doc, "visible_to_client"))
                     ? "shared with the client"
                     : "your own record");
    else
        dbk_notes_author(l->s, &e->hdr.author, by, sizeof by);
    printf("%.16s  note %s %s: %.60s%s\n",
           json_string_value(json_object_get(e->doc, "written_at")), own ? "(" : "from", by,
           text ? text : "", text && strlen(text) > 60 ? "..." : "");
}

/* The items a counselor assigned (or retired), by their name. */
static void
print_assigned_line(const struct log_ctx *l, const dbk_eu_entry *e)
{
    char by[201];
    json_t *it;
    size_t k;

    dbk_notes_author(l->s, &e->hdr.author, by, sizeof by);
    printf("%-16s  %s assigned:", "", by);
    json_array_foreach(json_object_get(e->doc, "items"), k, it)
        printf("%s %s%s", k ? "," : "", json_string_value(json_object_get(it, "label")),
               json_is_true(json_object_get(it, "active")) ? "" : " (retired)");
    printf("\n");
}

/* The rest of an entry's line after its id, by type. */
static void
print_entry_line(const struct log_ctx *l, const dbk_eu_entry *e, const char *type)
{
    const char *unsynced = e->pending ? "  (not synced)" : "";

    if (strcmp(type, "craving") == 0) {
        json_t *i = json_object_get(e->doc, "intensity");
        printf("%.16s  craving  %lld/%s  %s%s\n",
               json_string_value(json_object_get(e->doc, "occurred_at")),
               (long long)json_integer_value(json_object_get(i, "value")),
               strcmp(json_string_value(json_object_get(i, "scale")), "0-10") == 0 ? "10" : "100",
               json_string_value(json_object_get(json_object_get(e->doc, "outcome"), "result")),
               unsynced);
    } else if (strcmp(type, "journal") == 0) {
        const char *text = json_string_value(json_object_get(e->doc, "text"));
        printf("%.16s  journal  %.60s%s%s%s\n",
               json_string_value(json_object_get(e->doc, "written_at")), text,
               strlen(text) > 60 ? "..." : "", e->kind == DBK_LOCAL_PRIVATE ? "  (private)" : "",
               unsynced);
    } else if (strcmp(type, "checklist_day") == 0) {
        printf("%-16s  checklist  %zu checked%s\n",
               json_string_value(json_object_get(e->doc, "date")),
               json_array_size(json_object_get(e->doc, "checked")), unsynced);
    } else if (strcmp(type, "checkin") == 0) {
        json_t *use = json_object_get(e->doc, "use");
        printf("%-16s  check-in  %s%s%s\n", json_string_value(json_object_get(e->doc, "date")),
               json_is_true(json_object_get(use, "any")) ? "used" : "no use",
               json_is_true(json_object_get(e->doc, "recalled")) ? "  (filled in later)" : "",
               unsynced);
    } else if (strcmp(type, "measure") == 0) {
        json_t *sc = json_object_get(e->doc, "score");
        printf("%.16s  measure  %s", json_string_value(json_object_get(e->doc, "answered_at")),
               json_string_value(json_object_get(e->doc, "instrument")));
        if (json_is_integer(json_object_get(sc, "total")))
            printf(" %lld", (long long)json_integer_value(json_object_get(sc, "total")));
        printf("%s\n", unsynced);
    } else if (strcmp(type, "note") == 0) {
        print_note_line(l, e);
    } else if (strcmp(type, "checklist_def") == 0 &&
               !dbk_id_equal(&e->hdr.author, &l->s->account)) {
        print_assigned_line(l, e);
    } else if (strcmp(type, "consent") == 0) {
        printf("%.16s  consent to share with %s until %s\n",
               json_string_value(json_object_get(e->doc, "signed_at")),
               json_string_value(json_object_get(json_object_get(e->doc, "recipient"), "name")),
               json_string_value(json_object_get(json_object_get(e->doc, "expires"), "date")));
    } else {
        printf("%-16s  %s\n", "", type);
    }
}

static void
on_entry(const dbk_eu_entry *e, void *arg)
{
    struct log_ctx *l = arg;
    const char *type = json_string_value(json_object_get(e->doc, "type"));
    char t[DBK_ID_TEXT_LEN + 1];

    /* A pin (book/pins.h) or role (book/role.h) is the account's bookkeeping, not something it
     * wrote; so is a counselor's reviewed record (book/reviewed.h). */
    if (type == NULL || strcmp(type, "tombstone") == 0 || strcmp(type, "pin") == 0 ||
        strcmp(type, "role") == 0 || strcmp(type, "reviewed") == 0 ||
        (l->type != NULL && strcmp(type, l->type) != 0))
        return;
    dbk_id_to_text(&e->hdr.record, t);
    l->shown++;
    /* A counselor's log spans the caseload: whose entry it is, by alias, never an
     * opaque id alone ("you" for the counselor's own records). */
    char who[64] = "";
    if (l->aliases != NULL) {
        if (dbk_id_equal(&e->owner, &l->s->account))
            snprintf(who, sizeof who, "you");
        else
            dbk_co_label(l->aliases, &e->owner, who, sizeof who);
    }
    if (l->ctx->json) {
        json_t *o = json_pack("{s:s, s:O, s:b, s:b}", "id", t, "entry", e->doc, "private",
                              e->kind == DBK_LOCAL_PRIVATE, "synced", !e->pending);
        if (l->aliases != NULL) {
            char owner[DBK_ID_TEXT_LEN + 1];
            dbk_id_to_text(&e->owner, owner);
            json_object_set_new(o, "client", json_string(owner));
            json_object_set_new(o, "client_label", json_string(who));
        }
        json_array_append_new(l->all, o);
        return;
    }
    printf("%.8s  ", t); /* what show, edit and rm take (6+ characters) */
    if (l->aliases != NULL)
        printf("%-12.12s  ", who);
    print_entry_line(l, e, type);
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    struct log_ctx l = {ctx, NULL, NULL, json_array(), NULL, 0};
    struct placed *order = NULL;
    dbk_session s;
    dbk_eu_list list;
    int rc;

    if (argc == 3 && strcmp(argv[1], "--type") == 0) {
        static const char *const types[] = {"craving", "journal", "checklist_day", "note",
                                            "consent", NULL};
        bool known = false;
        for (size_t i = 0; types[i] != NULL; i++)
            known = known || strcmp(argv[2], types[i]) == 0;
        if (!known) {
            json_decref(l.all);
            fprintf(stderr, "daybook: --type '%s': the type is one of craving, journal, "
                            "checklist_day, note, consent\n", argv[2]);
            return DBK_EXIT_USAGE;
        }
        l.type = argv[2];
    } else if (argc != 1) {
        json_decref(l.all);
        fprintf(stderr, "usage: daybook log [--type craving|journal|checklist_day|note|consent]\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK) {
        json_decref(l.all);
        return dbk_cmd_no_profile(rc);
    }
    if (s.role == DBK_ROLE_COUNSELOR && dbk_co_aliases(&s, &l.aliases) != DBK_OK)
        l.aliases = json_object(); /* labels fall back to the id's first 8 characters */
    rc = dbk_eu_load(&s, &list);
    if (rc == DBK_OK && (order = calloc(list.n + 1, sizeof *order)) == NULL) {
        dbk_eu_free(&list);
        rc = DBK_E_NOMEM;
    }
    if (rc != DBK_OK) {
        dbk_session_close(&s);
        json_decref(l.all);
        json_decref(l.aliases);
        return dbk_cmd_fail("cannot read your entries", rc);
    }
    l.s = &s;
    for (size_t i = 0; i < list.n; i++)
        place(&list.v[i], &order[i]);
    qsort(order, list.n, sizeof *order, by_time);
    for (size_t i = 0; i < list.n; i++)
        on_entry(order[i].e, &l);
    free(order);
    if (ctx->json) {
        char *out = json_dumps(l.all, JSON_COMPACT);
        printf("%s\n", out ? out : "[]");
        if (out != NULL) {
            sodium_memzero(out, strlen(out));
            free(out);
        }
    } else if (l.shown == 0) {
        printf("No entries yet. 'daybook craving' or 'daybook journal' adds one.\n");
    }
    dbk_out_warn_unopened(&list);
    json_decref(l.all);
    json_decref(l.aliases);
    dbk_eu_free(&list);
    dbk_session_close(&s);
    return DBK_EXIT_OK;
}

const dbk_cmd dbk_cmd_log = {
    .name = "log",
    .usage = "daybook log [--type craving|journal|checklist_day|note|consent]",
    .summary = "list your entries",
    .run = run,
};
