/*
 * The clinic's help lines as the server lists them (proto/README.md section 4.4).
 * Only fetched here: whether to believe them is trust/help_pin.h's decision.
 */
#include "sync.h"
#include "transport.h"

#include "dbk/error.h"

int
dbk_sync_help_lines(dbk_session *s, json_t **lines)
{
    json_t *resp = NULL;
    long status;
    int rc = dbk_net_call(s, "GET", "/v1/help-lines", NULL, false, &status, &resp);

    *lines = NULL;
    if (rc == DBK_OK && status == 200 && json_is_array(json_object_get(resp, "lines")))
        *lines = json_incref(json_object_get(resp, "lines"));
    else if (rc == DBK_OK)
        rc = status == 404 ? DBK_E_NOT_FOUND : DBK_E_UNAVAILABLE;
    json_decref(resp);
    return rc;
}
