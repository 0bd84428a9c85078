// The live device list of one resource and the ListAndWatch streams watching it. Every change
// (health) builds one new complete ListAndWatchResponse and offers it to every open stream; a stream
// that is still writing keeps only the newest pending message (kubelet wants the current state, not
// the history).
//
// Thread-safety: all methods are safe from any thread. Lock order: DeviceList::mu_ before a
// watcher's own lock; watchers never call back into DeviceList while holding their lock.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "deviceplugin/v1beta1/api.pb.h"

namespace gpupool::deviceplugin {

using DeviceListMessage = std::shared_ptr<const v1beta1::ListAndWatchResponse>;

class DeviceListWatcher {
 public:
  virtual ~DeviceListWatcher() = default;
  // Called with the DeviceList lock held; must not block.
  virtual void Offer(DeviceListMessage message) = 0;
};

class DeviceList {
 public:
  explicit DeviceList(std::vector<std::string> ids);
  // Rebuilds the message and offers it to every watcher when the health changes.
  void SetHealthy(bool healthy);
  bool healthy() const;
  DeviceListMessage Current() const;
  const std::set<std::string>& ids() const { return ids_; }
  // Subscribe offers the current list right away.
  void Subscribe(DeviceListWatcher* watcher);
  void Unsubscribe(DeviceListWatcher* watcher);

 private:
  const std::set<std::string> ids_;
  const std::vector<std::string> ordered_;
  mutable std::mutex mu_;
  bool healthy_ = true;
  DeviceListMessage current_;
  std::set<DeviceListWatcher*> watchers_;
};

}  // namespace gpupool::deviceplugin
