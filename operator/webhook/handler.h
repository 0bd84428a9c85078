// The webhook's HTTP routes: POST /mutate-pods takes an AdmissionReview v1 and answers one
// (mutate.h); anything else is 404/405; a body that is not an AdmissionReview is 400 with why.
//
// Thread-safety: the handler is thread-safe when the catalog is.
#pragma once

#include "operator/http/server.h"
#include "operator/webhook/mutate.h"

namespace gpupool::webhook {

inline constexpr std::string_view kMutatePath = "/mutate-pods";

// `pools` must outlive the handler.
http::Handler MakeHandler(const PoolCatalog& pools);

}  // namespace gpupool::webhook
