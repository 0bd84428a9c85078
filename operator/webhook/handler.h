// The webhook's HTTP routes: POST /mutate-pods takes an AdmissionReview v1 and answers one
// (mutate.h); anything else is 404/405; a body that is not an AdmissionReview is 400 with why.
//
// Thread-safety: the handler is thread-safe when the catalog is.
#pragma once

#include <functional>
#include <string>

#include "operator/http/server.h"
#include "operator/webhook/mutate.h"

namespace gpupool::webhook {

inline constexpr std::string_view kMutatePath = "/mutate-pods";

// `pools` must outlive the handler. `on_result` (optional) hears "mutated", "skipped" (allowed
// unchanged), "refused" or "error" (not an AdmissionReview) for each request.
http::Handler MakeHandler(const PoolCatalog& pools,
                          std::function<void(const std::string& result)> on_result = nullptr);

}  // namespace gpupool::webhook
