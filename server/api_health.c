/*
 * GET /healthz: liveness for load balancers and the admin. Public, cheap, and
 * reveals nothing about accounts: the version, the protocol and the server id
 * a client pins (see proto/README.md "Versioning" and "Restore generation").
 */
#include "app.h"

#include "dbk/version.h"

void dbk_api_healthz(dbk_http_request *req);

void
dbk_api_healthz(dbk_http_request *req)
{
    dbk_app *app = req->app;
    char sid[DBK_ID_TEXT_LEN + 1];

    dbk_id_to_text(&app->server_id, sid);
    dbk_http_respond_json(req, 200,
                          json_pack("{s:s, s:s, s:i, s:s, s:I}", "status", "ok", "version",
                                    DBK_VERSION, "protocol", DBK_PROTOCOL_VERSION, "server_id",
                                    sid, "restore_generation",
                                    (json_int_t)app->restore_generation));
}
