#include "common/binding/binding.h"

#include <catch2/catch.hpp>

namespace gpupool {

TEST_CASE("A binding round-trips through the annotation JSON in contract order", "[binding]") {
  Binding b{
      "default",
      {{"gpu-01.example.com:7470", "GPU-8c1d", 50, 17179869184ULL}, {"10.0.0.2:7470", "GPU-2", 100, 1}}};
  const std::string text = BindingToJson(b);
  CHECK(text ==
        "{\"pool\":\"default\",\"gpus\":[{\"server\":\"gpu-01.example.com:7470\",\"uuid\":\"GPU-8c1d\","
        "\"percent\":50,"
        "\"memoryBytes\":17179869184},{\"server\":\"10.0.0.2:7470\",\"uuid\":\"GPU-2\",\"percent\":100,"
        "\"memoryBytes\":1}]}");
  auto back = BindingFromJson(text);
  REQUIRE(back.ok());
  CHECK(*back == b);
}

TEST_CASE("Binding parsing names the field that is wrong", "[binding]") {
  struct Case {
    const char* json;
    const char* field;
  };
  const Case cases[] = {
      {"", "annotation"},
      {"[]", "annotation"},
      {R"({"gpus":[]})", "pool"},
      {R"({"pool":"p","gpus":[]})", "gpus"},
      {R"({"pool":"p","gpus":[{"server":"h:1","uuid":"GPU-1","percent":0,"memoryBytes":1}]})",
       "gpus[0].percent"},
      {R"({"pool":"p","gpus":[{"server":"h:1","uuid":"GPU-1","percent":101,"memoryBytes":1}]})",
       "gpus[0].percent"},
      {R"({"pool":"p","gpus":[{"server":"h:1","uuid":"GPU-1","percent":50,"memoryBytes":-1}]})",
       "gpus[0].memoryBytes"},
      {R"({"pool":"p","gpus":[{"server":"h","uuid":"GPU-1","percent":50,"memoryBytes":1}]})",
       "gpus[0].server"},
      {R"({"pool":"p","gpus":[{"server":"h:1","uuid":"x","percent":50,"memoryBytes":1}]})", "gpus[0].uuid"},
      {R"({"pool":"p","gpus":[{"server":"h:1","uuid":"GPU-1","percent":50,"memoryBytes":1,"x":1}]})",
       "gpus[0].x"},
      {R"({"pool":"p","extra":1,"gpus":[]})", "extra"},
      {R"({"pool":"p","gpus":[{"server":"h:1","uuid":"GPU-1","percent":50,"memoryBytes":1},)"
       R"({"server":"h:1","uuid":"GPU-1","percent":50,"memoryBytes":1}]})",
       "gpus[1]"},
  };
  for (const Case& c : cases) {
    INFO(c.json);
    auto r = BindingFromJson(c.json);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK(r.status().message().find(c.field) != std::string::npos);
  }
}

TEST_CASE("The downward-API annotations file is parsed with Go quoting", "[binding]") {
  const std::string file =
      "gpupool.io/binding=\"{\\\"pool\\\":\\\"default\\\"}\"\n"
      "kubernetes.io/config.seen=\"2026-01-01T00:00:00Z\"\n"
      "note=\"tab\\there \\u00e9 \\x41 \\\\ done\"";
  auto r = ParseDownwardAnnotations(file);
  REQUIRE(r.ok());
  CHECK(r->at("gpupool.io/binding") == "{\"pool\":\"default\"}");
  CHECK(r->at("kubernetes.io/config.seen") == "2026-01-01T00:00:00Z");
  CHECK(r->at("note") == "tab\there \xc3\xa9 A \\ done");
}

TEST_CASE("Malformed annotation lines are errors with their line number", "[binding]") {
  for (const char* bad :
       {"novalue", "=\"x\"", "k=unquoted", "k=\"bad \\q escape\"", "k=\"\\u12\"", "k=\"a\"b\""}) {
    INFO(bad);
    auto r = ParseDownwardAnnotations(std::string("ok=\"1\"\n") + bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("line 2") != std::string::npos);
  }
}

}  // namespace gpupool
