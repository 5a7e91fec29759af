#include "cli/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "cli/printer.h"
#include "core/error.h"

namespace taskpool {

OutputFile::OutputFile(std::string flag, std::string path, bool dash_is_stdout)
    : flag_(std::move(flag)), path_(std::move(path)), stdout_(dash_is_stdout && path_ == "-") {
  if (stdout_) return;
  // A directory fails to open at once; a regular file is opened now.
  struct stat st {};
  const bool opened_late =
      ::stat(path_.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
  if (!opened_late) {
    fd_.reset(open(O_CREAT));
  } else if (::access(path_.c_str(), W_OK) != 0) {
    throw system_error(flag_ + ": cannot open '" + path_ + "'");
  }
}

OutputFile::~OutputFile() = default;

int OutputFile::open(int flags) const {
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC | flags, 0666);
  if (fd < 0) throw system_error(flag_ + ": cannot open '" + path_ + "'");
  return fd;
}

void OutputFile::write(std::string_view contents) {
  if (stdout_) {
    write_all(STDOUT_FILENO, contents, "standard output");
    return;
  }
  if (!fd_.valid()) {
    fd_.reset(open(O_CREAT | O_TRUNC));
  } else if (::ftruncate(fd_.get(), 0) != 0) {
    throw system_error(flag_ + ": cannot write '" + path_ + "'");
  }
  const std::string what = flag_ + " file '" + path_ + "'";
  write_all(fd_.get(), contents, what.c_str());
  const int fd = fd_.release();
  if (::close(fd) != 0) throw system_error(flag_ + ": cannot write '" + path_ + "'");
}

}  // namespace taskpool
