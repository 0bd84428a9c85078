#include "cli/session_rates.h"

#include <catch2/catch.hpp>

#include "cli/table.h"

namespace gpupool::cli {
namespace {

control::v1::Session Sample(std::uint64_t kernels, std::uint64_t h2d, std::uint64_t d2h, double busy,
                            std::int64_t started_ms) {
  control::v1::Session s;
  s.set_id(7);
  s.set_kernels_launched(kernels);
  s.set_bytes_to_device(h2d);
  s.set_bytes_from_device(d2h);
  s.set_gpu_busy_seconds(busy);
  s.set_started_unix_ms(started_ms);
  return s;
}

}  // namespace

TEST_CASE("session rates: between two samples, or since the session started", "[session_rates]") {
  const auto before = Sample(1000, 1 << 20, 0, 1.0, 0);
  const auto now = Sample(3000, 5 << 20, 1 << 20, 2.0, 0);

  const SessionRates between = RatesOf(&before, now, 2.0, 100000);
  CHECK_FALSE(between.since_start);
  CHECK(between.window_seconds == 2.0);
  CHECK(between.kernels_per_second == Approx(1000));
  CHECK(between.bytes_to_device_per_second == Approx(2 << 20));
  CHECK(between.bytes_from_device_per_second == Approx(512 * 1024));
  CHECK(between.busy_fraction == Approx(0.5));

  // No earlier sample: averages over the session's 100 s of life.
  const SessionRates first = RatesOf(nullptr, now, 0, 100000);
  CHECK(first.since_start);
  CHECK(first.window_seconds == Approx(100));
  CHECK(first.kernels_per_second == Approx(30));
  CHECK(first.busy_fraction == Approx(0.02));

  // Counters that went backwards belong to another session under a reused id: no negative rates.
  const SessionRates reused = RatesOf(&now, before, 2.0, 100000);
  CHECK(reused.since_start);
  CHECK(reused.kernels_per_second >= 0);

  // A session started "now" (or in the future, after a clock step) has no rate yet rather than inf.
  const SessionRates fresh = RatesOf(nullptr, Sample(5, 5, 5, 0, 100000), 0, 100000);
  CHECK(fresh.window_seconds == 0);
  CHECK(fresh.kernels_per_second == 0);
}

TEST_CASE("session rates: ages print in the two largest units", "[session_rates]") {
  const std::vector<std::pair<std::int64_t, std::string>> cases = {
      {-5, "0s"}, {0, "0s"}, {59, "59s"}, {75, "1m15s"}, {3600, "1h0m"}, {7260, "2h1m"}, {200000, "2d7h"}};
  for (const auto& [seconds, text] : cases) CHECK(FormatAge(seconds) == text);
}

TEST_CASE("table: columns are as wide as their widest cell", "[table]") {
  Table t({"A", "LONGER", "C"});
  t.AddRow({"wide-cell", "x", "last"});
  t.AddRow({"y"});  // missing cells print empty
  CHECK(t.rows() == 2);
  CHECK(t.ToString() ==
        "A          LONGER  C\n"
        "wide-cell  x       last\n"
        "y\n");
}

}  // namespace gpupool::cli
