#include "backend/data/internal/bpe.h"

#include <array>
#include <queue>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "backend/data/internal/utf8.h"

namespace wring {
namespace backend {
namespace data {
namespace internal {
namespace {

using Json = TokenizerJson;

uint64_t PairKey(int64_t left, int64_t right) {
  return (static_cast<uint64_t>(left) << 32) | static_cast<uint64_t>(right);
}

absl::Status ModelError(absl::string_view path, absl::string_view detail) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": model: ", detail));
}

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves,
// the others map to U+0100 onwards in byte order.
const std::array<std::string, 256>& ByteCharacters() {
  static const std::array<std::string, 256>* const table = [] {
    auto* built = new std::array<std::string, 256>;
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const bool printable =
          (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      AppendUtf8(printable ? static_cast<char32_t>(b) : next++, &(*built)[b]);
    }
    return built;
  }();
  return *table;
}

struct Symbol {
  int64_t id;
  int64_t prev;
  int64_t next;
  size_t length;  // bytes; 0 once merged into its left neighbour
};

struct Candidate {
  uint32_t rank;
  size_t pos;
  int64_t new_id;
  // priority_queue pops the largest: make that the lowest rank, then the
  // leftmost position.
  bool operator<(const Candidate& other) const {
    if (rank != other.rank) return rank > other.rank;
    return pos > other.pos;
  }
};

}  // namespace

std::string ByteLevelEncode(absl::string_view piece) {
  const auto& characters = ByteCharacters();
  std::string out;
  out.reserve(piece.size() * 2);
  for (char byte : piece) out += characters[static_cast<unsigned char>(byte)];
  return out;
}

absl::StatusOr<BpeModel> BpeModel::FromJson(const Json& model, absl::string_view path) {
  if (!model.is_object()) return ModelError(path, "expected an object");
  const auto type = JsonString(model, "type");
  if (type.has_value() && *type != "BPE") {
    return ModelError(path, absl::StrCat("type \"", *type,
                                         "\" is not supported (only BPE tokenizers)"));
  }
  auto reject_if_set = [&](const char* key) -> absl::Status {
    const Json* value = JsonMember(model, key);
    if (value == nullptr || value->is_null() || (value->is_string() && value->get_ref<const std::string&>().empty()) ||
        (value->is_boolean() && !value->get<bool>()) ||
        (value->is_number() && value->get<double>() == 0)) {
      return absl::OkStatus();
    }
    return ModelError(path, absl::StrCat(key, " is set, which wring does not support"));
  };
  for (const char* key : {"dropout", "continuing_subword_prefix", "end_of_word_suffix",
                          "byte_fallback"}) {
    absl::Status status = reject_if_set(key);
    if (!status.ok()) return status;
  }
  BpeModel bpe;
  bpe.fuse_unk_ = JsonBool(model, "fuse_unk").value_or(false);
  bpe.ignore_merges_ = JsonBool(model, "ignore_merges").value_or(false);

  const Json* vocab = JsonMember(model, "vocab");
  if (vocab == nullptr || !vocab->is_object()) {
    return ModelError(path, "vocab: expected an object of token -> id");
  }
  for (const auto& [token, id] : vocab->items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
        id.get<int64_t>() > UINT32_MAX) {
      return ModelError(path, absl::StrCat("vocab: id of \"", token,
                                           "\" must be a non-negative 32-bit integer"));
    }
    bpe.vocab_[token] = id.get<int64_t>();
    bpe.max_id_ = std::max(bpe.max_id_, id.get<int64_t>());
  }
  if (const auto unk = JsonString(model, "unk_token")) {
    auto it = bpe.vocab_.find(*unk);
    if (it == bpe.vocab_.end()) {
      return ModelError(path, absl::StrCat("unk_token \"", *unk, "\" is not in vocab"));
    }
    bpe.unk_id_ = it->second;
  }

  const Json* merges = JsonMember(model, "merges");
  if (merges == nullptr || !merges->is_array()) {
    return ModelError(path, "merges: expected an array");
  }
  bpe.merges_.reserve(merges->size());
  uint32_t rank = 0;
  for (const Json& merge : *merges) {
    std::string left, right;
    if (merge.is_string()) {  // "left right"
      const std::string& text = merge.get_ref<const std::string&>();
      const size_t space = text.find(' ');
      if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
        return ModelError(path, absl::StrCat("merges[", rank, "]: \"", text,
                                             "\" is not two tokens separated by a space"));
      }
      left = text.substr(0, space);
      right = text.substr(space + 1);
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
               merge[1].is_string()) {
      left = merge[0].get<std::string>();
      right = merge[1].get<std::string>();
    } else {
      return ModelError(path, absl::StrCat("merges[", rank,
                                           "]: expected \"a b\" or [\"a\", \"b\"]"));
    }
    auto left_id = bpe.vocab_.find(left);
    auto right_id = bpe.vocab_.find(right);
    auto new_id = bpe.vocab_.find(left + right);
    if (left_id == bpe.vocab_.end() || right_id == bpe.vocab_.end() ||
        new_id == bpe.vocab_.end()) {
      return ModelError(path, absl::StrCat("merges[", rank, "]: \"", left, "\" + \"", right,
                                           "\" uses a token that is not in vocab"));
    }
    // A repeated pair keeps its last rank, like the reference's hash map.
    bpe.merges_[PairKey(left_id->second, right_id->second)] = {rank, new_id->second};
    ++rank;
  }
  return bpe;
}

std::optional<int64_t> BpeModel::TokenToId(absl::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

void BpeModel::Tokenize(absl::string_view word, std::vector<int64_t>* ids) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (auto it = vocab_.find(word); it != vocab_.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  auto add = [&symbols](int64_t id, size_t length) {
    const int64_t index = static_cast<int64_t>(symbols.size());
    if (!symbols.empty()) symbols.back().next = index;
    symbols.push_back({id, index - 1, -1, length});
  };
  std::optional<std::pair<int64_t, size_t>> pending_unk;  // id, byte length
  for (size_t pos = 0; pos < word.size();) {
    const size_t length = Utf8CharLength(word, pos);
    auto it = vocab_.find(word.substr(pos, length));
    if (it != vocab_.end()) {
      if (pending_unk) add(pending_unk->first, pending_unk->second);
      pending_unk.reset();
      add(it->second, length);
    } else if (unk_id_) {
      if (pending_unk && fuse_unk_) {
        pending_unk->second += length;
      } else {
        if (pending_unk) add(pending_unk->first, pending_unk->second);
        pending_unk = std::make_pair(*unk_id_, length);
      }
    }
    pos += length;
  }
  if (pending_unk) add(pending_unk->first, pending_unk->second);

  std::priority_queue<Candidate> queue;
  auto push_pair = [&](size_t pos) {
    if (symbols[pos].next < 0) return;
    auto it = merges_.find(PairKey(symbols[pos].id, symbols[symbols[pos].next].id));
    if (it != merges_.end()) queue.push({it->second.rank, pos, it->second.new_id});
  };
  for (size_t pos = 0; pos + 1 < symbols.size(); ++pos) push_pair(pos);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (left.length == 0 || left.next < 0) continue;
    const Symbol right = symbols[left.next];
    auto it = merges_.find(PairKey(left.id, right.id));
    // Stale entry: the pair at this position changed since it was queued.
    if (it == merges_.end() || it->second.new_id != top.new_id) continue;
    left.id = top.new_id;
    left.length += right.length;
    symbols[left.next].length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = static_cast<int64_t>(top.pos);
    if (left.prev >= 0) push_pair(static_cast<size_t>(left.prev));
    push_pair(top.pos);
  }
  for (const Symbol& symbol : symbols) {
    if (symbol.length != 0) ids->push_back(symbol.id);
  }
}

}  // namespace internal
}  // namespace data
}  // namespace backend
}  // namespace wring
