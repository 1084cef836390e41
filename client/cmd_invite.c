/*
 * daybook invite (counselors): a one-time enrollment code for a new client,
 * carrying the server, the secret and this counselor's key fingerprint
 * (proto/README.md section 4.2). The client's device checks the fingerprint, so
 * a server that substitutes keys is caught.
 */
#include "cmd.h"
#include "session.h"

#include "dbk/error.h"
#include "dbk/fingerprint.h"

#include <stdio.h>
#include <string.h>

/* Percent-encodes everything but RFC 3986's unreserved characters. */
static void
pct(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 4 < cap; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    json_t *body, *resp = NULL;
    char fp[DBK_FP_SHORT_LEN + 1], cid[DBK_ID_TEXT_LEN + 1], server[1600];
    long status;
    int rc;

    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: daybook invite\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if (s.role != DBK_ROLE_COUNSELOR) {
        dbk_session_close(&s);
        fprintf(stderr, "daybook: only a counselor's profile can invite clients\n");
        return DBK_EXIT_FAIL;
    }
    body = json_object();
    rc = dbk_net_call(&s, "POST", "/v1/invites", body, true, &status, &resp);
    json_decref(body);
    if (rc == DBK_OK && status != 201)
        rc = DBK_E_UNAVAILABLE;
    if (rc != DBK_OK) {
        json_decref(resp);
        dbk_session_close(&s);
        return dbk_cmd_fail("cannot create an invite", rc);
    }
    /* The fingerprint comes from this device's own keys, never from the server. */
    dbk_fingerprint_short(fp, &s.account, s.keys->sign_pk, s.keys->box_pk);
    dbk_id_to_text(&s.account, cid);
    pct(s.server, server, sizeof server);
    const char *code = json_string_value(json_object_get(resp, "code"));
    if (ctx->json)
        printf("{\"uri\":\"daybook://enroll?server=%s&code=%s&fp=%s&counselor=%s\",\"expires_at\":"
               "%lld}\n",
               server, code, fp, cid,
               (long long)json_integer_value(json_object_get(resp, "expires_at")));
    else
        printf("Give this code to your client (valid once, for 7 days):\n\n"
               "  daybook://enroll?server=%s&code=%s&fp=%s&counselor=%s\n\n"
               "They run: daybook enroll '<the code>'\n",
               server, code, fp, cid);
    json_decref(resp);
    dbk_session_close(&s);
    return DBK_EXIT_OK;
}

const dbk_cmd dbk_cmd_invite = {
    .name = "invite",
    .usage = "daybook invite",
    .summary = "(counselors) create a one-time enrollment code for a new client",
    .run = run,
};
