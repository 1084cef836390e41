/*
 * Who read or wrote this account's streams, and who holds their keys, as the server
 * tells it (proto/README.md section 14): the access log, every page of it, and a
 * stream's grants. Fetched only: commands/cmd_access.c puts them in plain words, and
 * a revocation's readers are trust/'s to decide (dbk_trust_readers). Errors: a
 * DBK_E_* the server named in its answer, else DBK_E_UNAVAILABLE.
 */
#ifndef DBK_CLIENT_ACCESS_LOG_H
#define DBK_CLIENT_ACCESS_LOG_H

#include "session.h"

#include <jansson.h>

/* Appends every entry of this account's access log, oldest first, to log (an array):
 * {at, actor, device, action, stream, grantee, count, seq_from, seq_to}. */
int dbk_sync_access_log(dbk_session *s, json_t *log);
/* The grants of one of this account's streams (GET /v1/streams/{id}/grants), as the
 * server lists them: [{grantee, state, created_at, revoked_at}], a new reference. */
int dbk_sync_stream_grants(dbk_session *s, const dbk_id *stream, json_t **grants);

#endif
