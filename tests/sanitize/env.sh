# Sanitizer settings for the sanitize and fuzz suites; source it with
# sanitize_dir set to this directory and tree to the sanitizer tree.
# ASan: stop at the first error; allocation failures return NULL (flexcl
# reports them as FLEXCL_ERR_NOMEM). LeakSanitizer runs with the leaks of
# Open MPI, PMIx, hwloc, libevent, HDF5 and the OpenMP runtime suppressed by
# library (lsan.supp): they allocate once per process and never free; a
# preloaded shim keeps their components loaded so that LeakSanitizer can
# name them (nodlclose.c). UBSan: every report is fatal.
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:allocator_may_return_null=1:detect_odr_violation=0:check_initialization_order=1"
export LSAN_OPTIONS="suppressions=$sanitize_dir/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LD_PRELOAD="$tree.nodlclose.so${LD_PRELOAD:+ $LD_PRELOAD}"
