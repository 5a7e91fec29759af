#include "tasks/sshlogin.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "core/file_io.h"
#include "core/parse.h"

namespace taskpool {

namespace {

bool has_blank(std::string_view s) {
  return std::ranges::any_of(s, [](char c) { return c == ' ' || c == '\t' || c == '\n'; });
}

// A user or host name ssh will not mistake for an option and the shell-less argv keeps whole.
void check_name(std::string_view where, std::string_view what, std::string_view name) {
  if (name.empty())
    throw UsageError(std::string(where) + ": the " + std::string(what) + " is empty");
  if (has_blank(name) || name.front() == '-' || name.find(',') != std::string_view::npos) {
    throw UsageError(std::string(where) + ": '" + std::string(name) + "' is not a " +
                     std::string(what) + " (no blanks, no leading '-')");
  }
}

SshLogin parse_one(std::string_view where, std::string_view entry) {
  SshLogin login;
  // Blanks around an entry are allowed ("a, b"); inside one they are not.
  while (!entry.empty() && (entry.front() == ' ' || entry.front() == '\t')) entry.remove_prefix(1);
  while (!entry.empty() && (entry.back() == ' ' || entry.back() == '\t')) entry.remove_suffix(1);
  const std::string context = std::string(where) + ": '" + std::string(entry) + "'";
  if (entry.empty()) throw UsageError(std::string(where) + ": an empty sshlogin");
  if (const size_t slash = entry.find('/'); slash != std::string_view::npos) {
    const auto workers = parse_whole_number(entry.substr(0, slash));
    if (!workers || *workers < 1 || *workers > 100000) {
      throw UsageError(context + ": '" + std::string(entry.substr(0, slash)) +
                       "' before '/' is not a number of workers (1 to 100000)");
    }
    login.workers = static_cast<int>(*workers);
    entry.remove_prefix(slash + 1);
  }
  login.text = std::string(entry);
  if (entry == ":") {
    login.local = true;
    return login;
  }
  if (const size_t at = entry.rfind('@'); at != std::string_view::npos) {
    login.user = std::string(entry.substr(0, at));
    check_name(context, "user", login.user);
    entry.remove_prefix(at + 1);
  }
  std::string_view port;
  if (entry.starts_with('[')) {  // [IPv6]:port
    const size_t close = entry.find(']');
    if (close == std::string_view::npos) throw UsageError(context + ": no ']' after '['");
    login.host = std::string(entry.substr(1, close - 1));
    const std::string_view rest = entry.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') throw UsageError(context + ": ':PORT' or nothing after ']'");
      port = rest.substr(1);
      if (port.empty()) throw UsageError(context + ": the port after ':' is empty");
    }
  } else if (const size_t colon = entry.find(':');
             colon != std::string_view::npos && std::ranges::count(entry, ':') == 1) {
    login.host = std::string(entry.substr(0, colon));
    port = entry.substr(colon + 1);
    if (port.empty()) throw UsageError(context + ": the port after ':' is empty");
  } else {
    login.host = std::string(entry);  // no port; a bare IPv6 address holds several ':'
  }
  check_name(context, "host", login.host);
  if (login.host.find('@') != std::string::npos) {
    throw UsageError(context + ": '" + login.host + "' is not a host");
  }
  if (!port.empty()) {
    const auto number = parse_whole_number(port);
    if (!number || *number < 1 || *number > 65535) {
      throw UsageError(context + ": '" + std::string(port) + "' is not a port (1 to 65535)");
    }
    login.port = static_cast<int>(*number);
  }
  return login;
}

}  // namespace

std::vector<SshLogin> parse_sshlogins(std::string_view flag, std::string_view list) {
  std::vector<SshLogin> logins;
  if (list.empty()) throw UsageError(std::string(flag) + ": the list of hosts is empty");
  for (;;) {
    const size_t comma = list.find(',');
    logins.push_back(parse_one(flag, list.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return logins;
}

std::vector<SshLogin> parse_sshlogin_file(std::string_view text, const std::string& name) {
  std::vector<SshLogin> logins;
  int line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (const size_t hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    const std::string where = "--sshloginfile: '" + name + "' line " + std::to_string(line_number);
    for (SshLogin& login : parse_sshlogins(where, line)) logins.push_back(std::move(login));
  }
  if (logins.empty()) throw UsageError("--sshloginfile: '" + name + "' lists no host");
  return logins;
}

std::vector<SshLogin> read_sshlogin_file(const std::string& path) {
  std::string text;
  if (const int error = read_whole_file(path, text); error != 0) {
    throw UsageError("--sshloginfile: cannot read '" + path + "': " + std::strerror(error));
  }
  return parse_sshlogin_file(text, path);
}

std::vector<SshLogin> without_duplicates(std::vector<SshLogin> logins) {
  std::vector<SshLogin> kept;
  for (SshLogin& login : logins) {
    const bool seen = std::ranges::any_of(kept, [&](const SshLogin& k) {
      return k.local == login.local && k.user == login.user && k.host == login.host &&
             k.port == login.port;
    });
    if (!seen) kept.push_back(std::move(login));
  }
  return kept;
}

}  // namespace taskpool
