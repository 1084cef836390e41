/* The state one running daybookd shares between its routes. */
#ifndef DBK_SERVER_APP_H
#define DBK_SERVER_APP_H

#include "http.h"
#include "store.h"

#include <stdint.h>

typedef struct dbk_app {
    uv_loop_t *loop;
    dbk_http_server *http;
    dbk_store *store;
    dbk_id server_id;
    int64_t restore_generation;
    uint64_t started_ms; /* uv_now at start, for uptime */
} dbk_app;

#endif
