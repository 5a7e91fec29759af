// The command line, parsed into a plain configuration. CLI11 stays in options.cc, which declares
// the flags area by area; their values and the rules between them are parsed in
// option_areas.cc, option_values.cc, option_rules.cc and option_files.cc.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/flag_words.h"
#include "core/block_reader.h"
#include "core/policy.h"
#include "core/scheduler.h"
#include "tasks/sshlogin.h"

namespace taskpool {

enum class SummaryWhen { kAuto, kAlways, kNever };

// Downloads at once with --fetch and no -j: transfers wait on the network, not the CPUs, so more
// run than there are CPUs; aria2c runs 5, curl --parallel 50 (see doc/guide.md, --fetch).
inline constexpr int kFetchDefaultJobs = 16;

struct RunConfig {
  std::vector<std::string> command;  // the command words (may be empty)
  // An input source after the command: `::: VALUES` or `:::: FILE`; `:::+` and `::::+` link it to
  // the source before it (element by element instead of every combination).
  struct Source {
    std::vector<std::string> values;  // for :::
    std::optional<std::string> file;  // for ::::
    bool linked = false;

    bool operator==(const Source&) const = default;
  };
  std::vector<Source> sources;  // in order
  // --link: every source (-a files too) side by side, the shorter ones starting over, until the
  // longest ends, as GNU parallel's --link (:::+ ends with the shorter instead).
  bool link_all = false;
  bool shuffle = false;                   // --shuf: all records read, then run in a random order
  std::vector<std::string> arg_files;     // -a FILE, in order
  std::optional<std::string> eof_string;  // -E: input ends at this record
  bool skip_blank = false;                // -r: empty and blank values are no records
  size_t max_args = 0;                    // -n, -N, -L: records per command (0: one, no grouping)
  bool no_args = false;                   // -n 0, -N 0, -L 0: a job per record, given no argument
  bool positional = false;      // -N or -L: exactly that many, as {1}..{N}, not shortened to fit
  bool continue_lines = false;  // -L: a line ending in a blank goes on with the next
  enum class Fill { kNone, kMulti, kContext } fill = Fill::kNone;  // -m, -X
  std::optional<size_t> max_chars;                                 // -s
  std::string replace = "{}";                                      // -I
  bool plus = false;             // --plus: GNU parallel's further replacement strings
  std::string delimiter = "\n";  // -0, -d: never empty
  bool split_lists = false;      // -d: ::: values are split at the delimiter too, as GNU parallel
  std::optional<std::string> colsep;
  // --header: the first value of each input source names its columns (read_header, which
  // fills header_names and sets skip_file_headers: the files' first lines are no records).
  std::optional<std::string> header;
  std::vector<std::string> header_names;
  bool skip_file_headers = false;
  // --pipe, --pipepart: the input is cut into blocks of whole records, each the standard input
  // of one job (-N: `blocks.records` records a block).
  enum class Pipe { kNone, kStdin, kPart } pipe = Pipe::kNone;
  BlockOptions blocks;
  bool pipe_cat = false;   // --cat: each block in a temporary file, {} its name, not on stdin
  bool pipe_fifo = false;  // --fifo: each block through a named pipe, {} its name, not on stdin
  int jobs = 1;            // -j; without it the CPUs, or kFetchDefaultJobs with --fetch
  // -j FILE: the number of workers is read from FILE, and again whenever it changes.
  std::optional<std::string> jobs_file;
  // The live pool: --control SOCKET, --priority-col N (1-based), --queue-size N, --feedback,
  // --max-records N (0: no limit).
  std::optional<std::string> control;
  size_t priority_col = 0;
  std::optional<size_t> queue_size;
  bool feedback = false;
  uint64_t max_records = 0;
  DispatchMode mode = DispatchMode::kPool;
  bool compare = false;
  bool keep_order = false;
  bool line_buffer = false;
  bool tag = false;
  std::optional<std::string> tagstring;  // --tagstring STR: the tag, {} and the like replaced
  bool dry_run = false;
  bool quote = false;          // -q: each command word is one shell word
  bool trace = false;          // -t, --verbose: each command to stderr as it starts
  bool print_command = false;  // -v: each command to stdout before its output
  bool ungroup = false;        // -u: jobs write to taskpool's stdout and stderr as they go
  // --results NAME: each job's output kept in files (or a .csv/.tsv/.json table), not printed.
  std::optional<std::string> results;
  bool files = false;  // --files: each job's stdout to a file, its name printed
  RetryPolicy retry;
  Duration timeout{0};
  double timeout_percent = 0;  // --timeout N%: N, of the median runtime of the successful jobs
  Duration kill_after = std::chrono::seconds(5);
  // --keep-background: a job's background processes live on after it (not ended with it, nor at
  // the end of the run).
  bool keep_background = false;
  std::optional<double> rate;  // also --delay DUR, as 1/DUR
  int burst = 1;
  // --limit (and --max-per-host, --limit-file): per key, at most N at once or N a second.
  std::vector<KeyedLimit> limits;
  int nice = 0;  // --nice N: jobs run under `nice -n N`
  // --load N: start jobs only while fewer processes run on the machine; --memfree SIZE: only
  // while that much memory is available (0: no rule).
  std::optional<double> max_load;
  uint64_t memfree = 0;
  Duration deadline{0};
  Duration grace = std::chrono::seconds(5);
  HaltPolicy halt;
  enum class Resume { kNo, kDone, kSucceeded } resume = Resume::kNo;  // --resume, --resume-failed
  // --fetch: records are URLs to download.
  bool fetch = false;
  std::string output_dir = ".";
  bool overwrite = false;
  bool resume_downloads = false;  // --continue
  Duration connect_timeout{0};
  std::optional<Duration> stall_timeout;  // unset: FetchOptions' default; 0: never
  std::string ca_file;                    // --cacert
  long long limit_rate = 0;
  // -S/--sshlogin and --sshloginfile: the hosts to run on (empty: this machine alone), and
  // --ssh, the ssh command as words.
  std::vector<SshLogin> hosts;
  std::vector<std::string> ssh = {"ssh"};
  // --env: the variables (name, value) set for each remote command; those not set here are
  // left out. --transferfile and --return: templates of the files each job sends to its host
  // and brings back; --basefile: files each host gets before its first job; --cleanup: all of
  // them are removed from the hosts after use. Only for jobs on other machines.
  std::vector<std::pair<std::string, std::string>> remote_env;
  std::vector<std::string> transfer_files;
  std::vector<std::string> return_files;
  std::vector<std::string> basefiles;
  bool cleanup = false;
  // --onall: every job on every host; --nonall: the command once on every host (cli/onall.h).
  bool onall = false;
  bool nonall = false;
  // --slurm: the hosts are the nodes of the Slurm allocation taskpool runs in, each reached
  // through one `taskpool agent` step; --slurm-alloc ARGS: an allocation of its own, taken with
  // `salloc --no-kill --no-shell ARGS` and released at the end (cli/slurm.h fills `hosts` and
  // `agent_commands` before the plan). --heartbeat: how often the agents say they are alive; a
  // node silent four times that long is lost.
  bool slurm = false;
  std::optional<std::vector<std::string>> slurm_alloc;
  Duration heartbeat = std::chrono::milliseconds(500);
  bool jobs_given = false;  // -j was given: the workers of each node, instead of its CPUs
  // Per host, when its jobs go through an agent: the command that starts it there.
  std::vector<std::vector<std::string>> agent_commands;
  bool progress = false;  // --progress, --bar, --eta
  bool eta = false;
  bool bar = false;  // --bar: the progress line with a bar, on a terminal
  Duration progress_interval = std::chrono::seconds(30);
  std::optional<std::string> timeline;  // --timeline FILE.svg
  std::optional<std::string> joblog;
  bool joblog_append = false;  // --joblog +FILE: add to FILE, as GNU parallel
  SummaryWhen summary = SummaryWhen::kAuto;
  std::optional<std::string> summary_json;  // a path, or "-" for stdout

  // Equal configurations run alike (tests compare the parses of command lines).
  bool operator==(const RunConfig&) const = default;
};

struct ParseOutcome {
  std::optional<RunConfig> config;  // set when the program should run
  int exit_status = 0;              // otherwise: exit with this (after --help, --version, errors)
};

// Parses argv. Prints --help and --version output itself, and errors as
// "taskpool: <message>" on stderr with exit status 255.
ParseOutcome parse_command_line(int argc, char** argv);

// What parse_command_line decides, before anything is printed: `output` is the text for standard
// output (--help, --version), `error` the usage error's message, without the "taskpool: " that
// parse_command_line puts before it.
struct ParsedArguments {
  std::optional<RunConfig> config;  // set when the program should run
  int exit_status = 0;
  std::string output;
  std::string error;
};

// Parses the arguments that follow the program's name. Prints nothing.
ParsedArguments parse_arguments(const std::vector<std::string>& args);

// As parse_arguments, with only the flags `words` may name declared (FlagWords::all(): every
// flag, as parse_arguments does for all but a run): a run's configuration is the same.
ParsedArguments parse_arguments_with(const std::vector<std::string>& args, const FlagWords& words);

// The -d/--delimiter value as the bytes that end a record: its characters, with GNU parallel's
// escapes \n \t \r \NNN (octal) \0, and \\ and \xHH; any other backslash is itself.
// Throws UsageError naming the flag.
std::string parse_delimiter(const std::string& value);

}  // namespace taskpool
