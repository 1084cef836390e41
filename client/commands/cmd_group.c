/*
 * daybook session group CLIENT... [--date DATE] [--topic TEXT] (counselors): marks a
 * group session attended for several clients at once (issue 19). Each client gets an
 * "attendance" record in their shared stream (proto/schemas/attendance.schema.json),
 * signed by this counselor, which the client's checklist counts as "attended
 * treatment" that day and the review lists. A client this device cannot write to
 * (not sharing, unknown) is named and skipped; the others are still marked.
 */
#include "cmd.h"
#include "backdate.h"
#include "daycount.h"
#include "entries.h"
#include "entry.h"
#include "output.h"
#include "resolve.h"

#include "dbk/error.h"

#include <stdio.h>
#include <string.h>

static int
usage(void)
{
    fprintf(stderr, "usage: daybook session group CLIENT [CLIENT...] [--date YYYY-MM-DD] "
                    "[--topic TEXT]\n");
    return DBK_EXIT_USAGE;
}

/* Writes the attendance record into client's shared stream; DBK_OK or an error. */
static int
mark(dbk_session *s, const char *client, const json_t *doc, dbk_id *id)
{
    dbk_id owner;
    dbk_local_stream st;
    int rc;
    if (dbk_resolve_owner(s, "daybook session group", client, &owner) != DBK_EXIT_OK)
        return DBK_E_NOT_FOUND;
    if ((rc = dbk_local_stream_of(s->L, &owner, DBK_LOCAL_SHARED, &st)) != DBK_OK)
        return rc;
    return dbk_entry_save_in(s, &st.id, NULL, (json_t *)doc, id);
}

int
dbk_cmd_session_group(dbk_ctx *ctx, int argc, char **argv)
{
    const char *date = NULL, *topic = NULL;
    int64_t day = dbk_eu_today();
    char ds[11], t[DBK_ID_TEXT_LEN + 1];
    dbk_session s;
    int rc, marked = 0, failed = 0;

    if (!dbk_cmd_take_option(&argc, argv, "--date", &date) ||
        !dbk_cmd_take_option(&argc, argv, "--topic", &topic) || argc < 2 ||
        (topic != NULL && (topic[0] == '\0' || strlen(topic) > 200)))
        return usage();
    if (date != NULL && !dbk_bd_day("--date", date, dbk_eu_today(), &day))
        return DBK_EXIT_USAGE;
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if ((rc = dbk_require_counselor(&s, "daybook session group")) != DBK_EXIT_OK) {
        dbk_session_close(&s);
        return rc;
    }
    dbk_day_format(day, ds);
    json_t *doc = json_pack("{s:s, s:i, s:s, s:s}", "type", "attendance", "v", 1, "date", ds,
                            "kind", "group");
    if (topic != NULL)
        json_object_set_new(doc, "topic", json_string(topic));
    json_t *out = json_array();
    for (int i = 1; i < argc; i++) {
        dbk_id id;
        if ((rc = mark(&s, argv[i], doc, &id)) != DBK_OK) {
            if (rc != DBK_E_NOT_FOUND) /* resolve has said why already */
                fprintf(stderr, "daybook: %s was not marked: %s\n", argv[i], dbk_err_message(rc));
            failed++;
            continue;
        }
        marked++;
        dbk_id_to_text(&id, t);
        json_array_append_new(out, json_pack("{s:s, s:s}", "client", argv[i], "id", t));
    }
    json_decref(doc);
    dbk_session_close(&s);
    if (ctx->json) {
        json_t *o = json_pack("{s:s, s:o, s:i}", "date", ds, "marked", out, "failed", failed);
        dbk_out_json(stdout, o);
        json_decref(o);
    } else {
        json_decref(out);
        printf("Group session on %s marked attended for %d client%s%s; each sees it after "
               "both of you sync.\n", ds, marked, marked == 1 ? "" : "s",
               failed ? " (see above for the others)" : "");
    }
    return failed ? DBK_EXIT_FAIL : DBK_EXIT_OK;
}
