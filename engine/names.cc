#include "engine/names.h"

#include <algorithm>
#include <vector>

namespace vc {
namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

namespace {

// The length of the valid UTF-8 sequence starting at text[i] (1-4), or 0 when the bytes there are
// not one (a stray continuation byte, an overlong form, a surrogate, a truncated sequence).
std::size_t Utf8Length(std::string_view text, std::size_t i) {
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = at(i);
  if (c < 0x80) return 1;
  std::size_t n = c >= 0xc2 && c <= 0xdf   ? 2
                  : c >= 0xe0 && c <= 0xef ? 3
                  : c >= 0xf0 && c <= 0xf4 ? 4
                                           : 0;
  if (n == 0 || i + n > text.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((at(i + k) & 0xc0) != 0x80) return 0;
  }
  if (n == 3 && ((c == 0xe0 && at(i + 1) < 0xa0) || (c == 0xed && at(i + 1) >= 0xa0))) return 0;
  if (n == 4 && ((c == 0xf0 && at(i + 1) < 0x90) || (c == 0xf4 && at(i + 1) >= 0x90))) return 0;
  return n;
}

void AppendHex(unsigned char c, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  *out += "\\x";
  *out += kHex[c >> 4];
  *out += kHex[c & 0xf];
}

}  // namespace

std::string Quote(std::string_view text) {
  constexpr std::size_t kShown = 40;  // characters, not bytes: a cut never splits one
  std::string out = "'";
  std::size_t shown = 0;
  std::size_t i = 0;
  while (i < text.size() && shown < kShown) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t n = Utf8Length(text, i);
    if (n == 0 || c < 0x20 || c == 0x7f) {
      AppendHex(c, &out);
      n = 1;
    } else {
      out.append(text.substr(i, n));
    }
    i += n;
    ++shown;
  }
  if (i < text.size()) out += "...(" + std::to_string(text.size()) + " bytes)";
  return out + "'";
}

std::string EscapeInvalidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = Utf8Length(text, i);
    if (n == 0) {
      AppendHex(static_cast<unsigned char>(text[i]), &out);
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

Status CheckName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("name is empty");
  if (name.size() > kMaxNameLength) {
    return Status::InvalidArgument("name " + Quote(name) + " is longer than 64 characters");
  }
  if (!IsAlnum(name.front())) {
    return Status::InvalidArgument("name " + Quote(name) + " must start with a letter or digit");
  }
  for (char c : name) {
    if (!IsAlnum(c) && c != '_' && c != '.' && c != '+' && c != '-') {
      return Status::InvalidArgument("name " + Quote(name) +
                                     " may contain only letters, digits and _ . + -");
    }
  }
  return Status::Ok();
}

Status CheckVolumeKey(std::string_view key) {
  std::size_t slash = key.find('/');
  if (slash == std::string_view::npos) {
    return Status::InvalidArgument("volume " + Quote(key) + " must be written <pool>/<volume>");
  }
  if (Status s = CheckName(key.substr(0, slash)); !s.ok()) return s.WithContext("pool part");
  if (Status s = CheckName(key.substr(slash + 1)); !s.ok()) return s.WithContext("volume part");
  return Status::Ok();
}

std::string ClosestMatch(std::string_view word, const std::vector<std::string_view>& known) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (std::string_view candidate : known) {
    std::size_t d = EditDistance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

}  // namespace vc
