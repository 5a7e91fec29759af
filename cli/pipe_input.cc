#include "cli/pipe_input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "core/block_reader.h"
#include "core/error.h"
#include "core/unique_fd.h"

namespace taskpool {
namespace {

// --pipepart's ranges as values: each value is empty, and input() names the range read last.
class PartSource final : public ValueSource {
 public:
  PartSource(std::shared_ptr<const UniqueFd> file, uint64_t size, const BlockOptions& options,
             const std::string& name)
      : file_(std::move(file)),
        cutter_(file_->get(), size, options.boundary, options.block_size, name) {
    if (options.header_lines > 0) {
      header_ = std::make_shared<const std::string>(cutter_.take_header(options.header_lines));
    }
  }

  std::optional<std::string> next() override {
    last_ = cutter_.next();
    if (!last_) return std::nullopt;
    return std::string();
  }

  std::shared_ptr<const JobInput> input() const {
    auto input = std::make_shared<JobInput>();
    input->file = file_;
    input->offset = last_->offset;
    input->length = last_->length;
    input->header = header_;
    return input;
  }

 private:
  std::shared_ptr<const UniqueFd> file_;
  PartCutter cutter_;
  std::optional<PartCutter::Range> last_;
  std::shared_ptr<const std::string> header_;  // --header: before every range
};

// The one input a --pipe run reads: -a FILE, :::: FILE, or stdin ("-").
std::string input_path(const RunConfig& config) {
  if (!config.arg_files.empty()) return config.arg_files.front();
  if (!config.sources.empty() && config.sources.front().file) return *config.sources.front().file;
  return "-";
}

UniqueFd open_input(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) throw Error("cannot open " + path + ": " + std::strerror(errno));
  return fd;
}

BlockStream single(std::unique_ptr<ValueSource> source,
                   std::function<std::shared_ptr<const JobInput>(std::string&&)> input) {
  std::vector<std::unique_ptr<ValueSource>> sources;
  sources.push_back(std::move(source));
  return {std::make_unique<RecordStream>(std::move(sources), std::nullopt), std::move(input)};
}

BlockStream open_parts(const std::string& path, const BlockOptions& options) {
  if (path == "-") {
    throw UsageError("--pipepart reads a file in place: name it with -a FILE (or use --pipe)");
  }
  UniqueFd fd = open_input(path);
  struct stat status = {};
  if (::fstat(fd.get(), &status) != 0) {
    throw Error("cannot read " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(status.st_mode)) {
    throw Error(path +
                ": --pipepart needs a regular file, read in place; this one can only be read "
                "through (use --pipe)");
  }
  auto file = std::make_shared<const UniqueFd>(std::move(fd));
  auto source =
      std::make_unique<PartSource>(file, static_cast<uint64_t>(status.st_size), options, path);
  const PartSource* part = source.get();
  return single(std::move(source), [part](std::string&&) { return part->input(); });
}

}  // namespace

BlockStream open_blocks(const RunConfig& config, int stop_fd) {
  const std::string path = input_path(config);
  if (config.pipe == RunConfig::Pipe::kPart) return open_parts(path, config.blocks);
  const bool from_stdin = path == "-";
  const int fd = from_stdin ? STDIN_FILENO : open_input(path).release();
  auto source = std::make_unique<BlockSource>(fd, !from_stdin, config.blocks,
                                              from_stdin ? "stdin" : path, stop_fd);
  return single(std::move(source), [](std::string&& block) {
    auto input = std::make_shared<JobInput>();
    input->bytes = std::move(block);
    return input;
  });
}

}  // namespace taskpool
