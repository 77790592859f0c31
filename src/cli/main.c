/* flexcl — the driver. main() initialises MPI, dispatches to a subcommand
 * and turns the library's error into one line and an exit status:
 *   0 success, 2 bad input (job file, data, command line), 3 stopped by a
 *   signal with completed grid points kept (rerun to resume), 1 anything else. */
#include <hdf5.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "flexcl/flexcl.h"

static int world_rank = 0;
volatile sig_atomic_t flexcl_cli_stop = 0;

static void on_stop_signal(int sig)
{
    (void)sig;
    flexcl_cli_stop = 1;
}

static void log_to_stderr(flexcl_log_level level, const char *message, void *user)
{
    (void)user;
    if (world_rank != 0 && level > FLEXCL_LOG_WARN) return;
    const char *tag = level == FLEXCL_LOG_ERROR ? "error: "
                      : level == FLEXCL_LOG_WARN ? "warning: " : "";
    fprintf(stderr, "flexcl: %s%s\n", tag, message);
    fflush(stderr);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: flexcl <command> [options]\n"
            "\n"
            "Runs contrastive-learning experiments described by an INI job file, on\n"
            "MPI ranks, into HDF5: models rbm and ff (estimators two_term, isd, aol),\n"
            "eqprop (those and tcl), dp, dpt and backprop; experiments\n"
            "train, isd_variance, aol_bias and tcl_synapse. `run --help` lists every\n"
            "job-file key.\n"
            "\n"
            "commands:\n"
            "  run JOB.ini [--out DIR] [--set section.key=value ...] [--quiet] [--trace]\n"
            "                 run every grid point of the job; results go to\n"
            "                 DIR/<job name>.h5 (DIR defaults to ./results; made,\n"
            "                 with missing parents, if absent)\n"
            "  run ... --task I --tasks N\n"
            "                 run only task I's share of the grid (contiguous blocks of\n"
            "                 points) into DIR/task_I.h5\n"
            "  run --help     every job-file key with its default, unit and meaning\n"
            "  plan JOB.ini [--tasks N] [--out DIR] [--set ...]\n"
            "                 print the grid points (index, task, experiment, seed,\n"
            "                 output, parameters) without running anything\n"
            "  merge DIR [--tasks N] [-o FILE]\n"
            "                 merge DIR/task_*.h5 into one file (default DIR/merged.h5);\n"
            "                 refuses, listing them, when tasks are missing or incomplete\n"
            "  status DIR [--tasks N] [--no-slurm]\n"
            "                 each task's state (done, running, checkpointed, missing)\n"
            "  spectrum RESULTS.h5 [--point I | --all] [--grid RxC] [--block NB] [--vectors K]\n"
            "                 eigenvalues of the covariance of each point's raw gradient\n"
            "                 samples (ScaLAPACK), written back into the point's group\n"
            "  --version      print the version and exit\n"
            "  --help         this text\n"
            "\n"
            "exit status: 0 success, 2 bad input (job file, data, command line),\n"
            "3 stopped by SIGUSR1/SIGTERM (finished grid points are kept in\n"
            "<output>.parts/; rerun the same command to resume), 1 any other failure.\n"
            "Launch with mpiexec -n R flexcl run JOB.ini.\n");
}

/* SLURM sends SIGUSR1 before a time limit or preemption (--signal) and
 * SIGTERM when it cancels: the handler only sets the stop flag. */
static void install_stop_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int main(int argc, char **argv)
{
    int provided = 0;
    /* Before MPI start-up too, so a signal that arrives while MPI starts
     * stops the run cleanly (status 3) instead of killing it. */
    install_stop_handlers();
#if defined(OPEN_MPI) && OPEN_MPI && defined(OMPI_MAJOR_VERSION) && OMPI_MAJOR_VERSION == 4
    /* Open MPI 4's default MPI-IO component (ompio) is reported to hang
     * parallel HDF5 collective writes at odd rank counts (HDFGroup/hdf5
     * issue 1227): use ROMIO unless the user chose a component. Open MPI
     * reads OMPI_MCA_* from the environment during MPI start-up, so a bare
     * mpiexec is as safe as the launch scripts (which set it too). The
     * component in use is recorded in the results (attribute mpi_io). */
    setenv("OMPI_MCA_io", "romio321", 0);
#endif
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "flexcl: error: MPI_Init_thread failed\n");
        return 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    /* Failed MPI calls come back as error codes, which the library checks
     * and reports (by default Open MPI would abort the job on the spot);
     * communicators duplicated from MPI_COMM_WORLD inherit this. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    /* SLURM sends SIGUSR1 before a time limit or preemption (--signal) and
     * SIGTERM when it cancels: finish the current step, keep every complete
     * grid point, and exit with status 3 so the task can be requeued. */
    install_stop_handlers(); /* again: MPI start-up may have replaced them */
    flexcl_log_set(log_to_stderr, NULL, FLEXCL_LOG_INFO);

    int status = 0;
    if (argc < 2) {
        /* Bad input: one line, like every other (--help has the rest). */
        if (world_rank == 0)
            fprintf(stderr, "flexcl: error: no command given (try flexcl --help)\n");
        status = 2;
    } else if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (world_rank == 0) usage(stdout);
    } else if (strcmp(argv[1], "--version") == 0) {
        if (world_rank == 0) printf("flexcl %s (%s)\n", flexcl_version(), flexcl_git_describe());
    } else if (strcmp(argv[1], "run") == 0) {
        status = flexcl_cli_run(MPI_COMM_WORLD, argc - 1, argv + 1);
    } else if (strcmp(argv[1], "merge") == 0) {
        status = flexcl_cli_merge(MPI_COMM_WORLD, argc - 1, argv + 1);
    } else if (strcmp(argv[1], "status") == 0) {
        status = flexcl_cli_status(MPI_COMM_WORLD, argc - 1, argv + 1);
    } else if (strcmp(argv[1], "plan") == 0) {
        status = flexcl_cli_plan(MPI_COMM_WORLD, argc - 1, argv + 1);
    } else if (strcmp(argv[1], "spectrum") == 0) { /* spectrum */
        status = flexcl_cli_spectrum(MPI_COMM_WORLD, argc - 1, argv + 1);
    } else {
        if (world_rank == 0)
            fprintf(stderr, "flexcl: error: unknown command '%.120s' (try flexcl --help)\n", argv[1]);
        status = 2;
    }
    /* A file HDF5 failed to close (on a full disk, say) stays half-open
     * inside HDF5 1.10, whose shutdown in MPI_Finalize then crashes on it.
     * The failure has been reported and nothing complete was written, so
     * leave without the shutdown rather than end in a segfault. */
    if (H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_FILE) > 0) {
        fflush(stdout);
        fflush(stderr);
        _exit(status != 0 ? status : 1);
    }
    MPI_Finalize();
    return status;
}
