// DeviceList: what ListAndWatch streams are offered, with a recording watcher instead of gRPC.
#include "deviceplugin/device_list.h"

#include <catch2/catch.hpp>

namespace gpupool::deviceplugin {
namespace {

struct Recorder : DeviceListWatcher {
  std::vector<DeviceListMessage> offered;
  void Offer(DeviceListMessage message) override { offered.push_back(std::move(message)); }
};

std::vector<std::string> Healths(const DeviceListMessage& m) {
  std::vector<std::string> out;
  for (const auto& d : m->devices()) out.push_back(d.health());
  return out;
}

TEST_CASE("a watcher gets the full list on subscribe and on every health change only") {
  DeviceList list({"gpu-000", "gpu-001"});
  Recorder a, b;
  list.Subscribe(&a);
  REQUIRE(a.offered.size() == 1);
  CHECK(a.offered[0]->devices(0).id() == "gpu-000");
  CHECK(Healths(a.offered[0]) == std::vector<std::string>{"Healthy", "Healthy"});

  list.SetHealthy(true);  // no change: nothing sent
  CHECK(a.offered.size() == 1);
  list.Subscribe(&b);
  list.SetHealthy(false);
  REQUIRE(a.offered.size() == 2);
  REQUIRE(b.offered.size() == 2);
  CHECK(Healths(a.offered[1]) == std::vector<std::string>{"Unhealthy", "Unhealthy"});
  CHECK(a.offered[1]->devices_size() == 2);  // always the complete list
  CHECK(Healths(b.offered[0]) == std::vector<std::string>{"Healthy", "Healthy"});
  CHECK_FALSE(list.healthy());

  list.Unsubscribe(&a);
  list.SetHealthy(true);
  CHECK(a.offered.size() == 2);
  REQUIRE(b.offered.size() == 3);
  CHECK(Healths(b.offered[2]) == std::vector<std::string>{"Healthy", "Healthy"});
  CHECK(list.Current() == b.offered[2]);
  CHECK(list.ids().count("gpu-001") == 1);
}

}  // namespace
}  // namespace gpupool::deviceplugin
