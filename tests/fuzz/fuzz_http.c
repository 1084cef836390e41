/*
 * fuzz_http: daybookd's HTTP connection code (server/http.c, llhttp with the
 * server's settings, limits and state machine) up to routing, over real sockets.
 *
 * Once per process a dbk_http_server listens on 127.0.0.1 (a free port) on a libuv
 * loop. Each input is one connection: connect, write the input, half-close, then
 * run the loop until both ends have closed. The handler stands in for the router:
 * it checks what the server parsed, runs dbk_api_query on the query string like
 * GET .../records does and, for a request with a body or a Content-Type, the real
 * dbk_api_body (media type, nesting pre-check, strict JSON, depth), and answers
 * 200. Requests other than GET and HEAD are answered on a later loop iteration, as
 * the storage worker does, so the "handling" state, with pipelined bytes and the
 * half-close read aside until the response is written, is exercised as well.
 *
 * Invariants: no crash, leak or hang (libFuzzer's -timeout); every request the
 * handler sees is within the limits of server/limits.h and came from loopback;
 * what the client receives is a sequence of complete, valid HTTP/1.1 responses
 * (parsed with llhttp), one per request handled plus at most one error response,
 * each with a status the path can give.
 *
 * Roughly 1-5k inputs/s: each is a TCP connection.
 */
#include "fuzz.h"

#include "api.h"
#include "http.h"

#include <llhttp.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <uv.h>

static uv_loop_t loop_s, *loop = &loop_s;
static dbk_http_server *srv;
static int port;
static int app_marker;
static uv_timer_t defer_timer;
static dbk_http_request *deferred;
static size_t handled;

static struct client {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    uv_shutdown_t shutdown;
    const uint8_t *data;
    size_t size;
    bool closed;
} cl;

#define RESP_MAX (4u << 20)
static char *resp;
static size_t resp_len;

/* ---- the server side ---- */

static void
answer(dbk_http_request *req)
{
    if (req->body_len > 0 || dbk_http_header_get(req, "Content-Type") != NULL) {
        json_t *j = dbk_api_body(req);
        if (j == NULL)
            return; /* answered with its error */
        FUZZ_CHECK(json_is_object(j));
        json_decref(j);
    }
    dbk_http_respond(req, 200, "text/plain", NULL, "ok", 2);
}

static void
on_defer(uv_timer_t *t)
{
    dbk_http_request *req = deferred;
    (void)t;
    deferred = NULL;
    answer(req);
}

static void
check_query(dbk_http_request *req)
{
    static const char *const params[] = {"since", "limit", "max_bytes", NULL};
    static const struct {
        const char *name;
        int64_t dflt, lo, hi;
    } q[] = {{"since", 0, 0, INT64_MAX}, {"limit", 500, 1, 1000}, {"max_bytes", 1 << 20, 1, 4 << 20}};

    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        int64_t v = -7;
        int rc = dbk_api_query(req, params, q[i].name, q[i].dflt, q[i].lo, q[i].hi, &v);
        FUZZ_CHECK(rc == DBK_OK || rc == DBK_E_UNKNOWN_FIELD || rc == DBK_E_BAD_FIELD ||
                   rc == DBK_E_INVALID);
        if (rc == DBK_OK)
            FUZZ_CHECK(v == q[i].dflt || (v >= q[i].lo && v <= q[i].hi));
        if (rc != DBK_OK)
            break;
    }
}

static void
handler(dbk_http_request *req)
{
    size_t head = 0;

    handled++;
    FUZZ_CHECK(req->app == &app_marker);
    FUZZ_CHECK(req->method != NULL && req->method[0] != '\0');
    FUZZ_CHECK(req->path != NULL && req->query != NULL && req->body != NULL);
    head = strlen(req->path) + strlen(req->query);
    FUZZ_CHECK(head <= DBK_HTTP_MAX_URL);
    FUZZ_CHECK(req->nheaders <= DBK_HTTP_MAX_HEADERS);
    for (size_t i = 0; i < req->nheaders; i++) {
        const dbk_http_header *h = &req->headers[i];
        FUZZ_CHECK(h->name != NULL && h->value != NULL);
        head += strlen(h->name) + strlen(h->value);
        const char *first = dbk_http_header_get(req, h->name);
        FUZZ_CHECK(first != NULL);
    }
    FUZZ_CHECK(head <= DBK_HTTP_MAX_HEAD_BYTES);
    FUZZ_CHECK(req->body_len <= DBK_HTTP_MAX_BODY_BYTES);
    FUZZ_CHECK(req->body[req->body_len] == '\0');
    FUZZ_CHECK(req->nparams == 0);
    FUZZ_CHECK(dbk_http_param(req, "stream") == NULL);
    FUZZ_CHECK(dbk_http_from_loopback(req));
    FUZZ_CHECK(!dbk_http_server_draining(srv));
    if (req->query[0] != '\0')
        check_query(req);

    if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0) {
        answer(req);
        return;
    }
    FUZZ_CHECK(deferred == NULL);
    deferred = req;
    uv_timer_start(&defer_timer, on_defer, 0, 0);
}

/* ---- the client side ---- */

static void
on_client_closed(uv_handle_t *h)
{
    (void)h;
    cl.closed = true;
}

static void
client_close(void)
{
    if (!uv_is_closing((uv_handle_t *)&cl.tcp))
        uv_close((uv_handle_t *)&cl.tcp, on_client_closed);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char rbuf[64 * 1024];
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(rbuf, sizeof rbuf);
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)s;
    if (n > 0) {
        size_t take = (size_t)n;
        FUZZ_CHECK(resp_len + take <= RESP_MAX); /* far more than any input can ask for */
        memcpy(resp + resp_len, buf->base, take);
        resp_len += take;
    } else if (n < 0) {
        client_close(); /* EOF, or a reset after the server's final answer */
    }
}

static void
on_shutdown(uv_shutdown_t *r, int status)
{
    (void)r;
    (void)status;
}

static void
on_write(uv_write_t *w, int status)
{
    (void)w;
    /* A failed write: the server closed first (an error answer); the read side ends. */
    if (status == 0 && !uv_is_closing((uv_handle_t *)&cl.tcp))
        uv_shutdown(&cl.shutdown, (uv_stream_t *)&cl.tcp, on_shutdown);
}

static void
on_connect(uv_connect_t *c, int status)
{
    uv_os_fd_t fd;
    struct linger lg = {1, 0};

    (void)c;
    if (status < 0) {
        fprintf(stderr, "fuzz_http: connect: %s\n", uv_strerror(status));
        abort();
    }
    /* Close with a reset: no TIME_WAIT, so a long run does not exhaust local ports. */
    if (uv_fileno((uv_handle_t *)&cl.tcp, &fd) == 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    uv_read_start((uv_stream_t *)&cl.tcp, on_alloc, on_read);
    if (cl.size > 0) {
        uv_buf_t b = uv_buf_init((char *)cl.data, (unsigned int)cl.size);
        if (uv_write(&cl.write, (uv_stream_t *)&cl.tcp, &b, 1, on_write) != 0)
            client_close();
    } else {
        uv_shutdown(&cl.shutdown, (uv_stream_t *)&cl.tcp, on_shutdown);
    }
}

/* ---- what came back ---- */

static size_t nresp, n200;
static bool status_ok;
static char statuses[256]; /* for tracing: "200 200 400" */

static int
on_resp_headers(llhttp_t *p)
{
    size_t used = strlen(statuses);
    if (used + 5 < sizeof statuses)
        snprintf(statuses + used, sizeof statuses - used, " %d", p->status_code);
    switch (p->status_code) {
    case 200: /* the handler */
        n200++;
        break;
    case 400: /* bad_http; dbk_api_body: bad_json, too_deep */
    case 413: /* payload_too_large */
    case 414: /* uri_too_long */
    case 415: /* dbk_api_body: unsupported_media_type */
    case 431: /* headers_too_large */
        break;
    default:
        fprintf(stderr, "fuzz_http: unexpected status %d\n", p->status_code);
        status_ok = false;
    }
    return 0;
}

static int
on_resp_complete(llhttp_t *p)
{
    (void)p;
    nresp++;
    return 0;
}

static void
check_responses(void)
{
    llhttp_settings_t s;
    llhttp_t p;
    llhttp_errno_t rc = HPE_OK;

    llhttp_settings_init(&s);
    s.on_headers_complete = on_resp_headers;
    s.on_message_complete = on_resp_complete;
    llhttp_init(&p, HTTP_RESPONSE, &s);
    nresp = n200 = 0;
    status_ok = true;
    statuses[0] = '\0';
    if (resp_len > 0)
        rc = llhttp_execute(&p, resp, resp_len);
    if (rc == HPE_OK)
        rc = llhttp_finish(&p);
    if (rc != HPE_OK)
        fprintf(stderr, "fuzz_http: bad response stream: %s (%s)\n", llhttp_errno_name(rc),
                llhttp_get_error_reason(&p) ? llhttp_get_error_reason(&p) : "");
    FUZZ_TRACE("http: %zu bytes in, %zu requests handled, %zu responses:%s\n", cl.size, handled,
               nresp, statuses);
    FUZZ_CHECK(rc == HPE_OK);
    FUZZ_CHECK(status_ok);
    FUZZ_CHECK(n200 <= handled);
    FUZZ_CHECK(nresp == handled || nresp == handled + 1);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    signal(SIGPIPE, SIG_IGN);
    resp = malloc(RESP_MAX);
    FUZZ_CHECK(resp != NULL);
    FUZZ_CHECK(uv_loop_init(loop) == 0);
    srv = dbk_http_server_new(loop, handler, &app_marker);
    FUZZ_CHECK(srv != NULL);
    if (dbk_http_server_listen(srv, "127.0.0.1", 0, &port) != 0) {
        fprintf(stderr, "fuzz_http: cannot listen on 127.0.0.1\n");
        abort();
    }
    uv_timer_init(loop, &defer_timer);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sockaddr_in addr;

    memset(&cl, 0, sizeof cl);
    cl.data = data;
    cl.size = size;
    handled = 0;
    resp_len = 0;
    FUZZ_CHECK(uv_ip4_addr("127.0.0.1", port, &addr) == 0);
    FUZZ_CHECK(uv_tcp_init(loop, &cl.tcp) == 0);
    FUZZ_CHECK(uv_tcp_connect(&cl.connect, &cl.tcp, (const struct sockaddr *)&addr, on_connect) ==
               0);
    /* Until the client has closed and the server has freed the connection. */
    while (!cl.closed || dbk_http_server_connections(srv) > 0 || deferred != NULL)
        uv_run(loop, UV_RUN_ONCE);
    check_responses();
    return 0;
}
