/* daybook sync and daybook status. */
#include "cmd.h"
#include "counselor.h"
#include "entry.h"
#include "links.h"
#include "output.h"
#include "sync.h"

#include "dbk/error.h"

#include <stdio.h>
#include <time.h>

/* The server refused new records with storage_full: nothing is lost here. */
static void
server_disk_full(const dbk_sync_stats *st)
{
    fprintf(stderr, "daybook: the server's disk is full; your entries are kept and will be sent "
                    "later (%lld waiting). Try again later.\n",
            (long long)st->pending);
}

/* The streams whose reading ended in this sync, told once: "Sam K. stopped sharing on
 * <date>", as JSON objects when j is not NULL. */
static void
report_ended(dbk_session *s, const dbk_sync_stats *st, json_t *j)
{
    json_t *aliases = NULL;

    if (st->nended == 0)
        return;
    if (dbk_co_aliases(s, &aliases) != DBK_OK)
        aliases = json_object();
    for (size_t i = 0; i < st->nended; i++) {
        char name[128], day[32], id[DBK_ID_TEXT_LEN + 1];
        const dbk_sync_ended *e = &st->ended[i];
        dbk_co_label(aliases, &e->owner, name, sizeof name);
        dbk_co_ms_text(e->at_ms, day);
        day[10] = '\0';
        dbk_id_to_text(&e->owner, id);
        if (j != NULL)
            json_array_append_new(j, json_pack("{s:s, s:s, s:s, s:s}", "client", id, "name",
                                               name, "on", day, "reason",
                                               e->expired ? "expired" : "revoked"));
        else if (e->expired)
            printf("%s's consent ended on %s; sharing stopped. They can renew it with "
                   "'daybook share'.\n", name, day);
        else
            printf("%s stopped sharing on %s. What you already read stays on this device.\n",
                   name, day);
    }
    json_decref(aliases);
}

static int
run_sync(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    dbk_sync_stats st;
    json_t *ended = NULL;
    int rc;

    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: daybook sync\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if (s.server[0] == '\0') {
        dbk_session_close(&s);
        fprintf(stderr, "daybook: not enrolled with a server yet (daybook enroll CODE); your "
                        "entries are safe on this device\n");
        return DBK_EXIT_FAIL;
    }
    rc = dbk_sync(&s, &st);
    if (rc == DBK_OK && ctx->json) {
        ended = json_array();
        report_ended(&s, &st, ended);
    } else if (rc == DBK_OK) {
        printf("Synced: %zu sent, %zu received, %lld waiting.\n", st.pushed, st.pulled,
               (long long)st.pending);
        report_ended(&s, &st, NULL);
    }
    dbk_session_close(&s);
    if (rc == DBK_E_UNAVAILABLE) {
        fprintf(stderr, "daybook: the server cannot be reached; nothing is lost, %lld entries "
                        "wait to sync. Try again later.\n",
                (long long)st.pending);
        return DBK_EXIT_FAIL;
    }
    if (rc == DBK_E_UNAUTHENTICATED) {
        fprintf(stderr, "daybook: the server no longer accepts this device's sign-in; "
                        "log in again\n");
        return DBK_EXIT_FAIL;
    }
    if (rc == DBK_E_STORAGE_FULL && st.server_error == DBK_E_STORAGE_FULL) {
        /* The server's disk (a whole-request 507); dbk_cmd_fail would speak of this
         * device's, which fails with the same code. */
        server_disk_full(&st);
        return DBK_EXIT_FAIL;
    }
    if (rc != DBK_OK) {
        json_decref(ended);
        return dbk_cmd_fail("sync failed; nothing is lost", rc);
    }
    if (ctx->json) {
        json_t *j = json_pack("{s:i, s:i, s:I, s:i, s:o}", "pushed", (int)st.pushed, "pulled",
                              (int)st.pulled, "pending", (json_int_t)st.pending, "failed_streams",
                              (int)st.failed_streams, "ended", ended);
        dbk_out_json(stdout, j);
        json_decref(j);
    }
    if (st.failed_streams > 0 && st.server_error == DBK_E_STORAGE_FULL)
        server_disk_full(&st); /* a stream's push refused in a 200 answer */
    else if (st.failed_streams > 0)
        fprintf(stderr, "daybook: %zu stream(s) could not be synced (access ended or a key "
                        "rotation is pending); the rest is up to date\n",
                st.failed_streams);
    return st.failed_streams > 0 ? DBK_EXIT_FAIL : DBK_EXIT_OK;
}

static int
run_status(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    int64_t pending, last;
    char when[32] = "never";
    int rc;

    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: daybook status\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    pending = dbk_local_outbox_count(s.L);
    last = dbk_local_get_int(s.L, "last_sync", 0);
    if (last > 0) {
        time_t t = (time_t)last;
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
    }
    if (ctx->json)
        printf("{\"server\":\"%s\",\"pending\":%lld,\"last_sync\":%lld,\"enrolled\":%s}\n",
               s.server, (long long)pending, (long long)last, s.server[0] ? "true" : "false");
    else
        printf("server:     %s\nwaiting:    %lld entries\nlast sync:  %s\n",
               s.server[0] ? s.server : "(not enrolled)", (long long)pending, when);
    if (!ctx->json && s.server[0]) {
        /* The link a second device needs: not a secret (the passphrase is). */
        char t[DBK_ID_TEXT_LEN + 1], link[2048];
        dbk_id_to_text(&s.account, t);
        if (dbk_link_login_format(link, sizeof link, s.server, t) == DBK_OK)
            printf("other device: daybook login '%s'\n", link);
    }
    dbk_session_close(&s);
    return DBK_EXIT_OK;
}

const dbk_cmd dbk_cmd_sync = {
    .name = "sync",
    .usage = "daybook sync",
    .summary = "send your new entries and receive what changed (end-to-end encrypted)",
    .run = run_sync,
};

const dbk_cmd dbk_cmd_status = {
    .name = "status",
    .usage = "daybook status",
    .summary = "what waits to sync, when you last synced, and with which server",
    .run = run_status,
};
