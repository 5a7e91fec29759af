#include "cli/slurm.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "core/error.h"
#include "core/parse.h"
#include "core/unique_fd.h"
#include "tasks/program_path.h"

namespace taskpool {
namespace {

struct ProgramOutput {
  int status = -1;  // the exit status; -1 when killed by a signal
  std::string out;
  std::string err;
};

// Runs a Slurm client program (`path`, found on PATH) to its end, its stdin /dev/null.
ProgramOutput run_program(const std::string& path, const std::vector<std::string>& argv) {
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) throw system_error("cannot make a pipe for " + argv[0]);
  UniqueFd out_read(out_pipe[0]);
  UniqueFd out_write(out_pipe[1]);
  if (pipe2(err_pipe, O_CLOEXEC) != 0) throw system_error("cannot make a pipe for " + argv[0]);
  UniqueFd err_read(err_pipe[0]);
  UniqueFd err_write(err_pipe[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), STDERR_FILENO);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  std::vector<std::string> words = argv;
  for (std::string& word : words) args.push_back(word.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  const int error = posix_spawn(&pid, path.c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) {
    throw Error(fmt::format("cannot run {}: {}", argv[0], std::strerror(error)));
  }
  out_write.reset();
  err_write.reset();
  ProgramOutput result;
  pollfd fds[2] = {{out_read.get(), POLLIN, 0}, {err_read.get(), POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  for (int open = 2; open > 0;) {
    if (poll(fds, 2, -1) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;
        --open;
      } else {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      }
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// The last line of `text` that says something.
std::string last_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  const size_t start = text.rfind('\n');
  return std::string(start == std::string_view::npos ? text : text.substr(start + 1));
}

class SlurmPrograms {
 public:
  explicit SlurmPrograms(const char* flag) : flag_(flag) {
    const char* path = std::getenv("PATH");
    programs_.emplace(path != nullptr ? path : "/usr/bin:/bin");
  }

  std::string find(const std::string& name) {
    const auto path = programs_->resolve(name);
    if (!path) {
      throw Error(
          fmt::format("{}: {}: command not found (Slurm's client programs must be on "
                      "PATH)",
                      flag_, name));
    }
    return *path;
  }

  // Runs `argv`; its stdout, or an error with its last words.
  std::string output(const std::vector<std::string>& argv) {
    const ProgramOutput result = run_program(find(argv[0]), argv);
    if (result.status != 0) {
      throw Error(fmt::format("{}: {} failed: {}", flag_, fmt::join(argv, " "),
                              last_line(result.err.empty() ? result.out : result.err)));
    }
    return result.out;
  }

  std::vector<std::string> hostnames(const std::string& list) {
    std::vector<std::string> names;
    const std::string out = output({"scontrol", "show", "hostnames", list});
    size_t start = 0;
    while (start < out.size()) {
      size_t end = out.find('\n', start);
      if (end == std::string::npos) end = out.size();
      if (end > start) names.push_back(out.substr(start, end - start));
      start = end + 1;
    }
    if (names.empty()) throw Error(fmt::format("{}: no node in '{}'", flag_, list));
    return names;
  }

  const char* flag() const { return flag_; }

 private:
  const char* flag_;
  std::optional<ProgramPath> programs_;
};

std::string env_or_empty(const char* name, const char* other) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') value = std::getenv(other);
  return value != nullptr ? value : "";
}

std::string self_path() {
  std::string self = own_program();
  if (self.empty()) throw system_error("cannot find taskpool's own program (/proc/self/exe)");
  return self;
}

// The allocation's job id, taken with salloc.
std::string allocate(SlurmPrograms& slurm, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"salloc", "--no-kill", "--no-shell"};
  argv.insert(argv.end(), args.begin(), args.end());
  const ProgramOutput result = run_program(slurm.find("salloc"), argv);
  constexpr std::string_view kGranted = "Granted job allocation ";
  const size_t at = result.err.find(kGranted);
  if (result.status != 0 || at == std::string::npos) {
    throw Error(fmt::format("--slurm-alloc: salloc {} took no allocation: {}", fmt::join(args, " "),
                            last_line(result.err.empty() ? result.out : result.err)));
  }
  const size_t start = at + kGranted.size();
  return result.err.substr(start, result.err.find_first_not_of("0123456789", start) - start);
}

}  // namespace

std::vector<int> parse_cpus_per_node(std::string_view text) {
  std::vector<int> cpus;
  const auto bad = [&] {
    return Error(fmt::format("SLURM_JOB_CPUS_PER_NODE: '{}' is not a list such as 2(x3),1", text));
  };
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (comma != std::string_view::npos && rest.empty()) throw bad();
    int count = 0;
    auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), count);
    if (error != std::errc() || count <= 0) throw bad();
    int times = 1;
    const std::string_view repeat(end, static_cast<size_t>(item.data() + item.size() - end));
    if (!repeat.empty()) {
      if (!repeat.starts_with("(x") || !repeat.ends_with(")")) throw bad();
      const std::string_view digits = repeat.substr(2, repeat.size() - 3);
      auto [last, e] = std::from_chars(digits.data(), digits.data() + digits.size(), times);
      if (e != std::errc() || last != digits.data() + digits.size() || times <= 0) throw bad();
    }
    if (cpus.size() + static_cast<size_t>(times) > 1000000) throw bad();
    cpus.insert(cpus.end(), static_cast<size_t>(times), count);
  }
  if (cpus.empty()) throw bad();
  return cpus;
}

int count_cpu_ids(std::string_view list) {
  int count = 0;
  std::string_view rest = list;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const size_t dash = item.find('-');
    const auto first = parse_whole_number(item.substr(0, dash));
    const auto last =
        dash == std::string_view::npos ? first : parse_whole_number(item.substr(dash + 1));
    if (!first || !last || *last < *first || *last - *first > 100000) {
      throw Error(fmt::format("scontrol: '{}' is not a list of CPU ids", list));
    }
    count += static_cast<int>(*last - *first + 1);
  }
  if (count == 0) throw Error("scontrol: an empty list of CPU ids");
  return count;
}

JobNodes parse_job_detail(std::string_view text, const std::string& job) {
  JobNodes nodes;
  const auto value_after = [](std::string_view line, std::string_view key) {
    const size_t at = line.find(key);
    if (at == std::string_view::npos) return std::string_view();
    std::string_view value = line.substr(at + key.size());
    return value.substr(0, value.find_first_of(" \n"));
  };
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    line.remove_prefix(std::min(line.find_first_not_of(' '), line.size()));
    if (line.starts_with("NodeList=")) nodes.node_list = value_after(line, "NodeList=");
    if (line.starts_with("Nodes=") && line.find(" CPU_IDs=") != std::string_view::npos) {
      nodes.cpus.emplace_back(std::string(value_after(line, "Nodes=")),
                              count_cpu_ids(value_after(line, "CPU_IDs=")));
    }
  }
  if (nodes.node_list.empty() || nodes.node_list == "(null)" || nodes.cpus.empty()) {
    throw Error(
        fmt::format("--slurm-alloc: job {} has no nodes (scontrol show job -d {})", job, job));
  }
  return nodes;
}

std::vector<std::string> agent_step(const std::string& srun, const std::string& job,
                                    const std::string& node, int cpus, const std::string& self,
                                    Duration heartbeat) {
  const double seconds = std::chrono::duration<double>(heartbeat).count();
  return {srun,
          "--jobid=" + job,
          "-N1",
          "-n1",
          "-w",
          node,
          "--exclusive",
          "-c",
          std::to_string(cpus),
          "--no-kill",
          "-u",
          self,
          "agent",
          "--heartbeat",
          fmt::format("{}s", seconds)};
}

std::optional<SlurmSession> SlurmSession::open(RunConfig& config) {
  if (!config.slurm && !config.slurm_alloc) return std::nullopt;
  SlurmPrograms slurm(config.slurm ? "--slurm" : "--slurm-alloc");
  const std::string srun = slurm.find("srun");
  std::vector<std::pair<std::string, int>> nodes;  // name, CPUs
  std::optional<SlurmSession> session;
  if (config.slurm) {
    const std::string job = env_or_empty("SLURM_JOB_ID", "SLURM_JOBID");
    if (job.empty()) {
      throw Error(
          "--slurm: SLURM_JOB_ID is not set: taskpool is not inside a Slurm allocation "
          "(run it under salloc or sbatch, or use --slurm-alloc 'SALLOC ARGS')");
    }
    session.emplace(SlurmSession(job, false));
    const std::vector<std::string> names =
        slurm.hostnames(env_or_empty("SLURM_JOB_NODELIST", "SLURM_NODELIST"));
    const std::vector<int> cpus = parse_cpus_per_node(env_or_empty("SLURM_JOB_CPUS_PER_NODE", ""));
    if (cpus.size() != names.size()) {
      throw Error(
          fmt::format("--slurm: SLURM_JOB_CPUS_PER_NODE lists {} nodes, "
                      "SLURM_JOB_NODELIST {}",
                      cpus.size(), names.size()));
    }
    for (size_t i = 0; i < names.size(); ++i) nodes.emplace_back(names[i], cpus[i]);
  } else {
    session.emplace(SlurmSession(allocate(slurm, *config.slurm_alloc), true));
    const JobNodes detail = parse_job_detail(
        slurm.output({"scontrol", "show", "job", "-d", session->job_}), session->job_);
    for (const auto& [list, cpus] : detail.cpus) {
      for (const std::string& name : slurm.hostnames(list)) nodes.emplace_back(name, cpus);
    }
  }
  const std::string self = self_path();
  config.hosts.clear();
  config.agent_commands.clear();
  for (const auto& [name, cpus] : nodes) {
    SshLogin& host = config.hosts.emplace_back();
    host.text = name;
    host.host = name;
    host.workers = config.jobs_given ? config.jobs : cpus;
    config.agent_commands.push_back(
        agent_step(srun, session->job_, name, cpus, self, config.heartbeat));
  }
  return session;
}

SlurmSession::SlurmSession(SlurmSession&& other) noexcept
    : job_(std::move(other.job_)), owned_(std::exchange(other.owned_, false)) {}

SlurmSession::~SlurmSession() { release(); }

void SlurmSession::release() {
  if (!owned_) return;
  owned_ = false;
  SlurmPrograms slurm("--slurm-alloc");
  try {
    const ProgramOutput result = run_program(slurm.find("scancel"), {"scancel", job_});
    if (result.status != 0) {
      std::fputs(fmt::format("taskpool: --slurm-alloc: scancel {} failed: {}\n", job_,
                             last_line(result.err))
                     .c_str(),
                 stderr);
    }
  } catch (const Error& e) {
    std::fputs(fmt::format("taskpool: --slurm-alloc: job {} may still hold its nodes: {}\n", job_,
                           e.what())
                   .c_str(),
               stderr);
  }
}

}  // namespace taskpool
