/* The crisis card: help that works offline, shown after a hard moment. */
#ifndef DBK_CLIENT_CRISIS_H
#define DBK_CLIENT_CRISIS_H

#include <stdio.h>

/* Prints the card: 988, SAMHSA's helpline, 911, the clinic's numbers (DAYBOOK_CLINIC_PHONE),
 * and the honest word about monitoring. */
void dbk_crisis_card(FILE *out);

#endif
