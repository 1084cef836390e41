/* The crisis card: help that works offline, shown after a hard moment. */
#ifndef DBK_CLIENT_CRISIS_H
#define DBK_CLIENT_CRISIS_H

#include <stdio.h>

#include <stdbool.h>

/* Prints the card: the clinic's numbers this device pinned at enrollment
 * (trust/help_pin.h, from daybookd's help-line setting; read from this device's
 * profile, with no passphrase), then 988, SAMHSA's helpline, 911, and the honest
 * word about monitoring. */
void dbk_crisis_card(FILE *out);

/*
 * The card for an unlocked session: the client's own safety plan first (book/plan.h,
 * the steps that have something in them: warning signs, coping, people, the
 * professionals they chose, making the environment safe, reasons for living), then
 * the card. With no plan, or a session not unlocked, the card alone. Never asks for a
 * passphrase: the card must not wait on one.
 */
struct dbk_session;
void dbk_crisis_card_for(FILE *out, struct dbk_session *s);

/* The safety plan alone (as above), if the keys are open and it has anything in it;
 * whether it printed. */
bool dbk_crisis_plan(FILE *out, struct dbk_session *s);

#endif
