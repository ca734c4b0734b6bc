/* A test-only LD_PRELOAD library: stops a process with SIGKILL just before one of the steps that
 * put an output in place, so the fault tests can look at the target between any two of them
 * without a hook in keras64 itself.
 *
 * Steps are calls of rename, renameat, renameat2, unlink and unlinkat, counted from 1.
 *   KERAS64_STEP_LOG=FILE     appends "<call> <path> [<new path>]" per step to FILE
 *   KERAS64_KILL_AT_STEP=N    raises SIGKILL when step N is about to run (it does not run)
 * And one more fault of the same kind, a machine out of threads (RLIMIT_NPROC reached, which a
 * test run as root cannot provoke):
 *   KERAS64_NO_THREADS=1      pthread_create fails with EAGAIN (logged as "pthread_create refused")
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Appends "<call> <a>[ <b>]" to KERAS64_STEP_LOG, if set.
static void log_call(const char* call, const char* a, const char* b) {
  const char* log = getenv("KERAS64_STEP_LOG");
  if (!log) return;
  char line[8192];
  int n = snprintf(line, sizeof line, "%s %s%s%s\n", call, a, b ? " " : "", b ? b : "");
  int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0 && n > 0) {
    ssize_t w = write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    (void)w;
  }
  if (fd >= 0) close(fd);
}

static void step(const char* call, const char* a, const char* b) {
  static int count = 0;
  log_call(call, a, b);
  const char* at = getenv("KERAS64_KILL_AT_STEP");
  if (at && atoi(at) == ++count) raise(SIGKILL);
}

// The next definition of `name` (libc's), looked up once.
#define REAL(name)                      \
  static __typeof__(&name) real_##name; \
  if (!real_##name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

int rename(const char* a, const char* b) {
  REAL(rename);
  step("rename", a, b);
  return real_rename(a, b);
}

int renameat(int da, const char* a, int db, const char* b) {
  REAL(renameat);
  step("renameat", a, b);
  return real_renameat(da, a, db, b);
}

int renameat2(int da, const char* a, int db, const char* b, unsigned flags) {
  REAL(renameat2);
  step("renameat2", a, b);
  return real_renameat2(da, a, db, b, flags);
}

int unlink(const char* a) {
  REAL(unlink);
  step("unlink", a, NULL);
  return real_unlink(a);
}

int unlinkat(int d, const char* a, int flags) {
  REAL(unlinkat);
  step("unlinkat", a, NULL);
  return real_unlinkat(d, a, flags);
}

int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*),
                   void* arg) {
  REAL(pthread_create);
  const char* none = getenv("KERAS64_NO_THREADS");
  if (none && strcmp(none, "1") == 0) {
    log_call("pthread_create", "refused", NULL);
    return EAGAIN;
  }
  return real_pthread_create(thread, attr, start, arg);
}
