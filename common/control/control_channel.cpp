#include "common/control/control_channel.h"

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <sstream>

#include "common/token_file.h"

namespace gpupool::control {
namespace {

Result<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(std::string("cannot read the ") + what + " " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

Result<std::shared_ptr<grpc::Channel>> OpenControlChannel(const std::string& target,
                                                          const ControlAccess& access) {
  if (access.tls_ca_file.empty()) return grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  GPUPOOL_ASSIGN_OR_RETURN(std::string ca, ReadFile(access.tls_ca_file, "Control CA file"));
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = std::move(ca);
  if (!access.tls_cert_file.empty() || !access.tls_key_file.empty()) {
    GPUPOOL_ASSIGN_OR_RETURN(options.pem_cert_chain, ReadFile(access.tls_cert_file, "client certificate"));
    GPUPOOL_ASSIGN_OR_RETURN(options.pem_private_key, ReadFile(access.tls_key_file, "client key"));
  }
  grpc::ChannelArguments args;
  if (!access.tls_server_name.empty()) args.SetSslTargetNameOverride(access.tls_server_name);
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(options), args);
}

Status AuthorizeCall(const ControlAccess& access, grpc::ClientContext* context) {
  if (access.token_file.empty()) return Status::Ok();
  GPUPOOL_ASSIGN_OR_RETURN(std::string token, ReadTokenFile(access.token_file));
  context->AddMetadata("authorization", "Bearer " + token);
  return Status::Ok();
}

}  // namespace gpupool::control
