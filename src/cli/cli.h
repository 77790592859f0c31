/* Subcommands of the flexcl driver. Each returns the process exit status
 * (0 ok, 2 bad input, 1 other failure) and is collective on comm. */
#ifndef FLEXCL_CLI_H
#define FLEXCL_CLI_H

#include <mpi.h>

int flexcl_cli_run(MPI_Comm comm, int argc, char **argv);
int flexcl_cli_plan(MPI_Comm comm, int argc, char **argv);

#endif
