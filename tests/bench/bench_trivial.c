/*
 * bench_trivial: the ceiling of HTTP on this machine for the benchmarks of issue 8.
 * A libuv server on 127.0.0.1 that parses each request with llhttp, as daybookd
 * does, reads its body, and answers 200 with "{}" on the same keep-alive
 * connection. It does no storage, no JSON and no cryptography, so what the load
 * generator gets from it is what any server on this loop and parser could reach.
 *
 *   bench_trivial --port-file FILE [--max-seconds N]
 *
 * It listens on a port the kernel picks, writes it to FILE, and stops on SIGTERM
 * or SIGINT, or by itself after N seconds (default 900) so it never outlives a run.
 */
#include <llhttp.h>
#include <uv.h>

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_BUF (64 * 1024)

static const char reply[] = "HTTP/1.1 200 OK\r\n"
                            "Content-Type: application/json\r\n"
                            "Content-Length: 2\r\n"
                            "Connection: keep-alive\r\n"
                            "\r\n"
                            "{}";

typedef struct client {
    uv_tcp_t tcp;
    llhttp_t parser;
    bool keep_alive, closing;
    char rbuf[READ_BUF];
} client;

static llhttp_settings_t settings;
static uv_tcp_t server;
static uv_signal_t sigterm, sigint;
static uv_timer_t lifetime;

static void
on_client_closed(uv_handle_t *h)
{
    free(h->data);
}

static void
client_close(client *c)
{
    if (!c->closing) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, on_client_closed);
    }
}

static void
on_written(uv_write_t *w, int status)
{
    client *c = w->data;
    free(w);
    if (status < 0 || !c->keep_alive)
        client_close(c);
}

static int
on_message_complete(llhttp_t *h)
{
    client *c = h->data;
    uv_write_t *w = malloc(sizeof *w);
    uv_buf_t b = uv_buf_init((char *)reply, sizeof reply - 1);

    c->keep_alive = llhttp_should_keep_alive(h) != 0;
    if (w == NULL)
        return -1;
    w->data = c;
    if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
        free(w);
        return -1;
    }
    return 0;
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    client *c = h->data;
    (void)hint;
    *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    client *c = s->data;
    if (n < 0) {
        client_close(c);
        return;
    }
    if (n > 0 && llhttp_execute(&c->parser, buf->base, (size_t)n) != HPE_OK)
        client_close(c);
}

static void
on_connection(uv_stream_t *srv, int status)
{
    client *c;
    if (status < 0 || (c = calloc(1, sizeof *c)) == NULL)
        return;
    uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
        client_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    llhttp_init(&c->parser, HTTP_REQUEST, &settings);
    c->parser.data = c;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void
close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) {
        if (h->type == UV_TCP && h != (uv_handle_t *)&server)
            client_close(h->data);
        else
            uv_close(h, NULL);
    }
}

static void
stop(uv_loop_t *loop)
{
    uv_walk(loop, close_any, NULL);
}

static void
on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    stop(s->loop);
}

static void
on_lifetime(uv_timer_t *t)
{
    fprintf(stderr, "bench_trivial: lifetime over, stopping\n");
    stop(t->loop);
}

int
main(int argc, char **argv)
{
    const char *port_file = NULL;
    long max_s = 900;
    uv_loop_t *loop = uv_default_loop();
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof bound, rc;
    FILE *f;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port-file") == 0)
            port_file = argv[i + 1];
        else if (strcmp(argv[i], "--max-seconds") == 0)
            max_s = strtol(argv[i + 1], NULL, 10);
    }
    if (port_file == NULL || max_s < 1) {
        fprintf(stderr, "usage: bench_trivial --port-file FILE [--max-seconds N]\n");
        return 2;
    }
    llhttp_settings_init(&settings);
    settings.on_message_complete = on_message_complete;

    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(loop, &server);
    if ((rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0)) < 0 ||
        (rc = uv_listen((uv_stream_t *)&server, 511, on_connection)) < 0 ||
        (rc = uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len)) < 0) {
        fprintf(stderr, "bench_trivial: listen: %s\n", uv_strerror(rc));
        return 1;
    }
    if ((f = fopen(port_file, "w")) == NULL) {
        fprintf(stderr, "bench_trivial: cannot write %s\n", port_file);
        return 1;
    }
    fprintf(f, "%d\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
    fclose(f);

    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_timer_init(loop, &lifetime);
    uv_timer_start(&lifetime, on_lifetime, (uint64_t)max_s * 1000, 0);
    uv_unref((uv_handle_t *)&lifetime);

    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return 0;
}
