#include "common/control/control_channel.h"

#include <grpcpp/grpcpp.h>

#include "common/read_file.h"
#include "common/token_file.h"

namespace gpupool::control {
Result<std::shared_ptr<grpc::Channel>> OpenControlChannel(const std::string& target,
                                                          const ControlAccess& access) {
  if (access.tls_ca_file.empty()) return grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  GPUPOOL_ASSIGN_OR_RETURN(std::string ca, ReadTextFile(access.tls_ca_file));
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = std::move(ca);
  if (!access.tls_cert_file.empty() || !access.tls_key_file.empty()) {
    GPUPOOL_ASSIGN_OR_RETURN(options.pem_cert_chain, ReadTextFile(access.tls_cert_file));
    GPUPOOL_ASSIGN_OR_RETURN(options.pem_private_key, ReadTextFile(access.tls_key_file));
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
