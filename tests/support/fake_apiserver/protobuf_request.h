// The one protobuf request body the fake API server reads: kubectl (client-go's typed clientset)
// sends TokenRequest as application/vnd.kubernetes.protobuf, which has no JSON fallback. The body is
// "k8s\0" + runtime.Unknown{typeMeta, raw} with raw a TokenRequest (k8s.io/api authentication/v1
// generated.proto); read with protobuf's UnknownFieldSet, no generated code.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/status.h"

namespace gpupool::testing::fake {

// The TokenRequest as its JSON form ({"kind":"TokenRequest","spec":{audiences, expirationSeconds,
// boundObjectRef}}); InvalidArgument when the body is not such a message.
Result<nlohmann::json> TokenRequestFromProtobuf(std::string_view body);

}  // namespace gpupool::testing::fake
