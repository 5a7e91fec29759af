// The commands of jobs that do not run as their template says: a refused record's, a command
// line longer than -s allows, and --cat's and --fifo's (the block in a file of its own).
#pragma once

#include <cstddef>

#include "cli/plan.h"
#include "core/command.h"
#include "core/job.h"
#include "core/template.h"

namespace taskpool {

// The command of a job whose record was refused (Record::runnable), made of what was kept of
// the record (for the joblog): it fails without running, with a message as an exec refused
// for E2BIG gives (see ProcessExecutor) or the reason --colsep could not split the record.
Command refused_command(bool fetch, const CommandTemplate& command, const RecordBound& bound,
                        const Job& job, WorkerId worker);

// -s: a command line longer than the user allows does not run, as GNU parallel and xargs refuse
// it (they stop the run there; here the other jobs still run).
void refuse_if_longer(Command& command, size_t max_line, const Job& job);

// --cat: the job's block goes to a temporary file of its own, which {} names; --fifo (`fifo`):
// to a named pipe of its own, which {} names.
Command with_input_file(const CommandTemplate& command, const Job& job, WorkerId worker, bool fifo);

// --transferfile and --return: the job's files, its replacement strings replaced.
void add_transfer_files(const RunPlan& plan, const Job& job, WorkerId worker, Command& command);

}  // namespace taskpool
