/* weak_scaling and averaging: learners through the public learner API
 * (flexcl/learner.h), run under mpiexec -n 2, one OpenMP thread per rank.
 *
 * The workload is the authors' setting: an RBM with 16 hidden units on 4x4
 * bars and stripes, ISD (b = 0.5, τ = 200 fixed), batch 1, L = 4 learners
 * per rank, replicas starting equal.
 *
 *   weak_scaling  learner-steps per second per rank with both ranks working
 *                 on one communicator (overlapped averages every A = 1000
 *                 steps, the mode meant for throughput) over the same
 *                 figure with rank 0 working alone on MPI_COMM_SELF while
 *                 rank 1 sleeps; goal >= 0.95. Printed above it: the same
 *                 ratio with blocking averages (`weak_scaling_blocking:`)
 *                 and without any averaging (A = 0, the ranks never
 *                 communicate; `weak_scaling_no_averaging:`), the ceiling
 *                 two processes reach on this machine's vCPUs.
 *   averaging     time per step with no averaging over time per step with
 *                 averages every A = 100 steps on both ranks; A = 10 and
 *                 A = 1000 printed too; goal >= 0.98. Both modes are timed:
 *                 blocking (its ratio on the line `averaging_blocking:`)
 *                 and overlapped, the mode meant for throughput, whose
 *                 ratio is the final line `averaging:`. Blocking averages
 *                 make every rank wait for the slowest at every t_k, and
 *                 ISD learners are unevenly loaded by design (a negative
 *                 phase costs about twice a positive one, phase types are
 *                 random); overlapped lets a rank run up to D steps ahead
 *                 of the others (flexcl_averaging_delay). The same figures
 *                 under two_term, whose learners all carry the same load,
 *                 are printed first (`averaging_two_term:`): they are the
 *                 cost of averaging without the waits for a slower rank.
 *                 Two last configurations, overlapped with the delays
 *                 D = A and D = 4A (run.average_delay) instead of ⌈A/2⌉,
 *                 print the lines `averaging_delay_A:` and
 *                 `averaging_delay_4A:` (staler averages, fewer waits; at
 *                 4A, four averages are in flight at once), and with the
 *                 sliced exchange (run.average_exchange = sliced: three
 *                 collectives per average), `averaging_sliced:`, and with
 *                 the allgather (one collective), `averaging_allgather:`.
 *                 Every other configuration takes the default exchange,
 *                 auto, which on one node is the shared-memory window
 *                 (since session 13; the table names each). Then the
 *                 same 8 learners on rank 0 alone (rank 1 idle), isd and
 *                 two_term, lines `averaging_one_rank:` and
 *                 `averaging_one_rank_two_term:`: averaging without a
 *                 second process (no exchange, no waits for another rank,
 *                 and twice the learner work per rank to share the cost
 *                 of the mean over), so the 2-rank lines' remainder is
 *                 what running on two ranks adds, not separated further.
 *                 Figures are paired medians (see averaging() below).
 *                 Then the same isd table for a larger learner, the
 *                 authors' bMNIST RBM (16 hidden units on 794 visible:
 *                 binarised Fashion-MNIST pixels and 10 label units, no
 *                 visible bias, the first 1000 training rows), line
 *                 `averaging_bfmnist:` (and `averaging_bfmnist_blocking:`,
 *                 `averaging_bfmnist_delay_4A:`). Its step is about 60
 *                 times the BAS RBM's, so this line shows what averaging
 *                 costs a learner doing real work, while `averaging:`
 *                 (BAS) measures its latency. It is skipped, with a line
 *                 saying so, when the Fashion-MNIST files are missing.
 * weak_scaling's figure is a paired median too: WEAK_ROUNDS rounds, each
 * one run alone and one together (which goes first alternates), the
 * round's ratio is alone time / together time (the same steps per rank),
 * and the figure is the median over rounds with quartiles. Session 8 took
 * the best of 3 unpaired runs of each instead; a drift of the machine's
 * speed between the runs then decided the figure.
 *
 * Usage: mpiexec -n 2 scaling weak_scaling|averaging [STEPS [A of weak_scaling]] */
#include <mpi.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "flexcl/data.h"
#include "flexcl/learner.h"
#include "flexcl/model.h"
#include "flexcl/optim.h"

enum { L = 4, WEAK_ROUNDS = 11 };

typedef struct {
    const flexcl_data *data;
    flexcl_model_settings ms;
    flexcl_estimator_settings es;
    flexcl_optim_settings os;
} workload;

/* Seconds for every learner of comm to advance `steps` steps (the slowest
 * rank's time), or a negative value on failure. Collective on comm. */
static double run(MPI_Comm comm, const workload *w, uint64_t A, flexcl_averaging mode,
                  uint64_t steps)
{
    flexcl_learner_settings ls;
    flexcl_learner_settings_default(&ls);
    ls.learners_per_rank = L;
    ls.average_every = A;
    ls.averaging = mode;
    flexcl_learner *l = NULL;
    if (flexcl_learner_create(comm, &ls, &w->ms, &w->es, &w->os, w->data, 1, &l) != FLEXCL_OK) {
        fprintf(stderr, "scaling: %s\n", flexcl_error_message());
        return -1.0;
    }
    flexcl_learner_advance(l, 1000); /* warm up (not timed) */
    MPI_Barrier(comm);
    double t0 = MPI_Wtime();
    flexcl_code rc = flexcl_learner_advance(l, steps);
    double mine = MPI_Wtime() - t0, worst = 0.0;
    MPI_Allreduce(&mine, &worst, 1, MPI_DOUBLE, MPI_MAX, comm);
    flexcl_learner_destroy(&l);
    if (rc != FLEXCL_OK) {
        fprintf(stderr, "scaling: %s\n", flexcl_error_message());
        return -1.0;
    }
    return worst;
}

/* Rank 1 waits without spinning (so rank 0 alone has a core to itself). */
static void idle_barrier(MPI_Comm comm, int rank)
{
    MPI_Request req;
    MPI_Ibarrier(comm, &req);
    int done = 0;
    while (!done) {
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (!done && rank != 0) usleep(2000);
    }
}

/* The averaging figures, paired: one learner object per configuration
 * (A = 0; A = 100, 10, 1000 blocking and overlapped; overlapped A = 100
 * with D = A and D = 4A), `lpr` learners per rank on comm (collective on
 * comm; any rank's failure stops every rank), all created up front; each
 * round advances every learner by CHUNK steps, in an order rotated every
 * round, and the round's ratio for a configuration is the A = 0 chunk's
 * time over its own. The figure is the median of the per-round ratios: the
 * two chunks of a pair run a few milliseconds apart, so drifts of the
 * machine's speed (frequency, neighbours; measured: the A = 0 step time
 * varies 1.07-1.33 us between runs of the same binary) cancel in each
 * ratio instead of deciding which configuration's best run was luckier.
 * CHUNK is a multiple of every A, so every chunk holds the same averaging
 * points; an overlapped average started at a chunk's end completes in the
 * learner's next chunk, as it would in a run. Returns nonzero on failure. */
enum { AVG_CONFIGS = 11, AVG_ROUNDS = 31 };
/* Indices of averaging()'s configurations in its med[] output. */
enum { C_NONE, C_BLOCKING, C_OVERLAPPED = 4, C_DELAY_A = 7, C_DELAY_4A, C_SLICED, C_ALLGATHER };

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int averaging(MPI_Comm comm, int lpr, const workload *w, int rank, uint64_t chunk,
                     const char *title, double med[AVG_CONFIGS])
{
    const uint64_t As[AVG_CONFIGS] = {0, 100, 10, 1000, 100, 10, 1000, 100, 100, 100, 100};
    const flexcl_averaging modes[AVG_CONFIGS] = {
        FLEXCL_AVERAGING_BLOCKING,   FLEXCL_AVERAGING_BLOCKING,   FLEXCL_AVERAGING_BLOCKING,
        FLEXCL_AVERAGING_BLOCKING,   FLEXCL_AVERAGING_OVERLAPPED, FLEXCL_AVERAGING_OVERLAPPED,
        FLEXCL_AVERAGING_OVERLAPPED, FLEXCL_AVERAGING_OVERLAPPED, FLEXCL_AVERAGING_OVERLAPPED,
        FLEXCL_AVERAGING_OVERLAPPED, FLEXCL_AVERAGING_OVERLAPPED};
    /* Then overlapped with the delays D = A and D = 4A (run.average_delay;
     * 4 averages in flight at once); the last two, overlapped A = 100 with
     * the sliced exchange (three collectives per average instead of one)
     * and with the allgather (one collective; the default before the
     * shared exchange). The others take the default, auto: on one node
     * the shared exchange. */
    const uint64_t delays[AVG_CONFIGS] = {0, 0, 0, 0, 0, 0, 0, 100, 400, 0, 0};
    const flexcl_exchange exch[AVG_CONFIGS] = {
        [C_SLICED] = FLEXCL_EXCHANGE_SLICED, [C_ALLGATHER] = FLEXCL_EXCHANGE_ALLGATHER};
    flexcl_learner *l[AVG_CONFIGS] = {NULL};
    static double t[AVG_CONFIGS][AVG_ROUNDS], ratio[AVG_CONFIGS][AVG_ROUNDS];
    int failed = 0;
    chunk -= chunk % 1000;
    if (chunk == 0) chunk = 1000;
    for (int c = 0; c < AVG_CONFIGS && !failed; ++c) {
        flexcl_learner_settings ls;
        flexcl_learner_settings_default(&ls);
        ls.learners_per_rank = lpr;
        ls.average_every = As[c];
        ls.averaging = modes[c];
        ls.average_delay = delays[c];
        ls.exchange = exch[c];
        failed |= flexcl_learner_create(comm, &ls, &w->ms, &w->es, &w->os, w->data, 1, &l[c]) !=
                  FLEXCL_OK;
        if (!failed) failed |= flexcl_learner_advance(l[c], 1000) != FLEXCL_OK; /* warm up */
        MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, comm); /* every rank stops */
    }
    /* Each rank's seconds waiting for averages during the rounds
     * (flexcl_learner_wait_seconds), against the rounds' summed time. */
    double wait0[AVG_CONFIGS] = {0}, waits[AVG_CONFIGS] = {0}, wmax[AVG_CONFIGS] = {0},
           wmin[AVG_CONFIGS] = {0}, total[AVG_CONFIGS] = {0};
    for (int c = 0; c < AVG_CONFIGS && !failed; ++c) wait0[c] = flexcl_learner_wait_seconds(l[c]);
    for (int r = 0; r < AVG_ROUNDS && !failed; ++r)
        for (int k = 0; k < AVG_CONFIGS && !failed; ++k) {
            const int c = (k + r) % AVG_CONFIGS;
            MPI_Barrier(comm);
            double t0 = MPI_Wtime();
            int bad = flexcl_learner_advance(l[c], chunk) != FLEXCL_OK;
            /* The slowest rank's time, and whether any rank failed. */
            double v[2] = {MPI_Wtime() - t0, (double)bad}, all[2];
            MPI_Allreduce(v, all, 2, MPI_DOUBLE, MPI_MAX, comm);
            t[c][r] = all[0];
            total[c] += all[0];
            failed |= all[1] != 0.0;
        }
    for (int c = 0; c < AVG_CONFIGS && !failed; ++c)
        waits[c] = flexcl_learner_wait_seconds(l[c]) - wait0[c];
    if (!failed) {
        MPI_Allreduce(waits, wmax, AVG_CONFIGS, MPI_DOUBLE, MPI_MAX, comm);
        MPI_Allreduce(waits, wmin, AVG_CONFIGS, MPI_DOUBLE, MPI_MIN, comm);
    }
    if (failed) fprintf(stderr, "scaling: %s\n", flexcl_error_message());
    if (rank == 0 && !failed) {
        printf("%s: %d rounds of %llu steps per configuration, order rotated every round; "
               "ratio = median over rounds of (A = 0 chunk time / this chunk time), "
               "[quartiles]; waiting: the ranks' (least-most) share of the rounds' time spent "
               "waiting for averages\n",
               title, AVG_ROUNDS, (unsigned long long)chunk);
        for (int c = 0; c < AVG_CONFIGS; ++c) {
            double ts[AVG_ROUNDS];
            for (int r = 0; r < AVG_ROUNDS; ++r) {
                ratio[c][r] = t[0][r] / t[c][r];
                ts[r] = t[c][r];
            }
            qsort(ratio[c], AVG_ROUNDS, sizeof(double), cmp_double);
            qsort(ts, AVG_ROUNDS, sizeof(double), cmp_double);
            med[c] = ratio[c][AVG_ROUNDS / 2];
            const char *d = !delays[c]             ? "     "
                            : delays[c] == As[c]     ? " D=A "
                            : delays[c] == 4 * As[c] ? " D=4A"
                                                     : " D=? ";
            printf("%-10s A=%-5llu%s %-9s %.3f us per step (median); no-averaging/this = %.3f "
                   "[%.3f, %.3f]; waiting %.1f-%.1f %%\n",
                   flexcl_averaging_name(modes[c]), (unsigned long long)As[c], d,
                   As[c] ? flexcl_exchange_name(flexcl_learner_exchange(l[c])) : "-",
                   1e6 * ts[AVG_ROUNDS / 2] / (double)chunk, med[c],
                   ratio[c][AVG_ROUNDS / 4], ratio[c][3 * AVG_ROUNDS / 4],
                   100 * wmin[c] / total[c], 100 * wmax[c] / total[c]);
        }
    }
    for (int c = 0; c < AVG_CONFIGS; ++c) flexcl_learner_destroy(&l[c]);
    return failed;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    /* One OpenMP thread per rank whatever the environment: two ranks fill
     * the two cores, and a second thread per rank (OMP_NUM_THREADS unset
     * by a run outside meson) would oversubscribe them. */
    omp_set_num_threads(1);
    const char *what = argc > 1 ? argv[1] : "weak_scaling";
    int weak = strcmp(what, "weak_scaling") == 0;
    uint64_t steps = argc > 2 ? strtoull(argv[2], NULL, 10) : weak ? 100000 : 50000;
    uint64_t weak_A = argc > 3 ? strtoull(argv[3], NULL, 10) : 1000;
    if ((!weak && strcmp(what, "averaging") != 0) || size != 2) {
        if (rank == 0) fprintf(stderr, "usage: mpiexec -n 2 scaling weak_scaling|averaging [STEPS]\n");
        MPI_Finalize();
        return 2;
    }
    flexcl_data *d = NULL;
    if (flexcl_data_create_bas(4, &d) != FLEXCL_OK) {
        fprintf(stderr, "scaling: %s\n", flexcl_error_message());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    workload w = {.data = d};
    flexcl_model_settings_default(&w.ms);
    flexcl_estimator_settings_default(&w.es);
    flexcl_optim_settings_default(&w.os);
    if (rank == 0)
        printf("%s: RBM 16x16 on 4x4 BAS, ISD b=0.5 tau=200, batch 1, %d learners per rank, "
               "%llu steps per figure, 2 ranks\n",
               what, L, (unsigned long long)steps);
    int failed = 0;
    if (weak) {
        /* Three configurations: no averaging at all (A = 0: the two ranks
         * never communicate, so its ratio is the machine's own ceiling, two
         * processes on two vCPUs; line weak_scaling_no_averaging:),
         * blocking averages every weak_A steps (line
         * weak_scaling_blocking:) and overlapped ones, the mode meant for
         * throughput (the final line, as for averaging:). Each round runs
         * the three configurations as pairs (alone, together) back to back,
         * the configurations' order rotated and the pair's first run
         * alternating from round to round. */
        enum { WC = 3 };
        const uint64_t wA[WC] = {0, weak_A, weak_A};
        const flexcl_averaging wm[WC] = {FLEXCL_AVERAGING_BLOCKING, FLEXCL_AVERAGING_BLOCKING,
                                         FLEXCL_AVERAGING_OVERLAPPED};
        static double alone[WC][WEAK_ROUNDS], together[WC][WEAK_ROUNDS];
        for (int r = 0; r < WEAK_ROUNDS && !failed; ++r)
            for (int k = 0; k < 2 * WC && !failed; ++k) {
                /* Pair k/2 of the round is configuration mo, its two runs
                 * back to back, the first of them alternating. */
                const int p = k / 2, mo = (p + r) % WC;
                const int alone_now = (k % 2 == 0) == ((p + r) % 2 == 0);
                if (alone_now) { /* rank 0 alone, rank 1 asleep */
                    if (rank == 0) {
                        alone[mo][r] = run(MPI_COMM_SELF, &w, wA[mo], wm[mo], steps);
                        failed |= alone[mo][r] < 0;
                    }
                    idle_barrier(MPI_COMM_WORLD, rank);
                    MPI_Bcast(&failed, 1, MPI_INT, 0, MPI_COMM_WORLD);
                } else {
                    together[mo][r] = run(MPI_COMM_WORLD, &w, wA[mo], wm[mo], steps);
                    failed |= together[mo][r] < 0;
                }
            }
        if (rank == 0 && !failed) {
            double med[WC];
            for (int mo = 0; mo < WC; ++mo) {
                double ratio[WEAK_ROUNDS];
                for (int r = 0; r < WEAK_ROUNDS; ++r) ratio[r] = alone[mo][r] / together[mo][r];
                qsort(ratio, WEAK_ROUNDS, sizeof(double), cmp_double);
                qsort(alone[mo], WEAK_ROUNDS, sizeof(double), cmp_double);
                qsort(together[mo], WEAK_ROUNDS, sizeof(double), cmp_double);
                const int m = WEAK_ROUNDS / 2;
                med[mo] = ratio[m];
                printf("%-10s A=%-5llu %d paired rounds; median 1 rank: %.3f M learner-steps/s; "
                       "2 ranks: %.3f M per rank; ratio %.3f [quartiles %.3f, %.3f]\n",
                       wA[mo] ? flexcl_averaging_name(wm[mo]) : "none", (unsigned long long)wA[mo],
                       WEAK_ROUNDS,
                       L * (double)steps / alone[mo][m] * 1e-6,
                       L * (double)steps / together[mo][m] * 1e-6, med[mo],
                       ratio[WEAK_ROUNDS / 4], ratio[3 * WEAK_ROUNDS / 4]);
            }
            printf("weak_scaling_no_averaging: ratio=%.3f (the machine's ceiling)\n", med[0]);
            printf("weak_scaling_blocking: ratio=%.3f goal=0.95\n", med[1]);
            printf("final line: overlapped averages every A = %llu steps\n",
                   (unsigned long long)weak_A);
            bench_result("weak_scaling", med[2], 0.95);
        }
    } else {
        /* First the same learners under two_term (CD-200 from the data,
         * every learner in the same phase at every step, so the ranks carry
         * equal loads): its ratios are the cost of the averaging itself.
         * Then the benchmark's workload, ISD, whose ratios add the waits for
         * the rank with more negative phases. */
        double tt[AVG_CONFIGS] = {0}, isd[AVG_CONFIGS] = {0};
        workload two = w;
        two.es.kind = FLEXCL_EST_TWO_TERM;
        failed = averaging(MPI_COMM_WORLD, L, &two, rank, steps, "two_term (equal loads)", tt);
        if (!failed)
            failed = averaging(MPI_COMM_WORLD, L, &w, rank, steps, "isd (the benchmark)", isd);
        /* The same 2L learners on rank 0 alone (rank 1 waits without
         * spinning): what averaging costs without a second process, i.e.
         * its arithmetic and the exchange's local copies. */
        double one[AVG_CONFIGS] = {0}, one_t[AVG_CONFIGS] = {0};
        if (!failed && rank == 0)
            failed = averaging(MPI_COMM_SELF, 2 * L, &w, rank, steps,
                               "isd, the same 8 learners on one rank", one);
        if (!failed && rank == 0)
            failed = averaging(MPI_COMM_SELF, 2 * L, &two, rank, steps,
                               "two_term, the same 8 learners on one rank", one_t);
        idle_barrier(MPI_COMM_WORLD, rank);
        MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        if (rank == 0 && !failed) {
            printf("load %.2f\n", bench_load());
            printf("averaging_two_term_blocking: ratio=%.3f goal=0.98\n", tt[C_BLOCKING]);
            printf("averaging_two_term: ratio=%.3f goal=0.98 (allgather %.3f)\n", tt[C_OVERLAPPED],
                   tt[C_ALLGATHER]);
            printf("averaging_blocking: ratio=%.3f goal=0.98\n", isd[C_BLOCKING]);
            printf("averaging_delay_A: ratio=%.3f goal=0.98 (overlapped, run.average_delay = A)\n",
                   isd[C_DELAY_A]);
            printf("averaging_delay_4A: ratio=%.3f goal=0.98 (overlapped, run.average_delay = 4A; "
                   "two_term %.3f)\n",
                   isd[C_DELAY_4A], tt[C_DELAY_4A]);
            printf("averaging_sliced: ratio=%.3f goal=0.98 (overlapped, run.average_exchange = "
                   "sliced; two_term %.3f)\n",
                   isd[C_SLICED], tt[C_SLICED]);
            printf("averaging_allgather: ratio=%.3f goal=0.98 (overlapped, run.average_exchange = "
                   "allgather; two_term %.3f)\n",
                   isd[C_ALLGATHER], tt[C_ALLGATHER]);
            printf("averaging_one_rank_two_term: ratio=%.3f goal=0.98 (overlapped; blocking "
                   "%.3f)\n",
                   one_t[C_OVERLAPPED], one_t[C_BLOCKING]);
            printf("averaging_one_rank: ratio=%.3f goal=0.98 (overlapped, the 8 learners on one "
                   "rank; blocking %.3f)\n",
                   one[C_OVERLAPPED], one[C_BLOCKING]);
        }
        /* The bMNIST RBM of jobs/brobust_fmnist.ini, at 2000 steps per
         * chunk (its step is ~13 us per learner). */
        flexcl_data *fd = NULL;
        int have = !failed && bench_fmnist(1, 1000, &fd) == FLEXCL_OK;
        double fm[AVG_CONFIGS] = {0};
        if (have) {
            workload f = w;
            f.data = fd;
            f.ms.visible_bias = 0;
            failed = averaging(MPI_COMM_WORLD, L, &f, rank, 2000,
                               "isd, bFMNIST RBM 794x16 (first 1000 rows)", fm);
        }
        if (rank == 0 && !failed) {
            if (have) {
                printf("averaging_bfmnist_blocking: ratio=%.3f goal=0.98\n", fm[C_BLOCKING]);
                printf("averaging_bfmnist_delay_4A: ratio=%.3f goal=0.98\n", fm[C_DELAY_4A]);
                printf("averaging_bfmnist_sliced: ratio=%.3f goal=0.98\n", fm[C_SLICED]);
                printf("averaging_bfmnist_allgather: ratio=%.3f goal=0.98\n", fm[C_ALLGATHER]);
                printf("averaging_bfmnist: ratio=%.3f goal=0.98 (overlapped, A = 100)\n",
                       fm[C_OVERLAPPED]);
            } else {
                printf("averaging_bfmnist: skipped: %s\n", flexcl_error_message());
            }
            printf("final line: overlapped averaging, A = 100, isd, BAS RBM\n");
            bench_result("averaging", isd[C_OVERLAPPED], 0.98);
        }
        flexcl_data_destroy(&fd);
    }
    flexcl_data_destroy(&d);
    MPI_Finalize();
    return failed;
}
