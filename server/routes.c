/*
 * Every route daybookd serves. Keep this list and proto/openapi.yaml in step:
 * tests/integration/test_openapi_routes checks that they name the same routes.
 */
#include "router.h"

void dbk_api_healthz(dbk_http_request *req);

const dbk_route dbk_routes[] = {
    {"GET", "/healthz", dbk_api_healthz},
};

const size_t dbk_routes_count = sizeof dbk_routes / sizeof dbk_routes[0];
