// --results and --files: each job's output kept in files rather than printed, as GNU parallel
// keeps it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/joblog.h"
#include "cli/run_failure.h"
#include "core/scheduler.h"
#include "core/template.h"
#include "core/unique_fd.h"

namespace taskpool {

// Where --results NAME puts a job's output, decided from NAME as GNU parallel decides it.
struct ResultsTarget {
  enum class Kind {
    kTree,      // NAME/1/VALUE/2/VALUE/{seq,stdout,stderr}
    kTemplate,  // NAME holds replacement strings: a file (and .err, .seq), or a dir ending in /
    kCsv,       // NAME.csv: one comma-separated row per job
    kTsv,       // NAME.tsv: tab-separated
    kJson,      // NAME.json: one JSON object per line and job
  };
  Kind kind = Kind::kTree;
  std::string name;
  bool to_stdout = false;  // -.csv, -.tsv, -.json: the table on standard output, nothing else
};

// `replace`: -I's string, to tell a template from a plain directory name.
ResultsTarget results_target(const std::string& name, const std::string& replace,
                             bool plus = false);

// A record's value as a directory name, as GNU parallel writes it: \ / TAB NUL become \\ \_ \t
// \0. A value that is . or .. is written \. or \.. (GNU parallel would leave the directory).
std::string value_as_dirname(std::string_view value);

// The relative directory of a job under a --results tree: "1/a/2/b" (`names`: the --header
// names of the fields, when given, instead of their numbers).
std::string record_dirname(const Record& record, const std::vector<std::string>& names);

// One field of a CSV (`sep` ',') or TSV ('\t') row, quoted as GNU parallel quotes it: when it
// holds a blank, the separator, a quote (doubled) or NUL.
std::string csv_field(std::string_view value, char sep);

// A JSON string's inside: \ and " escaped, control characters as \u00XX.
std::string json_escape(std::string_view value);

// Writes each job's output where --results says, then drops it from the completion so that
// nothing of it is printed (the printer still writes the joblog). Comes before the printer.
class ResultsObserver final : public RunObserver {
 public:
  struct Options {
    ResultsTarget target;
    std::string replace = "{}";               // -I, for a template name
    bool plus = false;                        // --plus
    std::vector<std::string> names;           // --header: the fields' names
    std::vector<std::string> host_of_worker;  // -S: the Host column; empty: ':' for all
  };
  // Opens a results file (or checks a tree's directory can be made). Throws Error naming
  // --results and the path.
  ResultsObserver(Options options, RunFailure& failure);

  void on_job_end(const Job& job, const Attempt& attempt, Completion& completion) override;

 private:
  void write_tree(const Job& job, WorkerId worker, const Completion& completion) const;
  void write_row(const Job& job, const Attempt& attempt, const Completion& completion);
  std::string table_row(const Job& job, const Attempt& attempt, const Completion& completion,
                        char sep) const;
  std::string json_row(const Job& job, const Attempt& attempt, const Completion& completion) const;
  std::string host(WorkerId worker) const;

  Options options_;
  RunFailure& failure_;
  std::optional<CommandTemplate> name_template_;
  UniqueFd table_;
  bool header_written_ = false;
  WallClock wall_clock_;
};

// --files: each job's standard output goes to a new file in $TMPDIR (else /tmp), parXXXXXX.par,
// and the file's name is printed in its place (tagged, in order with -k, as output is).
class FilesObserver final : public RunObserver {
 public:
  explicit FilesObserver(RunFailure& failure);
  void on_job_end(const Job& job, const Attempt& attempt, Completion& completion) override;

 private:
  RunFailure& failure_;
  std::string dir_;
};

}  // namespace taskpool
