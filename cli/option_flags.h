// The command line as CLI11 leaves it, area by area: the text of each flag whose value is parsed
// once CLI11 is done (cli/option_areas.cc), and which flags were given. Flags whose value needs
// no parsing are bound straight to RunConfig. This is all the CLI11 translation unit
// (cli/options.cc) and the rest of the flag handling share, so that CLI11 stays in that one file.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace taskpool {

struct InputFlags {
  bool null = false;      // -0
  std::string delimiter;  // -d; empty: not given
  bool link = false;      // --link, --xapply
};

// --pipe and its flags: each text read when given.
struct PipeFlags {
  bool pipe = false;  // --pipe, --spreadstdin
  bool part = false;  // --pipepart, --pipe-part
  bool cat = false;   // --cat
  bool fifo = false;  // --fifo
  std::string block;
  std::string recstart;
  std::string recend;
};

// -n, -N, -L, -X, -m, -s: an empty text is a flag not given.
struct GroupingFlags {
  std::string max_args;
  std::string max_replace_args;
  std::string max_lines;
  std::string max_chars;
  bool context_fill = false;     // -X
  bool multi_fill = false;       // -m
  bool no_run_if_empty = false;  // -r
  // GNU parallel's spellings with an optional value (read when given): -i [STR] (-I, {} without
  // STR), -e [STR] (-E, none without STR), -l [N] (-L, 1 without N). Empty: given without one.
  std::vector<std::string> replace_optional;
  std::vector<std::string> eof_optional;
  std::vector<std::string> lines_optional;
};

struct PoolFlags {
  std::string jobs;  // read when --jobs was given
  std::string mode = "pool";
  std::string priority_col;  // --priority-col, --queue-size, --max-records: empty if not given
  std::string queue_size;
  std::string max_records;
  std::string load;  // --load, --memfree: read when given
  std::string memfree;
};

struct ResilienceFlags {
  std::string retries = "0";
  std::string backoff = "1s";
  std::string backoff_max = "60s";
  std::string timeout;  // read when given, as --rate and --deadline
  std::string kill_after = "5s";
  std::string rate;
  std::string delay;  // --delay DUR: --rate 1/DUR
  std::string nice;   // --nice N
  std::string burst = "1";
  std::string deadline;
  std::string grace = "5s";
  std::vector<std::string> limits;  // --limit, in order
  std::string limit_file;           // read when given
  std::string halt = "never";
  bool resume = false;
  bool resume_failed = false;
};

// Each read when given, but --max-per-host when its text is not empty (then it is a --limit).
struct FetchFlags {
  std::string connect_timeout;
  std::string max_per_host;
  std::string limit_rate;
  std::string stall_timeout;
};

struct HostFlags {
  std::vector<std::string> sshlogins;      // -S, one list of hosts each
  std::vector<std::string> sshloginfiles;  // --sshloginfile
  std::string ssh;                         // --ssh, read when given
  std::vector<std::string> env;            // --env, each a name or '_'
  std::vector<std::string> transferfiles;  // --transferfile/--tf
  bool transfer = false;                   // --transfer: --transferfile {}
  std::vector<std::string> returns;        // --return
  bool cleanup = false;                    // --cleanup
  std::vector<std::string> trc;            // --trc F: --transfer --return F --cleanup
  std::vector<std::string> basefiles;      // --basefile/--bf
  bool onall = false;                      // --onall
  bool nonall = false;                     // --nonall
  bool slurm = false;                      // --slurm
  std::string slurm_alloc;                 // --slurm-alloc, read when given
  std::string heartbeat;                   // --heartbeat, read when given
};

struct ReportingFlags {
  bool summary = false;
  bool no_summary = false;
  std::string progress_interval;  // read when given
};

struct OptionFlags {
  InputFlags input;
  PipeFlags pipe;
  GroupingFlags grouping;
  PoolFlags pool;
  ResilienceFlags resilience;
  FetchFlags fetch;
  HostFlags hosts;
  ReportingFlags reporting;
  // Every flag given, by its long name ("--output-dir" for -o), or its short one when it has
  // no long one ("-m").
  std::set<std::string, std::less<>> given;

  bool was_given(std::string_view name) const { return given.contains(name); }
};

}  // namespace taskpool
