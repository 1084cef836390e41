/*
 * The network-fault proxy of dbk_test.h: 127.0.0.1:<port 0> -> 127.0.0.1:<target>,
 * one thread, one poll loop, non-blocking sockets.
 *
 * A connection is a pair of sockets and two flows: UP reads the client and writes
 * the server, DOWN the reverse. A flow holds what it read until the other side took
 * it, and reads nothing more meanwhile (TCP's own back-pressure). The armed fault is
 * decided when a read takes a flow past `after` bytes: that flow then writes no more
 * than `after`, and once those are out the fault acts:
 *
 *   cut         SO_LINGER 0 and close both sockets: an RST each way, as when a mobile
 *               link drops or a middlebox forgets the connection. Bytes past the cut
 *               point are never delivered.
 *   stall       neither flow moves for hold_ms. A side that closes meanwhile is not
 *               told to the other (the path is dead), so each side's own timeouts are
 *               what ends it; that is what the tests measure. When both sides have
 *               closed the connection ends early; at the end of the hold it resumes
 *               (held bytes are delivered late, not lost), or is reset if a side left.
 *   half-close  shutdown(SHUT_WR) toward the flow's destination, which reads EOF; the
 *               flow reads no more, the other flow carries on.
 *
 * Every socket is close-on-exec: a CLI the test spawns must not keep the proxy's ends
 * open. The loop wakes at least every PROXY_TICK_MS, so dbk_proxy_stop is prompt, and
 * the thread ends by itself after PROXY_LIFETIME_MS whatever the test does.
 */
#define _GNU_SOURCE /* accept4, POLLRDHUP */
#include "dbk_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROXY_PAIRS 16                     /* connections at once; curl uses one at a time */
#define PROXY_BUF (64 * 1024)              /* bytes in flight per flow */
#define PROXY_TICK_MS 20                   /* the longest the loop sleeps */
#define PROXY_HOLD_MAX_MS 60000            /* the longest stall a test may ask for */
#define PROXY_LIFETIME_MS (20 * 60 * 1000) /* past any ctest timeout: the thread ends */

enum { CLIENT = 0, SERVER = 1 }; /* flow d reads side d and writes side !d */

struct flow {
    char buf[PROXY_BUF];
    size_t off, len; /* buf[off..len) waits to be written */
    size_t in, out;  /* bytes read from the source, written to the destination */
    size_t cap;      /* writing stops at this many bytes (SIZE_MAX unless faulted) */
    bool eof;        /* nothing more is read from the source */
    bool shut;       /* the destination was sent a FIN */
};

struct pair {
    bool used;
    int num; /* connection number, from 1 */
    int fd[2];
    bool gone[2]; /* that side closed its end by itself */
    struct flow f[2];
    dbk_proxy_fault fault;
    bool faulted, acted;
    long long fired_at, stall_until;
};

struct dbk_proxy {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t idle;
    int lfd, port, target;
    long long started;
    /* Under mu (the thread holds it while it handles what poll returned). */
    bool stop;
    dbk_proxy_fault armed;
    int first_num; /* the connection whose sizes go to first_up/first_down */
    int fault_num; /* the connection the last fault fired on */
    dbk_proxy_stats st;
    struct pair pairs[PROXY_PAIRS];
    /* What each side sent since dbk_proxy_capture, when it is on (the first bytes of
     * it): [CLIENT] requests, [SERVER] answers. */
    char *cap_buf[2];
    size_t cap_len[2], cap_max;
};

static void
die(const char *what)
{
    fprintf(stderr, "test proxy: %s: %s\n", what, strerror(errno));
    abort();
}

/* Closes fd with an RST instead of a FIN. */
static void
reset_close(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

static void
pair_end(dbk_proxy *p, struct pair *q, bool reset)
{
    for (int s = 0; s < 2; s++) {
        if (reset)
            reset_close(q->fd[s]);
        else
            close(q->fd[s]);
    }
    q->used = false;
    if (--p->st.open == 0)
        pthread_cond_broadcast(&p->idle);
}

/* Side s of q closed its end; after the last fault, how long that took. */
static void
note_gone(dbk_proxy *p, struct pair *q, int s)
{
    if (q->gone[s])
        return;
    q->gone[s] = true;
    if (q->faulted && q->num == p->fault_num) {
        long ms = (long)(dbk_now_ms() - q->fired_at);
        if (s == CLIENT)
            p->st.client_closed_ms = ms;
        else
            p->st.server_closed_ms = ms;
    }
}

static void
accept_one(dbk_proxy *p)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->target)};
    struct pair *q = NULL;
    int c, s;

    if ((c = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) < 0)
        return;
    for (size_t i = 0; i < PROXY_PAIRS && q == NULL; i++)
        if (!p->pairs[i].used)
            q = &p->pairs[i];
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /* A blocking connect: on loopback it is answered at once, refused if the server is down. */
    if (q == NULL || s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        if (s >= 0)
            close(s);
        reset_close(c); /* the client sees what it would see without the proxy */
        return;
    }
    fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
    memset(q, 0, sizeof *q);
    q->used = true;
    q->fd[CLIENT] = c;
    q->fd[SERVER] = s;
    q->f[0].cap = q->f[1].cap = SIZE_MAX;
    q->num = ++p->st.connections;
    if (p->first_num == 0)
        p->first_num = q->num;
    p->st.open++;
}

/* Reads what side d sent into flow d, where the armed fault may fire. False if q ended. */
static bool
flow_read(dbk_proxy *p, struct pair *q, int d)
{
    struct flow *f = &q->f[d];
    ssize_t n = recv(q->fd[d], f->buf, sizeof f->buf, 0);

    if (n == 0) {
        f->eof = true;
        note_gone(p, q, d);
        return true;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return true;
        note_gone(p, q, d);
        pair_end(p, q, true); /* a reset travels on: the other side gets one too */
        return false;
    }
    f->off = 0;
    f->len = (size_t)n;
    f->in += (size_t)n;
    if (p->cap_buf[d] != NULL) {
        size_t room = p->cap_max - p->cap_len[d], add = room < (size_t)n ? room : (size_t)n;
        memcpy(p->cap_buf[d] + p->cap_len[d], f->buf, add);
        p->cap_len[d] += add;
    }
    if (p->armed.kind != DBK_PROXY_PASS && (int)p->armed.dir == d && f->in > p->armed.after) {
        q->fault = p->armed;
        q->faulted = true;
        q->fired_at = dbk_now_ms();
        p->armed.kind = DBK_PROXY_PASS; /* one shot */
        p->fault_num = q->num;
        p->st.fired++;
        p->st.client_closed_ms = p->st.server_closed_ms = -1;
        f->cap = q->fault.after;
        if (q->fault.kind != DBK_PROXY_STALL) /* what follows a cut is never delivered */
            f->len = f->cap - (f->in - (size_t)n);
    }
    if (q->num == p->first_num) {
        p->st.first_up = q->f[CLIENT].in;
        p->st.first_down = q->f[SERVER].in;
    }
    return true;
}

/* Writes what flow d holds (up to its cap) to side !d. False if q ended. */
static bool
flow_write(dbk_proxy *p, struct pair *q, int d)
{
    struct flow *f = &q->f[d];
    size_t n = f->len - f->off;
    ssize_t w;

    if (f->out + n > f->cap)
        n = f->cap - f->out;
    if (n == 0)
        return true;
    w = send(q->fd[!d], f->buf + f->off, n, MSG_NOSIGNAL);
    if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return true;
        note_gone(p, q, !d);
        pair_end(p, q, true);
        return false;
    }
    f->off += (size_t)w;
    f->out += (size_t)w;
    if (f->off == f->len)
        f->off = f->len = 0;
    return true;
}

/* The fired fault acts once its flow wrote everything before the cut point. */
static bool
fault_act(dbk_proxy *p, struct pair *q)
{
    int d = (int)q->fault.dir;
    struct flow *f = &q->f[d];

    if (!q->faulted || q->acted || f->out < f->cap)
        return true;
    q->acted = true;
    switch (q->fault.kind) {
    case DBK_PROXY_CUT:
        pair_end(p, q, true);
        return false;
    case DBK_PROXY_HALF_CLOSE:
        shutdown(q->fd[!d], SHUT_WR);
        f->eof = f->shut = true;
        f->off = f->len = 0;
        return true;
    case DBK_PROXY_STALL: {
        int hold = q->fault.hold_ms < PROXY_HOLD_MAX_MS ? q->fault.hold_ms : PROXY_HOLD_MAX_MS;
        q->stall_until = dbk_now_ms() + (hold > 0 ? hold : 0);
        return true;
    }
    case DBK_PROXY_PASS:
        break;
    }
    return true;
}

static bool
stalled(const struct pair *q)
{
    return q->stall_until != 0;
}

/* What poll should watch on side s of q. */
static short
events_of(const struct pair *q, int s)
{
    const struct flow *in = &q->f[s], *out = &q->f[!s];
    short ev = 0;

    if (stalled(q))
        return q->gone[s] ? 0 : POLLRDHUP; /* only whether it leaves */
    if (!in->eof && in->len == 0 && !(q->faulted && !q->acted && (int)q->fault.dir == s))
        ev |= POLLIN;
    if (out->len > out->off && out->out < out->cap)
        ev |= POLLOUT;
    return ev;
}

/* One turn of q after poll; rev[s] is what poll reported for side s. */
static void
pair_step(dbk_proxy *p, struct pair *q, const short rev[2])
{
    if (stalled(q)) {
        for (int s = 0; s < 2; s++)
            if (rev[s] & (POLLRDHUP | POLLHUP | POLLERR))
                note_gone(p, q, s);
        if (q->gone[CLIENT] && q->gone[SERVER]) {
            pair_end(p, q, false);
            return;
        }
        if (dbk_now_ms() < q->stall_until)
            return;
        if (q->gone[CLIENT] || q->gone[SERVER]) {
            pair_end(p, q, true); /* the path is back, the connection is not */
            return;
        }
        q->stall_until = 0;
        q->f[q->fault.dir].cap = SIZE_MAX;
    }
    for (int d = 0; d < 2; d++)
        if ((rev[d] & (POLLIN | POLLHUP | POLLERR)) && (events_of(q, d) & POLLIN) &&
            !flow_read(p, q, d))
            return;
    for (int d = 0; d < 2; d++) {
        struct flow *f = &q->f[d];
        if (!flow_write(p, q, d))
            return;
        if (f->eof && !f->shut && f->len == 0) {
            shutdown(q->fd[!d], SHUT_WR); /* pass the FIN on */
            f->shut = true;
        }
    }
    if (!fault_act(p, q))
        return;
    if (q->f[0].shut && q->f[1].shut)
        pair_end(p, q, false);
}

static void *
proxy_main(void *arg)
{
    dbk_proxy *p = arg;
    struct pollfd fds[1 + 2 * PROXY_PAIRS];
    int at[PROXY_PAIRS][2]; /* index in fds of each side, or -1 */

    pthread_mutex_lock(&p->mu);
    for (;;) {
        nfds_t n = 0;

        if (p->stop || dbk_now_ms() - p->started > PROXY_LIFETIME_MS) {
            for (size_t i = 0; i < PROXY_PAIRS; i++)
                if (p->pairs[i].used)
                    pair_end(p, &p->pairs[i], true);
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        fds[n++] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
        for (size_t i = 0; i < PROXY_PAIRS; i++)
            for (int s = 0; s < 2; s++) {
                struct pair *q = &p->pairs[i];
                short ev = q->used ? events_of(q, s) : 0;
                /* Nothing to watch: leave it out, or a closed side's POLLHUP would spin. */
                at[i][s] = ev != 0 ? (int)n : -1;
                if (ev != 0)
                    fds[n++] = (struct pollfd){.fd = q->fd[s], .events = ev};
            }
        pthread_mutex_unlock(&p->mu);
        if (poll(fds, n, PROXY_TICK_MS) < 0 && errno != EINTR)
            die("poll");
        pthread_mutex_lock(&p->mu);
        if (fds[0].revents & POLLIN)
            accept_one(p);
        for (size_t i = 0; i < PROXY_PAIRS; i++) {
            struct pair *q = &p->pairs[i];
            short rev[2];
            if (!q->used)
                continue; /* every open pair takes its turn: stalls end, faults act */
            for (int s = 0; s < 2; s++)
                rev[s] = at[i][s] >= 0 ? fds[at[i][s]].revents : 0;
            pair_step(p, q, rev);
        }
    }
}

dbk_proxy *
dbk_proxy_start(int target_port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t alen = sizeof a;
    pthread_condattr_t ca;
    dbk_proxy *p = calloc(1, sizeof *p);

    if (p == NULL)
        die("calloc");
    p->target = target_port;
    p->started = dbk_now_ms();
    p->st.client_closed_ms = p->st.server_closed_ms = -1;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(p->lfd, 64) != 0 || getsockname(p->lfd, (struct sockaddr *)&a, &alen) != 0)
        die("listen on 127.0.0.1");
    p->port = ntohs(a.sin_port);
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->idle, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&p->thread, NULL, proxy_main, p) != 0)
        die("pthread_create");
    return p;
}

int
dbk_proxy_port(const dbk_proxy *p)
{
    return p->port;
}

void
dbk_proxy_arm(dbk_proxy *p, const dbk_proxy_fault *f)
{
    pthread_mutex_lock(&p->mu);
    if (f != NULL)
        p->armed = *f;
    else
        memset(&p->armed, 0, sizeof p->armed);
    p->first_num = 0; /* the next connection accepted */
    p->st.first_up = p->st.first_down = 0;
    pthread_mutex_unlock(&p->mu);
}

void
dbk_proxy_capture(dbk_proxy *p, size_t max)
{
    pthread_mutex_lock(&p->mu);
    for (int d = 0; d < 2; d++) {
        free(p->cap_buf[d]);
        p->cap_buf[d] = max > 0 ? calloc(1, max + 1) : NULL;
        p->cap_len[d] = 0;
        if (max > 0 && p->cap_buf[d] == NULL)
            die("calloc");
    }
    p->cap_max = max;
    pthread_mutex_unlock(&p->mu);
}

char *
dbk_proxy_captured(dbk_proxy *p, dbk_proxy_dir dir, size_t *len)
{
    int d = dir == DBK_PROXY_UP ? CLIENT : SERVER;
    pthread_mutex_lock(&p->mu);
    char *out = malloc(p->cap_len[d] + 1);
    if (out != NULL) {
        memcpy(out, p->cap_buf[d] != NULL ? p->cap_buf[d] : "", p->cap_len[d]);
        out[p->cap_len[d]] = '\0';
        *len = p->cap_len[d];
    }
    pthread_mutex_unlock(&p->mu);
    return out;
}

void
dbk_proxy_stats_get(dbk_proxy *p, dbk_proxy_stats *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->st;
    pthread_mutex_unlock(&p->mu);
}

bool
dbk_proxy_wait_idle(dbk_proxy *p, int timeout_ms)
{
    struct timespec dl;
    bool idle;

    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&p->mu);
    while (p->st.open > 0)
        if (pthread_cond_timedwait(&p->idle, &p->mu, &dl) != 0)
            break;
    idle = p->st.open == 0;
    pthread_mutex_unlock(&p->mu);
    return idle;
}

void
dbk_proxy_stop(dbk_proxy *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL); /* within a tick: the loop checks stop each turn */
    close(p->lfd);
    pthread_cond_destroy(&p->idle);
    pthread_mutex_destroy(&p->mu);
    free(p->cap_buf[0]);
    free(p->cap_buf[1]);
    free(p);
}
