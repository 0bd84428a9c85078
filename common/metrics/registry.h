// Registry: Prometheus metric families (counter, gauge, histogram) rendered in the text exposition
// format 0.0.4. Families are declared once with their help text; series are addressed by labels.
// The operator keeps one for its lifetime; gpupool-server fills a fresh one per scrape.
//
// Thread-safety: every method may be called from any thread (one mutex).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace gpupool::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Registry {
 public:
  void DeclareCounter(const std::string& name, const std::string& help);
  void DeclareGauge(const std::string& name, const std::string& help);
  // `bounds` are the upper bounds of the buckets, ascending; +Inf is added.
  void DeclareHistogram(const std::string& name, const std::string& help, std::vector<double> bounds);

  void Add(const std::string& name, const Labels& labels, double delta = 1);
  void Set(const std::string& name, const Labels& labels, double value);
  // Drops every series of a family (gauges recomputed as a whole, e.g. per pool).
  void Clear(const std::string& name);
  void Observe(const std::string& name, double value);
  void Observe(const std::string& name, const Labels& labels, double value);
  // Adds observations counted elsewhere (e.g. in another process): `counts` per bucket, not
  // cumulative, one more than the bounds (the last is +Inf); `sum` of the observed values.
  void AddObservations(const std::string& name, const Labels& labels,
                       const std::vector<std::uint64_t>& counts, double sum);

  double Value(const std::string& name, const Labels& labels) const;  // 0 when absent (tests)
  std::string Render() const;

 private:
  struct Histogram {
    std::vector<std::uint64_t> counts;  // per bucket (not cumulative); the last is +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  struct Family {
    std::string type, help;
    std::map<std::string, double> series;         // rendered labels -> value
    std::vector<double> bounds;                   // histogram
    std::map<std::string, Histogram> histograms;  // rendered labels -> histogram
  };
  Family& Declare(const std::string& name, const std::string& type, const std::string& help);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

// {a="x",b="y"} with Prometheus escaping (backslash, quote, newline); "" for no labels.
std::string RenderLabels(const Labels& labels);

}  // namespace gpupool::metrics
