/* LD_PRELOAD shim for the sanitize and fuzz suites: dlclose() does nothing.
 * Open MPI loads its components with dlopen and unloads the ones it does
 * not select; LeakSanitizer then cannot name the library behind the memory
 * those components keep for the process, and the suppressions in lsan.supp
 * (which match by library) would not apply. Keeping every shared object
 * loaded keeps their names. */
int dlclose(void *handle);

int dlclose(void *handle)
{
    (void)handle;
    return 0;
}
