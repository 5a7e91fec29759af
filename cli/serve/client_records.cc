#include "cli/serve/client_records.h"

#include <fmt/format.h>

#include <memory>
#include <optional>
#include <utility>

#include "cli/record_feed.h"
#include "core/error.h"
#include "core/input.h"
#include "core/utf8.h"

namespace taskpool {

std::vector<std::vector<std::string>> read_submit_records(const RunConfig& input) {
  RecordLimit limit;
  limit.max_bytes = size_t{1} << 20;
  const std::unique_ptr<RecordStream> stream = open_records(input, limit);
  std::vector<std::vector<std::string>> records;
  while (std::optional<Record> record = stream->next()) {
    const size_t number = records.size() + 1;
    if (record->too_long != 0) {
      throw Error(
          fmt::format("record {} is {} bytes, past the 1 MiB a record may have; nothing "
                      "was submitted",
                      number, record->too_long));
    }
    if (!record->refused.empty()) throw Error(record->refused + "; nothing was submitted");
    for (const std::string& field : record->fields) {
      if (!is_utf8(field)) {
        throw Error(
            fmt::format("record {} is not valid UTF-8 (the server takes text); nothing "
                        "was submitted",
                        number));
      }
    }
    records.push_back(std::move(record->fields));
  }
  return records;
}

}  // namespace taskpool
