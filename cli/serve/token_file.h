// The job server's token, from a file (never from argv, which every user of the machine can read
// in /proc): for the daemon and its clients alike.
#pragma once

#include <string>

namespace taskpool {

// The token in `path`: one line, blanks around it dropped. Throws Error naming the file when it
// cannot be read, is empty or holds more than one line.
std::string read_token(const std::string& path);

}  // namespace taskpool
