// The servers' CA bundle on the node. Containers read it from the host's client folder
// (GPUPOOL_TLS_CA_FILE), and it changes while they run: when the operator replaces the servers' CA it
// publishes the new one beside the old in the Secret (operator/webhook/bootstrap.cpp). The plugin
// copies it from the Secret volume, which the kubelet keeps current, at start and whenever the volume
// changes (Supervisor), so a new CA reaches every node without a restart.
//
// Thread-safety: pure function; the Supervisor's one thread calls it.
#pragma once

#include <string>

#include "common/status.h"

namespace gpupool::deviceplugin {

struct CaInstall {
  bool replaced = false;  // false: `target` already held these bytes
  int certificates = 0;   // in the bundle
};

// Makes `target` hold the bytes of `source`, replacing it in one rename when they differ. A `source`
// without a readable PEM certificate (or unreadable) is an error and leaves `target` as it was.
Result<CaInstall> InstallCaBundle(const std::string& source, const std::string& target);

}  // namespace gpupool::deviceplugin
