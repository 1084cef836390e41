/*
 * The one error table. Every fallible function in Daybook returns 0 (DBK_OK) or
 * one of the negative codes below. The same list generates the enum, the
 * machine-readable code sent on the wire, the HTTP status and the human message,
 * so the server, the CLI and proto/README.md cannot drift apart.
 *
 * Numbers are stable: never reuse or renumber one; append new errors.
 */
#ifndef DBK_ERROR_H
#define DBK_ERROR_H

/* X(NAME, number, wire code, HTTP status, message) */
#define DBK_ERRORS(X)                                                                              \
    X(OK, 0, "ok", 200, "Success.")                                                                \
    X(E_INTERNAL, -1, "internal", 500, "Internal error; the operation was not performed.")         \
    X(E_NOMEM, -2, "out_of_memory", 503, "Out of memory; try again later.")                        \
    X(E_INVALID, -3, "invalid_request", 400, "The request is malformed.")                          \
    X(E_BAD_JSON, -4, "bad_json", 400, "The body is not valid JSON.")                              \
    X(E_BAD_BASE64, -5, "bad_base64", 400, "A field is not valid unpadded base64url.")             \
    X(E_BAD_FIELD, -6, "bad_field", 400, "A field is missing or has the wrong type or value.")      \
    X(E_UNKNOWN_FIELD, -7, "unknown_field", 400, "The body has a field this version does not know.") \
    X(E_TOO_DEEP, -8, "too_deep", 400, "The JSON body is nested too deeply.")                      \
    X(E_TOO_LARGE, -9, "payload_too_large", 413, "The body is larger than the server accepts.")    \
    X(E_HEADERS_TOO_LARGE, -10, "headers_too_large", 431, "The request headers are too large.")    \
    X(E_URI_TOO_LONG, -11, "uri_too_long", 414, "The request target is too long.")                 \
    X(E_BAD_HTTP, -12, "bad_http", 400, "The request is not valid HTTP/1.1.")                      \
    X(E_TIMEOUT, -13, "request_timeout", 408, "The request took too long to arrive.")              \
    X(E_NOT_FOUND, -14, "not_found", 404, "No such resource.")                                     \
    X(E_METHOD, -15, "method_not_allowed", 405, "The method is not allowed on this resource.")     \
    X(E_MEDIA_TYPE, -16, "unsupported_media_type", 415, "The body must be application/json.")      \
    X(E_UNAUTHENTICATED, -17, "unauthenticated", 401, "Missing, expired or revoked credentials.")  \
    X(E_FORBIDDEN, -18, "forbidden", 403, "This account may not do that.")                         \
    X(E_STALE, -19, "stale_revision", 409, "The expected revision is stale; pull and retry.")      \
    X(E_CONFLICT, -20, "conflict", 409, "The resource already exists.")                            \
    X(E_GONE, -21, "gone", 410, "The code or challenge was already used or has expired.")          \
    X(E_RATE_LIMITED, -22, "rate_limited", 429, "Too many requests; slow down and retry.")         \
    X(E_QUOTA, -23, "quota_exceeded", 507, "The account's storage quota is used up.")              \
    X(E_STORAGE_FULL, -24, "storage_full", 507, "The server's disk is full; nothing was stored.")  \
    X(E_UNAVAILABLE, -25, "unavailable", 503, "The server is unavailable or shutting down.")       \
    X(E_TOO_MANY_RECORDS, -26, "too_many_records", 413, "Too many records in one request.")        \
    X(E_VERSION, -27, "unsupported_version", 400, "The protocol or format version is unsupported.") \
    X(E_BAD_ENVELOPE, -28, "bad_envelope", 400, "The envelope is truncated or malformed.")         \
    X(E_BAD_SIGNATURE, -29, "bad_signature", 400, "A signature does not verify.")                  \
    X(E_DECRYPT, -30, "decrypt_failed", 400, "Decryption failed: wrong key or tampered data.")     \
    X(E_BAD_PADDING, -31, "bad_padding", 400, "The decrypted plaintext is not padded correctly.")  \
    X(E_KDF_WEAK, -32, "kdf_too_weak", 400, "The key-derivation parameters are below the floor.")  \
    X(E_FINGERPRINT, -33, "fingerprint_mismatch", 400, "The key does not match its fingerprint.")  \
    X(E_PASSPHRASE, -34, "wrong_passphrase", 401, "Wrong passphrase.")                             \
    X(E_IO, -35, "io_error", 500, "A file could not be read or written.")                          \
    X(E_CORRUPT, -36, "corrupt", 500, "Stored data is corrupt.")                                   \
    X(E_BAD_GRANT, -37, "bad_grant", 400, "The key grant is malformed or does not verify.")        \
    X(E_EXPIRED, -38, "expired", 403, "The grant or token has expired.")                          \
    X(E_CLOCK_AHEAD, -39, "clock_ahead", 400,                                                      \
      "A revision's clock is more than a day ahead of the server's; check the device's clock.") \
    X(E_STORE_UNAVAILABLE, -40, "store_unavailable", 503,                                          \
      "The server's database cannot be reached; nothing was done. Retry shortly.")                 \
    X(E_PREREQUISITE, -41, "prerequisite_failed", 424,                                             \
      "The push this one names in after was not stored; nothing of this one was.")

enum dbk_err {
#define DBK_X_ENUM(name, num, code, status, msg) DBK_##name = (num),
    DBK_ERRORS(DBK_X_ENUM)
#undef DBK_X_ENUM
};

/* The wire code ("bad_json") of err; "internal" for a number not in the table. */
const char *dbk_err_code(int err);
/* The HTTP status that carries err; 500 for a number not in the table. */
int dbk_err_http_status(int err);
/* A sentence for people; never contains request data. */
const char *dbk_err_message(int err);
/* The error whose wire code is code, or DBK_E_INTERNAL if none is. */
int dbk_err_from_code(const char *code);

#endif
