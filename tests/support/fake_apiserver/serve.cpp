// FakeApiServer::Impl::Serve: the non-watch verbs, from parsed request to Storage call.
#include "tests/support/fake_apiserver/protobuf_request.h"
#include "tests/support/fake_apiserver/route.h"
#include "tests/support/fake_apiserver/server_impl.h"

namespace gpupool::testing {

namespace fk = fake;

namespace {

Result<nlohmann::json> ParseBody(const std::string& body) {
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("the request body is not JSON: ") + e.what());
  }
}

}  // namespace

fk::Reply FakeApiServer::Impl::TokenReview(const Json& body) {
  Json spec = body.value("spec", Json::object());
  if (!spec.is_object()) return fk::BadRequest("TokenReview spec must be an object");
  Json status = tokens_.Review(storage_, spec);
  return fk::Reply{201, Json{{"apiVersion", "authentication.k8s.io/v1"},
                             {"kind", "TokenReview"},
                             {"metadata", {{"creationTimestamp", nullptr}}},
                             {"spec", spec},
                             {"status", status}}};
}

fk::Reply FakeApiServer::Impl::Serve(const http::Request& request, const std::string& verb,
                                     const fk::Route& route, const std::map<std::string, std::string>& query,
                                     const std::string& body) {
  const fk::KindInfo& k = *route.kind;
  auto q = [&](const char* name) {
    auto it = query.find(name);
    return it == query.end() ? std::string() : it->second;
  };
  bool status = route.subresource == "status";
  if ((k.create_only || route.subresource == "token") && verb != "create") {
    return fk::StatusReply(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource");
  }
  if (verb == "get") return storage_.Get(k, route.ns, route.name);
  if (verb == "list") {
    auto labels = fk::LabelSelector::Parse(q("labelSelector"));
    auto fields = fk::FieldSelector::Parse(q("fieldSelector"), k);
    if (!labels.ok()) return fk::BadRequest(labels.status().message());
    if (!fields.ok()) return fk::BadRequest(fields.status().message());
    fk::ListQuery lq;
    lq.resource_version = q("resourceVersion");
    lq.resource_version_match = q("resourceVersionMatch");
    lq.continue_token = q("continue");
    try {
      lq.limit = q("limit").empty() ? 0 : std::stol(q("limit"));
    } catch (...) {
      return fk::BadRequest("invalid limit \"" + q("limit") + "\"");
    }
    return storage_.List(k, fk::Filter{route.ns, std::move(*labels), std::move(*fields)}, lq);
  }
  if (verb == "delete") {
    if (route.name.empty()) {
      return fk::StatusReply(405, "MethodNotAllowed",
                             "deletecollection is not supported by the fake API server");
    }
    Json options = nullptr;
    if (!body.empty()) {
      auto parsed = ParseBody(body);
      if (!parsed.ok()) return fk::BadRequest(parsed.status().message());
      options = *parsed;
    }
    if (!q("preconditions.resourceVersion").empty() || !q("preconditions.uid").empty()) {
      if (!options.is_object()) options = Json::object();
      if (!q("preconditions.resourceVersion").empty()) {
        options["preconditions"]["resourceVersion"] = q("preconditions.resourceVersion");
      }
      if (!q("preconditions.uid").empty()) options["preconditions"]["uid"] = q("preconditions.uid");
    }
    return storage_.Delete(k, route.ns, route.name, options);
  }
  const std::string content_type = Header(request, "content-type");
  if (content_type.find("protobuf") != std::string::npos) {
    // kubectl create token sends its TokenRequest as protobuf (the typed clientset); the answer may be
    // JSON, which it also accepts. Other protobuf bodies: 415, as a server without that codec says.
    if (verb != "create" || route.subresource != "token") {
      return fk::StatusReply(415, "UnsupportedMediaType",
                             "the fake API server reads JSON only here, not " + content_type);
    }
    auto token_request = fk::TokenRequestFromProtobuf(body);
    if (!token_request.ok()) return fk::BadRequest(token_request.status().message());
    return tokens_.Request(storage_, route.ns, route.name, *token_request);
  }
  auto parsed = ParseBody(body);
  if (!parsed.ok()) return fk::BadRequest(parsed.status().message());
  if (verb == "create") {
    if (route.subresource == "token") return tokens_.Request(storage_, route.ns, route.name, *parsed);
    if (!route.name.empty()) {
      return fk::StatusReply(405, "MethodNotAllowed", "POST is only allowed on a collection");
    }
    if (k.create_only) return TokenReview(*parsed);
    if (k.namespaced && route.ns.empty())
      return fk::BadRequest("a namespace is required to create " + k.plural);
    return storage_.Create(k, route.ns, std::move(*parsed));
  }
  if (route.name.empty()) return fk::StatusReply(405, "MethodNotAllowed", verb + " needs an object name");
  if (verb == "update") return storage_.Update(k, route.ns, route.name, std::move(*parsed), status);
  if (verb == "patch") {
    return storage_.Patch(k, route.ns, route.name, fk::PatchKindFromContentType(content_type), *parsed,
                          status);
  }
  return fk::StatusReply(405, "MethodNotAllowed",
                         "the server does not allow this method on the requested resource");
}

}  // namespace gpupool::testing
