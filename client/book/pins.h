/*
 * Pins carried to this account's other devices (proto/TRUST.md T11). The keys of
 * another account this device verified itself (a counselor, against the enrollment
 * code's fingerprint or by safety number) are written as a "pin" record into the
 * account's own private stream, sealed and signed like every entry, and a new device
 * pins them from there instead of from the server's listing. Only a record of the
 * account's own private stream signed by its own identity key counts.
 */
#ifndef DBK_CLIENT_PINS_H
#define DBK_CLIENT_PINS_H

#include "session.h"

/* Writes the pin record of account's keys (how: "enrollment" or "safety_number"). */
int dbk_pins_record(dbk_session *s, const dbk_id *account, const unsigned char sign_pk[32],
                    const unsigned char box_pk[32], const char *how);

/* Pins every account named by this account's own pin records that this device has not
 * pinned; *records counts those records, *pinned the new pins, *conflicts the records
 * whose keys differ from a pin held here (the pin held is kept). */
int dbk_pins_restore(dbk_session *s, size_t *records, size_t *pinned, size_t *conflicts);

#endif
