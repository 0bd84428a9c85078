#include "common/kube/token_source.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "common/log.h"

namespace gpupool::kube {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

std::shared_ptr<TokenSource> TokenSource::Fixed(std::string token) {
  std::shared_ptr<TokenSource> t(new TokenSource());
  t->token_ = Trim(token);
  t->stale_ = false;
  return t;
}

std::shared_ptr<TokenSource> TokenSource::FromFile(std::string path, std::chrono::milliseconds max_age) {
  std::shared_ptr<TokenSource> t(new TokenSource());
  t->path_ = std::move(path);
  t->max_age_ = max_age;
  return t;
}

Status TokenSource::ReadLocked() {
  std::ifstream in(path_);
  if (!in) return Status::NotFound("cannot read token file " + path_);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string token = Trim(ss.str());
  if (token.empty()) return Status::FailedPrecondition("token file " + path_ + " is empty");
  token_ = std::move(token);
  ++reads_;
  return Status::Ok();
}

Result<std::string> TokenSource::Token() {
  std::lock_guard lock(mu_);
  if (path_.empty()) {
    if (token_.empty()) return Status::Unauthenticated("no token configured");
    return token_;
  }
  struct stat st {};
  long long mtime = -1, size = -1;
  if (::stat(path_.c_str(), &st) == 0) {
    mtime = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
    size = static_cast<long long>(st.st_size);
  }
  auto now = std::chrono::steady_clock::now();
  bool changed = mtime != mtime_ns_ || size != size_;
  if (stale_ || changed || now - read_at_ >= max_age_) {
    Status s = ReadLocked();
    if (s.ok()) {
      mtime_ns_ = mtime;
      size_ = size;
      read_at_ = now;
      stale_ = false;
    } else if (token_.empty()) {
      return s;
    } else {
      GPUPOOL_LOG(kWarn) << "keeping the previous service-account token: " << s.ToString();
      read_at_ = now;  // retry at the next period or change, not on every request
      mtime_ns_ = mtime;
      size_ = size;
    }
  }
  return token_;
}

void TokenSource::Invalidate() {
  std::lock_guard lock(mu_);
  if (!path_.empty()) stale_ = true;
}

int TokenSource::reads() const {
  std::lock_guard lock(mu_);
  return reads_;
}

}  // namespace gpupool::kube
