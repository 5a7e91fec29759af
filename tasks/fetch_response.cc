#include "tasks/fetch_response.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>

namespace taskpool {

namespace {

std::string_view trim_header_value(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == '\r' || text.back() == '\n' || text.back() == ' ' ||
                           text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// The whole of `text` as a decimal number, nothing else.
std::optional<uint64_t> decimal_number(std::string_view text) {
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The value of header `name` (lower case, with its colon) in `line`, or nullopt.
std::optional<std::string_view> header_value(std::string_view line, std::string_view name) {
  if (line.size() < name.size()) return std::nullopt;
  for (size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return std::nullopt;
  }
  return trim_header_value(line.substr(name.size()));
}

std::string range_text(const ContentRange& range) {
  return fmt::format("bytes {}-{}/{}", range.first, range.last,
                     range.total ? std::to_string(*range.total) : "*");
}

std::string status_refusal(const ResponseHead& head) {
  if (head.status == 204 || head.status == 205) {
    return fmt::format("the server answered {} with no content: there is no file to save",
                       head.status);
  }
  if (head.status >= 300 && head.status < 400 && !head.has_location) {
    return fmt::format("the server answered {} without a Location to follow", head.status);
  }
  return fmt::format("the server answered {}, which holds no file", head.status);
}

Verdict judge_partial(const ResponseHead& head, const PartState& part) {
  const auto range = parse_content_range(head.content_range);
  if (!range) {
    const std::string reason = "the server answered 206 without a byte range (Content-Range: '" +
                               head.content_range + "')";
    return {part.have > 0 ? Verdict::Kind::kStartOver : Verdict::Kind::kRetry, reason, {}};
  }
  if (part.have == 0) {
    if (range->first == 0 && range->total && range->last + 1 == *range->total) {
      return {Verdict::Kind::kWhole, "", range->total};
    }
    return {Verdict::Kind::kRetry,
            "the server answered a request for the whole file with " + range_text(*range),
            {}};
  }
  const std::optional<uint64_t> total = range->total ? range->total : part.total;
  const bool starts_at_end_of_part = range->first == part.have;
  const bool reaches_end = !total || range->last + 1 == *total;
  const bool same_size = !range->total || !part.total || *range->total == *part.total;
  const std::string validator = head.validator();
  const bool same_version =
      part.validator.empty() || validator.empty() || validator == part.validator;
  if (starts_at_end_of_part && reaches_end && same_size && same_version) {
    return {Verdict::Kind::kAppend, "", total};
  }
  std::string reason = fmt::format(
      "asked for bytes {}- of {}, the server answered with {}", part.have,
      part.total ? std::to_string(*part.total) + " bytes" : "a file", range_text(*range));
  if (!same_version)
    reason += " of another version (" + validator + ", not " + part.validator + ")";
  return {Verdict::Kind::kStartOver, reason, {}};
}

}  // namespace

std::optional<ContentRange> parse_content_range(std::string_view value) {
  value = trim_header_value(value);
  if (!value.starts_with("bytes ")) return std::nullopt;
  value = trim_header_value(value.substr(6));
  const size_t dash = value.find('-');
  const size_t slash = value.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash) {
    return std::nullopt;
  }
  const auto first = decimal_number(value.substr(0, dash));
  const auto last = decimal_number(value.substr(dash + 1, slash - dash - 1));
  const std::string_view total_text = value.substr(slash + 1);
  if (!first || !last || *last < *first) return std::nullopt;
  ContentRange range{*first, *last, std::nullopt};
  if (total_text != "*") {
    range.total = decimal_number(total_text);
    if (!range.total || *range.total <= *last) return std::nullopt;
  }
  return range;
}

void ResponseHead::add(std::string_view line) {
  if (line.starts_with("HTTP/")) {
    *this = ResponseHead();
    // "HTTP/1.1 206 Partial Content", "HTTP/2 200"
    const size_t space = line.find(' ');
    if (space != std::string_view::npos) {
      status = static_cast<int>(decimal_number(line.substr(space + 1, 3)).value_or(0));
    }
  } else if (auto value = header_value(line, "content-range:")) {
    content_range = *value;
  } else if (auto etag_value = header_value(line, "etag:")) {
    etag = *etag_value;
  } else if (auto modified = header_value(line, "last-modified:")) {
    last_modified = *modified;
  } else if (auto length = header_value(line, "content-length:")) {
    content_length = decimal_number(*length);
  } else if (header_value(line, "location:")) {
    has_location = true;
  }
}

std::string ResponseHead::validator() const {
  if (!etag.empty() && !etag.starts_with("W/")) return etag;
  return last_modified;
}

Verdict judge_response(const ResponseHead& head, const PartState& part) {
  if (head.status == 206) return judge_partial(head, part);
  if (head.status >= 200 && head.status < 300 && head.status != 204 && head.status != 205) {
    return {Verdict::Kind::kWhole, "", head.content_length};
  }
  return {Verdict::Kind::kRefuse, status_refusal(head), {}};
}

}  // namespace taskpool
