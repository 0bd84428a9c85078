// The client libraries (libcuda.so.1, libnvidia-ml.so.1) must load on the C libraries of the images
// they are mounted into, down to glibc 2.34 (RHEL 9; deploy/docker/check-client-abi.sh). The static
// libstdc++ of GCC 12 built on glibc 2.36 calls arc4random (new in 2.36) in std::random_device; this
// definition, hidden inside each library, satisfies that reference with getrandom(2) (glibc 2.25), so
// no GLIBC_2.36 symbol is required.
#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>

extern "C" __attribute__((visibility("hidden"))) std::uint32_t arc4random() noexcept {
  std::uint32_t value = 0;
  auto* bytes = reinterpret_cast<unsigned char*>(&value);
  std::size_t have = 0;
  while (have < sizeof value) {
    ssize_t n = getrandom(bytes + have, sizeof value - have, 0);
    if (n > 0) {
      have += static_cast<std::size_t>(n);
    } else if (errno != EINTR) {
      std::abort();  // as glibc's arc4random does: no randomness is not a recoverable state
    }
  }
  return value;
}
