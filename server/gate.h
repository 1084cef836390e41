/*
 * The head gate: daybookd's head hook (http.h). It decides from a request's head
 * alone whether its body is read, so that nobody can make the server hold a body
 * it would refuse anyway:
 *
 *   - the route's body kind (router.h) and limit (limits.h); an unknown route
 *     gets the public limit and its 404/405 from the router afterwards;
 *   - for a route that takes a token, the bearer token is checked first (on the
 *     storage worker, or from the loop's cache of tokens seen in the last minute or
 *     that may answer "nothing new" from memory, api.c, for bodies up to
 *     DBK_HTTP_SMALL_BODY_BYTES);
 *   - for a stored body (a push), the declared length must also fit what remains
 *     of the account's quota, as base64 in JSON (see gate.c).
 *
 * The handler still authenticates and checks everything itself: the gate only
 * refuses early, it never grants anything.
 */
#ifndef DBK_SERVER_GATE_H
#define DBK_SERVER_GATE_H

#include "http.h"

void dbk_gate_head(dbk_http_request *req, uint64_t declared);

#endif
