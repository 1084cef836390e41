/* The state one running daybookd shares between its routes. */
#ifndef DBK_SERVER_APP_H
#define DBK_SERVER_APP_H

#include "http.h"
#include "store.h"
#include "worker.h"

#include <stdint.h>

/* Settings from the config file and flags (main.c). */
typedef struct dbk_config {
    int64_t quota_bytes;    /* per account, envelopes stored */
    int64_t invite_ttl_ms;  /* default lifetime of a client invite */
    bool metrics_public;    /* answer /metrics to any address, not just loopback */
    int rate_per_s;         /* per-account request rate, sustained */
    int rate_burst;         /* ... and the burst above it */
    json_t *consent_template; /* the clinic's consent wording (dbk/consent.h), or NULL */
    json_t *help_lines;       /* the clinic's help lines (dbk/helplines.h), or NULL */
} dbk_config;

typedef struct dbk_app {
    dbk_config config;
    uint64_t requests[6];   /* by status class 1xx..5xx, for /metrics (loop thread) */
    uint64_t heap_trims;    /* free heap memory given back at rest (main.c), for /metrics */
    uint64_t syncs;         /* POST /v1/sync requests routed (api_records.c), for /metrics */
    uv_loop_t *loop;
    dbk_http_server *http;
    dbk_store *store;
    dbk_worker *worker;
    dbk_server_info info; /* server id, restore generation, secret for fake salts */
    uint64_t started_ms; /* uv_now at start, for uptime */
} dbk_app;

#endif
