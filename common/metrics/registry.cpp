#include "common/metrics/registry.h"

#include <charconv>
#include <cmath>

namespace gpupool::metrics {
namespace {

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  char buf[400];  // room for any double written out without an exponent
  // The shortest text that reads back as v, without an exponent (le="0.0001", not le="1e-04").
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

}  // namespace

std::string RenderLabels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ',';
    out += labels[i].first + "=\"";
    for (char c : labels[i].second) {
      if (c == '\\')
        out += "\\\\";
      else if (c == '"')
        out += "\\\"";
      else if (c == '\n')
        out += "\\n";
      else
        out += c;
    }
    out += '"';
  }
  return out + "}";
}

Registry::Family& Registry::Declare(const std::string& name, const std::string& type,
                                    const std::string& help) {
  std::lock_guard lock(mu_);
  Family& f = families_[name];
  f.type = type;
  f.help = help;
  return f;
}

void Registry::DeclareCounter(const std::string& name, const std::string& help) {
  Declare(name, "counter", help);
}
void Registry::DeclareGauge(const std::string& name, const std::string& help) {
  Declare(name, "gauge", help);
}

void Registry::DeclareHistogram(const std::string& name, const std::string& help,
                                std::vector<double> bounds) {
  Family& f = Declare(name, "histogram", help);
  std::lock_guard lock(mu_);
  f.bounds = std::move(bounds);
}

void Registry::Add(const std::string& name, const Labels& labels, double delta) {
  std::lock_guard lock(mu_);
  families_[name].series[RenderLabels(labels)] += delta;
}

void Registry::Set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mu_);
  families_[name].series[RenderLabels(labels)] = value;
}

void Registry::Clear(const std::string& name) {
  std::lock_guard lock(mu_);
  families_[name].series.clear();
}

void Registry::Observe(const std::string& name, double value) {
  Observe(name, {}, value);
}

void Registry::Observe(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mu_);
  Family& f = families_[name];
  Histogram& h = f.histograms[RenderLabels(labels)];
  h.counts.resize(f.bounds.size() + 1);
  std::size_t i = 0;
  while (i < f.bounds.size() && value > f.bounds[i]) ++i;
  ++h.counts[i];
  h.sum += value;
  ++h.count;
}

void Registry::AddObservations(const std::string& name, const Labels& labels,
                               const std::vector<std::uint64_t>& counts, double sum) {
  std::lock_guard lock(mu_);
  Family& f = families_[name];
  Histogram& h = f.histograms[RenderLabels(labels)];
  h.counts.resize(f.bounds.size() + 1);
  for (std::size_t i = 0; i < counts.size() && i < h.counts.size(); ++i) {
    h.counts[i] += counts[i];
    h.count += counts[i];
  }
  h.sum += sum;
}

double Registry::Value(const std::string& name, const Labels& labels) const {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  if (it->second.type == "histogram") {
    auto h = it->second.histograms.find(RenderLabels(labels));
    return h == it->second.histograms.end() ? 0 : static_cast<double>(h->second.count);
  }
  auto s = it->second.series.find(RenderLabels(labels));
  return s == it->second.series.end() ? 0 : s->second;
}

std::string Registry::Render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " +
           (f.type.empty() ? "untyped" : f.type) + "\n";
    if (f.type == "histogram") {
      for (const auto& [labels, h] : f.histograms) {
        // `le` joins the series' own labels: {a="x"} -> {a="x",le="0.1"}.
        std::string open = labels.empty() ? "{" : labels.substr(0, labels.size() - 1) + ",";
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i <= f.bounds.size(); ++i) {
          cumulative += i < h.counts.size() ? h.counts[i] : 0;
          const std::string le = i < f.bounds.size() ? Number(f.bounds[i]) : "+Inf";
          out += name + "_bucket" + open + "le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
        }
        out += name + "_sum" + labels + " " + Number(h.sum) + "\n" + name + "_count" + labels + " " +
               std::to_string(h.count) + "\n";
      }
      continue;
    }
    for (const auto& [labels, value] : f.series) out += name + labels + " " + Number(value) + "\n";
  }
  return out;
}

}  // namespace gpupool::metrics
