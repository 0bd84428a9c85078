#include "common/units.h"

#include <catch2/catch.hpp>

namespace gpupool {

TEST_CASE("ParseSize accepts binary, SI and plain byte counts", "[units]") {
  struct Case {
    const char* text;
    std::uint64_t bytes;
  };
  const Case cases[] = {
      {"0", 0},
      {"1", 1},
      {"1073741824", 1073741824ULL},
      {"1GiB", 1ULL << 30},
      {"1Gi", 1ULL << 30},
      {"1gib", 1ULL << 30},
      {"512MiB", 512ULL << 20},
      {"1.5GiB", 3ULL << 29},
      {"64KiB", 64ULL << 10},
      {"16G", 16000000000ULL},
      {"2TiB", 2ULL << 40},
      {"10B", 10},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto r = ParseSize(c.text);
    REQUIRE(r.ok());
    CHECK(*r == c.bytes);
  }
}

TEST_CASE("ParseSize rejects malformed and overflowing sizes with the input in the message", "[units]") {
  for (const char* text : {"", "GiB", "1 GiB", "1XB", "-1", "1.", "1.2.3GiB", "0.3B", "99999999999999999999",
                           "17179869184GiB"}) {
    INFO(text);
    auto r = ParseSize(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    if (*text != '\0') CHECK(r.status().message().find(text) != std::string::npos);
  }
}

TEST_CASE("FormatBytes prints the largest whole unit", "[units]") {
  CHECK(FormatBytes(0) == "0 B");
  CHECK(FormatBytes(1536) == "1.5 KiB");
  CHECK(FormatBytes(16ULL << 30) == "16 GiB");
}

TEST_CASE("ParsePercent accepts 1..100 only", "[units]") {
  CHECK(*ParsePercent("1") == 1);
  CHECK(*ParsePercent("100") == 100);
  for (const char* bad : {"0", "101", "50%", "", "x", "-5", "5.5"}) {
    INFO(bad);
    CHECK_FALSE(ParsePercent(bad).ok());
  }
}

TEST_CASE("ParseDurationMs needs a unit", "[units]") {
  CHECK(*ParseDurationMs("250ms") == 250);
  CHECK(*ParseDurationMs("5s") == 5000);
  CHECK(*ParseDurationMs("2m") == 120000);
  CHECK(*ParseDurationMs("1h") == 3600000);
  CHECK_FALSE(ParseDurationMs("5").ok());
  CHECK_FALSE(ParseDurationMs("s").ok());
}

TEST_CASE("FormatRfc3339 writes UTC with whole seconds, as metav1.Time", "[units]") {
  using std::chrono::system_clock;
  CHECK(FormatRfc3339(system_clock::from_time_t(0)) == "1970-01-01T00:00:00Z");
  CHECK(FormatRfc3339(system_clock::from_time_t(1796688000) + std::chrono::milliseconds(999)) ==
        "2026-12-08T00:00:00Z");
}

TEST_CASE("ParseRfc3339 reads what FormatRfc3339 writes and nothing else", "[units]") {
  using std::chrono::system_clock;
  auto t = ParseRfc3339("2026-12-08T00:00:00Z");
  REQUIRE(t.ok());
  CHECK(*t == system_clock::from_time_t(1796688000));
  CHECK(ParseRfc3339(FormatRfc3339(*t + std::chrono::hours(5))).value() == *t + std::chrono::hours(5));
  for (const char* bad : {"", "2026-12-08", "2026-12-08T00:00:00", "2026-12-08T00:00:00Zjunk", "yesterday"}) {
    CAPTURE(bad);
    CHECK(ParseRfc3339(bad).status().code() == Code::kInvalidArgument);
  }
}

}  // namespace gpupool
