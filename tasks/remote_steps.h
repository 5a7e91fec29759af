// What runs around a job on an ssh host (-S): the variables of --env, the files of
// --transferfile and --basefile sent before it, those of --return brought back after it, and
// --cleanup. Everything is shell text for /bin/sh here and a POSIX login shell there; records
// and values are quoted, never read as code.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/command.h"
#include "tasks/sshlogin.h"

namespace taskpool {

// A path as GNU parallel's --transferfile and --return read it (rsync -R): the file here is the
// path as given; on the host it is what follows "/./" when the path holds one, else the path
// itself, relative to the login directory unless it is absolute.
struct TransferPath {
  std::string here;
  std::string there;
};
TransferPath transfer_path(std::string_view path);

// `export NAME='value'; ` for each variable, in the order given: the start of a remote line.
std::string env_exports(const std::vector<std::pair<std::string, std::string>>& env);

// The command line `line` as one string for the remote login shell: `/bin/sh -c WRAPPER sh LINE`
// with WRAPPER and LINE each quoted once (see HostExecutor).
std::string remote_command(const std::string& line);

// How one host is reached: the words of an ssh client up to and with the host (the command to
// run there follows as one more word), and the sshlogin as given, for messages.
struct HostSteps {
  std::vector<std::string> ssh;
  std::string host;
  bool cleanup = false;  // --cleanup: what was sent and brought back is removed from the host
};

// True when a remote attempt of `command` needs more than its ssh client (files to move).
bool has_file_steps(const Command& command);

// The /bin/sh script of a remote attempt with files to move: it sends `command.send_files`
// (a file that cannot be read or sent ends the script with 255 and a message naming the file
// and the host; the command does not run), runs the ssh client with `remote` (its standard input
// is the script's), brings back `command.return_files` (one that cannot be brought back makes a
// successful job fail with 255, and a message), removes the files from the host with --cleanup,
// and exits with the ssh client's status. After a 255 from ssh (the connection may be dead) it
// moves nothing more.
std::string attempt_script(const Command& command, const HostSteps& steps,
                           const std::string& remote);

// The /bin/sh script that sends the --basefile files to a host (exits 255, with a message,
// when one cannot be sent), and the one that removes them from it (--cleanup).
std::string basefile_script(const std::vector<std::string>& files, const HostSteps& steps);
std::string basefile_cleanup_script(const std::vector<std::string>& files, const HostSteps& steps);

// ssh's options that reach `login` (-l USER, -p PORT) and its host.
std::vector<std::string> ssh_login_args(const SshLogin& login);

// Where the private directory of the control sockets goes: $TMPDIR when its path leaves room
// for a Unix socket's name (108 bytes, with ssh's temporary suffix), else /tmp.
std::string socket_root();

// The last line of the file at `path` that says something (an ssh log's last words).
std::string last_words(const std::string& path);

}  // namespace taskpool
