/* Output helpers; see output.h. */
#include "output.h"

#include <qrencode.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

void
dbk_out_warn_unopened(const dbk_eu_list *l)
{
    if (l->bad > l->foreign_author)
        fprintf(stderr, "daybook: %zu entries could not be opened (damaged or from an unknown "
                        "key) and are left out\n",
                l->bad - l->foreign_author);
    if (l->foreign_author > 0)
        fprintf(stderr, "daybook: WARNING: %zu entries were signed by someone who may not write "
                        "them in this stream (a counselor cannot write a craving, a journal "
                        "entry or a check-in as the client) and are left out\n",
                l->foreign_author);
}

void
dbk_out_warn_forged(size_t n)
{
    if (n > 0)
        fprintf(stderr,
                "daybook: WARNING: the server served %zu newer revision(s) of entries this "
                "device holds, unsigned by their authors or by someone other than the "
                "entry's owner, who alone may replace it (forged): refused; the entries stay "
                "as this device holds them. Tell the clinic.\n",
                n);
}

void
dbk_out_warn_refused_grants(size_t n)
{
    if (n > 0)
        fprintf(stderr,
                "daybook: WARNING: the server handed over %zu key grant(s) this device "
                "refused (not signed by a key it trusts, or other bytes for a grant it "
                "holds): nothing was changed. If the clinic restored its server from a "
                "backup this can happen once; otherwise tell your clinic.\n",
                n);
}

void
dbk_out_warn_pulled(const json_t *fresh)
{
    dbk_out_warn_forged((size_t)json_integer_value(json_object_get(fresh, "refused_revisions")));
    dbk_out_warn_refused_grants(
        (size_t)json_integer_value(json_object_get(fresh, "refused_grants")));
}

void
dbk_out_warn_reading_ended(const char *label, const char *when)
{
    fprintf(stderr,
            "daybook: WARNING: this device stopped reading %s's entries on %s (the server "
            "refused them or listed the consent as ended), yet the server lists them as "
            "sharing now: what this device shows of them is only what arrived before then. "
            "Sync again, and tell the clinic if it stays so.\n",
            label, when);
}

void
dbk_out_json(FILE *out, const json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    fprintf(out, "%s\n", text ? text : "null");
    dbk_eu_wipe_free(text);
}

/* Prints text after a label, wrapped at 76 columns with a hanging indent. */
static void
para(FILE *out, const char *label, const char *text)
{
    size_t col = 0, indent = 4;
    const char *p = text ? text : "";

    fprintf(out, "  %s\n    ", label);
    col = indent;
    while (*p != '\0') {
        size_t w = strcspn(p, " \n");
        if (col > indent && col + w > 76) {
            fprintf(out, "\n    ");
            col = indent;
        }
        fwrite(p, 1, w, out);
        col += w;
        p += w;
        while (*p == ' ' || *p == '\n') {
            if (col > indent) {
                fputc(' ', out);
                col++;
            }
            p++;
        }
    }
    fputc('\n', out);
}

void
dbk_out_consent(FILE *out, const json_t *doc)
{
    const json_t *by = json_object_get(doc, "disclosed_by"), *x = json_object_get(doc, "expires");
    const json_t *rec = json_object_get(doc, "recipient"), *v;
    const char *org = json_string_value(json_object_get(rec, "organization"));
    const char *date = json_string_value(json_object_get(x, "date"));
    const char *event = json_string_value(json_object_get(x, "event"));
    char who[512] = "", to[512], until[600];
    size_t i;

    json_array_foreach(by, i, v) {
        size_t n = strlen(who);
        snprintf(who + n, sizeof who - n, "%s%s", n ? "; " : "",
                 json_string_value(json_object_get(v, "name")));
    }
    snprintf(to, sizeof to, "%s%s%s%s", json_string_value(json_object_get(rec, "name")),
             org ? " (" : "", org ? org : "", org ? ")" : "");
    if (date != NULL && event != NULL)
        snprintf(until, sizeof until, "%s, or %s, whichever comes first", date, event);
    else
        snprintf(until, sizeof until, "%s", date ? date : event ? event : "");
    fprintf(out, "Consent to share your records (42 CFR part 2, section 2.31)\n\n");
    para(out, "Patient:", json_string_value(json_object_get(json_object_get(doc, "patient"),
                                                           "name")));
    para(out, "Who discloses:", who);
    para(out, "To whom:", to);
    para(out, "Purpose:", json_string_value(json_object_get(doc, "purpose")));
    para(out, "What is disclosed:",
         json_string_value(json_object_get(json_object_get(doc, "information"), "description")));
    para(out, "Until:", until);
    para(out, "How to revoke:", json_string_value(json_object_get(doc, "right_to_revoke")));
    para(out, "Notice to the recipient (section 2.32):",
         json_string_value(json_object_get(doc, "redisclosure_notice")));
    json_array_foreach(json_object_get(doc, "other_statements"), i, v)
        para(out, "Also:", json_string_value(v));
    para(out, "Signed:", json_string_value(json_object_get(doc, "signed_at")));
}

/*
 * Prints text as a QR code (error correction M, byte mode, as proto/README.md 4.2
 * says) with Unicode half blocks: two modules per character cell, a quiet zone of
 * four modules, dark on light.
 */
void
dbk_out_qr(FILE *out, const char *text)
{
    QRcode *q = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
    const int quiet = 4;
    if (q == NULL)
        return;
    int n = q->width + 2 * quiet;
    for (int y = 0; y < n; y += 2) {
        fputs("  ", out);
        for (int x = 0; x < n; x++) {
            int mx = x - quiet, top = y - quiet, bot = y + 1 - quiet;
            bool t = mx >= 0 && mx < q->width && top >= 0 && top < q->width &&
                     (q->data[top * q->width + mx] & 1);
            bool b = mx >= 0 && mx < q->width && bot >= 0 && bot < q->width &&
                     (q->data[bot * q->width + mx] & 1);
            /* Light background: a dark module is drawn as the absence of the block. */
            fputs(t && b ? " " : t ? "\u2584" : b ? "\u2580" : "\u2588", out);
        }
        fputc('\n', out);
    }
    QRcode_free(q);
}

void
dbk_out_freshness(FILE *out, const json_t *fresh, bool color)
{
    const char *at = json_string_value(json_object_get(fresh, "as_of"));
    bool offline = json_is_true(json_object_get(fresh, "offline")),
         stale = json_is_true(json_object_get(fresh, "stale"));
    if (!offline && !stale) {
        fprintf(out, "Data as of %s (the last successful sync).\n", at ? at : "never");
        return;
    }
    /* Each line within 80 columns: "!! Data as of YYYY-MM-DD HH:MM: OFFLINE", then why. */
    fprintf(out, "%s!! Data as of %s: %s%s\n", color ? "\033[1;31m" : "", at ? at : "never",
            offline ? "OFFLINE" : "STALE", color ? "\033[0m" : "");
    fprintf(out, "   %sWhat clients sent since then is not shown. Run 'daybook sync' when online.\n",
            offline ? "The server was not reached (or --offline).\n   " : "");
}

void
dbk_out_withheld(const char *who, bool warn, size_t n, bool unknown, bool none_seen,
                 const char *missing)
{
    if (warn && n > 0)
        fprintf(stderr, "daybook: WARNING: %zu entr%s %s's device signed for never reached this "
                        "device: the server is withholding them, and %s.\n",
                n, n == 1 ? "y" : "ies", who, missing);
    else if (warn)
        fprintf(stderr, "daybook: WARNING: the server handed back an older stream head than "
                        "%s's device signed: it is withholding entries, and %s.\n",
                who, missing);
    else if (none_seen)
        fprintf(stderr,
                "daybook: no entries seen from %s yet, and no signed count: this device "
                "cannot tell whether the server withholds any.\n",
                who);
    else if (unknown)
        fprintf(stderr, "daybook: this device cannot tell whether the server withheld any of "
                        "%s's entries (their device has signed no stream head yet).\n",
                who);
}

void
dbk_out_own_unseen(size_t n)
{
    if (n > 0)
        fprintf(stderr,
                "daybook: none of your own entries in %zu of your account's streams "
                "reached this device, and no count your account signed: this device "
                "cannot tell whether the server withholds them. If you wrote entries on "
                "another device, sync it, then this one; if they still do not show, "
                "tell the clinic.\n",
                n);
}

void
dbk_out_role_unsupported(int role, int implied)
{
    fprintf(stderr,
            "daybook: WARNING: the server says this is a %s's account, but what your account "
            "already signed is %s (%s). The server is wrong or has been tampered with: this "
            "device signs no role for your account; do not use it. Tell the clinic.\n",
            role == DBK_ROLE_COUNSELOR ? "counselor" : "client",
            implied == DBK_ROLE_CLIENT      ? "a client's"
            : implied == DBK_ROLE_COUNSELOR ? "a counselor's"
                                            : "both a client's and a counselor's",
            implied == DBK_ROLE_CLIENT      ? "the counselor's key it pinned at enrollment, or a "
                                              "consent it gave"
            : implied == DBK_ROLE_COUNSELOR ? "names it gave clients, sessions, entries marked "
                                              "discussed"
                                            : "records of both kinds");
}

void
dbk_out_withheld_unchecked(const char *who, const char *why, const char *missing)
{
    fprintf(stderr,
            "daybook: WARNING: this device could not check whether the server withheld any "
            "of %s's entries (%s), and %s.\n",
            who, why, missing);
}

int
dbk_out_columns(void)
{
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}
