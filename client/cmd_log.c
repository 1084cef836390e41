/* daybook log: your entries, newest last, decrypted on this device only. */
#include "cmd.h"
#include "entry.h"

#include "dbk/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct log_ctx {
    dbk_ctx *ctx;
    const char *type;
    json_t *all;
    size_t shown;
};

static void
on_entry(const dbk_entry *e, void *arg)
{
    struct log_ctx *l = arg;
    const char *type = json_string_value(json_object_get(e->doc, "type"));
    char t[DBK_ID_TEXT_LEN + 1];

    if (type == NULL || strcmp(type, "tombstone") == 0 ||
        (l->type != NULL && strcmp(type, l->type) != 0))
        return;
    dbk_id_to_text(&e->hdr.record, t);
    l->shown++;
    if (l->ctx->json) {
        json_array_append_new(l->all, json_pack("{s:s, s:O, s:b, s:b}", "id", t, "entry", e->doc,
                                                "private", e->kind == DBK_LOCAL_PRIVATE, "synced",
                                                !e->pending));
        return;
    }
    if (strcmp(type, "craving") == 0) {
        json_t *i = json_object_get(e->doc, "intensity");
        printf("%.16s  craving  %lld/%s  %s%s\n",
               json_string_value(json_object_get(e->doc, "occurred_at")),
               (long long)json_integer_value(json_object_get(i, "value")),
               strcmp(json_string_value(json_object_get(i, "scale")), "0-10") == 0 ? "10" : "100",
               json_string_value(json_object_get(json_object_get(e->doc, "outcome"), "result")),
               e->pending ? "  (not synced)" : "");
    } else if (strcmp(type, "journal") == 0) {
        const char *text = json_string_value(json_object_get(e->doc, "text"));
        printf("%.16s  journal  %.60s%s%s%s\n",
               json_string_value(json_object_get(e->doc, "written_at")), text,
               strlen(text) > 60 ? "..." : "", e->kind == DBK_LOCAL_PRIVATE ? "  (private)" : "",
               e->pending ? "  (not synced)" : "");
    } else if (strcmp(type, "checklist_day") == 0) {
        printf("%-16s  checklist  %zu checked%s\n",
               json_string_value(json_object_get(e->doc, "date")),
               json_array_size(json_object_get(e->doc, "checked")),
               e->pending ? "  (not synced)" : "");
    } else {
        printf("%-16s  %s\n", "", type);
    }
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    struct log_ctx l = {ctx, NULL, json_array(), 0};
    dbk_session s;
    size_t bad = 0;
    int rc;

    if (argc == 3 && strcmp(argv[1], "--type") == 0) {
        l.type = argv[2];
    } else if (argc != 1) {
        json_decref(l.all);
        fprintf(stderr, "usage: daybook log [--type craving|journal]\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK) {
        json_decref(l.all);
        return dbk_cmd_no_profile(rc);
    }
    rc = dbk_entries(&s, on_entry, &l, &bad);
    dbk_session_close(&s);
    if (rc != DBK_OK) {
        json_decref(l.all);
        return dbk_cmd_fail("cannot read your entries", rc);
    }
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
    if (bad > 0)
        fprintf(stderr, "daybook: %zu entries could not be opened (damaged or from an unknown "
                        "key) and are not shown\n",
                bad);
    json_decref(l.all);
    return DBK_EXIT_OK;
}

const dbk_cmd dbk_cmd_log = {
    .name = "log",
    .usage = "daybook log [--type craving|journal]",
    .summary = "list your entries",
    .run = run,
};
