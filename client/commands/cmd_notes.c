/*
 * daybook notes: what the counselor sent back. A client sees the notes its counselor
 * shared and the skills it assigned, marked with the counselor's name, oldest first
 * (book/notes.h). A counselor sees the notes it wrote, each marked shared with the
 * client or kept for its own record.
 */
#include "cmd.h"
#include "counselor.h"
#include "entries.h"
#include "notes.h"
#include "output.h"

#include "dbk/error.h"

#include <stdio.h>
#include <string.h>

static void
counselor_notes(dbk_ctx *ctx, dbk_session *s, const dbk_eu_list *l)
{
    json_t *aliases = NULL, *out = json_array();

    if (dbk_co_aliases(s, &aliases) != DBK_OK)
        aliases = json_object();
    for (size_t i = 0; i < l->n; i++) {
        const dbk_eu_entry *e = &l->v[i];
        char id[DBK_ID_TEXT_LEN + 1], who[128];
        const char *ct = json_string_value(json_object_get(e->doc, "client"));
        bool shared = e->kind == DBK_LOCAL_SHARED && !e->mine;
        dbk_id client;
        if (strcmp(e->type, "note") != 0 || !dbk_id_equal(&e->hdr.author, &s->account))
            continue;
        if (shared)
            client = e->owner;
        else if (ct == NULL || dbk_id_from_text(&client, ct, strlen(ct)) != DBK_OK)
            continue;
        dbk_id_to_text(&e->hdr.record, id);
        dbk_co_label(aliases, &client, who, sizeof who);
        json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:b, s:O}", "id", id, "client",
                                             who, "written_at",
                                             json_string_value(json_object_get(e->doc,
                                                                               "written_at")),
                                             "shared", shared, "text",
                                             json_object_get(e->doc, "text")));
        if (!ctx->json)
            printf("%.8s  %.16s  %s  (%s)\n    %s\n", id,
                   json_string_value(json_object_get(e->doc, "written_at")), who,
                   shared ? "shared with the client" : "your own record",
                   json_string_value(json_object_get(e->doc, "text")));
    }
    if (ctx->json)
        dbk_out_json(stdout, out);
    else if (json_array_size(out) == 0)
        printf("No notes yet: daybook note CLIENT -m TEXT [--share].\n");
    json_decref(out);
    json_decref(aliases);
}

static void
client_notes(dbk_ctx *ctx, dbk_session *s, const dbk_eu_list *l)
{
    json_t *all = dbk_notes_from_counselor(s, l), *v;
    size_t i;

    if (ctx->json) {
        dbk_out_json(stdout, all);
    } else {
        json_array_foreach(all, i, v) {
            const char *kind = json_string_value(json_object_get(v, "kind"));
            if (strcmp(kind, "note") == 0)
                printf("%.8s  %.16s  note from %s:\n    %s\n",
                       json_string_value(json_object_get(v, "id")),
                       json_string_value(json_object_get(v, "at")),
                       json_string_value(json_object_get(v, "by_name")),
                       json_string_value(json_object_get(v, "text")));
            else
                printf("%.8s  %-16s  skill assigned by %s: %s\n",
                       json_string_value(json_object_get(v, "id")), "",
                       json_string_value(json_object_get(v, "by_name")),
                       json_string_value(json_object_get(v, "text")));
        }
        if (json_array_size(all) == 0)
            printf("No notes from your counselor yet; 'daybook sync' fetches new ones.\n");
    }
    json_decref(all);
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    dbk_eu_list l;
    int rc;

    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: daybook notes\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if ((rc = dbk_eu_load(&s, &l)) != DBK_OK) {
        dbk_session_close(&s);
        return dbk_cmd_fail("cannot read your entries", rc);
    }
    dbk_out_warn_unopened(&l);
    if (s.role == DBK_ROLE_COUNSELOR)
        counselor_notes(ctx, &s, &l);
    else
        client_notes(ctx, &s, &l);
    dbk_eu_free(&l);
    dbk_session_close(&s);
    return DBK_EXIT_OK;
}

const dbk_cmd dbk_cmd_notes = {
    .name = "notes",
    .usage = "daybook notes",
    .summary = "the notes and skills your counselor sent you (counselors: the notes you wrote)",
    .run = run,
};
