/* Subcommands of the flexcl driver. Each returns the process exit status
 * (0 ok, 2 bad input, 1 other failure) and is collective on comm. */
#ifndef FLEXCL_CLI_H
#define FLEXCL_CLI_H

#include <mpi.h>
#include <signal.h>
#include <stddef.h>

/* Set by main()'s SIGUSR1/SIGTERM handler; subcommands stop at the next
 * collective checkpoint (exit status 3). */
extern volatile sig_atomic_t flexcl_cli_stop;

int flexcl_cli_run(MPI_Comm comm, int argc, char **argv);
int flexcl_cli_plan(MPI_Comm comm, int argc, char **argv);
int flexcl_cli_spectrum(MPI_Comm comm, int argc, char **argv); /* spectrum */
int flexcl_cli_merge(MPI_Comm comm, int argc, char **argv);
int flexcl_cli_status(MPI_Comm comm, int argc, char **argv);

/* The lock of a parts directory, OUT.parts/lock (src/cli/lock.c): one line
 * "HOST PID" naming the short host name and pid of the rank 0 of the
 * `flexcl run` working in it. Rank 0 touches it at least every
 * FLEXCL_CLI_LOCK_HEARTBEAT seconds; a lock is live while its pid exists
 * (same host) or, on another host, while it was touched less than
 * FLEXCL_CLI_LOCK_STALE seconds ago. None of these is collective. */
#define FLEXCL_CLI_LOCK_HEARTBEAT 60
#define FLEXCL_CLI_LOCK_STALE (3 * FLEXCL_CLI_LOCK_HEARTBEAT)

typedef struct {
    char host[256];          /* "" when the lock holds no readable owner */
    long pid;                /* 0 when the lock holds no readable owner */
    long age;                /* seconds since the lock was last touched */
    int same_host;           /* host is this machine's short host name */
    int live;                /* the owner is running (see above) */
    unsigned long long dev, ino; /* the lock file's identity */
} flexcl_cli_lock_owner;

/* This machine's host name up to the first dot (as `hostname -s`). */
void flexcl_cli_short_host(char *out, size_t n);
/* Read the lock file at path: 1 and *who when it exists, else 0. */
int flexcl_cli_lock_inspect(const char *path, flexcl_cli_lock_owner *who);
/* Take PARTS/lock for this process. 0: taken (a stale lock is replaced,
 * with one warning line on stderr); 1: in use by a live run; 2: cannot
 * create it. On 1 and 2, msg holds one line and nothing else is changed. */
int flexcl_cli_lock_take(const char *parts, char *msg, size_t n);
/* The heartbeat: set PARTS/lock's modification time to now; 0 or an errno. */
int flexcl_cli_lock_touch(const char *parts);
/* Remove PARTS/lock if this process holds it. */
void flexcl_cli_lock_release(const char *parts);

#endif
