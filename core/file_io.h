// Whole files and whole writes: the loops around read(2) and write(2), written once.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace taskpool {

// Reads `fd` to its end into `text` (appended). Returns 0, the errno of a failed read, or EFBIG
// when it holds more than `max_bytes` (then `text` holds no more than that).
int read_to_end(int fd, std::string& text, size_t max_bytes = SIZE_MAX);

// Opens `path` for reading (close-on-exec, and `flags`: O_NOFOLLOW, O_NONBLOCK, ...) and reads it
// whole, as read_to_end. Returns 0 or the errno of the open or the read.
int read_whole_file(const std::string& path, std::string& text, size_t max_bytes = SIZE_MAX,
                    int flags = 0);

// Writes all of `data` to `fd`, however many writes it takes. Returns 0 or the errno (ENOSPC for
// a write that wrote nothing).
int write_to_end(int fd, std::string_view data);

// Makes `path` hold `data`: created or emptied (close-on-exec, and `flags`), then written.
// Returns 0 or the errno of the open, the write or the close.
int write_whole_file(const std::string& path, std::string_view data, int flags = 0,
                     mode_t mode = 0666);

// Renames `from` to `to`: 0, or the errno. With `replace`, a file at `to` is replaced (rename(2));
// without, it is kept and the rename fails with EEXIST. Where the file system cannot refuse so
// (EINVAL: some network file systems), a plain rename: a file that appeared at `to` since the
// caller looked is replaced there.
int rename_file(const std::string& from, const std::string& to, bool replace);

// Whether `path` is a directory that holds no entry, or nothing at all (missing).
bool holds_nothing(const std::string& path);

// The lines of `text` that say something, without their trailing blanks and '\r'.
std::vector<std::string> nonblank_lines(std::string_view text);

}  // namespace taskpool
