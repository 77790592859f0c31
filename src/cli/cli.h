/* Subcommands of the flexcl driver. Each returns the process exit status
 * (0 ok, 2 bad input, 1 other failure) and is collective on comm. */
#ifndef FLEXCL_CLI_H
#define FLEXCL_CLI_H

#include <mpi.h>
#include <signal.h>

/* Set by main()'s SIGUSR1/SIGTERM handler; subcommands stop at the next
 * collective checkpoint (exit status 3). */
extern volatile sig_atomic_t flexcl_cli_stop;

int flexcl_cli_run(MPI_Comm comm, int argc, char **argv);
int flexcl_cli_plan(MPI_Comm comm, int argc, char **argv);
int flexcl_cli_spectrum(MPI_Comm comm, int argc, char **argv); /* spectrum */
int flexcl_cli_merge(MPI_Comm comm, int argc, char **argv);
int flexcl_cli_status(MPI_Comm comm, int argc, char **argv);

#endif
