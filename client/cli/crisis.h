/* The crisis card: help that works offline, shown after a hard moment. */
#ifndef DBK_CLIENT_CRISIS_H
#define DBK_CLIENT_CRISIS_H

#include <stdio.h>

/* Prints the card: the clinic's number (DAYBOOK_CLINIC_PHONE, named by
 * DAYBOOK_CLINIC_NAME; both documented in the README), then 988, SAMHSA's helpline,
 * 911, and the honest word about monitoring. */
void dbk_crisis_card(FILE *out);

#endif
