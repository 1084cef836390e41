/*
 * The route table: every endpoint daybookd serves, in one list (server/routes.c).
 * proto/openapi.yaml must name exactly these routes; `daybookd routes` prints
 * them for the test that checks it.
 *
 * A pattern is a path whose segments are literal or "{name}"; a {name} segment
 * matches one non-empty segment, available to the handler as
 * dbk_http_param(req, "name").
 */
#ifndef DBK_SERVER_ROUTER_H
#define DBK_SERVER_ROUTER_H

#include "http.h"

typedef struct dbk_route {
    const char *method;
    const char *pattern;
    dbk_http_handler handler;
    bool query; /* the handler reads query parameters; otherwise any is unknown_field */
    /* How the route takes a body, checked on the head before a byte of it is read
     * (server/gate.c): none, without a token (a small one), or after the bearer
     * token checks out; a stored body must also fit the account's remaining quota. */
    enum dbk_route_body { DBK_BODY_NONE, DBK_BODY_PUBLIC, DBK_BODY_TOKEN, DBK_BODY_STORED } body;
} dbk_route;

extern const dbk_route dbk_routes[];
extern const size_t dbk_routes_count;

/*
 * Finds the route for req and calls its handler; answers 404 not_found when no
 * pattern matches the path, 405 method_not_allowed when one matches with another
 * method, and 400 unknown_field for a query on a route that defines none.
 */
void dbk_router_dispatch(dbk_http_request *req);

/* The route for req's method and path (HEAD finds GET), or NULL. Fills no params. */
const dbk_route *dbk_router_find(const dbk_http_request *req);

#endif
