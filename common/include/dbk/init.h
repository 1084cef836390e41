/* Process-wide start-up shared by daybookd, daybook and the tests. */
#ifndef DBK_INIT_H
#define DBK_INIT_H

/* Initialises libsodium. Returns 0, or DBK_E_INTERNAL if it cannot start (no entropy). */
int dbk_init(void);

#endif
