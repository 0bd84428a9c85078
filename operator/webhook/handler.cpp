#include "operator/webhook/handler.h"

namespace gpupool::webhook {

http::Handler MakeHandler(const PoolCatalog& pools) {
  return [&pools](const http::Request& req) -> http::Response {
    if (req.path != kMutatePath) return {404, "text/plain; charset=utf-8", "no such path: " + req.path};
    if (req.method != "POST") return {405, "text/plain; charset=utf-8", "use POST"};
    const auto review = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (review.is_discarded()) return {400, "text/plain; charset=utf-8", "body is not JSON"};
    auto answer = Review(review, pools);
    if (!answer.ok()) return {400, "text/plain; charset=utf-8", answer.status().message()};
    return {200, "application/json", answer->dump()};
  };
}

}  // namespace gpupool::webhook
