/* The lock of a parts directory: while `flexcl run` works on OUT.parts/, its
 * rank 0 holds OUT.parts/lock, one line "HOST PID" (the short host name and
 * rank 0's pid). It is created atomically (a temporary file linked into
 * place), touched at least every FLEXCL_CLI_LOCK_HEARTBEAT seconds and
 * removed when the run ends; a second run of the same command refuses to
 * start while it is live, and replaces it when it is stale. `flexcl status`
 * reads it. None of these functions is collective: rank 0 calls them and
 * the driver broadcasts the outcome. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "flexcl/flexcl.h"

/* Attempts at replacing a stale lock before giving up: each one loses only
 * to another process that changed the lock at the same moment. */
enum { TAKE_ATTEMPTS = 8 };

void flexcl_cli_short_host(char *out, size_t n)
{
    char me[256] = "";
    gethostname(me, sizeof me - 1);
    char *dot = strchr(me, '.');
    if (dot) *dot = '\0';
    snprintf(out, n, "%s", me);
}

/* A killed process whose parent has not collected it yet still answers
 * kill(pid, 0); Linux shows it as state Z in /proc/PID/stat. */
static int zombie(long pid)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    const char *end = strrchr(line, ')'); /* after "PID (COMMAND)" */
    return end && end[1] == ' ' && end[2] == 'Z';
}

int flexcl_cli_lock_inspect(const char *path, flexcl_cli_lock_owner *who)
{
    struct stat st;
    char text[512] = "", me[256];
    long pid = 0;
    memset(who, 0, sizeof *who);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        /* Unreadable (permissions) but present: an owner we cannot name. */
        if (errno == ENOENT || stat(path, &st) != 0) return 0;
    } else {
        if (fstat(fd, &st) != 0) {
            close(fd);
            return 0;
        }
        ssize_t got = read(fd, text, sizeof text - 1);
        text[got > 0 ? got : 0] = '\0';
        close(fd);
    }
    who->dev = (unsigned long long)st.st_dev;
    who->ino = (unsigned long long)st.st_ino;
    time_t now = time(NULL);
    who->age = now > st.st_mtime ? (long)(now - st.st_mtime) : 0;
    if (sscanf(text, "%255s %ld", who->host, &pid) != 2 || pid <= 0 || pid > INT_MAX) {
        /* A lock without a readable owner: only its age tells. */
        who->host[0] = '\0';
        who->live = who->age < FLEXCL_CLI_LOCK_STALE;
        return 1;
    }
    who->pid = pid;
    flexcl_cli_short_host(me, sizeof me);
    who->same_host = strcmp(who->host, me) == 0;
    if (who->same_host)
        /* Our own pid in the lock can only be left by a dead process. */
        who->live = pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 || errno == EPERM) &&
                    !zombie(pid);
    else
        who->live = who->age < FLEXCL_CLI_LOCK_STALE;
    return 1;
}

/* "pid 1234 on node7" or, for an owner that cannot be read, "an unknown
 * process". */
static void owner_name(const flexcl_cli_lock_owner *who, char *out, size_t n)
{
    if (who->pid > 0) snprintf(out, n, "pid %ld on %s", who->pid, who->host);
    else snprintf(out, n, "an unknown process");
}

/* Write "HOST PID" into a new file at path. Returns 0 or an errno. */
static int write_owner(const char *path, int flags)
{
    char host[256], line[300];
    flexcl_cli_short_host(host, sizeof host);
    int len = snprintf(line, sizeof line, "%s %ld\n", host, (long)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
    if (fd < 0) return errno;
    int e = write(fd, line, (size_t)len) == (ssize_t)len ? 0 : (errno ? errno : EIO);
    if (close(fd) != 0 && e == 0) e = errno;
    if (e) unlink(path);
    return e;
}

/* Is the lock at path ours (this host, this pid)? */
static int ours(const char *path)
{
    flexcl_cli_lock_owner who;
    char host[256];
    flexcl_cli_short_host(host, sizeof host);
    return flexcl_cli_lock_inspect(path, &who) && who.pid == (long)getpid() &&
           strcmp(who.host, host) == 0;
}

int flexcl_cli_lock_take(const char *parts, char *msg, size_t n)
{
    char lock[FLEXCL_PATH_MAX + 16], tmp[FLEXCL_PATH_MAX + 320], aside[FLEXCL_PATH_MAX + 320];
    char host[256], name[320];
    int e;
    flexcl_cli_short_host(host, sizeof host);
    snprintf(lock, sizeof lock, "%s/lock", parts);
    snprintf(tmp, sizeof tmp, "%s/lock.%s.%ld", parts, host, (long)getpid());
    snprintf(aside, sizeof aside, "%s/lock.stale.%s.%ld", parts, host, (long)getpid());
    /* The complete line goes into a file of our own first and is linked
     * into place: the lock appears atomically with its owner in it. */
    if ((e = write_owner(tmp, O_TRUNC)) != 0) {
        snprintf(msg, n, "%s: cannot write: %s", tmp, strerror(e));
        return 2;
    }
    for (int attempt = 0; attempt < TAKE_ATTEMPTS; ++attempt) {
        e = link(tmp, lock) == 0 ? 0 : errno;
        if (e == EPERM || e == ENOTSUP || e == EOPNOTSUPP || e == ENOSYS)
            /* A file system without hard links: O_EXCL is atomic too (the
             * owner is written right after). */
            e = write_owner(lock, O_EXCL);
        if (e == 0) {
            unlink(tmp);
            return 0;
        }
        if (e != EEXIST) {
            unlink(tmp);
            snprintf(msg, n, "%s: cannot create: %s", lock, strerror(e));
            return 2;
        }
        flexcl_cli_lock_owner who;
        if (!flexcl_cli_lock_inspect(lock, &who)) continue; /* just removed: try again */
        if (who.live) {
            unlink(tmp);
            owner_name(&who, name, sizeof name);
            if (who.same_host)
                snprintf(msg, n, "%s is in use by %s (%s); not starting a second copy", parts,
                         name, lock);
            else
                snprintf(msg, n, "%s is in use by %s (%s, touched %ld s ago); not starting a "
                         "second copy", parts, name, lock, who.age);
            return 1;
        }
        /* Stale. Move it aside rather than unlink it: if another process
         * replaced it since we looked, we moved a live lock and put it back. */
        if (rename(lock, aside) != 0) {
            if (errno == ENOENT) continue;
            e = errno;
            unlink(tmp);
            snprintf(msg, n, "%s: cannot replace a stale lock: %s", lock, strerror(e));
            return 2;
        }
        struct stat st;
        if (stat(aside, &st) == 0 && ((unsigned long long)st.st_dev != who.dev ||
                                      (unsigned long long)st.st_ino != who.ino)) {
            /* (Unless yet another lock has appeared since: that one wins.) */
            int back = link(aside, lock);
            (void)back;
            unlink(aside);
            continue;
        }
        unlink(aside);
        owner_name(&who, name, sizeof name);
        if (who.pid > 0 && who.same_host)
            fprintf(stderr, "flexcl: warning: replaced the stale lock %s of %s (that process is "
                    "not running)\n", lock, name);
        else
            fprintf(stderr, "flexcl: warning: replaced the stale lock %s of %s (not touched for "
                    "%ld s)\n", lock, name, who.age);
        fflush(stderr);
    }
    unlink(tmp);
    snprintf(msg, n, "%s: could not take the lock after %d attempts (other processes keep "
             "changing it)", lock, (int)TAKE_ATTEMPTS);
    return 2;
}

int flexcl_cli_lock_touch(const char *parts)
{
    char lock[FLEXCL_PATH_MAX + 16];
    snprintf(lock, sizeof lock, "%s/lock", parts);
    return utimensat(AT_FDCWD, lock, NULL, 0) == 0 ? 0 : errno;
}

void flexcl_cli_lock_release(const char *parts)
{
    char lock[FLEXCL_PATH_MAX + 16];
    snprintf(lock, sizeof lock, "%s/lock", parts);
    /* Never remove a lock that another run has taken over meanwhile. */
    if (ours(lock)) unlink(lock);
}
