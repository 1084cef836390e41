/*
 * The risk-language screener; the rules and the list are documented in risk.h.
 * Text is cut into sentences (. ! ? and line breaks), each sentence into words
 * (runs of ASCII letters and digits and of any byte >= 0x80, apostrophes
 * dropped, ASCII folded to lower case) tagged with their clause, and each phrase
 * is looked for at every word. Everything is bounded: a sentence longer than
 * WORDS_MAX words is screened in windows of WORDS_MAX words that overlap.
 */
#include "risk.h"

#include "dbk/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORDS_MAX 128
#define WORD_MAX 48
#define PHRASE_WORDS 8
#define NEG_WINDOW 3

static const dbk_risk_phrase builtin[] = {
    /* Suicidal ideation: plans, wishes, hopelessness said as a wish to be gone. */
    {DBK_RISK_SUICIDE, "suicid*"},
    {DBK_RISK_SUICIDE, "kill myself"},
    {DBK_RISK_SUICIDE, "killing myself"},
    {DBK_RISK_SUICIDE, "kms"},
    {DBK_RISK_SUICIDE, "end my life"},
    {DBK_RISK_SUICIDE, "ending my life"},
    {DBK_RISK_SUICIDE, "end it all"},
    {DBK_RISK_SUICIDE, "end it tonight"},
    {DBK_RISK_SUICIDE, "take my own life"},
    {DBK_RISK_SUICIDE, "take my life"},
    {DBK_RISK_SUICIDE, "want to die"},
    {DBK_RISK_SUICIDE, "wanna die"},
    {DBK_RISK_SUICIDE, "ready to die"},
    {DBK_RISK_SUICIDE, "wish i was dead"},
    {DBK_RISK_SUICIDE, "wish i were dead"},
    {DBK_RISK_SUICIDE, "wish i wasnt here"},
    {DBK_RISK_SUICIDE, "better off dead"},
    {DBK_RISK_SUICIDE, "better off without me"},
    {DBK_RISK_SUICIDE, "no reason to live"},
    {DBK_RISK_SUICIDE, "nothing to live for"},
    {DBK_RISK_SUICIDE, "dont want to live"},
    {DBK_RISK_SUICIDE, "dont want to be alive"},
    {DBK_RISK_SUICIDE, "dont want to be here anymore"},
    {DBK_RISK_SUICIDE, "dont want to wake up"},
    {DBK_RISK_SUICIDE, "hope i dont wake up"},
    {DBK_RISK_SUICIDE, "hope i never wake up"},
    {DBK_RISK_SUICIDE, "hope i do not wake up"},
    {DBK_RISK_SUICIDE, "cant go on"},
    {DBK_RISK_SUICIDE, "hang myself"},
    {DBK_RISK_SUICIDE, "shoot myself"},
    {DBK_RISK_SUICIDE, "say goodbye to everyone"},
    /* Self-harm. */
    {DBK_RISK_SELF_HARM, "hurt myself"},
    {DBK_RISK_SELF_HARM, "hurting myself"},
    {DBK_RISK_SELF_HARM, "harm myself"},
    {DBK_RISK_SELF_HARM, "harming myself"},
    {DBK_RISK_SELF_HARM, "self harm*"},
    {DBK_RISK_SELF_HARM, "selfharm*"},
    {DBK_RISK_SELF_HARM, "cut myself"},
    {DBK_RISK_SELF_HARM, "cutting myself"},
    {DBK_RISK_SELF_HARM, "burn myself"},
    {DBK_RISK_SELF_HARM, "punish myself"},
    /* Overdose, on purpose or by lost tolerance. */
    {DBK_RISK_OVERDOSE, "overdos*"},
    {DBK_RISK_OVERDOSE, "od"},
    {DBK_RISK_OVERDOSE, "take all my pills"},
    {DBK_RISK_OVERDOSE, "take all the pills"},
    {DBK_RISK_OVERDOSE, "take everything i have"},
    {DBK_RISK_OVERDOSE, "whole bottle"},
    {DBK_RISK_OVERDOSE, "too many pills"},
    {DBK_RISK_OVERDOSE, "as much as i used to"},
    {DBK_RISK_OVERDOSE, "fentanyl"},
    {DBK_RISK_OVERDOSE, "narcan"},
    {DBK_RISK_OVERDOSE, "naloxone"},
    /* Intent to use. */
    {DBK_RISK_INTENT, "going to use"},
    {DBK_RISK_INTENT, "gonna use"},
    {DBK_RISK_INTENT, "going to drink"},
    {DBK_RISK_INTENT, "gonna drink"},
    {DBK_RISK_INTENT, "going to get high"},
    {DBK_RISK_INTENT, "gonna get high"},
    {DBK_RISK_INTENT, "going to get drunk"},
    {DBK_RISK_INTENT, "gonna get drunk"},
    {DBK_RISK_INTENT, "going to relapse"},
    {DBK_RISK_INTENT, "gonna relapse"},
    {DBK_RISK_INTENT, "going to score"},
    {DBK_RISK_INTENT, "plan to use"},
    {DBK_RISK_INTENT, "planning to use"},
    {DBK_RISK_INTENT, "plan to drink"},
    {DBK_RISK_INTENT, "planning to drink"},
    {DBK_RISK_INTENT, "will use tonight"},
    {DBK_RISK_INTENT, "call my dealer"},
    {DBK_RISK_INTENT, "calling my dealer"},
    {DBK_RISK_INTENT, "text my dealer"},
    {DBK_RISK_INTENT, "texted my dealer"},
    {DBK_RISK_INTENT, "buy a bottle"},
    {DBK_RISK_INTENT, "pick up tonight"},
    {DBK_RISK_INTENT, "get loaded"},
    {DBK_RISK_INTENT, "get wasted"},
    {DBK_RISK_INTENT, "f it"},
    {DBK_RISK_INTENT, "screw it"},
};

static const char *const negations[] = {"not",    "never", "no",    "dont",     "doesnt",
                                        "didnt",  "wont",  "wouldnt", "cant",   "cannot",
                                        "isnt",   "arent", "wasnt", "havent",   "hasnt",
                                        "nor",    "without", "neither", "nothing", "none"};

static const char *const categories[] = {DBK_RISK_SUICIDE, DBK_RISK_SELF_HARM, DBK_RISK_OVERDOSE,
                                         DBK_RISK_INTENT};

struct words {
    char w[WORDS_MAX][WORD_MAX];
    int clause[WORDS_MAX];
    size_t n;
};

static bool
word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c >= 0x80;
}

static bool
apostrophe(const char *p)
{
    return *p == '\'' || strncmp(p, "\xe2\x80\x99", 3) == 0; /* ' or U+2019 */
}

/* Cuts [p, end) into words; returns where it stopped (end, or after WORDS_MAX words). */
static const char *
split_words(const char *p, const char *end, struct words *ws)
{
    int clause = 0;
    ws->n = 0;
    while (p < end && ws->n < WORDS_MAX) {
        unsigned char c = (unsigned char)*p;
        if (c == ',' || c == ';' || c == ':' || c == '-' || c == '(' || c == ')') {
            clause++;
            p++;
            continue;
        }
        if (!word_byte(c)) {
            p++;
            continue;
        }
        size_t k = 0;
        char *w = ws->w[ws->n];
        while (p < end && (word_byte((unsigned char)*p) || apostrophe(p))) {
            if (apostrophe(p)) {
                p += *p == '\'' ? 1 : 3;
                continue;
            }
            c = (unsigned char)*p++;
            if (k + 1 < WORD_MAX)
                w[k++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        w[k] = '\0';
        if (strcmp(w, "but") == 0 || strcmp(w, "though") == 0 || strcmp(w, "except") == 0) {
            clause++;
            continue;
        }
        ws->clause[ws->n++] = clause;
    }
    return p;
}

static bool
is_negation(const char *w)
{
    for (size_t i = 0; i < sizeof negations / sizeof *negations; i++)
        if (strcmp(w, negations[i]) == 0)
            return true;
    return false;
}

/* Does phrase word pw (maybe ending in '*') match text word w? */
static bool
word_match(const char *pw, size_t pn, const char *w)
{
    if (pn > 0 && pw[pn - 1] == '*')
        return strncmp(pw, w, pn - 1) == 0;
    return strlen(w) == pn && strncmp(pw, w, pn) == 0;
}

/* Does phrase (space-separated words) match the words from index at? Sets *len. */
static bool
phrase_at(const char *phrase, const struct words *ws, size_t at, size_t *len)
{
    const char *p = phrase;
    size_t i = at;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        size_t pn = strcspn(p, " ");
        if (i >= ws->n || !word_match(p, pn, ws->w[i]))
            return false;
        i++;
        p += pn;
    }
    *len = i - at;
    return i > at;
}

/* Set aside: a negation within NEG_WINDOW words before at, same clause, no "i" between. */
static bool
negated(const struct words *ws, size_t at, size_t len)
{
    for (size_t k = at; k < at + len; k++)
        if (is_negation(ws->w[k]))
            return false; /* the phrase carries its own negation */
    for (size_t back = 1; back <= NEG_WINDOW && back <= at; back++) {
        size_t k = at - back;
        if (ws->clause[k] != ws->clause[at])
            return false;
        if (is_negation(ws->w[k]))
            return true;
        if (strcmp(ws->w[k], "i") == 0 || strcmp(ws->w[k], "im") == 0)
            return false;
    }
    return false;
}

static const char *
match_list(const struct words *ws, const dbk_risk_phrase *v, size_t n)
{
    for (size_t at = 0; at < ws->n; at++)
        for (size_t j = 0; j < n; j++) {
            size_t len;
            if (phrase_at(v[j].phrase, ws, at, &len) && !negated(ws, at, len))
                return v[j].category;
        }
    return NULL;
}

/* Copies [p, end) trimmed into out, cut at a character boundary. */
static void
quote(const char *p, const char *end, char *out)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    size_t n = (size_t)(end - p);
    bool cut = n > DBK_RISK_QUOTE_MAX;
    if (cut) {
        n = DBK_RISK_QUOTE_MAX;
        while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out, p, n);
    memcpy(out + n, cut ? "..." : "", cut ? 4 : 1);
}

bool
dbk_risk_screen(const char *text, const dbk_risk_extra *extra, dbk_risk_hit *hit)
{
    struct words *ws;
    bool found = false;
    if (text == NULL || (ws = malloc(sizeof *ws)) == NULL)
        return text != NULL; /* out of memory: when unsure, flag */
    for (const char *s = text; *s && !found;) {
        const char *end = s + strcspn(s, ".!?\n");
        for (const char *p = s; p < end && !found;) {
            const char *next = split_words(p, end, ws);
            const char *cat = match_list(ws, builtin, sizeof builtin / sizeof *builtin);
            if (cat == NULL && extra != NULL)
                cat = match_list(ws, extra->v, extra->n);
            if (cat != NULL) {
                found = true;
                if (hit != NULL) {
                    hit->category = cat;
                    quote(s, end, hit->sentence);
                }
            }
            /* A sentence over WORDS_MAX words: go on from half a window back. */
            if (next < end && ws->n == WORDS_MAX) {
                const char *back = next;
                for (size_t k = 0; k < PHRASE_WORDS && back > p; back--)
                    k += *back == ' ';
                p = back > p ? back : next;
            } else {
                p = end;
            }
        }
        s = *end ? end + 1 : end;
    }
    free(ws);
    return found;
}

static const char *
category_of(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof categories / sizeof *categories; i++)
        if (strlen(categories[i]) == n && strncmp(categories[i], name, n) == 0)
            return categories[i];
    return NULL;
}

int
dbk_risk_load(const char *path, dbk_risk_extra *extra, int *line)
{
    FILE *f = fopen(path, "r");
    char buf[DBK_RISK_PHRASE_MAX + 64];
    int no = 0, rc = DBK_OK;
    if (f == NULL)
        return DBK_OK;
    while (fgets(buf, sizeof buf, f) != NULL) {
        no++;
        char *p = buf, *colon;
        buf[strcspn(buf, "\r\n")] = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        const char *cat = (colon = strchr(p, ':')) ? category_of(p, (size_t)(colon - p)) : NULL;
        if (cat == NULL || extra->n >= DBK_RISK_EXTRA_MAX) {
            rc = DBK_E_INVALID;
            break;
        }
        dbk_risk_phrase *v = realloc(extra->v, (extra->n + 1) * sizeof *v);
        if (v == NULL) {
            rc = DBK_E_NOMEM;
            break;
        }
        extra->v = v;
        /* The phrase as the screener sees words: folded, apostrophes dropped. */
        struct words *ws = malloc(sizeof *ws);
        if (ws == NULL) {
            rc = DBK_E_NOMEM;
            break;
        }
        const char *ph = colon + 1;
        split_words(ph, ph + strlen(ph), ws);
        char *out = v[extra->n].phrase;
        size_t k = 0;
        out[0] = '\0';
        for (size_t i = 0; i < ws->n && i < PHRASE_WORDS; i++) {
            int w = snprintf(out + k, DBK_RISK_PHRASE_MAX - k, "%s%s", i ? " " : "", ws->w[i]);
            if (w < 0 || (size_t)w >= DBK_RISK_PHRASE_MAX - k)
                break;
            k += (size_t)w;
        }
        /* A trailing '*' in the file survives as a prefix mark. */
        if (k > 0 && ph[strcspn(ph, "*")] == '*' && k + 1 < DBK_RISK_PHRASE_MAX)
            memcpy(out + k, "*", 2);
        free(ws);
        if (k == 0) {
            rc = DBK_E_INVALID;
            break;
        }
        v[extra->n++].category = cat;
    }
    fclose(f);
    if (rc != DBK_OK && line != NULL)
        *line = no;
    return rc;
}

void
dbk_risk_extra_free(dbk_risk_extra *extra)
{
    free(extra->v);
    extra->v = NULL;
    extra->n = 0;
}
