#include "tasks/adopted.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <unordered_set>

#include "core/file_io.h"

namespace taskpool {

namespace {

using namespace std::chrono_literals;

// After the SIGKILL: how long to wait for the last ones to go before leaving them be.
constexpr Duration kKilledPatience = 3s;
// How often to look again while adopted processes end.
constexpr Duration kLookInterval = 10ms;

// The whole text of a small /proc file, or empty.
std::string read_proc_file(const std::string& path) {
  std::string text;
  if (read_whole_file(path, text) != 0) text.clear();
  return text;
}

void add_numbers(const std::string& text, std::vector<pid_t>& out) {
  const char* p = text.c_str();
  while (*p != '\0') {
    char* end = nullptr;
    const long value = std::strtol(p, &end, 10);
    if (end == p) {
      ++p;
      continue;
    }
    if (value > 0) out.push_back(static_cast<pid_t>(value));
    p = end;
  }
}

// Without CONFIG_PROC_CHILDREN: every process whose parent is this one.
std::vector<pid_t> children_by_scan() {
  std::vector<pid_t> children;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return children;
  const pid_t self = getpid();
  while (const dirent* entry = readdir(proc)) {
    if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
    const std::string stat = read_proc_file(std::string("/proc/") + entry->d_name + "/stat");
    // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses, so from the last ')'.
    const size_t close = stat.rfind(')');
    if (close == std::string::npos || close + 4 >= stat.size()) continue;
    const long parent = std::strtol(stat.c_str() + close + 4, nullptr, 10);
    if (parent == self) children.push_back(static_cast<pid_t>(std::atol(entry->d_name)));
  }
  closedir(proc);
  return children;
}

// Signals an adopted process, and its whole group when it leads one of its own (a setsid
// daemon's); never taskpool's own group.
void signal_adopted(pid_t pid, int sig) {
  const pid_t group = getpgid(pid);
  if (group == pid && group != getpgrp()) kill(-pid, sig);
  kill(pid, sig);
}

}  // namespace

bool become_child_subreaper() { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0; }

bool is_child_subreaper() {
  int flag = 0;
  return prctl(PR_GET_CHILD_SUBREAPER, &flag, 0, 0, 0) == 0 && flag != 0;
}

std::vector<pid_t> child_processes() {
  std::vector<pid_t> children;
  // One thread (the directory's link count is 2 and one a thread): its own list, without
  // reading the directory. (Without CONFIG_PROC_CHILDREN the list cannot be opened: below.)
  struct stat task_dir = {};
  std::string own_list;
  if (stat("/proc/self/task", &task_dir) == 0 && task_dir.st_nlink == 3 &&
      read_whole_file("/proc/thread-self/children", own_list) == 0) {
    add_numbers(own_list, children);
    std::sort(children.begin(), children.end());
    return children;
  }
  DIR* tasks = opendir("/proc/self/task");
  if (tasks == nullptr) return children_by_scan();
  bool readable = true;
  while (const dirent* entry = readdir(tasks)) {
    if (entry->d_name[0] == '.') continue;
    const std::string path = std::string("/proc/self/task/") + entry->d_name + "/children";
    if (::access(path.c_str(), R_OK) != 0) {
      readable = false;
      break;
    }
    add_numbers(read_proc_file(path), children);
  }
  closedir(tasks);
  if (!readable) return children_by_scan();
  std::sort(children.begin(), children.end());
  children.erase(std::unique(children.begin(), children.end()), children.end());
  return children;
}

void end_adopted_children(const std::function<bool(pid_t)>& spare, Duration kill_after) {
  const TimePoint kill_at = std::chrono::steady_clock::now() + kill_after;
  std::unordered_set<pid_t> told;  // got SIGTERM
  bool killing = false;
  for (;;) {
    const TimePoint now = std::chrono::steady_clock::now();
    if (!killing && now >= kill_at) killing = true;
    bool left = false;
    for (const pid_t pid : child_processes()) {
      if (spare(pid)) continue;
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) continue;  // ended: reaped
      left = true;
      if (killing) {
        signal_adopted(pid, SIGKILL);
      } else if (told.insert(pid).second) {
        signal_adopted(pid, SIGTERM);
        signal_adopted(pid, SIGCONT);
      }
    }
    if (!left || (killing && now >= kill_at + kKilledPatience)) return;
    std::this_thread::sleep_for(kLookInterval);
  }
}

}  // namespace taskpool
