/*
 * HTTP/1.1 connections on a libuv loop, parsed by llhttp.
 *
 * A connection is a small state machine:
 *
 *     READING --request complete--> HANDLING --respond()--> WRITING --written--> READING
 *        |                                                     |
 *        +--bad input, limit, timeout: error response----------+--> CLOSING (Connection: close)
 *
 * While a request is being handled the connection parses nothing more: bytes of a
 * pipelined next request are read into a buffer aside (reading stops when it is
 * full: DBK_HTTP_READ_BUF bytes) and parsed after the response is written; an EOF
 * read meanwhile closes the connection only then. Reading is not stopped and
 * restarted per request (two epoll_ctl calls each). One timer per connection
 * enforces the idle, request and write timeouts of server/limits.h. A connection is
 * freed only in its handles' close callbacks, never earlier.
 *
 * A handler receives a dbk_http_request and must call exactly one of the
 * dbk_http_respond* functions, now or later (after storage work off the loop);
 * the request and its buffers stay valid until then.
 */
#ifndef DBK_SERVER_HTTP_H
#define DBK_SERVER_HTTP_H

#include "limits.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct dbk_http_server dbk_http_server;
typedef struct dbk_http_conn dbk_http_conn;

#define DBK_HTTP_MAX_PARAMS 4

typedef struct dbk_http_header {
    const char *name; /* as sent; compare with strcasecmp */
    const char *value;
} dbk_http_header;

typedef struct dbk_http_request {
    dbk_http_conn *conn;
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* the target without its query, NUL-terminated */
    const char *query;  /* after '?', or "" */
    dbk_http_header headers[DBK_HTTP_MAX_HEADERS];
    size_t nheaders;
    const unsigned char *body; /* NUL-terminated for convenience; body_len excludes it */
    size_t body_len;
    /* Filled by the router: values of {name} segments of the matched route. */
    const char *param_names[DBK_HTTP_MAX_PARAMS]; /* into the pattern, after '{' */
    char *params[DBK_HTTP_MAX_PARAMS];
    size_t nparams;
    void *app; /* the server's application state, from dbk_http_server_new */
    /* The application's, for this request only (zeroed, and wiped, before the next):
     * its bearer token's hash once computed (api.h, dbk_api_bearer_hash), so the head
     * gate and the handler decode and hash the token once between them. */
    unsigned char token_hash[32];
    signed char token_state; /* 0: not looked at; 1: token_hash is set; -1: no token */
    /* The route the head gate found (router.h, a const dbk_route *), or NULL: the
     * router does not look for it a second time. */
    const void *route;
} dbk_http_request;

typedef void (*dbk_http_handler)(dbk_http_request *req);

/*
 * Called on the loop thread when a request's head is complete and it declares a
 * body (declared: its Content-Length, or UINT64_MAX when chunked), before any byte
 * of the body is read or any memory is taken for it. req has its method, path,
 * query and headers; not its body or route parameters. The hook must call
 * dbk_http_body_decide exactly once, now or later.
 */
typedef void (*dbk_http_head_hook)(dbk_http_request *req, uint64_t declared);

/* Sets the head hook (before listening). Without one every declared body up to
 * DBK_HTTP_MAX_BODY_BYTES is read. */
void dbk_http_server_set_head_hook(dbk_http_server *srv, dbk_http_head_hook hook);

/*
 * The head hook's answer. err 0: read the body, at most max bytes (413 beyond),
 * then pass the request to the handler. err < 0: answer err (the error table's
 * status and code) without handing the request on; a body of at most
 * DBK_HTTP_DISCARD_BODY_BYTES is read and dropped so the connection can be kept,
 * a larger or chunked one is never read and the connection closes.
 */
void dbk_http_body_decide(dbk_http_request *req, int err, size_t max);

/* Timeouts a deployment may tune (config file / flags); defaults in limits.h. */
typedef struct dbk_http_timeouts {
    uint64_t idle_ms, request_ms, write_ms, drain_ms;
} dbk_http_timeouts;

/* The defaults of server/limits.h. */
void dbk_http_timeouts_default(dbk_http_timeouts *t);
/* Replaces the server's timeouts (before it listens). */
void dbk_http_server_set_timeouts(dbk_http_server *srv, const dbk_http_timeouts *t);

/*
 * Creates a server on loop that passes complete requests to handler; app is
 * handed to every request as req->app. Returns NULL when out of memory.
 */
dbk_http_server *dbk_http_server_new(uv_loop_t *loop, dbk_http_handler handler, void *app);

/*
 * Binds host:port (port 0 picks a free one) and starts accepting. Stores the bound
 * port in *bound_port. Returns 0 or a negative libuv error (uv_strerror names it).
 */
int dbk_http_server_listen(dbk_http_server *srv, const char *host, int port, int *bound_port);

/*
 * Stops accepting, closes idle connections and lets requests in flight finish
 * (cutting any left after DBK_DRAIN_TIMEOUT_MS). done is called once, when the
 * last connection has closed; after it the server may be freed.
 */
void dbk_http_server_drain(dbk_http_server *srv, void (*done)(void *arg), void *arg);

/* Frees a server that has drained (or never listened). */
void dbk_http_server_free(dbk_http_server *srv);

/* Number of open connections, for /metrics. */
size_t dbk_http_server_connections(const dbk_http_server *srv);

/* True if the request came from a loopback address. */
bool dbk_http_from_loopback(const dbk_http_request *req);
/*
 * The request's source for rate limits, as 16 bytes: an IPv4 peer as ::ffff:a.b.c.d,
 * an IPv6 peer's /64 (one host is handed a whole /64). Behind a reverse proxy this is
 * the proxy's address (docs: the login limits, proto/README.md R12). All zero when the
 * peer is unknown.
 */
void dbk_http_source(const dbk_http_request *req, unsigned char out[16]);
/* True once dbk_http_server_drain has been called. */
bool dbk_http_server_draining(const dbk_http_server *srv);

/* The value of header name (case-insensitive), or NULL. */
const char *dbk_http_header_get(const dbk_http_request *req, const char *name);
/* The value of route parameter name, or NULL. */
const char *dbk_http_param(const dbk_http_request *req, const char *name);

/*
 * Sends a response. The body is copied. extra_headers is NULL or complete
 * "Name: value\r\n" lines. These functions end the request: req is invalid after.
 */
void dbk_http_respond(dbk_http_request *req, int status, const char *content_type,
                      const char *extra_headers, const void *body, size_t len);
/* The same for a malloc'd body, which is not copied: the call takes it (it is wiped
 * and freed once written, or at once if it cannot be sent). For large bodies. */
void dbk_http_respond_take(dbk_http_request *req, int status, const char *content_type,
                           const char *extra_headers, char *body, size_t len);
/* Sends body as compact JSON and releases the caller's reference to it. */
void dbk_http_respond_json(dbk_http_request *req, int status, json_t *body);
/* Sends the error table's status and {"error":{"code":...,"message":...}}. */
void dbk_http_respond_error(dbk_http_request *req, int err);

#endif
