// kubeconfig files (k8s-api-facts §1.3), parsed with yaml-cpp (JSON is YAML too).
#include <yaml-cpp/yaml.h>

#include "common/kube/config.h"
#include "common/read_file.h"

namespace gpupool::kube {
namespace {

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return base_dir + "/" + path;
}

Result<std::string> Base64Decode(const std::string& in, const std::string& what) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (char c : in) {
    if (c == '=' || c == '\n' || c == '\r' || c == ' ') continue;
    size_t pos = kAlphabet.find(c);
    if (pos == std::string::npos) return Status::InvalidArgument(what + " is not valid base64");
    val = (val << 6) + static_cast<int>(pos);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

// A named entry of clusters / users / contexts.
Result<YAML::Node> Named(const YAML::Node& root, const char* list, const char* field,
                         const std::string& name) {
  if (root[list] && root[list].IsSequence()) {
    for (const auto& entry : root[list]) {
      if (entry["name"] && entry["name"].as<std::string>() == name) {
        if (!entry[field] || entry[field].IsNull()) return YAML::Node(YAML::NodeType::Map);
        return entry[field];
      }
    }
  }
  return Status::NotFound(std::string("kubeconfig has no ") + list + " entry named \"" + name + "\"");
}

std::string Str(const YAML::Node& n, const char* key) {
  return n && n.IsMap() && n[key] && n[key].IsScalar() ? n[key].as<std::string>() : "";
}

// "-data" (base64) wins over the file path, as in client-go.
Result<std::string> DataOrFile(const YAML::Node& n, const char* data_key, const char* file_key,
                               const std::string& base_dir) {
  std::string data = Str(n, data_key);
  if (!data.empty()) return Base64Decode(data, data_key);
  std::string file = Str(n, file_key);
  if (file.empty()) return std::string();
  auto text = ReadTextFile(Resolve(base_dir, file));
  if (!text.ok()) return text.status().Annotate(file_key);
  return text;
}

}  // namespace

Result<ClusterConfig> ParseKubeconfig(std::string_view text, const std::string& base_dir,
                                      std::string_view context) {
  try {
    YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsMap()) return Status::InvalidArgument("kubeconfig is not a YAML mapping");
    std::string ctx_name = context.empty() ? Str(root, "current-context") : std::string(context);
    if (ctx_name.empty())
      return Status::InvalidArgument("kubeconfig has no current-context and none was named");
    GPUPOOL_ASSIGN_OR_RETURN(YAML::Node ctx, Named(root, "contexts", "context", ctx_name));
    GPUPOOL_ASSIGN_OR_RETURN(YAML::Node cluster, Named(root, "clusters", "cluster", Str(ctx, "cluster")));
    ClusterConfig c;
    c.namespace_ = Str(ctx, "namespace");
    c.server = Str(cluster, "server");
    if (c.server.empty())
      return Status::InvalidArgument("cluster \"" + Str(ctx, "cluster") + "\" has no server");
    c.insecure_skip_tls_verify = Str(cluster, "insecure-skip-tls-verify") == "true";
    c.tls_server_name = Str(cluster, "tls-server-name");
    GPUPOOL_ASSIGN_OR_RETURN(
        c.ca_pem, DataOrFile(cluster, "certificate-authority-data", "certificate-authority", base_dir));
    std::string user_name = Str(ctx, "user");
    if (!user_name.empty()) {
      GPUPOOL_ASSIGN_OR_RETURN(YAML::Node user, Named(root, "users", "user", user_name));
      for (const char* unsupported : {"exec", "auth-provider", "username", "password"}) {
        if (user[unsupported]) {
          return Status::Unimplemented(
              std::string("kubeconfig user \"") + user_name + "\" uses " + unsupported +
              ", which gpupool-operator does not support (use a token, tokenFile or a "
              "client certificate)");
        }
      }
      GPUPOOL_ASSIGN_OR_RETURN(c.client_cert_pem,
                               DataOrFile(user, "client-certificate-data", "client-certificate", base_dir));
      GPUPOOL_ASSIGN_OR_RETURN(c.client_key_pem, DataOrFile(user, "client-key-data", "client-key", base_dir));
      if (c.client_cert_pem.empty() != c.client_key_pem.empty()) {
        return Status::InvalidArgument("kubeconfig user \"" + user_name +
                                       "\" has a client certificate without a "
                                       "key or a key without a certificate");
      }
      if (!Str(user, "token").empty()) {
        c.token = TokenSource::Fixed(Str(user, "token"));
      } else if (!Str(user, "tokenFile").empty()) {
        c.token = TokenSource::FromFile(Resolve(base_dir, Str(user, "tokenFile")));
        GPUPOOL_RETURN_IF_ERROR(c.token->Token().status().Annotate("kubeconfig tokenFile"));
      }
    }
    return c;
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string("kubeconfig is not valid YAML: ") + e.what());
  }
}

Result<ClusterConfig> LoadKubeconfig(const std::string& path, std::string_view context) {
  auto text = ReadTextFile(path);
  if (!text.ok()) return text.status().Annotate("kubeconfig");
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  auto c = ParseKubeconfig(*text, dir, context);
  if (!c.ok()) return c.status().Annotate(path);
  return c;
}

}  // namespace gpupool::kube
