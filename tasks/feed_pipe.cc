#include "tasks/feed_pipe.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>
#include <utility>

#include "tasks/pipes.h"

namespace taskpool {

namespace {

// Every whole record in `data` (with what `feed.partial` held) goes to `out`.
void pass_records(FeedPipe& feed, WorkerId worker, char delimiter, std::string_view data,
                  std::vector<FedRecord>& out) {
  for (size_t end; (end = data.find(delimiter)) != std::string_view::npos;) {
    feed.partial.append(data.substr(0, end));
    out.push_back(FedRecord{worker, std::exchange(feed.partial, {})});
    data.remove_prefix(end + 1);
  }
  feed.partial.append(data);
  if (feed.partial.size() > kMaxFedRecord) {
    // The writer gets a broken pipe; its attempt fails (see ProcessExecutor).
    feed.too_long = true;
    feed.partial.clear();
    feed.fd.reset();
  }
}

}  // namespace

void FeedPipe::read(WorkerId worker, char delimiter, std::span<char> buffer, size_t limit,
                    std::vector<FedRecord>& out, const std::function<bool()>& more) {
  while (fd.valid() && limit > 0 && (!more || more())) {
    const ssize_t n = ::read(fd.get(), buffer.data(), std::min({buffer.size(), limit, kFeedChunk}));
    if (n > 0) {
      pass_records(*this, worker, delimiter,
                   std::string_view(buffer.data(), static_cast<size_t>(n)), out);
      limit -= static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return;
    } else {
      fd.reset();
    }
  }
}

void FeedPipe::finish(WorkerId worker, char delimiter, std::span<char> buffer,
                      std::vector<FedRecord>& out) {
  const size_t left = available(fd);
  if (left > 0) read(worker, delimiter, buffer, left, out);
  fd.reset();
  if (!partial.empty() && !too_long) out.push_back(FedRecord{worker, std::exchange(partial, {})});
}

}  // namespace taskpool
