/*
 * The load generator's HTTP/1.1 client: a pool of keep-alive connections on one
 * libuv loop; see bench_load.h.
 *
 * A connection is CLOSED, CONNECTING (with the request it will carry), IDLE or
 * BUSY. Requests wait in one FIFO queue and go to the first idle connection, or
 * open a closed one; a connection carries one request at a time, so at most
 * nconns are in flight. A server that closes an idle connection (Node closes
 * keep-alive connections after 5 s) is simply reconnected when next needed; one
 * that closes a connection with a request in flight is a failure of the run,
 * because retrying a push would measure something else.
 */
#include "bench_load.h"

#include <llhttp.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A response body larger than this is a failure: the biggest we expect is a pull of
 * 250 records, about 200 KB. */
#define BODY_CAP (64u * 1024 * 1024)
#define READ_BUF (64 * 1024)

enum conn_state { C_CLOSED, C_CLOSING, C_CONNECTING, C_IDLE, C_BUSY };

struct conn {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    bl_pool *pool;
    enum conn_state state;
    llhttp_t parser;
    bl_req *cur;
    char *body;
    size_t body_len, body_cap;
    int status;
    bool complete, keep_alive;
    char rbuf[READ_BUF];
};

struct bl_pool {
    uv_loop_t *loop;
    struct sockaddr_in addr;
    struct conn *conns;
    int nconns;
    llhttp_settings_t settings;
    bl_req *q_head, *q_tail;
    size_t queued, inflight;
    uint64_t sent, received;
    uv_timer_t timer;
    bool timed_out, failed;
    int open_handles;
    char error[256];
};

static void dispatch(bl_pool *p);

static void
fail(bl_pool *p, const char *fmt, ...)
{
    va_list ap;
    if (p->failed)
        return;
    p->failed = true;
    va_start(ap, fmt);
    vsnprintf(p->error, sizeof p->error, fmt, ap);
    va_end(ap);
    uv_stop(p->loop);
}

static int
on_message_begin(llhttp_t *h)
{
    struct conn *c = h->data;
    c->body_len = 0;
    return 0;
}

static int
on_body(llhttp_t *h, const char *at, size_t n)
{
    struct conn *c = h->data;
    if (c->body_len + n + 1 > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 64 * 1024;
        char *b;
        while (cap < c->body_len + n + 1)
            cap *= 2;
        if (cap > BODY_CAP || (b = realloc(c->body, cap)) == NULL)
            return -1;
        c->body = b;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, at, n);
    c->body_len += n;
    return 0;
}

static int
on_message_complete(llhttp_t *h)
{
    struct conn *c = h->data;
    c->complete = true;
    c->status = h->status_code;
    c->keep_alive = llhttp_should_keep_alive(h) != 0;
    return 0;
}

static void
on_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    c->state = C_CLOSED;
    c->pool->open_handles--;
    dispatch(c->pool);
}

static void
conn_close(struct conn *c)
{
    if (c->state == C_CLOSED || c->state == C_CLOSING)
        return;
    c->state = C_CLOSING;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void
on_write(uv_write_t *w, int status)
{
    struct conn *c = w->data;
    if (status < 0)
        fail(c->pool, "write: %s", uv_strerror(status));
}

static void
conn_start(struct conn *c, bl_req *r)
{
    uv_buf_t b = uv_buf_init((char *)r->data, (unsigned)r->len);
    int rc;

    c->cur = r;
    c->state = C_BUSY;
    c->complete = false;
    r->started_ns = bl_now_ns();
    c->pool->sent += r->len;
    c->write.data = c;
    if ((rc = uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, on_write)) < 0)
        fail(c->pool, "write: %s", uv_strerror(rc));
}

static void
finish(struct conn *c)
{
    bl_pool *p = c->pool;
    bl_req *r = c->cur;

    c->cur = NULL;
    p->inflight--;
    r->latency_ns = bl_now_ns() - r->started_ns;
    if (c->keep_alive)
        c->state = C_IDLE;
    else
        conn_close(c);
    if (c->body != NULL)
        c->body[c->body_len] = '\0';
    r->done(r, c->status, c->body ? c->body : "", c->body_len);
    dispatch(p);
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct conn *c = h->data;
    (void)hint;
    *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    bl_pool *p = c->pool;

    if (n < 0) {
        if (c->state == C_BUSY)
            fail(p, "connection closed with a request in flight: %s", uv_strerror((int)n));
        conn_close(c);
        return;
    }
    if (n == 0)
        return;
    p->received += (uint64_t)n;
    if (c->state != C_BUSY) {
        fail(p, "%zd bytes arrived with no request in flight", n);
        return;
    }
    llhttp_errno_t e = llhttp_execute(&c->parser, buf->base, (size_t)n);
    if (e != HPE_OK) {
        fail(p, "bad HTTP response: %s", llhttp_errno_name(e));
        return;
    }
    if (c->complete)
        finish(c);
}

static void
on_connect(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    int rc;

    if (status < 0) {
        fail(c->pool, "connect: %s", uv_strerror(status));
        return;
    }
    llhttp_init(&c->parser, HTTP_RESPONSE, &c->pool->settings);
    c->parser.data = c;
    if ((rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) < 0) {
        fail(c->pool, "read: %s", uv_strerror(rc));
        return;
    }
    conn_start(c, c->cur);
}

static void
conn_open(struct conn *c, bl_req *r)
{
    bl_pool *p = c->pool;
    int rc;

    uv_tcp_init(p->loop, &c->tcp);
    p->open_handles++;
    c->tcp.data = c;
    uv_tcp_nodelay(&c->tcp, 1);
    c->state = C_CONNECTING;
    c->cur = r;
    c->connect.data = c;
    if ((rc = uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&p->addr,
                             on_connect)) < 0)
        fail(p, "connect: %s", uv_strerror(rc));
}

static bl_req *
dequeue(bl_pool *p)
{
    bl_req *r = p->q_head;
    p->q_head = r->next;
    if (p->q_head == NULL)
        p->q_tail = NULL;
    r->next = NULL;
    p->queued--;
    p->inflight++;
    return r;
}

static void
dispatch(bl_pool *p)
{
    /* Idle connections first (keep-alive), then closed ones. */
    for (int pass = 0; pass < 2 && p->q_head != NULL && !p->failed; pass++) {
        for (int i = 0; i < p->nconns && p->q_head != NULL; i++) {
            struct conn *c = &p->conns[i];
            if (pass == 0 && c->state == C_IDLE)
                conn_start(c, dequeue(p));
            else if (pass == 1 && c->state == C_CLOSED)
                conn_open(c, dequeue(p));
        }
    }
}

bl_pool *
bl_pool_new(uv_loop_t *loop, int port, int nconns)
{
    bl_pool *p = calloc(1, sizeof *p);
    if (p == NULL || (p->conns = calloc((size_t)nconns, sizeof *p->conns)) == NULL) {
        free(p);
        return NULL;
    }
    p->loop = loop;
    p->nconns = nconns;
    uv_ip4_addr("127.0.0.1", port, &p->addr);
    llhttp_settings_init(&p->settings);
    p->settings.on_message_begin = on_message_begin;
    p->settings.on_body = on_body;
    p->settings.on_message_complete = on_message_complete;
    for (int i = 0; i < nconns; i++) {
        p->conns[i].pool = p;
        p->conns[i].state = C_CLOSED;
    }
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    p->open_handles = 1;
    return p;
}

void
bl_pool_submit(bl_pool *p, bl_req *r)
{
    r->next = NULL;
    if (p->q_tail)
        p->q_tail->next = r;
    else
        p->q_head = r;
    p->q_tail = r;
    p->queued++;
    dispatch(p);
}

size_t
bl_pool_busy(const bl_pool *p)
{
    return p->queued + p->inflight;
}

void
bl_pool_bytes(const bl_pool *p, uint64_t *sent, uint64_t *received)
{
    *sent = p->sent;
    *received = p->received;
}

const char *
bl_pool_error(const bl_pool *p)
{
    return p->failed ? p->error : NULL;
}

static void
on_timeout(uv_timer_t *t)
{
    bl_pool *p = t->data;
    p->timed_out = true;
    uv_stop(p->loop);
}

int
bl_pool_drain(bl_pool *p, uint64_t timeout_ms)
{
    p->timed_out = false;
    uv_timer_start(&p->timer, on_timeout, timeout_ms, 0);
    while (!p->failed && !p->timed_out && bl_pool_busy(p) > 0)
        uv_run(p->loop, UV_RUN_ONCE);
    uv_timer_stop(&p->timer);
    if (p->timed_out && bl_pool_busy(p) > 0)
        fail(p, "timed out after %llu ms with %zu requests unanswered",
             (unsigned long long)timeout_ms, bl_pool_busy(p));
    return p->failed ? -1 : 0;
}

static void
on_timer_closed(uv_handle_t *h)
{
    bl_pool *p = h->data;
    p->open_handles--;
}

void
bl_pool_free(bl_pool *p)
{
    if (p == NULL)
        return;
    p->q_head = p->q_tail = NULL; /* nothing more is sent */
    p->queued = 0;
    for (int i = 0; i < p->nconns; i++)
        conn_close(&p->conns[i]);
    uv_close((uv_handle_t *)&p->timer, on_timer_closed);
    while (p->open_handles > 0)
        uv_run(p->loop, UV_RUN_ONCE);
    for (int i = 0; i < p->nconns; i++)
        free(p->conns[i].body);
    free(p->conns);
    free(p);
}

struct call {
    int status;
    char *body;
    bool done;
};

static void
call_done(bl_req *r, int status, const char *body, size_t len)
{
    struct call *c = r->arg;
    c->status = status;
    c->body = malloc(len + 1);
    if (c->body != NULL) {
        memcpy(c->body, body, len);
        c->body[len] = '\0';
    }
    c->done = true;
}

int
bl_call(bl_pool *p, const char *data, size_t len, int *status, char **body)
{
    struct call c = {0, NULL, false};
    bl_req r = {.data = data, .len = len, .done = call_done, .arg = &c};

    bl_pool_submit(p, &r);
    if (bl_pool_drain(p, 30000) != 0 || !c.done || c.body == NULL) {
        free(c.body);
        return -1;
    }
    *status = c.status;
    *body = c.body;
    return 0;
}
