#include "tests/support/fake_apiserver/protobuf_request.h"

#include <google/protobuf/unknown_field_set.h>

namespace gpupool::testing::fake {
namespace {

using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

bool Parse(const std::string& bytes, UnknownFieldSet* out) {
  return out->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

// Every length-delimited field `number` of `set`, in order.
std::vector<std::string> Strings(const UnknownFieldSet& set, int number) {
  std::vector<std::string> out;
  for (int i = 0; i < set.field_count(); ++i) {
    const UnknownField& f = set.field(i);
    if (f.number() == number && f.type() == UnknownField::TYPE_LENGTH_DELIMITED)
      out.push_back(f.length_delimited());
  }
  return out;
}

std::string String(const UnknownFieldSet& set, int number) {
  auto all = Strings(set, number);
  return all.empty() ? std::string() : all.back();
}

}  // namespace

Result<nlohmann::json> TokenRequestFromProtobuf(std::string_view body) {
  constexpr std::string_view kMagic("k8s\0", 4);
  if (body.substr(0, 4) != kMagic)
    return Status::InvalidArgument("not a Kubernetes protobuf body (no k8s\\0 magic)");
  UnknownFieldSet unknown, type_meta, request, spec;
  if (!Parse(std::string(body.substr(4)), &unknown) || !Parse(String(unknown, 1), &type_meta)) {
    return Status::InvalidArgument("malformed protobuf envelope");
  }
  if (String(type_meta, 2) != "TokenRequest") {
    return Status::InvalidArgument("the fake API server reads protobuf TokenRequests only, not \"" +
                                   String(type_meta, 2) + "\"");
  }
  if (!Parse(String(unknown, 2), &request) || !Parse(String(request, 2), &spec)) {
    return Status::InvalidArgument("malformed protobuf TokenRequest");
  }
  nlohmann::json s = {{"audiences", Strings(spec, 1)}};
  for (int i = 0; i < spec.field_count(); ++i) {
    if (spec.field(i).number() == 4 && spec.field(i).type() == UnknownField::TYPE_VARINT) {
      s["expirationSeconds"] = static_cast<std::int64_t>(spec.field(i).varint());
    }
  }
  if (auto ref = Strings(spec, 3); !ref.empty()) {
    UnknownFieldSet bound;
    if (!Parse(ref.back(), &bound)) return Status::InvalidArgument("malformed boundObjectRef");
    s["boundObjectRef"] = {{"kind", String(bound, 1)},
                           {"apiVersion", String(bound, 2)},
                           {"name", String(bound, 3)},
                           {"uid", String(bound, 4)}};
  }
  return nlohmann::json{{"apiVersion", String(type_meta, 1)}, {"kind", "TokenRequest"}, {"spec", s}};
}

}  // namespace gpupool::testing::fake
