/*
 * Enrollment's one request (proto/README.md section 4.3): POST /v1/enroll with the
 * code, this account's public keys, its sealed key bundle and login key, and the
 * streams made at init with their self-grants, all read from the profile. Sent and
 * answered only: the counselor's keys in the answer are checked against the code's
 * fingerprint by the caller with trust/, and the profile is written by the caller,
 * in its own transaction.
 */
#ifndef DBK_CLIENT_ENROLL_H
#define DBK_CLIENT_ENROLL_H

#include "session.h"

#include <jansson.h>

/*
 * Enrolls this account with code; counselor: a counselor's setup code (only the
 * private stream is sent), else a client's enrollment code (the shared stream too).
 * *server_id the server's id and *resp the whole answer (token, restore_generation,
 * and for a client its counselor), a new reference, NULL on an error. DBK_E_GONE when
 * the code was used or expired, another DBK_E_* the server named, DBK_E_UNAVAILABLE;
 * DBK_E_BAD_JSON when the answer lacks a valid server_id or a token; DBK_E_CORRUPT
 * when a stream's own key does not open (the profile is not whole).
 */
int dbk_sync_enroll(dbk_session *s, const char *code, bool counselor, dbk_id *server_id,
                    json_t **resp);

#endif
