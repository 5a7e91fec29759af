// Hosts to run jobs on, in GNU parallel's -S/--sshlogin syntax: [N/][user@]host[:port], ':' for
// this machine.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace taskpool {

struct SshLogin {
  std::string text;    // as given, without N/: the joblog's Host column
  int workers = 0;     // N/; 0: as many as -j
  bool local = false;  // ':' this machine, no ssh
  std::string user;    // empty: ssh's default
  std::string host;    // a name or an address; an IPv6 address without its brackets
  int port = 0;        // 0: ssh's default

  bool operator==(const SshLogin&) const = default;
};

// Parses one comma-separated list of sshlogins (one -S value). Throws UsageError naming `flag`
// and the bad entry: an empty entry, N/ that is not a whole number from 1, a user or host that is
// empty, holds a blank or starts with '-' (ssh would read it as an option), a bad port.
std::vector<SshLogin> parse_sshlogins(std::string_view flag, std::string_view list);

// Parses an --sshloginfile's text: sshlogins one a line (or comma-separated), blank lines and
// '#' comments ignored. Errors name the file and the line.
std::vector<SshLogin> parse_sshlogin_file(std::string_view text, const std::string& name);

// Reads and parses the file at `path`; throws UsageError naming it when it cannot be read.
std::vector<SshLogin> read_sshlogin_file(const std::string& path);

// Drops later entries that repeat an earlier one's user, host and port; keeps the order.
std::vector<SshLogin> without_duplicates(std::vector<SshLogin> logins);

}  // namespace taskpool
