/* LD_PRELOAD shim: a file system without POSIX locks (common on cluster
 * scratch file systems). flock, lockf and fcntl's lock commands fail with
 * ENOLCK; every other fcntl goes to the C library. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/file.h>
#include <unistd.h>

int flock(int fd, int op) {
  (void)fd;
  (void)op;
  errno = ENOLCK;
  return -1;
}

int lockf(int fd, int cmd, off_t len) {
  (void)fd;
  (void)len;
  if (cmd == F_TEST || cmd == F_ULOCK) return 0;
  errno = ENOLCK;
  return -1;
}

static int is_lock_cmd(int cmd) {
  return cmd == F_SETLK || cmd == F_SETLKW || cmd == F_GETLK
#ifdef F_OFD_SETLK
         || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW || cmd == F_OFD_GETLK
#endif
      ;
}

int fcntl(int fd, int cmd, ...) {
  static int (*real)(int, int, ...) = 0;
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (is_lock_cmd(cmd)) {
    errno = ENOLCK;
    return -1;
  }
  if (!real) real = (int (*)(int, int, ...))dlsym(RTLD_NEXT, "fcntl");
  return real(fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return fcntl(fd, cmd, arg);
}
