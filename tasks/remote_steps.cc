#include "tasks/remote_steps.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/file_io.h"
#include "core/shell_quote.h"
#include "core/unique_fd.h"

namespace taskpool {

namespace {

// Runs "$1" (the command line) in a process group of its own and passes on what the channel
// asks: "TERM" or "KILL" lines become that signal to the group; the channel's end becomes
// SIGTERM, then SIGKILL two seconds later. Exits with the command's status (128 + N when a
// signal killed it, and then what is left of its group is killed). One line, for any login shell
// that reads POSIX quoting; `wait` is silenced, or dash reports "Terminated" on the job's stderr.
constexpr const char* kWrapper =
    "exec 3<&0 </dev/null; "
    "if command -v setsid >/dev/null 2>&1; then setsid /bin/sh -c \"$1\" 3<&- & "
    "else /bin/sh -c \"$1\" 3<&- & fi; p=$!; "
    "( while IFS= read -r m; do case $m in TERM|KILL) "
    "kill -s \"$m\" -- \"-$p\" 2>/dev/null || kill -s \"$m\" \"$p\" 2>/dev/null;; esac; done; "
    "trap \"\" TERM; kill -s TERM -- \"-$p\" 2>/dev/null || kill -s TERM \"$p\" 2>/dev/null; "
    "sleep 2; kill -s KILL -- \"-$p\" 2>/dev/null || kill -s KILL \"$p\" 2>/dev/null "
    ") <&3 >/dev/null 2>&1 & w=$!; exec 3<&-; "
    "wait \"$p\" 2>/dev/null; s=$?; kill \"$w\" 2>/dev/null; "
    "[ \"$s\" -gt 128 ] && kill -s KILL -- \"-$p\" 2>/dev/null; exit \"$s\"";

// The script's helpers: fail ends it with 255 (as ssh's own failure), warn goes on.
constexpr const char* kFunctions =
    "fail() { printf 'taskpool: %s\\n' \"$1\" >&2; exit 255; }\n"
    "warn() { printf 'taskpool: %s\\n' \"$1\" >&2; }\n";

std::string ssh_words(const HostSteps& steps) {
  std::string words;
  for (const std::string& word : steps.ssh) {
    if (!words.empty()) words += ' ';
    words += shell_quote(word);
  }
  return words;
}

// The directory part of a path ("" when it has none worth making: "a", "/a").
std::string parent(std::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return {};
  return std::string(path.substr(0, slash));
}

// Sends one file; on failure the script ends (fail).
std::string send_step(std::string_view flag, const std::string& path, const HostSteps& steps) {
  const TransferPath p = transfer_path(path);
  const std::string problem = fmt::format("{}: cannot send '{}' to {}", flag, p.here, steps.host);
  struct stat st {};
  if (::stat(p.here.c_str(), &st) != 0) {
    return "fail " + shell_quote(problem + ": " + std::strerror(errno)) + "\n";
  }
  if (!S_ISREG(st.st_mode)) {
    return "fail " + shell_quote(problem + ": not a regular file") + "\n";
  }
  const std::string there = shell_quote(p.there);
  std::string remote =
      fmt::format("cat > {} && chmod {:o} -- {}", there, st.st_mode & 07777, there);
  if (const std::string dir = parent(p.there); !dir.empty()) {
    // Another job's --cleanup on the host may remove the directory (rmdir -p) between its
    // mkdir and the file's open: the file is made empty first, a few times if it must be,
    // and then the directory is no longer empty.
    remote = fmt::format(
        "i=0; until mkdir -p -- {} && true > {}; do i=$((i+1)); [ $i -lt 5 ] || exit 1; "
        "done 2>/dev/null; {}",
        shell_quote(dir), there, remote);
  }
  return fmt::format("{} {} < {} || fail {}\n", ssh_words(steps), shell_quote(remote),
                     shell_quote(p.here), shell_quote(problem));
}

// Brings one file back; on failure a successful job fails with 255.
std::string return_step(const std::string& path, const HostSteps& steps) {
  const TransferPath p = transfer_path(path);
  const std::string part = shell_quote(p.here + ".taskpool-part");
  const std::string problem =
      fmt::format("--return: cannot bring '{}' back from {} to '{}'", p.there, steps.host, p.here);
  std::string step;
  if (const std::string dir = parent(p.here); !dir.empty()) {
    step = "mkdir -p -- " + shell_quote(dir) + " && ";
  }
  step +=
      fmt::format("{} {} </dev/null > {} && mv -f -- {} {}", ssh_words(steps),
                  shell_quote("cat -- " + shell_quote(p.there)), part, part, shell_quote(p.here));
  return fmt::format("{} || {{ rm -f -- {}; warn {}; [ \"$s\" -ne 0 ] || s=255; }}\n", step, part,
                     shell_quote(problem));
}

// Removes files from the host, and the directories (relative ones) they leave empty.
std::string cleanup_step(const std::vector<std::string>& paths, const HostSteps& steps) {
  if (paths.empty()) return {};
  std::string files;
  std::string dirs;
  for (const std::string& path : paths) {
    const std::string there = transfer_path(path).there;
    files += ' ' + shell_quote(there);
    const std::string dir = parent(there);
    if (!dir.empty() && dir.front() != '/') dirs += ' ' + shell_quote(dir);
  }
  std::string remote = "rm -f --" + files;
  if (!dirs.empty()) remote += "; rmdir -p --" + dirs + " 2>/dev/null";
  remote += "; :";
  return fmt::format("{} {} </dev/null >/dev/null 2>&1\n", ssh_words(steps), shell_quote(remote));
}

}  // namespace

TransferPath transfer_path(std::string_view path) {
  TransferPath p{std::string(path), std::string(path)};
  if (path.starts_with("./")) {
    p.there = std::string(path.substr(2));
  } else if (const size_t dot = path.find("/./"); dot != std::string_view::npos) {
    p.there = std::string(path.substr(dot + 3));
  }
  return p;
}

std::string env_exports(const std::vector<std::pair<std::string, std::string>>& env) {
  std::string exports;
  for (const auto& [name, value] : env) {
    exports += fmt::format("export {}={}; ", name, shell_quote(value));
  }
  return exports;
}

std::string remote_command(const std::string& line) {
  return "/bin/sh -c " + shell_quote(kWrapper) + " sh " + shell_quote(line);
}

bool has_file_steps(const Command& command) {
  return !command.send_files.empty() || !command.return_files.empty();
}

std::string attempt_script(const Command& command, const HostSteps& steps,
                           const std::string& remote) {
  std::string script = kFunctions;
  for (const std::string& file : command.send_files) {
    script += send_step("--transferfile", file, steps);
  }
  script += ssh_words(steps) + ' ' + shell_quote(remote) + "; s=$?\n";
  script += "if [ \"$s\" -ne 255 ]; then :\n";
  for (const std::string& file : command.return_files) script += return_step(file, steps);
  if (steps.cleanup) {
    std::vector<std::string> all = command.send_files;
    all.insert(all.end(), command.return_files.begin(), command.return_files.end());
    script += cleanup_step(all, steps);
  }
  return script + "fi\nexit \"$s\"\n";
}

std::string basefile_script(const std::vector<std::string>& files, const HostSteps& steps) {
  std::string script = kFunctions;
  for (const std::string& file : files) script += send_step("--basefile", file, steps);
  return script;
}

std::string basefile_cleanup_script(const std::vector<std::string>& files, const HostSteps& steps) {
  return cleanup_step(files, steps);
}

std::string socket_root() {
  const char* dir = std::getenv("TMPDIR");
  if (dir != nullptr && *dir == '/' && std::strlen(dir) <= 48) return dir;
  return "/tmp";
}

std::vector<std::string> ssh_login_args(const SshLogin& login) {
  std::vector<std::string> args;
  if (!login.user.empty()) args.insert(args.end(), {"-l", login.user});
  if (login.port != 0) args.insert(args.end(), {"-p", std::to_string(login.port)});
  args.push_back(login.host);
  return args;
}

std::string last_words(const std::string& path) {
  std::string text;
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return {};
  char buffer[4096];
  // Only its end is kept: ssh -v can write a lot.
  for (ssize_t n; (n = ::read(fd.get(), buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > 65536) text.erase(0, text.size() - 4096);
  }
  const std::vector<std::string> lines = nonblank_lines(text);
  return lines.empty() ? std::string() : lines.back();
}

}  // namespace taskpool
