#include "tasks/part_record.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string_view>

#include "core/file_io.h"

namespace taskpool {

namespace {

constexpr std::string_view kRecordHeader = "taskpool .part record 1\n";
constexpr std::string_view kRecordEnd = "end\n";
constexpr size_t kMaxRecordBytes = 64 * 1024;  // a URL is far shorter; anything longer is not ours
constexpr const char* kOriginAttribute = "user.xdg.origin.url";

// "NAME LENGTH\nVALUE\n": a value may hold any byte, newlines included (records read with -0).
void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ' ';
  out += std::to_string(value.size());
  out += '\n';
  out += value;
  out += '\n';
}

// Takes "NAME LENGTH\nVALUE\n" from the front of `text`; nullopt when it is not there whole.
std::optional<std::string> take_field(std::string_view& text, std::string_view name) {
  if (!text.starts_with(name) || text.size() <= name.size() || text[name.size()] != ' ') {
    return std::nullopt;
  }
  text.remove_prefix(name.size() + 1);
  size_t length = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), length);
  if (error != std::errc() || end == text.data() || end == text.data() + text.size() ||
      *end != '\n') {
    return std::nullopt;
  }
  text.remove_prefix(static_cast<size_t>(end - text.data()) + 1);
  if (text.size() < length + 1 || text[length] != '\n') return std::nullopt;
  std::string value(text.substr(0, length));
  text.remove_prefix(length + 1);
  return value;
}

}  // namespace

std::optional<PartRecord> read_part_record(const std::string& path) {
  std::string text;
  if (read_whole_file(path, text, kMaxRecordBytes, O_NOFOLLOW) != 0) return std::nullopt;
  if (!text.starts_with(kRecordHeader)) return std::nullopt;
  std::string_view rest(text);
  rest.remove_prefix(kRecordHeader.size());
  PartRecord record;
  auto url = take_field(rest, "url");
  auto validator = take_field(rest, "validator");
  auto total = take_field(rest, "total");
  if (!url || !validator || !total || rest != kRecordEnd) return std::nullopt;
  record.url = std::move(*url);
  record.validator = std::move(*validator);
  if (!total->empty()) {
    uint64_t value = 0;
    const auto [end, error] = std::from_chars(total->data(), total->data() + total->size(), value);
    if (error != std::errc() || end != total->data() + total->size()) return std::nullopt;
    record.total = value;
  }
  return record;
}

int write_part_record(const std::string& path, const PartRecord& record) {
  std::string text(kRecordHeader);
  append_field(text, "url", record.url);
  append_field(text, "validator", record.validator);
  append_field(text, "total", record.total ? std::to_string(*record.total) : "");
  text += kRecordEnd;
  return write_whole_file(path, text, O_NOFOLLOW);
}

void set_download_origin(int fd, const std::string& url) {
  // Best effort: a file system without user attributes leaves the file without an origin.
  (void)::fsetxattr(fd, kOriginAttribute, url.data(), url.size(), 0);
}

std::optional<std::string> download_origin(const std::string& path) {
  std::string value(4096, '\0');
  for (;;) {
    const ssize_t n = ::lgetxattr(path.c_str(), kOriginAttribute, value.data(), value.size());
    if (n >= 0) {
      value.resize(static_cast<size_t>(n));
      return value;
    }
    if (errno != ERANGE || value.size() >= kMaxRecordBytes) return std::nullopt;
    value.resize(value.size() * 4);
  }
}

OnDisk download_on_disk(const std::string& path, const std::string& url) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    const auto origin = download_origin(path);
    if (!origin) return OnDisk::kLeftover;
    return *origin == url ? OnDisk::kOwn : OnDisk::kOtherDownload;
  }
  const auto record = read_part_record(path + std::string(kPartRecordSuffix));
  if (record && record->url == url) return OnDisk::kOwn;
  const std::string part = path + std::string(kPartSuffix);
  return record || ::lstat(part.c_str(), &st) == 0 ? OnDisk::kLeftover : OnDisk::kNothing;
}

}  // namespace taskpool
