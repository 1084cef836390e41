/*
 * The client's transport to daybookd: JSON requests over libcurl (HTTPS, or plain
 * HTTP to loopback only), with the account's bearer token.
 */
#ifndef DBK_CLIENT_NET_H
#define DBK_CLIENT_NET_H

#include "session.h"

#include <jansson.h>

/*
 * One API request to the server (JSON in, JSON out). Adds the bearer token when
 * with_token. Returns DBK_OK with the HTTP status in *status and the body in
 * *out (may be NULL), or DBK_E_UNAVAILABLE when the server cannot be reached.
 */
int dbk_net_call(dbk_session *s, const char *method, const char *path, json_t *body,
                 bool with_token, long *status, json_t **out);
/* Refuses plain http:// except to loopback (DAYBOOK_ALLOW_HTTP=1 overrides). */
int dbk_net_check_url(const char *url);

/* Stores the bearer token sealed to this account's own key. */
int dbk_net_set_token(dbk_session *s, const char *token);

#endif
