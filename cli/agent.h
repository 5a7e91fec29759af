// `taskpool agent`: the jobs of a taskpool on another machine (--slurm, --agent-command) run
// here, through the framed protocol of core/agent_frame.h on standard input and output.
#pragma once

namespace taskpool {

// `taskpool agent [--heartbeat DURATION]`; argv[1] is "agent". Returns the exit status.
int agent_main(int argc, char** argv);

}  // namespace taskpool
