#include "operator/webhook/handler.h"

namespace gpupool::webhook {

http::Handler MakeHandler(const PoolCatalog& pools, std::function<void(const std::string&)> on_result) {
  auto report = [on_result](const char* result) {
    if (on_result) on_result(result);
  };
  return [&pools, report](const http::Request& req) -> http::Response {
    if (req.path != kMutatePath) return {404, "text/plain; charset=utf-8", "no such path: " + req.path};
    if (req.method != "POST") return {405, "text/plain; charset=utf-8", "use POST"};
    const auto review = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (review.is_discarded()) {
      report("error");
      return {400, "text/plain; charset=utf-8", "body is not JSON"};
    }
    auto answer = Review(review, pools);
    if (!answer.ok()) {
      report("error");
      return {400, "text/plain; charset=utf-8", answer.status().message()};
    }
    const nlohmann::json& response = (*answer)["response"];
    report(response["allowed"] == false ? "refused" : response.contains("patch") ? "mutated" : "skipped");
    return {200, "application/json", answer->dump()};
  };
}

}  // namespace gpupool::webhook
