/* LD_PRELOAD shim: a small disk. Files under $FULL_DISK_DIR share
 * $FULL_DISK_BYTES bytes: a write (write, pwrite, pwrite64) that would grow
 * them past it writes what fits and then fails with ENOSPC, as on a full
 * file system. Writes elsewhere go to the C library untouched (the MPI
 * runtime's own files, /dev, pipes). */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* The bytes the files of `dir` (not recursive) hold. */
static long long used_bytes(const char* dir) {
  long long used = 0;
  DIR* d = opendir(dir);
  if (!d) return 0;
  struct dirent* e;
  char path[PATH_MAX];
  struct stat st;
  while ((e = readdir(d)) != NULL) {
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) used += (long long)st.st_size;
  }
  closedir(d);
  return used;
}

/* How many of `n` bytes written at `offset` (-1: the end) of `fd` fit; -1
 * when the fd is not on the small disk. */
static long long room(int fd, size_t n, long long offset) {
  const char* dir = getenv("FULL_DISK_DIR");
  const char* cap = getenv("FULL_DISK_BYTES");
  if (!dir || !cap) return -1;
  char link[64], path[PATH_MAX];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  const ssize_t len = readlink(link, path, sizeof(path) - 1);
  if (len <= 0) return -1;
  path[len] = '\0';
  const size_t dlen = strlen(dir);
  if (strncmp(path, dir, dlen) != 0 || path[dlen] != '/') return -1;
  struct stat st;
  if (fstat(fd, &st) != 0) return -1;
  const long long end = offset < 0 ? (long long)st.st_size : offset;
  const long long growth = end + (long long)n - (long long)st.st_size;
  if (growth <= 0) return (long long)n;
  const long long free_bytes = atoll(cap) - used_bytes(dir);
  if (growth <= free_bytes) return (long long)n;
  const long long fits = (long long)n - growth + (free_bytes > 0 ? free_bytes : 0);
  return fits > 0 ? fits : 0;
}

ssize_t write(int fd, const void* buf, size_t n) {
  static ssize_t (*real)(int, const void*, size_t) = 0;
  if (!real) real = (ssize_t(*)(int, const void*, size_t))dlsym(RTLD_NEXT, "write");
  const long long fits = room(fd, n, -1);
  if (fits < 0 || fits == (long long)n) return real(fd, buf, n);
  if (fits == 0) {
    errno = ENOSPC;
    return -1;
  }
  return real(fd, buf, (size_t)fits);
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t offset) {
  static ssize_t (*real)(int, const void*, size_t, off_t) = 0;
  if (!real) real = (ssize_t(*)(int, const void*, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
  const long long fits = room(fd, n, (long long)offset);
  if (fits < 0 || fits == (long long)n) return real(fd, buf, n, offset);
  if (fits == 0) {
    errno = ENOSPC;
    return -1;
  }
  return real(fd, buf, (size_t)fits, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off_t offset) { return pwrite(fd, buf, n, offset); }
