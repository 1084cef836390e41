/*
 * HTTP/1.1 connection state machine; see http.h for the picture.
 *
 * Memory per connection is fixed except for the body: the request line and
 * headers go into conn->head (DBK_HTTP_MAX_HEAD_BYTES), socket reads into
 * conn->readbuf, pipelined leftovers into conn->pending. The body is allocated
 * once from Content-Length, or grown for chunked bodies, and never beyond
 * DBK_HTTP_MAX_BODY_BYTES. With a head hook (dbk_http_server_set_head_hook) no
 * byte of a body is parsed, and nothing is allocated for it, until the hook has
 * accepted the head: parsing pauses after the headers, and what arrives meanwhile
 * goes to conn->pending (at most DBK_HTTP_READ_BUF bytes, then reading stops). A
 * refused head is answered at once; its body, if declared and small, is read and
 * dropped so the connection can be kept, else the connection closes unread.
 *
 * Logging here records connection-level failures by error code only: never a
 * header, a target or any byte a client sent.
 */
#include "http.h"

#include "dbk/error.h"
#include "dbk/log.h"

#include <sodium.h>

#include <llhttp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum conn_state { CONN_READING, CONN_HANDLING, CONN_WRITING, CONN_CLOSING };

struct dbk_http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    int open_handles; /* freed when both tcp and timer have closed */
    dbk_http_server *srv;
    dbk_http_conn *prev, *next;
    enum conn_state state;

    llhttp_t parser;
    bool handling;     /* a handler owns req and has not responded yet */
    bool in_message;   /* a request has begun and not yet completed */
    bool keep_alive;   /* after the current response */
    int error;         /* set by a parser callback that hit a limit */
    bool value_open;   /* a header value is being collected */
    bool headers_done; /* the header block has ended: later fields are trailers */
    size_t trailer_len; /* bytes of trailer fields seen (dropped, but bounded) */
    const char *feed_start; /* the bytes llhttp_execute is parsing now */
    bool feed_lf;      /* the previous bytes parsed ended in a line feed and blanks */
    bool gating;       /* paused after the headers, waiting for the head hook */
    bool discard;      /* the body is read and dropped (a refused head) */
    int refused;       /* the error the head hook answered, sent once the body is dropped */
    size_t body_max;   /* the most body bytes this request may send */

    char head[DBK_HTTP_MAX_HEAD_BYTES]; /* target and headers, NUL-separated */
    size_t head_len;
    size_t url_len;

    unsigned char *body;
    size_t body_len, body_cap;

    dbk_http_request req;

    char readbuf[DBK_HTTP_READ_BUF];
    char pending[DBK_HTTP_READ_BUF]; /* pipelined bytes not yet parsed */
    size_t pending_len;
    bool reading;      /* uv_read_start is in effect */
    bool peer_done;    /* EOF or an error was read while a request was handled */
    bool written_wait; /* a response written at once waits for on_written */
    uint64_t turn;     /* the server's turn in which turn_served counts (on_written) */
    unsigned int turn_served;
};

struct dbk_http_server {
    uv_loop_t *loop;
    dbk_http_timeouts to;
    uv_tcp_t listener;
    bool listening;
    llhttp_settings_t settings;
    dbk_http_handler handler;
    dbk_http_head_hook head_hook;
    void *app;
    dbk_http_conn *conns;
    size_t nconns;
    bool draining;
    uv_timer_t drain_timer;
    bool drain_timer_open;
    void (*drain_done)(void *arg);
    void *drain_arg;
    uv_idle_t written; /* runs the completions of responses written at once */
    bool written_open;
    struct write_req *written_head, *written_tail;
    uint64_t turn; /* on_written's runs */
};

struct write_req {
    uv_write_t w;
    dbk_http_conn *conn;
    struct write_req *next_written; /* in the server's list of responses written at once */
    int status;                     /* their write's result, for on_write */
    bool close_after;
    char *body;      /* a body handed over by dbk_http_respond_take, or NULL */
    size_t body_len;
    size_t len;
    char data[]; /* the head, and the body when it was copied */
};

/* Responses can carry tokens and invite codes: wiped before they are freed. */
static void
body_free(char *body, size_t len)
{
    if (body != NULL) {
        sodium_memzero(body, len);
        free(body);
    }
}

static void conn_close(dbk_http_conn *c);
static void conn_feed(dbk_http_conn *c, const char *data, size_t n);
static void conn_arm_timer(dbk_http_conn *c, uint64_t ms);
static void maybe_finish_drain(dbk_http_server *srv);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void conn_free_if_done(dbk_http_conn *c);
static void conn_read_off(dbk_http_conn *c);
static void on_written(uv_idle_t *h);
static void conn_read_resume(dbk_http_conn *c);

/* ---- parser callbacks: collect the request, enforce limits ---- */

static dbk_http_conn *
conn_of(llhttp_t *p)
{
    return p->data;
}

/*
 * The head buffer holds the target and headers as NUL-terminated strings.
 * Invariant: head_len <= sizeof head. Both checks below are written so they
 * cannot wrap: a fragment must leave room for its own terminator.
 */
static int
head_append(dbk_http_conn *c, const char *at, size_t n)
{
    if (n >= sizeof c->head - c->head_len) {
        c->error = c->url_len == 0 && c->req.nheaders == 0 ? DBK_E_URI_TOO_LONG
                                                           : DBK_E_HEADERS_TOO_LARGE;
        return -1;
    }
    memcpy(c->head + c->head_len, at, n);
    c->head_len += n;
    return 0;
}

static int
head_terminate(dbk_http_conn *c)
{
    if (c->head_len + 1 > sizeof c->head) {
        c->error = DBK_E_HEADERS_TOO_LARGE;
        return -1;
    }
    c->head[c->head_len++] = '\0';
    return 0;
}

static int
on_message_begin(llhttp_t *p)
{
    dbk_http_conn *c = conn_of(p);
    c->in_message = true;
    conn_arm_timer(c, c->srv->to.request_ms);
    return 0;
}

static int
on_url(llhttp_t *p, const char *at, size_t n)
{
    dbk_http_conn *c = conn_of(p);
    if (c->head_len + n > DBK_HTTP_MAX_URL) {
        c->error = DBK_E_URI_TOO_LONG;
        return -1;
    }
    return head_append(c, at, n);
}

static int
on_url_complete(llhttp_t *p)
{
    dbk_http_conn *c = conn_of(p);
    c->url_len = c->head_len;
    return head_terminate(c);
}

/*
 * Trailer fields (after a chunked body) are dropped, never merged into the headers
 * (RFC 9112 section 7.1.2): a trailer must not add an Authorization or change a
 * Content-Type that was checked before the body. They still count against the
 * head limit, so they cannot be used to send unbounded data.
 */
static int
trailer_skip(dbk_http_conn *c, size_t n)
{
    if (n >= sizeof c->head - c->trailer_len) {
        c->error = DBK_E_HEADERS_TOO_LARGE;
        return -1;
    }
    c->trailer_len += n;
    return 0;
}

static int
on_header_field(llhttp_t *p, const char *at, size_t n)
{
    dbk_http_conn *c = conn_of(p);
    if (c->headers_done)
        return trailer_skip(c, n);
    if (!c->value_open && (c->head_len == 0 || c->head[c->head_len - 1] == '\0')) {
        /* First fragment of a new header name. */
        if (c->req.nheaders == DBK_HTTP_MAX_HEADERS) {
            c->error = DBK_E_HEADERS_TOO_LARGE;
            return -1;
        }
        c->req.headers[c->req.nheaders].name = c->head + c->head_len;
        c->req.headers[c->req.nheaders].value = "";
    }
    return head_append(c, at, n);
}

static int
on_header_field_complete(llhttp_t *p)
{
    dbk_http_conn *c = conn_of(p);
    if (c->headers_done)
        return 0;
    if (head_terminate(c) != 0)
        return -1;
    c->req.nheaders++;
    c->value_open = false;
    return 0;
}

/*
 * True if the bytes just before `at` are a line feed followed only by blanks,
 * looking back into the previous read (carried) when they reach `start`.
 */
static bool
after_line_break(const char *start, const char *at, bool carried)
{
    while (at > start && (at[-1] == ' ' || at[-1] == '\t'))
        at--;
    return at == start ? carried : at[-1] == '\n';
}

/*
 * A header value that continues on a line starting with a blank is obs-fold (RFC
 * 9112 section 5.2). llhttp joins it into the value; we refuse the request with 400,
 * as the RFC allows, so that no proxy in front of us and we disagree on headers.
 * A value's own bytes never contain a line feed, so the test cannot misfire.
 */
static bool
is_obs_fold(const dbk_http_conn *c, const char *at)
{
    return after_line_break(c->feed_start, at, c->feed_lf);
}

static int
on_header_value(llhttp_t *p, const char *at, size_t n)
{
    dbk_http_conn *c = conn_of(p);
    if (is_obs_fold(c, at)) {
        c->error = DBK_E_BAD_HTTP; /* RFC 9112 5.2: a server may reject with 400 */
        return -1;
    }
    if (c->headers_done) {
        c->value_open = true;
        return trailer_skip(c, n);
    }
    if (!c->value_open) {
        c->req.headers[c->req.nheaders - 1].value = c->head + c->head_len;
        c->value_open = true;
    }
    return head_append(c, at, n);
}

static int
on_header_value_complete(llhttp_t *p)
{
    dbk_http_conn *c = conn_of(p);
    if (c->headers_done) {
        c->value_open = false;
        return 0;
    }
    if (!c->value_open) /* an empty value: no on_header_value call was made */
        c->req.headers[c->req.nheaders - 1].value = "";
    c->value_open = false;
    return head_terminate(c);
}

/* Method, path and query of the request, once its head is complete. */
static void
request_line(dbk_http_conn *c)
{
    dbk_http_request *r = &c->req;
    char *q = memchr(c->head, '?', c->url_len);

    r->method = llhttp_method_name((llhttp_method_t)c->parser.method);
    r->path = c->head;
    if (q != NULL) {
        *q = '\0';
        r->query = q + 1;
    } else {
        r->query = "";
    }
}

/* The body's declared length, or UINT64_MAX for a chunked body (unknown). */
static uint64_t
declared_length(const llhttp_t *p)
{
    if (p->flags & F_CHUNKED)
        return UINT64_MAX;
    return (p->flags & F_CONTENT_LENGTH) ? p->content_length : 0;
}

/* Allocates the body of a declared length up front (a chunked one grows in on_body). */
static int
body_alloc(dbk_http_conn *c)
{
    uint64_t n = declared_length(&c->parser);
    if (n == 0 || n == UINT64_MAX)
        return 0;
    if (n > c->body_max) {
        c->error = DBK_E_TOO_LARGE;
        return -1;
    }
    c->body_cap = (size_t)n + 1;
    c->body = malloc(c->body_cap);
    if (c->body == NULL) {
        c->error = DBK_E_NOMEM;
        return -1;
    }
    return 0;
}

static int
on_headers_complete(llhttp_t *p)
{
    dbk_http_conn *c = conn_of(p);
    uint64_t n = declared_length(p);

    c->headers_done = true;
    request_line(c);
    if (n != UINT64_MAX && n > DBK_HTTP_MAX_BODY_BYTES) {
        c->error = DBK_E_TOO_LARGE;
        return -1;
    }
    if (n == 0 || c->srv->head_hook == NULL)
        return body_alloc(c);
    /* Stop before the body: the head hook decides whether it is read at all. */
    c->gating = true;
    return HPE_PAUSED;
}

static int
on_body(llhttp_t *p, const char *at, size_t n)
{
    dbk_http_conn *c = conn_of(p);
    if (c->discard) {
        /* A refused request's small body: read and dropped; llhttp bounds it by its
         * declared length, which the refusal checked. */
        return 0;
    }
    if (c->body_len + n > c->body_max) {
        c->error = DBK_E_TOO_LARGE;
        return -1;
    }
    if (c->body_len + n + 1 > c->body_cap) {
        /* Chunked: grow geometrically, never past the cap (+1 for the NUL). */
        size_t cap = c->body_cap ? c->body_cap * 2 : 4096;
        while (cap < c->body_len + n + 1)
            cap *= 2;
        if (cap > c->body_max + 1)
            cap = c->body_max + 1;
        unsigned char *nb = realloc(c->body, cap);
        if (nb == NULL) {
            c->error = DBK_E_NOMEM;
            return -1;
        }
        c->body = nb;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, at, n);
    c->body_len += n;
    return 0;
}

static int
on_message_complete(llhttp_t *p)
{
    /* Stop here: the handler runs before any pipelined request is parsed. */
    (void)p;
    return HPE_PAUSED;
}

/* ---- responses ---- */

static const char *
reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
    }
}

static void
request_reset(dbk_http_conn *c)
{
    for (size_t i = 0; i < c->req.nparams; i++)
        free(c->req.params[i]);
    /* The head holds the Authorization header, the body may hold passphrase-derived
     * signatures or codes: wipe both. */
    sodium_memzero(c->head, c->head_len);
    if (c->body != NULL)
        sodium_memzero(c->body, c->body_cap);
    free(c->body);
    c->body = NULL;
    c->body_len = c->body_cap = 0;
    c->head_len = c->url_len = 0;
    c->value_open = false;
    c->headers_done = false;
    c->trailer_len = 0;
    c->in_message = false;
    c->error = 0;
    c->gating = c->discard = false;
    c->refused = 0;
    c->body_max = DBK_HTTP_MAX_BODY_BYTES;
    sodium_memzero(c->req.token_hash, sizeof c->req.token_hash);
    memset(&c->req, 0, sizeof c->req);
    c->req.conn = c;
    c->req.app = c->srv->app;
}

static void
on_write(uv_write_t *w, int status)
{
    struct write_req *wr = (struct write_req *)w;
    dbk_http_conn *c = wr->conn;
    bool close_after = wr->close_after;

    body_free(wr->body, wr->body_len);
    sodium_memzero(wr->data, wr->len);
    free(wr);
    if (c->state == CONN_CLOSING)
        return;
    if (status < 0 || close_after || c->srv->draining) {
        conn_close(c);
        return;
    }
    /* Ready for the next request on this connection. */
    request_reset(c);
    c->state = CONN_READING;
    conn_arm_timer(c, c->srv->to.idle_ms);
    llhttp_resume(&c->parser);
    if (c->pending_len > 0) {
        size_t n = c->pending_len;
        c->pending_len = 0;
        conn_feed(c, c->pending, n);
    }
    conn_read_resume(c);
}

/*
 * The completions of responses written at once. Completing one parses the next
 * pipelined request of its connection, which may be answered at once too and land
 * here again; a connection gets at most DBK_HTTP_PIPELINE_PER_TURN of them per run,
 * the rest wait for the next run, after the loop has polled (the idle handle stays
 * active, so the poll does not block).
 */
static void
on_written(uv_idle_t *h)
{
    dbk_http_server *srv = h->data;
    struct write_req *wr, *later_head = NULL, *later_tail = NULL;

    srv->turn++;
    while ((wr = srv->written_head) != NULL) {
        dbk_http_conn *c = wr->conn;
        srv->written_head = wr->next_written;
        if (srv->written_head == NULL)
            srv->written_tail = NULL;
        if (c->turn != srv->turn) {
            c->turn = srv->turn;
            c->turn_served = 0;
        }
        if (c->turn_served >= DBK_HTTP_PIPELINE_PER_TURN) {
            wr->next_written = NULL; /* the next run's */
            if (later_tail != NULL)
                later_tail->next_written = wr;
            else
                later_head = wr;
            later_tail = wr;
            continue;
        }
        c->turn_served++;
        c->written_wait = false;
        on_write(&wr->w, wr->status); /* may write the next pipelined answer */
        if (c->state == CONN_CLOSING)
            conn_free_if_done(c); /* its handles may have closed meanwhile */
    }
    srv->written_head = later_head;
    srv->written_tail = later_tail;
    if (later_head == NULL)
        uv_idle_stop(h);
}

/*
 * Writes a response at once when the socket takes all of it, which is the usual
 * case: uv_write would do the same write, then have libuv stop watching for
 * writability on a socket it never watched for it, an EPOLL_CTL_MOD per response.
 * Its completion (on_write) still runs later, as uv_write's would, from the
 * server's idle handle before the loop next waits, so a handler may use its request
 * after responding, and a pipelined request is not parsed from inside the response
 * to the one before. (An idle handle, not a check handle: an active idle handle
 * keeps the loop from blocking in epoll_wait before it has run, a check handle
 * runs only after the next wait, which for a timeout's 408 may be never.)
 * False, with buf[*first] advanced past what was written, when the rest
 * (buf[*first] to buf[nbuf - 1]) must go through uv_write.
 */
static bool
write_now(dbk_http_conn *c, struct write_req *wr, uv_buf_t *buf, unsigned int nbuf,
          unsigned int *first)
{
    dbk_http_server *srv = c->srv;
    size_t total = 0, done;
    int n;

    *first = 0;
    if (!srv->written_open)
        return false;
    for (unsigned int i = 0; i < nbuf; i++)
        total += buf[i].len;
    n = uv_try_write((uv_stream_t *)&c->tcp, buf, nbuf);
    if (n == UV_EAGAIN)
        n = 0;
    if (n >= 0 && (size_t)n < total) {
        for (done = (size_t)n; done >= buf[*first].len; (*first)++)
            done -= buf[*first].len;
        buf[*first].base += done;
        buf[*first].len -= done;
        return false;
    }
    wr->status = n < 0 ? n : 0; /* an error is on_write's, as uv_write's would be */
    wr->next_written = NULL;
    if (srv->written_tail != NULL)
        srv->written_tail->next_written = wr;
    else
        srv->written_head = wr;
    srv->written_tail = wr;
    c->written_wait = true;
    uv_idle_start(&srv->written, on_written);
    return true;
}

/* s's bytes at d; returns the end. */
static char *
head_put(char *d, const char *s, size_t n)
{
    memcpy(d, s, n);
    return d + n;
}

/* v in decimal at d; returns the end. */
static char *
head_uint(char *d, size_t v)
{
    char t[24];
    size_t i = sizeof t;
    do
        t[--i] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    return head_put(d, t + i, sizeof t - i);
}

/* v's decimal digits. */
static size_t
head_digits(size_t v)
{
    size_t n = 1;
    while ((v /= 10) != 0)
        n++;
    return n;
}

/* The head's fixed parts, in order around its fields. */
#define HEAD_1 "HTTP/1.1 "
#define HEAD_2 " "
#define HEAD_3 "\r\nContent-Type: "
#define HEAD_4 "\r\nContent-Length: "
#define HEAD_5 "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: "
#define HEAD_6 "\r\n"
#define HEAD_7 "\r\n"
#define HEAD_LIT(d, lit) head_put(d, lit, sizeof lit - 1)

/* A response's head into head (size cap), byte for byte what snprintf wrote with
 * the format "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n...%s\r\n"
 * before: every answer has one, and snprintf cost about 3k instructions a response
 * (callgrind, issue 20). Returns its length, or -1 when that is cap or more, as
 * snprintf's caller refused it. */
static int
head_build(char *head, size_t cap, int status, const char *content_type, const char *extra_headers,
           size_t len, bool close_after)
{
    const char *reason = reason_phrase(status), *conn = close_after ? "close" : "keep-alive";
    const char *extra = extra_headers ? extra_headers : "";
    size_t nr = strlen(reason), nc = strlen(content_type), nk = strlen(conn), ne = strlen(extra);
    size_t total = sizeof HEAD_1 + sizeof HEAD_2 + sizeof HEAD_3 + sizeof HEAD_4 + sizeof HEAD_5 +
                   sizeof HEAD_6 + sizeof HEAD_7 - 7 + nr + nc + nk + ne +
                   head_digits((size_t)status) + head_digits(len);
    char *d = head;

    if (status < 0 || total >= cap)
        return -1;
    d = HEAD_LIT(d, HEAD_1);
    d = head_uint(d, (size_t)status);
    d = HEAD_LIT(d, HEAD_2);
    d = head_put(d, reason, nr);
    d = HEAD_LIT(d, HEAD_3);
    d = head_put(d, content_type, nc);
    d = HEAD_LIT(d, HEAD_4);
    d = head_uint(d, len);
    d = HEAD_LIT(d, HEAD_5);
    d = head_put(d, conn, nk);
    d = HEAD_LIT(d, HEAD_6);
    d = head_put(d, extra, ne);
    d = HEAD_LIT(d, HEAD_7);
    *d = '\0';
    return (int)(d - head);
}

/*
 * Queues a response on c. Used for handler responses and for protocol errors. The
 * body is copied after the head, unless it is `owned` (malloc'd, body == owned):
 * then it is written from where it is, as a second buffer, and wiped and freed
 * once written or when the response cannot be sent. A pull answers about 150 KB;
 * copying it cost a second buffer of that size per response, whose fresh pages
 * the kernel had to fault in (README, Performance, SQLite before and after).
 */
static void
conn_write(dbk_http_conn *c, int status, const char *content_type, const char *extra_headers,
           const void *body, size_t len, char *owned, bool close_after)
{
    char head[512];
    int hn;
    struct write_req *wr;
    size_t copied = owned != NULL ? 0 : len;
    uv_buf_t buf[2];
    unsigned int nbuf, first;

    if (c->handling) {
        c->handling = false;
        if (c->state == CONN_CLOSING) {
            /* The connection was cut while the handler worked; drop the answer. */
            body_free(owned, len);
            conn_free_if_done(c);
            return;
        }
    }
    if (c->srv->draining)
        close_after = true;
    hn = head_build(head, sizeof head, status, content_type, extra_headers, len, close_after);
    if (hn < 0 || (size_t)hn >= sizeof head ||
        (wr = malloc(sizeof *wr + (size_t)hn + copied)) == NULL) {
        body_free(owned, len);
        conn_close(c);
        return;
    }
    wr->conn = c;
    wr->close_after = close_after;
    wr->body = owned;
    wr->body_len = owned != NULL ? len : 0;
    wr->len = (size_t)hn + copied;
    memcpy(wr->data, head, (size_t)hn);
    if (copied > 0)
        memcpy(wr->data + hn, body, copied);
    buf[0] = uv_buf_init(wr->data, (unsigned int)wr->len);
    buf[1] = uv_buf_init(owned, (unsigned int)wr->body_len);

    c->state = CONN_WRITING;
    c->keep_alive = !close_after;
    conn_arm_timer(c, c->srv->to.write_ms);
    nbuf = wr->body_len > 0 ? 2 : 1;
    if (write_now(c, wr, buf, nbuf, &first))
        return;
    if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, buf + first, nbuf - first, on_write) != 0) {
        body_free(wr->body, wr->body_len);
        free(wr);
        conn_close(c);
    }
}

static void
conn_send(dbk_http_conn *c, int status, const char *content_type, const char *extra_headers,
          const void *body, size_t len, bool close_after)
{
    conn_write(c, status, content_type, extra_headers, body, len, NULL, close_after);
}

static char *
error_body(int err, size_t *len)
{
    json_t *o = json_pack("{s:{s:s, s:s}}", "error", "code", dbk_err_code(err), "message",
                          dbk_err_message(err));
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    *len = s ? strlen(s) : 0;
    return s;
}

static void
conn_send_error(dbk_http_conn *c, int err, bool close_after)
{
    size_t len;
    char *body = error_body(err, &len);
    if (body == NULL) {
        c->handling = false; /* nobody will answer this request now */
        conn_close(c);
        return;
    }
    conn_send(c, dbk_err_http_status(err), "application/json", NULL, body, len, close_after);
    free(body);
}

void
dbk_http_respond(dbk_http_request *req, int status, const char *content_type,
                 const char *extra_headers, const void *body, size_t len)
{
    dbk_http_conn *c = req->conn;
    bool close_after = !llhttp_should_keep_alive(&c->parser);
    if (strcmp(req->method, "HEAD") == 0)
        len = 0;
    conn_send(c, status, content_type, extra_headers, body, len, close_after);
}

void
dbk_http_respond_take(dbk_http_request *req, int status, const char *content_type,
                      const char *extra_headers, char *body, size_t len)
{
    dbk_http_conn *c = req->conn;
    bool close_after = !llhttp_should_keep_alive(&c->parser);
    if (strcmp(req->method, "HEAD") == 0) {
        body_free(body, len);
        conn_write(c, status, content_type, extra_headers, NULL, 0, NULL, close_after);
        return;
    }
    conn_write(c, status, content_type, extra_headers, body, len, body, close_after);
}

void
dbk_http_respond_json(dbk_http_request *req, int status, json_t *body)
{
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (s == NULL) {
        dbk_http_respond_error(req, DBK_E_NOMEM);
        return;
    }
    dbk_http_respond(req, status, "application/json", NULL, s, strlen(s));
    sodium_memzero(s, strlen(s));
    free(s);
}

void
dbk_http_respond_error(dbk_http_request *req, int err)
{
    size_t len;
    char *body = error_body(err, &len);
    if (body == NULL) {
        req->conn->handling = false;
        conn_close(req->conn);
        return;
    }
    dbk_http_respond(req, dbk_err_http_status(err), "application/json", NULL, body, len);
    free(body);
}

/* ---- request plumbing ---- */

static void
dispatch(dbk_http_conn *c)
{
    dbk_http_request *r = &c->req;

    if (c->refused != 0) {
        /* The head was refused and its body dropped: answer now, keeping the
         * connection if the client asked to. */
        conn_send_error(c, c->refused, !llhttp_should_keep_alive(&c->parser));
        return;
    }
    if (c->body != NULL)
        c->body[c->body_len] = '\0';
    r->body = c->body ? c->body : (const unsigned char *)"";
    r->body_len = c->body_len;

    c->state = CONN_HANDLING;
    c->handling = true;
    uv_timer_stop(&c->timer);
    c->srv->handler(r);
}

/*
 * The head is complete and a body is declared: hand the head to the hook, which
 * answers with dbk_http_body_decide, now or after storage work. Nothing more is
 * parsed meanwhile; the connection is held like one whose handler is working (what
 * arrives is kept aside in conn->pending, conn_read_on).
 */
static void
gate(dbk_http_conn *c)
{
    c->state = CONN_HANDLING;
    c->handling = true;
    uv_timer_stop(&c->timer);
    c->srv->head_hook(&c->req, declared_length(&c->parser));
}

static void
on_continue_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

/* "100 Continue" for a client that waits for it before sending an accepted body. */
static void
send_continue(dbk_http_conn *c)
{
    static char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    const char *e = dbk_http_header_get(&c->req, "Expect");
    uv_write_t *w;
    uv_buf_t buf = uv_buf_init(line, sizeof line - 1);

    if (e == NULL || strcasecmp(e, "100-continue") != 0 || c->parser.http_minor < 1)
        return;
    if ((w = malloc(sizeof *w)) == NULL)
        return; /* the client sends the body after its own wait */
    if (uv_write(w, (uv_stream_t *)&c->tcp, &buf, 1, on_continue_written) != 0)
        free(w);
}

void
dbk_http_body_decide(dbk_http_request *req, int err, size_t max)
{
    dbk_http_conn *c = req->conn;
    uint64_t n = declared_length(&c->parser);

    c->handling = false;
    c->gating = false;
    if (c->state == CONN_CLOSING) {
        conn_free_if_done(c); /* cut while the hook worked */
        return;
    }
    if (err != 0) {
        DBK_LOG(DBK_LOG_INFO, "http_reject", DBK_STR("code", dbk_err_code(err)));
        if (n > DBK_HTTP_DISCARD_BODY_BYTES || dbk_http_header_get(req, "Expect") != NULL) {
            conn_send_error(c, err, true);
            return;
        }
        c->refused = err;
        c->discard = true;
    } else {
        c->body_max = max < DBK_HTTP_MAX_BODY_BYTES ? max : DBK_HTTP_MAX_BODY_BYTES;
        if (body_alloc(c) != 0) {
            DBK_LOG(DBK_LOG_INFO, "http_reject", DBK_STR("code", dbk_err_code(c->error)));
            conn_send_error(c, c->error, true);
            return;
        }
        send_continue(c);
    }
    c->state = CONN_READING;
    c->feed_lf = true; /* the head ended with a line break */
    conn_arm_timer(c, c->srv->to.request_ms);
    llhttp_resume(&c->parser);
    if (c->pending_len > 0) {
        size_t pn = c->pending_len;
        c->pending_len = 0;
        conn_feed(c, c->pending, pn);
    }
    conn_read_resume(c);
}

static void
conn_feed(dbk_http_conn *c, const char *data, size_t n)
{
    llhttp_errno_t rc;

    c->feed_start = data;
    rc = llhttp_execute(&c->parser, data, n);
    c->feed_lf = after_line_break(data, data + n, c->feed_lf);
    if (rc == HPE_OK)
        return; /* need more bytes */
    if (rc == HPE_PAUSED) {
        const char *pos = llhttp_get_error_pos(&c->parser);
        size_t used = (size_t)(pos - data);
        /* Keep the rest (a pipelined request) for after the response. */
        c->pending_len = n - used;
        memmove(c->pending, data + used, c->pending_len);
        if (c->gating)
            gate(c);
        else
            dispatch(c);
        return;
    }
    conn_read_off(c);
    int err = c->error ? c->error : DBK_E_BAD_HTTP;
    DBK_LOG(DBK_LOG_INFO, "http_reject", DBK_STR("code", dbk_err_code(err)));
    conn_send_error(c, err, true);
}

/*
 * Reading stays on while a request is handled and its response written, so a
 * request costs no epoll_ctl to stop and restart reading (a client that waits for
 * its answer sends nothing meanwhile, and the socket raises no event). What does
 * arrive then (a pipelined request) is read straight into the free end of
 * `pending`, and parsed once the response is written: at most DBK_HTTP_READ_BUF
 * bytes are held that way, then reading stops until they are parsed. An EOF or
 * error read meanwhile is kept for then too, so a client that half-closes after
 * its request still gets its answer, as when reading was stopped.
 */
static void
conn_read_on(dbk_http_conn *c)
{
    if (!c->reading && c->state != CONN_CLOSING &&
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = true;
}

static void
conn_read_off(dbk_http_conn *c)
{
    if (c->reading)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
}

/* Back to reading requests, once what was kept aside is parsed (READING state). */
static void
conn_read_resume(dbk_http_conn *c)
{
    if (c->state != CONN_READING)
        return;
    if (c->peer_done) {
        conn_close(c); /* what reading on would have found now */
        return;
    }
    conn_read_on(c);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    dbk_http_conn *c = h->data;
    (void)suggested;
    if (c->state == CONN_READING)
        *buf = uv_buf_init(c->readbuf, sizeof c->readbuf);
    else /* kept aside; length 0 when full, which on_read hears as UV_ENOBUFS */
        *buf = uv_buf_init(c->pending + c->pending_len,
                           (unsigned int)(sizeof c->pending - c->pending_len));
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    dbk_http_conn *c = s->data;

    if (nread == 0)
        return;
    if (c->state != CONN_READING) {
        if (nread == UV_ENOBUFS) {
            conn_read_off(c); /* the bound: resumed once the kept bytes are parsed */
        } else if (nread < 0) {
            conn_read_off(c);
            c->peer_done = true;
        } else if (c->state != CONN_CLOSING) {
            c->pending_len += (size_t)nread;
        }
        return;
    }
    if (nread < 0) {
        /* EOF or reset. A half-sent request is simply dropped. */
        conn_close(c);
        return;
    }
    if (buf->base != c->readbuf)
        return; /* not reachable: in READING every buffer is readbuf */
    conn_feed(c, c->readbuf, (size_t)nread);
}

static void
on_timer(uv_timer_t *t)
{
    dbk_http_conn *c = t->data;
    if (c->state == CONN_READING && c->in_message) {
        conn_read_off(c);
        DBK_LOG(DBK_LOG_INFO, "http_reject", DBK_STR("code", dbk_err_code(DBK_E_TIMEOUT)));
        conn_send_error(c, DBK_E_TIMEOUT, true);
        return;
    }
    /* Idle keep-alive, or a client that will not take its response. */
    conn_close(c);
}

static void
conn_arm_timer(dbk_http_conn *c, uint64_t ms)
{
    uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* Frees c once both handles have closed and no handler still holds its request. */
static void
conn_free_if_done(dbk_http_conn *c)
{
    dbk_http_server *srv = c->srv;

    if (c->open_handles > 0 || c->handling || c->written_wait)
        return;
    request_reset(c);
    free(c);
    srv->nconns--; /* counted until freed: a closed conn still holds memory */
    maybe_finish_drain(srv);
}

static void
on_handle_closed(uv_handle_t *h)
{
    dbk_http_conn *c = h->data;
    c->open_handles--;
    conn_free_if_done(c);
}

static void
conn_close(dbk_http_conn *c)
{
    dbk_http_server *srv = c->srv;

    if (c->state == CONN_CLOSING)
        return;
    c->state = CONN_CLOSING;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void
on_connection(uv_stream_t *listener, int status)
{
    dbk_http_server *srv = listener->data;
    dbk_http_conn *c;

    if (status < 0) {
        DBK_LOG(DBK_LOG_WARN, "accept_failed", DBK_STR("error", uv_strerror(status)));
        return;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return; /* the kernel keeps the connection queued; try again on the next one */
    c->srv = srv;
    uv_tcp_init(srv->loop, &c->tcp);
    uv_timer_init(srv->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->open_handles = 2;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    llhttp_init(&c->parser, HTTP_REQUEST, &srv->settings);
    c->parser.data = c;
    request_reset(c);
    c->state = CONN_READING;
    if (srv->nconns > DBK_HTTP_MAX_CONNECTIONS) {
        DBK_LOG(DBK_LOG_WARN, "connection_limit", DBK_INT("open", srv->nconns));
        conn_send_error(c, DBK_E_UNAVAILABLE, true);
        return;
    }
    conn_arm_timer(c, c->srv->to.idle_ms);
    conn_read_on(c);
}

/* ---- server ---- */

dbk_http_server *
dbk_http_server_new(uv_loop_t *loop, dbk_http_handler handler, void *app)
{
    dbk_http_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return NULL;
    srv->loop = loop;
    dbk_http_timeouts_default(&srv->to);
    srv->handler = handler;
    srv->app = app;
    llhttp_settings_init(&srv->settings);
    srv->settings.on_message_begin = on_message_begin;
    srv->settings.on_url = on_url;
    srv->settings.on_url_complete = on_url_complete;
    srv->settings.on_header_field = on_header_field;
    srv->settings.on_header_field_complete = on_header_field_complete;
    srv->settings.on_header_value = on_header_value;
    srv->settings.on_header_value_complete = on_header_value_complete;
    srv->settings.on_headers_complete = on_headers_complete;
    srv->settings.on_body = on_body;
    srv->settings.on_message_complete = on_message_complete;
    return srv;
}

int
dbk_http_server_listen(dbk_http_server *srv, const char *host, int port, int *bound_port)
{
    struct sockaddr_storage ss;
    int namelen = sizeof ss;
    int rc;

    if (strchr(host, ':') != NULL)
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
    else
        rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc != 0)
        return rc;
    uv_tcp_init(srv->loop, &srv->listener);
    srv->listener.data = srv;
    srv->listening = true;
    uv_idle_init(srv->loop, &srv->written);
    srv->written.data = srv;
    srv->written_open = true;
    rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, 128, on_connection);
    if (rc == 0)
        rc = uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &namelen);
    if (rc != 0)
        return rc;
    if (ss.ss_family == AF_INET6)
        *bound_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    else
        *bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

static void
on_drain_timer_closed(uv_handle_t *h)
{
    dbk_http_server *srv = h->data;
    srv->drain_timer_open = false;
    maybe_finish_drain(srv);
}

static void
on_written_closed(uv_handle_t *h)
{
    dbk_http_server *srv = h->data;
    srv->written_open = false;
    maybe_finish_drain(srv);
}

static void
on_listener_closed(uv_handle_t *h)
{
    dbk_http_server *srv = h->data;
    srv->listening = false;
    maybe_finish_drain(srv);
}

static void
maybe_finish_drain(dbk_http_server *srv)
{
    void (*done)(void *) = srv->drain_done;

    if (!srv->draining || srv->nconns > 0 || srv->listening)
        return;
    if (srv->drain_timer_open || srv->written_open) {
        if (srv->drain_timer_open && !uv_is_closing((uv_handle_t *)&srv->drain_timer))
            uv_close((uv_handle_t *)&srv->drain_timer, on_drain_timer_closed);
        if (srv->written_open && !uv_is_closing((uv_handle_t *)&srv->written))
            uv_close((uv_handle_t *)&srv->written, on_written_closed);
        return;
    }
    if (done != NULL) {
        srv->drain_done = NULL;
        done(srv->drain_arg);
    }
}

static void
on_drain_deadline(uv_timer_t *t)
{
    dbk_http_server *srv = t->data;
    DBK_LOG(DBK_LOG_WARN, "drain_deadline", DBK_INT("cut", srv->nconns));
    while (srv->conns != NULL)
        conn_close(srv->conns);
}

void
dbk_http_server_drain(dbk_http_server *srv, void (*done)(void *arg), void *arg)
{
    if (srv->draining)
        return;
    srv->draining = true;
    srv->drain_done = done;
    srv->drain_arg = arg;
    if (srv->listening)
        uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
    /* Idle connections go now; busy ones close after their response (conn_send). */
    for (dbk_http_conn *c = srv->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (c->state == CONN_READING && !c->in_message)
            conn_close(c);
    }
    uv_timer_init(srv->loop, &srv->drain_timer);
    srv->drain_timer.data = srv;
    srv->drain_timer_open = true;
    uv_timer_start(&srv->drain_timer, on_drain_deadline, srv->to.drain_ms, 0);
    maybe_finish_drain(srv);
}

void
dbk_http_timeouts_default(dbk_http_timeouts *t)
{
    t->idle_ms = DBK_HTTP_IDLE_TIMEOUT_MS;
    t->request_ms = DBK_HTTP_REQUEST_TIMEOUT_MS;
    t->write_ms = DBK_HTTP_WRITE_TIMEOUT_MS;
    t->drain_ms = DBK_DRAIN_TIMEOUT_MS;
}

void
dbk_http_server_set_head_hook(dbk_http_server *srv, dbk_http_head_hook hook)
{
    srv->head_hook = hook;
}

void
dbk_http_server_set_timeouts(dbk_http_server *srv, const dbk_http_timeouts *t)
{
    srv->to = *t;
}

void
dbk_http_server_free(dbk_http_server *srv)
{
    free(srv);
}

size_t
dbk_http_server_connections(const dbk_http_server *srv)
{
    return srv->nconns;
}

bool
dbk_http_from_loopback(const dbk_http_request *req)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&req->conn->tcp, (struct sockaddr *)&ss, &len) != 0)
        return false;
    if (ss.ss_family == AF_INET)
        return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) ||
               (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

void
dbk_http_source(const dbk_http_request *req, unsigned char out[16])
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    memset(out, 0, 16);
    if (uv_tcp_getpeername(&req->conn->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        memcpy(out, a->s6_addr, IN6_IS_ADDR_V4MAPPED(a) ? 16 : 8);
    }
}

bool
dbk_http_server_draining(const dbk_http_server *srv)
{
    return srv->draining;
}

const char *
dbk_http_header_get(const dbk_http_request *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

const char *
dbk_http_param(const dbk_http_request *req, const char *name)
{
    /* param_names point into the route pattern, just past '{'. */
    size_t n = strlen(name);
    for (size_t i = 0; i < req->nparams; i++)
        if (strncmp(req->param_names[i], name, n) == 0 && req->param_names[i][n] == '}')
            return req->params[i];
    return NULL;
}
