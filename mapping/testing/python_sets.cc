#include "mapping/testing/python_sets.h"

#include <set>
#include <utility>
#include <vector>

namespace wring {
namespace mapping {
namespace testing {
namespace {

// Reads one Python string literal ('...' or "...") at `text[*pos]`.
bool ReadPythonString(const std::string& text, size_t* pos, std::string* out) {
  if (*pos >= text.size() || (text[*pos] != '\'' && text[*pos] != '"')) return false;
  const char quote = text[(*pos)++];
  out->clear();
  while (*pos < text.size() && text[*pos] != quote) {
    char c = text[(*pos)++];
    if (c == '\\' && *pos < text.size()) {
      char e = text[(*pos)++];
      out->push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
    } else {
      out->push_back(c);
    }
  }
  if (*pos >= text.size()) return false;
  ++*pos;  // closing quote
  return true;
}

// Splits `text` into literal text and sets of strings: every "{'" opens a
// set that runs to its matching "}".
bool SplitSets(const std::string& text, std::vector<std::string>* literal,
               std::vector<std::set<std::string>>* sets) {
  literal->assign(1, "");
  size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] == '{' && pos + 1 < text.size() &&
        (text[pos + 1] == '\'' || text[pos + 1] == '"')) {
      ++pos;
      std::set<std::string> members;
      while (true) {
        std::string item;
        if (!ReadPythonString(text, &pos, &item)) return false;
        members.insert(item);
        if (pos < text.size() && text[pos] == '}') {
          ++pos;
          break;
        }
        if (text.compare(pos, 2, ", ") != 0) return false;
        pos += 2;
      }
      sets->push_back(std::move(members));
      literal->push_back("");
    } else {
      literal->back().push_back(text[pos++]);
    }
  }
  return true;
}

}  // namespace

bool SameMessageUpToSetOrder(const std::string& actual, const std::string& expected,
                             std::string* why) {
  std::vector<std::string> actual_text, expected_text;
  std::vector<std::set<std::string>> actual_sets, expected_sets;
  if (!SplitSets(actual, &actual_text, &actual_sets)) {
    *why = "cannot parse the sets in: " + actual;
    return false;
  }
  if (!SplitSets(expected, &expected_text, &expected_sets)) {
    *why = "cannot parse the sets in: " + expected;
    return false;
  }
  if (actual_text != expected_text) {
    *why = "text differs:\n  " + actual + "\n  " + expected;
    return false;
  }
  if (actual_sets != expected_sets) {
    *why = "set members differ:\n  " + actual + "\n  " + expected;
    return false;
  }
  return true;
}

}  // namespace testing
}  // namespace mapping
}  // namespace wring
