#include "cli/fetch.h"

#include <fmt/format.h>

#include <algorithm>

#include "cli/report.h"
#include "tasks/part_record.h"

namespace taskpool {

namespace {

double bytes_per_second(uint64_t bytes, Duration wall) {
  const double seconds = to_seconds(wall);
  return seconds > 0 ? static_cast<double>(bytes) / seconds : 0.0;
}

}  // namespace

// The fields poll() appends to a record: the URL, the path, and why the path was refused.
constexpr size_t kNamedFields = 3;

FetchNamer::FetchNamer(JobSource& records, Options options)
    : records_(records), options_(std::move(options)), names_(options_.names) {}

JobSource::State FetchNamer::poll(Record& out) {
  const State state = records_.poll(out);
  if (state != State::kReady) return state;
  const auto& fields = out.fields;
  std::string url = fields.empty() ? std::string() : fields[0];
  std::string explicit_path;
  bool has_path = fields.size() >= 2;
  if (has_path) {
    explicit_path = fields[1];
  } else if (const size_t tab = url.find('\t'); tab != std::string::npos) {
    explicit_path = url.substr(tab + 1);
    url.resize(tab);
    has_path = true;
  }
  NameRegistry::DiskState on_disk;
  if (options_.keep_existing) {
    on_disk = [&](const std::string& path) {
      return download_on_disk(download_file(options_.output_dir, path), url);
    };
  }
  std::string path;
  std::string refused;
  if (!has_path) {
    path = names_.claim(file_name_for_url(url), on_disk);
  } else if (auto safe = safe_relative_path(explicit_path)) {
    path = names_.claim(*safe, on_disk);
  } else {
    refused = "the path '" + explicit_path + "' is not a file name inside the output directory";
  }
  out.fields.push_back(std::move(url));
  out.fields.push_back(std::move(path));
  out.fields.push_back(std::move(refused));
  return state;
}

AttemptPayload FetchNamer::download(const Job& job) {
  const auto& fields = job.record.fields;
  if (fields.size() < kNamedFields) return {Command{}, Download{}};
  const auto named = fields.end() - kNamedFields;
  return {Command{named[0]}, Download{named[0], named[1], named[2]}};
}

void FetchReport::add_attempt(const Completion& completion) {
  bytes_ += completion.detail.stdout_bytes;
  if (completion.detail.http_status != 0) ++statuses_[completion.detail.http_status];
}

void FetchReport::add_failure(const std::string& url, const std::string& path,
                              const Completion& completion) {
  if (failures_.size() >= kMaxListed) {
    ++unlisted_failures_;
    return;
  }
  std::string reason = completion.error;
  // The message starts with the URL, which the list has in its own field.
  if (reason.starts_with(url + ": ")) reason.erase(0, url.size() + 2);
  if (reason.empty() && completion.signal != 0) reason = "stopped";
  failures_.push_back({url, path.empty() ? "" : download_file(output_dir_, path), reason,
                       completion.detail.http_status});
}

std::string FetchReport::text(Duration wall) const {
  std::string out = fmt::format("  fetched   {} ({}/s)", human_bytes(bytes_),
                                human_bytes(bytes_per_second(bytes_, wall)));
  if (!statuses_.empty()) {
    out += ", HTTP";
    for (const auto& [status, count] : statuses_) out += fmt::format(" {}x{}", status, count);
  }
  out += '\n';
  constexpr size_t kShown = 5;
  for (size_t i = 0; i < std::min(kShown, failures_.size()); ++i) {
    out += fmt::format("  failed    {}: {}\n", failures_[i].url, failures_[i].reason);
  }
  const uint64_t more = failures_.size() + unlisted_failures_ - std::min(kShown, failures_.size());
  if (more > 0) out += fmt::format("  failed    ... and {} more (see --summary-json)\n", more);
  return out;
}

std::string FetchReport::json(Duration wall) const {
  std::string statuses;
  for (const auto& [status, count] : statuses_) {
    if (!statuses.empty()) statuses += ", ";
    statuses += fmt::format("\"{}\": {}", status, count);
  }
  std::string failed;
  for (const Failure& f : failures_) {
    if (!failed.empty()) failed += ", ";
    failed += fmt::format(R"({{"url": {}, "path": {}, "reason": {}, "http_status": {}}})",
                          json_string(f.url), f.file.empty() ? "null" : json_string(f.file),
                          json_string(f.reason), f.http_status);
  }
  return fmt::format(
      "{{\"bytes\": {}, \"bytes_per_second\": {:.0f}, \"http_statuses\": {{{}}}, "
      "\"failed\": [{}], \"failed_not_listed\": {}}}",
      bytes_, bytes_per_second(bytes_, wall), statuses, failed, unlisted_failures_);
}

}  // namespace taskpool
