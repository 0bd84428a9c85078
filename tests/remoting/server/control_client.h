// Control API helpers for tests that run gpupool-server (remoting.server, cli.run): a stub for "host:port", a
// context with the tests' deadline, and an admission of one pod with one GPU share.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "gpupool/control/v1/control.grpc.pb.h"

namespace gpupool::testing {

inline std::unique_ptr<control::v1::Control::Stub> ControlStub(const std::string& address) {
  return control::v1::Control::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

inline std::unique_ptr<grpc::ClientContext> ControlContext() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  return ctx;
}

inline control::v1::AdmitRequest AdmitRequest(const std::string& uid, const std::string& gpu,
                                              std::uint32_t percent, std::uint64_t memory,
                                              const std::string& ns = "ns", const std::string& name = "") {
  control::v1::AdmitRequest req;
  req.set_pod_uid(uid);
  req.set_pod_namespace(ns);
  req.set_pod_name(name.empty() ? "pod-" + uid : name);
  auto* share = req.add_shares();
  share->set_gpu_uuid(gpu);
  share->set_percent(percent);
  share->set_memory_bytes(memory);
  return req;
}

}  // namespace gpupool::testing
