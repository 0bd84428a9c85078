// Label and field selectors as the API server parses them (k8s-api-facts §2.2).
//
// Labels: "k=v", "k==v", "k!=v", "k in (a,b)", "k notin (a,b)", "k", "!k"; comma = AND.
// Fields: "f=v", "f==v", "f!=v" over the paths a kind supports; any other field is an error that
// the server answers with 400 BadRequest.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "tests/support/fake_apiserver/kinds.h"

namespace gpupool::testing::fake {

class LabelSelector {
 public:
  static Result<LabelSelector> Parse(std::string_view text);
  bool Matches(const nlohmann::json& obj) const;

 private:
  enum class Op { kEq, kNotEq, kIn, kNotIn, kExists, kNotExists };
  struct Req {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };
  std::vector<Req> reqs_;
};

class FieldSelector {
 public:
  static Result<FieldSelector> Parse(std::string_view text, const KindInfo& kind);
  bool Matches(const nlohmann::json& obj) const;

 private:
  struct Req {
    std::string path;
    bool equal;
    std::string value;
  };
  std::vector<Req> reqs_;
};

// Both selectors plus the namespace a request is scoped to ("" = all).
struct Filter {
  std::string ns;
  LabelSelector labels;
  FieldSelector fields;
  bool Matches(const nlohmann::json& obj) const;
};

}  // namespace gpupool::testing::fake
