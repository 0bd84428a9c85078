#include "deviceplugin/device_list.h"

namespace gpupool::deviceplugin {
namespace {

DeviceListMessage Build(const std::vector<std::string>& ids, bool healthy) {
  auto message = std::make_shared<v1beta1::ListAndWatchResponse>();
  for (const auto& id : ids) {
    auto* d = message->add_devices();
    d->set_id(id);
    d->set_health(healthy ? "Healthy" : "Unhealthy");
  }
  return message;
}

}  // namespace

DeviceList::DeviceList(std::vector<std::string> ids)
    : ids_(ids.begin(), ids.end()), ordered_(std::move(ids)), current_(Build(ordered_, true)) {}

void DeviceList::SetHealthy(bool healthy) {
  std::lock_guard<std::mutex> lock(mu_);
  if (healthy == healthy_) return;
  healthy_ = healthy;
  current_ = Build(ordered_, healthy);
  for (auto* w : watchers_) w->Offer(current_);
}

bool DeviceList::healthy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return healthy_;
}

DeviceListMessage DeviceList::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

void DeviceList::Subscribe(DeviceListWatcher* watcher) {
  std::lock_guard<std::mutex> lock(mu_);
  watchers_.insert(watcher);
  watcher->Offer(current_);
}

void DeviceList::Unsubscribe(DeviceListWatcher* watcher) {
  std::lock_guard<std::mutex> lock(mu_);
  watchers_.erase(watcher);
}

}  // namespace gpupool::deviceplugin
