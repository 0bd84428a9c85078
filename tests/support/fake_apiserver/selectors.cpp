#include "tests/support/fake_apiserver/selectors.h"

#include <algorithm>

namespace gpupool::testing::fake {
namespace {

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

// Splits on commas that are not inside parentheses.
std::vector<std::string> SplitTerms(std::string_view text) {
  std::vector<std::string> out;
  int depth = 0;
  std::string cur;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(Trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(Trim(cur));
  return out;
}

// A string value at a dotted path ("spec.nodeName"); "" when absent (as the server treats it).
std::string FieldValue(const nlohmann::json& obj, const std::string& path) {
  const nlohmann::json* cur = &obj;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object() || !cur->contains(part)) return "";
    cur = &(*cur)[part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (cur->is_string()) return cur->get<std::string>();
  if (cur->is_null()) return "";
  return cur->dump();
}

}  // namespace

Result<LabelSelector> LabelSelector::Parse(std::string_view text) {
  LabelSelector sel;
  if (Trim(text).empty()) return sel;
  for (const std::string& term : SplitTerms(text)) {
    if (term.empty())
      return Status::InvalidArgument("empty term in label selector \"" + std::string(text) + "\"");
    Req r;
    size_t sp = term.find(' ');
    if (term[0] == '!') {
      r = {Trim(term.substr(1)), Op::kNotExists, {}};
    } else if (size_t ne = term.find("!="); ne != std::string::npos) {
      r = {Trim(term.substr(0, ne)), Op::kNotEq, {Trim(term.substr(ne + 2))}};
    } else if (size_t eq2 = term.find("=="); eq2 != std::string::npos) {
      r = {Trim(term.substr(0, eq2)), Op::kEq, {Trim(term.substr(eq2 + 2))}};
    } else if (size_t eq = term.find('='); eq != std::string::npos) {
      r = {Trim(term.substr(0, eq)), Op::kEq, {Trim(term.substr(eq + 1))}};
    } else if (sp != std::string::npos) {
      std::string key = Trim(term.substr(0, sp));
      std::string rest = Trim(term.substr(sp));
      Op op;
      if (rest.rfind("notin", 0) == 0) {
        op = Op::kNotIn;
        rest = Trim(rest.substr(5));
      } else if (rest.rfind("in", 0) == 0) {
        op = Op::kIn;
        rest = Trim(rest.substr(2));
      } else {
        return Status::InvalidArgument("unknown operator in label selector term \"" + term + "\"");
      }
      if (rest.size() < 2 || rest.front() != '(' || rest.back() != ')') {
        return Status::InvalidArgument("expected a (value, ...) list in \"" + term + "\"");
      }
      r = {key, op, {}};
      for (const std::string& v : SplitTerms(rest.substr(1, rest.size() - 2))) r.values.push_back(v);
    } else {
      r = {term, Op::kExists, {}};
    }
    if (r.key.empty()) return Status::InvalidArgument("empty key in label selector term \"" + term + "\"");
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool LabelSelector::Matches(const nlohmann::json& obj) const {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const nlohmann::json* labels = &kEmpty;
  if (obj.contains("metadata") && obj["metadata"].contains("labels") &&
      obj["metadata"]["labels"].is_object()) {
    labels = &obj["metadata"]["labels"];
  }
  for (const Req& r : reqs_) {
    bool has = labels->contains(r.key) && (*labels)[r.key].is_string();
    std::string v = has ? (*labels)[r.key].get<std::string>() : "";
    bool in = std::find(r.values.begin(), r.values.end(), v) != r.values.end();
    switch (r.op) {
      case Op::kEq:
      case Op::kIn:
        if (!has || !in) return false;
        break;
      case Op::kNotEq:
      case Op::kNotIn:
        if (has && in) return false;
        break;
      case Op::kExists:
        if (!has) return false;
        break;
      case Op::kNotExists:
        if (has) return false;
        break;
    }
  }
  return true;
}

Result<FieldSelector> FieldSelector::Parse(std::string_view text, const KindInfo& kind) {
  FieldSelector sel;
  if (Trim(text).empty()) return sel;
  for (const std::string& term : SplitTerms(text)) {
    Req r;
    if (size_t ne = term.find("!="); ne != std::string::npos) {
      r = {Trim(term.substr(0, ne)), false, Trim(term.substr(ne + 2))};
    } else if (size_t eq2 = term.find("=="); eq2 != std::string::npos) {
      r = {Trim(term.substr(0, eq2)), true, Trim(term.substr(eq2 + 2))};
    } else if (size_t eq = term.find('='); eq != std::string::npos) {
      r = {Trim(term.substr(0, eq)), true, Trim(term.substr(eq + 1))};
    } else {
      return Status::InvalidArgument("invalid field selector term \"" + term + "\": expected field=value");
    }
    bool known = r.path == "metadata.name" || r.path == "metadata.namespace" ||
                 std::find(kind.field_selectors.begin(), kind.field_selectors.end(), r.path) !=
                     kind.field_selectors.end();
    if (!known) {
      return Status::InvalidArgument("field label not supported: " + r.path);
    }
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool FieldSelector::Matches(const nlohmann::json& obj) const {
  for (const Req& r : reqs_) {
    if ((FieldValue(obj, r.path) == r.value) != r.equal) return false;
  }
  return true;
}

bool Filter::Matches(const nlohmann::json& obj) const {
  if (!ns.empty() && FieldValue(obj, "metadata.namespace") != ns) return false;
  return labels.Matches(obj) && fields.Matches(obj);
}

}  // namespace gpupool::testing::fake
