/*
 * The access log and a stream's grants, fetched from the server. See access_log.h.
 */
#include "access_log.h"

#include "transport.h"

#include "dbk/error.h"

#include <stdio.h>

#define LOG_PAGE 1000


int
dbk_sync_access_log(dbk_session *s, json_t *log)
{
    char path[160];
    int64_t since = 0;
    json_t *resp = NULL;
    int rc;
    for (;;) {
        snprintf(path, sizeof path, "/v1/access-log?since=%lld&limit=%d", (long long)since,
                 LOG_PAGE);
        if ((rc = dbk_net_call_ok(s, "GET", path, NULL, &resp)) != DBK_OK)
            return rc;
        json_array_extend(log, json_object_get(resp, "entries"));
        since = json_integer_value(json_object_get(resp, "next"));
        bool more = json_is_true(json_object_get(resp, "more"));
        json_decref(resp);
        if (!more)
            return DBK_OK;
    }
}

int
dbk_sync_stream_grants(dbk_session *s, const dbk_id *stream, json_t **grants)
{
    char sid[DBK_ID_TEXT_LEN + 1], path[160];
    json_t *resp = NULL;
    int rc;

    *grants = NULL;
    dbk_id_to_text(stream, sid);
    snprintf(path, sizeof path, "/v1/streams/%s/grants", sid);
    if ((rc = dbk_net_call_ok(s, "GET", path, NULL, &resp)) != DBK_OK)
        return rc;
    *grants = json_incref(json_object_get(resp, "grants"));
    json_decref(resp);
    return DBK_OK;
}
