/*
 * The risk-language screener (client/book/risk.c): the phrasings it must flag,
 * the negations it may set aside and the ones it must not ("when unsure, flag"),
 * the sentence it quotes back, a clinic's own phrases, and input that is not
 * English or not text at all (never a crash; flagged only on a listed phrase).
 */
#include "risk.h"

#include "dbk/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static const char *
cat(const char *text)
{
    dbk_risk_hit h;
    return dbk_risk_screen(text, NULL, &h) ? h.category : "none";
}

static void
test_phrasings_flag(void **state)
{
    static const struct {
        const char *text, *cat;
    } cases[] = {
        {"Some days I want to die.", DBK_RISK_SUICIDE},
        {"I keep thinking everyone would be better off without me", DBK_RISK_SUICIDE},
        {"Having SUICIDAL thoughts again", DBK_RISK_SUICIDE},
        {"I don't want to live like this", DBK_RISK_SUICIDE},
        {"I don\xe2\x80\x99t want to live like this", DBK_RISK_SUICIDE}, /* U+2019 */
        {"thinking about ending my life", DBK_RISK_SUICIDE},
        {"I hope I don't wake up tomorrow", DBK_RISK_SUICIDE},
        {"I'm not okay I want to die", DBK_RISK_SUICIDE},    /* "not" is another clause */
        {"Not today, but I want to die", DBK_RISK_SUICIDE},  /* "but" starts a clause */
        {"I never said it, I want to kill myself", DBK_RISK_SUICIDE},
        {"I cut myself last night", DBK_RISK_SELF_HARM},
        {"urge to self-harm", DBK_RISK_SELF_HARM},
        {"I could take all my pills", DBK_RISK_OVERDOSE},
        {"I'll just use as much as I used to", DBK_RISK_OVERDOSE},
        {"afraid I'll OD", DBK_RISK_OVERDOSE},
        {"I'm going to use tonight", DBK_RISK_INTENT},
        {"gonna call my dealer after work", DBK_RISK_INTENT},
        {"Planning to drink at the party.", DBK_RISK_INTENT},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (strcmp(cat(cases[i].text), cases[i].cat) != 0)
            fail_msg("\"%s\": %s, expected %s", cases[i].text, cat(cases[i].text), cases[i].cat);
    }
}

static void
test_negation_sets_aside(void **state)
{
    static const char *const calm[] = {
        "I don't want to die, I want to get better.",
        "I would never kill myself.",
        "No suicidal thoughts this week.",
        "I'm not going to use tonight.",
        "Not planning to drink at the party",
        "Went to group, felt OK, walked the dog.",
        "The craving passed after twenty minutes.",
        "",
    };
    (void)state;
    for (size_t i = 0; i < sizeof calm / sizeof *calm; i++)
        if (strcmp(cat(calm[i]), "none") != 0)
            fail_msg("\"%s\" flagged as %s", calm[i], cat(calm[i]));
    assert_false(dbk_risk_screen(NULL, NULL, NULL));
}

static void
test_quotes_the_sentence(void **state)
{
    dbk_risk_hit h;
    (void)state;
    assert_true(dbk_risk_screen("Good day at work. Tonight though, I want to die!  Then slept.",
                                NULL, &h));
    assert_string_equal(h.category, DBK_RISK_SUICIDE);
    assert_string_equal(h.sentence, "Tonight though, I want to die");

    /* A long sentence is quoted cut, at a character boundary, and still found. */
    char big[4096];
    size_t n = 0;
    while (n + 16 < 3000)
        n += (size_t)snprintf(big + n, sizeof big - n, "caf\xc3\xa9 words ");
    snprintf(big + n, sizeof big - n, "and I want to die");
    assert_true(dbk_risk_screen(big, NULL, &h));
    assert_true(strlen(h.sentence) <= DBK_RISK_QUOTE_MAX + 3);
    assert_string_equal(h.sentence + strlen(h.sentence) - 3, "...");
}

static void
test_not_english(void **state)
{
    static const char *const texts[] = {
        "\xd0\xa1\xd0\xb5\xd0\xb3\xd0\xbe\xd0\xb4\xd0\xbd\xd1\x8f " "\xd1\x82\xd1\x8f", /* Cyrillic */
        "\xe4\xbb\x8a\xe5\xa4\xa9\xe5\xbe\x88\xe7\xb4\xaf\xe3\x80\x82",            /* CJK */
        "\xd0\xa1\xd0\xb5\xd0\xb3\xd0\xbe\xd0\xb4\xd0\xbd\xd1\x8f \xd1\x82\xd1\x8f", /* Cyrillic */
        "\xff\xfe\x80\x80 invalid UTF-8 \xc3",
        "\xe2\x80\x99\xe2\x80\x99\xe2\x80\x99'''",
    };
    (void)state;
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        assert_string_equal(cat(texts[i]), "none");
    /* A listed phrase inside other-language text is still found. */
    assert_string_equal(cat("Hoy pens\xc3\xa9: I want to die."), DBK_RISK_SUICIDE);
}

static void
test_clinic_phrases(void **state)
{
    char path[] = "/tmp/dbk_risk_XXXXXX";
    int fd = mkstemp(path), line = 0;
    dbk_risk_extra x = {0};
    dbk_risk_hit h;
    (void)state;
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("# our clinic's words\n\nintent_to_use: Hit the Corner\nself_harm: pick*\n", f);
    fclose(f);
    assert_false(dbk_risk_screen("gonna hit the corner later", NULL, NULL));
    assert_int_equal(dbk_risk_load(path, &x, &line), DBK_OK);
    assert_int_equal(x.n, 2);
    assert_true(dbk_risk_screen("gonna hit the corner later", &x, &h));
    assert_string_equal(h.category, DBK_RISK_INTENT);
    assert_true(dbk_risk_screen("started picking at my arms", &x, &h));
    assert_string_equal(h.category, DBK_RISK_SELF_HARM);
    assert_false(dbk_risk_screen("I won't hit the corner", &x, NULL));

    f = fopen(path, "w");
    fputs("intent_to_use: ok\nmystery: phrase\n", f);
    fclose(f);
    assert_int_equal(dbk_risk_load(path, &x, &line), DBK_E_INVALID);
    assert_int_equal(line, 2);
    dbk_risk_extra_free(&x);
    unlink(path);
    assert_int_equal(dbk_risk_load(path, &x, &line), DBK_OK); /* missing: no phrases */
    assert_int_equal(x.n, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phrasings_flag),     cmocka_unit_test(test_negation_sets_aside),
        cmocka_unit_test(test_quotes_the_sentence), cmocka_unit_test(test_not_english),
        cmocka_unit_test(test_clinic_phrases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
