// What ties a download's files to its URL: the record kept next to NAME.part, which says which URL
// and which version of the file the .part holds (--continue resumes it only for that URL, with
// If-Range), and the origin recorded on every file taskpool downloads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tasks/fetch_names.h"

namespace taskpool {

// The record of a NAME.part, kept in NAME.part.meta (see kPartRecordSuffix in
// tasks/fetch_names.h). A file of its own rather than an extended attribute: it works on every
// file system, as aria2's NAME.aria2 does.
struct PartRecord {
  std::string url;
  std::string validator;          // a strong ETag or a Last-Modified date; "" when none came
  std::optional<uint64_t> total;  // the file's size, when the server said it

  bool operator==(const PartRecord&) const = default;
};

// nullopt when there is no record, or it is not one taskpool wrote whole (a run killed while
// writing it leaves a record that is not read). Never follows a symbolic link.
std::optional<PartRecord> read_part_record(const std::string& path);

// Writes the record in place (a killed run leaves a record that does not read back, which means
// "start over"). Returns 0, or the errno of what failed. Never follows a symbolic link.
int write_part_record(const std::string& path, const PartRecord& record);

// The extended attribute user.xdg.origin.url, as curl --xattr and wget --xattr write it: the URL
// a file was downloaded from. Set on NAME.part, so NAME has it once renamed. Where the file
// system has no user attributes it is not set, and a file reads as having no origin.
void set_download_origin(int fd, const std::string& url);
std::optional<std::string> download_origin(const std::string& path);

// What the directory holds at `path` (a download's NAME, with the output directory) for `url`:
// NAME by its origin, else NAME.part (or a record without it) by its record.
OnDisk download_on_disk(const std::string& path, const std::string& url);

}  // namespace taskpool
