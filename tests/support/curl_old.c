/*
 * libcurl.so.4 as a libcurl older than 7.85 behaves, for integration.curl_lazy: it
 * answers CURLE_UNKNOWN_OPTION to CURLOPT_PROTOCOLS_STR, the option 7.85 added, as
 * such a libcurl does, and passes everything else to the real library
 * (DAYBOOK_TEST_REAL_CURL, its path), which does the work. daybook loads it by its
 * SONAME, through LD_LIBRARY_PATH. No request is answered here: the real libcurl
 * talks to the real daybookd.
 */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void *
real(const char *name)
{
    static void *h;
    void *f;
    if (h == NULL &&
        (h = dlopen(getenv("DAYBOOK_TEST_REAL_CURL"), RTLD_NOW | RTLD_LOCAL)) == NULL) {
        fprintf(stderr, "curl_old: cannot load DAYBOOK_TEST_REAL_CURL: %s\n", dlerror());
        abort();
    }
    if ((f = dlsym(h, name)) == NULL)
        abort();
    return f;
}

#define REAL(name) ((__typeof__(name) *)real(#name))

CURL *
curl_easy_init(void)
{
    return REAL(curl_easy_init)();
}

CURLcode
curl_easy_setopt(CURL *c, CURLoption option, ...)
{
    va_list ap;
    CURLcode cc;
    if (option == CURLOPT_PROTOCOLS_STR)
        return CURLE_UNKNOWN_OPTION; /* as libcurl before 7.85 */
    va_start(ap, option);
    if (option < CURLOPTTYPE_OBJECTPOINT)
        cc = REAL(curl_easy_setopt)(c, option, va_arg(ap, long));
    else if (option < CURLOPTTYPE_FUNCTIONPOINT)
        cc = REAL(curl_easy_setopt)(c, option, va_arg(ap, void *));
    else if (option < CURLOPTTYPE_OFF_T)
        cc = REAL(curl_easy_setopt)(c, option, va_arg(ap, void (*)(void)));
    else
        cc = REAL(curl_easy_setopt)(c, option, va_arg(ap, curl_off_t));
    va_end(ap);
    return cc;
}

CURLcode
curl_easy_perform(CURL *c)
{
    return REAL(curl_easy_perform)(c);
}

CURLcode
curl_easy_getinfo(CURL *c, CURLINFO info, ...)
{
    va_list ap;
    CURLcode cc;
    va_start(ap, info);
    cc = REAL(curl_easy_getinfo)(c, info, va_arg(ap, void *));
    va_end(ap);
    return cc;
}

void
curl_easy_cleanup(CURL *c)
{
    REAL(curl_easy_cleanup)(c);
}

void
curl_easy_reset(CURL *c) /* libcurl 7.12.1 and later */
{
    REAL(curl_easy_reset)(c);
}

struct curl_slist *
curl_slist_append(struct curl_slist *l, const char *s)
{
    return REAL(curl_slist_append)(l, s);
}

void
curl_slist_free_all(struct curl_slist *l)
{
    REAL(curl_slist_free_all)(l);
}

CURLU *
curl_url(void)
{
    return REAL(curl_url)();
}

CURLUcode
curl_url_set(CURLU *u, CURLUPart what, const char *part, unsigned int flags)
{
    return REAL(curl_url_set)(u, what, part, flags);
}

CURLUcode
curl_url_get(CURLU *u, /* const from libcurl 8.1; Debian 12 has 7.88 */ CURLUPart what, char **part,
             unsigned int flags)
{
    return REAL(curl_url_get)(u, what, part, flags);
}

void
curl_url_cleanup(CURLU *u)
{
    REAL(curl_url_cleanup)(u);
}

void
curl_free(void *p)
{
    REAL(curl_free)(p);
}

curl_version_info_data *
curl_version_info(CURLversion v)
{
    return REAL(curl_version_info)(v);
}

CURLcode
curl_global_init_mem(long flags, curl_malloc_callback m, curl_free_callback f,
                     curl_realloc_callback r, curl_strdup_callback s, curl_calloc_callback c)
{
    return REAL(curl_global_init_mem)(flags, m, f, r, s, c);
}

void
curl_global_cleanup(void)
{
    REAL(curl_global_cleanup)();
}
