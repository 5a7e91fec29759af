// Errors a user can act on. Thrown at the point of failure and caught where the program decides
// what to print and which exit status to use.
#pragma once

#include <stdexcept>
#include <string>

namespace taskpool {

// Something in the input, the environment or the system went wrong; the message says what.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The command line is wrong (exit status 255). The message names the flag or value.
class UsageError : public Error {
 public:
  using Error::Error;
};

// Builds an Error from errno: "<what>: <strerror(errno)>".
[[nodiscard]] Error system_error(const std::string& what);

// For system calls that cannot fail in a correct program: prints the call and strerror, aborts.
[[noreturn]] void die_on_system_error(const char* call);

}  // namespace taskpool
