/* Runs a command and reports what it cost, on one line of stderr (or -o FILE):
 *
 *   wall_s user_s sys_s self_user_s self_sys_s maxrss_kib exit
 *
 * wall_s is the elapsed time from fork to exit (monotonic clock); user_s and sys_s are the CPU
 * time of the command and every descendant it waited for, and maxrss_kib the largest peak RSS
 * among them, as GNU time's %U %S %M report them (both come from wait4). self_user_s and
 * self_sys_s are the CPU time of the command's own process alone, without its children, read
 * from /proc while it is a zombie. exit is the exit status, or 128+N when killed by signal N.
 *
 *   cc -O2 -o runstat scripts/runstat.c && ./runstat -o stats.txt sleep 1
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* utime and stime (fields 14 and 15) of /proc/PID/stat, in seconds. */
static void self_cpu(pid_t pid, double *user, double *sys) {
  char path[64], buf[4096];
  *user = *sys = -1;
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return;
  ssize_t len = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (len <= 0) return;
  buf[len] = 0;
  char *p = strrchr(buf, ')'); /* the command name may contain spaces */
  if (!p) return;
  unsigned long ut, st;
  /* after ")": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return;
  long hz = sysconf(_SC_CLK_TCK);
  *user = (double)ut / hz;
  *sys = (double)st / hz;
}

int main(int argc, char **argv) {
  const char *out = NULL;
  int i = 1;
  if (i + 1 < argc && strcmp(argv[i], "-o") == 0) {
    out = argv[i + 1];
    i += 2;
  }
  if (i >= argc) {
    fprintf(stderr, "usage: runstat [-o FILE] COMMAND [ARG...]\n");
    return 2;
  }
  /* A SIGTERM from timeout(1) reaches us and the command alike; stay to reap and report. */
  signal(SIGTERM, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  double t0 = now();
  pid_t pid = fork();
  if (pid < 0) {
    perror("runstat: fork");
    return 2;
  }
  if (pid == 0) {
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    execvp(argv[i], argv + i);
    fprintf(stderr, "runstat: %s: %s\n", argv[i], strerror(errno));
    _exit(127);
  }
  siginfo_t info;
  while (waitid(P_PID, pid, &info, WEXITED | WNOWAIT) < 0) {
    if (errno != EINTR) {
      perror("runstat: waitid");
      return 2;
    }
  }
  double wall = now() - t0, su, ss;
  self_cpu(pid, &su, &ss);
  int status;
  struct rusage ru;
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) {
      perror("runstat: wait4");
      return 2;
    }
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  FILE *f = out ? fopen(out, "w") : stderr;
  if (!f) {
    perror(out);
    return 2;
  }
  fprintf(f, "%.6f %.3f %.3f %.3f %.3f %ld %d\n", wall, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
          ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, su, ss, ru.ru_maxrss, code);
  if (out) fclose(f);
  return code;
}
