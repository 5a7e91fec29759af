// Processes that left their job's process group (setsid, a daemon's double fork) and outlived
// their parent. As a child subreaper, taskpool gets them back as children of its own: it reaps
// them when they end (no zombie), and ends those still there when the run is over.
#pragma once

#include <sys/types.h>

#include <functional>
#include <vector>

#include "core/time.h"

namespace taskpool {

// Makes this process the child subreaper of everything it starts (PR_SET_CHILD_SUBREAPER):
// a descendant whose parent ends becomes its child, not init's. Returns false when the system
// does not allow it (then orphans go to init, as before).
bool become_child_subreaper();
bool is_child_subreaper();

// This process's children, of every thread (/proc/self/task/*/children, or a scan of /proc).
std::vector<pid_t> child_processes();

// Ends the children for which `spare` is false (the children that are not jobs: adopted ones):
// SIGTERM (and SIGCONT, for a stopped one) to each, to its whole process group when it leads
// one, SIGKILL after `kill_after` to what is left; reaps them, and ends in turn the processes
// that their ending makes children of this process. Returns when none is left, or a few seconds
// after the SIGKILL (a process in uninterruptible sleep). REQUIRES: the caller blocks SIGCHLD or
// has a handler for it, and no other thread waits for these children.
void end_adopted_children(const std::function<bool(pid_t)>& spare, Duration kill_after);

}  // namespace taskpool
