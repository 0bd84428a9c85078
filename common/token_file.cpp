#include "common/token_file.h"

#include "common/read_file.h"

namespace gpupool {

Result<std::string> ReadTokenFile(const std::string& path) {
  GPUPOOL_ASSIGN_OR_RETURN(std::string token, ReadTextFile(path));
  const char* ws = " \t\r\n";
  token.erase(token.find_last_not_of(ws) + 1);
  token.erase(0, token.find_first_not_of(ws));
  if (token.empty()) return Status::InvalidArgument("the token file " + path + " is empty");
  return token;
}

bool SameToken(const std::string& presented, const std::string& expected) {
  unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < presented.size(); ++i) {
    diff |= static_cast<unsigned char>(presented[i] ^ expected[i % (expected.size() + 1)]);
  }
  return diff == 0;
}

}  // namespace gpupool
