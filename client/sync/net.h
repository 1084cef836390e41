/*
 * The server this profile talks to: its address (HTTPS, or plain HTTP to loopback
 * only), the account's bearer token, and the clinic's CA. The requests themselves go
 * through transport.h, sync/'s own.
 */
#ifndef DBK_CLIENT_NET_H
#define DBK_CLIENT_NET_H

#include "session.h"

#include <stdbool.h>

/*
 * libcurl is loaded (dlopen) when a command first needs the server, never before.
 * dbk_net_missing is NULL, unless this command needed the server and libcurl could
 * not be loaded: then a sentence saying so, that names the package to install.
 */
const char *dbk_net_missing(void);

/*
 * The end of the process's network: frees the easy handle (its connection closed, its
 * buffers wiped) and ends libcurl (curl_global_cleanup). main calls it once the command
 * has returned; no request is made after it. Harmless when libcurl was never loaded,
 * and when called twice.
 */
void dbk_net_close(void);

/* True when DAYBOOK_TEST_NET_STOP is "stop-unwiped" (test_fault_network's negative
 * controls): libcurl, and jansson (main.c), then free with the C library's plain free. */
bool dbk_net_test_unwiped(void);

/* Refuses plain http:// except to loopback (DAYBOOK_ALLOW_HTTP=1 overrides); without
 * libcurl, every URL (DBK_E_UNAVAILABLE). */
int dbk_net_check_url(const char *url);

/* Stores the bearer token sealed to this account's own key. */
int dbk_net_set_token(dbk_session *s, const char *token);

/*
 * Keeps the CA certificate(s) at path (PEM) in the profile, so every later request
 * trusts the clinic's private CA (`enroll --cacert`, `login --cacert`). The file is
 * copied, not referenced: it may move or vanish later. DBK_E_NOT_FOUND when path
 * cannot be read, DBK_E_INVALID when it holds no PEM certificate.
 */
int dbk_net_set_cacert(dbk_session *s, const char *path);

#endif
