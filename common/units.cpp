#include "common/units.h"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>

namespace gpupool {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct Unit {
  std::string_view name;
  std::uint64_t factor;
};

constexpr std::array<Unit, 16> kUnits = {{
    {"", 1},
    {"b", 1},
    {"k", 1000ULL},
    {"kb", 1000ULL},
    {"m", 1000ULL * 1000},
    {"mb", 1000ULL * 1000},
    {"g", 1000ULL * 1000 * 1000},
    {"gb", 1000ULL * 1000 * 1000},
    {"t", 1000ULL * 1000 * 1000 * 1000},
    {"tb", 1000ULL * 1000 * 1000 * 1000},
    {"ki", 1ULL << 10},
    {"kib", 1ULL << 10},
    {"mi", 1ULL << 20},
    {"mib", 1ULL << 20},
    {"gi", 1ULL << 30},
    {"gib", 1ULL << 30},
}};

bool LookupUnit(std::string_view unit, std::uint64_t* factor) {
  for (const Unit& u : kUnits) {
    if (u.name == unit) {
      *factor = u.factor;
      return true;
    }
  }
  if (unit == "ti" || unit == "tib") {
    *factor = 1ULL << 40;
    return true;
  }
  return false;
}

}  // namespace

Result<std::uint64_t> ParseSize(std::string_view text) {
  const std::string quoted = "size \"" + std::string(text) + "\"";
  if (text.empty()) return Status::InvalidArgument("empty size");
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) return Status::InvalidArgument(quoted + " does not start with a number");
  const std::string_view number = text.substr(0, i);
  std::uint64_t factor = 0;
  if (!LookupUnit(Lower(text.substr(i)), &factor)) {
    return Status::InvalidArgument(quoted + " has an unknown unit (use B, KiB, MiB, GiB, TiB, K, M, G, T)");
  }
  if (number.find('.') == std::string_view::npos) {
    std::uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), v);
    if (ec != std::errc() || ptr != number.data() + number.size()) {
      return Status::InvalidArgument(quoted + " is not a valid number");
    }
    if (v > std::numeric_limits<std::uint64_t>::max() / factor) {
      return Status::InvalidArgument(quoted + " is too large");
    }
    return v * factor;
  }
  // Fractions ("1.5GiB") must land on a whole number of bytes.
  if (number.find('.') != number.rfind('.') || number.back() == '.') {
    return Status::InvalidArgument(quoted + " is not a valid number");
  }
  const double v = std::strtod(std::string(number).c_str(), nullptr);
  const long double bytes = static_cast<long double>(v) * static_cast<long double>(factor);
  if (!(bytes < 1.8e19L)) return Status::InvalidArgument(quoted + " is too large");
  if (bytes != std::floor(bytes)) return Status::InvalidArgument(quoted + " is not a whole number of bytes");
  return static_cast<std::uint64_t>(bytes);
}

std::string FormatBytes(std::uint64_t bytes) {
  static constexpr std::array<const char*, 5> kNames = {"B", "KiB", "MiB", "GiB", "TiB"};
  std::size_t unit = 0;
  double value = static_cast<double>(bytes);
  while (value >= 1024.0 && unit + 1 < kNames.size()) {
    value /= 1024.0;
    ++unit;
  }
  char buf[48];
  if (value == std::floor(value)) {
    std::snprintf(buf, sizeof buf, "%.0f %s", value, kNames[unit]);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", value, kNames[unit]);
  }
  return buf;
}

Result<int> ParsePercent(std::string_view text) {
  int v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return Status::InvalidArgument("percent \"" + std::string(text) + "\" is not a whole number");
  }
  if (v < 1 || v > 100) {
    return Status::InvalidArgument("percent " + std::string(text) + " is outside 1..100");
  }
  return v;
}

Result<std::int64_t> ParseDurationMs(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + i, v);
  const std::string quoted = "duration \"" + std::string(text) + "\"";
  if (i == 0 || ec != std::errc()) return Status::InvalidArgument(quoted + " does not start with a number");
  const std::string_view unit = text.substr(i);
  std::int64_t factor = 0;
  if (unit == "ms") {
    factor = 1;
  } else if (unit == "s") {
    factor = 1000;
  } else if (unit == "m") {
    factor = 60 * 1000;
  } else if (unit == "h") {
    factor = 3600 * 1000;
  } else {
    return Status::InvalidArgument(quoted + " needs a unit: ms, s, m or h");
  }
  if (v > std::numeric_limits<std::int64_t>::max() / factor)
    return Status::InvalidArgument(quoted + " is too large");
  return v * factor;
}

std::string FormatRfc3339(std::chrono::system_clock::time_point t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view text) {
  const std::string copy(text);
  std::tm tm{};
  const char* end = strptime(copy.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (end == nullptr || *end != '\0') {
    return Status::InvalidArgument("\"" + copy + "\" is not a UTC time like 2026-01-01T00:00:00Z");
  }
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace gpupool
