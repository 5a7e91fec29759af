/* The machine's ceiling for a parallel runner: starts N copies of a program (default /bin/true;
 * give its full path, it is not looked up in PATH), at most J at once, with posix_spawn, and reaps
 * them with waitpid. No pipes, no process groups, no output handling: any real runner does at
 * least this much work per job. With -a FILE, there is one job per line of FILE, the line
 * appended as the program's last argument (a pool with zero overhead of its own).
 *
 *   cc -O2 -o spawn_loop scripts/spawn_loop.c
 *   ./spawn_loop 5000 8                          # 5000 x /bin/true, 8 at a time
 *   ./spawn_loop 500 100 /bin/sleep 1            # 500 x sleep 1, 100 at a time
 *   ./spawn_loop -a durations.txt 4 /bin/sleep   # sleep LINE for each line, 4 at a time
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

static void usage(const char *me) {
  fprintf(stderr, "usage: %s N J [PROGRAM [ARG...]]\n       %s -a FILE J PROGRAM [ARG...]\n", me, me);
  exit(2);
}

int main(int argc, char **argv) {
  FILE *in = NULL;
  long n = -1;
  if (argc < 3) usage(argv[0]);
  if (strcmp(argv[1], "-a") == 0) {
    if (argc < 5) usage(argv[0]);
    in = fopen(argv[2], "r");
    if (!in) {
      perror(argv[2]);
      return 2;
    }
    argv += 1; /* now argv[2] is J and argv[3] the program, as without -a */
    argc -= 1;
  } else {
    n = strtol(argv[1], NULL, 10);
  }
  long j = strtol(argv[2], NULL, 10);
  if ((!in && n < 0) || j < 1) {
    fprintf(stderr, "spawn_loop: N must be >= 0 and J >= 1\n");
    return 2;
  }
  int nargs = argc > 3 ? argc - 3 : 1;
  char **args = calloc(nargs + 2, sizeof *args);
  if (!args) return 2;
  if (argc > 3) {
    for (int i = 0; i < nargs; i++) args[i] = argv[3 + i];
  } else {
    args[0] = "/bin/true";
  }
  char *prog = args[0];
  char *line = NULL;
  size_t cap = 0;
  long started = 0, running = 0, failed = 0;
  int more = 1;
  while (more || running > 0) {
    while (more && running < j) {
      if (in) {
        ssize_t len = getline(&line, &cap, in);
        if (len < 0) {
          more = 0;
          break;
        }
        if (len > 0 && line[len - 1] == '\n') line[len - 1] = 0;
        args[nargs] = line;
      } else if (started >= n) {
        more = 0;
        break;
      }
      pid_t pid;
      int err = posix_spawn(&pid, prog, NULL, NULL, args, environ);
      if (err != 0) {
        fprintf(stderr, "spawn_loop: %s: %s\n", prog, strerror(err));
        return 1;
      }
      started++;
      running++;
    }
    if (running == 0) continue;
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      perror("spawn_loop: waitpid");
      return 1;
    }
    running--;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
  }
  return failed ? 1 : 0;
}
