#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/kube/base64.h"
#include "operator/webhook/catalog.h"
#include "operator/webhook/mutate.h"

namespace gpupool::webhook {
namespace {

using kube::Base64;
using nlohmann::json;

// A pool "default" (marked default) with one 80 GiB and one 141 GiB GPU.
GpuPoolCatalog Pools() {
  return GpuPoolCatalog([] {
    return std::vector<json>{
        {{"metadata", {{"name", "default"}}},
         {"spec", {{"default", true}}},
         {"status",
          {{"gpus", json::array({{{"memoryBytes", 80ULL << 30}}, {{"memoryBytes", 141ULL << 30}}})}}}},
        {{"metadata", {{"name", "empty"}}}, {"spec", json::object()}}};
  });
}

json Pod(json limits, json extra_spec = json::object()) {
  json pod = {
      {"metadata", {{"name", "p"}, {"namespace", "ns"}}},
      {"spec",
       {{"containers", json::array({{{"name", "main"}, {"image", "x"}, {"resources", {{"limits", limits}}}},
                                    {{"name", "sidecar"}, {"image", "y"}}})}}}};
  pod["spec"].update(extra_spec);
  return pod;
}

// Applies RFC 6902 "add" operations (all the webhook emits) with nlohmann's own patch().
json Apply(const json& pod, const json& patch) {
  return pod.patch(patch);
}

TEST_CASE("mutate: a pod asking for gpupool resources gets gate, volume, mount and env") {
  const json pod = Pod({{"gpupool.io/gpu", "1"}, {"gpupool.io/gpu-percent", "50"}});
  auto patch = Mutate(pod, Pools());
  REQUIRE(patch.ok());
  const json out = Apply(pod, *patch);
  CHECK(out["spec"]["schedulingGates"] == json::array({{{"name", "gpupool.io/binding"}}}));
  REQUIRE(out["spec"]["volumes"].size() == 1);
  const json& sources = out["spec"]["volumes"][0]["projected"]["sources"];
  CHECK(sources[0]["downwardAPI"]["items"][0] ==
        json{{"path", "pod/annotations"}, {"fieldRef", {{"fieldPath", "metadata.annotations"}}}});
  CHECK(sources[1]["serviceAccountToken"]["audience"] == "gpupool.io");
  CHECK(sources[1]["serviceAccountToken"]["path"] == "token");
  const json& main = out["spec"]["containers"][0];
  CHECK(main["volumeMounts"] ==
        json::array({{{"name", "gpupool"}, {"mountPath", "/etc/gpupool"}, {"readOnly", true}}}));
  CHECK(main["env"] == json::array({{{"name", "GPUPOOL_POD_INFO"}, {"value", "/etc/gpupool/pod/annotations"}},
                                    {{"name", "GPUPOOL_POD_UID"},
                                     {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.uid"}}}}}},
                                    {{"name", "GPUPOOL_POD_TOKEN_FILE"}, {"value", "/etc/gpupool/token"}}}));
  CHECK_FALSE(out["spec"]["containers"][1].contains("volumeMounts"));  // the sidecar asks for nothing

  SECTION("idempotent: a second invocation adds nothing") {
    auto again = Mutate(out, Pools());
    REQUIRE(again.ok());
    CHECK(again->empty());
  }
}

TEST_CASE("mutate: appends to existing lists instead of replacing them") {
  json pod = Pod({{"gpupool.io/gpu", "1"}},
                 {{"schedulingGates", json::array({{{"name", "other"}}})},
                  {"volumes", json::array({{{"name", "data"}, {"emptyDir", json::object()}}})}});
  pod["spec"]["containers"][0]["env"] = json::array({{{"name", "A"}, {"value", "1"}}});
  pod["spec"]["initContainers"] =
      json::array({{{"name", "init"}, {"resources", {{"requests", {{"gpupool.io/gpu", 1}}}}}}});
  auto patch = Mutate(pod, Pools());
  REQUIRE(patch.ok());
  const json out = Apply(pod, *patch);
  CHECK(out["spec"]["schedulingGates"].size() == 2);
  CHECK(out["spec"]["volumes"].size() == 2);
  CHECK(out["spec"]["containers"][0]["env"].size() == 4);  // A, GPUPOOL_POD_{INFO,UID,TOKEN_FILE}
  CHECK(out["spec"]["initContainers"][0]["volumeMounts"][0]["mountPath"] == "/etc/gpupool");
  CHECK(out["spec"]["initContainers"][0]["env"].size() == 3);  // one patch op: neither replaces the other
}

TEST_CASE("mutate: pods without gpupool resources are left alone") {
  auto patch = Mutate(Pod({{"cpu", "1"}}), Pools());
  REQUIRE(patch.ok());
  CHECK(patch->empty());
}

TEST_CASE("mutate: impossible requests are refused with the reason") {
  struct Row {
    json pod;
    const char* reason;
  };
  json named = Pod({{"gpupool.io/gpu-memory", "100"}});
  named["metadata"]["annotations"] = {{"gpupool.io/pool", "empty"}};  // no inventory yet: not refused
  json rack = Pod({{"gpupool.io/gpu", "1"}});
  rack["metadata"]["annotations"] = {{"gpupool.io/locality", "rack"}};
  const std::vector<Row> rows = {
      {Pod({{"gpupool.io/gpu-percent", "150"}}), "gpu-percent is 150, must be 1..100"},
      {Pod({{"gpupool.io/gpu-percent", "0"}}), "gpu-percent is 0, must be 1..100"},
      {Pod({{"gpupool.io/gpu", "0"}, {"gpupool.io/gpu-percent", "10"}}), "gpupool.io/gpu is 0 but"},
      {Pod({{"gpupool.io/gpu-memory", "200"}}),
       "asks 200 GiB per GPU, more than the largest GPU of pool (default) has (141 GiB)"},
      {Pod({{"gpupool.io/gpu", "1"}}, {{"nodeName", "n1"}}), "sets spec.nodeName"},
      {rack, "gpupool.io/locality is 'rack', must be node or any"},
  };
  for (const Row& row : rows) {
    auto patch = Mutate(row.pod, Pools());
    REQUIRE_FALSE(patch.ok());
    CHECK(patch.status().code() == Code::kInvalidArgument);
    CHECK_THAT(patch.status().message(), Catch::Contains(row.reason));
  }
  CHECK(Mutate(Pod({{"gpupool.io/gpu-memory", "141"}}), Pools()).ok());
  CHECK(Mutate(named, Pools()).ok());
}

TEST_CASE("review: AdmissionReview v1 in and out") {
  const json pod = Pod({{"gpupool.io/gpu", "1"}});
  json review = {{"apiVersion", "admission.k8s.io/v1"},
                 {"kind", "AdmissionReview"},
                 {"request",
                  {{"uid", "705ab4f5-6393-11e8-b7cc-42010a800002"},
                   {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
                   {"operation", "CREATE"},
                   {"object", pod}}}};
  auto answer = Review(review, Pools());
  REQUIRE(answer.ok());
  CHECK((*answer)["apiVersion"] == "admission.k8s.io/v1");
  const json& r = (*answer)["response"];
  CHECK(r["uid"] == "705ab4f5-6393-11e8-b7cc-42010a800002");
  CHECK(r["allowed"] == true);
  CHECK(r["patchType"] == "JSONPatch");
  CHECK(r["patch"] == Base64(Mutate(pod, Pools())->dump()));

  review["request"]["operation"] = "UPDATE";
  CHECK_FALSE(Review(review, Pools())->at("response").contains("patch"));

  review["request"]["operation"] = "CREATE";
  review["request"]["object"] = Pod({{"gpupool.io/gpu-percent", "101"}});
  const json refused = Review(review, Pools())->at("response");
  CHECK(refused["allowed"] == false);
  CHECK(refused["status"]["code"] == 400);
  CHECK_THAT(refused["status"]["message"].get<std::string>(), Catch::Contains("must be 1..100"));

  CHECK_FALSE(Review(json{{"kind", "AdmissionReview"}}, Pools()).ok());
  CHECK_FALSE(Review(json{{"apiVersion", "admission.k8s.io/v1"}, {"kind", "AdmissionReview"}}, Pools()).ok());
}

TEST_CASE("review: base64") {
  CHECK(Base64("") == "");
  CHECK(Base64("f") == "Zg==");
  CHECK(Base64("fo") == "Zm8=");
  CHECK(Base64("foobar") == "Zm9vYmFy");
  CHECK(kube::Base64Decode("Zm8=").value_or("") == "fo");
  CHECK_FALSE(kube::Base64Decode("Zm8").ok());
  // base64url (JWT parts): '-' and '_' for '+' and '/', no padding.
  CHECK(kube::Base64Url("\xfb\xff") == "-_8");
  CHECK(kube::Base64UrlDecode("-_8").value_or("") == "\xfb\xff");
  CHECK(kube::Base64UrlDecode("Zg").value_or("") == "f");
  CHECK_FALSE(kube::Base64UrlDecode("Zg==").ok());
  CHECK_FALSE(kube::Base64UrlDecode("+/8").ok());
  CHECK_FALSE(kube::Base64UrlDecode("Z").ok());
}

}  // namespace
}  // namespace gpupool::webhook
