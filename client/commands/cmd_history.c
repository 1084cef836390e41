/*
 * daybook show / edit / rm: one entry by its id (or a unique prefix of at least
 * six characters). Every change is a new revision of the same record; earlier
 * and conflicting revisions stay on this device and `show ID --revisions`
 * opens each of them. rm writes a tombstone revision
 * (proto/schemas/tombstone.schema.json).
 */
#include "cmd.h"
#include "crisis.h"
#include "entries.h"
#include "output.h"
#include "prompt.h"
#include "resolve.h"
#include "reviewed.h"

#include "dbk/error.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define JOURNAL_MAX 100000
#define NOTE_MAX 20000
#define HIGH_INTENSITY 7 /* as in cmd_craving.c: the crisis card at or above this (0-10) */

/* ---- reading one entry ---- */

struct one {
    dbk_session s;
    bool open;
    dbk_eu_list l;
    size_t idx;
};

/* Opens the profile, loads the entries and finds id. Returns an exit code. */
static int
find_one(struct one *o, const char *id)
{
    int rc;

    memset(o, 0, sizeof *o);
    if ((rc = dbk_session_open(&o->s, false)) != DBK_OK)
        return dbk_cmd_fail("no profile yet: run 'daybook init'", rc);
    o->open = true;
    if ((rc = dbk_eu_load(&o->s, &o->l)) != DBK_OK)
        return dbk_cmd_fail("cannot read your entries", rc);
    return dbk_resolve_entry(&o->l, id, &o->idx);
}

static void
drop_one(struct one *o)
{
    dbk_eu_free(&o->l);
    if (o->open)
        dbk_session_close(&o->s);
}

static void
print_label(const char *key)
{
    char label[64];
    size_t i;
    snprintf(label, sizeof label, "%s", key);
    for (i = 0; label[i]; i++)
        if (label[i] == '_')
            label[i] = ' ';
    printf("  %-14s ", label);
}

static void
print_strings(const json_t *arr, const char *sep)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (json_is_string(v))
            printf("%s%s", i ? sep : "", json_string_value(v));
        else {
            char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            printf("%s%s", i ? sep : "", d ? d : "?");
            dbk_eu_wipe_free(d);
        }
    }
}

static void
print_value(const char *key, const json_t *v)
{
    if (strcmp(key, "intensity") == 0 && json_is_object(v)) {
        const char *scale = json_string_value(json_object_get(v, "scale"));
        printf("%lld/%s", (long long)json_integer_value(json_object_get(v, "value")),
               scale && strcmp(scale, "1-100") == 0 ? "100" : "10");
    } else if (strcmp(key, "outcome") == 0 && json_is_object(v)) {
        const json_t *used = json_object_get(v, "used");
        const char *what = json_string_value(json_object_get(used, "substance"));
        const char *amount = json_string_value(json_object_get(used, "amount"));
        printf("%s", json_string_value(json_object_get(v, "result")));
        if (what || amount)
            printf(" (%s%s%s)", what ? what : "", what && amount ? ", " : "",
                   amount ? amount : "");
    } else if (strcmp(key, "duration") == 0 && json_is_object(v)) {
        if (json_is_integer(json_object_get(v, "minutes")))
            printf("%lld minutes", (long long)json_integer_value(json_object_get(v, "minutes")));
        else
            printf("%s", json_string_value(json_object_get(v, "bin")));
    } else if (strcmp(key, "triggers") == 0 && json_is_object(v)) {
        const char *k, *sep = "";
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            printf("%s%s", sep, k);
            if (json_is_array(x)) {
                printf(": ");
                print_strings(x, ", ");
            } else if (!json_is_true(x)) {
                printf(": no");
            }
            sep = "; ";
        }
    } else if (strcmp(key, "items") == 0 && json_is_array(v)) {
        size_t i;
        json_t *it;
        json_array_foreach(v, i, it)
            printf("%s%s: %s (%s%s)", i ? "\n                 " : "",
                   json_string_value(json_object_get(it, "id")),
                   json_string_value(json_object_get(it, "label")),
                   json_string_value(json_object_get(it, "source")),
                   json_is_false(json_object_get(it, "active")) ? ", retired" : "");
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strchr(s, '\n') == NULL) {
            printf("%s", s);
        } else {
            printf("\n    ");
            for (; *s; s++) {
                putchar(*s);
                if (*s == '\n')
                    printf("    ");
            }
        }
    } else if (json_is_array(v)) {
        print_strings(v, ", ");
    } else if (json_is_true(v) || json_is_false(v)) {
        printf("%s", json_is_true(v) ? "yes" : "no");
    } else {
        char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        printf("%s", d ? d : "?");
        dbk_eu_wipe_free(d);
    }
    printf("\n");
}

/* The fields of a plaintext, in a reading order, then any the order does not name. */
static void
print_fields(const json_t *doc)
{
    static const char *const order[] = {
        "occurred_at", "written_at", "date",     "tz",      "intensity", "duration",
        "substances",  "triggers",   "situation", "thoughts", "feelings", "coping",
        "outcome",     "help_contacted", "help_contact", "mood", "tags",  "prompt",
        "shared",      "checked",    "items",    "note",    "text",      NULL,
    };
    const char *k;
    json_t *v;

    for (size_t i = 0; order[i]; i++) {
        if ((v = json_object_get(doc, order[i])) != NULL) {
            print_label(order[i]);
            print_value(order[i], v);
        }
    }
    json_object_foreach((json_t *)doc, k, v) {
        bool known = strcmp(k, "type") == 0 || strcmp(k, "v") == 0;
        for (size_t i = 0; order[i] && !known; i++)
            known = strcmp(order[i], k) == 0;
        if (!known) {
            print_label(k);
            print_value(k, v);
        }
    }
}

static bool
is_tombstone(const json_t *doc)
{
    const char *t = json_string_value(json_object_get(doc, "type"));
    return t != NULL && strcmp(t, "tombstone") == 0;
}

static void
print_entry_text(const char *id, const dbk_eu_entry *e)
{
    if (strcmp(e->type, "tombstone") == 0) {
        printf("Entry %s was removed (%s).\n", id,
               json_string_value(json_object_get(e->doc, "deleted_at")));
        return;
    }
    printf("%s %s  (%s%s)\n", e->type[0] ? e->type : "entry", id, dbk_eu_stream_name(e->kind),
           e->pending ? ", not synced yet" : ", synced");
    print_fields(e->doc);
}

static json_t *
rev_json(const dbk_eu_rev *r)
{
    char when[32], dev[DBK_ID_TEXT_LEN + 1], clock[24];
    dbk_eu_clock_text(r->hdr.rev.clock, when);
    dbk_id_to_text(&r->hdr.rev.device, dev);
    snprintf(clock, sizeof clock, "%llu", (unsigned long long)r->hdr.rev.clock);
    return json_pack("{s:b, s:s, s:s, s:s, s:b, s:O?}", "current", r->current, "clock", clock,
                     "time", when, "device", dev, "synced", !r->pending, "entry", r->doc);
}

static int
run_show(dbk_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"revisions", no_argument, NULL, 'r'},
                                         {NULL, 0, NULL, 0}};
    bool revisions = false;
    struct one o;
    dbk_eu_rev *revs = NULL;
    size_t nrev = 0;
    char id[DBK_ID_TEXT_LEN + 1];
    int opt, ret, rc;
    const char *first = dbk_cmd_take_operand(&argc, argv, "m"), *want;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt != 'r') {
            fprintf(stderr, "usage: daybook show ID [--revisions]\n");
            return DBK_EXIT_USAGE;
        }
        revisions = true;
    }
    if ((want = dbk_cmd_operand(first, argc, argv)) == NULL) {
        fprintf(stderr, "usage: daybook show ID [--revisions]\n");
        return DBK_EXIT_USAGE;
    }
    if ((ret = find_one(&o, want)) != DBK_EXIT_OK) {
        drop_one(&o);
        return ret;
    }
    const dbk_eu_entry *e = &o.l.v[o.idx];
    dbk_id_to_text(&e->hdr.record, id);
    if ((rc = dbk_eu_revisions(&o.s, &e->hdr.record, &revs, &nrev)) != DBK_OK) {
        drop_one(&o);
        return dbk_cmd_fail("cannot read the entry's revisions", rc);
    }
    if (ctx->json) {
        json_t *out = json_pack("{s:s, s:s, s:s, s:b, s:b, s:O, s:i}", "id", id, "stream",
                                dbk_eu_stream_name(e->kind), "type", e->type, "synced",
                                !e->pending, "removed", strcmp(e->type, "tombstone") == 0,
                                "entry", e->doc, "revision_count", (int)nrev);
        if (revisions) {
            json_t *arr = json_array();
            for (size_t i = 0; i < nrev; i++)
                json_array_append_new(arr, rev_json(&revs[i]));
            json_object_set_new(out, "revisions", arr);
        }
        dbk_out_json(stdout, out);
        json_decref(out);
    } else {
        print_entry_text(id, e);
        if (nrev > 1 && !revisions)
            printf("\n%zu earlier or conflicting revision%s kept; daybook show %s --revisions\n",
                   nrev - 1, nrev == 2 ? "" : "s", id);
        if (revisions) {
            for (size_t i = 0; i < nrev; i++) {
                char when[32], dev[DBK_ID_TEXT_LEN + 1];
                dbk_eu_clock_text(revs[i].hdr.rev.clock, when);
                dbk_id_to_text(&revs[i].hdr.rev.device, dev);
                printf("\n--- revision of %s from device %.8s%s%s ---\n", when, dev,
                       revs[i].current ? " (current)" : "",
                       revs[i].pending ? " (not synced yet)" : "");
                if (revs[i].doc == NULL)
                    printf("  (this revision could not be opened: damaged or from an unknown "
                           "key)\n");
                else if (is_tombstone(revs[i].doc))
                    printf("  removed (%s)\n",
                           json_string_value(json_object_get(revs[i].doc, "deleted_at")));
                else
                    print_fields(revs[i].doc);
            }
        }
    }
    dbk_eu_revisions_free(revs, nrev);
    drop_one(&o);
    return DBK_EXIT_OK;
}

/* ---- editing ---- */

static const char edit_help[] =
    "  a journal entry:  -m TEXT, --mood 1-5   (without them, $EDITOR opens the text)\n"
    "  a craving:        --intensity N, --outcome resisted|used, --used-what TEXT,\n"
    "                    --note TEXT (an empty TEXT removes the note)\n"
    "The earlier version is kept: 'daybook show ID --revisions'.\n"
    "ID: the id 'daybook log' shows, or its first 6+ characters.\n";

extern const dbk_cmd dbk_cmd_edit;

static int
edit_usage(void)
{
    dbk_cmd_print_help(&dbk_cmd_edit, stderr);
    return DBK_EXIT_USAGE;
}

/* What 'daybook edit' was asked to change. */
struct edit {
    const char *text, *outcome, *used_what, *note;
    long mood, intensity; /* 0, -1: not given */
};

/* The flags into a and the entry's id into *want; DBK_EXIT_OK, or the usage. */
static int
parse_edit(struct edit *a, const char **want, int argc, char **argv)
{
    static const struct option opts[] = {
        {"message", required_argument, NULL, 'm'},   {"mood", required_argument, NULL, 'M'},
        {"intensity", required_argument, NULL, 'i'}, {"outcome", required_argument, NULL, 'o'},
        {"used-what", required_argument, NULL, 'u'}, {"note", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    const char *first = dbk_cmd_take_operand(&argc, argv, "m");
    char *end;
    int opt;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:", opts, NULL)) != -1) {
        switch (opt) {
        case 'm': a->text = optarg; break;
        case 'M':
            a->mood = strtol(optarg, &end, 10);
            if (*end != '\0' || a->mood < 1 || a->mood > 5)
                return edit_usage();
            break;
        case 'i':
            a->intensity = strtol(optarg, &end, 10);
            if (*end != '\0' || a->intensity < 0)
                return edit_usage();
            break;
        case 'o':
            a->outcome = optarg;
            if (strcmp(a->outcome, "resisted") != 0 && strcmp(a->outcome, "used") != 0)
                return edit_usage();
            break;
        case 'u': a->used_what = optarg; break;
        case 'n': a->note = optarg; break;
        default: return edit_usage();
        }
    }
    if ((*want = dbk_cmd_operand(first, argc, argv)) == NULL)
        return edit_usage();
    return DBK_EXIT_OK;
}

/* Whether e may be edited with these flags: the client's own journal entry or
 * craving, not removed, and flags of its type. DBK_EXIT_OK, or after a message. */
static int
check_editable(const dbk_eu_entry *e, const char *id, const struct edit *a)
{
    bool journal = strcmp(e->type, "journal") == 0, craving = strcmp(e->type, "craving") == 0;
    bool journal_flags = a->text != NULL || a->mood > 0;
    bool craving_flags = a->intensity >= 0 || a->outcome || a->used_what || a->note;

    if (strcmp(e->type, "tombstone") == 0) {
        fprintf(stderr, "daybook: entry %s was removed; there is nothing to edit\n", id);
        return DBK_EXIT_FAIL;
    }
    if (!e->mine) {
        fprintf(stderr, "daybook: entry %s is not yours to edit\n", id);
        return DBK_EXIT_FAIL;
    }
    if (!journal && !craving) {
        fprintf(stderr, "daybook: only journal entries and cravings can be edited (this is a "
                        "%s entry)%s\n",
                e->type, strcmp(e->type, "checklist_day") == 0
                             ? "; use 'daybook check' and 'daybook uncheck' for today's list"
                             : "");
        return DBK_EXIT_FAIL;
    }
    if ((journal && craving_flags) || (craving && journal_flags) ||
        (craving && !craving_flags))
        return edit_usage();
    return DBK_EXIT_OK;
}

/* The journal entry's new text (from -m, else the editor) and mood into doc.
 * *unchanged when the editor gave back the same text (said so, nothing to save). */
static int
edit_journal(dbk_ctx *ctx, const char *dir, const char *id, const struct edit *a, json_t *doc,
             char **edited, bool *unchanged)
{
    const char *text = a->text;

    if (text == NULL && a->mood <= 0) {
        const char *old = json_string_value(json_object_get(doc, "text"));
        if (dbk_prompt_editor(dir, old ? old : "", JOURNAL_MAX, edited) != 0)
            return DBK_EXIT_FAIL;
        text = *edited;
        if (old != NULL && strcmp(old, text) == 0) {
            if (ctx->json)
                printf("{\"id\":\"%s\",\"saved\":false,\"crisis_card\":false}\n", id);
            else
                printf("No change; nothing saved.\n");
            *unchanged = true;
            return DBK_EXIT_OK;
        }
    }
    if (text != NULL) {
        if (text[0] == '\0' || strlen(text) > JOURNAL_MAX) {
            fprintf(stderr,
                    "daybook: the entry is empty (or over %d characters); nothing "
                    "changed ('daybook rm %s%s' removes it)\n",
                    JOURNAL_MAX, id[0] == '-' ? "-- " : "", id);
            return DBK_EXIT_FAIL;
        }
        json_object_set_new(doc, "text", json_string(text));
    }
    if (a->mood > 0)
        json_object_set_new(doc, "mood", json_integer(a->mood));
    return DBK_EXIT_OK;
}

/* The craving's new intensity (on its own scale), outcome and note into doc;
 * *hard when the change calls for the crisis card (a use, a strong craving). */
static int
edit_craving(const struct edit *a, json_t *doc, bool *hard)
{
    json_t *in = json_object_get(doc, "intensity"), *oc = json_object_get(doc, "outcome");
    const char *scale = json_string_value(json_object_get(in, "scale"));
    bool hundred = scale && strcmp(scale, "1-100") == 0;
    const char *result;
    double v10 = 0;

    if (a->intensity >= 0) {
        if (hundred ? a->intensity < 1 || a->intensity > 100 : a->intensity > 10) {
            fprintf(stderr, "daybook: this craving is on the %s scale; --intensity is %s\n",
                    hundred ? "1-100" : "0-10", hundred ? "1 to 100" : "0 to 10");
            return DBK_EXIT_USAGE;
        }
        json_object_set_new(in, "value", json_integer(a->intensity));
    }
    if (!json_is_object(oc)) {
        oc = json_object();
        json_object_set_new(doc, "outcome", oc);
    }
    if (a->outcome != NULL)
        json_object_set_new(oc, "result", json_string(a->outcome));
    result = json_string_value(json_object_get(oc, "result"));
    if (result != NULL && strcmp(result, "used") == 0) {
        if (!json_is_object(json_object_get(oc, "used")))
            json_object_set_new(oc, "used", json_object());
        if (a->used_what != NULL)
            json_object_set_new(json_object_get(oc, "used"), "substance",
                                json_string(a->used_what));
    } else {
        if (a->used_what != NULL) {
            fprintf(stderr, "daybook: --used-what goes with --outcome used\n");
            return DBK_EXIT_USAGE;
        }
        json_object_del(oc, "used");
    }
    if (a->note != NULL) {
        if (strlen(a->note) > NOTE_MAX) {
            fprintf(stderr, "daybook: the note is over %d characters\n", NOTE_MAX);
            return DBK_EXIT_USAGE;
        }
        if (a->note[0] == '\0')
            json_object_del(doc, "note");
        else
            json_object_set_new(doc, "note", json_string(a->note));
    }
    *hard = (a->outcome != NULL || a->intensity >= 0) &&
            ((result != NULL && strcmp(result, "used") == 0) ||
             (dbk_eu_intensity10(doc, &v10) && v10 >= HIGH_INTENSITY));
    return DBK_EXIT_OK;
}

static int
run_edit(dbk_ctx *ctx, int argc, char **argv)
{
    struct edit a = {.intensity = -1};
    char *edited = NULL, id[DBK_ID_TEXT_LEN + 1];
    const char *want;
    struct one o;
    json_t *doc = NULL;
    int ret, rc;
    bool hard = false, unchanged = false;

    if ((ret = parse_edit(&a, &want, argc, argv)) != DBK_EXIT_OK)
        return ret;
    if ((ret = find_one(&o, want)) != DBK_EXIT_OK) {
        drop_one(&o);
        return ret;
    }
    const dbk_eu_entry *e = &o.l.v[o.idx];
    dbk_id_to_text(&e->hdr.record, id);
    if ((ret = check_editable(e, id, &a)) != DBK_EXIT_OK)
        goto out;
    doc = json_deep_copy(e->doc); /* fields this version does not know are carried over */
    if (strcmp(e->type, "journal") == 0)
        ret = edit_journal(ctx, o.s.dir, id, &a, doc, &edited, &unchanged);
    else
        ret = edit_craving(&a, doc, &hard);
    if (ret != DBK_EXIT_OK || unchanged)
        goto out;
    if ((rc = dbk_entry_save(&o.s, e->kind, &e->hdr.record, doc, NULL)) != DBK_OK) {
        ret = dbk_cmd_fail("the change was not saved", rc);
        goto out;
    }
    if (ctx->json) {
        printf("{\"id\":\"%s\",\"saved\":true,\"crisis_card\":%s}\n", id, hard ? "true" : "false");
    } else {
        printf("Saved a new version of %s; the earlier one is kept ('daybook show %.8s "
               "--revisions').\n",
               id, id);
        if (hard)
            dbk_crisis_card(stdout);
    }
out:
    dbk_eu_wipe_free(edited);
    json_decref(doc);
    drop_one(&o);
    return ret;
}

/* ---- removing ---- */

static int
run_rm(dbk_ctx *ctx, int argc, char **argv)
{
    char id[DBK_ID_TEXT_LEN + 1], when[40];
    struct one o;
    json_t *tomb;
    int ret, rc;

    /* An id is base64url and may begin with "--" (one in 4,096): "daybook rm -- ID"
     * takes whatever follows as the id; alone, "--..." is an option, and rm has none. */
    const char *which = argc == 2                                 ? argv[1]
                        : argc == 3 && strcmp(argv[1], "--") == 0 ? argv[2]
                                                                  : NULL;
    if (which == NULL || (argc == 2 && strncmp(which, "--", 2) == 0)) {
        fprintf(stderr, "usage: daybook rm ID   (an ID that begins with '--': daybook rm -- ID)\n");
        return DBK_EXIT_USAGE;
    }
    if ((ret = find_one(&o, which)) != DBK_EXIT_OK) {
        drop_one(&o);
        return ret;
    }
    const dbk_eu_entry *e = &o.l.v[o.idx];
    dbk_id_to_text(&e->hdr.record, id);
    if (strcmp(e->type, "tombstone") == 0) {
        if (ctx->json)
            printf("{\"id\":\"%s\",\"removed\":true,\"changed\":false}\n", id);
        else
            printf("Entry %s was already removed.\n", id);
        drop_one(&o);
        return DBK_EXIT_OK;
    }
    if (!e->mine) {
        fprintf(stderr, "daybook: entry %s is not yours to remove\n", id);
        drop_one(&o);
        return DBK_EXIT_FAIL;
    }
    /* Said plainly, before anything is removed: a removal does not unread an entry
     * (book/reviewed.h: the counselor's signed note of what their reviews showed). */
    char read_at[40];
    bool read = e->kind == DBK_LOCAL_SHARED &&
                dbk_eu_reviewed_by_counselor(&o.l, &o.s.account, &e->hdr.record, read_at);
    if (read) {
        fprintf(ctx->json ? stderr : stdout,
                "Your counselor has already read this entry (in a review%s%.10s).\n"
                "Removing it does not take it back: they keep a copy of what they reviewed,\n"
                "as a chart would, and their next review shows that you removed it.\n",
                read_at[0] != '\0' ? " on " : "", read_at);
        if (!ctx->json && dbk_prompt_interactive() &&
            dbk_prompt_confirm("Remove it anyway? [yes/no] ") != 1) {
            printf("Nothing removed.\n");
            drop_one(&o);
            return DBK_EXIT_OK;
        }
    }
    dbk_now_rfc3339(when);
    tomb = json_pack("{s:s, s:i, s:s}", "type", "tombstone", "v", 1, "deleted_at", when);
    rc = dbk_entry_save(&o.s, e->kind, &e->hdr.record, tomb, NULL);
    json_decref(tomb);
    if (rc != DBK_OK) {
        drop_one(&o);
        return dbk_cmd_fail("the entry was not removed", rc);
    }
    if (ctx->json)
        printf("{\"id\":\"%s\",\"removed\":true,\"changed\":true,\"counselor_read\":%s}\n",
               id, read ? "true" : "false");
    else
        printf("Removed %s. After 'daybook sync' it is removed on your other devices%s.\n"
               "Earlier versions stay on this device ('daybook show %.8s --revisions').\n",
               id,
               read ? " and from your counselor's current view (they read it already)"
               : e->kind == DBK_LOCAL_SHARED && !e->pending
                   ? " and for your counselor (who may already have read it)"
                   : e->kind == DBK_LOCAL_SHARED ? " and for your counselor" : "",
               id);
    drop_one(&o);
    return DBK_EXIT_OK;
}

const dbk_cmd dbk_cmd_show = {
    .name = "show",
    .usage = "daybook show ID [--revisions]   (ID: the id, or its first 6+ characters)",
    .summary = "show one entry in full, and its earlier or conflicting versions",
    .run = run_show,
};

const dbk_cmd dbk_cmd_edit = {
    .name = "edit",
    .usage = "daybook edit ID [-m TEXT] [--mood N] | [--intensity N] [--outcome R] "
             "[--used-what TEXT] [--note TEXT]",
    .summary = "change a journal entry or a craving (the earlier version is kept)",
    .help = edit_help,
    .run = run_edit,
};

const dbk_cmd dbk_cmd_rm = {
    .name = "rm",
    .usage = "daybook rm [--] ID",
    .summary = "remove an entry (a tombstone; earlier versions stay on this device)",
    .run = run_rm,
};
