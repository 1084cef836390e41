/*
 * The risk-language screener: decision support, never a diagnosis. It reads a
 * piece of text a client wrote (a journal entry, a craving's situation, thoughts
 * or note) and says whether a sentence in it reads as suicidal ideation, self-harm,
 * overdose or intent to use (SAMHSA TIP 50; DOMAIN.md "Risk and decision support").
 *
 * The list is a set of phrases matched on whole words after folding ASCII case
 * and dropping apostrophes ("Don't" matches "dont"); a phrase word ending in '*'
 * matches any word it begins ("suicid*" matches "suicidal"). Negation is handled
 * narrowly, because a false alarm costs a question in session and a miss can cost
 * a life: a match is set aside only when "not", "never", "no", "dont", "wont",
 * "wouldnt", "cant"... stands within the three words before it, in the same clause
 * (a comma, semicolon, colon or "but" starts a new one) and with no "i" between
 * them ("I'm not okay I want to die" is flagged). A phrase that carries its own
 * negation ("dont want to live") is never set aside. When unsure, flag.
 *
 * Clinics extend the list with a text file in the profile (DBK_RISK_FILE): one
 * "category: phrase" per line, '#' starts a comment, category one of the four
 * names below. Text that is not English is read byte for byte: it never crashes
 * the screener and is flagged only when it contains a listed phrase.
 *
 * Pure: no I/O but dbk_risk_load, no allocation but the extra list's.
 */
#ifndef DBK_CLIENT_RISK_H
#define DBK_CLIENT_RISK_H

#include <stdbool.h>
#include <stddef.h>

/* The clinic's own phrases, in the profile directory. */
#define DBK_RISK_FILE "risk-phrases.txt"
/* The longest sentence quoted back, in bytes (cut at a character boundary). */
#define DBK_RISK_QUOTE_MAX 240
/* Caps on the clinic's file: phrases and bytes per phrase. */
#define DBK_RISK_EXTRA_MAX 512
#define DBK_RISK_PHRASE_MAX 120

/* The categories, as they appear in the JSON of a review. */
#define DBK_RISK_SUICIDE "suicidal_ideation"
#define DBK_RISK_SELF_HARM "self_harm"
#define DBK_RISK_OVERDOSE "overdose"
#define DBK_RISK_INTENT "intent_to_use"

typedef struct dbk_risk_phrase {
    const char *category; /* one of the DBK_RISK_* strings */
    char phrase[DBK_RISK_PHRASE_MAX];
} dbk_risk_phrase;

/* A clinic's extra phrases; zeroed means none. Freed with dbk_risk_extra_free. */
typedef struct dbk_risk_extra {
    dbk_risk_phrase *v;
    size_t n;
} dbk_risk_extra;

typedef struct dbk_risk_hit {
    const char *category;                 /* DBK_RISK_* */
    char sentence[DBK_RISK_QUOTE_MAX + 4]; /* the sentence as written, trimmed */
} dbk_risk_hit;

/*
 * Screens text (NUL-terminated UTF-8 or anything else; NULL is no text). True when
 * a sentence reads as risk: hit (may be NULL) gets the first such sentence and its
 * category. extra may be NULL.
 */
bool dbk_risk_screen(const char *text, const dbk_risk_extra *extra, dbk_risk_hit *hit);

/*
 * Reads a clinic's phrase file into extra (appending). A missing file is no error.
 * Returns 0, or DBK_E_INVALID with *line set to the first line that is neither a
 * comment nor "category: phrase" (the lines before it are kept).
 */
int dbk_risk_load(const char *path, dbk_risk_extra *extra, int *line);
void dbk_risk_extra_free(dbk_risk_extra *extra);

#endif
