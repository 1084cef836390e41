/*
 * The CLI's exit codes, for scripts (also in `daybook --help`): 0 success, 1 the
 * operation failed, 2 usage error. Commands and the cli/ helpers that resolve what
 * a person typed return them.
 */
#ifndef DBK_CLIENT_EXITCODE_H
#define DBK_CLIENT_EXITCODE_H

enum { DBK_EXIT_OK = 0, DBK_EXIT_FAIL = 1, DBK_EXIT_USAGE = 2 };

#endif
