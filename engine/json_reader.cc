#include "engine/json_reader.h"

#include <iterator>
#include <set>
#include <vector>

#include "engine/names.h"

namespace vc {
namespace {

// An input iterator over the text that counts what the parser has consumed, so the handler
// knows where in the text each event happens.
struct CountingIterator {
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  const char* p;
  std::size_t* consumed;

  reference operator*() const { return *p; }
  CountingIterator& operator++() {
    ++p;
    ++*consumed;
    return *this;
  }
  CountingIterator operator++(int) {
    CountingIterator old = *this;
    ++*this;
    return old;
  }
  bool operator==(const CountingIterator& other) const { return p == other.p; }
  bool operator!=(const CountingIterator& other) const { return p != other.p; }
};

// Checks structure only; the value itself is built by a second, now safe, parse.
class StrictChecker : public nlohmann::json_sax<Json> {
 public:
  StrictChecker(int max_depth, const std::size_t* consumed)
      : max_depth_(max_depth), consumed_(consumed) {}

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return Open(true); }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t) override { return Open(false); }
  bool end_array() override { return Close(); }
  bool key(string_t& name) override {
    if (!keys_.back().insert(name).second) {
      return Fail("the key \"" + Printable(name) + "\" appears twice in the same object");
    }
    return true;
  }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& e) override {
    error_position_ = position > 0 ? position - 1 : 0;
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error while
    // parsing object - unexpected ..." -> the part after the position.
    std::size_t colon = what.find(": ", what.find("column"));
    error_ = colon == std::string::npos ? what : what.substr(colon + 2);
    return false;
  }

  const std::string& error() const { return error_; }
  std::size_t error_position() const { return error_position_; }

 private:
  static std::string Printable(const std::string& text) {
    std::string out;
    for (unsigned char c : text.substr(0, 64))
      out += c < 0x20 || c == '"' ? '?' : static_cast<char>(c);
    return out + (text.size() > 64 ? "..." : "");
  }
  bool Open(bool object) {
    if (++depth_ > max_depth_)
      return Fail("nested deeper than " + std::to_string(max_depth_) + " levels");
    keys_.emplace_back();
    (void)object;
    return true;
  }
  bool Close() {
    --depth_;
    keys_.pop_back();
    return true;
  }
  bool Fail(std::string message) {
    error_ = std::move(message);
    error_position_ = *consumed_ > 0 ? *consumed_ - 1 : 0;
    return false;
  }

  int max_depth_;
  int depth_ = 0;
  const std::size_t* consumed_;
  std::vector<std::set<std::string>> keys_;
  std::string error_;
  std::size_t error_position_ = 0;
};

}  // namespace

std::string PositionOf(std::string_view text, std::size_t offset) {
  std::size_t line = 1;
  std::size_t column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

StatusOr<Json> ReadStrictJson(std::string_view text, int max_depth) {
  std::size_t consumed = 0;
  StrictChecker checker(max_depth, &consumed);
  CountingIterator first{text.data(), &consumed};
  CountingIterator last{text.data() + text.size(), &consumed};
  bool ok =
      Json::sax_parse(first, last, &checker, nlohmann::detail::input_format_t::json, true, false);
  if (!ok) {
    std::string what = checker.error().empty() ? "not valid JSON" : checker.error();
    return Status::InvalidArgument(PositionOf(text, checker.error_position()) + ": " +
                                   EscapeInvalidUtf8(what))
        .WithErrorCode(ErrorCode::kInvalidDocument);
  }
  Json value = Json::parse(text, nullptr, false, false);
  if (value.is_discarded()) {
    return Status::InvalidArgument("not valid JSON").WithErrorCode(ErrorCode::kInvalidDocument);
  }
  return value;
}

}  // namespace vc
