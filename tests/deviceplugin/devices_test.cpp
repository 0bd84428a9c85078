// Device IDs and GetPreferredAllocation packing, as pure functions.
#include "deviceplugin/devices.h"

#include <catch2/catch.hpp>
#include <set>

namespace gpupool::deviceplugin {
namespace {

Config Capacity(int gpus, int percent, int memory) {
  Config c;
  c.gpus = gpus;
  c.gpu_percent = percent;
  c.gpu_memory_gib = memory;
  return c;
}

TEST_CASE("device IDs follow the capacity, sorted, unique, short, and identical on every build") {
  struct Case {
    int gpus, percent, memory;
    std::string first_percent, last_percent, last_memory;
  };
  const std::vector<Case> cases = {
      {1, 1, 1, "gpu-000-pct-000", "gpu-000-pct-000", "mem-00000"},
      {2, 150, 24, "gpu-000-pct-000", "gpu-001-pct-049", "mem-00023"},
      {16, 1600, 2048, "gpu-000-pct-000", "gpu-015-pct-099", "mem-02047"},
      {256, 25600, 65536, "gpu-000-pct-000", "gpu-255-pct-099", "mem-65535"},
  };
  for (const auto& c : cases) {
    INFO(c.gpus << " " << c.percent << " " << c.memory);
    const auto resources = BuildResources(Capacity(c.gpus, c.percent, c.memory));
    REQUIRE(resources.size() == 3);
    CHECK(resources[0].resource_name == "gpupool.io/gpu");
    CHECK(resources[1].resource_name == "gpupool.io/gpu-percent");
    CHECK(resources[2].resource_name == "gpupool.io/gpu-memory");
    CHECK(resources[0].device_ids.size() == static_cast<std::size_t>(c.gpus));
    CHECK(resources[1].device_ids.size() == static_cast<std::size_t>(c.percent));
    CHECK(resources[2].device_ids.size() == static_cast<std::size_t>(c.memory));
    CHECK(resources[1].device_ids.front() == c.first_percent);
    CHECK(resources[1].device_ids.back() == c.last_percent);
    CHECK(resources[2].device_ids.back() == c.last_memory);
    for (const auto& r : resources) {
      CHECK(std::is_sorted(r.device_ids.begin(), r.device_ids.end()));
      CHECK(std::set<std::string>(r.device_ids.begin(), r.device_ids.end()).size() == r.device_ids.size());
      for (const auto& id : r.device_ids) CHECK(id.size() <= 63);
    }
    const auto again = BuildResources(Capacity(c.gpus, c.percent, c.memory));
    for (std::size_t i = 0; i < 3; ++i) CHECK(again[i].device_ids == resources[i].device_ids);
  }
}

TEST_CASE("packing groups") {
  CHECK(GroupOf("gpu-003-pct-042") == "gpu-003");
  CHECK(GroupOf("gpu-003") == "gpu-003");
  CHECK(GroupOf("mem-01023") == "mem-0");
  CHECK(GroupOf("mem-01024") == "mem-1");
}

// Units [from, to) of percent slot `slot`, as BuildResources names them.
std::vector<std::string> Units(int slot, int from, int to) {
  const auto all = BuildResources(Capacity(slot + 1, 100 * (slot + 1), 1))[1].device_ids;
  return std::vector<std::string>(all.begin() + 100 * slot + from, all.begin() + 100 * slot + to);
}

std::vector<std::string> Join(std::initializer_list<std::vector<std::string>> parts) {
  std::vector<std::string> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::map<std::string, int> PerGroup(const std::vector<std::string>& ids) {
  std::map<std::string, int> n;
  for (const auto& id : ids) ++n[GroupOf(id)];
  return n;
}

TEST_CASE("PreferredAllocation packs units of one slot together") {
  struct Case {
    std::string name;
    std::vector<std::string> available, must;
    int size;
    std::map<std::string, int> want;  // units per group
  };
  const std::vector<Case> cases = {
      {"tightest fit: the partly used slot",
       Join({Units(0, 70, 100), Units(1, 0, 100), Units(2, 0, 100)}),
       {},
       30,
       {{"gpu-000", 30}}},
      {"a whole GPU: a whole slot", Join({Units(0, 50, 100), Units(1, 0, 100)}), {}, 100, {{"gpu-001", 100}}},
      {"must_include pulls its slot",
       Join({Units(0, 0, 100), Units(1, 0, 100)}),
       {Units(1, 5, 6)},
       40,
       {{"gpu-001", 40}}},
      {"too big for any slot: fullest first",
       Join({Units(0, 0, 60), Units(1, 0, 80)}),
       {},
       120,
       {{"gpu-001", 80}, {"gpu-000", 40}}},
      {"more than available: all of it", Units(2, 0, 10), {}, 20, {{"gpu-002", 10}}},
      {"size zero", Units(0, 0, 10), {}, 0, {}},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const auto got = PreferredAllocation(c.available, c.must, c.size);
    CHECK(PerGroup(got) == c.want);
    CHECK(std::set<std::string>(got.begin(), got.end()).size() == got.size());
    for (const auto& id : c.must) CHECK(std::find(got.begin(), got.end(), id) != got.end());
  }
}

TEST_CASE("PreferredAllocation of memory keeps one container in one 1 TiB group") {
  const auto all = BuildResources(Capacity(1, 100, 2048))[2].device_ids;
  std::vector<std::string> available(all.begin() + 1000, all.end());  // group 0 has 24 GiB left
  CHECK(PerGroup(PreferredAllocation(available, {}, 16)) == std::map<std::string, int>{{"mem-0", 16}});
  CHECK(PerGroup(PreferredAllocation(available, {}, 64)) == std::map<std::string, int>{{"mem-1", 64}});
}

}  // namespace
}  // namespace gpupool::deviceplugin
