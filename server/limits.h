/*
 * Every bound daybookd enforces, in one place, each with its reason. A limit that
 * a request exceeds is answered with the error named beside it; nothing is
 * stored. Limits a deployment may want to change are also config settings
 * (server/config.c); these are the defaults.
 */
#ifndef DBK_SERVER_LIMITS_H
#define DBK_SERVER_LIMITS_H

/*
 * Request line plus all header lines. Our clients send well under 1 KiB; 16 KiB
 * matches common proxies and keeps a connection's fixed memory small.
 * -> 431 headers_too_large (414 uri_too_long when the target alone exceeds
 * DBK_HTTP_MAX_URL).
 */
#define DBK_HTTP_MAX_HEAD_BYTES (16 * 1024)

/* The request target. Our longest route with a query is under 200 bytes. */
#define DBK_HTTP_MAX_URL 2048

/* Header lines. Clients send about 6; a flood of tiny headers is an attack. */
#define DBK_HTTP_MAX_HEADERS 32

/*
 * Request body. 500 typical entries (a few KiB each) fit easily; 500 envelopes at
 * the 512 KiB maximum of proto/CRYPTO.md do not (about 11 would), so clients
 * split large pushes to stay under this (proto/README.md section 18). The limit
 * bounds the memory one connection can make the server hold.
 * -> 413 payload_too_large
 */
#define DBK_HTTP_MAX_BODY_BYTES (8 * 1024 * 1024)

/*
 * Bodies by route (server/routes.c), checked against the declared length before a
 * byte is read: a route that takes no token (enroll, login) sends keys and codes
 * of a few hundred bytes; one with a token sends at most 64 grants or 256 sync
 * cursors (under 128 KiB); a push may use the whole DBK_HTTP_MAX_BODY_BYTES.
 * -> 413 payload_too_large
 */
#define DBK_HTTP_PUBLIC_BODY_BYTES (64 * 1024)
#define DBK_HTTP_SMALL_BODY_BYTES (1024 * 1024)

/*
 * A request refused on its head (401, 413, 429...) with a body of at most this
 * declared size has the body read and dropped, so a client that sent it with the
 * head still gets the answer and keeps its connection; a larger body is never
 * read and the connection closes.
 */
#define DBK_HTTP_DISCARD_BODY_BYTES (64 * 1024)

/* Bytes read from the socket at a time; also the most pipelined data kept aside. */
#define DBK_HTTP_READ_BUF (16 * 1024)

/*
 * Pipelined requests of one connection answered in one loop turn, at most, when
 * they are answered at once (a /healthz, a nothing-new sync): then the loop polls
 * the other connections before it goes on with this one. 16 KiB kept aside hold
 * up to about 860 small requests, which were all answered in one turn while every
 * other connection waited. Each turn beyond the first costs one epoll_wait.
 */
#define DBK_HTTP_PIPELINE_PER_TURN 8

/*
 * Open connections. Each costs about 50 KiB at most here; a clinic has at most a
 * few hundred devices, and the kernel's file-descriptor limit is usually 1024.
 * Connections over the limit get 503 unavailable and are closed.
 */
#define DBK_HTTP_MAX_CONNECTIONS 512

/* An idle keep-alive connection is closed after this long. */
#define DBK_HTTP_IDLE_TIMEOUT_MS 60000

/*
 * A request must arrive whole within this time of its first byte, which defeats
 * slowloris-style clients that trickle headers to hold connections open.
 * -> 408 request_timeout
 */
#define DBK_HTTP_REQUEST_TIMEOUT_MS 15000

/* A response must be taken by the client within this time, or the connection is cut. */
#define DBK_HTTP_WRITE_TIMEOUT_MS 30000

/* On SIGTERM, requests in flight get this long to finish before connections are cut. */
#define DBK_DRAIN_TIMEOUT_MS 10000

/*
 * Headroom for a full disk: daybookd serve keeps a file of this size beside
 * daybook.db and deletes it the moment SQLite finds the disk full, so reads (each
 * appends an audit entry), logins and the WAL checkpoint still have room while new
 * records are refused. 8 MiB covers one WAL cycle (auto-checkpoint at 1000 pages,
 * about 4 MiB) and the growth of daybook.db that its checkpoint needs. The file is
 * made again once the disk has room for it and half as much again. -> 507 storage_full
 */
#define DBK_STORE_RESERVE_BYTES (8 * 1024 * 1024)

/*
 * The C library's allocator (glibc), set once when serve starts. Left to itself it
 * serves a block above 128 KiB with fresh pages from the kernel and gives memory at
 * the top of a heap back above 128 KiB, raising both bounds only after it has
 * freed such a block, so whether a pull's ~150 KB response text reused memory or
 * faulted in ~40 new pages depended on what the process had freed before: the
 * pull over HTTP ran at 0.6 of 28fc1ed's speed for no change in its own code (README,
 * Performance, SQLite before and after). With fixed bounds every response up to a
 * few MiB reuses heap memory. Each heap keeps at most DBK_MALLOC_TRIM_BYTES free at
 * its top; glibc's own adjustment could keep up to 64 MiB.
 */
#define DBK_MALLOC_MMAP_BYTES (8 * 1024 * 1024)
#define DBK_MALLOC_TRIM_BYTES (16 * 1024 * 1024)
/* How long daybookd serves no response before it gives free heap memory back to the
 * kernel, once per burst (main.c, on_trim_tick); and the least time between two such
 * trims, so that a trickle of requests a little more than DBK_IDLE_TRIM_MS apart (a
 * few devices syncing) does not trim after each one: what such a trickle leaves
 * free is small, and the next trim takes it. */
#define DBK_IDLE_TRIM_MS 250
#define DBK_TRIM_INTERVAL_MS 10000

#endif
