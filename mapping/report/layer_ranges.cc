#include "mapping/report/layer_ranges.h"

#include <algorithm>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "re2/re2.h"

namespace wring {
namespace mapping {

LayerName SplitLayerName(absl::string_view name) {
  static const RE2* layer = new RE2(R"(^(.*(?:^|\.)(?:layers|h|blocks)\.)(\d+)(?:\.(.*))?$)");
  std::string prefix, index, rest;
  LayerName out;
  if (RE2::FullMatch(re2::StringPiece(name.data(), name.size()), *layer, &prefix, &index,
                     &rest)) {
    int i = 0;
    if (absl::SimpleAtoi(index, &i)) {
      out.layer = i;
      out.prefix = prefix;
      out.rest = rest;
      return out;
    }
  }
  out.rest = std::string(name);
  return out;
}

std::string FormatIndexRanges(const std::vector<int>& indices) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < indices.size()) {
    size_t j = i;
    while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1) ++j;
    if (j == i) {
      parts.push_back(absl::StrCat(indices[i]));
    } else if (j == i + 1) {
      parts.push_back(absl::StrCat(indices[i], ",", indices[j]));
    } else {
      parts.push_back(absl::StrCat(indices[i], "-", indices[j]));
    }
    i = j + 1;
  }
  return absl::StrJoin(parts, ",");
}

std::string SummarizeNames(const std::vector<std::string>& names) {
  // Group names by their shape with the first number replaced by {}; a
  // group of 3+ becomes one entry with an index range.
  static const RE2* number = new RE2(R"(^(.*?\.)(\d+)(\..*)$)");
  std::vector<std::string> order;
  std::map<std::string, std::vector<int>> groups;
  for (const std::string& n : names) {
    std::string head, index, tail;
    int i = 0;
    if (RE2::FullMatch(n, *number, &head, &index, &tail) && absl::SimpleAtoi(index, &i)) {
      std::string key = absl::StrCat(head, "\x01", tail);
      if (!groups.count(key)) order.push_back(key);
      groups[key].push_back(i);
    } else {
      order.push_back(n);
    }
  }
  std::vector<std::string> out;
  for (const std::string& key : order) {
    auto it = groups.find(key);
    if (it == groups.end()) {
      out.push_back(key);
      continue;
    }
    size_t sep = key.find('\x01');
    std::string head = key.substr(0, sep), tail = key.substr(sep + 1);
    if (it->second.size() < 3) {
      for (int i : it->second) out.push_back(absl::StrCat(head, i, tail));
    } else {
      out.push_back(absl::StrCat(head, "{", FormatIndexRanges(it->second), "}", tail, " (x",
                                 it->second.size(), ")"));
    }
  }
  return absl::StrJoin(out, ",");
}

std::vector<std::string> CollapseIndexedLines(const std::vector<std::string>& lines) {
  // The index is the first ".<digits>." after the "layers ...: " prefix;
  // every occurrence of it in the line becomes the placeholder.
  static const RE2* index = new RE2(R"(\.(\d+)\.)");
  std::vector<std::string> order;
  std::map<std::string, std::vector<int>> groups;
  std::map<std::string, std::string> single;
  for (const std::string& line : lines) {
    size_t body = line.find(": ");
    body = body == std::string::npos ? 0 : body + 2;
    re2::StringPiece rest(line.data() + body, line.size() - body);
    std::string number;
    int i = 0;
    std::string key;
    if (RE2::PartialMatch(rest, *index, &number) && absl::SimpleAtoi(number, &i)) {
      std::string needle = absl::StrCat(".", number, ".");
      key = line.substr(0, body);
      std::string tail = line.substr(body);
      size_t pos = 0, next;
      while ((next = tail.find(needle, pos)) != std::string::npos) {
        key.append(tail, pos, next - pos);
        key += ".\x01.";
        pos = next + needle.size();
      }
      key.append(tail, pos, std::string::npos);
    } else {
      key = line;
      i = -1;
    }
    if (!groups.count(key)) {
      order.push_back(key);
      single[key] = line;
    }
    groups[key].push_back(i);
  }
  std::vector<std::string> out;
  for (const std::string& key : order) {
    const std::vector<int>& indices = groups[key];
    if (indices.size() < 3 || indices[0] < 0) {
      if (indices.size() == 1 || indices[0] < 0) {
        out.push_back(single[key]);
      } else {
        for (int i : indices) out.push_back(absl::StrReplaceAll(key, {{"\x01", absl::StrCat(i)}}));
      }
      continue;
    }
    std::vector<int> sorted = indices;
    std::sort(sorted.begin(), sorted.end());
    out.push_back(absl::StrCat(
        absl::StrReplaceAll(key, {{"\x01", absl::StrCat("{", FormatIndexRanges(sorted), "}")}}),
        " x", indices.size()));
  }
  return out;
}

}  // namespace mapping
}  // namespace wring
