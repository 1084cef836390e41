/*
 * The transport to daybookd, sync/'s own: one JSON request over libcurl (net.c). The
 * rooms above reach the server through sync/'s functions named for what they fetch
 * or send (sync.h, account.h, access_log.h, enroll.h, sharing.h), never through this
 * header or libcurl: tests/layering/check.sh fails on any file outside sync/ that
 * includes either or calls dbk_net_call.
 */
#ifndef DBK_CLIENT_TRANSPORT_H
#define DBK_CLIENT_TRANSPORT_H

#include "session.h"

#include <jansson.h>

/*
 * One API request to the server (JSON in, JSON out). Adds the bearer token when
 * with_token. Returns DBK_OK with the HTTP status in *status and the body in
 * *out (may be NULL), or DBK_E_UNAVAILABLE when the server cannot be reached.
 */
int dbk_net_call(dbk_session *s, const char *method, const char *path, json_t *body,
                 bool with_token, long *status, json_t **out);

#endif
