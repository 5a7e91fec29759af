// A checker of Prometheus' text exposition format (version 0.0.4), strict where a scraper is:
// every sample's family typed once, before it; names and labels well formed, label values
// quoted; each series once; a histogram's buckets cumulative, with +Inf equal to its _count.
// For the job server's tests, which read the values it finds.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taskpool::testing {

class PrometheusText {
 public:
  explicit PrometheusText(std::string_view text) {
    if (!text.empty() && text.back() != '\n') errors.push_back("the text does not end a line");
    size_t line_number = 0;
    while (!text.empty()) {
      const size_t end = text.find('\n');
      const std::string_view line = text.substr(0, end);
      text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
      ++line_number;
      where_ = "line " + std::to_string(line_number) + " '" + std::string(line) + "'";
      if (line.starts_with("#")) {
        comment(line);
      } else if (!line.empty()) {
        sample(line);
      }
    }
    check_histograms();
  }

  std::vector<std::string> errors;
  // Series as written (name{labels}, labels in their order) to their values.
  std::map<std::string, double> values;

  std::string type(const std::string& family) const {
    const auto found = types_.find(family);
    return found == types_.end() ? "" : found->second;
  }
  // The value of `series`; NaN (and an error) when there is none.
  double value(const std::string& series) const {
    const auto found = values.find(series);
    if (found == values.end()) {
      FAIL_CHECK("no series " << series);
      return std::nan("");
    }
    return found->second;
  }

 private:
  struct Bucket {
    double le;
    double count;
  };
  struct Histogram {
    std::vector<Bucket> buckets;
    std::optional<double> sum, count;
  };

  static bool name_char(char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
  }
  static size_t name_length(std::string_view text) {
    size_t i = 0;
    while (i < text.size() && name_char(text[i], i == 0)) ++i;
    return i;
  }
  void error(const std::string& problem) { errors.push_back(where_ + ": " + problem); }

  void comment(std::string_view line) {
    const bool help = line.starts_with("# HELP ");
    if (!help && !line.starts_with("# TYPE ")) return;  // any other comment is allowed
    std::string_view rest = line.substr(7);
    const size_t length = name_length(rest);
    if (length == 0 || (length < rest.size() && rest[length] != ' ')) return error("a bad name");
    const std::string name(rest.substr(0, length));
    if (help) return;
    const std::string_view kind = length < rest.size() ? rest.substr(length + 1) : "";
    static const std::set<std::string_view> kKinds = {"counter", "gauge", "histogram", "summary",
                                                      "untyped"};
    if (kKinds.count(kind) == 0) return error("an unknown type");
    if (!types_.emplace(name, std::string(kind)).second) error("the family is typed twice");
    if (sampled_.count(name) != 0) error("the TYPE comes after the family's samples");
  }

  // The family a sample name belongs to: a histogram's _bucket, _sum and _count are its own.
  std::string family_of(const std::string& name, std::string& suffix) const {
    for (const char* end : {"_bucket", "_sum", "_count"}) {
      const std::string_view tail = end;
      if (!name.ends_with(tail)) continue;
      const std::string base = name.substr(0, name.size() - tail.size());
      if (type(base) == "histogram") {
        suffix = end;
        return base;
      }
    }
    suffix.clear();
    return name;
  }

  // Reads {a="b",c="d"}; returns the labels (le apart) and sets `le`. False when malformed.
  bool labels(std::string_view& rest, std::string& others, std::string& le) {
    rest.remove_prefix(1);
    while (!rest.empty() && rest.front() != '}') {
      const size_t length = name_length(rest);
      if (length == 0 || length + 1 >= rest.size() || rest[length] != '=' ||
          rest[length + 1] != '"') {
        return false;
      }
      const std::string label(rest.substr(0, length));
      rest.remove_prefix(length + 2);
      std::string value;
      while (!rest.empty() && rest.front() != '"') {
        if (rest.front() == '\\' && rest.size() > 1) rest.remove_prefix(1);
        value += rest.front();
        rest.remove_prefix(1);
      }
      if (rest.empty()) return false;
      rest.remove_prefix(1);
      if (label == "le") {
        le = value;
      } else {
        others += (others.empty() ? "" : ",") + label + "=" + value;
      }
      if (!rest.empty() && rest.front() == ',') rest.remove_prefix(1);
    }
    if (rest.empty()) return false;
    rest.remove_prefix(1);
    return true;
  }

  static bool number(std::string_view text, double& out) {
    if (text == "+Inf") {
      out = HUGE_VAL;
      return true;
    }
    const std::string copy(text);
    char* end = nullptr;
    out = std::strtod(copy.c_str(), &end);
    return !copy.empty() && end == copy.c_str() + copy.size();
  }

  void sample(std::string_view line) {
    const size_t length = name_length(line);
    if (length == 0) return error("no metric name");
    const std::string name(line.substr(0, length));
    std::string_view rest = line.substr(length);
    std::string others, le;
    if (!rest.empty() && rest.front() == '{' && !labels(rest, others, le)) {
      return error("malformed labels");
    }
    const std::string series(line.substr(0, line.size() - rest.size()));
    if (rest.empty() || rest.front() != ' ') return error("no value");
    rest.remove_prefix(1);
    rest = rest.substr(0, rest.find(' '));  // a timestamp may follow
    double value = 0;
    if (!number(rest, value)) return error("the value is not a number");
    std::string suffix;
    const std::string family = family_of(name, suffix);
    if (types_.count(family) == 0) return error("no TYPE for " + family + " before it");
    sampled_.insert(family);
    if (!values.emplace(series, value).second) return error("the series comes twice");
    if (type(family) != "histogram") return;
    Histogram& histogram = histograms_[family + "{" + others + "}"];
    if (suffix == "_bucket") {
      double bound = 0;
      if (!number(le, bound)) return error("a bucket without a numeric le");
      histogram.buckets.push_back({bound, value});
    } else if (suffix == "_sum") {
      histogram.sum = value;
    } else if (suffix == "_count") {
      histogram.count = value;
    }
  }

  void check_histograms() {
    for (const auto& [series, histogram] : histograms_) {
      where_ = "histogram " + series;
      if (!histogram.sum || !histogram.count) error("no _sum or no _count");
      if (histogram.buckets.empty() || histogram.buckets.back().le != HUGE_VAL) {
        error("no +Inf bucket last");
        continue;
      }
      for (size_t i = 1; i < histogram.buckets.size(); ++i) {
        if (histogram.buckets[i].le <= histogram.buckets[i - 1].le) error("le not ascending");
        if (histogram.buckets[i].count < histogram.buckets[i - 1].count) {
          error("buckets not cumulative");
        }
      }
      if (histogram.count && histogram.buckets.back().count != *histogram.count) {
        error("the +Inf bucket is not the _count");
      }
    }
  }

  std::string where_;
  std::map<std::string, std::string> types_;
  std::set<std::string> sampled_;
  std::map<std::string, Histogram> histograms_;
};

}  // namespace taskpool::testing
