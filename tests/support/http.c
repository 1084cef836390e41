/* HTTP for integration tests: libcurl for well-formed requests, raw TCP for the rest. */
#define _GNU_SOURCE /* strcasestr */
#include "dbk_test.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

struct buf {
    char *p;
    size_t len;
};

static size_t
on_data(char *ptr, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    size_t add = size * n;
    char *np = realloc(b->p, b->len + add + 1);
    if (np == NULL)
        return 0;
    memcpy(np + b->len, ptr, add);
    b->p = np;
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

int
dbk_http(const char *method, const char *url, const char *const *headers, const char *body,
         size_t body_len, dbk_http_resp *r)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    struct buf b = {NULL, 0}, h = {NULL, 0};
    CURLcode rc;

    memset(r, 0, sizeof *r);
    if (c == NULL)
        return -1;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    if (body != NULL) {
        hl = curl_slist_append(hl, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    r->body = b.p ? b.p : strdup("");
    r->body_len = b.len;
    r->headers = h.p ? h.p : strdup("");
    return rc == CURLE_OK ? 0 : -1;
}

void
dbk_http_resp_free(dbk_http_resp *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof *r);
}

json_t *
dbk_http_json(const dbk_http_resp *r)
{
    json_error_t e;
    json_t *j = json_loadb(r->body, r->body_len, 0, &e);
    if (j == NULL)
        fail_msg("response is not JSON: %s: %.200s", e.text, r->body);
    return j;
}

int
dbk_raw_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

char *
dbk_raw_read_all(int fd, int timeout_ms)
{
    char *out = malloc(1);
    size_t len = 0;
    struct timespec t0, t;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long elapsed = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (elapsed >= timeout_ms)
            break;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)(timeout_ms - elapsed)) <= 0)
            break;
        char tmp[4096];
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r <= 0)
            break;
        out = realloc(out, len + (size_t)r + 1);
        memcpy(out + len, tmp, (size_t)r);
        len += (size_t)r;
    }
    out[len] = '\0';
    return out;
}

char *
dbk_raw(int port, const char *req, size_t len, bool shut_wr, int timeout_ms)
{
    int fd = dbk_raw_connect(port);
    char *out;
    size_t off = 0;

    if (fd < 0)
        return NULL;
    while (off < len) {
        ssize_t w = write(fd, req + off, len - off);
        if (w <= 0)
            break; /* the server may close early, e.g. on a limit */
        off += (size_t)w;
    }
    if (shut_wr)
        shutdown(fd, SHUT_WR);
    out = dbk_raw_read_all(fd, timeout_ms);
    close(fd);
    return out;
}

char *
dbk_raw_message(int fd, const char *pre, size_t n, size_t *len, size_t *body)
{
    size_t cap = n + 65536, want = 0;
    char *m = malloc(cap + 1), *e;
    ssize_t r;
    if (m == NULL) /* a relay's thread: no cmocka assertion there */
        abort();
    memcpy(m, pre, n);
    m[n] = '\0';
    *body = 0;
    for (;;) {
        if (*body == 0 && (e = strstr(m, "\r\n\r\n")) != NULL) {
            const char *cl = strcasestr(m, "content-length:");
            *body = (size_t)(e + 4 - m);
            want = cl != NULL && cl < e ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
        }
        if (*body != 0 && n - *body >= want)
            break;
        if (n == cap && (m = realloc(m, (cap *= 2) + 1)) == NULL)
            abort();
        if ((r = read(fd, m + n, cap - n)) <= 0)
            break;
        n += (size_t)r;
        m[n] = '\0';
    }
    *len = n;
    return m;
}
