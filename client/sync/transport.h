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

/* The error a refusal names ({"error": {"code": ...}}), or DBK_E_UNAVAILABLE. */
int dbk_net_answer_err(const json_t *resp);

/* dbk_net_call with the token, where only a 2xx answer is an answer: any other
 * status returns its error (dbk_net_answer_err) with *out NULL. */
int dbk_net_call_ok(dbk_session *s, const char *method, const char *path, json_t *body,
                    json_t **out);

#endif
