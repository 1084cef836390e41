/* Path matching against the route table. */
#include "router.h"

#include "dbk/error.h"

#include <stdlib.h>
#include <string.h>

/*
 * Matches path against pattern; on success fills req's params (heap copies,
 * freed with the request) and returns true. Segments are compared whole.
 */
static bool
match(const char *pattern, const char *path, dbk_http_request *req, bool capture)
{
    const char *p = pattern, *s = path;

    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return false;
        p++, s++;
        size_t plen = strcspn(p, "/"), slen = strcspn(s, "/");
        if (plen > 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0)
                return false;
            if (capture) {
                if (req->nparams == DBK_HTTP_MAX_PARAMS)
                    return false;
                char *v = strndup(s, slen);
                if (v == NULL)
                    return false;
                req->param_names[req->nparams] = p + 1; /* compared up to '}' below */
                req->params[req->nparams++] = v;
            }
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return false;
        }
        p += plen, s += slen;
    }
    return *p == '\0' && *s == '\0';
}

void
dbk_router_dispatch(dbk_http_request *req)
{
    bool path_known = false;

    for (size_t i = 0; i < dbk_routes_count; i++) {
        const dbk_route *r = &dbk_routes[i];
        if (!match(r->pattern, req->path, req, false))
            continue;
        path_known = true;
        bool head_ok = strcmp(req->method, "HEAD") == 0 && strcmp(r->method, "GET") == 0;
        if (strcmp(r->method, req->method) != 0 && !head_ok)
            continue;
        if (!r->query && req->query[0] != '\0') {
            dbk_http_respond_error(req, DBK_E_UNKNOWN_FIELD);
            return;
        }
        match(r->pattern, req->path, req, true);
        r->handler(req);
        return;
    }
    dbk_http_respond_error(req, path_known ? DBK_E_METHOD : DBK_E_NOT_FOUND);
}

const dbk_route *
dbk_router_find(const dbk_http_request *req)
{
    for (size_t i = 0; i < dbk_routes_count; i++) {
        const dbk_route *r = &dbk_routes[i];
        bool head_ok = strcmp(req->method, "HEAD") == 0 && strcmp(r->method, "GET") == 0;
        if ((strcmp(r->method, req->method) == 0 || head_ok) &&
            match(r->pattern, req->path, NULL, false))
            return r;
    }
    return NULL;
}
