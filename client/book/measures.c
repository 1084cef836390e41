/* Validated measures and their published scoring; see measures.h for the sources. */
#include "measures.h"

#include <string.h>

/* ---- PHQ-9 ---- */

static const dbk_measure_item phq9_items[] = {
    {"1", "Little interest or pleasure in doing things", DBK_ANSWER_FREQ4, NULL, true},
    {"2", "Feeling down, depressed, or hopeless", DBK_ANSWER_FREQ4, NULL, true},
    {"3", "Trouble falling or staying asleep, or sleeping too much", DBK_ANSWER_FREQ4, NULL, true},
    {"4", "Feeling tired or having little energy", DBK_ANSWER_FREQ4, NULL, true},
    {"5", "Poor appetite or overeating", DBK_ANSWER_FREQ4, NULL, true},
    {"6",
     "Feeling bad about yourself - or that you are a failure or have let yourself or your "
     "family down",
     DBK_ANSWER_FREQ4, NULL, true},
    {"7",
     "Trouble concentrating on things, such as reading the newspaper or watching television",
     DBK_ANSWER_FREQ4, NULL, true},
    {"8",
     "Moving or speaking so slowly that other people could have noticed? Or the opposite - "
     "being so fidgety or restless that you have been moving around a lot more than usual",
     DBK_ANSWER_FREQ4, NULL, true},
    {"9", "Thoughts that you would be better off dead or of hurting yourself in some way",
     DBK_ANSWER_FREQ4, NULL, true},
    {"difficulty",
     "If you checked off any problems, how difficult have these problems made it for you to do "
     "your work, take care of things at home, or get along with other people?",
     DBK_ANSWER_DIFF4, NULL, false},
};

static const dbk_measure phq9 = {
    "phq9", "PHQ-9",
    "Over the last 2 weeks, how often have you been bothered by any of the following problems?",
    "44249-1", sizeof phq9_items / sizeof phq9_items[0], phq9_items,
};

/* ---- GAD-7 ---- */

static const dbk_measure_item gad7_items[] = {
    {"1", "Feeling nervous, anxious, or on edge", DBK_ANSWER_FREQ4, NULL, true},
    {"2", "Not being able to stop or control worrying", DBK_ANSWER_FREQ4, NULL, true},
    {"3", "Worrying too much about different things", DBK_ANSWER_FREQ4, NULL, true},
    {"4", "Trouble relaxing", DBK_ANSWER_FREQ4, NULL, true},
    {"5", "Being so restless that it is hard to sit still", DBK_ANSWER_FREQ4, NULL, true},
    {"6", "Becoming easily annoyed or irritable", DBK_ANSWER_FREQ4, NULL, true},
    {"7", "Feeling afraid, as if something awful might happen", DBK_ANSWER_FREQ4, NULL, true},
    {"difficulty",
     "If you checked any problems, how difficult have they made it for you to do your work, "
     "take care of things at home, or get along with other people?",
     DBK_ANSWER_DIFF4, NULL, false},
};

static const dbk_measure gad7 = {
    "gad7", "GAD-7",
    "Over the last 2 weeks, how often have you been bothered by the following problems?",
    "69737-5", sizeof gad7_items / sizeof gad7_items[0], gad7_items,
};

/* ---- BAM ---- */

static const char *const bam_health[] = {"Excellent", "Very good", "Good", "Fair", "Poor"};
static const char *const bam_much[] = {"Not at all", "Slightly", "Moderately", "Considerably",
                                       "Extremely"};

static const dbk_measure_item bam_items[] = {
    {"1", "In the past 30 days, would you say your physical health has been:", DBK_ANSWER_LIKERT5,
     bam_health, false},
    {"2",
     "In the past 30 days, how many nights did you have trouble falling asleep or staying "
     "asleep?",
     DBK_ANSWER_DAYS30, NULL, false},
    {"3",
     "In the past 30 days, how many days have you felt depressed, anxious, angry or very upset "
     "throughout most of the day?",
     DBK_ANSWER_DAYS30, NULL, false},
    {"4", "In the past 30 days, how many days did you drink ANY alcohol?", DBK_ANSWER_DAYS30, NULL,
     false},
    {"5",
     "In the past 30 days, how many days did you have at least 5 drinks (if you are a man) or at "
     "least 4 drinks (if you are a woman)? [One drink is considered one shot of hard liquor (1.5 "
     "oz.) or 12-ounce can/bottle of beer or 5-ounce glass of wine.]",
     DBK_ANSWER_DAYS30, NULL, false},
    {"6",
     "In the past 30 days, how many days did you use any illegal/street drugs or abuse any "
     "prescription medications?",
     DBK_ANSWER_DAYS30, NULL, false},
    {"7a", "In the past 30 days, how many days did you use Marijuana (cannabis, pot, weed)?",
     DBK_ANSWER_DAYS30, NULL, false},
    {"7b",
     "In the past 30 days, how many days did you use Sedatives/Tranquilizers (e.g., \"benzos\", "
     "Valium, Xanax, Ativan, Ambien, \"barbs\", Phenobarbital, downers, etc.)?",
     DBK_ANSWER_DAYS30, NULL, false},
    {"7c", "In the past 30 days, how many days did you use Cocaine/Crack?", DBK_ANSWER_DAYS30,
     NULL, false},
    {"7d",
     "In the past 30 days, how many days did you use Other Stimulants (e.g., amphetamine, "
     "methamphetamine, Dexedrine, Ritalin, Adderall, \"speed\", \"crystal meth\", \"ice\", "
     "etc.)?",
     DBK_ANSWER_DAYS30, NULL, false},
    {"7e",
     "In the past 30 days, how many days did you use Opiates (e.g., Heroin, Morphine, Dilaudid, "
     "Demerol, Oxycontin, oxy, codeine (Tylenol 2,3,4), Percocet, Vicodin, Fentanyl, etc.)?",
     DBK_ANSWER_DAYS30, NULL, false},
    {"7f",
     "In the past 30 days, how many days did you use Inhalants (glues, adhesives, nail polish "
     "remover, paint thinner, etc.)?",
     DBK_ANSWER_DAYS30, NULL, false},
    {"7g",
     "In the past 30 days, how many days did you use Other drugs (steroids, non-prescription "
     "sleep/diet pills, Benadryl, Ephedra, other over-the-counter/unknown medications)?",
     DBK_ANSWER_DAYS30, NULL, false},
    {"8",
     "In the past 30 days, how much were you bothered by cravings or urges to drink alcohol or "
     "use drugs?",
     DBK_ANSWER_LIKERT5, bam_much, false},
    {"9",
     "How confident are you in your ability to be completely abstinent (clean) from alcohol and "
     "drugs in the next 30 days?",
     DBK_ANSWER_LIKERT5, bam_much, false},
    {"10",
     "In the past 30 days, how many days did you attend self-help meetings like AA or NA to "
     "support your recovery?",
     DBK_ANSWER_DAYS30, NULL, false},
    {"11",
     "In the past 30 days, how many days were you in any situations or with any people that "
     "might put you at an increased risk for using alcohol or drugs (i.e., around risky "
     "\"people, places or things\")?",
     DBK_ANSWER_DAYS30, NULL, false},
    {"12", "Does your religion or spirituality help support your recovery?", DBK_ANSWER_LIKERT5,
     bam_much, false},
    {"13",
     "In the past 30 days, how many days did you spend much of the time at work, school, or "
     "doing volunteer work?",
     DBK_ANSWER_DAYS30, NULL, false},
    {"14",
     "Do you have enough income (from legal sources) to pay for necessities such as housing, "
     "transportation, food and clothing for yourself and your dependents?",
     DBK_ANSWER_YESNO4, NULL, false},
    {"15",
     "In the past 30 days, how much have you been bothered by arguments or problems getting "
     "along with any family members or friends?",
     DBK_ANSWER_LIKERT5, bam_much, false},
    {"16",
     "In the past 30 days, how many days were you in contact or spent time with any family "
     "members or friends who are supportive of your recovery?",
     DBK_ANSWER_DAYS30, NULL, false},
    {"17", "How satisfied are you with your progress toward achieving your recovery goals?",
     DBK_ANSWER_LIKERT5, bam_much, false},
};

static const dbk_measure bam = {
    "bam", "BAM",
    "This questionnaire asks about the past 30 days. Answer the questions about days with a "
    "number from 0 to 30.",
    NULL, sizeof bam_items / sizeof bam_items[0], bam_items,
};

/* Indexes into bam_items of each composite's items, and of items 4 and 5. */
enum { BAM_4 = 3, BAM_5 = 4 };
static const size_t bam_use[] = {3, 4, 5};                /* items 4, 5, 6 */
static const size_t bam_risk[] = {0, 1, 2, 13, 16, 20};   /* items 1, 2, 3, 8, 11, 15 */
static const size_t bam_protect[] = {14, 15, 17, 18, 19, 21}; /* items 9, 10, 12, 13, 14, 16 */

/* ---- look-up ---- */

static const dbk_measure *const all[] = {&phq9, &gad7, &bam};

const dbk_measure *
dbk_measure_find(const char *id)
{
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(all[i]->id, id) == 0)
            return all[i];
    return NULL;
}

const dbk_measure *const *
dbk_measure_all(size_t *n)
{
    *n = sizeof all / sizeof all[0];
    return all;
}

int
dbk_measure_item_max(const dbk_measure_item *it)
{
    switch (it->kind) {
    case DBK_ANSWER_FREQ4: return 3;
    case DBK_ANSWER_DIFF4: return 3;
    case DBK_ANSWER_DAYS30: return 30;
    case DBK_ANSWER_LIKERT5: return 4;
    case DBK_ANSWER_YESNO4: return 4;
    }
    return 0;
}

const char *
dbk_measure_answer_label(const dbk_measure_item *it, int answer)
{
    static const char *const freq[] = {"Not at all", "Several days", "More than half the days",
                                       "Nearly every day"};
    static const char *const diff[] = {"Not difficult at all", "Somewhat difficult",
                                       "Very difficult", "Extremely difficult"};
    if (answer < 0 || answer > dbk_measure_item_max(it))
        return NULL;
    switch (it->kind) {
    case DBK_ANSWER_FREQ4: return freq[answer];
    case DBK_ANSWER_DIFF4: return diff[answer];
    case DBK_ANSWER_LIKERT5: return it->labels[answer];
    case DBK_ANSWER_YESNO4: return answer == 4 ? "Yes" : answer == 0 ? "No" : NULL;
    case DBK_ANSWER_DAYS30: return NULL;
    }
    return NULL;
}

/* ---- scoring ---- */

int
dbk_measure_bam_days(int days)
{
    return days <= 0 ? 0 : days <= 3 ? 1 : days <= 8 ? 2 : days <= 15 ? 3 : 4;
}

/* An item's contribution to a BAM composite: day counts in the manual's intervals. */
static int
bam_item_score(const dbk_measure_item *it, int answer)
{
    if (answer < 0)
        return 0; /* item 5, not asked after no drinking days */
    return it->kind == DBK_ANSWER_DAYS30 ? dbk_measure_bam_days(answer) : answer;
}

static int
bam_sum(const int *answers, const size_t *idx, size_t n)
{
    int sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += bam_item_score(&bam_items[idx[i]], answers[idx[i]]);
    return sum;
}

static const char *
band_of(const dbk_measure *m, int total)
{
    if (m == &phq9)
        return total <= 4    ? "minimal"
               : total <= 9  ? "mild"
               : total <= 14 ? "moderate"
               : total <= 19 ? "moderately severe"
                             : "severe";
    return total <= 4 ? "minimal" : total <= 9 ? "mild" : total <= 14 ? "moderate" : "severe";
}

bool
dbk_measure_score_answers(const dbk_measure *m, const int *answers, size_t n,
                          dbk_measure_score *out)
{
    if (n != m->nitems)
        return false;
    for (size_t i = 0; i < n; i++) {
        const dbk_measure_item *it = &m->items[i];
        bool optional = it->kind == DBK_ANSWER_DIFF4 ||
                        (m == &bam && i == BAM_5 && answers[BAM_4] == 0);
        if (answers[i] < 0 ? !optional : answers[i] > dbk_measure_item_max(it))
            return false;
        if (it->kind == DBK_ANSWER_YESNO4 && answers[i] != 0 && answers[i] != 4)
            return false;
    }
    memset(out, 0, sizeof *out);
    if (m == &bam) {
        out->total = -1;
        out->use = bam_sum(answers, bam_use, 3);
        out->risk = bam_sum(answers, bam_risk, 6);
        out->protective = bam_sum(answers, bam_protect, 6);
        out->use_flag = out->use >= 1;
        out->risk_flag = out->risk >= 12;
        out->protective_flag = out->protective <= 12;
        return true;
    }
    for (size_t i = 0; i < n; i++)
        if (m->items[i].scored)
            out->total += answers[i];
    out->band = band_of(m, out->total);
    out->use = out->risk = out->protective = -1;
    out->self_harm = m == &phq9 && answers[8] > 0;
    return true;
}
