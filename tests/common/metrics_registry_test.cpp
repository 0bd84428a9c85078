// The Prometheus text exposition of common/metrics: escaping, counters, gauges, histograms with and
// without labels, and observations counted elsewhere.
#include <catch2/catch.hpp>

#include "common/metrics/registry.h"

namespace gpupool::metrics {
namespace {

TEST_CASE("registry: text exposition format") {
  Registry r;
  r.DeclareCounter("c_total", "a counter");
  r.DeclareGauge("g", "a gauge");
  r.DeclareHistogram("h_seconds", "a histogram", {0.1, 1});
  r.Add("c_total", {{"pool", "a"}});
  r.Add("c_total", {{"pool", "a"}}, 2);
  r.Set("g", {{"pool", "we\"ird\\\n"}}, 1.5);
  r.Observe("h_seconds", 0.05);
  r.Observe("h_seconds", 0.5);
  r.Observe("h_seconds", 5);
  CHECK(r.Render() ==
        "# HELP c_total a counter\n# TYPE c_total counter\nc_total{pool=\"a\"} 3\n"
        "# HELP g a gauge\n# TYPE g gauge\ng{pool=\"we\\\"ird\\\\\\n\"} 1.5\n"
        "# HELP h_seconds a histogram\n# TYPE h_seconds histogram\n"
        "h_seconds_bucket{le=\"0.1\"} 1\nh_seconds_bucket{le=\"1\"} 2\n"
        "h_seconds_bucket{le=\"+Inf\"} 3\nh_seconds_sum 5.55\nh_seconds_count 3\n");
  CHECK(r.Value("c_total", {{"pool", "a"}}) == 3);
  CHECK(r.Value("c_total", {{"pool", "b"}}) == 0);
  r.Clear("g");
  CHECK(r.Render().find("g{") == std::string::npos);
}

TEST_CASE("registry: labelled histograms and observations counted elsewhere") {
  Registry r;
  r.DeclareHistogram("d_seconds", "durations", {0.001, 0.01});
  r.Observe("d_seconds", {{"class", "copy"}}, 0.005);
  r.AddObservations("d_seconds", {{"class", "memory"}}, {2, 0, 1}, 0.5);
  r.AddObservations("d_seconds", {{"class", "memory"}}, {1, 0, 0}, 0.0005);
  CHECK(
      r.Render() ==
      "# HELP d_seconds durations\n# TYPE d_seconds histogram\n"
      "d_seconds_bucket{class=\"copy\",le=\"0.001\"} 0\nd_seconds_bucket{class=\"copy\",le=\"0.01\"} 1\n"
      "d_seconds_bucket{class=\"copy\",le=\"+Inf\"} 1\nd_seconds_sum{class=\"copy\"} 0.005\n"
      "d_seconds_count{class=\"copy\"} 1\n"
      "d_seconds_bucket{class=\"memory\",le=\"0.001\"} 3\nd_seconds_bucket{class=\"memory\",le=\"0.01\"} 3\n"
      "d_seconds_bucket{class=\"memory\",le=\"+Inf\"} 4\nd_seconds_sum{class=\"memory\"} 0.5005\n"
      "d_seconds_count{class=\"memory\"} 4\n");
  CHECK(r.Value("d_seconds", {{"class", "memory"}}) == 4);
  CHECK(r.Value("d_seconds", {}) == 0);
}

TEST_CASE("registry: numbers without exponents, integers without a point") {
  Registry r;
  r.DeclareGauge("g", "a gauge");
  r.Set("g", {{"v", "small"}}, 0.0001);
  r.Set("g", {{"v", "big"}}, 1e20);
  r.Set("g", {{"v", "whole"}}, 17179869184);
  CHECK(r.Render() ==
        "# HELP g a gauge\n# TYPE g gauge\ng{v=\"big\"} 100000000000000000000\ng{v=\"small\"} 0.0001\n"
        "g{v=\"whole\"} 17179869184\n");
}

}  // namespace
}  // namespace gpupool::metrics
