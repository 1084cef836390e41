/*
 * The daybook:// links people paste (client/links.c) and the percent-encoding that
 * builds them (common/pct.c): what a counselor's invite, an admin's setup code and
 * `daybook status` print must parse back to the same values, and a link that is
 * repeated, cut, overlong or smuggles a NUL is refused, never half-read.
 */
#include "links.h"
#include "net.h"

#include "dbk/error.h"
#include "dbk/init.h"
#include "dbk/pct.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>

#define ID22 "AAAAAAAAAAAAAAAAAAAAAA"

static void
test_each_kind_parses(void **state)
{
    dbk_link u;
    (void)state;
    assert_int_equal(dbk_link_parse("daybook://setup?server=https%3A%2F%2Fclinic.example.org"
                                    "&code=" ID22, &u), DBK_OK);
    assert_int_equal(u.kind, DBK_LINK_SETUP);
    assert_string_equal(u.server, "https://clinic.example.org");
    assert_string_equal(u.code, ID22);
    /* Unencoded ':' and '/' (as older invites printed them) and unknown fields pass. */
    assert_int_equal(dbk_link_parse("daybook://enroll?server=https://clinic.example.org&code=" ID22
                                    "&fp=" ID22 "&counselor=" ID22 "&later=1", &u), DBK_OK);
    assert_int_equal(u.kind, DBK_LINK_ENROLL);
    assert_string_equal(u.counselor, ID22);
    assert_int_equal(dbk_link_parse("daybook://login?account=" ID22
                                    "&server=https%3a%2f%2fclinic.example.org", &u), DBK_OK);
    assert_int_equal(u.kind, DBK_LINK_LOGIN);
    assert_string_equal(u.account, ID22);
    assert_string_equal(u.server, "https://clinic.example.org");
}

/* A link read from a record, which must name this profile's own server: another
 * server, or a malformed link, is refused as dbk_link_parse refuses it. */
static void
test_link_on_own_server(void **state)
{
    static const char team[] = "daybook://team?server=https%3A%2F%2Fclinic.example.org"
                               "&counselor=" ID22 "&fp=" ID22 "&role=prescriber";
    dbk_link u;
    (void)state;
    assert_int_equal(dbk_link_parse_on(team, "https://clinic.example.org", &u), DBK_OK);
    assert_int_equal(u.kind, DBK_LINK_TEAM);
    assert_string_equal(u.role, "prescriber");
    assert_int_equal(dbk_link_parse_on(team, "https://other.example.org", &u), DBK_E_INVALID);
    assert_int_equal(dbk_link_parse_on(team, "", &u), DBK_E_INVALID);
    assert_int_equal(dbk_link_parse_on("daybook://team?server=https%3A%2F%2Fclinic.example.org"
                                       "&counselor=" ID22,
                                       "https://clinic.example.org", &u),
                     DBK_E_INVALID); /* no fp */
}

static void
test_bad_links_are_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "https://clinic.example.org",
        "daybook://enrol?server=https://clinic.example.org&code=" ID22,
        "daybook://setup?server=https://clinic.example.org",                 /* no code */
        "daybook://setup?server=https://clinic.example.org&code=short",
        "daybook://enroll?server=https://clinic.example.org&code=" ID22,     /* no fp */
        "daybook://login?server=https://clinic.example.org",                 /* no account */
        "daybook://login?server=https://a.example&server=https://b.example&account=" ID22,
        "daybook://login?server=https%00.evil.example&account=" ID22,         /* NUL */
        "daybook://login?server=https%zz&account=" ID22,
        "daybook://login?server=https%2&account=" ID22,
        "daybook://login?server=ftp://clinic.example.org&account=" ID22,
        "daybook://login?server=http://clinic.example.org&account=" ID22,    /* not loopback */
        /* 22 characters but not an id: outside base64url, or non-canonical last bits */
        "daybook://login?server=https://clinic.example.org&account=AAAAAAAAAAAAAAAAAAAA%2BA",
        "daybook://login?server=https://clinic.example.org&account=AAAAAAAAAAAAAAAAAAAAA.",
        "daybook://login?server=https://clinic.example.org&account=AAAAAAAAAAAAAAAAAAAAAB",
        "daybook://enroll?server=https://clinic.example.org&code=" ID22 "&fp=" ID22
        "&counselor=AAAAAAAAAAAAAAAAAAAA%3D%3D",
        "daybook://enroll?server=https://clinic.example.org&code=" ID22 "&fp=" ID22
        "&counselor=AAAAAAAAAAAAAAAAAAAAAB",
    };
    dbk_link u;
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (dbk_link_parse(bad[i], &u) != DBK_E_INVALID)
            fail_msg("accepted: %s", bad[i]);
    /* ... and an id with '-' and '_' (base64url) is one. */
    assert_int_equal(dbk_link_parse("daybook://login?server=https://clinic.example.org"
                                    "&account=-_AAAAAAAAAAAAAAAAAAAA", &u), DBK_OK);

    /* A server longer than the CLI keeps is refused, not cut. */
    char text[2048] = "daybook://login?account=" ID22 "&server=https://";
    size_t n = strlen(text);
    memset(text + n, 'a', DBK_URL_MAX);
    strcpy(text + n + DBK_URL_MAX, ".example");
    assert_int_equal(dbk_link_parse(text, &u), DBK_E_INVALID);
}

static void
test_login_link_round_trip(void **state)
{
    static const char *const servers[] = {
        "https://clinic.example.org", "https://clinic.example.org:8443/daybook",
        "https://clinic.example.org/a&b=c?d#e", "http://127.0.0.1:8470",
        "https://xn--klinik-3ya.example/\xc3\xa9t\xc3\xa9"};
    char link[2048];
    dbk_link u;
    (void)state;
    for (size_t i = 0; i < sizeof servers / sizeof servers[0]; i++) {
        assert_int_equal(dbk_link_login_format(link, sizeof link, servers[i], ID22), DBK_OK);
        assert_int_equal(dbk_link_parse(link, &u), DBK_OK);
        assert_int_equal(u.kind, DBK_LINK_LOGIN);
        assert_string_equal(u.server, servers[i]);
        assert_string_equal(u.account, ID22);
    }
    assert_int_equal(dbk_link_login_format(link, 40, servers[0], ID22), DBK_E_INVALID);
}

static void
test_pct_append(void **state)
{
    char out[16] = "x=";
    (void)state;
    assert_int_equal(dbk_pct_append(out, sizeof out, "a b&c~"), DBK_OK);
    assert_string_equal(out, "x=a%20b%26c~");
    /* Does not fit: out is left as it was. */
    assert_int_equal(dbk_pct_append(out, sizeof out, "&&"), DBK_E_INVALID);
    assert_string_equal(out, "x=a%20b%26c~");
}

/* proto/vectors/links.json (README rule R11), the cases every implementation replays. */
static void
test_vectors(void **state)
{
    char path[4096];
    json_error_t err;
    json_t *v, *c, *f;
    size_t i;
    const char *k;
    dbk_link u;
    (void)state;

    snprintf(path, sizeof path, "%s/links.json", getenv("DAYBOOK_VECTORS"));
    v = json_load_file(path, 0, &err);
    if (v == NULL)
        fail_msg("%s: %s", path, err.text);
    json_array_foreach(json_object_get(v, "positive"), i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *kind = json_string_value(json_object_get(c, "kind"));
        if (dbk_link_parse(json_string_value(json_object_get(c, "link")), &u) != DBK_OK)
            fail_msg("links.json %s: refused", name);
        assert_string_equal(kind, u.kind == DBK_LINK_SETUP    ? "setup"
                                  : u.kind == DBK_LINK_ENROLL ? "enroll"
                                  : u.kind == DBK_LINK_TEAM   ? "team"
                                                              : "login");
        json_object_foreach(json_object_get(c, "fields"), k, f) {
            const char *got = !strcmp(k, "server")      ? u.server
                              : !strcmp(k, "code")      ? u.code
                              : !strcmp(k, "fp")        ? u.fp
                              : !strcmp(k, "counselor") ? u.counselor
                              : !strcmp(k, "account")   ? u.account
                              : !strcmp(k, "name")      ? u.name
                              : !strcmp(k, "by")        ? u.by
                              : !strcmp(k, "role")      ? u.role
                              : !strcmp(k, "help")      ? u.help
                                                        : NULL;
            if (got == NULL || strcmp(got, json_string_value(f)) != 0)
                fail_msg("links.json %s: %s is \"%s\"", name, k, got ? got : "(unknown)");
        }
    }
    json_array_foreach(json_object_get(v, "negative"), i, c) {
        int rc = dbk_link_parse(json_string_value(json_object_get(c, "link")), &u);
        if (rc == DBK_OK ||
            strcmp(dbk_err_code(rc), json_string_value(json_object_get(c, "error"))) != 0)
            fail_msg("links.json %s: %s", json_string_value(json_object_get(c, "name")),
                     dbk_err_code(rc));
    }
    json_decref(v);
}

/*
 * "Plain HTTP only to loopback" parses the URL (libcurl's URL API) and checks the
 * host it will contact, never a prefix of the text.
 */
static void
test_plain_http_only_to_loopback(void **state)
{
    static const char *const ok[] = {
        "https://clinic.example.org",
        "https://clinic.example.org:8443/base",
        "http://127.0.0.1:8080",
        "http://127.0.0.1",
        "http://127.1.2.3:1/",
        "http://127.255.255.254/x",
        "http://localhost:8080/",
        "http://LOCALHOST/",
        "HTTP://127.0.0.1:80/",
        "http://[::1]:8080/",
        "http://[::1]/",
        "http://[0:0:0:0:0:0:0:1]:9/",
        "http://[::ffff:127.0.0.1]:9/",
        "http://user@127.0.0.1:8080/", /* userinfo, but the host is loopback */
        /* libcurl normalises these hosts to 127.0.0.1 and connects there; the check
         * sees the host libcurl will contact, not the text. */
        "http://%31%32%37.0.0.1/",
        "http://127.1/",
        "http://0x7f000001/",
        "http://example.org\\@127.0.0.1/",
        "http://[::1%25lo]/",
        NULL,
    };
    static const char *const refused[] = {
        "http://127.0.0.1@example.org/",       /* userinfo that looks like a host */
        "http://127.0.0.1:80@example.org/",
        "http://localhost:8080@example.org/",
        "http://[::1]@example.org/",
        "http://127.0.0.1.example.org/",       /* a name, resolved by DNS */
        "http://127.0.0.1.nip.io:8080/",
        "http://localhost.example.org/",
        "http://localhost./",                  /* a fully qualified name: DNS may answer */
        "http://localhostx/",
        "http://128.0.0.1/",
        "http://10.0.0.1/",
        "http://0x0a000001/",
        "http://%31%30.0.0.1/",
        "http://[::2]/",
        "http://[::ffff:10.0.0.1]/",
        "http://example.org/#@127.0.0.1/",
        "ftp://127.0.0.1/",
        "127.0.0.1:8080",
        "",
        "http://",
        NULL,
    };
    (void)state;
    unsetenv("DAYBOOK_ALLOW_HTTP");
    for (size_t i = 0; ok[i]; i++)
        if (dbk_net_check_url(ok[i]) != DBK_OK)
            fail_msg("refused: %s", ok[i]);
    for (size_t i = 0; refused[i]; i++)
        if (dbk_net_check_url(refused[i]) == DBK_OK)
            fail_msg("allowed: %s", refused[i]);
    /* The override lets any http:// through, but still not a non-URL or ftp. */
    setenv("DAYBOOK_ALLOW_HTTP", "1", 1);
    assert_int_equal(dbk_net_check_url("http://127.0.0.1@example.org/"), DBK_OK);
    assert_int_not_equal(dbk_net_check_url("ftp://example.org/"), DBK_OK);
    unsetenv("DAYBOOK_ALLOW_HTTP");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_http_only_to_loopback),
        cmocka_unit_test(test_each_kind_parses),
        cmocka_unit_test(test_bad_links_are_refused),
        cmocka_unit_test(test_link_on_own_server),
        cmocka_unit_test(test_login_link_round_trip),
        cmocka_unit_test(test_pct_append),
        cmocka_unit_test(test_vectors),
    };
    if (dbk_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
