/*
 * Every route daybookd serves. Keep this list and proto/openapi.yaml in step:
 * tests/spec/routes.sh checks that they name the same routes.
 */
#include "router.h"

void dbk_api_access_log(dbk_http_request *req);
void dbk_api_account(dbk_http_request *req);
void dbk_api_account_keys(dbk_http_request *req);
void dbk_api_caseload(dbk_http_request *req);
void dbk_api_consent_template(dbk_http_request *req);
void dbk_api_help_lines(dbk_http_request *req);
void dbk_api_device_revoke(dbk_http_request *req);
void dbk_api_devices(dbk_http_request *req);
void dbk_api_enroll(dbk_http_request *req);
void dbk_api_enroll_check(dbk_http_request *req);
void dbk_api_grant_revoke(dbk_http_request *req);
void dbk_api_grants_of_stream(dbk_http_request *req);
void dbk_api_grants_put(dbk_http_request *req);
void dbk_api_healthz(dbk_http_request *req);
void dbk_api_invite_create(dbk_http_request *req);
void dbk_api_invite_delete(dbk_http_request *req);
void dbk_api_invites(dbk_http_request *req);
void dbk_api_login_finish(dbk_http_request *req);
void dbk_api_login_start(dbk_http_request *req);
void dbk_api_logout(dbk_http_request *req);
void dbk_api_metrics(dbk_http_request *req);
void dbk_api_my_grants(dbk_http_request *req);
void dbk_api_pull(dbk_http_request *req);
void dbk_api_push(dbk_http_request *req);
void dbk_api_put_bundle(dbk_http_request *req);
void dbk_api_streams(dbk_http_request *req);
void dbk_api_sync(dbk_http_request *req);

const dbk_route dbk_routes[] = {
    {"GET", "/healthz", dbk_api_healthz, false, DBK_BODY_NONE},
    {"GET", "/metrics", dbk_api_metrics, false, DBK_BODY_NONE},
    {"GET", "/v1/consent-template", dbk_api_consent_template, false, DBK_BODY_NONE},
    {"GET", "/v1/help-lines", dbk_api_help_lines, false, DBK_BODY_NONE},
    {"POST", "/v1/enroll", dbk_api_enroll, false, DBK_BODY_PUBLIC},
    {"POST", "/v1/enroll/check", dbk_api_enroll_check, false, DBK_BODY_PUBLIC},
    {"POST", "/v1/invites", dbk_api_invite_create, false, DBK_BODY_TOKEN},
    {"GET", "/v1/invites", dbk_api_invites, false, DBK_BODY_NONE},
    {"DELETE", "/v1/invites/{invite}", dbk_api_invite_delete, false, DBK_BODY_NONE},
    {"POST", "/v1/login/start", dbk_api_login_start, false, DBK_BODY_PUBLIC},
    {"POST", "/v1/login/finish", dbk_api_login_finish, false, DBK_BODY_PUBLIC},
    {"POST", "/v1/logout", dbk_api_logout, false, DBK_BODY_TOKEN},
    {"GET", "/v1/account", dbk_api_account, false, DBK_BODY_NONE},
    {"PUT", "/v1/account/bundle", dbk_api_put_bundle, false, DBK_BODY_TOKEN},
    {"GET", "/v1/accounts/{account}/keys", dbk_api_account_keys, false, DBK_BODY_NONE},
    {"GET", "/v1/devices", dbk_api_devices, false, DBK_BODY_NONE},
    {"DELETE", "/v1/devices/{device}", dbk_api_device_revoke, false, DBK_BODY_NONE},
    {"GET", "/v1/streams", dbk_api_streams, false, DBK_BODY_NONE},
    {"POST", "/v1/streams/{stream}/grants", dbk_api_grants_put, false, DBK_BODY_TOKEN},
    {"GET", "/v1/streams/{stream}/grants", dbk_api_grants_of_stream, false, DBK_BODY_NONE},
    {"DELETE", "/v1/streams/{stream}/grants/{grantee}", dbk_api_grant_revoke, false, DBK_BODY_NONE},
    {"GET", "/v1/grants", dbk_api_my_grants, false, DBK_BODY_NONE},
    {"POST", "/v1/streams/{stream}/records", dbk_api_push, false, DBK_BODY_STORED},
    {"GET", "/v1/streams/{stream}/records", dbk_api_pull, true, DBK_BODY_NONE},
    {"POST", "/v1/sync", dbk_api_sync, false, DBK_BODY_TOKEN},
    {"GET", "/v1/access-log", dbk_api_access_log, true, DBK_BODY_NONE},
    {"GET", "/v1/caseload", dbk_api_caseload, true, DBK_BODY_NONE},
};

const size_t dbk_routes_count = sizeof dbk_routes / sizeof dbk_routes[0];
