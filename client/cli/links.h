/*
 * The daybook:// links people paste into the CLI:
 *
 *   daybook://setup?server=URL&code=CODE                      a counselor's first device
 *   daybook://enroll?server=URL&code=CODE&fp=FP&counselor=ID[&name=NAME][&by=BY][&help=H]
 *                                                             a client joining a counselor;
 *                                                             NAME the client's own, for the
 *                                                             consent (never sent as such);
 *                                                             BY the counselor's name;
 *                                                             H the short hash of the
 *                                                             clinic's help lines
 *   daybook://login?server=URL&account=ID                     another device of an account
 *   daybook://team?server=URL&counselor=ID&fp=FP[&by=BY][&role=ROLE]
 *                                                             a client already enrolled
 *                                                             sharing with one more
 *                                                             counselor (a care team)
 *
 * Values are percent-encoded; a repeated, malformed or overlong field makes the
 * whole link invalid rather than silently cut, the server must pass
 * dbk_net_check_url and an account or counselor must be an id (dbk_id_from_text).
 * Unknown fields are ignored so links can grow.
 */
#ifndef DBK_CLIENT_LINKS_H
#define DBK_CLIENT_LINKS_H

#include "dbk/pct.h"

#include <stddef.h>

typedef enum { DBK_LINK_SETUP, DBK_LINK_ENROLL, DBK_LINK_LOGIN, DBK_LINK_TEAM } dbk_link_kind;

typedef struct dbk_link {
    dbk_link_kind kind;
    char server[DBK_URL_MAX];
    char code[32];       /* setup, enroll: 22 base64url characters */
    char fp[32];         /* enroll, team: the counselor's fingerprint */
    char counselor[32];  /* enroll, team: the counselor's account id */
    char account[32];    /* login: the account id */
    char name[201];      /* enroll, optional: the name the counselor knows the client by */
    char by[201];        /* enroll, team, optional: the counselor's own display name, handed
                          * over with the fingerprint, so the server cannot rename them */
    char role[201];      /* team, optional: the counselor's role in the client's care
                          * ("prescriber", "group facilitator"), shown in the consent */
    char help[32];       /* enroll, optional: the short hash of the clinic's help lines
                          * (dbk/helplines.h), 22 characters, so the server cannot change
                          * them */
} dbk_link;

/* Parses text as a link of any kind. DBK_OK, or DBK_E_INVALID (DBK_E_UNAVAILABLE when
 * libcurl, whose parser checks the server's URL, cannot be loaded). */
int dbk_link_parse(const char *text, dbk_link *out);
/*
 * The same for a link that must name server, this profile's own (checked when it was
 * set): a link on another server is DBK_E_INVALID. The URL is not parsed again, so
 * reading such a link from a record (the referrals 'daybook today' lists) works
 * offline and loads no libcurl.
 */
int dbk_link_parse_on(const char *text, const char *server, dbk_link *out);

/* Writes the login link of account (22 characters) at server into out. DBK_OK, or
 * DBK_E_INVALID if it does not fit in cap. */
int dbk_link_login_format(char *out, size_t cap, const char *server, const char *account);

#endif
