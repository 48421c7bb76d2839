#include "engine/size.h"

#include <fmt/format.h>

#include <array>
#include <utility>

namespace vc {
namespace {

struct Unit {
  std::string_view suffix;
  int shift;
};
// Largest first, so FormatSize picks the largest unit that divides exactly.
constexpr std::array<Unit, 5> kUnits = {
    {{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}};

// The messages are built with fmt::format rather than `"'" + std::string(text) + ...`: GCC 12 at
// -O3 reports a false -Wrestrict on operator+(const char*, std::string&&), a known GCC 12 bug.
Status Invalid(std::string_view text, std::string_view problem) {
  return Status::InvalidArgument(fmt::format("'{}' {}", text, problem));
}

}  // namespace

StatusOr<std::uint64_t> ParseSize(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) {
    return Invalid(text,
                   "is not a size: expected digits and a unit (B, KiB, MiB, GiB, TiB), e.g. 2GiB");
  }
  std::string_view suffix = text.substr(digits);
  int shift = -1;
  if (suffix.empty()) shift = 0;
  for (const Unit& unit : kUnits) {
    if (suffix == unit.suffix) shift = unit.shift;
  }
  if (shift < 0) {
    return Invalid(text, fmt::format("has unknown unit '{}': use B, KiB, MiB, GiB or TiB", suffix));
  }
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (kMaxSize - digit) / 10) {
      return Invalid(text, "is too large (limit 2^63-1 bytes)");
    }
    value = value * 10 + digit;
  }
  if (value == 0) return Invalid(text, "is zero");
  if (shift > 0 && value > (kMaxSize >> shift)) {
    return Invalid(text, "is too large (limit 2^63-1 bytes)");
  }
  return value << shift;
}

std::string FormatSize(std::uint64_t bytes) {
  for (const Unit& unit : kUnits) {
    std::uint64_t mask = (std::uint64_t{1} << unit.shift) - 1;
    if (bytes != 0 && (bytes & mask) == 0) {
      return std::to_string(bytes >> unit.shift) + std::string(unit.suffix);
    }
  }
  return std::to_string(bytes) + "B";
}

std::string ApproximateSize(std::uint64_t bytes) {
  for (const Unit& unit : kUnits) {
    if (unit.shift == 0 || bytes < (std::uint64_t{1} << unit.shift)) continue;
    const double value =
        static_cast<double>(bytes) / static_cast<double>(std::uint64_t{1} << unit.shift);
    std::string text = fmt::format("{:.1f}", value);
    if (text.size() > 2 && text.compare(text.size() - 2, 2, ".0") == 0)
      text.resize(text.size() - 2);
    return text + std::string(unit.suffix);
  }
  return std::to_string(bytes) + "B";
}

std::uint64_t SizeBytes(const nlohmann::json& size) {
  return size.is_string() ? ParseSize(size.get<std::string>()).value_or(0) : 0;
}

}  // namespace vc
